"""Review requests, complaints and reports: intake, tracking, screening (R16),
handling, recounts from stored votes (R14), deadlines in working days and the
complainant's anonymity (Art. 9(七), 28)."""

import dataclasses
import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

import pytest

from models import (
    ApiToken,
    AuditEvent,
    Committee,
    Complaint,
    ComplaintNote,
    Draw,
    EvaluationSession,
    Expert,
    Institution,
    Notification,
    PanelMember,
    Recording,
    RoleAssignment,
    SessionApplicant,
    SupervisorAssignment,
    User,
    Vote,
)
from models.enums import (
    ApplicantResult,
    ComplaintChannel,
    ComplaintKind,
    ComplaintStatus,
    DrawStatus,
    FilingStatus,
    Level,
    NonAcceptanceReason,
    PanelStatus,
    RecordingKind,
    Role,
    Seat,
    SessionStatus,
    TargetType,
    VoteChoice,
)
from resolvers import complaint as svc
from resolvers.account import load_actor
from resolvers.actor import ANONYMOUS, Actor, Grant
from resolvers.common import beijing_today
from resolvers.config import Config, configure
from resolvers.errors import DomainError, ErrorCode, NotFound, PermissionDenied, Unauthenticated
from resolvers.passwords import verify_password
from resolvers.personal import decrypt, protect_id_number
from resolvers.sweep import run_sweep
from tests import factories
from tests.conftest import TEST_SECRET

K, C, R = ComplaintKind, ComplaintStatus, NonAcceptanceReason
FACTS = "2026年5月评审会上,该专家与申报人系同一单位同事却未申请回避。"
_n = itertools.count(1)


# --- helpers ----------------------------------------------------------------------


async def user_actor(*roles: tuple[Role, dict[str, int]]) -> Actor:
    """A real user with RoleAssignment rows, loaded the way a login loads it."""
    n = next(_n)
    user = await User.create(username=f"c{n}", display_name=f"用户{n}", password_hash="x")
    for role, scope in roles:
        await RoleAssignment.create(user_id=user.id, role=role, **scope)
    return await load_actor(user)


async def bureau() -> Actor:
    return await user_actor((Role.BUREAU, {}))


async def staff(inst: Institution) -> Actor:
    return await user_actor((Role.INSTITUTION, {"institution_id": inst.id}))


async def partner(*scopes: str) -> Actor:
    n = next(_n)
    token = await ApiToken.create(
        name=f"合作门户{n}", prefix=f"p{n}", token_hash=f"{n:064d}", scopes=list(scopes)
    )
    return Actor(token_id=token.id, username=token.name, token_scopes=frozenset(scopes))


async def committee(inst: Institution) -> Committee:
    n = next(_n)
    today = beijing_today()
    return await Committee.create(
        institution_id=inst.id,
        name=f"工程技术系列电子信息专业高级评委会{n}",
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
        status=FilingStatus.FILED,
        filed_at=today,
        valid_until=today.replace(year=today.year + 3),
    )


async def applicant(
    session: EvaluationSession,
    *,
    result: ApplicantResult = ApplicantResult.FAILED,
    stored: tuple[int, int, int] = (0, 0, 0),
) -> SessionApplicant:
    n = next(_n)
    idn = factories.make_id_number(dt.date(1985, 3, 1), n)
    return await SessionApplicant.create(
        session_id=session.id,
        name=f"申报人{n}",
        **protect_id_number(idn),
        unit=await factories.unit(),
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
        result=result,
        votes_for=stored[0],
        votes_against=stored[1],
        votes_abstain=stored[2],
    )


@dataclass
class Sitting:
    """A finalised evaluation session with its panel, votes and one applicant."""

    inst: Institution
    committee: Committee
    session: EvaluationSession
    experts: list[Expert]
    applicant: SessionApplicant


async def sitting(
    votes: list[VoteChoice],
    *,
    stored: tuple[int, int, int],
    result: ApplicantResult,
    attendance: bool = True,
    recording: bool = True,
    supervisor: bool = True,
    inst: Institution | None = None,
) -> Sitting:
    inst = inst or await factories.institution()
    comm = await committee(inst)
    experts = [await factories.expert(institution_id=inst.id) for _ in votes]
    now = dt.datetime.now(dt.UTC)
    session = await EvaluationSession.create(
        committee_id=comm.id,
        institution_id=inst.id,
        year=2026,
        starts_at=now - dt.timedelta(days=2),
        ends_at=now - dt.timedelta(days=2, hours=-4),
        place="北京市西城区某路1号",
        panel_size=len(votes),
        status=SessionStatus.FINALISED,
        presiding_expert_id=experts[0].id,
        finalised_at=now - dt.timedelta(days=1),
    )
    draw = await Draw.create(
        session_id=session.id,
        status=DrawStatus.EXECUTED,
        inputs={},
        pool_hash="0" * 64,
        secret_enc="",
        secret_hash="0" * 64,
        committed_at=now - dt.timedelta(days=5),
    )
    for rank, expert in enumerate(experts):
        await PanelMember.create(
            session_id=session.id,
            draw_id=draw.id,
            expert_id=expert.id,
            rank=rank,
            seat=Seat.CHAIR if rank == 0 else Seat.MEMBER,
            status=PanelStatus.ACCEPTED,
            present=True if attendance else None,
        )
    person = await applicant(session, result=result, stored=stored)
    for expert, choice in zip(experts, votes, strict=True):
        await Vote.create(
            session_id=session.id, applicant_id=person.id, expert_id=expert.id, choice=choice
        )
    if recording:
        await Recording.create(
            session_id=session.id,
            kind=RecordingKind.VIDEO,
            uri="var/recordings/s1.mp4",
            size_bytes=1024,
            sha256="a" * 64,
        )
    if supervisor:
        n = next(_n)
        sup = await User.create(username=f"s{n}", display_name=f"监督{n}", password_hash="x")
        await SupervisorAssignment.create(session_id=session.id, user_id=sup.id)
    return Sitting(inst, comm, session, experts, person)


