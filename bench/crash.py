"""Crash safety (issue 11 §5): keyed mutations while the server is killed with SIGKILL.

    python -m bench.crash --db sqlite|postgres [--requests 500] [--rounds 3]

Starts `python app.py serve` on a loopback port against a fresh database (an SQLite
file, or a new PostgreSQL database on --pg-url, dropped afterwards), then sends
`--requests` submitComplaint mutations, each with its own Idempotency-Key, from
`--workers` concurrent clients. At `--rounds` moments drawn with `secrets` the server
is killed with SIGKILL (no shutdown, requests in flight) and started again. A client
retries a request on a connection error, a 5xx or IDEMPOTENCY_IN_PROGRESS, always with
the same key, until it gets an answer.

Afterwards, read from the database directly:
- every acknowledged complaint (a tracking code was returned) is stored: 0 lost;
- no request created two complaints: 0 duplicates;
- every request was acknowledged;
- `python app.py audit verify` passes (R20).
Exit status 0 when all hold, 1 otherwise. Counts are printed as one line each.
"""

import argparse
import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from resolvers.common import beijing_today

ROOT = Path(__file__).resolve().parent.parent
MUTATION = """mutation($input: SubmitComplaintInput!) {
  submitComplaint(input: $input) { trackingCode status errors { field code message } } }"""
FACTS = "压测第{i:05d}号投诉:该机构评审会议未按规定组织回避,请予核查。"
HEALTHY_WITHIN = 180.0  # seconds a (re)started server may take to answer /healthz
RETRYABLE_CODES = {"IDEMPOTENCY_IN_PROGRESS", "UNAVAILABLE", "INTERNAL_SERVER_ERROR"}


