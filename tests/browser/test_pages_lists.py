"""List pages in a real browser, with htmx and without JavaScript (issue 9 "Done
when"): each test logs in as the demo user the page is for, performs the page's list
action (filter, sort, paginate or open a row) and checks the visible result against
the server's database. With htmx the results are swapped in place (a marker set on
window survives, the address bar follows); without JavaScript the plain GET form or
link loads a whole page with the same result.

Each test runs once per mode (`javascript` parameter) and declares the pages it uses
in both (tests/views/test_page_inventory.py).
"""

import re
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from resolvers.common import beijing_today
from tests.browser.conftest import Server
from tests.browser.test_journeys import assert_clean

MODE = pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "plain"])
PAGE_SIZE = 20  # the list pages' page size


def mark_document(page: Any, javascript: bool) -> None:
    """A marker on window: it survives only if the page is not reloaded."""
    if javascript:
        page.evaluate("window.__sameDocument = true")


def assert_in_place(page: Any, javascript: bool) -> None:
    """With htmx, the update happened without a navigation."""
    if javascript:
        assert page.evaluate("window.__sameDocument") is True


def filter_by(page: Any, javascript: bool, label: str, value: str, button: str) -> None:
    """Choose `value` in the select labelled `label` and run the filter form: with
    htmx the form's own trigger, without JavaScript its submit button."""
    mark_document(page, javascript)
    select = page.get_by_label(label, exact=True)
    select.select_option(value)
    # A form that htmx submits on change has already sent the request: a click would
    # send a second one, racing the assertions that follow.
    trigger = select.locator("xpath=ancestor::form").get_attribute("hx-trigger") or ""
    if not javascript or "change" not in trigger:
        page.get_by_role("button", name=button, exact=True).click()
    name = page.get_by_label(label, exact=True).get_attribute("name")
    expect(page).to_have_url(re.compile(rf"[?&]{name}={re.escape(quote(value))}(&|$)"))
    expect(page.get_by_label(label, exact=True)).to_have_value(value)


def column(page: Any, results: str, index: int) -> list[str]:
    """The cells of one column of the results table, in page order."""
    cells = page.locator(f"{results} tbody tr td:nth-child({index})")
    return [t.strip() for t in cells.all_inner_texts()]


def user_scope(server: Server, username: str, attr: str) -> int:
    return int(
        server.query(
            f"SELECT ra.{attr} FROM role_assignment ra JOIN user u ON u.id = ra.user_id "  # noqa: S608 - attr is ours
            "WHERE u.username = ?",
            username,
        )[0][0]
    )