async def file_complaint(
    actor: Actor = ANONYMOUS,
    *,
    target_type: TargetType,
    target_id: int | None,
    kind: ComplaintKind = K.COMPLAINT,
    anonymous: bool = True,
    name: str = "",
    contact: str = "",
    **kw: Any,
) -> tuple[Complaint, str]:
    return await svc.submit_complaint(
        actor,
        kind=kind,
        target_type=target_type,
        target_id=target_id,
        target_description=kw.pop("target_description", ""),
        facts=kw.pop("facts", FACTS),
        clues=kw.pop("clues", "可调取当日录音录像核实。"),
        anonymous=anonymous,
        complainant_name=name,
        complainant_contact=contact,
        hotline_ticket=kw.pop("hotline_ticket", ""),
        **kw,
    )


async def against_expert(
    *, anonymous: bool = True, name: str = "", contact: str = ""
) -> tuple[Institution, Expert, Complaint, str]:
    inst = await factories.institution()
    expert = await factories.expert(institution_id=inst.id)
    c, pw = await file_complaint(
        target_type=TargetType.EXPERT,
        target_id=expert.id,
        anonymous=anonymous,
        name=name,
        contact=contact,
    )
    return inst, expert, c, pw


async def state(complaint_id: int) -> dict[str, Any]:
    """Everything that a denied call must leave untouched."""
    row = (await Complaint.filter(id=complaint_id).values())[0]
    return {
        "complaint": row,
        "notes": await ComplaintNote.filter(complaint_id=complaint_id).count(),
        "audit": await AuditEvent.all().count(),
        "applicants": await SessionApplicant.all().order_by("id").values(),
        "notifications": await Notification.all().count(),
    }


async def review_request(s: Sitting) -> tuple[Actor, Complaint, str]:
    """The applicant, logged in, asks for a review of the own result."""
    person = await user_actor((Role.APPLICANT, {"applicant_id": s.applicant.id}))
    c, pw = await file_complaint(
        person,
        kind=K.REVIEW_REQUEST,
        target_type=TargetType.APPLICANT,
        target_id=s.applicant.id,
        anonymous=False,
        name=s.applicant.name,
        contact="13900001111",
        applicant_id=s.applicant.id,
        facts="本人得票与现场唱票结果不一致,请复查计票。",
    )
    return person, c, pw


async def events(action: str) -> list[AuditEvent]:
    return await AuditEvent.filter(action=action).order_by("seq")


# --- intake -----------------------------------------------------------------------


async def test_submit_anonymous_stores_no_identity_even_for_logged_in_user_r16():
    inst = await factories.institution()
    expert = await factories.expert(institution_id=inst.id)
    sit = await sitting([VoteChoice.FOR], stored=(1, 0, 0), result=ApplicantResult.PASSED)
    person = await user_actor((Role.APPLICANT, {"applicant_id": sit.applicant.id}))

    c, password = await file_complaint(
        person,
        target_type=TargetType.EXPERT,
        target_id=expert.id,
        anonymous=True,
        name="王五",
        contact="13800001234",
    )

    row = await Complaint.get(id=c.id)
    assert (row.complainant_name_enc, row.complainant_contact_enc) == ("", "")
    assert row.submitted_by_id is None  # type: ignore[attr-defined]
    assert row.channel == ComplaintChannel.WEB
    assert row.institution_id == inst.id  # type: ignore[attr-defined]
    assert row.status == C.RECEIVED
    assert row.due_on == svc.screening_due_on(row.created_at)
    [event] = await events("complaint.submit")
    assert (event.actor, event.actor_user_id) == ("anonymous", None)
    assert "complainant_name_enc" not in event.after
    assert len(row.tracking_code) == svc.TRACKING_LENGTH
    assert set(row.tracking_code) <= set(svc.TRACKING_ALPHABET)
    assert len(password) == svc.QUERY_PASSWORD_LENGTH
    assert row.query_password_hash != password
    assert await verify_password(row.query_password_hash, password) is True


async def test_submit_real_name_keeps_identity_encrypted_r16():
    person = await user_actor()
    inst = await factories.institution()
    expert = await factories.expert(institution_id=inst.id)

    c, _ = await file_complaint(
        person,
        target_type=TargetType.EXPERT,
        target_id=expert.id,
        anonymous=False,
        name="王五",
        contact="13800001234",
        hotline_ticket="BJ12345678",
    )

    row = await Complaint.get(id=c.id)
    assert "王五" not in row.complainant_name_enc
    assert "13800001234" not in row.complainant_contact_enc
    assert decrypt(row.complainant_name_enc) == "王五"
    assert decrypt(row.complainant_contact_enc) == "13800001234"
    assert row.submitted_by_id == person.user_id  # type: ignore[attr-defined]
    assert (row.channel, row.hotline_ticket, row.anonymous) == (
        ComplaintChannel.WEB,
        "BJ12345678",
        False,
    )
    [event] = await events("complaint.submit")
    assert event.actor_user_id == person.user_id


@pytest.mark.parametrize(
    "target_type",
    [
        TargetType.EXPERT,
        TargetType.COMMITTEE,
        TargetType.SESSION,
        TargetType.APPLICANT,
        TargetType.INSTITUTION,
    ],
)
async def test_submit_routes_to_target_institution_or_bureau(target_type: TargetType):
    s = await sitting([VoteChoice.FOR], stored=(1, 0, 0), result=ApplicantResult.PASSED)
    target_id = {
        TargetType.EXPERT: s.experts[0].id,
        TargetType.COMMITTEE: s.committee.id,
        TargetType.SESSION: s.session.id,
        TargetType.APPLICANT: s.applicant.id,
        TargetType.INSTITUTION: s.inst.id,
    }[target_type]

    c, _ = await file_complaint(target_type=target_type, target_id=target_id, kind=K.REPORT)

    expected = None if target_type == TargetType.INSTITUTION else s.inst.id
    assert (await Complaint.get(id=c.id)).institution_id == expected  # type: ignore[attr-defined]


