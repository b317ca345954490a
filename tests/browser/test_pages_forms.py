"""Pages that edit data, in a real browser, with htmx and without JavaScript (issue 9
"Done when"): each test logs in as the demo user the page is for and submits its
form: a refused submission comes back with the message next to its field, a good one
shows its result. With htmx the answer is swapped into the page (a marker set on
window survives); without JavaScript the plain form posts and a whole page answers.

Refusals are used where a success would change what other journeys rely on (the
demo's filed institutions, submitted committees and certificates stay as they are).
"""

import datetime as dt
import re
import sqlite3
from typing import Any

import pytest
from playwright.sync_api import expect

from resolvers.common import beijing_today
from tests.browser.conftest import OTHER_INSTITUTION_USER, Server
from tests.browser.test_expert_journeys import expert1_staff
from tests.browser.test_journeys import assert_clean
from tests.browser.test_pages_lists import MODE, assert_in_place, mark_document, user_scope

REQUIRED = "此项为必填项"


def label_name(text: str) -> re.Pattern[str]:
    """A field's accessible name: its label, with the "(必填)" mark on required ones."""
    return re.compile(rf"^{re.escape(text)}(\(必填\))?$")


def submit_expecting_error(
    page: Any,
    javascript: bool,
    form: str,
    button: str,
    field: str | None = None,
    message: str | None = REQUIRED,
) -> None:
    """Submit the form `form` (a CSS selector) with `button`; the refusal is shown in
    the form, next to `field` (its label) when given. With htmx, in place."""
    url = page.url
    mark_document(page, javascript)
    page.locator(form).get_by_role("button", name=button, exact=True).click()
    errors = page.locator(f"{form} .field-error, {form} .form-error")
    expect(errors.first).to_be_visible()
    if field is None:
        invalid = page.locator(f"{form} [aria-invalid=true], {form} .form-error")
        expect(invalid.first).to_be_visible()
    if field is not None:
        box = page.locator(form).get_by_label(label_name(field))
        expect(box).to_have_attribute("aria-invalid", "true")
        described = box.get_attribute("aria-describedby") or ""
        error_id = next(i for i in described.split() if i.endswith("-error"))
        if message is not None:
            expect(page.locator(f"#{error_id}")).to_have_text(message)
    if javascript:
        assert_in_place(page, javascript)
        assert page.url == url


