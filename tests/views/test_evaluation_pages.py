"""The evaluation-session pages over real HTTP (issue 7 item 10): the institution's
workspace (R2, R10, R11, R14, R15), the supervisor's entropy step (R10), the expert's
own invitations and ballot (R11, R14), the bureau's supervisors and certificates (R18),
the fairness statistics, and the sealed panel (R19) against applicants and the public.
"""

import dataclasses
import datetime as dt
import hashlib
import html
import itertools
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from models import (
    AgreementSignature,
    AgreementText,
    AuditEvent,
    Certificate,
    Committee,
    CommitteeSeat,
    ConflictDeclaration,
    Draw,
    EvaluationSession,
    Expert,
    ExpertTerm,
    Institution,
    PanelMember,
    Recording,
    SessionApplicant,
    SupervisorAssignment,
    TrainingRecord,
    Unit,
    User,
    Vote,
)
from models.enums import (
    ApplicantResult,
    DrawStatus,
    FilingStatus,
    Level,
    PanelStatus,
    Role,
    Seat,
    SessionStatus,
    TermStatus,
)
from resolvers import account, drawcore
from resolvers import evaluation as svc
from resolvers.actor import SYSTEM
from resolvers.institution import add_years
from tests import factories
from views.middleware import SESSION_COOKIE

PASSWORD = "Lantern-orchid-7-Qx!"
ORIGIN = "https://testserver"
TODAY = dt.datetime.now(svc.BEIJING).date()
SESSION_DAY = TODAY + dt.timedelta(days=10)
HX = {"HX-Request": "true"}
_n = itertools.count(1)


# --- helpers -----------------------------------------------------------------------------


