"""Browser tests: a real server (uvicorn on loopback, demo data) driven by Debian's
Chromium through Playwright's sync API (issue 9 items 7 and 8).

They run in their own pytest process, never in the normal run (STACK-NOTES: a sync
Playwright session next to pytest-asyncio tests breaks the latter):

    PINGSHEN_BROWSER_TESTS=1 python -m pytest tests/browser

Without PINGSHEN_BROWSER_TESTS=1 nothing here is collected, so the normal run needs
neither Playwright nor a browser. The parent conftest's autouse database fixtures are
overridden by no-ops: the server owns its own scratch database.
"""

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ENABLED = os.environ.get("PINGSHEN_BROWSER_TESTS") == "1"
if not ENABLED:
    collect_ignore_glob = ["test_*.py"]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PINGSHEN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 800}
# A second institution's staff member, created next to the demo logins: the demo has
# only one institution login and the journeys check another institution is kept out.
OTHER_INSTITUTION_USER = "inst2"


@pytest.fixture(scope="session", autouse=True)
def database() -> None:
    """Overrides tests/conftest.py: no in-process test database here."""


@pytest.fixture(autouse=True)
def clean_tables() -> None:
    """Overrides tests/conftest.py: the journeys share one server database."""


@dataclass(frozen=True)
class Server:
    base_url: str
    database: Path
    password: str

    def url(self, path: str) -> str:
        return self.base_url + path

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the server's database directly, to find ids the journeys need."""
        with sqlite3.connect(self.database) as conn:
            return list(conn.execute(sql, params))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - loopback
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not become healthy at {url}")


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """Migrate a scratch SQLite database, load the demo data, add a second
    institution's login and serve the real app on a free loopback port."""
    from resolvers.demo import DEMO_PASSWORD

    work = Path(tempfile.mkdtemp(prefix="pingshen-browser-"))
    db = work / "browser.sqlite3"
    env = {
        **os.environ,
        "PINGSHEN_VAR_DIR": str(work),
        "PINGSHEN_DATABASE_URL": f"sqlite://{db}",
        "PINGSHEN_SECRET_KEY": "browser-tests-secret-0123456789abcdef",
        # Non-Secure cookies: the browser talks plain HTTP on loopback.
        "PINGSHEN_DEBUG": "1",
        "PINGSHEN_NEW_PASSWORD": DEMO_PASSWORD,
    }

    def run(*args: str) -> None:
        subprocess.run([sys.executable, "app.py", *args], check=True, env=env, cwd=ROOT)  # noqa: S603

    run("migrate")
    run("demo", "--experts", "150")
    with sqlite3.connect(db) as conn:
        own = conn.execute(
            "SELECT institution_id FROM role_assignment WHERE role = 'institution'"
        ).fetchone()[0]
        other = conn.execute(
            "SELECT id FROM institution WHERE id != ? AND status = 'filed' ORDER BY id", (own,)
        ).fetchone()[0]
    run("createuser", OTHER_INSTITUTION_USER, "--role", "institution", "--scope", str(other))

    port = _free_port()
    log_path = work / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base + "/healthz", proc)
        yield Server(base, db, DEMO_PASSWORD)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    text = log_path.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text, f"server log {log_path}:\n{text[-4000:]}"
    shutil.rmtree(work, ignore_errors=True)  # kept above when the log shows a crash


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """Console errors (CSP violations are reported there), uncaught page errors and
    dialogs seen by every page of one browser context."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        def on_console(msg: Any) -> None:
            # A 422 is the form-validation answer by design (the field errors come with
            # it); Chromium logs every 4xx response as a console error. (No favicon
            # exception: every page links /static/favicon.svg, so no /favicon.ico 404.)
            expected = "status of 422" in msg.text
            if msg.type == "error" and not expected:
                self.console_errors.append(f"{msg.text} ({msg.location.get('url', '')})")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)


@dataclass
class Session:
    """One browser context (its own cookies), with every page watched."""

    context: Any
    server: Server
    watch: Watch

    def new_page(self) -> Any:
        page = self.context.new_page()
        self.watch.attach(page)
        return page

    def login(self, username: str) -> Any:
        page = self.new_page()
        page.goto(self.server.url("/login"))
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(self.server.password)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(self.server.url("/"))
        return page


@pytest.fixture
def open_session(browser: Any, server: Server) -> Iterator[Any]:
    """Factory: `open_session(javascript=True)` gives a fresh context (no cookies)."""
    sessions: list[Session] = []

    def make(*, javascript: bool = True) -> Session:
        context = browser.new_context(
            viewport=VIEWPORT, locale="zh-CN", java_script_enabled=javascript
        )
        session = Session(context, server, Watch())
        sessions.append(session)
        return session

    yield make
    for s in sessions:
        s.context.close()
