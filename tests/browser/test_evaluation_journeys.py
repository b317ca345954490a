"""Evaluation-session journeys in a real browser (issue 7 item 10): an institution runs
a session from applicants to finalised results, with the commit–reveal draw (R10)
whose entropy the supervisor enters, an expert who declares a conflict (R11) and votes
(R14), and a user of another institution kept out; one journey without JavaScript.

Run separately: `PINGSHEN_BROWSER_TESTS=1 python -m pytest tests/browser`.
Screenshots: docs/screenshots/session-*.png.
"""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from resolvers.common import beijing_today
from tests.browser.conftest import OTHER_INSTITUTION_USER, Server
from tests.factories import make_id_number

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
SECRET = "browser-tests-secret-0123456789abcdef"  # as tests/browser/conftest.py serves
DAY = beijing_today() + dt.timedelta(days=12)


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def assert_clean(session: Any) -> None:
    assert session.watch.console_errors == [], "\n".join(session.watch.console_errors)
    assert session.watch.page_errors == []
    assert session.watch.dialogs == []


def createuser(server: Server, username: str, role: str, scope: int) -> None:
    """A login for a drawn expert, through the real CLI on the server's database."""
    env = {
        **os.environ,
        "PINGSHEN_VAR_DIR": str(server.database.parent),
        "PINGSHEN_DATABASE_URL": f"sqlite://{server.database}",
        "PINGSHEN_SECRET_KEY": SECRET,
        "PINGSHEN_DEBUG": "1",
        "PINGSHEN_NEW_PASSWORD": server.password,
    }
    subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "app.py", "createuser", username, "--role", role, "--scope", str(scope)],
        check=True,
        env=env,
        cwd=ROOT,
    )


def own_committee(server: Server) -> tuple[int, str]:
    """inst1's filed committee with the largest roster, and its name."""
    rows = server.query(
        "SELECT c.id, c.name FROM committee c JOIN role_assignment ra "
        "ON ra.institution_id = c.institution_id JOIN user u ON u.id = ra.user_id "
        "WHERE u.username = 'inst1' AND c.status = 'filed' "
        "ORDER BY (SELECT COUNT(*) FROM committee_seat s WHERE s.committee_id = c.id) DESC"
    )
    return int(rows[0][0]), str(rows[0][1])


def unrelated_unit(server: Server) -> str:
    """A unit no expert works or worked for, so recusal excludes nobody (R11)."""
    rows = server.query(
        "SELECT credit_code FROM unit WHERE id NOT IN (SELECT unit_id FROM expert) "
        "AND id NOT IN (SELECT unit_id FROM expert_employment) ORDER BY id"
    )
    return str(rows[0][0])


def create_session(page: Any, server: Server, committee_id: int, day: dt.date = DAY) -> int:
    page.goto(server.url("/institution/sessions/new"))
    page.get_by_label("评委会").select_option(str(committee_id))
    page.get_by_label("开始时间").fill(f"{day.isoformat()}T09:00")
    page.get_by_label("结束时间").fill(f"{day.isoformat()}T17:00")
    page.get_by_label("地点").fill("评审会议室(一)")
    page.get_by_label("评审组人数").fill("3")
    page.get_by_label("备选专家人数").fill("1")
    page.get_by_role("button", name="创建评审会议").click()
    expect(page.get_by_text("评审会议已创建")).to_be_visible()
    return int(page.url.split("/sessions/")[1].split("?")[0])


def add_applicant(page: Any, name: str, id_number: str, credit_code: str) -> None:
    form = page.locator("#applicant-form")
    form.get_by_label("姓名").fill(name)
    form.get_by_label("身份证号").fill(id_number)
    form.get_by_label("所在单位统一社会信用代码").fill(credit_code)
    form.get_by_label("申报专业").fill("临床医学")
    form.get_by_role("button", name="录入").click()