@dataclass
class Stats:
    acknowledged: dict[int, str] = field(default_factory=dict)
    retries: int = 0
    connection_errors: int = 0
    server_errors: int = 0
    in_progress: int = 0
    failed: dict[int, str] = field(default_factory=dict)
    kills: int = 0
    done: int = 0
    last_error: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`python app.py serve` as a child process that can be killed and restarted."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and app
            [sys.executable, str(ROOT / "app.py"), "serve", "--host", "127.0.0.1",
             "--port", str(self.port)],
            env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        out.close()

    async def wait_healthy(self) -> None:
        deadline = time.monotonic() + HEALTHY_WITHIN
        async with httpx.AsyncClient(timeout=2.0) as c:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log}")
                try:
                    if (await c.get(f"http://127.0.0.1:{self.port}/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"server not healthy after {HEALTHY_WITHIN}s; see {self.log}")

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def kill_moments(requests: int, rounds: int) -> list[int]:
    """`rounds` distinct request counts (between 5% and 95% of the run) after which
    the server is killed, drawn with `secrets` (the project bans `random`)."""
    low, high = max(1, requests // 20), max(2, requests * 19 // 20)
    chosen: set[int] = set()
    while len(chosen) < min(rounds, high - low):
        chosen.add(low + secrets.randbelow(high - low))
    return sorted(chosen)


async def send_one(
    client: httpx.AsyncClient, url: str, i: int, target_id: int, run: str, stats: Stats,
    deadline: float, up: asyncio.Event,
) -> None:  # fmt: skip
    key = f"crash-{run}-{i:05d}"
    body = {
        "query": MUTATION,
        "variables": {
            "input": {
                "kind": "COMPLAINT",
                "targetType": "INSTITUTION",
                "targetId": target_id,
                "facts": FACTS.format(i=i),
                "anonymous": True,
            }
        },
    }
    first = True
    while time.monotonic() < deadline:
        if not first:
            stats.retries += 1
            await asyncio.sleep(0.05)
        first = False
        try:
            response = await client.post(url, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError as exc:
            stats.connection_errors += 1
            stats.last_error = repr(exc)[:200]
            # Down: wait for the restart instead of hammering a closed port.
            try:
                await asyncio.wait_for(up.wait(), max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                pass
            continue
        if response.status_code >= 500:
            stats.server_errors += 1
            continue
        payload = response.json()
        errors = payload.get("errors") or []
        data = (payload.get("data") or {}).get("submitComplaint") or {}
        codes = {(e.get("extensions") or {}).get("code") for e in errors} | {
            e.get("code") for e in data.get("errors") or []
        }
        if codes & RETRYABLE_CODES:
            stats.in_progress += "IDEMPOTENCY_IN_PROGRESS" in codes
            continue
        if data.get("trackingCode") and not data.get("errors"):
            stats.acknowledged[i] = data["trackingCode"]
            return
        stats.failed[i] = str(codes or payload)[:200]
        return
    stats.failed[i] = "deadline passed without an answer"


async def drive(
    server: Server, requests: int, rounds: int, workers: int, target_id: int, run: str,
    per_request_timeout: float,
) -> Stats:  # fmt: skip
    stats = Stats()
    moments = kill_moments(requests, rounds)
    print(f"kill after request counts: {moments}")
    url = f"http://127.0.0.1:{server.port}/graphql"
    up = asyncio.Event()
    up.set()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)

    async def worker() -> None:
        async with httpx.AsyncClient(timeout=30.0) as client:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                deadline = time.monotonic() + per_request_timeout
                await send_one(client, url, i, target_id, run, stats, deadline, up)
                stats.done += 1

    async def killer() -> None:
        for moment in moments:
            while stats.done < moment:  # noqa: ASYNC110 - polls a plain counter
                await asyncio.sleep(0.005)
            up.clear()
            server.kill()
            stats.kills += 1
            killed_at = time.monotonic()
            server.start()
            await server.wait_healthy()
            up.set()
            print(
                f"SIGKILL #{stats.kills} after {moment} answered requests; "
                f"back after {time.monotonic() - killed_at:.1f}s"
            )

    await asyncio.gather(killer(), *(worker() for _ in range(workers)))
    return stats


async def _admin(pg_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(pg_url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def seed(settings: Any) -> int:
    """Migrate and add the institution the complaints are about; returns its id."""

    from app import migrate_db, orm
    from models import Institution
    from models.enums import FilingStatus, InstitutionKind

    await migrate_db(settings)
    async with orm(settings):
        today = beijing_today()
        inst = await Institution.create(
            name="压测评审机构",
            kind=InstitutionKind.ASSOCIATION,
            status=FilingStatus.FILED,
            filed_at=today,
            valid_until=today.replace(year=today.year + 3),
        )
        return int(inst.pk)


async def check(settings: Any, stats: Stats, requests: int) -> dict[str, int]:
    from app import orm
    from models import AuditEvent, Complaint, IdempotencyKey

    async with orm(settings):
        rows = await Complaint.all().values_list("tracking_code", "facts")
        events = await AuditEvent.filter(action="complaint.submit").count()
        keys = await IdempotencyKey.filter(key__startswith="crash-").count()
    by_facts = Counter(facts for _, facts in rows)
    codes = {code for code, _ in rows}
    expected = {FACTS.format(i=i) for i in range(requests)}
    return {
        "complaints stored": len(rows),
        "complaint.submit audit events": events,
        "idempotency keys stored": keys,
        "duplicates": sum(n - 1 for n in by_facts.values() if n > 1),
        "lost acknowledged writes": sum(1 for c in stats.acknowledged.values() if c not in codes),
        "requests never stored": len(expected - set(by_facts)),
        "stored without a request": len(set(by_facts) - expected),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.crash", description=__doc__.split("\n")[0])
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--requests", type=int, default=500)
    p.add_argument("--rounds", type=int, default=3, help="how many times the server is killed")
    p.add_argument("--workers", type=int, default=8, help="concurrent clients")
    p.add_argument(
        "--pg-url",
        default=os.environ.get("PINGSHEN_CI_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL server (a fresh database is created there and dropped)",
    )  # fmt: skip
    p.add_argument(
        "--timeout", type=float, default=120.0, help="seconds per request, retries included"
    )
    args = p.parse_args(argv)
    if args.requests < 1 or args.rounds < 0 or args.workers < 1:
        p.error("--requests and --workers must be positive, --rounds not negative")

    from app import Settings, normalize_db_url

    work = Path(tempfile.mkdtemp(prefix="pingshen-crash-"))
    run = uuid.uuid4().hex[:12]
    if args.db == "sqlite":
        url = f"sqlite://{work / 'crash.sqlite3'}"
    else:
        server_url = normalize_db_url(args.pg_url).rsplit("/", 1)[0]
        db_name = f"pingshen_crash_{run}"
        asyncio.run(_admin(f"{server_url}/postgres", f'CREATE DATABASE "{db_name}"'))
        url = f"{server_url}/{db_name}"
    env = {
        **os.environ,
        "PINGSHEN_DATABASE_URL": url,
        "PINGSHEN_SECRET_KEY": "crash-test-secret-" + run,
        "PINGSHEN_VAR_DIR": str(work),
    }
    settings = Settings(
        database_url=url, secret_key=env["PINGSHEN_SECRET_KEY"], debug=False, var_dir=work
    )
    server = Server(env, free_port(), work / "server.log")
    started = time.monotonic()
    try:
        target_id = asyncio.run(seed(settings))
        server.start()
        asyncio.run(server.wait_healthy())
        stats = asyncio.run(
            drive(server, args.requests, args.rounds, args.workers, target_id, run, args.timeout)
        )
        server.stop()
        counts = asyncio.run(check(settings, stats, args.requests))
        verify = subprocess.run(  # noqa: S603 - our own interpreter and app
            [sys.executable, str(ROOT / "app.py"), "audit", "verify"],
            env=env, cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
    finally:
        server.stop()
        if args.db == "postgres":
            drop = f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'
            asyncio.run(_admin(f"{server_url}/postgres", drop))

    print(f"database: {args.db}; requests: {args.requests}; workers: {args.workers}")
    print(f"server kills (SIGKILL): {stats.kills}")
    print(f"acknowledged: {len(stats.acknowledged)}")
    print(f"retries: {stats.retries} (connection errors {stats.connection_errors}, "
          f"5xx {stats.server_errors}, in progress {stats.in_progress})")  # fmt: skip
    print(f"refused or unanswered: {len(stats.failed)}; last connection error: {stats.last_error}")
    for i, why in sorted(stats.failed.items())[:5]:
        print(f"  request {i}: {why}")
    for name, value in counts.items():
        print(f"{name}: {value}")
    print(f"audit verify: {verify.stdout.strip() or verify.stderr.strip()}")
    print(f"elapsed: {time.monotonic() - started:.1f}s; server log: {work / 'server.log'}")
    ok = (
        verify.returncode == 0
        and stats.kills == args.rounds
        and not stats.failed
        and len(stats.acknowledged) == args.requests
        and counts["duplicates"] == 0
        and counts["lost acknowledged writes"] == 0
        and counts["requests never stored"] == 0
        and counts["stored without a request"] == 0
        and counts["complaints stored"] == args.requests
        and counts["complaint.submit audit events"] == args.requests
    )
    print("CRASH TEST: PASS" if ok else "CRASH TEST: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
