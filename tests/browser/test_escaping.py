"""User text is data on every page that shows it (issue 11 item 2): HTML and script
typed into a complaint (R16) and into an evaluation session (R10) are shown literally,
escaped, and never run. test_journeys.py covers the institution filing pages.

Run separately: `PINGSHEN_BROWSER_TESTS=1 python -m pytest tests/browser/test_escaping.py`.
"""

import datetime as dt
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Server
from tests.browser.test_complaint_journeys import _evidence, _own_committee, _status
from tests.browser.test_evaluation_journeys import DAY, own_committee
from tests.browser.test_journeys import assert_clean

SCRIPT = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
BREAKOUT = "\"'><svg onload=window.__pwned=3>"
PAYLOAD = SCRIPT + BREAKOUT


def assert_inert(page: Any, *texts: str) -> None:
    """Each text is on the page as text (escaped in the markup), no element it spells
    was built, and none of its script ran."""
    html = page.content()
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html, page.url
    for text in texts:
        expect(page.get_by_text(text, exact=False).first).to_be_visible()
    main = page.locator("#main")
    assert main.locator("script:not([src])").count() == 0, page.url
    assert main.locator("img[src='x'], svg[onload]").count() == 0, page.url
    assert page.evaluate("typeof window.__pwned") == "undefined", page.url


def test_complaint_and_session_text_is_shown_escaped(
    open_session: Any, server: Server, tmp_path: Path
) -> None:
    """R16 complaint facts, clues, target description and the handler's answer; R10
    session place: shown as text to the citizen, the handler and
    the institution, and no script runs (no flag on window, no dialog, no CSP error)."""
    citizen = open_session()
    page = citizen.new_page()
    page.goto(server.url("/complaints/new"))
    page.get_by_label(re.compile(r"^类别")).select_option("complaint")
    page.get_by_label("对象类别").select_option("committee")
    page.get_by_label("对象说明").fill(SCRIPT)
    page.get_by_label("违规事实").fill(PAYLOAD)
    page.get_by_label("可查证的线索").fill(PAYLOAD)
    page.get_by_label("匿名", exact=True).check()
    # First without the target number: the form comes back with the typed text kept.
    page.get_by_label("对象编号").fill("x")
    page.get_by_role("button", name="提交").click()
    expect(page.locator(".has-error").first).to_be_visible()
    assert page.get_by_label("违规事实").input_value() == PAYLOAD
    assert page.evaluate("typeof window.__pwned") == "undefined"
    page.get_by_label("对象编号").fill(str(_own_committee(server)))
    page.get_by_label("上传文件").set_input_files(str(_evidence(tmp_path)))
    page.get_by_role("button", name="提交").click()
    code_el = page.get_by_test_id("tracking-code")
    expect(code_el).to_be_visible()
    assert page.evaluate("typeof window.__pwned") == "undefined"  # the receipt
    code = code_el.inner_text().strip()
    password = page.get_by_test_id("query-password").inner_text().strip()

    staff = open_session()
    handler = staff.login("inst1")
    handler.goto(server.url("/handling/complaints"))
    assert handler.evaluate("typeof window.__pwned") == "undefined"
    handler.get_by_role("link", name=code).click()
    assert_inert(handler, PAYLOAD)
    handler.get_by_label("受理", exact=True).check()
    handler.get_by_role("button", name="提交审查意见").click()
    expect(handler.get_by_test_id("case-status")).to_have_text("已受理")
    handler.get_by_label("答复投诉人").fill(PAYLOAD)
    handler.get_by_role("button", name="发送答复").click()
    expect(handler.get_by_test_id("case-status")).to_have_text("已答复")
    handler.reload()
    assert_inert(handler, PAYLOAD)

    _status(page, server, code, password)
    expect(page.get_by_test_id("answer")).to_have_text(PAYLOAD)
    assert_inert(page, PAYLOAD)
    assert_clean(citizen)

    committee_id, _ = own_committee(server)
    day = (DAY + dt.timedelta(days=3)).isoformat()
    handler.goto(server.url("/institution/sessions/new"))
    handler.get_by_label("评委会").select_option(str(committee_id))
    handler.get_by_label("开始时间").fill(f"{day}T09:00")
    handler.get_by_label("结束时间").fill(f"{day}T17:00")
    handler.get_by_label("地点").fill(PAYLOAD)
    handler.get_by_label("评审组人数").fill("3")
    handler.get_by_label("备选专家人数").fill("1")
    handler.get_by_role("button", name="创建评审会议").click()
    expect(handler.get_by_text("评审会议已创建")).to_be_visible()
    handler.reload()
    expect(handler.locator("dt:has-text('地点') + dd")).to_have_text(PAYLOAD)
    assert_inert(handler, PAYLOAD)
    handler.goto(server.url("/institution/sessions"))
    assert handler.evaluate("typeof window.__pwned") == "undefined"
    assert_clean(staff)