@pytest.mark.pages(
    ("/institution/sessions", "htmx"),
    ("/institution/sessions/new", "htmx"),
    ("/sessions/{session_id:int}", "htmx"),
    ("/supervisor/sessions", "htmx"),
    ("/me/invitations", "htmx"),
    ("/me/sessions/{session_id:int}/vote", "htmx"),
)
def test_institution_runs_a_session_with_draw_conflict_and_votes(
    open_session: Any, server: Server
) -> None:
    """R10 commit → supervisor entropy → reveal; R11 expert declaration; R14 votes
    (self-service and flagged paper ballots); R15 finalisation; another institution's
    user gets 404."""
    committee_id, committee_name = own_committee(server)
    staff = open_session()
    page = staff.login("inst1")
    page.goto(server.url("/institution/sessions"))
    page.get_by_role("link", name="新建评审会议").click()
    session_id = create_session(page, server, committee_id)
    expect(page.get_by_role("heading", level=1)).to_contain_text(committee_name)

    add_applicant(
        page, "司马申报", make_id_number(dt.date(1984, 6, 1), 901), unrelated_unit(server)
    )
    expect(page.get_by_text("申报人已录入")).to_be_visible()
    training = page.locator("#training-form")
    for box in training.locator("input[name=expertIds]").all():
        box.check()
    training.get_by_label("培训日期").fill(beijing_today().isoformat())
    training.get_by_label("培训内容").fill("评审纪律与保密要求")
    training.get_by_role("button", name="记录培训").click()
    expect(page.get_by_text("评前培训已记录")).to_be_visible()

    bureau = open_session()
    bpage = bureau.login("bureau")
    bpage.goto(server.url(f"/sessions/{session_id}"))
    supervisor_id = server.query("SELECT id FROM user WHERE username = 'supervisor1'")[0][0]
    bpage.get_by_label("指派监督委员").select_option(str(supervisor_id))
    bpage.get_by_role("button", name="指派").click()
    expect(bpage.get_by_text("监督委员已指派")).to_be_visible()

    page.goto(server.url(f"/sessions/{session_id}"))
    page.get_by_role("button", name="冻结抽取范围并公布承诺").click()
    expect(page.get_by_text("抽取承诺已公布")).to_be_visible()
    pool_hash, secret_hash = server.query(
        "SELECT pool_hash, secret_hash FROM draw WHERE session_id = ?", session_id
    )[0]
    expect(page.get_by_text(pool_hash)).to_be_visible()
    expect(page.get_by_text(secret_hash)).to_be_visible()
    page.locator("#draw").scroll_into_view_if_needed()
    screenshot(page, "session-commit")

    supervisor = open_session()
    spage = supervisor.login("supervisor1")
    spage.goto(server.url("/supervisor/sessions"))
    spage.get_by_role("link", name=f"评审会议#{session_id}").click()
    spage.get_by_label("公开随机数").fill("6-2-5-3-1")
    spage.get_by_role("button", name="抽取专家").click()
    expect(spage.get_by_text("专家已抽取")).to_be_visible()
    seed = server.query("SELECT seed FROM draw WHERE session_id = ?", session_id)[0][0]
    expect(spage.get_by_text(seed)).to_be_visible()
    spage.locator("#draw").scroll_into_view_if_needed()
    screenshot(spage, "session-reveal")

    # R19: while the session runs, another institution's user finds neither the
    # workspace nor the draw bundle.
    other = open_session()
    opage = other.login(OTHER_INSTITUTION_USER)
    assert opage.goto(server.url(f"/sessions/{session_id}")).status == 404
    expect(opage.get_by_role("heading", level=1)).to_have_text("页面不存在")
    assert other.context.request.get(server.url(f"/sessions/{session_id}/draw.json")).status == 404

    panel = server.query(
        "SELECT expert_id, id FROM panel_member WHERE session_id = ? AND is_backup = 0 "
        "ORDER BY rank",
        session_id,
    )
    expert_id, member_id = panel[0]
    createuser(server, f"drawn{session_id}", "expert", expert_id)
    expert = open_session()
    epage = expert.login(f"drawn{session_id}")
    epage.get_by_role("link", name="评审邀请", exact=True).click()
    epage.get_by_text("声明回避", exact=True).click()
    epage.locator(f"#conflict-{member_id}-applicant").select_option(label="司马申报")
    epage.locator(f"#conflict-{member_id}-kind").select_option("interest")
    epage.locator(f"#conflict-{member_id}-detail").fill("曾共同承担科研项目")
    epage.get_by_role("button", name="提交回避声明").click()
    expect(epage.get_by_text("回避声明已记录")).to_be_visible()
    epage.get_by_role("button", name="接受邀请").click()
    expect(epage.get_by_text("已接受邀请")).to_be_visible()
    screenshot(epage, "session-invitations")
    declared = server.query(
        "SELECT declared_by, kind FROM conflict_declaration WHERE expert_id = ?", expert_id
    )
    assert declared == [("expert", "interest")]

    page.goto(server.url(f"/sessions/{session_id}"))
    attendance = page.locator("#attendance-form")
    for box in attendance.locator("input[name=presentExpertIds]").all():
        box.check()
    attendance.get_by_label("主持人").select_option(index=1)
    attendance.get_by_role("button", name="记录出席并开始评审").click()
    expect(page.get_by_text("出席情况已记录")).to_be_visible()

    epage.goto(server.url(f"/me/sessions/{session_id}/vote"))
    epage.get_by_label("赞成").check()
    epage.get_by_role("button", name="提交表决").click()
    expect(epage.get_by_text("已投:赞成")).to_be_visible()
    screenshot(epage, "session-vote")

    page.goto(server.url(f"/sessions/{session_id}"))
    ballot = page.locator("form.ballot-form")
    for select in ballot.locator("select").all():
        select.select_option("for")
    ballot.get_by_role("button", name="录入纸质选票").click()
    expect(page.get_by_text("纸质选票已录入")).to_be_visible()
    assert server.query(
        "SELECT COUNT(*), SUM(paper_ballot) FROM vote WHERE session_id = ?", session_id
    ) == [(3, 2)]

    rec = page.locator("#recording-form")
    rec.get_by_label("类别").select_option("video")
    rec.get_by_label("存储位置").fill("recordings/session-全程录像.mp4")
    rec.get_by_label("文件大小(字节)").fill("734003200")
    rec.get_by_label("SHA-256 校验值").fill("ab" * 32)
    rec.get_by_role("button", name="登记").click()
    expect(page.get_by_text("录音录像已登记")).to_be_visible()
    page.get_by_role("button", name="确定评审结果").click()
    expect(page.get_by_text("评审结果已确定,不可再修改")).to_be_visible()
    page.locator("#applicants").scroll_into_view_if_needed()
    screenshot(page, "session-finalised")
    assert server.query(
        "SELECT result, votes_for FROM session_applicant WHERE session_id = ?", session_id
    ) == [("passed", 3)]

    # Finalised: still not the other institution's workspace (the bundle is public now).
    assert opage.goto(server.url(f"/sessions/{session_id}")).status == 404
    for s in (staff, bureau, supervisor, expert):
        assert_clean(s)
    # The other institution's only console errors are the two 404s it was given.
    assert len(other.watch.console_errors) == 2
    assert all("404" in e for e in other.watch.console_errors)


