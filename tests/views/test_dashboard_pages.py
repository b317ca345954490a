"""The role dashboards at "/" and the bureau's audit verification page (issue 9
items 2 and 5): each role sees its sections with its own scope's figures, every
figure links to the list it counts, the counts cost a constant number of SQL
statements, and a long verification runs in the background with progress."""

import asyncio
import contextlib
import datetime as dt
import html
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx

from models import (
    AgreementSignature,
    AgreementText,
    AuditEvent,
    Committee,
    Complaint,
    EvaluationSession,
    ExpertApplication,
    ExpertTerm,
    ExpertUpdate,
    Institution,
    InstitutionApplication,
    SessionApplicant,
    SupervisorAssignment,
    TrainingRecord,
    User,
)
from models.enums import (
    ApplicantResult,
    ApplicationStatus,
    ComplaintChannel,
    ComplaintKind,
    ComplaintStatus,
    EntryRoute,
    ExpertApplicationStatus,
    FilingStatus,
    Level,
    Role,
    SessionStatus,
    TargetType,
    TermStatus,
    UpdateStatus,
)
from resolvers import account
from resolvers.actor import SYSTEM
from resolvers.common import beijing_today
from tests import factories
from views.middleware import SESSION_COOKIE

PASSWORD = "Lantern-orchid-7-Qx!"
ORIGIN = "https://testserver"
TODAY = beijing_today()
NOW = dt.datetime.now(dt.UTC)
F = FilingStatus
_n = iter(range(1, 1_000_000))


# --- helpers -----------------------------------------------------------------------------


async def _user(username: str, role: Role, scope_id: int | None = None) -> User:
    return await account.create_user(
        SYSTEM,
        username=username,
        display_name=username,
        password=PASSWORD,
        role=role,
        scope_id=scope_id,
    )


async def _login(client: httpx.AsyncClient, username: str) -> str:
    response = await client.post(
        "/login", data={"username": username, "password": PASSWORD}, headers={"Origin": ORIGIN}
    )
    assert response.status_code == 303, response.text
    resolved = await account.resolve_login_session(client.cookies.get(SESSION_COOKIE) or "")
    assert resolved is not None
    return resolved[1].csrf_token


def _section(page: str, heading_id: str) -> str:
    """The HTML of the dashboard section labelled by `heading_id` ("" when absent)."""
    m = re.search(
        r'<section class="dash-section" aria-labelledby="' + re.escape(heading_id) + r'">'
        r"(.*?)</section>",
        page,
        re.S,
    )
    return m.group(1) if m else ""


def _figures(section: str) -> dict[str, tuple[int, str | None, bool]]:
    """label → (value, link, alert) of every figure in a section."""
    out: dict[str, tuple[int, str | None, bool]] = {}
    for m in re.finditer(r'<li class="figure( figure-alert)?">(.*?)</li>', section, re.S):
        body = m.group(2)
        value = re.search(r'<span class="figure-value">(\d+)', body)
        label = re.search(r'<span class="figure-label">(.*?)</span>', body)
        href = re.search(r'<a href="([^"]*)">', body)
        assert value and label, body
        out[html.unescape(label.group(1))] = (
            int(value.group(1)),
            html.unescape(href.group(1)) if href else None,
            m.group(1) is not None,
        )
    return out


async def _committee(inst: Institution, status: F = F.FILED, **kw: Any) -> Committee:
    filed = status == F.FILED
    return await Committee.create(
        institution_id=inst.id,
        name=kw.pop("name", f"{inst.name}评委会{next(_n)}"),
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
        status=status,
        filed_at=TODAY if filed else None,
        valid_until=kw.pop("valid_until", TODAY.replace(year=TODAY.year + 3) if filed else None),
    )


