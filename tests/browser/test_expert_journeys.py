"""Expert-pool journeys in a real browser (issue 6 item 12): an institution reviews an
application and the bureau approves it into the pool (Art. 17, R7); an expert signs
the current confidentiality agreement (Art. 25, R19); a profile change is verified
by the employer, then the institution, then is current (R8); without JavaScript a
recommender's application is sent back and resubmitted (Art. 17); a user of another
institution cannot reach the pages used.

Run separately: `PINGSHEN_BROWSER_TESTS=1 python -m pytest tests/browser`.
Screenshots: docs/screenshots/expert-*.png.
"""

import datetime as dt
import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import OTHER_INSTITUTION_USER, Server
from tests.factories import make_id_number

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
SECRET = "browser-tests-secret-0123456789abcdef"  # as tests/browser/conftest.py serves


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"expert-{name}.png"), full_page=True)


def assert_clean(session: Any) -> None:
    assert session.watch.console_errors == [], "\n".join(session.watch.console_errors)
    assert session.watch.page_errors == []
    assert session.watch.dialogs == []


def inst1_institution(server: Server) -> int:
    return int(
        server.query(
            "SELECT ra.institution_id FROM role_assignment ra JOIN user u ON u.id = ra.user_id "
            "WHERE u.username = 'inst1'"
        )[0][0]
    )


def submitted_application(server: Server) -> int:
    """An application of inst1's institution waiting for its review."""
    rows = server.query(
        "SELECT id FROM expert_application WHERE status = 'submitted' AND institution_id = ? "
        "AND exception_reason = '' ORDER BY id",
        inst1_institution(server),
    )
    return int(rows[0][0])


def expert1_staff(server: Server) -> str:
    """A staff login of expert1's institution (the verifying side of R8): inst1 when it
    is theirs, otherwise one created through the real CLI."""
    expert_inst = server.query(
        "SELECT e.institution_id FROM expert e JOIN role_assignment ra ON ra.expert_id = e.id "
        "JOIN user u ON u.id = ra.user_id WHERE u.username = 'expert1'"
    )[0][0]
    if expert_inst == inst1_institution(server):
        return "inst1"
    if not server.query("SELECT id FROM user WHERE username = 'expertinst'"):
        env = {
            **os.environ,
            "PINGSHEN_VAR_DIR": str(server.database.parent),
            "PINGSHEN_DATABASE_URL": f"sqlite://{server.database}",
            "PINGSHEN_SECRET_KEY": SECRET,
            "PINGSHEN_DEBUG": "1",
            "PINGSHEN_NEW_PASSWORD": server.password,
        }
        subprocess.run(  # noqa: S603 - our own CLI
            [
                *(sys.executable, "app.py", "createuser", "expertinst"),
                *("--role", "institution", "--scope", str(expert_inst)),
            ],
            check=True,
            env=env,
            cwd=ROOT,
        )
    return "expertinst"


def publish_agreement(server: Server, version: str, content: str) -> None:
    """A new agreement version (the bureau's publishing has no page): seeded directly."""
    now = dt.datetime.now(dt.UTC).isoformat(sep=" ")
    digest = hashlib.sha256(content.encode()).hexdigest()
    with sqlite3.connect(server.database) as conn:
        conn.execute(
            "INSERT INTO agreement_text (version, content, content_hash, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (version, content, digest, now, now),
        )