def test_assigned_supervisor_redraws_with_a_reason(open_session: Any, server: Server) -> None:
    """R10/Art. 30: the redraw is among the assigned supervisor's controls (staff have
    none); a missing reason comes back next to the field; the abandoned draw stays on
    the page with its reason and the confirming supervisor, and a new commitment is
    published for a fresh draw."""
    committee_id, _ = own_committee(server)
    staff = open_session()
    page = staff.login("inst1")
    session_id = create_session(page, server, committee_id, DAY + dt.timedelta(days=20))
    add_applicant(
        page, "欧阳重抽", make_id_number(dt.date(1984, 6, 1), 903), unrelated_unit(server)
    )
    expect(page.get_by_text("申报人已录入")).to_be_visible()
    training = page.locator("#training-form")
    for box in training.locator("input[name=expertIds]").all():
        box.check()
    training.get_by_label("培训日期").fill(beijing_today().isoformat())
    training.get_by_label("培训内容").fill("评审纪律与保密要求")
    training.get_by_role("button", name="记录培训").click()
    expect(page.get_by_text("评前培训已记录")).to_be_visible()
    bureau = open_session()
    bpage = bureau.login("bureau")
    bpage.goto(server.url(f"/sessions/{session_id}"))
    supervisor_id = server.query("SELECT id FROM user WHERE username = 'supervisor1'")[0][0]
    bpage.get_by_label("指派监督委员").select_option(str(supervisor_id))
    bpage.get_by_role("button", name="指派").click()
    expect(bpage.get_by_text("监督委员已指派")).to_be_visible()
    page.goto(server.url(f"/sessions/{session_id}"))
    page.get_by_role("button", name="冻结抽取范围并公布承诺").click()
    expect(page.get_by_text("抽取承诺已公布")).to_be_visible()

    supervisor = open_session()
    spage = supervisor.login("supervisor1")
    spage.goto(server.url(f"/sessions/{session_id}"))
    spage.get_by_label("公开随机数").fill("1-1-2-3-5")
    spage.get_by_role("button", name="抽取专家").click()
    expect(spage.get_by_text("专家已抽取")).to_be_visible()
    page.goto(server.url(f"/sessions/{session_id}"))
    expect(page.locator("#redraw-form")).to_have_count(0)

    spage.get_by_text("重新抽取(监督委员说明理由并确认)").click()
    form = spage.locator("#redraw-form")
    form.get_by_role("button", name="确认放弃本次抽取并重新承诺").click()
    expect(spage.locator("#redraw-reason-error")).to_have_attribute("data-code", "REQUIRED")
    spage.locator("#redraw-form").get_by_label("重新抽取理由").fill("抽取时现场断电")
    spage.locator("#redraw-form").get_by_role("button", name="确认放弃本次抽取并重新承诺").click()
    expect(spage.get_by_text("原抽取已放弃并留档")).to_be_visible()
    abandoned = spage.locator("article.draw-abandoned")
    expect(abandoned).to_contain_text("抽取时现场断电")
    expect(abandoned).to_contain_text("supervisor1")
    assert server.query(
        "SELECT status, confirmed_by_id FROM draw WHERE session_id = ? ORDER BY id", session_id
    ) == [("abandoned", supervisor_id), ("committed", None)]
    spage.get_by_label("公开随机数").fill("2-7-1-8")
    spage.get_by_role("button", name="抽取专家").click()
    expect(spage.get_by_text("专家已抽取")).to_be_visible()
    spage.locator("#draw").scroll_into_view_if_needed()
    screenshot(spage, "session-redraw")
    for s in (staff, bureau, supervisor):
        assert_clean(s)