async def _complaint(inst: Institution, *, due_on: dt.date, **kw: Any) -> Complaint:
    return await Complaint.create(
        kind=ComplaintKind.COMPLAINT,
        channel=ComplaintChannel.WEB,
        # Against a sitting: a complaint against the staff's own institution is hidden
        # from them (R16: its targets never handle it).
        target_type=TargetType.SESSION,
        target_id=None,
        facts="评审程序不规范",
        tracking_code=f"T{next(_n):09d}",
        query_password_hash="x",
        institution_id=inst.id,
        status=kw.pop("status", ComplaintStatus.ACCEPTED),
        due_on=due_on,
    )


async def _expert_application(
    inst: Institution, status: ExpertApplicationStatus, **kw: Any
) -> ExpertApplication:
    expert = await factories.expert(institution=inst)
    return await ExpertApplication.create(
        expert=expert,
        route=EntryRoute.RECOMMENDATION,
        institution=inst,
        status=status,
        **kw,
    )


async def _session(inst: Institution, committee: Committee, days: int = 10) -> EvaluationSession:
    starts = NOW + dt.timedelta(days=days)
    return await EvaluationSession.create(
        committee=committee,
        institution=inst,
        year=starts.year,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=4),
        place=f"会议室{next(_n)}",
        panel_size=7,
    )


async def _fill(inst: Institution, n: int) -> None:
    """n of everything one dashboard counts or lists, for `inst`."""
    for _ in range(n):
        await InstitutionApplication.create(institution=inst, status=ApplicationStatus.SUBMITTED)
        committee = await _committee(inst, valid_until=TODAY + dt.timedelta(days=30))
        await _committee(inst, F.SUBMITTED)
        await _expert_application(inst, ExpertApplicationStatus.SUBMITTED)
        await _expert_application(inst, ExpertApplicationStatus.REVIEWED)
        await _complaint(inst, due_on=TODAY - dt.timedelta(days=1))
        await _complaint(inst, due_on=TODAY + dt.timedelta(days=5))
        await _session(inst, committee)
        expert = await factories.expert(institution=inst)
        await ExpertTerm.create(
            expert=expert,
            number=1,
            start_on=TODAY - dt.timedelta(days=300),
            end_on=TODAY + dt.timedelta(days=60),
        )


# --- bureau ------------------------------------------------------------------------------


async def test_bureau_dashboard_counts_queues_expiry_and_overdue_with_links(client):
    """R1/R2 filing queues, Art. 17 approvals, 90-day expiry (R1, R10), overdue
    complaints in red (R16), youth share against the floor (R13) as SVG."""
    a, b = await factories.institution(), await factories.institution()
    await _fill(a, 2)
    await _fill(b, 1)
    await _user("bureau1", Role.BUREAU)
    await _login(client, "bureau1")

    response = await client.get("/")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    section = _section(response.text, "dash-bureau")
    assert _figures(section) == {
        "评审机构备案待审核": (3, "/bureau/filings#apps-heading", False),
        "评委会备案待审核": (3, "/bureau/filings#committees-heading", False),
        "专家入库待批准": (3, "/bureau/experts/applications?status=reviewed", False),
        "逾期未办结的投诉举报": (3, "/handling/complaints?overdue=1", True),
        "办理中的投诉举报": (6, "/handling/complaints", False),
        "评审机构备案到期": (0, "/bureau/filings#expiring-heading", False),
        "评委会备案到期": (3, "/bureau/filings#expiring-heading", False),
        "专家聘期到期": (3, "/experts/statistics", False),
    }
    assert section.count('<svg class="chart" role="img"') == 3
    assert "<title>45岁以下专家占比(全库及低于下限的评委会)</title>" in section
    assert 'hx-history="false"' in response.text


async def test_bureau_dashboard_has_no_other_role_sections(client):
    await _user("bureau1", Role.BUREAU)
    await _login(client, "bureau1")

    page = (await client.get("/")).text

    assert _section(page, "dash-bureau") != ""
    for heading in ("dash-supervisor", "dash-employer", "dash-recommender", "dash-applicant"):
        assert _section(page, heading) == ""
    assert 'id="dash-inst-' not in page and 'id="dash-expert-' not in page


