"""Long operations in the browser (issue 9 item 5): the Excel import and the
whole-pool statistics run as background jobs; the page answers at once, shows
progress (htmx polling in place, or a self-refreshing page without JavaScript) and
then the result. The audit verification journey is in test_dashboard_journeys.py."""

import datetime as dt
import io
import re
import secrets
from typing import Any

import pytest
from openpyxl import Workbook
from playwright.sync_api import expect

from tests.browser.conftest import OTHER_INSTITUTION_USER, Server
from tests.browser.test_expert_journeys import assert_clean, screenshot
from tests.factories import make_id_number

MODES = [True, False]
MODE_IDS = ["htmx", "no-js"]

HEADERS = [
    "姓名",
    "身份证号码",
    "手机号码",
    "所在单位统一社会信用代码",
    "现职称",
    "职称层级",
    "职称取得日期",
    "系列",
    "专业",
    "原退休年龄类别",
]


def _credit_code(server: Server) -> str:
    """A demo unit whose registered authority is the right recommender (R3)."""
    rows = server.query(
        "SELECT u.credit_code FROM unit u JOIN authority a ON a.id = u.authority_id "
        "WHERE (u.unit_type = 'municipal' AND a.kind = 'industry') "
        "OR (u.unit_type <> 'municipal' AND a.kind = 'district_bureau') ORDER BY u.id LIMIT 1"
    )
    return str(rows[0][0])


def _workbook(path: Any, credit_code: str) -> Any:
    """Two candidates: one good, one with a wrong ID-number check digit."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADERS)
    for n in range(2):
        birth = dt.date(1978, 1, 1) + dt.timedelta(days=secrets.randbelow(3000))
        id_number = make_id_number(birth, 100 + secrets.randbelow(800), area="110108")
        if n == 1:
            id_number = id_number[:17] + ("0" if id_number[17] != "0" else "1")
        sheet.append(
            [
                f"导入候选{secrets.randbelow(10_000)}",
                id_number,
                f"137{secrets.randbelow(10**8):08d}",
                credit_code,
                "研究员",
                "正高级",
                "2012-06-01",
                "工程技术",
                "电子信息",
                "男60",
            ]
        )
    out = io.BytesIO()
    book.save(out)
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.pages(
    ("/institution/experts/import", "htmx"), ("/institution/experts/import", "plain")
)
@pytest.mark.parametrize("javascript", MODES, ids=MODE_IDS)
def test_import_shows_progress_then_the_report_and_is_private(
    open_session: Any, server: Server, tmp_path: Any, javascript: bool
) -> None:
    staff = open_session(javascript=javascript)
    page = staff.login("inst1")
    page.goto(server.url("/institution/experts/import"))
    before = server.query("SELECT COUNT(*) FROM expert_application")[0][0]
    page.get_by_label("Excel 文件").set_input_files(
        str(_workbook(tmp_path / "candidates.xlsx", _credit_code(server)))
    )
    page.get_by_label("只导入无误的行").check()
    page.get_by_role("button", name="导入").click()

    expect(page).to_have_url(re.compile(r"/institution/experts/import\?job=[\w-]+$"))
    report = page.locator("#import-job")
    expect(report).to_contain_text("共 2 行,导入 1 行,1 行有误", timeout=30_000)
    expect(report.locator('li[data-code="INVALID_ID_NUMBER"]')).to_have_count(1)
    assert server.query("SELECT COUNT(*) FROM expert_application")[0][0] == before + 1
    if javascript:
        screenshot(page, "import-report")

    # The job's page belongs to the user who started it.
    other = open_session(javascript=javascript)
    opage = other.login(OTHER_INSTITUTION_USER)
    response = opage.goto(page.url)
    assert response is not None and response.status == 404
    assert_clean(staff)


@pytest.mark.pages(("/experts/statistics", "htmx"), ("/experts/statistics", "plain"))
@pytest.mark.parametrize("javascript", MODES, ids=MODE_IDS)
def test_statistics_count_in_the_background_and_recount_on_request(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """R13: the charts arrive when the background count ends; 重新统计 counts again
    (in place with htmx, through a plain form without JavaScript)."""
    session = open_session(javascript=javascript)
    page = session.login("bureau")
    page.goto(server.url("/experts/statistics"))
    charts = page.locator('svg[role="img"]')
    expect(charts).to_have_count(5, timeout=30_000)
    stamp = page.locator(".job-hint").first.inner_text()
    if javascript:
        page.evaluate("window.__sameDocument = true")

    page.get_by_role("button", name="重新统计").click()

    expect(page).to_have_url(re.compile(r"/experts/statistics\?job=[\w-]+$"))
    expect(charts).to_have_count(5, timeout=30_000)
    expect(page.locator(".job-hint").first).to_contain_text("统计时间")
    if javascript:
        assert page.evaluate("window.__sameDocument") is True
    assert stamp  # the first result carried its time too
    assert_clean(session)
