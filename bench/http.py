"""HTTP measures against one uvicorn worker on 127.0.0.1 (loopback only).

For every operation with an HTTP form: one request first, whose status and body are
checked (the GraphQL body must equal the in-process response byte for byte); then
throughput at saturation (closed loop: `wrk` when installed, else the Python client
below), then p50/p99 at 50% and the maximum at 75% of that rate (open loop: requests
are scheduled at a fixed rate and latency is measured from the scheduled time, so a
stalled server is not hidden by a stalled client). Every run is bounded in time and
in requests. The worker's RSS is read from /proc/PID/status after the warm-up and
again once at least 10,000 requests have been served.
"""

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.db import Target
from bench.operations import BENCH_PASSWORD, BENCH_USER, Op

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
MAX_REQUESTS = 200_000
RSS_REQUESTS = 10_000


@dataclass(frozen=True)
class Request:
    """One HTTP request, prebuilt as bytes; `expect` is the status to check."""

    name: str
    method: str
    path: str
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...]
    expect: int
    expect_body: bytes | None = None
    expect_contains: bytes | None = None  # HTML pages: a row that must be on the page

    def raw(self, port: int) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {HOST}:{port}"]
        lines += [f"{k}: {v}" for k, v in self.headers]
        if self.body or self.method == "POST":
            lines += [f"Content-Type: {self.content_type}", f"Content-Length: {len(self.body)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


class Conn:
    """A minimal keep-alive HTTP/1.1 client connection (fast enough to load one worker)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> "Conn":
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def send(self, payload: bytes) -> tuple[int, bytes, dict[str, str]]:
        self.writer.write(payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                k, v = line.split(":", 1)
                key = k.strip().lower()
                headers[key] = (headers[key] + "\n" + v.strip()) if key in headers else v.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = b""
        return status, body, headers

    def close(self) -> None:
        self.writer.close()


# --- servers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Server:
    """One uvicorn worker process serving a bench.server factory."""

    def __init__(self, factory: str, target: Target) -> None:
        self.port = free_port()
        env = {**os.environ, **target.env(), "PYTHONPATH": str(ROOT)}
        # Clients that stop at a deadline leave requests in flight; uvicorn logs
        # those disconnects, which belong in a file rather than the report.
        self.log = Path(tempfile.gettempdir()) / f"pingshen-bench-{factory}.log"
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                f"bench.server:{factory}",
                "--host",
                HOST,
                "--port",
                str(self.port),
                "--no-access-log",
                # Open-loop runs at a low rate leave a connection idle for seconds:
                # the default 5 s keep-alive would close it under the client.
                "--timeout-keep-alive",
                "120",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    async def ready(self, wait_s: float = 60.0) -> None:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.proc.returncode}")
            try:
                conn = await Conn.open(self.port)
                conn.close()
                return
            except OSError:
                await asyncio.sleep(0.2)
        raise RuntimeError("uvicorn did not start")

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- load ---------------------------------------------------------------------------------


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def check(port: int, req: Request) -> int:
    """One request whose status (and body, when known) must be as expected."""
    conn = await Conn.open(port)
    try:
        status, body, _ = await conn.send(req.raw(port))
    finally:
        conn.close()
    if status != req.expect:
        raise RuntimeError(f"{req.name}: HTTP {status}, expected {req.expect}: {body[:300]!r}")
    if req.expect_body is not None and body != req.expect_body:
        raise RuntimeError(
            f"{req.name}: HTTP body differs from the in-process response "
            f"({len(body)} vs {len(req.expect_body)} bytes): {body[:300]!r}"
        )
    if req.expect_contains is not None and req.expect_contains not in body:
        raise RuntimeError(f"{req.name}: {req.expect_contains!r} missing from the page")
    return len(body)


async def closed_loop(
    port: int, req: Request, *, connections: int, seconds: float, max_requests: int = MAX_REQUESTS
) -> dict[str, Any]:
    """As fast as possible over `connections` keep-alive connections."""
    payload = req.raw(port)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    sent = 0

    async def worker() -> None:
        nonlocal errors, sent
        conn = await Conn.open(port)
        try:
            while time.perf_counter() < deadline and sent < max_requests:
                sent += 1
                t0 = time.perf_counter()
                status, _, _ = await conn.send(payload)
                latencies.append((time.perf_counter() - t0) * 1000)
                if status != req.expect:
                    errors += 1
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "tool": "python",
        "rps": len(latencies) / elapsed,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": _percentile(ordered, 0.5),
        "p99_ms": _percentile(ordered, 0.99),
    }


def _lua(req: Request) -> str:
    level = "=" * 4
    lines = [f'wrk.method = "{req.method}"']
    if req.body:
        lines.append(f"wrk.body = [{level}[{req.body.decode()}]{level}]")
        lines.append(f'wrk.headers["Content-Type"] = "{req.content_type}"')
    for k, v in req.headers:
        lines.append(f'wrk.headers["{k}"] = "{v}"')
    return "\n".join(lines) + "\n"


def _unlink(path: str) -> None:
    Path(path).unlink(missing_ok=True)


def _wrk_number(pattern: str, text: str) -> float | None:
    m = re.search(pattern, text)
    return float(m.group(1)) if m else None


def _wrk_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


async def wrk(port: int, req: Request, *, connections: int, seconds: float) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False, encoding="utf-8") as fh:
        fh.write(_lua(req))
        script = fh.name
    try:
        proc = await asyncio.create_subprocess_exec(
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            script,
            f"http://{HOST}:{port}{req.path}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
    finally:
        _unlink(script)
    text = out.decode()
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed: {err.decode()[:300]}")
    lat = {
        m.group(1): _wrk_ms(m.group(2), m.group(3))
        for m in re.finditer(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    }
    total = _wrk_number(r"(\d+) requests in", text) or 0.0
    bad = _wrk_number(r"Non-2xx or 3xx responses: (\d+)", text) or 0.0
    sock = re.search(r"Socket errors: (.*)", text)
    return {
        "tool": "wrk",
        "rps": _wrk_number(r"Requests/sec:\s+([\d.]+)", text),
        "requests": int(total),
        "errors": int(bad),
        "socket_errors": sock.group(1) if sock else "",
        "p50_ms": lat.get("50"),
        "p99_ms": lat.get("99"),
    }


async def saturate(port: int, req: Request, *, connections: int, seconds: float) -> dict[str, Any]:
    if shutil.which("wrk"):
        return await wrk(port, req, connections=connections, seconds=seconds)
    return await closed_loop(port, req, connections=connections, seconds=seconds)


async def fixed_rate(
    port: int, req: Request, *, rate: float, seconds: float, connections: int = 32
) -> dict[str, Any]:
    """Open loop: request i is due at start + i / rate; latency counts from then."""
    total = min(MAX_REQUESTS, max(1, int(rate * seconds)))
    payload = req.raw(port)
    latencies: list[float] = []
    errors = 0
    next_index = 0
    start = time.perf_counter() + 0.05

    async def worker() -> None:
        nonlocal errors, next_index
        conn = await Conn.open(port)
        try:
            while next_index < total:
                i = next_index
                next_index += 1
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    status, _, _ = await conn.send(payload)
                except (asyncio.IncompleteReadError, ConnectionError):
                    # The server may close an idle keep-alive connection: reconnect
                    # and send again; the latency still counts from the due time.
                    conn.close()
                    conn = await Conn.open(port)
                    status, _, _ = await conn.send(payload)
                latencies.append((time.perf_counter() - due) * 1000)
                if status != req.expect:
                    errors += 1
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(min(connections, total))))
    ordered = sorted(latencies)
    return {
        "rate": rate,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": _percentile(ordered, 0.5),
        "p99_ms": _percentile(ordered, 0.99),
        "max_ms": ordered[-1] if ordered else None,
    }


# --- the runs -----------------------------------------------------------------------------


async def login_cookie(port: int) -> str:
    conn = await Conn.open(port)
    try:
        req = login_request(())
        status, body, headers = await conn.send(req.raw(port))
    finally:
        conn.close()
    if status != 303:
        raise RuntimeError(f"login: HTTP {status}: {body[:300]!r}")
    for cookie in headers.get("set-cookie", "").split("\n"):
        if cookie.startswith("pingshen_session="):
            return cookie.split(";", 1)[0]
    raise RuntimeError("login: no session cookie")


def login_request(headers: tuple[tuple[str, str], ...]) -> Request:
    body = urlencode({"username": BENCH_USER, "password": BENCH_PASSWORD}).encode()
    return Request(
        "L1", "POST", "/login", body, "application/x-www-form-urlencoded", headers, expect=303
    )


def h1_path() -> str | None:
    """The admin expert list page, once views/ serves one."""
    from views import routes

    paths = {getattr(r, "path", "") for r in routes()}
    for candidate in ("/admin/experts", "/experts", "/expert"):
        if candidate in paths:
            return candidate
    return None


async def run_all(
    target: Target,
    ops: list[Op],
    *,
    quick: bool,
    expected: dict[str, bytes],
    smoke: bool = False,
    h1: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Every HTTP measure; `smoke` only checks each request once (status and body).

    `h1` is the query string of the expert list page (H1) and an expert number that
    must appear on it, so a page that answers 200 without rows fails the check."""
    sat_s, half_s, q75_s = (1.5, 1.5, 1.0) if quick else (8.0, 6.0, 5.0)
    # The smoke run checks that RSS is read and compared, over fewer requests.
    rss_requests = 2_000 if quick else RSS_REQUESTS
    out: dict[str, Any] = {"ops": {}, "baseline": {}, "notes": []}
    served = 0

    base = Server("baseline_app", target)
    try:
        await base.ready()
        const = Request("B-http", "GET", "/const", b"", "", (), expect=200)
        await check(base.port, const)
        await closed_loop(base.port, const, connections=8, seconds=0.5)
        if not smoke:
            b = await saturate(base.port, const, connections=16, seconds=sat_s)
            out["baseline"]["B-http"] = b
        for op in ops:
            if op.pending or op.http is None or op.name in ("Q3/1",):
                continue
            method, _, body, ctype = op.http
            req = Request(
                f"B-raw {op.name}", method, "/raw", body, ctype, (), 200, expected[op.name]
            )
            await check(base.port, req)
            if smoke:
                continue
            out["baseline"][f"B-raw {op.name}"] = await saturate(
                base.port, req, connections=4, seconds=sat_s / 2
            )
    finally:
        base.stop()

    app = Server("real_app", target)
    try:
        await app.ready()
        cookie = await login_cookie(app.port)
        auth = (("Cookie", cookie),)
        requests: list[Request] = []
        for op in ops:
            if op.pending or op.http is None or op.name in ("Q3/1",):
                continue
            method, path, body, ctype = op.http
            requests.append(
                Request(op.name, method, path, body, ctype, auth, 200, expected[op.name])
            )
        page = h1_path()
        if page:
            query, number = h1 or ("", "")
            path = f"{page}?{query}" if query else page
            requests.append(
                Request(
                    "H1", "GET", path, b"", "", auth, 200, expect_contains=number.encode() or None
                )
            )
            out["h1_path"] = path
        else:
            out["notes"].append("H1 pending: no admin expert list page in views/ yet (issue 9)")
        if smoke:
            out["checked"] = [req.name for req in requests]
            for req in requests:
                await check(app.port, req)
            await login_cookie(app.port)
            return out
        for req in requests:
            await check(app.port, req)
            served += 1 + (await closed_loop(app.port, req, connections=4, seconds=0.3))["requests"]
        out["rss"] = {"after_warmup_kb": app.rss_kb()}
        served_after_warmup = 0
        for req in requests:
            # One worker runs one event loop: 4 connections keep it busy without
            # queueing slow operations past the end of a short run.
            sat = await saturate(app.port, req, connections=4, seconds=sat_s)
            rate = max(1.0, sat["rps"] * 0.5)
            sat["at_50"] = await fixed_rate(app.port, req, rate=rate, seconds=half_s)
            sat["at_75"] = await fixed_rate(
                app.port, req, rate=max(1.0, sat["rps"] * 0.75), seconds=q75_s
            )
            served_after_warmup += (
                sat["requests"] + sat["at_50"]["requests"] + sat["at_75"]["requests"]
            )
            out["ops"][req.name] = sat
        # L1: logins at saturation (argon2 in a worker thread) and the burst test.
        login = login_request(())
        l1 = await saturate(app.port, login, connections=4, seconds=sat_s)
        l1["at_50"] = await fixed_rate(
            app.port, login, rate=max(0.5, l1["rps"] * 0.5), seconds=max(half_s, 4.0)
        )
        out["ops"]["L1"] = l1
        served_after_warmup += l1["requests"] + l1["at_50"]["requests"]
        q1 = next(r for r in requests if r.name == "Q1")
        burst_rate = max(5.0, min(200.0, out["ops"]["Q1"]["rps"] * 0.3))
        burst_s = 2.0 if quick else 8.0
        without = await fixed_rate(app.port, q1, rate=burst_rate, seconds=burst_s)
        with_task = asyncio.create_task(fixed_rate(app.port, q1, rate=burst_rate, seconds=burst_s))
        logins = await closed_loop(app.port, login, connections=4, seconds=burst_s)
        with_logins = await with_task
        out["login_burst"] = {
            "rate": round(burst_rate, 1),
            "without_p99_ms": without["p99_ms"],
            "with_p99_ms": with_logins["p99_ms"],
            "logins": logins["requests"],
            "login_errors": logins["errors"],
            "errors": without["errors"] + with_logins["errors"],
        }
        served_after_warmup += without["requests"] + with_logins["requests"] + logins["requests"]
        if served_after_warmup < rss_requests:
            top = await closed_loop(
                app.port,
                q1,
                connections=16,
                seconds=120,
                max_requests=rss_requests - served_after_warmup,
            )
            served_after_warmup += top["requests"]
        out["rss"]["after_10k_kb"] = app.rss_kb()
        out["rss"]["requests"] = served_after_warmup
    finally:
        app.stop()
    out["load_generator"] = (
        "wrk (saturation) + Python open loop" if shutil.which("wrk") else "Python"
    )
    return out