# --- institution staff -------------------------------------------------------------------


async def test_institution_dashboard_shows_only_its_own_institution(client):
    """Scope: staff of A see A's committees, sessions, review queue and complaints;
    none of B's numbers or names (B has more of everything, so a leak would show)."""
    a, b = await factories.institution(), await factories.institution()
    await _fill(a, 1)
    await _fill(b, 3)
    b_committee = await Committee.filter(institution_id=b.id).first()
    assert b_committee is not None
    await _user("staff_a", Role.INSTITUTION, a.id)
    await _login(client, "staff_a")

    response = await client.get("/")

    page = response.text
    assert response.headers["cache-control"] == "no-store"
    section = _section(page, f"dash-inst-{a.id}")
    assert _figures(section) == {
        "即将召开的评审会议": (1, "/institution/sessions", False),
        "专家入库申请待审核": (1, "/institution/experts/applications?status=submitted", False),
        "专家信息变更待核验": (0, "/institution/experts/updates", False),
        "待办理的投诉举报": (2, "/handling/complaints", False),
        "已逾期": (1, "/handling/complaints?overdue=1", True),
    }
    committees = await Committee.filter(institution_id=a.id).order_by("name")
    links = re.findall(r'<a href="/institution/committees/(\d+)">', section)
    assert sorted(int(i) for i in links) == sorted(c.id for c in committees)
    assert "90天内到期" in section
    assert b.name not in page and b_committee.name not in page
    assert _section(page, f"dash-inst-{b.id}") == "" and _section(page, "dash-bureau") == ""


async def test_institution_dashboard_lists_complaint_deadlines_overdue_marked(client):
    inst = await factories.institution()
    late = await _complaint(inst, due_on=TODAY - dt.timedelta(days=2))
    soon = await _complaint(inst, due_on=TODAY + dt.timedelta(days=3))
    await _complaint(inst, due_on=TODAY - dt.timedelta(days=9), status=ComplaintStatus.CLOSED)
    await _user("staff", Role.INSTITUTION, inst.id)
    await _login(client, "staff")

    section = _section((await client.get("/")).text, f"dash-inst-{inst.id}")

    items = re.findall(r"<li( class=\"overdue\")?>(T\d+) · 期限 ([\d-]+)", section)
    assert items == [
        (' class="overdue"', late.tracking_code, str(late.due_on)),
        ("", soon.tracking_code, str(soon.due_on)),
    ]


# --- expert, employer, supervisor, recommender, applicant --------------------------------


async def test_expert_dashboard_shows_own_changes_agreement_training_and_term(client):
    """R8 pending changes, R19 agreement (unsigned shown), training, R10 term."""
    mine, other = await factories.expert(), await factories.expert()
    for e in (mine, other, other):
        await ExpertUpdate.create(
            expert=e, changes={"email": "a@b.cn"}, status=UpdateStatus.PENDING
        )
    text = await AgreementText.create(version="2026", content="保密", content_hash="h")
    await AgreementSignature.create(expert=other, agreement=text, signed_at=NOW, content_hash="h")
    await TrainingRecord.create(expert=mine, trained_on=TODAY, topic="政策")
    await TrainingRecord.create(expert=other, trained_on=TODAY, topic="政策")
    await ExpertTerm.create(
        expert=mine,
        number=1,
        start_on=TODAY - dt.timedelta(days=10),
        end_on=TODAY.replace(year=TODAY.year + 3),
    )
    await _user("expert1", Role.EXPERT, mine.id)
    await _login(client, "expert1")

    page = (await client.get("/")).text

    section = _section(page, f"dash-expert-{mine.id}")
    assert _figures(section) == {
        "评审邀请": (0, "/me/invitations", False),
        "待核验的信息变更": (1, "/me", False),
        "本年度培训次数": (1, "/me", False),
    }
    assert "未签署最新版本" in section
    assert f"第1聘期,{TODAY - dt.timedelta(days=10)}" in section
    assert _section(page, f"dash-expert-{other.id}") == "" and other.name not in page