async def test_submit_against_expert_outside_any_institution_goes_to_bureau():
    expert = await factories.expert()
    c, _ = await file_complaint(target_type=TargetType.EXPERT, target_id=expert.id)
    assert c.institution_id is None  # type: ignore[attr-defined]


BAD_INPUT = [
    ({"facts": "   "}, ErrorCode.REQUIRED, "facts"),
    ({"facts": "事" * 5001}, ErrorCode.TOO_LONG, "facts"),
    ({"facts": "事实\x00说明"}, ErrorCode.INVALID, "facts"),
    ({"clues": "线索\x1b[31m"}, ErrorCode.INVALID, "clues"),
    ({"target_description": "张\u202e三"}, ErrorCode.INVALID, "targetDescription"),
    ({"hotline_ticket": "BJ-12345"}, ErrorCode.INVALID, "hotlineTicket"),
    ({"hotline_ticket": "1" * 51}, ErrorCode.TOO_LONG, "hotlineTicket"),
    ({"anonymous": False, "name": ""}, ErrorCode.REQUIRED, "complainantName"),
    ({"anonymous": False, "name": "王\n五"}, ErrorCode.INVALID, "complainantName"),
    ({"target_id": 999_999}, ErrorCode.INVALID, "targetId"),
    ({"target_id": None}, ErrorCode.REQUIRED, "targetId"),
    ({"target_type": "person"}, ErrorCode.INVALID, "targetType"),
    ({"kind": "petition"}, ErrorCode.INVALID, "kind"),
    ({"applicant_id": 1}, ErrorCode.INVALID, "applicantId"),
]


@pytest.mark.parametrize(("over", "code", "field"), BAD_INPUT)
async def test_submit_bad_input_refused_and_nothing_stored(
    over: dict[str, Any], code: ErrorCode, field: str
):
    expert = await factories.expert()
    kw: dict[str, Any] = {"target_type": TargetType.EXPERT, "target_id": expert.id, **over}

    with pytest.raises(DomainError) as err:
        await file_complaint(**kw)

    assert (err.value.code, err.value.field) == (code, field)
    assert await Complaint.all().count() == 0
    assert await AuditEvent.all().count() == 0


async def test_submit_against_applicant_who_did_not_pass_refused():
    """Art. 28: objections about another person concern those who passed."""
    s = await sitting([VoteChoice.AGAINST], stored=(0, 1, 0), result=ApplicantResult.FAILED)
    with pytest.raises(DomainError) as err:
        await file_complaint(target_type=TargetType.APPLICANT, target_id=s.applicant.id)
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "targetId")
    assert await Complaint.all().count() == 0


async def test_submit_by_partner_needs_token_scope():
    expert = await factories.expert()
    without = await partner("public:read")

    with pytest.raises(PermissionDenied):
        await file_complaint(without, target_type=TargetType.EXPERT, target_id=expert.id)
    assert await Complaint.all().count() == 0
    assert await AuditEvent.all().count() == 0

    portal = await partner("complaint:submit")
    c, _ = await file_complaint(
        portal, target_type=TargetType.EXPERT, target_id=expert.id, anonymous=False, name="李四"
    )
    assert (c.channel, c.partner_token_id) == (ComplaintChannel.PARTNER, portal.token_id)  # type: ignore[attr-defined]
    [event] = await events("complaint.submit")
    assert event.actor == f"token:{portal.token_id}"


async def test_logged_in_applicant_real_name_complaint_uses_applicant_channel():
    s = await sitting([VoteChoice.FOR], stored=(1, 0, 0), result=ApplicantResult.PASSED)
    person = await user_actor((Role.APPLICANT, {"applicant_id": s.applicant.id}))
    c, _ = await file_complaint(
        person, target_type=TargetType.SESSION, target_id=s.session.id, anonymous=False, name="赵六"
    )
    assert c.channel == ComplaintChannel.APPLICANT


async def test_review_request_cannot_be_filed_anonymously():
    s = await sitting([VoteChoice.AGAINST], stored=(0, 1, 0), result=ApplicantResult.FAILED)
    person = await user_actor((Role.APPLICANT, {"applicant_id": s.applicant.id}))
    common = {
        "kind": K.REVIEW_REQUEST,
        "target_type": TargetType.APPLICANT,
        "target_id": s.applicant.id,
        "applicant_id": s.applicant.id,
    }

    with pytest.raises(DomainError) as public:
        await file_complaint(ANONYMOUS, anonymous=False, name="某人", **common)
    with pytest.raises(DomainError) as hidden:
        await file_complaint(person, anonymous=True, **common)

    assert (public.value.code, public.value.field) == (ErrorCode.INVALID, "kind")
    assert (hidden.value.code, hidden.value.field) == (ErrorCode.INVALID, "anonymous")
    assert await Complaint.all().count() == 0
    assert await AuditEvent.all().count() == 0


async def test_review_request_must_name_a_decided_result_and_its_own_target():
    s = await sitting([VoteChoice.AGAINST], stored=(0, 1, 0), result=ApplicantResult.FAILED)
    pending = await applicant(s.session, result=ApplicantResult.PENDING)
    person = await user_actor((Role.APPLICANT, {"applicant_id": s.applicant.id}))
    base = {"kind": K.REVIEW_REQUEST, "anonymous": False, "name": "某人"}

    cases = [
        ({"target_type": TargetType.APPLICANT, "target_id": None}, ErrorCode.REQUIRED),
        (
            {
                "target_type": TargetType.APPLICANT,
                "target_id": pending.id,
                "applicant_id": pending.id,
            },
            ErrorCode.INVALID,
        ),
        (
            {
                "target_type": TargetType.EXPERT,
                "target_id": s.experts[0].id,
                "applicant_id": s.applicant.id,
            },
            ErrorCode.INVALID,
        ),
    ]
    for over, code in cases:
        with pytest.raises(DomainError) as err:
            await file_complaint(person, **base, **over)
        assert err.value.code == code
    assert await Complaint.all().count() == 0

    c, _ = await file_complaint(
        person,
        **base,
        target_type=TargetType.SESSION,
        target_id=None,
        applicant_id=s.applicant.id,
    )
    assert (c.target_type, c.target_id, c.applicant_id) == (  # type: ignore[attr-defined]
        TargetType.SESSION,
        s.session.id,
        s.applicant.id,
    )