@pytest.mark.pages(("/plans", "htmx"), ("/plans", "plain"))
@MODE
def test_published_plans_filter_by_level_and_page(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """Art. 9 (R5): the public list of published annual plans, filtered by level; the
    count shown is the database's, and the next page is loaded by the pager link."""
    session = open_session(javascript=javascript)
    page = session.new_page()
    page.goto(server.url("/plans"))
    assert page.get_by_label("年度").input_value() == ""  # all years unless chosen

    filter_by(page, javascript, "评审层级", "senior", "查询")

    items = page.locator("#plan-results li.plan-item")
    expect(items.first).to_be_visible()
    levels = page.locator("#plan-results li.plan-item dt:text-is('评审层级') + dd")
    assert set(levels.all_inner_texts()) == {"正高级"}
    ((senior,),) = server.query(
        "SELECT COUNT(*) FROM annual_plan WHERE status = 'published' AND level = 'senior'"
    )
    assert items.count() == min(senior, PAGE_SIZE)
    assert_in_place(page, javascript)

    filter_by(page, javascript, "评审层级", "", "查询")
    ((published,),) = server.query("SELECT COUNT(*) FROM annual_plan WHERE status = 'published'")
    expect(items).to_have_count(min(published, PAGE_SIZE))
    first_page = items.locator("h2").all_inner_texts()
    assert published > PAGE_SIZE, "the demo has more than one page of plans"
    mark_document(page, javascript)
    page.locator("#plan-results a[rel=next]").click()
    expect(page).to_have_url(re.compile(r"[?&]after="))
    expect(items).to_have_count(min(published - PAGE_SIZE, PAGE_SIZE))
    assert not set(items.locator("h2").all_inner_texts()) & set(first_page)
    assert_in_place(page, javascript)
    assert_clean(session)


@pytest.mark.pages(("/experts", "htmx"), ("/experts", "plain"))
@MODE
def test_bureau_filters_expert_pool_by_series_and_sorts(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """Art. 14: the bureau filters the pool by series; every row is of that series and
    the count is the database's; sorting by number orders the rows."""
    session = open_session(javascript=javascript)
    page = session.login("bureau")
    page.goto(server.url("/experts"))
    series = server.query(
        "SELECT series, COUNT(*) FROM expert GROUP BY series ORDER BY COUNT(*) DESC"
    )[0][0]

    filter_by(page, javascript, "系列", series, "查询")

    shown = column(page, "#expert-list-results", 3)
    assert shown and all(cell.startswith(f"{series} / ") for cell in shown)
    assert_in_place(page, javascript)
    sort = page.get_by_label("排序", exact=True)
    options = sort.locator("option").evaluate_all("os => os.map(o => o.value)")
    by_number = next(v for v in options if "number" in v)
    filter_by(page, javascript, "排序", by_number, "查询")
    numbers = column(page, "#expert-list-results", 1)
    assert numbers == sorted(numbers, reverse=by_number.startswith("-"))
    assert_in_place(page, javascript)
    assert_clean(session)


@pytest.mark.pages(
    ("/institution/experts/applications", "htmx"),
    ("/institution/experts/applications", "plain"),
    ("/bureau/experts/applications", "htmx"),
    ("/bureau/experts/applications", "plain"),
    ("/recommender/experts", "htmx"),
    ("/recommender/experts", "plain"),
)
@MODE
def test_application_queues_filter_by_status(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """Art. 17: the institution's review queue, the bureau's approval queue and the
    recommender's own list, each filtered by status; the rows are the database's."""
    inst = user_scope(server, "inst1", "institution_id")
    authority = user_scope(server, "recommender1", "authority_id")
    cases = [
        ("inst1", "/institution/experts/applications", "institution_id = ?", (inst,)),
        ("bureau", "/bureau/experts/applications", "1 = 1", ()),
        ("recommender1", "/recommender/experts", "authority_id = ?", (authority,)),
    ]
    for username, path, scope, params in cases:
        session = open_session(javascript=javascript)
        page = session.login(username)
        page.goto(server.url(path))
        expect(page.locator("#queue-status")).to_be_visible()

        filter_by(page, javascript, "申请状态", "approved", "筛选")

        rows = page.locator("#queue-results tbody tr")
        (expected,) = server.query(
            f"SELECT COUNT(*) FROM expert_application WHERE status = 'approved' AND {scope}",  # noqa: S608 - ours
            *params,
        )[0]
        if expected == 0:
            expect(rows).to_have_count(0)
        else:
            expect(rows.first).to_be_visible()
            assert rows.count() == min(expected, PAGE_SIZE), (path, rows.count(), expected)
            assert set(column(page, "#queue-results", 6)) == {"已批准入库"}
        assert_in_place(page, javascript)
        assert_clean(session)


@pytest.mark.pages(
    ("/bureau/sessions", "htmx"),
    ("/bureau/sessions", "plain"),
    ("/supervisor/sessions", "htmx"),
    ("/supervisor/sessions", "plain"),
)
@MODE
def test_session_lists_filter_by_status(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """R10: the bureau's list of every session and the supervisor's assigned ones,
    filtered by status; the rows are the database's and open the workspace."""
    supervisor = server.query("SELECT id FROM user WHERE username = 'supervisor1'")[0][0]
    cases = [
        ("bureau", "/bureau/sessions", "1 = 1", ()),
        (
            "supervisor1",
            "/supervisor/sessions",
            "id IN (SELECT session_id FROM supervisor_assignment WHERE user_id = ?)",
            (supervisor,),
        ),
    ]
    for username, path, scope, params in cases:
        session = open_session(javascript=javascript)
        page = session.login(username)
        page.goto(server.url(path))

        filter_by(page, javascript, "状态", "finalised", "查询")

        expected = sorted(
            f"评审会议#{sid}"
            for (sid,) in server.query(
                f"SELECT id FROM evaluation_session WHERE status = 'finalised' AND {scope}",  # noqa: S608 - ours
                *params,
            )
        )
        rows = page.locator("#session-results tbody tr")
        expect(rows).to_have_count(min(len(expected), PAGE_SIZE))
        if expected:
            assert sorted(column(page, "#session-results", 1)) == expected[:PAGE_SIZE]
            assert set(column(page, "#session-results", 5)) == {"结果已确定"}
        assert_in_place(page, javascript)
        if expected:
            page.locator("#session-results tbody a").first.click()
            expect(page).to_have_url(re.compile(r"/sessions/\d+$"))
        assert_clean(session)


@pytest.mark.pages(("/handling/complaints", "htmx"), ("/handling/complaints", "plain"))
@MODE
def test_complaint_queue_filters_by_status(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """R16: the handling institution's queue filtered by status; every row has it."""
    inst = user_scope(server, "inst1", "institution_id")
    session = open_session(javascript=javascript)
    page = session.login("inst1")
    page.goto(server.url("/handling/complaints"))

    filter_by(page, javascript, "状态", "received", "筛选")

    statuses = column(page, "#complaint-results", 5)
    (expected,) = server.query(
        "SELECT COUNT(*) FROM complaint WHERE status = 'received' AND institution_id = ?",
        inst,
    )[0]
    assert len(statuses) == min(expected, PAGE_SIZE)
    assert all(s.startswith("已收到") for s in statuses)
    assert_in_place(page, javascript)
    assert_clean(session)


@pytest.mark.pages(
    ("/bureau/complaints/escalated", "htmx"),
    ("/bureau/complaints/escalated", "plain"),
    ("/handling/complaints/{complaint_id:int}", "plain"),
)
@MODE
def test_bureau_opens_an_overdue_case_from_the_escalation_list(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """R16: every overdue open case is listed, marked; the bureau opens one and adds
    an investigation note (an empty note is refused next to its field)."""
    today = beijing_today().isoformat()
    rows = server.query(
        "SELECT tracking_code, status FROM complaint WHERE due_on < ? "
        "AND status IN ('received', 'accepted', 'in_handling') ORDER BY tracking_code",
        today,
    )
    overdue = [code for code, _ in rows]
    in_handling = next(code for code, status in rows if status != "received")
    assert overdue, "the demo has overdue cases"
    session = open_session(javascript=javascript)
    page = session.login("bureau")
    page.goto(server.url("/bureau/complaints/escalated"))

    listed = column(page, "#complaint-results", 1)
    assert set(overdue[:PAGE_SIZE]) <= set(listed)
    expect(page.locator("#complaint-results .overdue-mark").first).to_be_visible()
    page.get_by_role("link", name=in_handling, exact=True).click()
    expect(page).to_have_url(re.compile(r"/handling/complaints/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(in_handling)

    from tests.browser.test_pages_forms import submit_expecting_error

    submit_expecting_error(page, javascript, "#note-form", "添加记录", "新增调查记录")
    note = f"督办:请于三个工作日内答复({'htmx' if javascript else '无脚本'})"
    page.locator("#note-form").get_by_label(re.compile("^新增调查记录")).fill(note)
    page.locator("#note-form").get_by_role("button", name="添加记录").click()
    expect(page.locator("ol.note-list li").filter(has_text=note)).to_have_count(1)
    assert len(server.query("SELECT id FROM complaint_note WHERE body = ?", note)) == 1
    assert_clean(session)


@pytest.mark.pages(
    ("/fairness/committees/{committee_id:int}", "htmx"),
    ("/fairness/committees/{committee_id:int}", "plain"),
)
@MODE
def test_fairness_lists_every_roster_expert(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """R10 item 9: per roster expert, the draws and the verdict; one row per seat."""
    committee_id, seats = server.query(
        "SELECT s.committee_id, COUNT(*) FROM committee_seat s "
        "WHERE s.committee_id IN (SELECT committee_id FROM evaluation_session) "
        "GROUP BY s.committee_id ORDER BY COUNT(*) DESC"
    )[0]
    session = open_session(javascript=javascript)
    page = session.login("bureau")

    page.goto(server.url(f"/fairness/committees/{committee_id}"))

    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(seats)
    verdicts = set(page.locator("main table tbody tr td:nth-child(6)").all_inner_texts())
    assert verdicts <= {"正常", "异常,请核查"} and verdicts
    assert_clean(session)


@pytest.mark.pages(("/institution", "plain"), ("/bureau/filings", "plain"))
def test_own_institution_and_filing_queue_without_javascript(
    open_session: Any, server: Server
) -> None:
    """R2: without JavaScript, inst1's page lists its committees (the database's) and
    opens one; the bureau's filing queue lists the submitted committees and opens
    one for review."""
    inst = user_scope(server, "inst1", "institution_id")
    names = sorted(
        n for (n,) in server.query("SELECT name FROM committee WHERE institution_id = ?", inst)
    )
    staff = open_session(javascript=False)
    page = staff.login("inst1")
    page.goto(server.url("/institution"))
    listed = page.locator("main table a[href^='/institution/committees/']")
    assert sorted(listed.all_inner_texts()) == names
    listed.first.click()
    expect(page).to_have_url(re.compile(r"/institution/committees/\d+$"))
    assert_clean(staff)

    submitted = sorted(
        n for (n,) in server.query("SELECT name FROM committee WHERE status = 'submitted'")
    )
    bureau = open_session(javascript=False)
    bpage = bureau.login("bureau")
    bpage.goto(server.url("/bureau/filings"))
    section = bpage.locator("section[aria-labelledby='committees-heading']")
    assert sorted(section.locator("tbody td:first-child").all_inner_texts()) == submitted
    section.get_by_role("link", name="审核").first.click()
    expect(bpage).to_have_url(re.compile(r"/bureau/filings/committees/\d+$"))
    assert_clean(bureau)