@pytest.mark.pages(
    ("/directory/institutions/{institution_id:int}", "htmx"),
    ("/directory/institutions/{institution_id:int}", "plain"),
)
@MODE
def test_bureau_suspension_without_reason_is_refused(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """Art. 31: a suspension needs its reason; nothing changes without it."""
    inst = user_scope(server, OTHER_INSTITUTION_USER, "institution_id")
    session = open_session(javascript=javascript)
    page = session.login("bureau")
    page.goto(server.url(f"/directory/institutions/{inst}"))

    submit_expecting_error(page, javascript, "#suspend-form", "暂停", "暂停理由")

    assert server.query("SELECT status FROM institution WHERE id = ?", inst) == [("filed",)]
    assert_clean(session)


@pytest.mark.pages(
    ("/bureau/filings/committees/{committee_id:int}", "htmx"),
    ("/bureau/filings/committees/{committee_id:int}", "plain"),
)
@MODE
def test_bureau_committee_rejection_without_reason_is_refused(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """R2: a committee filing is refused only with a reason; it stays submitted."""
    committee = server.query("SELECT id FROM committee WHERE status = 'submitted' ORDER BY id")[0][
        0
    ]
    session = open_session(javascript=javascript)
    page = session.login("bureau")
    page.goto(server.url(f"/bureau/filings/committees/{committee}"))

    submit_expecting_error(page, javascript, "#decision", "不予备案", "不予备案理由")

    status = server.query("SELECT status FROM committee WHERE id = ?", committee)
    assert status == [("submitted",)]
    assert_clean(session)


@pytest.mark.pages(("/bureau/assessments/new", "htmx"), ("/bureau/assessments/new", "plain"))
@MODE
def test_assessment_without_findings_is_refused(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """Art. 31: an assessment records its findings; none is saved without them."""
    inst = user_scope(server, OTHER_INSTITUTION_USER, "institution_id")
    (before,) = server.query("SELECT COUNT(*) FROM institution_assessment")[0]
    session = open_session(javascript=javascript)
    page = session.login("bureau")
    page.goto(server.url(f"/bureau/assessments/new?institution={inst}"))
    form = page.locator("#assessment-form")
    form.get_by_label(label_name("考核方式")).select_option(index=1)
    form.get_by_label(label_name("考核日期")).fill(beijing_today().isoformat())
    form.get_by_label(label_name("考核结果")).select_option(index=1)

    submit_expecting_error(page, javascript, "#assessment-form", "保存考核结果", "考核发现")

    assert server.query("SELECT COUNT(*) FROM institution_assessment") == [(before,)]
    assert_clean(session)


@pytest.mark.pages(
    ("/institution/committees/new", "htmx"),
    ("/institution/committees/new", "plain"),
    ("/institution/committees/{committee_id:int}", "htmx"),
    ("/institution/committees/{committee_id:int}", "plain"),
)
@MODE
def test_institution_creates_a_committee_and_edits_its_roster(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """R2: a committee is created as a draft after a refused empty submission; on its
    page a seat without an expert number is refused next to the field."""
    name = f"电子信息工程高级评委会({'htmx' if javascript else '无脚本'})"
    session = open_session(javascript=javascript)
    page = session.login("inst1")
    page.goto(server.url("/institution/committees/new"))

    submit_expecting_error(page, javascript, "#committee-form", "创建", "评委会名称")
    form = page.locator("#committee-form")
    form.get_by_label(label_name("评委会名称")).fill(name)
    form.get_by_label(label_name("评审系列")).select_option(index=1)
    form.get_by_label(label_name("专业")).fill("电子信息")
    form.get_by_label(label_name("评审层级")).select_option("senior")
    for label in ("评审范围", "量化评价标准", "评审程序"):
        form.get_by_label(label_name(label)).fill("按国家和本市有关规定执行")
    form.get_by_role("button", name="创建").click()

    expect(page).to_have_url(re.compile(r"/institution/committees/\d+(\?.*)?$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    assert server.query("SELECT status FROM committee WHERE name = ?", name) == [("draft",)]
    submit_expecting_error(
        page, javascript, "#seat-form", "保存席位", "专家编号", message="请填写专家编号"
    )
    assert_clean(session)


@pytest.mark.pages(
    ("/institution/plans/{committee_id:int}/{year:int}", "htmx"),
    ("/institution/plans/{committee_id:int}/{year:int}", "plain"),
)
@MODE
def test_plan_draft_is_saved_and_incomplete_one_is_not_published(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """Art. 9 (R5): next year's plan is saved as an incomplete draft (no conditions);
    its publication is refused with the missing item named, and the plan stays a
    draft (never on the public list)."""
    inst = user_scope(server, "inst1", "institution_id")
    committee = server.query(
        "SELECT id FROM committee WHERE institution_id = ? AND status = 'filed' ORDER BY id",
        inst,
    )[0][0]
    year = beijing_today().year + 1
    session = open_session(javascript=javascript)
    page = session.login("inst1")
    page.goto(server.url(f"/institution/plans/{committee}/{year}"))
    page.locator("#plan-form").get_by_label("申报条件").fill("")
    page.locator("#plan-form").get_by_label("咨询电话").fill("010-66001234")
    page.get_by_role("button", name="保存草稿").click()

    expect(page.get_by_role("status")).to_have_text("已保存。")
    expect(page.locator("#plan-form").get_by_label("咨询电话")).to_have_value("010-66001234")
    submit_expecting_error(page, javascript, "#plan-blocks", "公布")
    expect(page.locator("#plan-form").get_by_label("申报条件")).to_have_attribute(
        "aria-invalid", "true"
    )

    stored = server.query(
        "SELECT status FROM annual_plan WHERE committee_id = ? AND year = ?", committee, year
    )
    assert stored == [("draft",)]
    assert_clean(session)


@pytest.mark.pages(("/institution/application", "htmx"), ("/institution/application", "plain"))
@MODE
def test_filed_institutions_application_without_person_in_charge_is_refused(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """R1: a filed institution may amend its application; the person in charge is
    required, and the refusal keeps the other typed values."""
    session = open_session(javascript=javascript)
    page = session.login(OTHER_INSTITUTION_USER)
    page.goto(server.url("/institution/application"))
    form = page.locator("#application-form")
    form.get_by_label(label_name("负责人")).fill("")
    form.get_by_label(label_name("办公地址")).fill("北京市西城区新街口外大街1号")

    submit_expecting_error(page, javascript, "#application-form", "保存", "负责人")

    expect(page.locator("#application-form").get_by_label(label_name("办公地址"))).to_have_value(
        "北京市西城区新街口外大街1号"
    )
    assert_clean(session)


@pytest.mark.pages(
    ("/certificates/{code}", "htmx"),
    ("/certificates/{code}", "plain"),
    ("/verify", "htmx"),
    ("/verify", "plain"),
)
@MODE
def test_certificate_is_verified_and_revocation_needs_a_reason(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """Art. 34: anyone checks a code and sees it valid (an unknown code is not
    found); the bureau's revocation without a reason is refused and changes nothing."""
    code = server.query("SELECT code FROM certificate WHERE revoked_at IS NULL ORDER BY id")[0][0]
    public = open_session(javascript=javascript)
    page = public.new_page()
    page.goto(server.url("/verify"))
    mark_document(page, javascript)
    page.get_by_label("核验码").fill(code)
    page.get_by_role("button", name="核验").click()
    expect(page).to_have_url(re.compile(r"/verify\?code="))
    expect(page.locator("#verify-result [role=status]")).to_contain_text(f"核验码 {code} 对应的")
    expect(page.locator("#verify-result [role=status]")).to_contain_text("有效")
    page.get_by_label("核验码").fill("AAAA-BBBB-CCCC-DDDD")
    page.get_by_role("button", name="核验").click()
    expect(page.locator("#verify-result [role=status]")).to_have_text(
        "未找到该核验码对应的证书,请核对后重试。"
    )
    assert_in_place(page, javascript)
    assert_clean(public)

    bureau = open_session(javascript=javascript)
    bpage = bureau.login("bureau")
    bpage.goto(server.url(f"/certificates/{code}"))
    submit_expecting_error(bpage, javascript, "#revoke-form", "撤销", "撤销理由")
    assert server.query("SELECT revoked_at FROM certificate WHERE code = ?", code) == [(None,)]
    assert_clean(bureau)


@pytest.mark.pages(("/recommender/experts/new", "htmx"), ("/recommender/experts/new", "plain"))
@MODE
def test_recommendation_without_name_is_refused(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """Art. 17: the recommendation form refuses a missing name next to the field and
    stores no application."""
    (before,) = server.query("SELECT COUNT(*) FROM expert_application")[0]
    session = open_session(javascript=javascript)
    page = session.login("recommender1")
    page.goto(server.url("/recommender/experts/new"))
    page.get_by_label("现职称").fill("教授级高级工程师")

    submit_expecting_error(page, javascript, "#recommend-form", "提交推荐")

    expect(page.get_by_label("现职称")).to_have_value("教授级高级工程师")
    assert server.query("SELECT COUNT(*) FROM expert_application") == [(before,)]
    assert_clean(session)


@pytest.mark.pages(
    ("/me", "htmx"),
    ("/me", "plain"),
    ("/employer/updates", "htmx"),
    ("/employer/updates", "plain"),
    ("/institution/experts/updates", "htmx"),
    ("/institution/experts/updates", "plain"),
)
@MODE
def test_profile_change_is_verified_in_the_queues(
    open_session: Any, server: Server, javascript: bool
) -> None:
    """R8: the expert asks for a new title; the employer's refusal without a reason
    is shown next to the field; the employer's approval takes the card out of the
    queue with a notice (with htmx in place: the card is swapped out, no reload); the
    institution's approval makes the title current."""
    title = "研究员(一级)" if javascript else "正高级工程师(无脚本)"
    expert = open_session(javascript=javascript)
    page = expert.login("expert1")
    page.goto(server.url("/me"))
    # An empty request is refused in the form (in place with htmx); a good one is
    # answered with the page again (htmx follows the server's redirect).
    submit_expecting_error(page, javascript, "#update-form", "提交变更申请")
    form = page.locator("#update-form")
    form.get_by_label("新职称", exact=True).fill(title)
    form.get_by_role("button", name="提交变更申请").click()
    expect(page).to_have_url(server.url("/me?done=update_requested"))
    expect(page.get_by_text("尚待核对:所在单位、评审机构")).to_be_visible()
    (update_id,) = server.query(
        "SELECT id FROM expert_update WHERE status = 'pending' ORDER BY id DESC"
    )[0]

    employer = open_session(javascript=javascript)
    epage = employer.login("employer1")
    epage.goto(server.url("/employer/updates"))
    card = f"article.update-card:has(#update-{update_id}-heading)"
    expect(epage.locator(card)).to_contain_text(title)
    submit_expecting_error(epage, javascript, f"{card} form", "不予通过", "不予通过的理由")
    assert server.query(
        "SELECT employer_verified_at FROM expert_update WHERE id = ?", update_id
    ) == [(None,)]
    mark_document(epage, javascript)
    epage.locator(card).get_by_role("button", name="核对通过").click()
    expect(epage.locator("#update-queue [role=status]")).to_have_text("核对结果已记录。")
    expect(epage.locator(card)).to_have_count(0)
    assert_in_place(epage, javascript)
    if javascript:
        expect(epage).to_have_url(server.url("/employer/updates"))
    else:
        expect(epage).to_have_url(server.url("/employer/updates?done=verified"))

    staff = open_session(javascript=javascript)
    spage = staff.login(expert1_staff(server))
    spage.goto(server.url("/institution/experts/updates"))
    mark_document(spage, javascript)
    spage.locator(card).get_by_role("button", name="核对通过").click()
    expect(spage.locator("#update-queue [role=status]")).to_have_text("核对结果已记录。")
    expect(spage.locator(card)).to_have_count(0)
    assert_in_place(spage, javascript)
    assert server.query("SELECT status FROM expert_update WHERE id = ?", update_id) == [
        ("applied",)
    ]

    page.goto(server.url("/me"))
    expect(page.locator(".facts").get_by_text(title)).to_be_visible()
    for s in (expert, employer, staff):
        assert_clean(s)


def sign_latest_agreement(server: Server, committee_id: int) -> None:
    """R19 setup: the committee's roster has signed the newest agreement (another
    journey may have published one that nobody signed yet); seeded directly, as the
    signing itself is used in test_expert_journeys."""
    now = dt.datetime.now(dt.UTC).isoformat(sep=" ")
    with sqlite3.connect(server.database) as conn:
        conn.execute(
            "INSERT OR IGNORE INTO agreement_signature "
            "(created_at, updated_at, signed_at, content_hash, agreement_id, expert_id) "
            "SELECT ?, ?, ?, t.content_hash, t.id, s.expert_id FROM committee_seat s, "
            "(SELECT id, content_hash FROM agreement_text "
            "ORDER BY created_at DESC, id DESC LIMIT 1) t "
            "WHERE s.committee_id = ?",
            (now, now, now, committee_id),
        )


@pytest.mark.pages(("/me/invitations", "plain"), ("/me/sessions/{session_id:int}/vote", "plain"))
def test_drawn_expert_accepts_and_votes_without_javascript(
    open_session: Any, server: Server
) -> None:
    """R10, R14 with plain forms only: a session is drawn, the drawn expert accepts
    the invitation, a ballot without a choice is refused, then the vote is cast."""
    from tests.browser.test_evaluation_journeys import (
        DAY,
        add_applicant,
        create_session,
        createuser,
        own_committee,
        unrelated_unit,
    )
    from tests.factories import make_id_number

    committee_id, _ = own_committee(server)
    sign_latest_agreement(server, committee_id)
    staff = open_session(javascript=False)
    page = staff.login("inst1")
    session_id = create_session(page, server, committee_id, DAY + dt.timedelta(days=40))
    add_applicant(
        page, "上官无脚本", make_id_number(dt.date(1985, 2, 3), 904), unrelated_unit(server)
    )
    expect(page.get_by_text("申报人已录入")).to_be_visible()
    training = page.locator("#training-form")
    for box in training.locator("input[name=expertIds]").all():
        box.check()
    training.get_by_label("培训日期").fill(beijing_today().isoformat())
    training.get_by_label("培训内容").fill("评审纪律与保密要求")
    training.get_by_role("button", name="记录培训").click()
    expect(page.get_by_text("评前培训已记录")).to_be_visible()

    bureau = open_session(javascript=False)
    bpage = bureau.login("bureau")
    bpage.goto(server.url(f"/sessions/{session_id}"))
    supervisor_id = server.query("SELECT id FROM user WHERE username = 'supervisor1'")[0][0]
    bpage.get_by_label("指派监督委员").select_option(str(supervisor_id))
    bpage.get_by_role("button", name="指派").click()
    expect(bpage.get_by_text("监督委员已指派")).to_be_visible()
    page.goto(server.url(f"/sessions/{session_id}"))
    page.get_by_role("button", name="冻结抽取范围并公布承诺").click()
    expect(page.get_by_text("抽取承诺已公布")).to_be_visible()
    supervisor = open_session(javascript=False)
    spage = supervisor.login("supervisor1")
    spage.goto(server.url(f"/sessions/{session_id}"))
    spage.get_by_label("公开随机数").fill("3-1-4-1-5")
    spage.get_by_role("button", name="抽取专家").click()
    expect(spage.get_by_text("专家已抽取")).to_be_visible()

    expert_id = server.query(
        "SELECT expert_id FROM panel_member WHERE session_id = ? AND is_backup = 0 ORDER BY rank",
        session_id,
    )[0][0]
    createuser(server, f"plain{session_id}", "expert", expert_id)
    expert = open_session(javascript=False)
    epage = expert.login(f"plain{session_id}")
    epage.goto(server.url("/me/invitations"))
    epage.get_by_role("button", name="接受邀请").click()
    expect(epage.get_by_text("已接受邀请")).to_be_visible()

    page.goto(server.url(f"/sessions/{session_id}"))
    attendance = page.locator("#attendance-form")
    for box in attendance.locator("input[name=presentExpertIds]").all():
        box.check()
    attendance.get_by_label("主持人").select_option(index=1)
    attendance.get_by_role("button", name="记录出席并开始评审").click()
    expect(page.get_by_text("出席情况已记录")).to_be_visible()

    epage.goto(server.url(f"/me/sessions/{session_id}/vote"))
    epage.get_by_role("button", name="提交表决").click()
    expect(epage.locator("#ballot .field-error, .form-error").first).to_be_visible()
    assert server.query("SELECT COUNT(*) FROM vote WHERE session_id = ?", session_id) == [(0,)]
    epage.get_by_label("赞成").check()
    epage.get_by_role("button", name="提交表决").click()
    expect(epage.get_by_text("已投:赞成")).to_be_visible()
    assert server.query("SELECT COUNT(*) FROM vote WHERE session_id = ?", session_id) == [(1,)]
    for s in (staff, bureau, supervisor, expert):
        assert_clean(s)