@pytest.mark.pages(
    ("/experts/applications/{application_id:int}", "htmx"), ("/bureau/experts/applications", "htmx")
)
def test_institution_reviews_and_bureau_approves_into_pool(
    open_session: Any, server: Server
) -> None:
    """Art. 17: review opinion by the institution, filing by the bureau; R7 first term."""
    app_id = submitted_application(server)
    staff = open_session()
    page = staff.login("inst1")
    page.goto(server.url("/institution/experts/applications"))
    expect(page.get_by_role("heading", level=1)).to_have_text("专家入库审核")
    screenshot(page, "review-queue")
    page.goto(server.url(f"/experts/applications/{app_id}"))
    page.get_by_label("审核意见").fill("资格条件符合,同意推荐入库")
    page.get_by_label("审核通过,报市人力资源社会保障局审批(不勾选即为不予通过)").check()
    screenshot(page, "application")
    page.get_by_role("button", name="提交审核意见").click()
    expect(page.get_by_text("审核意见已提交。")).to_be_visible()

    bureau = open_session()
    bpage = bureau.login("bureau")
    bpage.goto(server.url("/bureau/experts/applications"))
    row_link = bpage.locator(f'a[href="/experts/applications/{app_id}"]')
    expect(row_link).to_be_visible()
    screenshot(bpage, "approval-queue")
    row_link.click()
    bpage.get_by_role("button", name="批准入库并备案").click()
    expect(bpage.get_by_text("已批准入库并备案,第一届聘期已开始。")).to_be_visible()
    status = server.query(
        "SELECT a.status, e.status, (SELECT COUNT(*) FROM expert_term t WHERE t.expert_id = e.id) "
        "FROM expert_application a JOIN expert e ON e.id = a.expert_id WHERE a.id = ?",
        app_id,
    )[0]
    assert status == ("approved", "in_pool", 1)

    other = open_session()
    opage = other.login(OTHER_INSTITUTION_USER)
    response = opage.goto(server.url(f"/experts/applications/{app_id}"))
    assert response is not None and response.status == 404
    assert_clean(staff)
    assert_clean(bureau)


@pytest.mark.pages(("/me", "htmx"))
def test_expert_signs_the_current_agreement(open_session: Any, server: Server) -> None:
    """Art. 25, R19: the newest version is signed with its hash and time."""
    publish_agreement(server, "2026.2", "评审专家保密协议(2026年修订):不得泄露评审情况。")
    expert = open_session()
    page = expert.login("expert1")
    page.goto(server.url("/me"))
    expect(page.get_by_text("现行版本:2026.2")).to_be_visible()
    page.get_by_label("我已阅读并同意遵守上述保密协议").check()
    page.get_by_role("button", name="签署保密协议").click()
    expect(page.get_by_text("您已签署现行版本的保密协议。")).to_be_visible()
    screenshot(page, "me")
    signed = server.query(
        "SELECT s.content_hash FROM agreement_signature s JOIN agreement_text t "
        "ON t.id = s.agreement_id WHERE t.version = '2026.2'"
    )
    assert len(signed) == 1
    assert_clean(expert)


@pytest.mark.pages(
    ("/me", "htmx"), ("/employer/updates", "htmx"), ("/institution/experts/updates", "htmx")
)
def test_profile_change_verified_by_employer_then_institution_becomes_current(
    open_session: Any, server: Server
) -> None:
    """R8: nobody sees the new title as current until both verifications."""
    expert = open_session()
    page = expert.login("expert1")
    page.goto(server.url("/me"))
    form = page.locator("#update-form")
    form.get_by_label("新职称", exact=True).fill("研究员(二级)")
    form.get_by_role("button", name="提交变更申请").click()
    expect(page.get_by_text("尚待核对:所在单位、评审机构")).to_be_visible()
    expect(page.locator(".facts").get_by_text("研究员(二级)")).to_have_count(0)

    employer = open_session()
    epage = employer.login("employer1")
    epage.goto(server.url("/employer/updates"))
    card = epage.locator("article.update-card", has_text="研究员(二级)")
    screenshot(epage, "employer-updates")
    card.get_by_role("button", name="核对通过").click()
    expect(epage.get_by_text("核对结果已记录。")).to_be_visible()

    other = open_session()
    opage = other.login(OTHER_INSTITUTION_USER)
    opage.goto(server.url("/institution/experts/updates"))
    expect(opage.get_by_text("研究员(二级)")).to_have_count(0)

    staff = open_session()
    spage = staff.login(expert1_staff(server))
    spage.goto(server.url("/institution/experts/updates"))
    spage.locator("article.update-card", has_text="研究员(二级)").get_by_role(
        "button", name="核对通过"
    ).click()
    expect(spage.get_by_text("核对结果已记录。")).to_be_visible()

    page.goto(server.url("/me"))
    expect(page.locator(".facts").get_by_text("研究员(二级)", exact=False)).to_be_visible()
    expect(page.get_by_text("没有待核对的信息变更。")).to_be_visible()
    for s in (expert, employer, staff, other):
        assert_clean(s)