@pytest.mark.pages(
    ("/institution/sessions/new", "plain"),
    ("/sessions/{session_id:int}", "plain"),
    ("/institution/sessions", "plain"),
)
def test_session_forms_work_without_javascript(open_session: Any, server: Server) -> None:
    """The same workspace with JavaScript disabled: plain forms post and redirect, a bad
    ID number comes back next to its field with the typed values kept."""
    committee_id, _ = own_committee(server)
    session = open_session(javascript=False)
    page = session.login("inst1")
    session_id = create_session(page, server, committee_id)
    add_applicant(page, "诸葛无脚本", "110101198413320000", unrelated_unit(server))
    error = page.locator("#applicant-idNumber-error")
    expect(error).to_be_visible()
    assert error.get_attribute("data-code") is not None
    expect(page.locator("#applicant-form").get_by_label("姓名")).to_have_value("诸葛无脚本")
    add_applicant(
        page, "诸葛无脚本", make_id_number(dt.date(1984, 6, 1), 902), unrelated_unit(server)
    )
    expect(page.get_by_text("申报人已录入")).to_be_visible()
    page.goto(server.url("/institution/sessions"))
    page.get_by_label("状态").select_option("planned")
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_role("link", name=f"评审会议#{session_id}")).to_be_visible()
    screenshot(page, "session-list")
    assert_clean(session)
