"""Every page that lists or edits data is used by a browser test, with and without
htmx (issue 9 "Done when").

The GET routes views/ registers are classified here, in one table. A "list/edit" page
must be declared, in both modes, by some test in tests/browser/ with
`@pytest.mark.pages((route, "htmx"), (route, "plain"))`; the declarations are read from
the source with `ast`, so this runs in the normal suite without Playwright or a
browser. (tests/browser/conftest.py checks at run time that a test's sessions really
requested what it declares.) A route added to views/ without a row here fails.
"""

import ast
from pathlib import Path

import pytest
from starlette.routing import Route

from views import routes

BROWSER_TESTS = Path(__file__).resolve().parents[1] / "browser"
MODES = frozenset({"htmx", "plain"})

LIST_EDIT = "list/edit"

# route (as views/ registers it) -> (class, why; the reason is required off list/edit)
PAGES: dict[str, tuple[str, str]] = {
    # public
    "/": (LIST_EDIT, "dashboard: each role's figures and lists"),
    "/directory": (LIST_EDIT, "institution and committee directory: filter"),
    "/directory/institutions/{institution_id:int}": (
        LIST_EDIT,
        "institution detail; the bureau's suspend and revoke forms",
    ),
    "/plans": (LIST_EDIT, "published annual plans: filter, sort, paginate"),
    "/complaints/new": (LIST_EDIT, "complaint form"),
    "/complaints/status": (LIST_EDIT, "complaint status lookup form"),
    "/verify": (LIST_EDIT, "certificate verification lookup form"),
    "/certificates/{code}": (LIST_EDIT, "certificate; the bureau's revoke form"),
    # bureau
    "/bureau/filings": (LIST_EDIT, "filing queue"),
    "/bureau/filings/institutions/{application_id:int}": (LIST_EDIT, "file or reject"),
    "/bureau/filings/committees/{committee_id:int}": (LIST_EDIT, "file or reject"),
    "/bureau/assessments/new": (LIST_EDIT, "assessment form"),
    "/bureau/experts/applications": (LIST_EDIT, "expert approval queue: filter"),
    "/bureau/sessions": (LIST_EDIT, "all evaluation sessions: filter"),
    "/bureau/complaints/escalated": (LIST_EDIT, "overdue complaint cases"),
    "/bureau/audit": (LIST_EDIT, "audit-chain verification"),
    "/bureau/agreement": (LIST_EDIT, "confidentiality agreement versions; publish form"),
    "/experts/statistics": (LIST_EDIT, "pool statistics"),
    "/fairness/committees/{committee_id:int}": (LIST_EDIT, "draw fairness per expert"),
    # institution staff
    "/institution": (LIST_EDIT, "own institution and its committees"),
    "/institution/application": (LIST_EDIT, "filing application form"),
    "/institution/committees/new": (LIST_EDIT, "new committee form"),
    "/institution/committees/{committee_id:int}": (LIST_EDIT, "committee roster: seats"),
    "/institution/plans/{committee_id:int}/{year:int}": (LIST_EDIT, "annual plan form"),
    "/institution/experts/applications": (LIST_EDIT, "expert review queue: filter"),
    "/institution/experts/updates": (LIST_EDIT, "profile-change verification queue"),
    "/institution/experts/import": (LIST_EDIT, "expert roster import form"),
    "/institution/sessions": (LIST_EDIT, "own evaluation sessions: filter"),
    "/institution/sessions/new": (LIST_EDIT, "new session form"),
    "/sessions/{session_id:int}": (LIST_EDIT, "session workspace forms"),
    "/handling/complaints": (LIST_EDIT, "complaint queue: filter, paginate"),
    "/handling/complaints/{complaint_id:int}": (LIST_EDIT, "complaint case forms"),
    # experts, recommenders, employers, supervisors
    "/experts": (LIST_EDIT, "expert pool: filter, sort, paginate"),
    "/experts/applications/{application_id:int}": (LIST_EDIT, "application decisions"),
    "/recommender/experts": (LIST_EDIT, "own recommendations: filter"),
    "/recommender/experts/new": (LIST_EDIT, "recommendation form"),
    "/me": (LIST_EDIT, "own profile: change request, agreement"),
    "/me/invitations": (LIST_EDIT, "invitations: accept, decline, declare"),
    "/me/sessions/{session_id:int}/vote": (LIST_EDIT, "ballot form"),
    "/employer/updates": (LIST_EDIT, "profile-change verification queue"),
    "/supervisor/sessions": (LIST_EDIT, "assigned sessions"),
    # not pages that list or edit data
    "/healthz": ("health", "liveness probe for the process supervisor: plain text"),
    "/login": ("auth", "the login form: every browser test logs in through it"),
    "/institutions": ("redirect", "the old address: a 308 to /directory"),
    "/sessions/{session_id:int}/draw.json": ("json", "the public draw bundle (R10)"),
    "/handling/evidence/{file_id:int}": ("download", "an evidence file of a case"),
    "/.well-known/pingshen-certificate-key": ("static", "the certificate public key"),
    "/institution/experts/import/template.xlsx": ("download", "the empty import workbook"),
    "/institution/experts/export": ("download", "the roster as a workbook"),
}