@pytest.mark.pages(
    ("/recommender/experts/new", "plain"),
    ("/experts/applications/{application_id:int}", "plain"),
    ("/recommender/experts", "plain"),
)
def test_without_javascript_application_is_sent_back_and_resubmitted(
    open_session: Any, server: Server
) -> None:
    """Art. 17 with plain forms only: recommend, send back with a reason, amend,
    resubmit; the round stays in the history."""
    inst_id = inst1_institution(server)
    rec = open_session(javascript=False)
    page = rec.login("recommender1")
    page.goto(server.url("/recommender/experts/new"))
    page.get_by_label("负责审核的评审机构").select_option(str(inst_id))
    page.get_by_label("所在单位").select_option(index=1)
    page.get_by_label("姓名").fill("欧阳补充")
    page.get_by_label("身份证号码").fill(make_id_number(dt.date(1979, 3, 8), 977))
    page.get_by_label("手机号码").fill("13912345678")
    page.get_by_label("原法定退休年龄类别").select_option("male_60")
    page.get_by_label("现职称").fill("教授级高级工程师")
    page.get_by_label("职称层级").select_option("senior")
    page.get_by_label("职称取得日期").fill("2013-09-01")
    page.get_by_label("系列").select_option("工程技术")
    page.locator("#recommend-specialty").fill("电子信息")
    screenshot(page, "recommend")
    page.get_by_role("button", name="提交推荐").click()
    expect(page.get_by_text("推荐已提交,等待评审机构审核。")).to_be_visible()
    app_id = int(page.url.split("/applications/")[1].split("?")[0])

    staff = open_session(javascript=False)
    spage = staff.login("inst1")
    spage.goto(server.url(f"/experts/applications/{app_id}"))
    spage.get_by_label("需要补充或调整的内容").fill("请补充近三年主持的项目")
    spage.get_by_role("button", name="退回补充调整").click()
    expect(spage.get_by_text("已退回提交方补充调整。")).to_be_visible()

    page.goto(server.url("/recommender/experts?status=needs_changes"))
    page.locator(f'a[href="/experts/applications/{app_id}"]').click()
    expect(page.get_by_text("请补充近三年主持的项目").first).to_be_visible()
    form = page.locator("#resubmit-form")
    form.get_by_label("研究领域").fill("集成电路设计")
    form.get_by_label("补充调整说明").fill("已补充项目情况")
    screenshot(page, "resubmit")
    form.get_by_role("button", name="重新提交").click()
    expect(page.get_by_text("已重新提交,等待评审机构审核。")).to_be_visible()
    expect(page.get_by_role("cell", name="研究领域")).to_be_visible()
    assert server.query("SELECT status FROM expert_application WHERE id = ?", app_id) == [
        ("submitted",)
    ]
    assert_clean(rec)
    assert_clean(staff)


def test_statistics_and_import_pages(open_session: Any, server: Server) -> None:
    """R13 charts for the bureau; the import page for institution staff; another
    institution's roster export is 404."""
    bureau = open_session()
    page = bureau.login("bureau")
    page.goto(server.url("/experts/statistics"))
    expect(page.locator('svg[role="img"]')).to_have_count(5)
    screenshot(page, "statistics")

    staff = open_session()
    spage = staff.login("inst1")
    spage.goto(server.url("/institution/experts/import"))
    expect(spage.get_by_role("heading", level=1)).to_have_text("专家名单导入导出")
    screenshot(spage, "import")
    committee = server.query(
        "SELECT id FROM committee WHERE institution_id = ? ORDER BY id", inst1_institution(server)
    )[0][0]
    other = open_session()
    opage = other.login(OTHER_INSTITUTION_USER)
    response = opage.request.get(server.url(f"/institution/experts/export?committee={committee}"))
    assert response.status == 404
    assert_clean(bureau)
    assert_clean(staff)