async def test_tracking_codes_are_distinct():
    expert = await factories.expert()
    codes = {
        (await file_complaint(target_type=TargetType.EXPERT, target_id=expert.id))[0].tracking_code
        for _ in range(5)
    }
    assert len(codes) == 5


# --- the complainant's status page --------------------------------------------------


async def test_complaint_status_by_tracking_code_and_password_r16():
    _, _, c, password = await against_expert()
    typed = "-".join([c.tracking_code[:4].lower(), c.tracking_code[4:8], c.tracking_code[8:]])

    view = await svc.complaint_status(typed, password)

    assert view == svc.ComplaintStatusView(
        tracking_code=c.tracking_code,
        kind=K.COMPLAINT,
        status=C.RECEIVED,
        status_label="已收到",
        received_at=c.created_at,
        due_on=c.due_on,
        non_acceptance_reason=None,
        non_acceptance_text="",
        answer="",
        answered_at=None,
        closed_at=None,
        outcome="",
    )


async def test_complaint_status_wrong_code_or_password_look_the_same():
    _, _, c, password = await against_expert()
    _, _, _, other_password = await against_expert()

    failures = []
    for code, pw in [
        (c.tracking_code, other_password),
        ("ABCDEFGHJKMN", password),
        (c.tracking_code, ""),
        ("", ""),
        (c.tracking_code, "x" * 10_000),
    ]:
        with pytest.raises(NotFound) as err:
            await svc.complaint_status(code, pw)
        failures.append(err.value.message)

    assert failures == ["查询码或查询密码不正确"] * 5


async def test_complaint_status_never_shows_notes_or_identity():
    inst, _, c, password = await against_expert(anonymous=False, name="王五", contact="138")
    handler = await staff(inst)
    await svc.screen_complaint(handler, c.id, accept=True)
    await svc.add_complaint_note(handler, c.id, body="内部记录:已约谈专家")
    await svc.answer_complaint(handler, c.id, answer="经核查,投诉情况属实,已作处理。")

    view = await svc.complaint_status(c.tracking_code, password)

    shown = " ".join(str(v) for v in dataclasses.asdict(view).values())
    assert "内部记录" not in shown
    assert "王五" not in shown
    assert (view.status, view.answer) == (C.ANSWERED, "经核查,投诉情况属实,已作处理。")


# --- screening (R16) ----------------------------------------------------------------


@pytest.mark.parametrize("reason", [R.NO_EVIDENCE, R.NO_CLUE, R.NO_TARGET, R.NO_FACTS])
async def test_screen_not_accepted_with_each_reason_r16(reason: NonAcceptanceReason):
    inst, _, c, password = await against_expert()
    handler = await staff(inst)

    done = await svc.screen_complaint(handler, c.id, accept=False, reason=reason)

    assert (done.status, done.non_acceptance_reason, done.version) == (C.NOT_ACCEPTED, reason, 2)
    view = await svc.complaint_status(c.tracking_code, password)
    assert (view.non_acceptance_reason, view.non_acceptance_text) == (
        reason,
        svc.REASON_TEXTS[reason],
    )
    [event] = await events("complaint.screen")
    assert (event.before["status"], event.after["status"]) == ("received", "not_accepted")
    assert event.after["non_acceptance_reason"] == reason.value


async def test_screen_not_accepted_without_reason_refused_r16():
    inst, _, c, _ = await against_expert()
    handler = await staff(inst)
    before = await state(c.id)

    with pytest.raises(DomainError) as err:
        await svc.screen_complaint(handler, c.id, accept=False, reason=None)

    assert (err.value.code, err.value.field) == (ErrorCode.REQUIRED, "reason")
    assert await state(c.id) == before


@pytest.mark.parametrize("reason", [R.NOT_APPLICANT, R.OUT_OF_SCOPE])
async def test_screen_review_only_reasons_refused_for_complaints(reason: NonAcceptanceReason):
    inst, _, c, _ = await against_expert()
    handler = await staff(inst)
    before = await state(c.id)

    with pytest.raises(DomainError) as err:
        await svc.screen_complaint(handler, c.id, accept=False, reason=reason)

    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "reason")
    assert await state(c.id) == before


async def test_screen_accept_sets_handling_deadline_and_twice_refused():
    inst, _, c, _ = await against_expert()
    handler = await staff(inst)

    done = await svc.screen_complaint(handler, c.id, accept=True)

    assert done.status == C.ACCEPTED
    assert done.due_on == svc.handling_due_on(done.updated_at)
    before = await state(c.id)
    with pytest.raises(DomainError) as err:
        await svc.screen_complaint(handler, c.id, accept=False, reason=R.NO_CLUE)
    assert err.value.code == ErrorCode.INVALID_TRANSITION
    assert await state(c.id) == before


async def test_screen_accept_with_reason_refused():
    inst, _, c, _ = await against_expert()
    handler = await staff(inst)
    before = await state(c.id)
    with pytest.raises(DomainError) as err:
        await svc.screen_complaint(handler, c.id, accept=True, reason=R.NO_CLUE)
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "reason")
    assert await state(c.id) == before


async def test_screen_stale_version_refused():
    inst, _, c, _ = await against_expert()
    handler = await staff(inst)
    before = await state(c.id)
    with pytest.raises(DomainError) as err:
        await svc.screen_complaint(handler, c.id, accept=True, version=c.version + 1)
    assert err.value.code == ErrorCode.VERSION_CONFLICT
    assert await state(c.id) == before