def get_routes() -> dict[str, str]:
    """Every GET route of views/: path -> the endpoint's module."""
    found: dict[str, str] = {}
    for route in routes():
        if isinstance(route, Route) and "GET" in (route.methods or ()):
            found[route.path] = route.endpoint.__module__
    return found


def _is_pages_mark(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "pages"
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "mark"
    )


def declarations(source: str, filename: str = "<test>") -> list[tuple[str, str, str]]:
    """(route, mode, test) for each `@pytest.mark.pages((route, mode), ...)` on a test
    function of `source`. Anything but literal string pairs is an error."""
    found: list[tuple[str, str, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.FunctionDef):
            continue
        for decorator in node.decorator_list:
            if not _is_pages_mark(decorator):
                continue
            assert isinstance(decorator, ast.Call)
            for arg in decorator.args:
                pair = ast.literal_eval(arg)
                assert (
                    isinstance(pair, tuple)
                    and len(pair) == 2
                    and all(isinstance(x, str) for x in pair)
                ), f"{filename}:{arg.lineno}: a pages mark takes (route, mode) pairs"
                found.append((pair[0], pair[1], f"{Path(filename).name}::{node.name}"))
    return found


def browser_declarations() -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    for path in sorted(BROWSER_TESTS.glob("*.py")):
        found.extend(declarations(path.read_text(encoding="utf-8"), str(path)))
    return found


def coverage() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for route, mode, _ in browser_declarations():
        used.setdefault(route, set()).add(mode)
    return used


def unclassified(registered: dict[str, str]) -> list[str]:
    return sorted(r for r, module in registered.items() if r not in PAGES)


def test_every_get_route_is_classified() -> None:
    """A new page must be put in PAGES (list/edit, or another class and why)."""
    registered = get_routes()
    stale = sorted(set(PAGES) - set(registered))

    assert unclassified(registered) == [], "classify these GET routes in PAGES"
    assert stale == [], f"PAGES lists routes views/ no longer registers: {stale}"


def test_a_new_route_without_a_row_is_reported() -> None:
    registered = get_routes() | {
        "/bureau/new-report": "views.dashboard",
    }

    assert unclassified(registered) == ["/bureau/new-report"]


def test_every_class_other_than_list_edit_says_why() -> None:
    vague = sorted(r for r, (kind, why) in PAGES.items() if kind != LIST_EDIT and len(why) < 10)

    assert vague == []


def test_every_list_or_edit_page_is_used_in_both_modes_by_a_browser_test() -> None:
    """Issue 9: with htmx ("htmx") and without JavaScript ("plain")."""
    used = coverage()
    missing = sorted(
        f"{route} ({mode})"
        for route, (kind, _) in PAGES.items()
        if kind == LIST_EDIT
        for mode in sorted(MODES - used.get(route, set()))
    )

    assert missing == [], "list/edit pages no browser test declares:\n" + "\n".join(missing)


def test_every_declaration_names_a_get_route_and_a_mode() -> None:
    registered = get_routes()
    wrong = sorted(
        f"{test}: {route!r} {mode!r}"
        for route, mode, test in browser_declarations()
        if route not in registered or mode not in MODES
    )

    assert wrong == []


def test_declarations_are_read_from_decorators_only() -> None:
    """The reader itself can fail: it finds the marks on test functions, both modes,
    and ignores a pair that is only mentioned in the body."""
    source = (
        "import pytest\n"
        "@pytest.mark.pages(('/plans', 'htmx'), ('/experts', 'plain'))\n"
        "def test_a(open_session):\n"
        "    ('/verify', 'htmx')\n"
        "@pytest.mark.slow\n"
        "def test_b():\n"
        "    pass\n"
    )

    found = declarations(source, "tests/browser/test_x.py")

    assert found == [
        ("/plans", "htmx", "test_x.py::test_a"),
        ("/experts", "plain", "test_x.py::test_a"),
    ]
    with pytest.raises(AssertionError):
        declarations("import pytest\n@pytest.mark.pages('/plans')\ndef test_c(): pass\n")