@asynccontextmanager
async def _browser(asgi_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as c:
        yield c


@dataclasses.dataclass
class Login:
    client: httpx.AsyncClient
    csrf: str
    user_id: int

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        return await self.client.get(url, **kw)

    async def post(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        return await self.client.post(
            url, data={"csrf_token": self.csrf, **(data or {})}, headers=kw.pop("headers", {})
        )


async def _login(client: httpx.AsyncClient, role: Role, scope_id: int | None = None) -> Login:
    username = f"u{next(_n)}-{role.value}"
    user = await account.create_user(
        SYSTEM,
        username=username,
        display_name=f"{role.value}用户{next(_n)}",
        password=PASSWORD,
        role=role,
        scope_id=scope_id,
    )
    response = await client.post(
        "/login", data={"username": username, "password": PASSWORD}, headers={"Origin": ORIGIN}
    )
    assert response.status_code == 303, response.text
    resolved = await account.resolve_login_session(client.cookies.get(SESSION_COOKIE) or "")
    assert resolved is not None
    return Login(client, resolved[1].csrf_token, user.id)


def _field_error(page: str, element_id: str) -> tuple[str, str] | None:
    m = re.search(
        r'<p class="field-error" id="'
        + re.escape(element_id)
        + r'-error" data-code="([A-Z_]+)">(.*?)</p>',
        page,
    )
    return (m.group(1), html.unescape(m.group(2))) if m else None


def _general_codes(page: str) -> list[str]:
    block = re.findall(r'<div class="form-error" role="alert">(.*?)</div>', page, re.S)
    return [c for b in block for c in re.findall(r'data-code="([A-Z_]+)"', b)]


async def _agreement() -> AgreementText:
    content = f"保密协议第{next(_n)}版"
    return await AgreementText.create(
        version=f"v{next(_n)}",
        content=content,
        content_hash=hashlib.sha256(content.encode()).hexdigest(),
    )


async def _prepare(expert: Expert, agreement: AgreementText) -> None:
    """What R10/R19 need before sitting: a current term, the agreement, training."""
    await ExpertTerm.create(
        expert=expert,
        number=1,
        start_on=TODAY - dt.timedelta(days=365),
        end_on=TODAY + dt.timedelta(days=700),
        status=TermStatus.ACTIVE,
    )
    await AgreementSignature.create(
        expert=expert,
        agreement=agreement,
        signed_at=dt.datetime.now(dt.UTC),
        content_hash=agreement.content_hash,
    )
    await TrainingRecord.create(
        expert=expert, year=SESSION_DAY.year, trained_on=TODAY, topic="年度评前培训"
    )


@dataclasses.dataclass
class World:
    inst: Institution
    committee: Committee
    experts: list[Expert]
    applicant_unit: Unit


async def _world(roster: int = 3) -> World:
    """A filed institution and committee whose whole roster is eligible (so a panel of
    `roster` seats everybody: the test knows who is drawn)."""
    inst = await factories.institution()
    committee = await Committee.create(
        institution=inst,
        name=f"电子信息正高级评委会{next(_n)}",
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
        status=FilingStatus.FILED,
        filed_at=TODAY,
        valid_until=add_years(TODAY, 3),
    )
    agreement = await _agreement()
    experts = []
    for i in range(roster):
        expert = await factories.expert(institution=inst, name=f"抽中专家{next(_n)}号")
        seat = Seat.CHAIR if i == 0 else Seat.VICE_CHAIR if i == 1 else Seat.MEMBER
        await CommitteeSeat.create(committee=committee, expert=expert, seat=seat)
        await _prepare(expert, agreement)
        experts.append(expert)
    # A fourth roster member without training: excluded from the pool with a reason.
    untrained = await factories.expert(institution=inst, name="未培训专家")
    await CommitteeSeat.create(committee=committee, expert=untrained, seat=Seat.MEMBER)
    return World(inst, committee, experts, await factories.unit())


def _applicant_form(w: World, **over: str) -> dict[str, str]:
    n = next(_n)
    return {
        "name": f"申报人{n}",
        "idNumber": factories.make_id_number(dt.date(1985, 3, 1), n),
        "creditCode": w.applicant_unit.credit_code,
        "specialty": "电子信息",
        **over,
    }


async def _state() -> tuple[Any, ...]:
    """Everything the evaluation pages can change, to assert that nothing did."""
    return (
        await EvaluationSession.all().order_by("id").values_list("status", "version"),
        await SessionApplicant.all().count(),
        await ConflictDeclaration.all().count(),
        await SupervisorAssignment.all().count(),
        await Draw.all().order_by("id").values_list("status", flat=True),
        await PanelMember.all().order_by("id").values_list("status", "present"),
        await Vote.all().count(),
        await Recording.all().count(),
        await Certificate.all().order_by("id").values_list("revoked_at", flat=True),
        await AuditEvent.all().count(),
    )


async def _session(w: World, staff: Login) -> int:
    response = await staff.post(
        "/institution/sessions",
        {
            "committeeId": str(w.committee.id),
            "startsAt": f"{SESSION_DAY.isoformat()}T09:00",
            "endsAt": f"{SESSION_DAY.isoformat()}T17:00",
            "place": "评审会议室",
            "panelSize": str(len(w.experts)),
            "backupCount": "0",
        },
    )
    assert response.status_code == 303, response.text
    return int(response.headers["location"].split("/")[2].split("?")[0])


@dataclasses.dataclass
class Cast:
    w: World
    staff: Login
    bureau: Login
    supervisor: Login
    session_id: int
    applicant_id: int


async def _drawn(asgi_app: Any, stack: list[Any]) -> Cast:
    """A session with one applicant, a supervisor and an executed draw, all by pages."""
    w = await _world()
    clients = []
    for _ in range(3):
        cm = _browser(asgi_app)
        clients.append(await cm.__aenter__())
        stack.append(cm)
    staff = await _login(clients[0], Role.INSTITUTION, w.inst.id)
    bureau = await _login(clients[1], Role.BUREAU)
    supervisor = await _login(clients[2], Role.SUPERVISOR)
    session_id = await _session(w, staff)
    r = await staff.post(f"/sessions/{session_id}/applicants", _applicant_form(w, name="欧阳申报"))
    assert r.status_code == 303, r.text
    r = await bureau.post(f"/sessions/{session_id}/supervisors", {"userId": supervisor.user_id})
    assert r.status_code == 303, r.text
    r = await staff.post(f"/sessions/{session_id}/draw/commit")
    assert r.status_code == 303, r.text
    r = await supervisor.post(f"/sessions/{session_id}/draw/execute", {"entropy": "3-1-4-1-5"})
    assert r.status_code == 303, r.text
    applicant = await SessionApplicant.get(session_id=session_id)
    return Cast(w, staff, bureau, supervisor, session_id, applicant.id)


@pytest.fixture
async def stack() -> AsyncIterator[list[Any]]:
    opened: list[Any] = []
    yield opened
    for cm in reversed(opened):
        await cm.__aexit__(None, None, None)


# --- the whole workflow ----------------------------------------------------------------


async def test_session_runs_from_applicants_to_certificates_through_pages(
    asgi_app: Any, stack: list[Any]
) -> None:
    """R10 commit–reveal on the page, R14 votes (self-service and paper ballots), R15
    finalisation, R18 certificates with a QR code, revocation."""
    c = await _drawn(asgi_app, stack)
    page = (await c.staff.get(f"/sessions/{c.session_id}")).text
    draw = await Draw.get(session_id=c.session_id)
    assert draw.pool_hash in page and draw.secret_hash in page
    assert draw.seed in page and draw.secret_revealed in page
    assert "3-1-4-1-5" in page
    assert "未参加评前培训" in page and "未培训专家" in page  # the exclusion, with its reason
    for e in c.w.experts:
        assert e.name in page

    bundle = await c.staff.get(f"/sessions/{c.session_id}/draw.json")
    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("application/json")
    assert drawcore.verify_bundle(json.loads(bundle.text))[0] is True

    # An expert accepts the own invitation and, once sitting, votes in self-service.
    async with _browser(asgi_app) as ec:
        expert = await _login(ec, Role.EXPERT, c.w.experts[0].id)
        invitations = await expert.get("/me/invitations")
        assert invitations.status_code == 200
        assert "评审会议#" + str(c.session_id) in invitations.text
        assert c.w.experts[1].name not in invitations.text  # R19: only the own seat
        member = await PanelMember.get(session_id=c.session_id, expert_id=c.w.experts[0].id)
        r = await expert.post(f"/me/invitations/{member.id}/accept")
        assert r.status_code == 303
        assert (await PanelMember.get(id=member.id)).status == PanelStatus.ACCEPTED

        ids = [str(e.id) for e in c.w.experts]
        r = await c.staff.client.post(
            f"/sessions/{c.session_id}/attendance",
            data={
                "csrf_token": c.staff.csrf,
                "presentExpertIds": ids,
                "presidingExpertId": ids[0],
            },
        )
        assert r.status_code == 303, r.text
        r = await expert.post(
            f"/me/sessions/{c.session_id}/vote", {"applicantId": c.applicant_id, "choice": "for"}
        )
        assert r.status_code == 303, r.text
        ballot = await expert.get(f"/me/sessions/{c.session_id}/vote")
        assert "已投:赞成" in ballot.text

    # Staff enter the other two as paper ballots (flagged), attach a recording.
    r = await c.staff.post(
        f"/sessions/{c.session_id}/ballots",
        {
            "applicantId": c.applicant_id,
            f"votes.{c.w.experts[1].id}": "for",
            f"votes.{c.w.experts[2].id}": "against",
        },
    )
    assert r.status_code == 303, r.text
    assert await Vote.filter(session_id=c.session_id, paper_ballot=True).count() == 2
    r = await c.staff.post(
        f"/sessions/{c.session_id}/recordings",
        {
            "kind": "video",
            "uri": "recordings/全程录像.mp4",
            "sizeBytes": "123456",
            "sha256": "a" * 64,
        },
    )
    assert r.status_code == 303, r.text
    r = await c.staff.post(f"/sessions/{c.session_id}/finalise")
    assert r.status_code == 303, r.text
    applicant = await SessionApplicant.get(id=c.applicant_id)
    assert (applicant.result, applicant.votes_for, applicant.votes_against) == (
        ApplicantResult.PASSED,
        2,
        1,
    )

    # The bureau records the passed applicant: a certificate and a result notice.
    r = await c.bureau.post(f"/sessions/{c.session_id}/passed")
    assert r.status_code == 303, r.text
    certs = await Certificate.filter(applicant_id=c.applicant_id).order_by("kind")
    assert len(certs) == 2
    printable = await c.bureau.get(f"/certificates/{certs[0].code}")
    assert printable.status_code == 200
    assert "<svg" in printable.text and "欧阳申报" in printable.text
    assert "签名验证通过" in printable.text
    r = await c.bureau.post(f"/certificates/{certs[0].code}/revoke", {"reason": "材料造假"})
    assert r.status_code == 303
    verify = await c.bureau.get("/verify", params={"code": certs[0].code})
    assert "已被撤销" in verify.text


async def test_finalise_refused_shows_every_missing_precondition(
    asgi_app: Any, stack: list[Any]
) -> None:
    """R14/R15: the checklist names each missing precondition; finalising is refused
    with the resolver's code and nothing changes."""
    c = await _drawn(asgi_app, stack)
    page = (await c.staff.get(f"/sessions/{c.session_id}")).text
    for code in ("NO_QUORUM", "NO_PRESIDING", "NO_RECORDING", "VOTES_MISSING"):
        assert re.search(rf'check-missing" data-code="{code}"', page), code
    assert re.search(r'check-ok" data-code="NO_SUPERVISOR"', page)
    before = await _state()
    r = await c.staff.post(f"/sessions/{c.session_id}/finalise")
    assert r.status_code == 422
    assert _general_codes(r.text) == ["NO_QUORUM"]
    assert "出席专家不足法定人数" in r.text
    assert await _state() == before


async def test_create_session_bad_input_keeps_values_and_shows_errors(
    asgi_app: Any, stack: list[Any]
) -> None:
    w = await _world()
    async with _browser(asgi_app) as bc:
        staff = await _login(bc, Role.INSTITUTION, w.inst.id)
        before = await _state()
        r = await staff.post(
            "/institution/sessions",
            {
                "committeeId": str(w.committee.id),
                "startsAt": f"{SESSION_DAY.isoformat()}T09:00",
                "endsAt": f"{SESSION_DAY.isoformat()}T17:00",
                "place": "会议室甲",
                "panelSize": "4",
            },
        )
        assert r.status_code == 422
        assert _field_error(r.text, "session-panelSize") == (
            "INVALID",
            "评审组人数应为不少于3的单数",
        )
        assert 'value="会议室甲"' in r.text
        assert await _state() == before


async def test_add_applicant_error_next_to_field_htmx_fragment(
    asgi_app: Any, stack: list[Any]
) -> None:
    """A bad ID number comes back next to its input in the workspace fragment (422)."""
    w = await _world()
    async with _browser(asgi_app) as bc:
        staff = await _login(bc, Role.INSTITUTION, w.inst.id)
        session_id = await _session(w, staff)
        before = await _state()
        r = await staff.post(
            f"/sessions/{session_id}/applicants",
            _applicant_form(w, idNumber="110101198513320000"),
            headers={**HX, "X-CSRF-Token": staff.csrf},
        )
        assert r.status_code == 422
        assert "<html" not in r.text and 'id="workspace"' in r.text
        assert _field_error(r.text, "applicant-idNumber") is not None
        assert await _state() == before
        r = await staff.post(f"/sessions/{session_id}/applicants", _applicant_form(w), headers=HX)
        assert r.status_code == 204 and "HX-Redirect" in r.headers


async def test_redraw_is_the_assigned_supervisors_act_and_keeps_old_draw(
    asgi_app: Any, stack: list[Any]
) -> None:
    """R10/Art. 30: the redraw form is among the assigned supervisor's controls; a
    reason is required (REQUIRED next to the field, value kept, nothing changed); the
    abandoned draw stays on the page with the reason and the confirming supervisor."""
    c = await _drawn(asgi_app, stack)
    staff_page = (await c.staff.get(f"/sessions/{c.session_id}")).text
    assert 'id="redraw-form"' not in staff_page
    page = (await c.supervisor.get(f"/sessions/{c.session_id}")).text
    assert 'id="redraw-form"' in page and 'name="supervisorUserId"' not in page
    before = await _state()
    r = await c.supervisor.post(f"/sessions/{c.session_id}/draw/redraw", {"reason": ""})
    assert r.status_code == 422
    assert _field_error(r.text, "redraw-reason") == ("REQUIRED", "此项为必填项")
    r = await c.supervisor.post(
        f"/sessions/{c.session_id}/draw/redraw", {"reason": "x" * 5000}, headers=HX
    )
    assert r.status_code == 422 and "<html" not in r.text
    assert (_field_error(r.text, "redraw-reason") or ("",))[0] == "TOO_LONG"
    assert "x" * 5000 in r.text  # the value is kept
    assert await _state() == before

    r = await c.supervisor.post(f"/sessions/{c.session_id}/draw/redraw", {"reason": "设备故障"})
    assert r.status_code == 303
    old, new = await Draw.filter(session_id=c.session_id).order_by("id")
    assert (old.status, old.abandon_reason, old.confirmed_by_id, new.status) == (  # type: ignore[attr-defined]
        "abandoned",
        "设备故障",
        c.supervisor.user_id,
        "committed",
    )
    event = await AuditEvent.get(action="draw.abandon", target_id=str(old.id))
    assert (event.actor_user_id, event.after["confirmed_by"]) == (
        c.supervisor.user_id,
        c.supervisor.user_id,
    )
    page = (await c.staff.get(f"/sessions/{c.session_id}")).text
    assert "已放弃(重新抽取)" in page and "设备故障" in page
    supervisor = await User.get(id=c.supervisor.user_id)
    assert re.search(r"确认的监督委员</dt><dd>" + re.escape(supervisor.display_name), page)
    page = (await c.supervisor.get(f"/sessions/{c.session_id}")).text
    assert 'id="execute-form"' in page  # the supervisor's entropy step again


async def test_redraw_refused_to_staff_bureau_and_unassigned_supervisor(
    asgi_app: Any, stack: list[Any]
) -> None:
    """R10/Art. 30: institution staff and the unassigned bureau see the session but may
    not redraw (403); an unassigned supervisor does not see it (404); anonymous is
    refused; no draw, session or audit event changes."""
    c = await _drawn(asgi_app, stack)
    cm = _browser(asgi_app)
    stack.append(cm)
    stranger = await _login(await cm.__aenter__(), Role.SUPERVISOR)
    before = await _state()
    url = f"/sessions/{c.session_id}/draw/redraw"
    assert (await c.staff.post(url, {"reason": "设备故障"})).status_code == 403
    assert (await c.bureau.post(url, {"reason": "设备故障"})).status_code == 403
    assert 'id="redraw-form"' not in (await c.bureau.get(f"/sessions/{c.session_id}")).text
    assert (await stranger.post(url, {"reason": "设备故障"})).status_code == 404
    async with _browser(asgi_app) as anon:
        r = await anon.post(url, data={"reason": "设备故障"})
        assert (r.status_code, r.headers["location"][:6]) == (303, "/login")
    assert await _state() == before
    assert await Draw.filter(session_id=c.session_id).count() == 1


async def test_expert_declares_conflict_and_declines(asgi_app: Any, stack: list[Any]) -> None:
    """R11 in self-service; a decline needs a reason (REQUIRED, nothing changed)."""
    c = await _drawn(asgi_app, stack)
    member = await PanelMember.get(session_id=c.session_id, expert_id=c.w.experts[2].id)
    async with _browser(asgi_app) as ec:
        expert = await _login(ec, Role.EXPERT, c.w.experts[2].id)
        r = await expert.post(
            f"/me/invitations/{member.id}/conflict",
            {"applicantId": c.applicant_id, "kind": "interest", "detail": "曾合作项目"},
        )
        assert r.status_code == 303, r.text
        row = await ConflictDeclaration.get(expert_id=c.w.experts[2].id)
        assert (row.applicant_id, row.declared_by) == (c.applicant_id, "expert")  # type: ignore[attr-defined]
        before = await _state()
        r = await expert.post(f"/me/invitations/{member.id}/decline", {"reason": ""})
        assert r.status_code == 422
        assert 'data-code="REQUIRED"' in r.text
        assert await _state() == before


# --- permissions -------------------------------------------------------------------------

PAGES = [
    "/institution/sessions",
    "/institution/sessions/new",
    "/supervisor/sessions",
    "/bureau/sessions",
    "/sessions/{s}",
    "/sessions/{s}/draw.json",
    "/me/invitations",
    "/me/sessions/{s}/vote",
    "/fairness/committees/{c}",
]


async def test_anonymous_is_sent_to_login_on_every_page(asgi_app: Any, stack: list[Any]) -> None:
    c = await _drawn(asgi_app, stack)
    async with _browser(asgi_app) as anon:
        for url in PAGES:
            path = url.format(s=c.session_id, c=c.w.committee.id)
            r = await anon.get(path)
            if path.endswith("draw.json"):
                # R19: public only once the session is finalised; until then absent.
                assert r.status_code == 404
                continue
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/login"), path


# role → expected status per page (other institution handled separately).
EXPECTED: dict[Role, list[int]] = {
    #                 inst  new  sup  bur  sess json  inv  vote fair
    Role.INSTITUTION: [200, 200, 403, 403, 200, 200, 403, 404, 200],
    Role.SUPERVISOR: [403, 403, 200, 403, 200, 200, 403, 404, 403],
    Role.BUREAU: [403, 403, 403, 200, 200, 200, 403, 404, 200],
    Role.EXPERT: [403, 403, 403, 403, 404, 404, 200, 200, 403],
    Role.APPLICANT: [403, 403, 403, 403, 404, 404, 403, 404, 403],
    Role.EMPLOYER: [403, 403, 403, 403, 404, 404, 403, 404, 403],
}


@pytest.mark.parametrize("role", list(EXPECTED))
async def test_each_page_answers_each_role(asgi_app: Any, stack: list[Any], role: Role) -> None:
    c = await _drawn(asgi_app, stack)
    scope = {
        Role.INSTITUTION: c.w.inst.id,
        Role.EXPERT: c.w.experts[0].id,
        Role.APPLICANT: c.applicant_id,
        Role.EMPLOYER: c.w.applicant_unit.id,
    }.get(role)
    if role == Role.SUPERVISOR:
        who = c.supervisor
    elif role == Role.BUREAU:
        who = c.bureau
    elif role == Role.INSTITUTION:
        who = c.staff
    else:
        cm = _browser(asgi_app)
        stack.append(cm)
        who = await _login(await cm.__aenter__(), role, scope)
    got = []
    for url in PAGES:
        r = await who.get(url.format(s=c.session_id, c=c.w.committee.id))
        got.append(r.status_code)
    assert got == EXPECTED[role]


async def test_other_institution_gets_404_and_changes_nothing(
    asgi_app: Any, stack: list[Any]
) -> None:
    c = await _drawn(asgi_app, stack)
    other = await factories.institution()
    async with _browser(asgi_app) as oc:
        intruder = await _login(oc, Role.INSTITUTION, other.id)
        assert (await intruder.get(f"/sessions/{c.session_id}")).status_code == 404
        assert (await intruder.get(f"/sessions/{c.session_id}/draw.json")).status_code == 404
        listing = await intruder.get("/institution/sessions")
        assert f"评审会议#{c.session_id}" not in listing.text
        before = await _state()
        posts: dict[str, dict[str, Any]] = {
            "applicants": _applicant_form(c.w),
            "conflicts": {"expertNumber": c.w.experts[0].number, "kind": "other"},
            "draw/commit": {},
            "draw/redraw": {"reason": "x"},
            "attendance": {"presidingExpertId": c.w.experts[0].id},
            "recordings": {"kind": "video", "uri": "x", "sizeBytes": "1", "sha256": "a" * 64},
            "finalise": {},
        }
        for action, data in posts.items():
            r = await intruder.post(f"/sessions/{c.session_id}/{action}", data)
            assert r.status_code == 404, action
        assert await _state() == before


async def test_wrong_role_posts_are_refused_and_change_nothing(
    asgi_app: Any, stack: list[Any]
) -> None:
    """Staff cannot enter the entropy (the supervisor's step) or issue certificates;
    the supervisor cannot commit or finalise."""
    c = await _drawn(asgi_app, stack)
    before = await _state()
    assert (await c.supervisor.post(f"/sessions/{c.session_id}/finalise")).status_code == 403
    assert (await c.supervisor.post(f"/sessions/{c.session_id}/draw/commit")).status_code == 403
    assert (await c.staff.post(f"/sessions/{c.session_id}/passed")).status_code == 403
    r = await c.staff.post(f"/sessions/{c.session_id}/supervisors", {"userId": 1})
    assert r.status_code == 403
    assert await _state() == before


async def test_missing_csrf_is_refused_and_changes_nothing(asgi_app: Any, stack: list[Any]) -> None:
    c = await _drawn(asgi_app, stack)
    before = await _state()
    r = await c.staff.client.post(
        f"/sessions/{c.session_id}/recordings",
        data={"kind": "video", "uri": "x", "sizeBytes": "1", "sha256": "a" * 64},
    )
    assert r.status_code == 403
    r = await c.supervisor.client.post(f"/sessions/{c.session_id}/draw/redraw", data={})
    assert r.status_code == 403
    assert await _state() == before


async def test_session_list_filters_htmx_fragment_and_plain_page(
    asgi_app: Any, stack: list[Any]
) -> None:
    c = await _drawn(asgi_app, stack)
    full = await c.staff.get("/institution/sessions", params={"status": "drawn"})
    assert full.status_code == 200 and "<html" in full.text
    assert f"评审会议#{c.session_id}" in full.text
    assert full.headers["cache-control"] == "no-store"
    fragment = await c.staff.get("/institution/sessions", params={"status": "planned"}, headers=HX)
    assert "<html" not in fragment.text and 'id="session-results"' in fragment.text
    assert f"评审会议#{c.session_id}" not in fragment.text
    supervised = await c.supervisor.get("/supervisor/sessions")
    assert f"评审会议#{c.session_id}" in supervised.text


async def test_fairness_page_lists_roster_with_expectation(asgi_app: Any, stack: list[Any]) -> None:
    """Item 9: with a panel the size of the eligible pool each eligible expert is
    expected (and drawn) once; the untrained roster member was never eligible."""
    c = await _drawn(asgi_app, stack)
    page = await c.staff.get(f"/fairness/committees/{c.w.committee.id}")
    assert page.status_code == 200
    cells = r"<tr>\s*<td>(E\d+)</td>\s*<td>.*?</td>" + r"\s*<td>([\d.]+)</td>" * 3
    rows = re.findall(cells, page.text, re.S)
    untrained = await Expert.get(name="未培训专家")
    expected = [(e.number, "1", "1", "1.00") for e in c.w.experts]
    assert sorted(rows) == sorted([*expected, (untrained.number, "0", "0", "0.00")])


# --- R19: the sealed panel ---------------------------------------------------------------


async def test_sealed_panel_never_reaches_applicant_or_public(
    asgi_app: Any, stack: list[Any]
) -> None:
    """R19: an applicant of the session and the anonymous public fetch every page this
    module adds (and the verification page); no drawn expert's name, number or id
    appears anywhere."""
    c = await _drawn(asgi_app, stack)
    panel = await PanelMember.filter(session_id=c.session_id, draw__status=DrawStatus.EXECUTED)
    assert len(panel) == 3  # data that could leak exists
    secrets = [s for e in c.w.experts for s in (e.name, e.number)]
    ids = [str(e.id) for e in c.w.experts]
    member_ids = [str(m.id) for m in panel]
    urls = [u.format(s=c.session_id, c=c.w.committee.id) for u in PAGES] + [
        f"/me/invitations/{m}/accept" for m in member_ids
    ]
    urls += ["/verify", "/", "/directory"]
    async with _browser(asgi_app) as ac, _browser(asgi_app) as anon:
        applicant = await _login(ac, Role.APPLICANT, c.applicant_id)
        for who in (applicant.client, anon):
            for url in urls:
                for headers in ({}, HX):
                    r = await who.get(url, headers=headers, follow_redirects=True)
                    for secret in secrets:
                        assert secret not in r.text, (url, secret)
                    for expert_id in ids:
                        assert f"expert-{expert_id}" not in r.text
                        assert f'value="{expert_id}"' not in r.text
    assert (await EvaluationSession.get(id=c.session_id)).status == SessionStatus.DRAWN


# --- issue 9: staff decline for an expert (R10), individual votes for the bureau (R14) ---


async def _drawn_with_backup(asgi_app: Any, stack: list[Any]) -> Cast:
    """Five eligible roster experts, a panel of three and one backup, drawn by pages:
    a decline has someone to promote."""
    w = await _world(roster=5)
    clients = []
    for _ in range(3):
        cm = _browser(asgi_app)
        clients.append(await cm.__aenter__())
        stack.append(cm)
    staff = await _login(clients[0], Role.INSTITUTION, w.inst.id)
    bureau = await _login(clients[1], Role.BUREAU)
    supervisor = await _login(clients[2], Role.SUPERVISOR)
    r = await staff.post(
        "/institution/sessions",
        {
            "committeeId": str(w.committee.id),
            "startsAt": f"{SESSION_DAY.isoformat()}T09:00",
            "endsAt": f"{SESSION_DAY.isoformat()}T17:00",
            "place": "评审会议室",
            "panelSize": "3",
            "backupCount": "1",
        },
    )
    assert r.status_code == 303, r.text
    session_id = int(r.headers["location"].split("/")[2].split("?")[0])
    for path, who, data in (
        ("applicants", staff, _applicant_form(w, name="司马申报")),
        ("supervisors", bureau, {"userId": supervisor.user_id}),
        ("draw/commit", staff, {}),
        ("draw/execute", supervisor, {"entropy": "2-7-1-8"}),
    ):
        r = await who.post(f"/sessions/{session_id}/{path}", data)
        assert r.status_code == 303, (path, r.text)
    applicant = await SessionApplicant.get(session_id=session_id)
    return Cast(w, staff, bureau, supervisor, session_id, applicant.id)


async def _seated_members(session_id: int) -> list[PanelMember]:
    return (
        await PanelMember.filter(session_id=session_id, is_backup=False)
        .exclude(status=PanelStatus.DECLINED)
        .select_related("expert")
        .order_by("rank")
    )


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
async def test_staff_decline_for_an_expert_replaces_them_and_records_the_staff_r10(
    asgi_app: Any, stack: list[Any], htmx: bool
) -> None:
    """R10 step 4: the expert phoned in; staff decline with a reason, the backup is
    promoted by the draw's rule, the audit names the staff user (on behalf)."""
    c = await _drawn_with_backup(asgi_app, stack)
    seated = await _seated_members(c.session_id)
    leaving = seated[-1]
    url = f"/sessions/{c.session_id}/panel/{leaving.id}/decline"
    page = (await c.staff.get(f"/sessions/{c.session_id}")).text
    assert [f'action="/sessions/{c.session_id}/panel/{m.id}/decline"' in page for m in seated] == [
        True
    ] * 3
    headers = HX if htmx else {}
    before = await _state()

    blank = await c.staff.post(url, {"reason": "  "}, headers=headers)

    assert blank.status_code == 422
    assert _field_error(blank.text, f"decline-{leaving.id}-reason")[0] == "REQUIRED"  # type: ignore[index]
    assert ("<html" in blank.text) is not htmx
    assert await _state() == before

    r = await c.staff.post(url, {"reason": "本人来电:出差无法参加"}, headers=headers)

    target = f"/sessions/{c.session_id}?done=declined_for"
    if htmx:
        assert (r.status_code, r.headers["hx-redirect"]) == (204, target)
    else:
        assert (r.status_code, r.headers["location"]) == (303, target)
    gone = await PanelMember.get(id=leaving.id)
    assert (gone.status, gone.decline_reason) == (PanelStatus.DECLINED, "本人来电:出差无法参加")
    now = await _seated_members(c.session_id)
    assert len(now) == 3 and leaving.id not in {m.id for m in now}
    promoted = next(m for m in now if m.id not in {s.id for s in seated})
    assert promoted.replaces_id == leaving.id  # type: ignore[attr-defined]
    event = await AuditEvent.get(action="panel_member.decline")
    assert (event.actor_user_id, event.target_id, event.after["on_behalf"]) == (
        c.staff.user_id,
        str(leaving.id),
        True,
    )
    bundle = json.loads((await c.staff.get(f"/sessions/{c.session_id}/draw.json")).text)
    assert drawcore.verify_bundle(bundle)[0] is True
    assert "已代专家谢绝邀请" in (await c.staff.get(target)).text


async def test_decline_for_an_expert_refused_to_supervisor_bureau_and_other_institution(
    asgi_app: Any, stack: list[Any]
) -> None:
    """The supervisor and the bureau see the panel but do not decline (403); another
    institution's staff do not see it (404); nobody gets the button; nothing changes."""
    c = await _drawn_with_backup(asgi_app, stack)
    member = (await _seated_members(c.session_id))[0]
    url = f"/sessions/{c.session_id}/panel/{member.id}/decline"
    other = await factories.institution()
    cm = _browser(asgi_app)
    stack.append(cm)
    intruder = await _login(await cm.__aenter__(), Role.INSTITUTION, other.id)
    for who in (c.supervisor, c.bureau):
        assert "/decline" not in (await who.get(f"/sessions/{c.session_id}")).text
    before = await _state()

    got = [
        (await who.post(url, {"reason": "代为谢绝"})).status_code
        for who in (c.supervisor, c.bureau, intruder)
    ]

    assert got == [403, 403, 404]
    assert await _state() == before


async def _finalise_by_pages(c: Cast) -> None:
    seated = await _seated_members(c.session_id)
    ids = [str(m.expert.id) for m in seated]
    chair = next(m for m in seated if m.seat in (Seat.CHAIR, Seat.VICE_CHAIR))
    r = await c.staff.client.post(
        f"/sessions/{c.session_id}/attendance",
        data={
            "csrf_token": c.staff.csrf,
            "presentExpertIds": ids,
            "presidingExpertId": str(chair.expert.id),
        },
    )
    assert r.status_code == 303, r.text
    choices = ["for", "for", "against"]
    r = await c.staff.post(
        f"/sessions/{c.session_id}/ballots",
        {"applicantId": c.applicant_id}
        | {f"votes.{e}": v for e, v in zip(ids, choices, strict=True)},
    )
    assert r.status_code == 303, r.text
    r = await c.staff.post(
        f"/sessions/{c.session_id}/recordings",
        {"kind": "video", "uri": "recordings/全程.mp4", "sizeBytes": "9", "sha256": "b" * 64},
    )
    assert r.status_code == 303, r.text


async def test_individual_votes_shown_to_the_bureau_only_once_finalised_r14(
    asgi_app: Any, stack: list[Any]
) -> None:
    """R14: votes are kept per expert for recounts; the ballot is secret (无记名), so
    staff and supervisors see progress only, the bureau the votes after finalisation."""
    c = await _drawn_with_backup(asgi_app, stack)
    await _finalise_by_pages(c)
    url = f"/sessions/{c.session_id}"
    sitting = [(await who.get(url)).text for who in (c.staff, c.supervisor, c.bureau)]
    assert ["个人投票记录" in p for p in sitting] == [False, False, False]

    r = await c.staff.post(f"/sessions/{c.session_id}/finalise")
    assert r.status_code == 303, r.text
    pages = [(await who.get(url)).text for who in (c.staff, c.supervisor, c.bureau)]

    assert ["个人投票记录" in p for p in pages] == [False, False, True]
    table = re.search(r'<table class="individual-votes".*?</table>', pages[2], re.S)
    assert table is not None
    rows = re.findall(
        r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>"
        r'<span class="vote vote-(\w+)">',
        table.group(0),
    )
    votes = (
        await Vote.filter(session_id=c.session_id)
        .select_related("expert")
        .order_by("applicant_id", "expert_id")
    )
    assert rows == [("司马申报", v.expert.name, v.expert.number, v.choice.value) for v in votes]
    assert sorted(v.choice.value for v in votes) == ["against", "for", "for"]
    assert pages[2].count("纸质选票(工作人员录入)") == 3
    for v in votes:
        stamp = v.created_at.astimezone(svc.BEIJING).strftime("%Y-%m-%d %H:%M")
        assert stamp in table.group(0)