async def test_review_request_by_someone_else_cannot_be_accepted_r16():
    """R16: a review request only from the applicant about the own result; one filed
    by another applicant is received but screening refuses it (NOT_APPLICANT)."""
    s = await sitting([VoteChoice.AGAINST], stored=(0, 1, 0), result=ApplicantResult.FAILED)
    other = await applicant(s.session, result=ApplicantResult.PASSED)
    someone = await user_actor((Role.APPLICANT, {"applicant_id": other.id}))
    c, password = await file_complaint(
        someone,
        kind=K.REVIEW_REQUEST,
        target_type=TargetType.APPLICANT,
        target_id=s.applicant.id,
        applicant_id=s.applicant.id,
        anonymous=False,
        name="他人",
    )
    assert c.status == C.RECEIVED
    handler = await staff(s.inst)
    before = await state(c.id)

    with pytest.raises(DomainError) as err:
        await svc.screen_complaint(handler, c.id, accept=True)

    assert (err.value.code, err.value.field) == (ErrorCode.NOT_APPLICANT, "accept")
    assert await state(c.id) == before
    done = await svc.screen_complaint(handler, c.id, accept=False, reason=R.NOT_APPLICANT)
    assert done.non_acceptance_reason == R.NOT_APPLICANT
    view = await svc.complaint_status(c.tracking_code, password)
    assert view.non_acceptance_text == svc.REASON_TEXTS[R.NOT_APPLICANT]


async def test_review_request_via_partner_is_not_from_the_applicant_r16():
    s = await sitting([VoteChoice.AGAINST], stored=(0, 1, 0), result=ApplicantResult.FAILED)
    portal = await partner("complaint:submit")
    c, _ = await file_complaint(
        portal,
        kind=K.REVIEW_REQUEST,
        target_type=TargetType.APPLICANT,
        target_id=s.applicant.id,
        applicant_id=s.applicant.id,
        anonymous=False,
        name=s.applicant.name,
    )
    with pytest.raises(DomainError) as err:
        await svc.screen_complaint(await staff(s.inst), c.id, accept=True)
    assert err.value.code == ErrorCode.NOT_APPLICANT


async def test_review_request_from_applicant_accepted_or_out_of_scope_r16():
    s = await sitting([VoteChoice.AGAINST], stored=(0, 1, 0), result=ApplicantResult.FAILED)
    _, first, _ = await review_request(s)
    _, second, password = await review_request(s)
    handler = await staff(s.inst)

    accepted = await svc.screen_complaint(handler, first.id, accept=True)
    with pytest.raises(DomainError) as err:
        await svc.screen_complaint(handler, second.id, accept=False, reason=R.NOT_APPLICANT)
    refused = await svc.screen_complaint(handler, second.id, accept=False, reason=R.OUT_OF_SCOPE)

    assert accepted.status == C.ACCEPTED
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "reason")
    assert refused.non_acceptance_reason == R.OUT_OF_SCOPE
    view = await svc.complaint_status(second.tracking_code, password)
    assert view.non_acceptance_text == svc.REASON_TEXTS[R.OUT_OF_SCOPE]


# --- handling -----------------------------------------------------------------------


async def test_note_answer_close_walk_the_lifecycle_r16():
    inst, _, c, password = await against_expert()
    handler = await staff(inst)
    await svc.screen_complaint(handler, c.id, accept=True)

    note = await svc.add_complaint_note(handler, c.id, body="已调取录音录像。")
    in_handling = await Complaint.get(id=c.id)
    answered = await svc.answer_complaint(handler, c.id, answer="经核查,专家已按规定回避。")
    closed = await svc.close_complaint(handler, c.id)

    assert (note.body, note.author_id) == ("已调取录音录像。", handler.user_id)  # type: ignore[attr-defined]
    assert in_handling.status == C.IN_HANDLING
    assert answered.answered_at is not None
    assert (closed.status, closed.answer) == (C.CLOSED, "经核查,专家已按规定回避。")
    assert closed.closed_at is not None
    actions = [e.action for e in await AuditEvent.all().order_by("seq")]
    assert actions == [
        "complaint.submit",
        "complaint.screen",
        "complaint.note",
        "complaint.handle",
        "complaint.answer",
        "complaint.close",
    ]
    assert (await svc.complaint_status(c.tracking_code, password)).status == C.CLOSED


async def test_answer_before_acceptance_refused():
    inst, _, c, _ = await against_expert()
    handler = await staff(inst)
    before = await state(c.id)
    with pytest.raises(DomainError) as err:
        await svc.answer_complaint(handler, c.id, answer="答复")
    assert err.value.code == ErrorCode.INVALID_TRANSITION
    assert await state(c.id) == before


async def test_not_accepted_case_can_be_closed_but_takes_no_notes_after():
    inst, _, c, _ = await against_expert()
    handler = await staff(inst)
    await svc.screen_complaint(handler, c.id, accept=False, reason=R.NO_EVIDENCE)
    closed = await svc.close_complaint(handler, c.id)
    assert closed.status == C.CLOSED
    before = await state(c.id)
    with pytest.raises(DomainError) as err:
        await svc.add_complaint_note(handler, c.id, body="补记")
    assert err.value.code == ErrorCode.INVALID_TRANSITION
    assert await state(c.id) == before


# --- review requests: recount and decision (R14, R16) --------------------------------

MISCOUNTED = [VoteChoice.FOR, VoteChoice.FOR, VoteChoice.FOR, VoteChoice.FOR, VoteChoice.AGAINST]


