"""Checks against a live server, run by .ci/run after the test suites.

1. The graphql-http audit (GraphQL over HTTP spec, npm `graphql-http`): 0 errors,
   0 warnings; introspection is enabled for the audit's (anonymous) user.
2. schemathesis fuzzing of /graphql for a bounded time as anonymous, a partner
   token, an expert, institution staff and the bureau: no 5xx, no masked crash.

Usage: .venv/bin/python .ci/live_checks.py [--fuzz-seconds N]
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PORT = 8765


def sh(*args: str, env: dict[str, str], cwd: Path = ROOT) -> None:
    subprocess.run(args, check=True, env=env, cwd=cwd)  # noqa: S603


async def make_credentials() -> dict[str, str]:
    """Cookie/Bearer headers for each fuzzed identity, made with the real resolvers."""
    import app
    from models import RoleAssignment, User
    from models.enums import Role
    from resolvers import account
    from resolvers.actor import SYSTEM

    settings = app.Settings.from_env()
    headers: dict[str, str] = {}
    async with app.orm(settings):
        for role in (Role.EXPERT, Role.INSTITUTION, Role.BUREAU):
            ra = await RoleAssignment.filter(role=role).order_by("id").first()
            if ra is None:
                raise SystemExit(f"demo data has no {role} user")
            user = await User.get(id=ra.user_id)  # type: ignore[attr-defined]
            cookie, _ = await account.start_login_session(user, "127.0.0.1")
            headers[role.value] = f"Cookie: pingshen_session={cookie}"
        token, _ = await account.create_api_token(
            SYSTEM,
            name="ci-fuzz",
            scopes=["public:read", "certificate:verify", "complaint:submit"],
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
            requests_per_minute=100_000,
        )
        headers["partner"] = f"Authorization: Bearer {token}"
    return headers


def wait_healthy(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - loopback
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"server did not become healthy at {url}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fuzz-seconds", type=int, default=20)
    parser.add_argument("--schemathesis", default=str(ROOT / ".ci" / ".st-venv" / "bin" / "st"))
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pingshen-live-"))
    env = {
        **os.environ,
        "PINGSHEN_VAR_DIR": str(work),
        "PINGSHEN_DATABASE_URL": f"sqlite://{work / 'live.sqlite3'}",
        "PINGSHEN_SECRET_KEY": "live-checks-secret",
        "PINGSHEN_GRAPHQL_INTROSPECTION": "always",
        # Non-Secure cookies: the fuzzer talks plain HTTP on loopback.
        "PINGSHEN_DEBUG": "1",
    }
    sh(PY, "app.py", "migrate", env=env)
    sh(PY, "app.py", "demo", "--experts", "200", env=env)
    os.environ.update(env)
    creds = asyncio.run(make_credentials())

    server = subprocess.Popen(  # noqa: S603
        [
            PY,
            "-m",
            "uvicorn",
            "--factory",
            "app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(PORT),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=open(work / "server.log", "w"),
        stderr=subprocess.STDOUT,
    )
    failures: list[str] = []
    try:
        wait_healthy(f"http://127.0.0.1:{PORT}/healthz")
        audit = subprocess.run(  # noqa: S603
            ["node", "audit.mjs", f"http://127.0.0.1:{PORT}/graphql"],  # noqa: S607
            cwd=ROOT / ".ci" / "graphql-http",
            check=False,
        )
        if audit.returncode != 0:
            failures.append("graphql-http audit")
        for who in ["anonymous", "partner", "expert", "institution", "bureau"]:
            cmd = [
                args.schemathesis,
                "run",
                f"http://127.0.0.1:{PORT}/graphql",
                "--max-time",
                str(args.fuzz_seconds),
                "--checks",
                "no_crash",
                "--workers",
                "1",
                "--seed",
                "2023",
            ]
            if who in creds:
                cmd += ["-H", creds[who]]
            print(f"--- schemathesis as {who}", flush=True)
            st_env = {**env, "SCHEMATHESIS_HOOKS": "st_hooks", "PYTHONPATH": str(ROOT / ".ci")}
            result = subprocess.run(cmd, cwd=ROOT, env=st_env, check=False)  # noqa: S603
            if result.returncode != 0:
                failures.append(f"schemathesis ({who})")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    log = (work / "server.log").read_text(encoding="utf-8", errors="replace")
    if "Traceback" in log:
        print(log[-4000:])
        failures.append("server log holds a traceback")
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"live_checks_failures": failures}, ensure_ascii=False))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
