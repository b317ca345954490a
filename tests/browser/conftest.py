"""Browser tests: a real server (uvicorn on loopback, demo data) driven by Debian's
Chromium through Playwright's sync API (issue 9 items 7 and 8).

They run in their own pytest process, never in the normal run (STACK-NOTES: a sync
Playwright session next to pytest-asyncio tests breaks the latter):

    PINGSHEN_BROWSER_TESTS=1 python -m pytest tests/browser

Without PINGSHEN_BROWSER_TESTS=1 nothing here is collected, so the normal run needs
neither Playwright nor a browser. The parent conftest's autouse database fixtures are
overridden by no-ops: the server owns its own scratch database.

Page coverage (issue 9 "Done when"): a test declares the page routes it used and in
which mode with `@pytest.mark.pages(("/experts", "htmx"), ("/experts", "plain"))`:
"htmx" = JavaScript on, "plain" = JavaScript off. Routes are spelled as views/ registers
them ("/sessions/{session_id:int}"). tests/views/test_page_inventory.py reads these
marks from the source (no Playwright needed) and fails for a list/edit page not used
in both modes; here, each test's browser sessions must really have requested every
route it declares for the modes it opened (declarations cannot drift from the test).
"""

import os
import re
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
from urllib.parse import urlsplit

import pytest

ENABLED = os.environ.get("PINGSHEN_BROWSER_TESTS") == "1"
MODES = ("htmx", "plain")  # JavaScript on (htmx swaps) / off (plain forms and links)
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
    # Paths of the server's pages and htmx requests, for the page-coverage check.
    paths: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        def on_request(req: Any) -> None:
            if req.resource_type in ("document", "fetch", "xhr"):
                self.paths.append(urlsplit(req.url).path)

        page.on("request", on_request)

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
    javascript: bool = True

    @property
    def mode(self) -> str:
        return "htmx" if self.javascript else "plain"

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
def open_session(browser: Any, server: Server, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Factory: `open_session(javascript=True)` gives a fresh context (no cookies).
    After the test, checks the test's `pages` declarations against what its sessions
    requested (see the module docstring)."""
    sessions: list[Session] = []

    def make(*, javascript: bool = True) -> Session:
        context = browser.new_context(
            viewport=VIEWPORT, locale="zh-CN", java_script_enabled=javascript
        )
        session = Session(context, server, Watch(), javascript)
        sessions.append(session)
        return session

    yield make
    for s in sessions:
        s.context.close()
    # Only after a passing test: a failure already says what went wrong.
    if getattr(request.node, "rep_call_passed", False):
        missing = undeclared_use(declared_pages(request.node), sessions, request.node)
        assert missing == [], f"declared in @pytest.mark.pages but never requested: {missing}"


# --- page coverage registry ----------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "pages(*pairs): (route, mode) pairs this browser test uses; mode is "
        "'htmx' (JavaScript on) or 'plain' (JavaScript off)",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call_passed = report.passed  # type: ignore[attr-defined]
    return report


def declared_pages(item: pytest.Item) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for mark in item.iter_markers("pages"):
        for route, mode in mark.args:
            assert mode in MODES, f"{item.nodeid}: unknown mode {mode!r}"
            pairs.append((route, mode))
    return pairs


def route_regex(route: str) -> re.Pattern[str]:
    """The route as Starlette matches it ("{id:int}" is digits, "{code}" one segment)."""
    from starlette.routing import compile_path

    return compile_path(route)[0]


def undeclared_use(
    pairs: list[tuple[str, str]], sessions: list[Session], item: pytest.Item
) -> list[tuple[str, str]]:
    """Declared (route, mode) pairs no session of that mode requested. A test
    parametrised on `javascript` declares both modes and is checked for its own."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    modes = {"htmx" if params["javascript"] else "plain"} if "javascript" in params else None
    missing = []
    for route, mode in pairs:
        if modes is not None and mode not in modes:
            continue
        pattern = route_regex(route)
        used = any(
            pattern.match(path) for s in sessions if s.mode == mode for path in s.watch.paths
        )
        if not used:
            missing.append((route, mode))
    return missing