async def test_recount_finds_miscounted_vote_r14():
    """Stored 3 for / 2 against (failed); the five stored votes are 4 for / 1 against:
    5 present, 4·3 ≥ 5·2, so the applicant passed."""
    s = await sitting(MISCOUNTED, stored=(3, 2, 0), result=ApplicantResult.FAILED)
    _, c, _ = await review_request(s)
    handler = await staff(s.inst)
    await svc.screen_complaint(handler, c.id, accept=True)

    result = await svc.recount_review_request(handler, c.id)

    assert (result.counted_for, result.counted_against, result.counted_abstain) == (4, 1, 0)
    assert (result.present, result.present_source) == (5, "attendance")
    assert (result.counted_result, result.stored_result) == (
        ApplicantResult.PASSED,
        ApplicantResult.FAILED,
    )
    assert (result.miscounted, result.result_differs, result.procedure_ok) == (True, True, True)
    assert [(ch.key, ch.ok) for ch in result.checks] == [
        ("recording", True),
        ("supervisor", True),
        ("quorum", True),
        ("presiding", True),
        ("voters", True),
    ]
    assert (await Complaint.get(id=c.id)).status == C.IN_HANDLING
    [event] = await events("complaint.recount")
    assert event.after["counted"] == [4, 1, 0]
    stored = await SessionApplicant.get(id=s.applicant.id)
    assert (stored.votes_for, stored.result) == (3, ApplicantResult.FAILED)


async def test_decide_upheld_corrects_finalised_result_through_audited_path_r16():
    s = await sitting(MISCOUNTED, stored=(3, 2, 0), result=ApplicantResult.FAILED)
    _, c, password = await review_request(s)
    handler = await staff(s.inst)
    await svc.screen_complaint(handler, c.id, accept=True)

    done = await svc.decide_review_request(
        handler, c.id, upheld=True, answer="经复查,计票有误,已更正为通过。"
    )

    corrected = await SessionApplicant.get(id=s.applicant.id)
    assert (
        corrected.votes_for,
        corrected.votes_against,
        corrected.votes_abstain,
        corrected.result,
    ) == (4, 1, 0, ApplicantResult.PASSED)
    [event] = await events("session_applicant.correct")
    assert (event.target_type, event.target_id) == ("session_applicant", str(s.applicant.id))
    assert event.actor_user_id == handler.user_id
    assert event.before == {
        "votes_for": 3,
        "votes_against": 2,
        "votes_abstain": 0,
        "result": "failed",
    }
    assert event.after == {
        "votes_for": 4,
        "votes_against": 1,
        "votes_abstain": 0,
        "result": "passed",
        "complaint_id": c.id,
    }
    assert (done.status, done.outcome) == (C.ANSWERED, svc.OUTCOME_UPHELD)
    assert await Notification.filter(kind="result_corrected").count() == 1
    view = await svc.complaint_status(c.tracking_code, password)
    assert (view.answer, view.outcome) == ("经复查,计票有误,已更正为通过。", "upheld")


async def test_decide_dismissal_refused_while_counts_disagree():
    s = await sitting(MISCOUNTED, stored=(3, 2, 0), result=ApplicantResult.FAILED)
    _, c, _ = await review_request(s)
    handler = await staff(s.inst)
    await svc.screen_complaint(handler, c.id, accept=True)
    before = await state(c.id)

    with pytest.raises(DomainError) as err:
        await svc.decide_review_request(handler, c.id, upheld=False, answer="维持原结果。")

    assert (err.value.code, err.value.field) == (ErrorCode.RECOUNT_MISMATCH, "upheld")
    assert await state(c.id) == before


async def test_decide_dismissed_when_recount_confirms_result():
    votes = [VoteChoice.FOR, VoteChoice.FOR, VoteChoice.AGAINST, VoteChoice.AGAINST]
    s = await sitting(votes, stored=(2, 2, 0), result=ApplicantResult.FAILED)
    _, c, _ = await review_request(s)
    handler = await staff(s.inst)
    await svc.screen_complaint(handler, c.id, accept=True)

    done = await svc.decide_review_request(handler, c.id, upheld=False, answer="计票无误。")

    assert (done.status, done.outcome) == (C.ANSWERED, svc.OUTCOME_DISMISSED)
    assert await events("session_applicant.correct") == []
    stored = await SessionApplicant.get(id=s.applicant.id)
    assert (stored.votes_for, stored.votes_against, stored.result) == (
        2,
        2,
        ApplicantResult.FAILED,
    )


async def test_recount_without_attendance_counts_distinct_voters_at_two_thirds():
    """Three voters, 2 for: 3·2 ≤ 2·3 passes exactly at two thirds (R14). No recording
    and no supervisor: the checklist says so."""
    votes = [VoteChoice.FOR, VoteChoice.FOR, VoteChoice.AGAINST]
    s = await sitting(
        votes,
        stored=(2, 1, 0),
        result=ApplicantResult.PASSED,
        attendance=False,
        recording=False,
        supervisor=False,
    )
    _, c, _ = await review_request(s)
    handler = await staff(s.inst)
    await svc.screen_complaint(handler, c.id, accept=True)

    result = await svc.recount_review_request(handler, c.id)

    assert (result.present, result.present_source) == (3, "voters")
    assert (result.counted_result, result.miscounted) == (ApplicantResult.PASSED, False)
    assert {ch.key: ch.ok for ch in result.checks} == {
        "recording": False,
        "supervisor": False,
        "quorum": True,
        "presiding": True,
        "voters": True,
    }
    assert result.procedure_ok is False


async def test_recount_flags_absent_voter_and_missing_quorum():
    votes = [VoteChoice.FOR, VoteChoice.FOR, VoteChoice.FOR]
    s = await sitting(votes, stored=(3, 0, 0), result=ApplicantResult.PASSED)
    # Only the chair was marked present, yet three votes are stored.
    await (
        PanelMember.filter(session_id=s.session.id)
        .exclude(expert_id=s.experts[0].id)
        .update(present=False)
    )
    _, c, _ = await review_request(s)
    handler = await staff(s.inst)
    await svc.screen_complaint(handler, c.id, accept=True)

    result = await svc.recount_review_request(handler, c.id)

    # Only the present chair's ballot counts, as at finalisation.
    assert (result.present, result.counted_for, result.miscounted) == (1, 1, True)
    assert {ch.key: ch.ok for ch in result.checks}["quorum"] is False
    assert {ch.key: ch.ok for ch in result.checks}["voters"] is False


