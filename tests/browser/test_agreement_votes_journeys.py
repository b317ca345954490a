"""Issue 9 web gaps in a real browser, with htmx and without JavaScript: the bureau
publishes a new confidentiality agreement version (R19, Art. 9(四), 25), sees the
individual votes of a finalised session (R14; staff do not), and institution staff
decline a drawn expert's invitation on the expert's behalf (R10 step 4).

This module serves its own database (`server` below overrides the shared one):
publishing an agreement version makes every demo expert ineligible for draws until
they sign it, which the other journeys sharing the session server rely on. The drawn
sessions the decline journeys need are prepared, by pages, before any test runs.
"""

import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from resolvers.common import beijing_today
from tests.browser.conftest import (
    ROOT,
    VIEWPORT,
    Server,
    Session,
    Watch,
    _free_port,
    _wait_healthy,
)
from tests.browser.test_evaluation_journeys import (
    add_applicant,
    create_session,
    own_committee,
    unrelated_unit,
)
from tests.browser.test_journeys import assert_clean
from tests.browser.test_pages_forms import submit_expecting_error
from tests.browser.test_pages_lists import MODE, assert_in_place, mark_document
from tests.factories import make_id_number

DAY = beijing_today() + dt.timedelta(days=20)
UVICORN = [sys.executable, "-m", "uvicorn", "--factory", "app:create_app", "--host", "127.0.0.1"]
UVICORN += ["--log-level", "warning"]


def _prepare_drawn_session(browser: Any, server: Server, n: int) -> int:
    """inst1 plans a session (panel 3, one backup), trains the roster and commits; the
    bureau assigns supervisor1, who draws. Returns the session id (status drawn)."""
    sessions = []

    def login(username: str) -> Any:
        context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        session = Session(context, server, Watch())
        sessions.append(session)
        return session.login(username)

    committee_id, _ = own_committee(server)
    page = login("inst1")
    session_id = create_session(page, server, committee_id, DAY + dt.timedelta(days=n))
    id_number = make_id_number(dt.date(1983, 5, 1), 700 + n)
    add_applicant(page, f"欧阳代谢{n}", id_number, unrelated_unit(server))
    expect(page.get_by_text("申报人已录入")).to_be_visible()
    training = page.locator("#training-form")
    for box in training.locator("input[name=expertIds]").all():
        box.check()
    training.get_by_label("培训日期").fill(beijing_today().isoformat())
    training.get_by_label("培训内容").fill("评审纪律与保密要求")
    training.get_by_role("button", name="记录培训").click()
    expect(page.get_by_text("评前培训已记录")).to_be_visible()
    bpage = login("bureau")
    bpage.goto(server.url(f"/sessions/{session_id}"))
    supervisor_id = server.query("SELECT id FROM user WHERE username = 'supervisor1'")[0][0]
    bpage.get_by_label("指派监督委员").select_option(str(supervisor_id))
    bpage.get_by_role("button", name="指派").click()
    expect(bpage.get_by_text("监督委员已指派")).to_be_visible()
    page.goto(server.url(f"/sessions/{session_id}"))
    page.get_by_role("button", name="冻结抽取范围并公布承诺").click()
    expect(page.get_by_text("抽取承诺已公布")).to_be_visible()
    spage = login("supervisor1")
    spage.goto(server.url(f"/sessions/{session_id}"))
    spage.get_by_label("公开随机数").fill(f"4-{n}-2-6")
    spage.get_by_role("button", name="抽取专家").click()
    expect(spage.get_by_text("专家已抽取")).to_be_visible()
    for s in sessions:
        assert_clean(s)
        s.context.close()
    return session_id


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """The shared server's setup (migrate, demo with 150 experts, uvicorn), for this
    module alone."""
    from resolvers.demo import DEMO_PASSWORD

    work = Path(tempfile.mkdtemp(prefix="pingshen-agreement-"))
    db = work / "browser.sqlite3"
    env = {
        **os.environ,
        "PINGSHEN_VAR_DIR": str(work),
        "PINGSHEN_DATABASE_URL": f"sqlite://{db}",
        "PINGSHEN_SECRET_KEY": "browser-tests-secret-0123456789abcdef",
        "PINGSHEN_DEBUG": "1",
        "PINGSHEN_NEW_PASSWORD": DEMO_PASSWORD,
    }
    for args in (["migrate"], ["demo", "--experts", "150"]):
        subprocess.run([sys.executable, "app.py", *args], check=True, env=env, cwd=ROOT)  # noqa: S603
    port = _free_port()
    log_path = work / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603
            [*UVICORN, "--port", str(port)],
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
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def drawn(browser: Any, server: Server) -> dict[bool, int]:
    """One drawn session per mode (javascript → session id). Every test of the module
    requests it, so the draws happen before any agreement version is published."""
    return {js: _prepare_drawn_session(browser, server, i) for i, js in enumerate((True, False))}


# --- the agreement page (R19) ------------------------------------------------------------


