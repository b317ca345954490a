"""Complaint journeys in a real browser (issue 8, R16, Art. 28), with and without htmx.

Run separately: `PINGSHEN_BROWSER_TESTS=1 python -m pytest tests/browser`. A citizen
files an anonymous complaint with an evidence file and follows it by tracking code;
the handling institution screens and answers it; the citizen reads the answer; the
same filing works without JavaScript; another institution's handler cannot reach the
case. The pages also produce docs/screenshots/complaint-*.png.
"""

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import OTHER_INSTITUTION_USER, Server
from tests.browser.test_journeys import assert_clean, screenshot

FACTS = "2026年5月的评审会上,一名评委与申报人系同一单位同事却未申请回避。"
ANSWER = "经核查,该评委未按规定回避,已暂停其参加评审,评审结果另行复核。"


def _own_committee(server: Server) -> int:
    """A committee of the institution the demo login inst1 works for: a complaint about
    it is handled by inst1's institution."""
    (institution_id,) = server.query(
        "SELECT ra.institution_id FROM role_assignment ra JOIN user u ON u.id = ra.user_id "
        "WHERE u.username = 'inst1' AND ra.role = 'institution'"
    )[0]
    return int(
        server.query(
            "SELECT id FROM committee WHERE institution_id = ? ORDER BY id", institution_id
        )[0][0]
    )


def _evidence(tmp_path: Path) -> Path:
    path = tmp_path / "会议签到表.pdf"
    path.write_bytes(b"%PDF-1.7\n" + tmp_path.name.encode() + b"\n%%EOF\n")
    return path


def _file(
    page: Any, server: Server, committee_id: int, evidence: Path, *, navigate: bool = True
) -> tuple[str, str]:
    """Fill and send the public form anonymously; return tracking code and password."""
    if navigate:
        page.goto(server.url("/complaints/new"))
    page.get_by_label(re.compile(r"^类别")).select_option("complaint")
    page.get_by_label("对象类别").select_option("committee")
    page.get_by_label("对象编号").fill(str(committee_id))
    page.get_by_label("对象说明").fill("该评委会2026年5月的评审会议")
    page.get_by_label("违规事实").fill(FACTS)
    page.get_by_label("可查证的线索").fill("会议签到表与录像可证")
    page.get_by_label("匿名", exact=True).check()
    page.get_by_label("上传文件").set_input_files(str(evidence))
    page.get_by_role("button", name="提交").click()
    code = page.get_by_test_id("tracking-code")
    expect(code).to_be_visible()
    return code.inner_text().strip(), page.get_by_test_id("query-password").inner_text().strip()


def _status(page: Any, server: Server, code: str, password: str) -> None:
    page.goto(server.url("/complaints/status"))
    page.get_by_label("查询码").fill(code)
    page.get_by_label("查询密码").fill(password)
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_test_id("status")).to_be_visible()


@pytest.mark.pages(
    ("/complaints/new", "htmx"),
    ("/complaints/status", "htmx"),
    ("/handling/complaints", "htmx"),
    ("/handling/complaints/{complaint_id:int}", "htmx"),
)
def test_citizen_files_anonymously_handler_answers_citizen_reads_it(
    open_session: Any, server: Server, tmp_path: Path
) -> None:
    """R16: an anonymous complaint with a file, tracked by code; screened and answered
    by the handling institution; the citizen sees the answer, never who handled it."""
    citizen = open_session()
    page = citizen.new_page()
    page.goto(server.url("/complaints/new"))
    screenshot(page, "complaint-new")
    page.evaluate("window.__sameDocument = true")

    code, password = _file(
        page, server, _own_committee(server), _evidence(tmp_path), navigate=False
    )

    assert page.evaluate("window.__sameDocument") is True  # htmx swapped the receipt in
    screenshot(page, "complaint-receipt")
    (anonymous, name_enc, files) = server.query(
        "SELECT c.anonymous, c.complainant_name_enc, "
        "(SELECT COUNT(*) FROM evidence_file e WHERE e.complaint_id = c.id) "
        "FROM complaint c WHERE c.tracking_code = ?",
        code,
    )[0]
    assert (anonymous, name_enc, files) == (1, "", 1)
    _status(page, server, code, password)
    expect(page.get_by_test_id("status")).to_have_text("已收到")

    handler = open_session().login("inst1")
    handler.goto(server.url("/handling/complaints"))
    handler.get_by_role("link", name=code).click()
    expect(handler.get_by_test_id("case-status")).to_have_text("已收到")
    expect(handler.get_by_role("link", name="会议签到表.pdf")).to_be_visible()
    screenshot(handler, "complaint-case")
    handler.get_by_label("受理", exact=True).check()
    handler.get_by_role("button", name="提交审查意见").click()
    expect(handler.get_by_test_id("case-status")).to_have_text("已受理")
    handler.get_by_label("答复投诉人").fill(ANSWER)
    handler.get_by_role("button", name="发送答复").click()
    expect(handler.get_by_test_id("case-status")).to_have_text("已答复")
    handler.goto(server.url("/handling/complaints"))
    screenshot(handler, "complaint-queue")

    _status(page, server, code, password)
    expect(page.get_by_test_id("status")).to_have_text("已答复")
    expect(page.get_by_test_id("answer")).to_have_text(ANSWER)
    screenshot(page, "complaint-status")
    assert_clean(citizen)


@pytest.mark.pages(("/complaints/new", "plain"), ("/complaints/status", "plain"))
def test_filing_and_tracking_work_without_javascript(
    open_session: Any, server: Server, tmp_path: Path
) -> None:
    """The same filing as a plain multipart form post, and the status lookup."""
    citizen = open_session(javascript=False)
    page = citizen.new_page()

    code, password = _file(page, server, _own_committee(server), _evidence(tmp_path))

    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{12}", code)
    files = server.query(
        "SELECT COUNT(*) FROM evidence_file e JOIN complaint c ON c.id = e.complaint_id "
        "WHERE c.tracking_code = ?",
        code,
    )
    assert files == [(1,)]
    _status(page, server, code, password)
    expect(page.get_by_test_id("status")).to_have_text("已收到")


def test_another_institutions_handler_cannot_reach_the_case(
    open_session: Any, server: Server, tmp_path: Path
) -> None:
    """R16 scope: the case and its evidence look absent (404) to another institution."""
    page = open_session().new_page()
    code, _ = _file(page, server, _own_committee(server), _evidence(tmp_path))
    complaint_id, evidence_id = server.query(
        "SELECT c.id, e.id FROM complaint c JOIN evidence_file e ON e.complaint_id = c.id "
        "WHERE c.tracking_code = ?",
        code,
    )[0]
    other = open_session().login(OTHER_INSTITUTION_USER)

    queue = other.goto(server.url("/handling/complaints"))
    assert queue is not None and queue.status == 200
    expect(other.get_by_role("link", name=code)).to_have_count(0)
    for path in (f"/handling/complaints/{complaint_id}", f"/handling/evidence/{evidence_id}"):
        response = other.request.get(server.url(path))
        assert response.status == 404, path


def test_bureau_sees_overdue_cases_in_red(open_session: Any, server: Server) -> None:
    bureau = open_session().login("bureau")
    response = bureau.goto(server.url("/bureau/complaints/escalated"))

    assert response is not None and response.status == 200
    expect(bureau.get_by_role("heading", name="逾期督办事项")).to_be_visible()
    screenshot(bureau, "complaint-escalated")