async def test_employer_dashboard_counts_its_units_verification_queue(client):
    unit, other_unit = await factories.unit(), await factories.unit()
    for u, n in ((unit, 2), (other_unit, 3)):
        for _ in range(n):
            e = await factories.expert(unit=u)
            await ExpertUpdate.create(expert=e, changes={"email": "a@b.cn"})
    await _user("employer1", Role.EMPLOYER, unit.id)
    await _login(client, "employer1")

    section = _section((await client.get("/")).text, "dash-employer")

    assert _figures(section) == {"专家信息变更待核验": (2, "/employer/updates", False)}


async def test_supervisor_dashboard_counts_assigned_sessions_only(client):
    inst = await factories.institution()
    committee = await _committee(inst)
    mine = [await _session(inst, committee), await _session(inst, committee, days=20)]
    await _session(inst, committee)  # not assigned
    done = await _session(inst, committee, days=-5)
    await EvaluationSession.filter(id=done.id).update(status=SessionStatus.FINALISED)
    user = await _user("supervisor1", Role.SUPERVISOR)
    for s in [*mine, done]:
        await SupervisorAssignment.create(session=s, user=user)
    await _login(client, "supervisor1")

    section = _section((await client.get("/")).text, "dash-supervisor")

    assert _figures(section) == {
        "待监督的评审会议": (2, "/supervisor/sessions", False),
        "受指派的评审会议(合计)": (3, "/supervisor/sessions", False),
    }
    assert [m for m in re.findall(r"· (会议室\d+)</li>", section)] == [s.place for s in mine]


async def test_recommender_dashboard_counts_own_submissions_by_status(client):
    authority, other = await factories.authority(), await factories.authority()
    inst = await factories.institution()
    await _expert_application(inst, ExpertApplicationStatus.SUBMITTED, authority=authority)
    await _expert_application(inst, ExpertApplicationStatus.APPROVED, authority=authority)
    await _expert_application(inst, ExpertApplicationStatus.APPROVED, authority=other)
    await _user("recommender1", Role.RECOMMENDER, authority.id)
    await _login(client, "recommender1")

    section = _section((await client.get("/")).text, "dash-recommender")

    assert "共 2 件" in section
    assert _figures(section) == {
        "待评审机构审核": (1, "/recommender/experts?status=submitted", False),
        "机构已审核,待市人社局审批": (0, "/recommender/experts?status=reviewed", False),
        "已批准入库": (1, "/recommender/experts?status=approved", False),
        "未通过": (0, "/recommender/experts?status=rejected", False),
        "已退回补充调整": (0, "/recommender/experts?status=needs_changes", False),
    }


async def test_applicant_dashboard_shows_result_only_after_finalisation_and_review_link(client):
    """R14: the result shows once the session is finalised; the review request link."""
    inst = await factories.institution()
    committee = await _committee(inst)
    session = await _session(inst, committee, days=-3)
    await EvaluationSession.filter(id=session.id).update(status=SessionStatus.FINALISED)
    unit = await factories.unit()
    mine = await SessionApplicant.create(
        session=session,
        name="李四",
        id_number_enc="x",
        id_number_hash="h1",
        id_number_masked="1101**********1234",
        unit=unit,
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
        result=ApplicantResult.PASSED,
    )
    await SessionApplicant.create(
        session=session,
        name="王五",
        id_number_enc="x",
        id_number_hash="h2",
        id_number_masked="1101**********5678",
        unit=unit,
        series="经济",
        specialty="金融",
        level=Level.INTERMEDIATE,
        result=ApplicantResult.FAILED,
    )
    await _user("applicant1", Role.APPLICANT, mine.id)
    await _login(client, "applicant1")

    section = _section((await client.get("/")).text, "dash-applicant")

    rows = re.findall(r"<tr>\s*<td>(\d+)</td>\s*<td>(.*?)</td>.*?<td>(.*?)</td>", section, re.S)
    assert len(rows) == 1 and "工程技术 / 电子信息" in section and "经济" not in section
    assert "<td>通过</td>" in section
    assert '<a href="/complaints/new?kind=review_request">' in section