@pytest.mark.pages(("/bureau/agreement", "htmx"), ("/bureau/agreement", "plain"))
@MODE
def test_bureau_publishes_a_new_agreement_version(
    open_session: Any, server: Server, drawn: dict[bool, int], javascript: bool
) -> None:
    """A blank text is refused next to its field (the version typed is kept); a good
    one becomes the current version, listed with its hash and no signatures yet."""
    session = open_session(javascript=javascript)
    page = session.login("bureau")
    page.get_by_role("link", name="保密协议", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("评审专家保密协议")
    version = f"2027年版-{'htmx' if javascript else 'plain'}"
    page.get_by_label("版本号").fill(version)
    submit_expecting_error(page, javascript, "#agreement-form", "发布", "协议全文(必填)")
    expect(page.get_by_label("版本号")).to_have_value(version)
    assert server.query("SELECT COUNT(*) FROM agreement_text WHERE version = ?", version) == [(0,)]

    mark_document(page, javascript)
    page.get_by_label("协议全文").fill("第一条 评审专家应当保守评审工作秘密。")
    page.get_by_role("button", name="发布", exact=True).click()

    expect(page.get_by_role("status")).to_contain_text("新版保密协议已发布")
    current = page.locator("tr.agreement-current")
    expect(current.locator("th")).to_have_text(version)
    expect(current).to_contain_text("现行版本")
    expect(current).to_contain_text("0 人")
    [(digest,)] = server.query("SELECT content_hash FROM agreement_text WHERE version = ?", version)
    expect(current.locator("code.hash")).to_have_text(digest)
    expect(page.get_by_label("版本号")).to_have_value("")
    assert_in_place(page, javascript)
    if not javascript:
        expect(page).to_have_url(re.compile(r"/bureau/agreement\?done=published$"))
    assert_clean(session)


# --- individual votes for the bureau (R14) ------------------------------------------------


@pytest.mark.pages(("/sessions/{session_id:int}", "htmx"), ("/sessions/{session_id:int}", "plain"))
@MODE
def test_bureau_sees_individual_votes_of_the_finalised_demo_session_staff_do_not(
    open_session: Any, server: Server, drawn: dict[bool, int], javascript: bool
) -> None:
    [(session_id,)] = server.query(
        "SELECT DISTINCT sa.session_id FROM certificate c "
        "JOIN session_applicant sa ON sa.id = c.applicant_id"
    )
    votes = server.query(
        "SELECT a.name, e.name, v.choice FROM vote v JOIN session_applicant a "
        "ON a.id = v.applicant_id JOIN expert e ON e.id = v.expert_id "
        "WHERE v.session_id = ? ORDER BY v.applicant_id, v.expert_id",
        session_id,
    )
    labels = {"for": "赞成", "against": "反对", "abstain": "弃权"}
    bureau = open_session(javascript=javascript)
    page = bureau.login("bureau")
    page.goto(server.url(f"/sessions/{session_id}"))

    rows = page.locator("table.individual-votes tbody tr")
    expect(rows).to_have_count(len(votes))
    shown = [tuple(r.locator("td").nth(i).inner_text() for i in (0, 1, 3)) for r in rows.all()]
    assert shown == [(a, e, labels[c]) for a, e, c in votes]

    staff = open_session(javascript=javascript)
    spage = staff.login("inst1")
    spage.goto(server.url(f"/sessions/{session_id}"))
    expect(spage.get_by_role("heading", name="确定评审结果")).to_be_visible()
    expect(spage.locator("table.individual-votes")).to_have_count(0)
    expect(spage.get_by_text("个人投票记录")).to_have_count(0)
    assert_clean(bureau)
    assert_clean(staff)


# --- staff decline on an expert's behalf (R10 step 4) ---------------------------------------


@pytest.mark.pages(("/sessions/{session_id:int}", "htmx"), ("/sessions/{session_id:int}", "plain"))
@MODE
def test_staff_decline_an_invitation_for_the_expert_who_phoned_in(
    open_session: Any, server: Server, drawn: dict[bool, int], javascript: bool
) -> None:
    """Without a reason the decline is refused next to the field; with one, the expert
    is declined and replaced by the draw's rule, recorded in the draw and the audit."""
    session_id = drawn[javascript]
    (member_id, name), *_ = server.query(
        "SELECT pm.id, e.name FROM panel_member pm JOIN expert e ON e.id = pm.expert_id "
        "WHERE pm.session_id = ? AND pm.is_backup = 0 ORDER BY pm.rank DESC",
        session_id,
    )
    session = open_session(javascript=javascript)
    page = session.login("inst1")
    page.goto(server.url(f"/sessions/{session_id}#panel"))
    page.get_by_text(f"代{name}谢绝", exact=True).click()
    form = f"form[action='/sessions/{session_id}/panel/{member_id}/decline']"
    submit_expecting_error(page, javascript, form, "确认代为谢绝并递补", "谢绝理由(必填)")
    assert server.query("SELECT status FROM panel_member WHERE id = ?", member_id) == [("invited",)]

    page.locator(form).get_by_label("谢绝理由").fill("本人来电:临时出差无法参加")
    page.locator(form).get_by_role("button", name="确认代为谢绝并递补").click()

    expect(page.get_by_role("status")).to_have_text("已代专家谢绝邀请,系统已按同一随机序列递补。")
    assert server.query(
        "SELECT status, decline_reason FROM panel_member WHERE id = ?", member_id
    ) == [("declined", "本人来电:临时出差无法参加")]
    [(replaced,)] = server.query(
        "SELECT COUNT(*) FROM panel_member WHERE replaces_id = ? AND is_backup = 0", member_id
    )
    assert replaced == 1
    [(actor, after)] = server.query(
        "SELECT actor, after FROM audit_event WHERE action = 'panel_member.decline' "
        "AND target_id = ?",
        str(member_id),
    )
    assert (actor, json.loads(after)["on_behalf"]) == ("user:inst1", True)
    expect(page.locator("#draw")).to_contain_text("本人来电:临时出差无法参加")
    assert_clean(session)