async def test_recount_before_acceptance_refused():
    s = await sitting(MISCOUNTED, stored=(3, 2, 0), result=ApplicantResult.FAILED)
    _, c, _ = await review_request(s)
    handler = await staff(s.inst)
    before = await state(c.id)
    with pytest.raises(DomainError) as err:
        await svc.recount_review_request(handler, c.id)
    assert err.value.code == ErrorCode.INVALID_TRANSITION
    assert await state(c.id) == before


async def test_answer_complaint_refuses_review_requests():
    s = await sitting(MISCOUNTED, stored=(3, 2, 0), result=ApplicantResult.FAILED)
    _, c, _ = await review_request(s)
    handler = await staff(s.inst)
    await svc.screen_complaint(handler, c.id, accept=True)
    before = await state(c.id)
    with pytest.raises(DomainError) as err:
        await svc.answer_complaint(handler, c.id, answer="答复")
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "kind")
    assert await state(c.id) == before


# --- deadlines ----------------------------------------------------------------------


def test_screening_deadline_across_national_day_2026_counts_make_up_saturday():
    """Received 2026-09-30 00:30 Beijing time (29 Sep UTC): five working days skip the
    1–7 October holiday and count Saturday 10 October (调休上班): 8, 9, 10, 12, 13."""
    received = dt.datetime(2026, 9, 29, 16, 30, tzinfo=dt.UTC)
    assert svc.local_date(received) == dt.date(2026, 9, 30)
    assert svc.screening_due_on(received) == dt.date(2026, 10, 13)
    # Still 29 September in Beijing: 30 Sep, 8, 9, 10 (Sat), 12 Oct.
    assert svc.screening_due_on(dt.datetime(2026, 9, 29, 15, 0, tzinfo=dt.UTC)) == dt.date(
        2026, 10, 12
    )


def test_handling_deadline_across_national_day_2026():
    # 30 working days from 30 Sep: 8–10 Oct (3), 12–16 (8), then four full weeks
    # (28) to 13 Nov, then 16 and 17 Nov.
    accepted = dt.datetime(2026, 9, 30, 2, 0, tzinfo=dt.UTC)
    assert svc.handling_due_on(accepted) == dt.date(2026, 11, 17)


def test_deadline_limits_are_configurable():
    configure(
        Config(
            secret_key=TEST_SECRET,
            argon2_profile="cheapest",
            extra={"complaint_screening_workdays": "3"},
        )
    )
    received = dt.datetime(2026, 9, 30, 2, 0, tzinfo=dt.UTC)
    assert svc.screening_due_on(received) == dt.date(2026, 10, 10)


async def test_escalate_overdue_exactly_once():
    inst, _, c, _ = await against_expert()
    _, _, answered, _ = await against_expert()
    handler = await staff(await Institution.get(id=answered.institution_id))  # type: ignore[attr-defined]
    await svc.screen_complaint(handler, answered.id, accept=True)
    await svc.answer_complaint(handler, answered.id, answer="已答复。")
    due = dt.date(2026, 10, 13)
    await Complaint.filter(id__in=[c.id, answered.id]).update(due_on=due)

    on_due_day = await svc.escalate_overdue(due)
    first = await svc.escalate_overdue(due + dt.timedelta(days=1))
    second = await svc.escalate_overdue(due + dt.timedelta(days=2))

    assert (on_due_day, first, second) == ({"escalated": 0}, {"escalated": 1}, {"escalated": 0})
    row = await Complaint.get(id=c.id)
    assert row.escalated_at is not None
    assert (await Complaint.get(id=answered.id)).escalated_at is None
    [note] = await Notification.filter(kind="complaint_overdue")
    assert (note.institution_id, note.user_id) == (None, None)  # type: ignore[attr-defined]
    assert note.dedupe_key == f"complaint-overdue:{c.id}"
    assert inst.name in note.body
    [event] = await events("complaint.escalate")
    assert (event.actor, event.target_id) == ("system", str(c.id))


async def test_sweep_runs_complaint_escalation():
    _, _, c, _ = await against_expert()
    await Complaint.filter(id=c.id).update(due_on=dt.date(2026, 10, 13))

    report = await run_sweep(today=dt.date(2026, 10, 14))

    assert report.results["投诉逾期"] == {"escalated": 1}


async def test_overdue_complaints_are_scoped():
    inst_a, _, a, _ = await against_expert()
    _, _, b, _ = await against_expert()
    _, _, not_yet, _ = await against_expert()
    today = dt.date(2026, 10, 14)
    await Complaint.filter(id__in=[a.id, b.id]).update(due_on=dt.date(2026, 10, 13))
    await Complaint.filter(id=not_yet.id).update(due_on=today)

    mine = await svc.overdue_complaints(await staff(inst_a), today)
    everything = await svc.overdue_complaints(await bureau(), today)

    assert [x.id for x in mine] == [a.id]
    assert [x.id for x in everything] == [a.id, b.id]
    assert svc.is_overdue(mine[0], today) is True
    with pytest.raises(Unauthenticated):
        await svc.overdue_complaints(ANONYMOUS, today)


# --- anonymity and scope (R16) ------------------------------------------------------