async def test_user_with_two_roles_sees_both_sections(client):
    inst, unit = await factories.institution(), await factories.unit()
    user = await _user("both", Role.INSTITUTION, inst.id)
    await account.grant_role(SYSTEM, user.id, role=Role.EMPLOYER, scope_id=unit.id)
    await _login(client, "both")

    page = (await client.get("/")).text

    assert _section(page, f"dash-inst-{inst.id}") != ""
    assert _section(page, "dash-employer") != ""
    assert '<span class="nav-group-label" id="nav-group-1">公共服务</span>' in page
    assert ">评审机构</span>" in page


# --- anonymous ---------------------------------------------------------------------------


async def test_anonymous_home_shows_public_services_and_no_figures(client):
    await _fill(await factories.institution(), 1)

    response = await client.get("/")

    page = response.text
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("cache-control", "")
    links = re.findall(r'<li><a href="([^"]+)"><strong>', _section(page, "dash-public"))
    assert links == ["/directory", "/plans", "/verify", "/complaints/new", "/complaints/status"]
    assert 'class="figure' not in page and '<a class="button-link" href="/login">' in page


# --- statement count ---------------------------------------------------------------------


class _SQLCounter(logging.Handler):
    """Counts the SQL statements Tortoise sends (its db_client logger, at DEBUG)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        args: Any = record.args
        text = str(record.msg if not args else args[0]).lstrip().upper()
        if text.startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.count += 1


@contextlib.contextmanager
def _count_sql() -> Iterator[_SQLCounter]:
    logger = logging.getLogger("tortoise.db_client")
    counter, level = _SQLCounter(), logger.level
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)


async def _statements(client: httpx.AsyncClient) -> int:
    with _count_sql() as counter:
        response = await client.get("/")
    assert response.status_code == 200
    return counter.count


async def test_dashboards_issue_the_same_statements_for_1_and_6_of_everything(client, asgi_app):
    """Counts are SQL COUNT/GROUP BY and lists are LIMITed: the statement count of the
    bureau's and the institution's dashboard does not grow with the data."""
    inst = await factories.institution()
    await _user("bureau1", Role.BUREAU)
    await _user("staff", Role.INSTITUTION, inst.id)
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as staff:
        await _login(client, "bureau1")
        await _login(staff, "staff")
        await _fill(inst, 1)
        small = (await _statements(client), await _statements(staff))
        await _fill(inst, 5)
        large = (await _statements(client), await _statements(staff))
    assert small == large


# --- audit verification ------------------------------------------------------------------


async def _wait_done(client: httpx.AsyncClient, url: str) -> str:
    for _ in range(200):
        page = (await client.get(url)).text
        if "核验完成" in page:
            return page
        await asyncio.sleep(0.02)
    raise AssertionError("verification did not finish")


async def test_audit_verification_runs_in_background_and_reports_progress(client):
    """R20: the bureau starts a walk of the chain; the page answers at once and polls
    (htmx every 1s; a noscript refresh without JS) until the report shows."""
    await _fill(await factories.institution(), 1)
    await _user("bureau1", Role.BUREAU)
    token = await _login(client, "bureau1")
    total = await AuditEvent.all().count()

    start = await client.post("/bureau/audit/verify", data={"csrf_token": token})

    assert start.status_code == 303
    target = start.headers["location"]
    assert re.fullmatch(r"/bureau/audit\?job=[\w-]+", target)
    first = await client.get(target)
    assert first.headers["cache-control"] == "no-store"
    if "核验完成" not in first.text:
        assert 'hx-trigger="every 1s"' in first.text
        assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in first.text
    page = await _wait_done(client, target)
    assert f"核验完成:共检查 {total} 条事件。" in page
    assert "审计链完整,未发现篡改。" in page
    assert 'hx-trigger="every 1s"' not in page and "noscript" not in page


async def test_audit_verification_with_htmx_swaps_the_progress_block(client):
    await _user("bureau1", Role.BUREAU)
    token = await _login(client, "bureau1")

    start = await client.post(
        "/bureau/audit/verify", headers={"HX-Request": "true", "X-CSRF-Token": token}
    )

    assert start.status_code == 200
    assert start.text.lstrip().startswith('<section id="audit-progress"')
    assert start.headers["hx-push-url"].startswith("/bureau/audit?job=")
    fragment = await _wait_done(client, start.headers["hx-push-url"])
    assert "<!doctype html>" in fragment  # a plain GET gets the whole page


async def test_audit_verification_detects_an_edited_event(client):
    await _fill(await factories.institution(), 1)
    await _user("bureau1", Role.BUREAU)
    token = await _login(client, "bureau1")
    event = await AuditEvent.all().order_by("seq").first()
    assert event is not None
    await AuditEvent.filter(id=event.id).update(action="tampered")

    start = await client.post("/bureau/audit/verify", data={"csrf_token": token})

    page = await _wait_done(client, start.headers["location"])
    assert f"审计链在第 {event.seq} 号事件处断裂" in page


async def test_audit_pages_denied_to_other_roles_and_anonymous(client, asgi_app):
    inst = await factories.institution()
    await _user("staff", Role.INSTITUTION, inst.id)
    await _user("bureau1", Role.BUREAU)

    anonymous = await client.get("/bureau/audit")
    assert (anonymous.status_code, anonymous.headers["location"]) == (
        303,
        "/login?next=%2Fbureau%2Faudit",
    )
    token = await _login(client, "staff")
    assert (await client.get("/bureau/audit")).status_code == 403
    refused = await client.post("/bureau/audit/verify", data={"csrf_token": token})
    assert refused.status_code == 403
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as bureau:
        await _login(bureau, "bureau1")
        assert (await bureau.get("/bureau/audit?job=nope")).status_code == 404
        page = await bureau.get("/bureau/audit")
    assert page.status_code == 200 and "尚未开始核验。" in page.text


async def test_expert_term_statuses_other_than_active_are_not_expiring(client):
    """R10: a renewed term (a successor exists) is not counted as expiring."""
    inst = await factories.institution()
    e = await factories.expert(institution=inst)
    await ExpertTerm.create(
        expert=e,
        number=1,
        start_on=TODAY - dt.timedelta(days=300),
        end_on=TODAY + dt.timedelta(days=20),
        status=TermStatus.RENEWED,
    )
    await _user("bureau1", Role.BUREAU)
    await _login(client, "bureau1")

    section = _section((await client.get("/")).text, "dash-bureau")

    assert _figures(section)["专家聘期到期"][0] == 0


async def test_chain_walk_reports_progress_after_each_batch():
    """The progress the audit page polls: `on_progress` gets the running count."""
    from resolvers import audit

    await _fill(await factories.institution(), 1)
    total = await AuditEvent.all().count()
    seen: list[int] = []

    async def on_progress(checked: int) -> None:
        seen.append(checked)

    report = await audit.verify_chain(batch=2, on_progress=on_progress)

    assert report.ok and report.count == total
    assert seen == list(range(2, total + 1, 2)) + ([total] if total % 2 else [])


async def test_navigation_is_grouped_per_role_and_shows_only_the_roles_pages(client):
    unit = await factories.unit()
    await _user("employer1", Role.EMPLOYER, unit.id)
    await _login(client, "employer1")

    page = (await client.get("/")).text

    groups = re.findall(r'<span class="nav-group-label" id="nav-group-\d+">(.*?)</span>', page)
    assert groups == ["公共服务", "所在单位", "专家库"]  # 专家库: its unit's experts
    assert "/bureau/" not in page.split("</nav>", 1)[0]
