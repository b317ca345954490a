"""Accessibility of the main pages (issue 9 "Done when"): axe-core, pinned in
.ci/a11y/package-lock.json and installed by .ci/browser.sh, runs inside each page
and must report no serious or critical violation (labels, landmarks, contrast, ...).

One row per (login, path). A row whose page answers 404 because it is not built yet
is skipped (the skip names it); any other status than the expected one fails.
"""

import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ROOT, Server

AXE_JS = Path(os.environ.get("PINGSHEN_AXE_JS", ROOT / ".ci/a11y/node_modules/axe-core/axe.min.js"))
BLOCKING = ("serious", "critical")

# (login or None for the public, path, expected status). Paths of pages built by the
# other web issues are listed too: they are checked as soon as they exist.
PAGES: list[tuple[str | None, str, int]] = [
    (None, "/", 200),
    (None, "/directory", 200),
    (None, "/directory?view=committees", 200),
    (None, "/plans", 200),
    (None, "/login", 200),
    (None, "/verify", 200),
    (None, "/verify?code=NOSUCHCODE", 200),
    (None, "/complaints/new", 200),
    (None, "/complaints/status", 200),
    (None, "/no-such-page", 404),
    ("bureau", "/", 200),
    ("bureau", "/bureau/filings", 200),
    ("bureau", "/bureau/audit", 200),
    ("bureau", "/bureau/agreement", 200),
    ("bureau", "/bureau/experts/applications", 200),
    ("bureau", "/experts/statistics", 200),
    ("bureau", "/experts", 200),
    ("bureau", "/bureau/complaints/escalated", 200),
    ("bureau", "/handling/complaints", 200),
    ("inst1", "/", 200),
    ("inst1", "/institution", 200),
    ("inst1", "/institution/application", 200),
    ("inst1", "/institution/experts/applications", 200),
    ("inst1", "/institution/sessions", 200),
    ("inst1", "/handling/complaints", 200),
    ("inst1", "/bureau/filings", 403),
    ("expert1", "/", 200),
    ("expert1", "/me", 200),
    ("expert1", "/me/invitations", 200),
    ("supervisor1", "/", 200),
    ("supervisor1", "/supervisor/sessions", 200),
    ("employer1", "/", 200),
    ("employer1", "/employer/updates", 200),
    ("recommender1", "/", 200),
    ("recommender1", "/recommender/experts", 200),
    ("recommender1", "/recommender/experts/new", 200),
    ("applicant1", "/", 200),
    ("inst1", "/institution/experts/updates", 200),
    ("inst1", "/institution/experts/import", 200),
    ("inst1", "/institution/sessions/new", 200),
    ("inst1", "/institution/committees/{committee}", 200),
    ("bureau", "/bureau/sessions", 200),
    ("bureau", "/sessions/{session}", 200),
    ("bureau", "/experts/applications/{expert_application}", 200),
    ("bureau", "/handling/complaints/{complaint}", 200),
    ("bureau", "/bureau/filings/institutions/{institution_application}", 200),
    (None, "/certificates/{certificate}", 200),
]
# Detail pages: the id of one demo object, read from the server's database.
IDS: dict[str, str] = {
    "committee": "SELECT c.id FROM committee c JOIN role_assignment r"
    " ON r.institution_id = c.institution_id JOIN user u ON u.id = r.user_id"
    " WHERE u.username = 'inst1' ORDER BY c.id",
    "session": "SELECT id FROM evaluation_session ORDER BY id",
    "expert_application": "SELECT id FROM expert_application ORDER BY id",
    "complaint": "SELECT id FROM complaint ORDER BY id",
    "institution_application": "SELECT id FROM institution_application"
    " WHERE status = 'submitted' ORDER BY id",
    "certificate": "SELECT code FROM certificate WHERE revoked_at IS NULL ORDER BY id",
}


@cache
def axe_source() -> str:
    if not AXE_JS.is_file():
        pytest.fail(f"axe-core missing at {AXE_JS}: run .ci/browser.sh (npm ci in .ci/a11y)")
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Run axe-core in the page. Evaluated through the DevTools protocol, so the
    page's CSP (no inline script) stays on and untouched."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    result: dict[str, Any] = page.evaluate(
        "async () => await window.axe.run(document, {resultTypes: ['violations']})"
    )
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = [", ".join(n["target"]) for n in v["nodes"][:5]]
        lines.append(f"{v['impact']} {v['id']}: {v['help']} -> {targets}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def logged_in(browser: Any, server: Server) -> Any:
    """One browser context per login, shared by the rows of this module."""
    from tests.browser.conftest import VIEWPORT, Session, Watch

    contexts: dict[str | None, Any] = {}

    def get(username: str | None) -> Any:
        if username not in contexts:
            context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
            session = Session(context, server, Watch())
            if username is not None:
                session.login(username).close()
            contexts[username] = session
        return contexts[username]

    yield get
    for session in contexts.values():
        session.context.close()


@pytest.mark.parametrize(
    ("username", "path", "status"),
    PAGES,
    ids=[f"{u or 'public'}:{p}" for u, p, _ in PAGES],
)
def test_page_has_no_serious_accessibility_violation(
    logged_in: Any, server: Server, username: str | None, path: str, status: int
) -> None:
    for key, sql in IDS.items():
        if "{" + key + "}" in path:
            rows = server.query(sql)
            if not rows:
                pytest.skip(f"the demo data has no {key}")
            path = path.replace("{" + key + "}", str(rows[0][0]))
    session = logged_in(username)
    page = session.new_page()
    try:
        response = page.goto(server.url(path))
        if response.status == 404 and status != 404:
            pytest.skip(f"{path} answers 404: not built yet")
        assert response.status == status
        page.wait_for_load_state("load")
        blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING]
        assert blocking == [], describe(blocking)
    finally:
        page.close()


def test_axe_reports_an_unlabelled_input(logged_in: Any, server: Server) -> None:
    """The check itself can fail: an input without a label added to a real page is
    reported as a critical `label` violation."""
    page = logged_in(None).new_page()
    try:
        page.goto(server.url("/login"))
        page.evaluate(
            "() => document.querySelector('main').appendChild(document.createElement('input'))"
        )
        found = {(v["id"], v["impact"]) for v in axe_violations(page)}
        assert ("label", "critical") in found
    finally:
        page.close()