async def test_target_expert_who_is_also_staff_never_sees_the_complaint_r16():
    """Complaint against expert X by a named complainant; X also holds institution
    staff rights at the handling institution. To X the case is absent everywhere;
    a colleague handles it and sees the identity (audited)."""
    inst, expert, c, _ = await against_expert(anonymous=False, name="王五", contact="13800001234")
    x = await user_actor(
        (Role.EXPERT, {"expert_id": expert.id}),
        (Role.INSTITUTION, {"institution_id": inst.id}),
    )
    # Even a request that carries only X's staff grant: the user is still X.
    x_staff_only = Actor(
        user_id=x.user_id,
        username=x.username,
        grants=(Grant(Role.INSTITUTION, institution_id=inst.id),),
    )
    colleague = await staff(inst)
    other = await against_expert()  # a case X may handle: X sees that one
    await Complaint.filter(id=other[2].id).update(institution_id=inst.id)
    before = await state(c.id)

    for actor in (x, x_staff_only):
        with pytest.raises(NotFound):
            await svc.get_complaint(actor, c.id)
        with pytest.raises(NotFound):
            await svc.complaint_identity(actor, c.id)
        with pytest.raises(NotFound):
            await svc.list_complaint_notes(actor, c.id)
        with pytest.raises(NotFound):
            await svc.screen_complaint(actor, c.id, accept=False, reason=R.NO_EVIDENCE)
        with pytest.raises(NotFound):
            await svc.add_complaint_note(actor, c.id, body="看看")
        assert [x.id for x in await svc.list_complaints(actor)] == [other[2].id]
        overdue = await svc.overdue_complaints(actor, dt.date(2099, 1, 1))
        assert [x.id for x in overdue] == [other[2].id]
    assert await state(c.id) == before

    identity = await svc.complaint_identity(colleague, c.id)
    assert identity == svc.ComplainantIdentity(
        complaint_id=c.id, anonymous=False, name="王五", contact="13800001234"
    )
    [event] = await events("complaint.view_identity")
    assert event.actor_user_id == colleague.user_id
    assert sorted(x.id for x in await svc.list_complaints(colleague)) == sorted([c.id, other[2].id])


async def test_panel_expert_who_is_also_staff_does_not_see_complaint_about_session_r16():
    s = await sitting(MISCOUNTED, stored=(4, 1, 0), result=ApplicantResult.PASSED)
    c, _ = await file_complaint(target_type=TargetType.SESSION, target_id=s.session.id)
    member = await user_actor(
        (Role.EXPERT, {"expert_id": s.experts[2].id}),
        (Role.INSTITUTION, {"institution_id": s.inst.id}),
    )
    with pytest.raises(NotFound):
        await svc.get_complaint(member, c.id)
    assert [x.id for x in await svc.list_complaints(await staff(s.inst))] == [c.id]


async def test_complaint_against_institution_is_handled_by_bureau_only():
    inst = await factories.institution()
    c, _ = await file_complaint(target_type=TargetType.INSTITUTION, target_id=inst.id)
    own_staff = await staff(inst)
    bureau_and_staff = await user_actor(
        (Role.BUREAU, {}), (Role.INSTITUTION, {"institution_id": inst.id})
    )
    the_bureau = await bureau()

    with pytest.raises(NotFound):
        await svc.get_complaint(own_staff, c.id)
    with pytest.raises(NotFound):
        await svc.get_complaint(bureau_and_staff, c.id)
    assert (await svc.get_complaint(the_bureau, c.id)).id == c.id
    done = await svc.screen_complaint(the_bureau, c.id, accept=True)
    assert done.status == C.ACCEPTED


async def test_anonymous_complaint_identity_is_empty_r16():
    inst, _, c, _ = await against_expert(anonymous=True)
    identity = await svc.complaint_identity(await staff(inst), c.id)
    assert identity == svc.ComplainantIdentity(
        complaint_id=c.id, anonymous=True, name="", contact=""
    )


async def outsiders(inst: Institution) -> list[tuple[str, Actor, type[Exception]]]:
    s = await sitting([VoteChoice.FOR], stored=(1, 0, 0), result=ApplicantResult.PASSED)
    return [
        ("anonymous", ANONYMOUS, Unauthenticated),
        ("other institution", await staff(await factories.institution()), NotFound),
        ("expert", await user_actor((Role.EXPERT, {"expert_id": s.experts[0].id})), NotFound),
        (
            "applicant",
            await user_actor((Role.APPLICANT, {"applicant_id": s.applicant.id})),
            NotFound,
        ),
        ("employer", await user_actor((Role.EMPLOYER, {"unit_id": s.applicant.unit_id})), NotFound),  # type: ignore[attr-defined]
        ("partner", await partner("complaint:submit", "public:read"), NotFound),
    ]


async def test_outsiders_cannot_read_or_handle_and_nothing_changes():
    """Every read and handling call × every role outside the case: absent (or login
    needed), nothing changed, no audit event written."""
    s = await sitting(MISCOUNTED, stored=(3, 2, 0), result=ApplicantResult.FAILED)
    _, review, _ = await review_request(s)
    await svc.screen_complaint(await staff(s.inst), review.id, accept=True)
    roles = await outsiders(s.inst)
    calls = [
        ("get", lambda a: svc.get_complaint(a, review.id)),
        ("identity", lambda a: svc.complaint_identity(a, review.id)),
        ("notes", lambda a: svc.list_complaint_notes(a, review.id)),
        ("note", lambda a: svc.add_complaint_note(a, review.id, body="x")),
        ("answer", lambda a: svc.answer_complaint(a, review.id, answer="x")),
        ("close", lambda a: svc.close_complaint(a, review.id)),
        ("recount", lambda a: svc.recount_review_request(a, review.id)),
        ("decide", lambda a: svc.decide_review_request(a, review.id, upheld=True, answer="x")),
    ]
    before = await state(review.id)

    for label, actor, expected in roles:
        audit_before = await AuditEvent.all().count()
        for name, call in calls:
            with pytest.raises(expected):
                await call(actor)
            assert await AuditEvent.all().count() == audit_before, (label, name)
        if expected is NotFound:
            assert await svc.list_complaints(actor) == []

    assert await state(review.id) == before


async def test_unknown_complaint_is_not_found_for_handlers():
    with pytest.raises(NotFound):
        await svc.get_complaint(await bureau(), 987_654)
