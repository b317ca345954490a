"""Evaluation sessions (评审会议): applicants, recusal, the verifiable draw, the sealed
panel, the sitting and its votes, recordings, finalisation and fairness statistics.

Rules: R2 (only a filed institution/committee operates), R9–R12 (tiered use, the
commit–reveal draw, recusal, the external share), R14 (quorum, presiding seat, 2/3 to
pass, votes kept per expert), R15 (no results without a recording and a supervisor),
R19 (agreement and training before sitting; the panel stays sealed). Articles 6, 9,
13, 18, 20, 23, 26–28 and 30 of 京人社事业发〔2023〕13号.

Session lifecycle (resolvers/lifecycle.py): planned → committed (commit_draw) → drawn
(execute_draw) → sitting (record_attendance) → finalised (finalise_session). A redraw
abandons the current draw (kept in the record) and commits a new one in one step, so
the session goes from committed/drawn back to committed; one commitment allows one
draw. Finalised sessions are immutable: every mutation refuses with SESSION_FINALISED.

The draw algorithm is resolvers/draw.py (over the stdlib-only drawcore.py, which is
also the published verifier); this module only freezes its inputs from the database,
stores the commitment, the reveal and the panel, and serialises draws: two draws for
overlapping sessions never seat one expert twice (a lock plus a re-check inside the
executing transaction; a drawn expert already seated elsewhere in the meantime is
replaced through drawcore's decline rule, so the bundle still verifies).
"""

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models import (
    AgreementSignature,
    AgreementText,
    Committee,
    CommitteeSeat,
    ConflictDeclaration,
    Draw,
    EvaluationSession,
    Expert,
    ExpertEmployment,
    ExpertTerm,
    PanelMember,
    Recording,
    RoleAssignment,
    SessionApplicant,
    SupervisorAssignment,
    TrainingRecord,
    Unit,
    User,
    Vote,
)
from models.enums import (
    ApplicantResult,
    ConflictKind,
    DeclaredBy,
    DrawStatus,
    ExpertStatus,
    Level,
    PanelStatus,
    RecordingKind,
    Role,
    Seat,
    SessionStatus,
    TermStatus,
    VoteChoice,
)
from resolvers import audit, validate
from resolvers import draw as draws
from resolvers.actor import Actor
from resolvers.common import fk_id as _fk
from resolvers.common import utcnow as _now
from resolvers.config import get_config
from resolvers.directory import Page, PageArgs, Sort, paginate
from resolvers.draw import Candidate, DrawInputs, DrawResult, Excluded, ExclusionReason, Replacement
from resolvers.eligibility import ExpertFacts, check_can_sit
from resolvers.errors import DomainError, ErrorCode, NotFound, PermissionDenied, Unauthenticated
from resolvers.institution import NATIONAL_SERIES, add_years, assert_can_operate
from resolvers.lifecycle import check_transition
from resolvers.personal import decrypt, encrypt, normalize_id_number, protect_id_number
from resolvers.policy import Perm, require, scope_filter, scoped

S = SessionStatus
BEIJING = ZoneInfo("Asia/Shanghai")
# Arbitrary constant (the audit chain uses ...001): serialises every draw of the
# process group on PostgreSQL; SQLite transactions are serialised by the backend.
_DRAW_LOCK_KEY = 7_264_839_002
RECUSAL_YEARS = 3  # R11: employment at the applicant's unit within the last 3 years
TEXT_MAX = 2000
MAX_BACKUPS = 20
MAX_APPLICANTS_PER_CALL = 500
PRESIDING = frozenset({Seat.CHAIR, Seat.VICE_CHAIR})
BUSY_REASON = "已入选时间重叠的其他评审会议"
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_LIVE_PANEL = (PanelStatus.INVITED, PanelStatus.ACCEPTED)


# --- value types ------------------------------------------------------------------

# Shared input checks (resolvers/validate.py), with this module's defaults.
_text = validate.text
_enum = validate.enum_value


@dataclass(frozen=True)
class ApplicantOutcome:
    """What an applicant may see of their result (R14): counts only, never who voted."""

    applicant_id: int
    result: ApplicantResult
    finalised: bool
    present: int
    votes_for: int
    votes_against: int
    votes_abstain: int


@dataclass(frozen=True)
class FairnessRow:
    """How often one roster expert was drawn, against the uniform expectation.

    `expected` sums k / eligible-count over the executed draws the expert was eligible
    for; `outlier` flags |observed − expected| > 3·sqrt(expected) (a Poisson-style
    three-sigma band). Quotas (the presiding seat, R12) legitimately raise the odds of
    chairs and external experts, so an outlier is a prompt to look, not a verdict.
    """

    expert_id: int | None
    number: str
    name: str
    draws_eligible: int
    observed: int
    expected: Fraction
    outlier: bool


# --- small helpers ----------------------------------------------------------------


def _today() -> dt.date:
    return dt.datetime.now(BEIJING).date()


def session_day(session: EvaluationSession) -> dt.date:
    """The sitting's calendar day in Beijing: terms and R9 are judged on this day."""
    return session.starts_at.astimezone(BEIJING).date()


def _int(value: Any, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise DomainError(ErrorCode.INVALID, "应为整数", field)
    return value


def _own_experts(actor: Actor) -> set[int]:
    return {g.expert_id for g in actor.grants_of(Role.EXPERT) if g.expert_id is not None}


def _either(*clauses: Q | None) -> Q | None:
    if any(q is None for q in clauses):
        return None
    return Q(*clauses, join_type="OR")  # type: ignore[arg-type]


async def _supervised(actor: Actor) -> frozenset[int]:
    """Session ids the actor is assigned to supervise (Art. 30); policy's SUPERVISED."""
    if actor.user_id is None:
        return frozenset()
    ids = await SupervisorAssignment.filter(user_id=actor.user_id).values_list(
        "session_id", flat=True
    )
    return frozenset(int(i) for i in ids)  # type: ignore[call-overload]


async def load_session(actor: Actor, session_id: int, perm: Perm) -> EvaluationSession:
    """The session, if the actor may see it (else NotFound) and may `perm` it (else
    PermissionDenied). Committee and institution are loaded for the R2 guard."""
    supervised = await _supervised(actor)
    q = _either(
        scope_filter(actor, Perm.SESSION_VIEW, "EvaluationSession", supervised=supervised),
        scope_filter(actor, perm, "EvaluationSession", supervised=supervised),
    )
    qs = EvaluationSession.filter(id=session_id)
    if q is not None:
        qs = qs.filter(q)
    session = await qs.select_related("committee", "institution").first()
    if session is None:
        raise NotFound("评审会议不存在")
    require(actor, perm, session, supervised=supervised)
    return session


def _open(session: EvaluationSession) -> None:
    if session.status == S.FINALISED:
        raise DomainError(
            ErrorCode.SESSION_FINALISED, "评审会议结果已确定，不能再修改", "sessionId"
        )
    if session.status == S.CANCELLED:
        raise DomainError(ErrorCode.INVALID_TRANSITION, "评审会议已取消", "sessionId")


def _guard(session: EvaluationSession) -> None:
    """R2 on the sitting's operating day (today: the work is being done now)."""
    assert_can_operate(session.institution, session.committee, _today())


async def _staff_conflicted(user_id: int, session_id: int) -> bool:
    """R11 for staff (Art. 26 工作人员): a declared conflict with an applicant of the
    session, directly or as a relative matched by name and unit."""
    rows = await ConflictDeclaration.filter(staff_id=user_id).values(
        "session_id", "applicant_id", "relative_name", "relative_unit_id"
    )
    if not rows:
        return False
    applicants = set(
        await SessionApplicant.filter(session_id=session_id).values_list("name", "unit_id")
    )
    for row in rows:
        if row["session_id"] == session_id and row["applicant_id"] is not None:
            return True
        if row["relative_name"] and (row["relative_name"], row["relative_unit_id"]) in applicants:
            return True
    return False


async def _operable(actor: Actor, session: EvaluationSession) -> None:
    _open(session)
    if actor.user_id is not None and await _staff_conflicted(actor.user_id, session.id):
        raise DomainError(
            ErrorCode.STAFF_CONFLICT,
            "您与本场评审会议的申报人存在应回避的关系，不能操作",
            "sessionId",
        )


def _version_conflict() -> DomainError:
    return DomainError(ErrorCode.VERSION_CONFLICT, "数据已被他人修改,请刷新后重试", "version")


async def _save(session: EvaluationSession, changes: Mapping[str, Any]) -> None:
    """Write `changes` and bump the version only if nobody changed the session since it
    was loaded; also takes the row lock that serialises work on one session."""
    seen = session.version
    values = {**changes, "version": seen + 1, "updated_at": _now()}
    updated = await EvaluationSession.filter(pk=session.pk, version=seen).update(**values)
    if updated != 1:
        raise _version_conflict()
    for name, value in values.items():
        setattr(session, name, value)


async def _transition(actor: Actor, session: EvaluationSession, target: SessionStatus) -> None:
    before = {"status": session.status, "version": session.version}
    check_transition(SessionStatus(session.status), target)
    await _save(session, {"status": target})
    await audit.record(
        actor,
        "evaluation_session.status",
        session,
        before=before,
        after={"status": target, "version": session.version},
    )


async def _draw_lock() -> None:
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query(f"SELECT pg_advisory_xact_lock({_DRAW_LOCK_KEY})")


async def _current_panel(session_id: int) -> list[PanelMember]:
    """Seated members of the executed draw: not backups, not declined."""
    return (
        await PanelMember.filter(
            session_id=session_id, draw__status=DrawStatus.EXECUTED, is_backup=False
        )
        .exclude(status=PanelStatus.DECLINED)
        .select_related("expert")
        .order_by("rank")
    )


# --- sessions ---------------------------------------------------------------------


async def get_evaluation_session(actor: Actor, session_id: int) -> EvaluationSession:
    """One session: its institution's staff, its supervisors and the bureau."""
    return await load_session(actor, session_id, Perm.SESSION_VIEW)


async def list_session_applicants(actor: Actor, session_id: int) -> list[SessionApplicant]:
    session = await load_session(actor, session_id, Perm.SESSION_VIEW)
    return await SessionApplicant.filter(session_id=session.id).order_by("id")


async def create_evaluation_session(
    actor: Actor,
    committee_id: int,
    *,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    place: str,
    panel_size: int,
    backup_count: int = 2,
) -> EvaluationSession:
    """Plan a sitting of a filed committee (Art. 9(五), 18; R2).

    The panel is an odd number of at least 3, no larger than the roster (committee
    membership is odd, 人社部令第40号). Side effects: an EvaluationSession (planned),
    audit "evaluation_session.create".
    """
    committee = (
        await scoped(actor, Perm.COMMITTEE_VIEW, Committee.filter(id=committee_id))
        .select_related("institution")
        .first()
    )
    if committee is None:
        raise NotFound("评委会不存在")
    require(actor, Perm.SESSION_MANAGE, committee)
    assert_can_operate(committee.institution, committee, _today())
    for value, field in ((starts_at, "startsAt"), (ends_at, "endsAt")):
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise DomainError(ErrorCode.INVALID, "时间须带时区", field)
    if ends_at <= starts_at:
        raise DomainError(ErrorCode.INVALID, "结束时间须晚于开始时间", "endsAt")
    if starts_at.astimezone(BEIJING).date() < _today():
        raise DomainError(ErrorCode.INVALID, "评审会议日期不能早于今天", "startsAt")
    place = _text(place, "place", max_length=200)
    panel_size = _int(panel_size, "panelSize")
    backup_count = _int(backup_count, "backupCount")
    if panel_size < 3 or panel_size % 2 == 0:
        raise DomainError(ErrorCode.INVALID, "评审组人数应为不少于3的单数", "panelSize")
    roster = await CommitteeSeat.filter(committee_id=committee.id).count()
    if panel_size > roster:
        raise DomainError(
            ErrorCode.INVALID, f"评审组人数不能超过评委会专家人数（{roster}人）", "panelSize"
        )
    if not 0 <= backup_count <= MAX_BACKUPS:
        raise DomainError(ErrorCode.INVALID, f"备选人数应为0到{MAX_BACKUPS}", "backupCount")
    async with in_transaction():
        session = await EvaluationSession.create(
            committee_id=committee.id,
            institution_id=_fk(committee, "institution"),
            year=starts_at.astimezone(BEIJING).year,
            starts_at=starts_at,
            ends_at=ends_at,
            place=place,
            panel_size=panel_size,
            backup_count=backup_count,
        )
        await audit.record(
            actor, "evaluation_session.create", session, after=audit.snapshot(session)
        )
    return session


async def add_session_applicants(
    actor: Actor, session_id: int, *, applicants: Sequence[Mapping[str, Any]]
) -> list[SessionApplicant]:
    """Add applicants (name, id_number, unit_id, series, specialty, level) before the
    draw: recusal is computed against them when the pool is frozen (R11).

    The ID number is validated (GB 11643) and stored encrypted with a keyed hash and a
    mask. The level must be the committee's level (R9 is judged against it). Side
    effects: SessionApplicant rows, session version +1, audit per applicant.
    """
    session = await load_session(actor, session_id, Perm.SESSION_MANAGE)
    await _operable(actor, session)
    if session.status != S.PLANNED:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION, "专家抽取已承诺，不能再增加申报人", "applicants"
        )
    if not applicants:
        raise DomainError(ErrorCode.REQUIRED, "请至少填写一名申报人", "applicants")
    if len(applicants) > MAX_APPLICANTS_PER_CALL:
        raise DomainError(
            ErrorCode.TOO_LONG, f"每次最多{MAX_APPLICANTS_PER_CALL}名申报人", "applicants"
        )
    committee = session.committee
    rows: list[dict[str, Any]] = []
    for i, item in enumerate(applicants):
        f = f"applicants[{i}]"
        id_number = normalize_id_number(str(item.get("id_number") or ""), field=f"{f}.idNumber")
        series = _text(item.get("series"), f"{f}.series", max_length=50)
        if series not in NATIONAL_SERIES:
            raise DomainError(
                ErrorCode.INVALID, "评审系列应为国家规定的职称系列之一", f"{f}.series"
            )
        if series != committee.series:
            raise DomainError(ErrorCode.INVALID, "申报系列与评委会系列不一致", f"{f}.series")
        level = _enum(Level, item.get("level"), f"{f}.level")
        if level != committee.level:
            raise DomainError(ErrorCode.INVALID, "申报层级与评委会评审层级不一致", f"{f}.level")
        rows.append(
            {
                "name": _text(item.get("name"), f"{f}.name", max_length=50),
                "unit_id": _int(item.get("unit_id"), f"{f}.unitId"),
                "series": series,
                "specialty": _text(item.get("specialty"), f"{f}.specialty", max_length=100),
                "level": level,
                **protect_id_number(id_number),
            }
        )
    units = set(await Unit.filter(id__in=[r["unit_id"] for r in rows]).values_list("id", flat=True))
    hashes: set[str] = set(
        await SessionApplicant.filter(session_id=session.id).values_list(
            "id_number_hash", flat=True
        )  # type: ignore[arg-type]
    )
    for i, row in enumerate(rows):
        if row["unit_id"] not in units:
            raise DomainError(ErrorCode.INVALID, "所在单位不存在", f"applicants[{i}].unitId")
        if row["id_number_hash"] in hashes:
            raise DomainError(
                ErrorCode.DUPLICATE, "该申报人已在本场评审会议中", f"applicants[{i}].idNumber"
            )
        hashes.add(row["id_number_hash"])
    created: list[SessionApplicant] = []
    async with in_transaction():
        await _save(session, {})
        for row in rows:
            applicant = await SessionApplicant.create(session_id=session.id, **row)
            await audit.record(
                actor, "session_applicant.add", applicant, after=audit.snapshot(applicant)
            )
            created.append(applicant)
    return created


async def assign_supervisor(actor: Actor, session_id: int, user_id: int) -> SupervisorAssignment:
    """Assign a 监督委员 to the session (Art. 30): the bureau or a recommending
    authority; the user must hold the supervisor role. Side effects: a
    SupervisorAssignment, session version +1, audit "supervisor.assign"."""
    session = await load_session(actor, session_id, Perm.SESSION_ASSIGN_SUPERVISOR)
    _open(session)
    if not await User.filter(id=user_id, is_active=True).exists():
        raise DomainError(ErrorCode.INVALID, "用户不存在", "userId")
    if not await RoleAssignment.filter(user_id=user_id, role=Role.SUPERVISOR).exists():
        raise DomainError(ErrorCode.INVALID, "该用户不是监督委员", "userId")
    if await SupervisorAssignment.filter(session_id=session.id, user_id=user_id).exists():
        raise DomainError(ErrorCode.DUPLICATE, "该监督委员已被指派到本场评审会议", "userId")
    async with in_transaction():
        await _save(session, {})
        row = await SupervisorAssignment.create(
            session_id=session.id, user_id=user_id, assigned_by_id=actor.user_id
        )
        await audit.record(actor, "supervisor.assign", row, after=audit.snapshot(row))
    return row


async def record_session_training(
    actor: Actor,
    session_id: int,
    *,
    expert_ids: Iterable[int],
    trained_on: dt.date,
    topic: str,
) -> list[TrainingRecord]:
    """评前培训 for this session (Art. 9(四), R19): roster experts only; the draw pools
    only trained experts. Side effects: TrainingRecord rows, session version +1, audit."""
    session = await load_session(actor, session_id, Perm.SESSION_MANAGE)
    await _operable(actor, session)
    ids = sorted(set(expert_ids))
    if not ids:
        raise DomainError(ErrorCode.REQUIRED, "请选择参加培训的专家", "expertIds")
    on_roster = set(
        await CommitteeSeat.filter(
            committee_id=_fk(session, "committee"), expert_id__in=ids
        ).values_list("expert_id", flat=True)
    )
    if on_roster != set(ids):
        raise DomainError(ErrorCode.INVALID, "只能为本评委会的专家记录培训", "expertIds")
    if not isinstance(trained_on, dt.date) or isinstance(trained_on, dt.datetime):
        raise DomainError(ErrorCode.INVALID, "培训日期无效", "trainedOn")
    if trained_on > _today():
        raise DomainError(ErrorCode.INVALID, "培训日期不能晚于今天", "trainedOn")
    topic = _text(topic, "topic", max_length=200)
    if await TrainingRecord.filter(session_id=session.id, expert_id__in=ids).exists():
        raise DomainError(ErrorCode.DUPLICATE, "已有专家记录过本场评审会议的培训", "expertIds")
    records: list[TrainingRecord] = []
    async with in_transaction():
        await _save(session, {})
        for expert_id in ids:
            record = await TrainingRecord.create(
                expert_id=expert_id,
                session_id=session.id,
                trained_on=trained_on,
                topic=topic,
                recorded_by_id=actor.user_id,
            )
            await audit.record(actor, "training.record", record, after=audit.snapshot(record))
            records.append(record)
    return records


# --- recusal (Art. 26, R11) ---------------------------------------------------------


async def _session_visible(actor: Actor, session: EvaluationSession) -> bool:
    """Who may know a session exists: viewers, its applicants, its roster experts."""
    supervised = await _supervised(actor)
    q = scope_filter(actor, Perm.SESSION_VIEW, "EvaluationSession", supervised=supervised)
    qs = EvaluationSession.filter(id=session.id)
    if await (qs if q is None else qs.filter(q)).exists():
        return True
    own_applications = {g.applicant_id for g in actor.grants_of(Role.APPLICANT)}
    if (
        own_applications
        and await SessionApplicant.filter(
            session_id=session.id, id__in=list(own_applications)
        ).exists()
    ):
        return True
    experts = _own_experts(actor)
    return (
        bool(experts)
        and await CommitteeSeat.filter(
            committee_id=_fk(session, "committee"), expert_id__in=list(experts)
        ).exists()
    )


async def declare_conflict(
    actor: Actor,
    session_id: int,
    *,
    applicant_id: int | None,
    kind: ConflictKind | str,
    detail: str,
    expert_id: int | None = None,
    staff_user_id: int | None = None,
    relative_name: str = "",
    relative_unit_id: int | None = None,
) -> ConflictDeclaration:
    """Declare a recusal ground (Art. 26, R11) between an expert or a staff member and
    an applicant of the session.

    Declarants: the expert about themself (expert_id defaults to them), the applicant
    about their own application, or the institution's staff about anyone. A relative
    may be declared without an applicant id, by the relative's name and unit: the draw
    matches it against every session's applicants. Side effects: a ConflictDeclaration,
    audit "conflict.declare". Declarations made after the pool is frozen do not change
    that draw: a drawn expert then declines (decline_invitation).
    """
    session = await EvaluationSession.filter(id=session_id).first()
    if session is None or not await _session_visible(actor, session):
        raise NotFound("评审会议不存在")
    own_experts = _own_experts(actor)
    own_applications = {g.applicant_id for g in actor.grants_of(Role.APPLICANT)}
    if applicant_id is not None and applicant_id in own_applications:
        declared_by = DeclaredBy.APPLICANT
    elif actor.has(Role.INSTITUTION) and _fk(session, "institution") in {
        g.institution_id for g in actor.grants_of(Role.INSTITUTION)
    }:
        declared_by = DeclaredBy.STAFF
    else:
        declared_by = DeclaredBy.EXPERT
        if expert_id is None and staff_user_id is None and len(own_experts) == 1:
            expert_id = next(iter(own_experts))
    kind = _enum(ConflictKind, kind, "kind")
    probe = ConflictDeclaration(
        session=session, applicant_id=applicant_id, expert_id=expert_id, staff_id=staff_user_id
    )
    require(actor, Perm.CONFLICT_DECLARE, probe)
    _open(session)
    if (expert_id is None) == (staff_user_id is None):
        raise DomainError(ErrorCode.INVALID, "须且只能指明一名专家或一名工作人员", "expertId")
    detail = _text(
        detail,
        "detail",
        max_length=TEXT_MAX,
        required=kind in (ConflictKind.DISPUTE, ConflictKind.INTEREST, ConflictKind.OTHER),
    )
    relative_name = _text(relative_name, "relativeName", max_length=50, required=False)
    if applicant_id is None:
        if declared_by == DeclaredBy.APPLICANT or kind != ConflictKind.RELATIVE:
            raise DomainError(ErrorCode.REQUIRED, "请指明申报人", "applicantId")
        if not relative_name:
            raise DomainError(ErrorCode.REQUIRED, "请填写亲属姓名", "relativeName")
        if relative_unit_id is None:
            raise DomainError(ErrorCode.REQUIRED, "请选择亲属所在单位", "relativeUnitId")
    elif not await SessionApplicant.filter(id=applicant_id, session_id=session.id).exists():
        raise DomainError(ErrorCode.INVALID, "申报人不属于本场评审会议", "applicantId")
    if relative_unit_id is not None and not await Unit.filter(id=relative_unit_id).exists():
        raise DomainError(ErrorCode.INVALID, "单位不存在", "relativeUnitId")
    if relative_name and relative_unit_id is None:
        raise DomainError(ErrorCode.REQUIRED, "请选择亲属所在单位", "relativeUnitId")
    if expert_id is not None and not await Expert.filter(id=expert_id).exists():
        raise DomainError(ErrorCode.INVALID, "专家不存在", "expertId")
    if (
        staff_user_id is not None
        and not await RoleAssignment.filter(
            user_id=staff_user_id, role=Role.INSTITUTION, institution_id=_fk(session, "institution")
        ).exists()
    ):
        raise DomainError(ErrorCode.INVALID, "该用户不是本评审机构的工作人员", "staffUserId")
    async with in_transaction():
        row = await ConflictDeclaration.create(
            session_id=session.id,
            applicant_id=applicant_id,
            expert_id=expert_id,
            staff_id=staff_user_id,
            kind=kind,
            declared_by=declared_by,
            relative_name=relative_name,
            relative_unit_id=relative_unit_id,
            detail=detail,
        )
        await audit.record(actor, "conflict.declare", row, after=audit.snapshot(row))
    return row


def _conflict_detail(applicant_id: int, why: str) -> str:
    # Published in the bundle: an internal applicant id and a code, no personal data.
    return f"申报人#{applicant_id}:{why}"


async def _expert_conflicts(
    session: EvaluationSession,
    applicants: Sequence[SessionApplicant],
    experts: Mapping[int, Expert],
    host_credit_code: str | None,
) -> dict[int, set[str]]:
    """expert id → conflict details with the session's applicants (R11)."""
    day = session_day(session)
    found: dict[int, set[str]] = defaultdict(set)
    by_code: dict[str, list[int]] = defaultdict(list)
    by_relative: dict[tuple[str, int], list[int]] = defaultdict(list)
    for a in applicants:
        code = a.unit.credit_code
        # Art. 23: a self-evaluation committee evaluates its own staff with its own
        # experts (R12 caps them); the host unit is not an interest relationship there.
        if code != host_credit_code:
            by_code[code].append(a.id)
        by_relative[(a.name, _fk(a, "unit"))].append(a.id)
    for expert in experts.values():
        for aid in by_code.get(expert.unit.credit_code, ()):
            found[expert.id].add(_conflict_detail(aid, "same_employer"))
    ids = list(experts)
    if by_code:
        cutoff = add_years(day, -RECUSAL_YEARS)
        rows = (
            await ExpertEmployment.filter(
                expert_id__in=ids, unit__credit_code__in=list(by_code), start_on__lte=day
            )
            .filter(Q(end_on=None) | Q(end_on__gte=cutoff))
            .values("expert_id", "unit__credit_code")
        )
        for row in rows:
            for aid in by_code[row["unit__credit_code"]]:
                found[row["expert_id"]].add(_conflict_detail(aid, "recent_employer"))
    applicant_ids = {a.id for a in applicants}
    # A relative is a relative in every session: relative declarations of any session
    # count; other grounds count for the session they were declared for.
    declarations = (
        await ConflictDeclaration.filter(expert_id__in=ids)
        .filter(Q(session_id=session.id) | Q(kind=ConflictKind.RELATIVE))
        .values(
            "expert_id", "session_id", "applicant_id", "kind", "relative_name", "relative_unit_id"
        )
    )
    for d in declarations:
        if d["session_id"] == session.id and d["applicant_id"] in applicant_ids:
            found[d["expert_id"]].add(_conflict_detail(d["applicant_id"], f"declared_{d['kind']}"))
        if d["relative_name"]:
            for aid in by_relative.get((d["relative_name"], d["relative_unit_id"]), ()):
                found[d["expert_id"]].add(_conflict_detail(aid, "relative"))
    return found


# --- the draw (Art. 13, R10–R12) ----------------------------------------------------


async def _busy(session: EvaluationSession) -> dict[str, int]:
    """Expert number → another session, overlapping in time, whose executed draw seats
    them (invited or accepted, not a backup)."""
    rows = (
        await PanelMember.filter(
            draw__status=DrawStatus.EXECUTED,
            is_backup=False,
            status__in=_LIVE_PANEL,
            session__starts_at__lt=session.ends_at,
            session__ends_at__gt=session.starts_at,
        )
        .exclude(session_id=session.id)
        .exclude(session__status=S.CANCELLED)
        .values("expert__number", "session_id")
    )
    return {r["expert__number"]: r["session_id"] for r in rows}


async def _freeze_pool(session: EvaluationSession) -> DrawInputs:
    """The eligible pool and every exclusion with its reason code (R10, R11, R19)."""
    committee: Committee = session.committee
    day = session_day(session)
    seats = await CommitteeSeat.filter(committee_id=committee.id).select_related("expert__unit")
    experts = {s.expert.id: s.expert for s in seats}
    ids = list(experts)
    host: str | None = None
    if committee.self_evaluation:
        institution = session.institution
        unit = await Unit.filter(id=_fk(institution, "unit")).first()
        if unit is None:
            raise DomainError(
                ErrorCode.INVALID, "自主评聘评委会所属单位未登记统一社会信用代码", "committeeId"
            )
        host = unit.credit_code
    applicants = await SessionApplicant.filter(session_id=session.id).select_related("unit")
    in_term = set(
        await ExpertTerm.filter(
            expert_id__in=ids, status=TermStatus.ACTIVE, start_on__lte=day, end_on__gte=day
        ).values_list("expert_id", flat=True)
    )
    latest = await AgreementText.all().order_by("-created_at", "-id").first()
    signed: set[Any] = set()
    if latest is not None:
        signed = set(
            await AgreementSignature.filter(
                expert_id__in=ids, agreement_id=latest.id, content_hash=latest.content_hash
            ).values_list("expert_id", flat=True)
        )
    trained = set(
        await TrainingRecord.filter(expert_id__in=ids)
        .filter(Q(session_id=session.id) | Q(session_id=None, year=session.year))
        .values_list("expert_id", flat=True)
    )
    busy = await _busy(session)
    conflicts = await _expert_conflicts(session, applicants, experts, host)
    eligible: list[Candidate] = []
    exclusions: list[Excluded] = []
    R = ExclusionReason
    for seat in seats:
        e = seat.expert
        out: list[Excluded] = []
        if e.status != ExpertStatus.IN_POOL:
            out.append(Excluded(e.number, R.NOT_IN_POOL, str(e.status)))
        if e.id not in in_term:
            out.append(Excluded(e.number, R.TERM_ENDED))
        if e.id not in signed:
            out.append(Excluded(e.number, R.AGREEMENT_MISSING, latest.version if latest else ""))
        if e.id not in trained:
            out.append(Excluded(e.number, R.NOT_TRAINED))
        reasons = check_can_sit(ExpertFacts.from_model(e), Level(committee.level), day)
        if reasons:
            codes = ",".join(r.code.value for r in reasons)
            out.append(Excluded(e.number, R.LEVEL_NOT_QUALIFIED, codes))
        if e.number in busy:
            out.append(Excluded(e.number, R.OVERLAPPING_SESSION, f"评审会议#{busy[e.number]}"))
        for detail in sorted(conflicts.get(e.id, ())):
            out.append(Excluded(e.number, R.CONFLICT_WITH_APPLICANT, detail))
        if out:
            exclusions.extend(out)
        else:
            eligible.append(Candidate(e.number, Seat(seat.seat), e.unit.credit_code))
    return draws.build_inputs(
        session_id=session.id,
        committee_id=committee.id,
        k=session.panel_size,
        backup_count=session.backup_count,
        self_evaluation=committee.self_evaluation,
        host_unit_credit_code=host,
        eligible=eligible,
        exclusions=exclusions,
    )


async def _new_commitment(actor: Actor, session: EvaluationSession) -> Draw:
    inputs = await _freeze_pool(session)
    # Feasibility (enough eligible, a presiding seat, R12) does not depend on the seed:
    # refuse now rather than after the commitment is published.
    draws.check_feasible(inputs)
    secret, pool_digest, secret_digest = draws.commit(inputs)
    row = await Draw.create(
        session_id=session.id,
        status=DrawStatus.COMMITTED,
        inputs=inputs,
        pool_hash=pool_digest,
        secret_enc=encrypt(secret.hex()),
        secret_hash=secret_digest,
        committed_at=_now(),
    )
    await audit.record(
        actor,
        "draw.commit",
        row,
        after={
            "session_id": session.id,
            "pool_hash": pool_digest,
            "secret_hash": secret_digest,
            "eligible": len(inputs["eligible"]),
            "exclusions": len(inputs["exclusions"]),
        },
    )
    return row


async def commit_draw(actor: Actor, session_id: int) -> Draw:
    """Freeze the pool and publish the commitment (R10 step 1–2).

    Pool = committee roster ∩ in pool ∩ active term covering the sitting day ∩ signed
    the latest agreement ∩ trained (for this session or its year) ∩ R9 for the
    committee's level ∩ not seated on an overlapping session ∩ no conflict with any
    applicant. Side effects: a Draw (committed, secret encrypted), session → committed,
    audit "draw.commit" and the status change.
    """
    session = await load_session(actor, session_id, Perm.SESSION_MANAGE)
    await _operable(actor, session)
    _guard(session)
    if session.status != S.PLANNED:
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            "本场评审会议已有抽取承诺；重新抽取须说明理由并经监督委员确认",
            "sessionId",
        )
    if not await SessionApplicant.filter(session_id=session.id).exists():
        raise DomainError(ErrorCode.REQUIRED, "请先录入申报人，回避须据此确定", "applicants")
    async with in_transaction():
        await _draw_lock()
        row = await _new_commitment(actor, session)
        await _transition(actor, session, S.COMMITTED)
    return row


def _result_json(result: DrawResult) -> dict[str, Any]:
    return {
        "panel": list(result.panel),
        "backups": list(result.backups),
        "replacements": [
            {"declined": r.declined, "replacement": r.replacement, "reason": r.reason}
            for r in result.replacements
        ],
    }


def _stored_result(row: Draw) -> DrawResult:
    base = draws.draw(row.inputs, row.seed)
    return DrawResult(
        seed=base.seed,
        ranking=base.ranking,
        panel=base.panel,
        backups=base.backups,
        replacements=tuple(Replacement(**r) for r in row.result["replacements"]),
    )


def _settle(result: DrawResult, inputs: DrawInputs, busy: Mapping[str, int]) -> DrawResult:
    """Replace, by drawcore's decline rule, anyone on the panel who is already seated on
    an overlapping session (a draw that ran after this pool was frozen)."""
    inputs = draws.normalize(inputs)  # once, not once per replacement
    while clash := [n for n in result.current_panel if n in busy]:
        reason = f"{BUSY_REASON}（评审会议#{busy[clash[0]]}）"
        result = draws.replace(result, clash[0], inputs, reason=reason)
    return result


async def _apply_result(
    session: EvaluationSession, row: Draw, result: DrawResult, start: int, *, initial: bool
) -> list[PanelMember]:
    """Create PanelMember rows for the panel and backups (when `initial`), then apply the
    replacements from index `start` on. Returns the rows touched."""
    seats = {e["number"]: e["seat"] for e in row.inputs["eligible"]}
    position = {n: i + 1 for i, n in enumerate(result.ranking)}
    numbers = {*result.panel, *result.backups, *(r.replacement for r in result.replacements)}
    expert_ids = dict(
        await Expert.filter(number__in=list(numbers)).values_list("number", "id")  # type: ignore[arg-type]
    )
    members = {
        m.expert_id: m  # type: ignore[attr-defined]
        for m in await PanelMember.filter(draw_id=row.id)
    }
    touched: list[PanelMember] = []

    async def create(number: str, *, backup: bool, replaces: int | None = None) -> PanelMember:
        member = await PanelMember.create(
            session_id=session.id,
            draw_id=row.id,
            expert_id=expert_ids[number],
            rank=position[number],
            seat=seats[number],
            is_backup=backup,
            replaces_id=replaces,
        )
        members[expert_ids[number]] = member
        touched.append(member)
        return member

    if initial:
        for number in result.panel:
            await create(number, backup=False)
        for number in result.backups:
            await create(number, backup=True)
    for r in result.replacements[start:]:
        gone = members[expert_ids[r.declined]]
        gone.status = PanelStatus.DECLINED
        gone.decline_reason = r.reason
        await gone.save(update_fields=["status", "decline_reason", "updated_at"])
        touched.append(gone)
        existing = members.get(expert_ids[r.replacement])
        if existing is None:
            await create(r.replacement, backup=False, replaces=gone.id)
        else:
            existing.is_backup = False
            existing.replaces_id = gone.id  # type: ignore[attr-defined]
            await existing.save(update_fields=["is_backup", "replaces_id", "updated_at"])
            touched.append(existing)
    return touched


async def execute_draw(actor: Actor, session_id: int, *, entropy: str) -> Draw:
    """Draw the panel (R10 step 3) with public entropy entered by an assigned supervisor,
    then reveal the secret.

    Runs under the draw lock and re-checks, inside the transaction, who is already
    seated on an overlapping session, so concurrent draws never seat one expert twice.
    Side effects: the Draw gets entropy, seed, result and the revealed secret (status
    executed); PanelMember rows (panel with roster seats, backups); session → drawn;
    audit "draw.execute" and the status change.
    """
    session = await load_session(actor, session_id, Perm.SESSION_SUPERVISE)
    await _operable(actor, session)
    _guard(session)
    if session.status != S.COMMITTED:
        if session.status in (S.DRAWN, S.SITTING):
            raise DomainError(
                ErrorCode.DRAW_ALREADY_EXECUTED,
                "本次承诺已完成抽取，一次承诺只能抽取一次",
                "sessionId",
            )
        raise DomainError(ErrorCode.INVALID_TRANSITION, "尚未公布抽取承诺", "sessionId")
    if not isinstance(entropy, str):
        raise DomainError(ErrorCode.INVALID, "公开随机数应为文本", "entropy")
    async with in_transaction():
        await _draw_lock()
        row = await Draw.filter(session_id=session.id, status=DrawStatus.COMMITTED).first()
        if row is None:
            raise DomainError(
                ErrorCode.DRAW_ALREADY_EXECUTED,
                "本次承诺已完成抽取，一次承诺只能抽取一次",
                "sessionId",
            )
        secret = bytes.fromhex(decrypt(row.secret_enc))
        inputs = draws.normalize(row.inputs)  # validated once for execute and _settle
        result = draws.execute(inputs, secret, entropy)
        result = _settle(result, inputs, await _busy(session))
        values = {
            "status": DrawStatus.EXECUTED,
            "entropy": entropy,
            "seed": result.seed,
            "secret_revealed": secret.hex(),
            "result": _result_json(result),
            "executed_at": _now(),
        }
        updated = await Draw.filter(id=row.id, status=DrawStatus.COMMITTED).update(**values)
        if updated != 1:
            raise DomainError(
                ErrorCode.DRAW_ALREADY_EXECUTED,
                "本次承诺已完成抽取，一次承诺只能抽取一次",
                "sessionId",
            )
        for name, value in values.items():
            setattr(row, name, value)
        await _apply_result(session, row, result, 0, initial=True)
        await audit.record(
            actor,
            "draw.execute",
            row,
            after={
                "entropy": entropy,
                "seed": result.seed,
                "secret_revealed": secret.hex(),
                **_result_json(result),
            },
        )
        await _transition(actor, session, S.DRAWN)
    return row


async def _executed_draw(session: EvaluationSession) -> Draw:
    row = await Draw.filter(session_id=session.id, status=DrawStatus.EXECUTED).first()
    if row is None:
        raise DomainError(ErrorCode.DRAW_NOT_EXECUTED, "尚未抽取，随机数种子尚未公开", "sessionId")
    return row


async def draw_bundle(actor: Actor, session_id: int) -> dict[str, Any]:
    """The published JSON of the executed draw (R10 step 5), verifiable by
    `python resolvers/drawcore.py bundle.json`.

    R19: until the session is finalised only those who may see the panel (staff,
    supervisors, the bureau) get it; afterwards it is public.
    """
    session = await EvaluationSession.filter(id=session_id).first()
    if session is None or session.status != S.FINALISED:
        session = await load_session(actor, session_id, Perm.PANEL_VIEW)
    row = await _executed_draw(session)
    return draws.bundle(
        row.inputs, bytes.fromhex(row.secret_revealed), row.entropy, _stored_result(row)
    )


async def list_draws(actor: Actor, session_id: int) -> list[Draw]:
    """Every draw of the session, abandoned ones included, oldest first (commitments are
    shown before the draw; the record stays complete after a redraw)."""
    session = await load_session(actor, session_id, Perm.PANEL_VIEW)
    return await Draw.filter(session_id=session.id).order_by("id")


async def decline_invitation(actor: Actor, panel_member_id: int, *, reason: str) -> PanelMember:
    """A drawn expert declines (with a reason) and is replaced by the next eligible rank
    through the same seed sequence (R10 step 4).

    Who: the drawn expert, or the session's institution staff on the expert's behalf
    (the expert phoned or wrote in; Art. 25 invitations are the institution's work).
    Staff need SESSION_MANAGE on the session and must not be conflicted (R11);
    supervisors and the bureau see the panel but do not decline (PermissionDenied).

    Side effects: the member → declined; the replacement (a backup promoted, or a new
    PanelMember) with `replaces`; the replacement recorded in Draw.result (and so in the
    bundle); session version +1; audit "panel_member.decline" by the acting user, with
    `on_behalf` true when staff declined for the expert.
    """
    supervised = await _supervised(actor)
    member = (
        await scoped(
            actor, Perm.PANEL_VIEW, PanelMember.filter(id=panel_member_id), supervised=supervised
        )
        .select_related("session", "draw", "expert")
        .first()
    )
    if member is None:
        raise NotFound("邀请不存在")
    session: EvaluationSession = member.session
    on_behalf = member.expert_id not in _own_experts(actor)  # type: ignore[attr-defined]
    if on_behalf:
        if not actor.has(Role.INSTITUTION) and not actor.is_system:
            raise PermissionDenied("只能由被抽中的专家本人或评审机构工作人员谢绝")
        require(actor, Perm.SESSION_MANAGE, session)
        await _operable(actor, session)
    _open(session)
    reason = _text(reason, "reason", max_length=TEXT_MAX)
    if member.is_backup:
        raise DomainError(ErrorCode.INVALID, "备选专家尚未被邀请，无需谢绝", "panelMemberId")
    if member.draw.status != DrawStatus.EXECUTED or session.status != S.DRAWN:
        raise DomainError(ErrorCode.INVALID_TRANSITION, "该邀请已失效或评审已开始", "panelMemberId")
    check_transition(PanelStatus(member.status), PanelStatus.DECLINED, field="panelMemberId")
    async with in_transaction():
        await _draw_lock()
        row = await Draw.filter(id=member.draw.id, status=DrawStatus.EXECUTED).first()
        if row is None:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "该邀请已失效", "panelMemberId")
        before = _stored_result(row)
        result = draws.replace(before, member.expert.number, row.inputs, reason=reason)
        result = _settle(result, row.inputs, await _busy(session))
        row.result = _result_json(result)
        await row.save(update_fields=["result", "updated_at"])
        touched = await _apply_result(session, row, result, len(before.replacements), initial=False)
        await _save(session, {})
        await audit.record(
            actor,
            "panel_member.decline",
            member,
            before={"status": member.status},
            after={
                "status": PanelStatus.DECLINED,
                "reason": reason,
                "on_behalf": on_behalf,
                "replacements": _result_json(result)["replacements"][len(before.replacements) :],
                "members": [m.id for m in touched],
            },
        )
    await member.refresh_from_db()
    return member


async def redraw(actor: Actor, session_id: int, *, reason: str) -> Draw:
    """Abandon the current draw (kept, with the reason and the confirming supervisor)
    and commit a new one; one commitment allows one draw, so a redraw needs this.

    An act of an assigned supervisor of the session (Art. 30: the supervisors oversee
    the draw), who is the confirming supervisor. Institution staff, and the bureau
    unless it is itself assigned as a supervisor, get PermissionDenied; a session the
    actor cannot see is NotFound.
    Side effects: the old Draw → abandoned with confirmed_by = the actor; a new Draw
    (committed) from a freshly frozen pool; session → committed; audit "draw.abandon"
    (with confirmed_by), "draw.commit" and the status change.
    """
    session = await load_session(actor, session_id, Perm.SESSION_SUPERVISE)
    # The confirmation is a person's: the system actor (which passes every permission
    # check) or a partner token has no supervisor assignment and so cannot confirm.
    supervisor_id = actor.user_id
    if (
        supervisor_id is None
        or not await SupervisorAssignment.filter(
            session_id=session.id, user_id=supervisor_id
        ).exists()
    ):
        raise PermissionDenied()
    await _operable(actor, session)
    _guard(session)
    reason = _text(reason, "reason", max_length=TEXT_MAX)
    if session.status not in (S.COMMITTED, S.DRAWN):
        check_transition(SessionStatus(session.status), S.COMMITTED)
    async with in_transaction():
        await _draw_lock()
        old = await Draw.filter(
            session_id=session.id, status__in=(DrawStatus.COMMITTED, DrawStatus.EXECUTED)
        ).first()
        if old is None:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "没有可放弃的抽取", "sessionId")
        check_transition(DrawStatus(old.status), DrawStatus.ABANDONED)
        updated = await Draw.filter(id=old.id, status=old.status).update(
            status=DrawStatus.ABANDONED,
            abandon_reason=reason,
            confirmed_by_id=supervisor_id,
            updated_at=_now(),
        )
        if updated != 1:
            raise _version_conflict()
        await audit.record(
            actor,
            "draw.abandon",
            old,
            before={"status": old.status},
            after={
                "status": DrawStatus.ABANDONED,
                "reason": reason,
                "confirmed_by": supervisor_id,
            },
        )
        new = await _new_commitment(actor, session)
        await _transition(actor, session, S.COMMITTED)
    return new


# --- the sealed panel (R19) ---------------------------------------------------------


async def session_panel(actor: Actor, session_id: int) -> list[PanelMember]:
    """The drawn panel and backups of the executed draw, declined members included.

    R19: only the institution's staff, the session's supervisors and the bureau; an
    expert sees their own invitation through my_invitations; everyone else NotFound.
    """
    session = await load_session(actor, session_id, Perm.PANEL_VIEW)
    return (
        await PanelMember.filter(session_id=session.id, draw__status=DrawStatus.EXECUTED)
        .select_related("expert")
        .order_by("is_backup", "rank")
    )


async def my_invitations(actor: Actor) -> list[PanelMember]:
    """The actor's own invitations (as a drawn expert), newest first."""
    own = _own_experts(actor)
    if not own:
        return []
    qs = PanelMember.filter(expert_id__in=list(own), draw__status=DrawStatus.EXECUTED)
    return await scoped(actor, Perm.PANEL_VIEW, qs).select_related("session").order_by("-id")


# --- the sitting (R14) --------------------------------------------------------------


def _quorate(present: int, panel: int) -> bool:
    numerator, denominator = get_config().quorum_share
    return present > 0 and present * denominator >= panel * numerator


async def record_attendance(
    actor: Actor,
    session_id: int,
    *,
    present_expert_ids: Iterable[int],
    presiding_expert_id: int,
) -> EvaluationSession:
    """Open the sitting: who is present and who presides (R14).

    Present experts must be on the current panel and number at least the quorum share
    of it (2/3 by default, compared exactly in integers); the presiding expert must be
    present and hold a chair or vice chair seat. May be corrected until the first vote.
    Side effects: PanelMember.present set for the panel, session presiding expert and
    → sitting, audit "evaluation_session.attendance".
    """
    session = await load_session(actor, session_id, Perm.SESSION_MANAGE)
    await _operable(actor, session)
    _guard(session)
    if session.status not in (S.DRAWN, S.SITTING):
        raise DomainError(ErrorCode.INVALID_TRANSITION, "尚未完成专家抽取", "sessionId")
    if session.status == S.SITTING and await Vote.filter(session_id=session.id).exists():
        raise DomainError(ErrorCode.INVALID_TRANSITION, "已开始投票，不能修改出席情况", "sessionId")
    panel = await _current_panel(session.id)
    by_expert = {_fk(m, "expert"): m for m in panel}
    present = set(present_expert_ids)
    if not present <= set(by_expert):
        raise DomainError(ErrorCode.INVALID, "出席专家须为本场评审组成员", "presentExpertIds")
    if not _quorate(len(present), len(panel)):
        n, d = get_config().quorum_share
        raise DomainError(
            ErrorCode.NO_QUORUM,
            f"出席专家{len(present)}人，不足评审组{len(panel)}人的{n}/{d}",
            "presentExpertIds",
        )
    chair = by_expert.get(presiding_expert_id)
    if chair is None or presiding_expert_id not in present or chair.seat not in PRESIDING:
        raise DomainError(
            ErrorCode.NO_PRESIDING, "须由出席的主任委员或副主任委员主持", "presidingExpertId"
        )
    async with in_transaction():
        before = {"status": session.status, "presiding_expert_id": session.presiding_expert_id}  # type: ignore[attr-defined]
        if session.status == S.DRAWN:
            check_transition(S.DRAWN, S.SITTING)
        await _save(session, {"status": S.SITTING, "presiding_expert_id": presiding_expert_id})
        ids = [m.id for m in panel]
        await PanelMember.filter(id__in=ids).update(present=False)
        await PanelMember.filter(id__in=[by_expert[e].id for e in present]).update(present=True)
        await audit.record(
            actor,
            "evaluation_session.attendance",
            session,
            before=before,
            after={
                "status": S.SITTING,
                "presiding_expert_id": presiding_expert_id,
                "present_expert_ids": sorted(present),
                "panel": len(panel),
            },
        )
    return session


async def _sitting_lock(session: EvaluationSession) -> None:
    """Inside a vote's transaction: the session must still be sitting. The UPDATE takes
    the row lock, so a concurrent finalisation either counts this vote or refuses it."""
    touched = await EvaluationSession.filter(id=session.id, status=S.SITTING).update(
        updated_at=_now()
    )
    if touched != 1:
        raise DomainError(
            ErrorCode.SESSION_FINALISED, "评审会议结果已确定，不能再投票", "sessionId"
        )


async def cast_vote(
    actor: Actor, session_id: int, applicant_id: int, *, choice: VoteChoice | str
) -> Vote:
    """A present panel expert votes for / against / abstain on one applicant, in
    self-service during the sitting (R14). One vote per expert and applicant, final.
    Side effects: a Vote, audit "vote.cast"."""
    own = _own_experts(actor)
    member = None
    if own:
        member = (
            await PanelMember.filter(
                session_id=session_id,
                expert_id__in=list(own),
                draw__status=DrawStatus.EXECUTED,
                is_backup=False,
            )
            .exclude(status=PanelStatus.DECLINED)
            .select_related("session__committee", "session__institution")
            .first()
        )
    if member is None:
        await load_session(actor, session_id, Perm.SESSION_VIEW)
        raise PermissionDenied("只有评审组专家本人可以投票")
    require(actor, Perm.VOTE_CAST, member)
    session: EvaluationSession = member.session
    _open(session)
    if session.status != S.SITTING:
        raise DomainError(ErrorCode.INVALID_TRANSITION, "评审会议尚未开始", "sessionId")
    if not member.present:
        raise DomainError(ErrorCode.EXPERT_NOT_PRESENT, "未出席的专家不能投票", "sessionId")
    _guard(session)
    choice = _enum(VoteChoice, choice, "choice")
    if not await SessionApplicant.filter(id=applicant_id, session_id=session.id).exists():
        raise NotFound("申报人不存在")
    expert_id = _fk(member, "expert")
    try:
        async with in_transaction():
            await _sitting_lock(session)
            if await Vote.filter(applicant_id=applicant_id, expert_id=expert_id).exists():
                raise DomainError(ErrorCode.DUPLICATE, "已对该申报人投过票", "applicantId")
            vote = await Vote.create(
                session_id=session.id,
                applicant_id=applicant_id,
                expert_id=expert_id,
                choice=choice,
                entered_by_id=actor.user_id,
            )
            await audit.record(actor, "vote.cast", vote, after=audit.snapshot(vote))
    except IntegrityError:
        raise DomainError(ErrorCode.DUPLICATE, "已对该申报人投过票", "applicantId") from None
    return vote


async def record_paper_ballots(
    actor: Actor,
    session_id: int,
    applicant_id: int,
    *,
    votes: Mapping[int, VoteChoice | str],
) -> list[Vote]:
    """Staff enter paper ballots of present panel experts for one applicant (R14),
    flagged `paper_ballot`. Side effects: Vote rows, audit "vote.paper_ballot" each."""
    session = await load_session(actor, session_id, Perm.VOTE_CAST)
    await _operable(actor, session)
    if session.status != S.SITTING:
        raise DomainError(ErrorCode.INVALID_TRANSITION, "评审会议尚未开始", "sessionId")
    _guard(session)
    if not await SessionApplicant.filter(id=applicant_id, session_id=session.id).exists():
        raise NotFound("申报人不存在")
    if not votes:
        raise DomainError(ErrorCode.REQUIRED, "请录入选票", "votes")
    choices = {_int(e, "votes"): _enum(VoteChoice, c, f"votes.{e}") for e, c in dict(votes).items()}
    present = {_fk(m, "expert") for m in await _current_panel(session.id) if m.present}
    if not set(choices) <= present:
        raise DomainError(ErrorCode.EXPERT_NOT_PRESENT, "只能录入出席专家的选票", "votes")
    if await Vote.filter(applicant_id=applicant_id, expert_id__in=list(choices)).exists():
        raise DomainError(ErrorCode.DUPLICATE, "部分专家已对该申报人投过票", "votes")
    created: list[Vote] = []
    try:
        async with in_transaction():
            await _sitting_lock(session)
            for expert_id, choice in sorted(choices.items()):
                vote = await Vote.create(
                    session_id=session.id,
                    applicant_id=applicant_id,
                    expert_id=expert_id,
                    choice=choice,
                    paper_ballot=True,
                    entered_by_id=actor.user_id,
                )
                await audit.record(actor, "vote.paper_ballot", vote, after=audit.snapshot(vote))
                created.append(vote)
    except IntegrityError:
        raise DomainError(ErrorCode.DUPLICATE, "部分专家已对该申报人投过票", "votes") from None
    return created


async def session_votes(actor: Actor, session_id: int) -> list[Vote]:
    """Individual votes (R14): the bureau only (for recounts on a review request)."""
    session = await load_session(actor, session_id, Perm.VOTE_VIEW)
    return await Vote.filter(session_id=session.id).order_by("applicant_id", "expert_id")


async def finalised_votes(actor: Actor, session: EvaluationSession) -> list[Vote] | None:
    """The individual votes the session page lists (R14): for those who may see votes
    (the bureau), once the results are fixed; None otherwise (the page then shows
    progress only). Recounts and the API read `session_votes` at any time."""
    if session.status != S.FINALISED:
        return None
    try:
        return await session_votes(actor, session.id)
    except (PermissionDenied, NotFound, Unauthenticated):
        return None


async def applicant_result(actor: Actor, applicant_id: int) -> ApplicantOutcome:
    """Counts and result of one applicant (R14): the applicant, the institution and the
    bureau; counts are those fixed at finalisation (zero before)."""
    applicant = (
        await scoped(actor, Perm.RESULT_VIEW, SessionApplicant.filter(id=applicant_id))
        .select_related("session")
        .first()
    )
    if applicant is None:
        raise NotFound("申报人不存在")
    finalised = applicant.session.status == S.FINALISED
    present = 0
    if finalised:
        present = await PanelMember.filter(
            session_id=_fk(applicant, "session"),
            draw__status=DrawStatus.EXECUTED,
            is_backup=False,
            present=True,
        ).count()
    return ApplicantOutcome(
        applicant_id=applicant.id,
        result=ApplicantResult(applicant.result),
        finalised=finalised,
        present=present,
        votes_for=applicant.votes_for,
        votes_against=applicant.votes_against,
        votes_abstain=applicant.votes_abstain,
    )


# --- recordings (Art. 9(六)) --------------------------------------------------------


async def attach_recording(
    actor: Actor,
    session_id: int,
    *,
    kind: RecordingKind | str,
    uri: str,
    size_bytes: int,
    sha256: str,
) -> Recording:
    """Attach an audio/video reference with its size and SHA-256 (全程可查可追溯).
    Side effects: a Recording, audit "recording.attach"."""
    session = await load_session(actor, session_id, Perm.SESSION_MANAGE)
    await _operable(actor, session)
    kind = _enum(RecordingKind, kind, "kind")
    uri = _text(uri, "uri", max_length=500)
    size_bytes = _int(size_bytes, "sizeBytes")
    if size_bytes <= 0:
        raise DomainError(ErrorCode.INVALID, "文件大小应大于0", "sizeBytes")
    digest = (sha256 or "").strip().lower() if isinstance(sha256, str) else ""
    if not _SHA256_RE.fullmatch(digest):
        raise DomainError(ErrorCode.INVALID, "SHA-256 应为64位十六进制", "sha256")
    async with in_transaction():
        await _save(session, {})
        row = await Recording.create(
            session_id=session.id, kind=kind, uri=uri, size_bytes=size_bytes, sha256=digest
        )
        await audit.record(actor, "recording.attach", row, after=audit.snapshot(row))
    return row


# --- finalisation (R14, R15) --------------------------------------------------------


async def finalise_session(actor: Actor, session_id: int) -> EvaluationSession:
    """Fix the results. Refused, each with its own code, without: quorum (NO_QUORUM), a
    present chair/vice chair presiding (NO_PRESIDING), a recording (NO_RECORDING), a
    supervisor (NO_SUPERVISOR), every present expert's vote on every applicant
    (VOTES_MISSING). An applicant passes with votes_for ≥ pass_share × present.

    Side effects: every applicant's counts and result; session → finalised (immutable
    from then on); audit "evaluation_session.finalise".
    """
    session = await load_session(actor, session_id, Perm.SESSION_MANAGE)
    await _operable(actor, session)
    _guard(session)
    if session.status not in (S.DRAWN, S.SITTING):
        raise DomainError(ErrorCode.INVALID_TRANSITION, "尚未完成专家抽取", "sessionId")
    async with in_transaction():
        # First statement: the row lock, so no vote slips in between count and status.
        await _save(session, {})
        panel = await _current_panel(session.id)
        present = [m for m in panel if m.present]
        if not _quorate(len(present), len(panel)):
            raise DomainError(ErrorCode.NO_QUORUM, "出席专家不足法定人数", "sessionId")
        presiding = session.presiding_expert_id  # type: ignore[attr-defined]
        if not any(_fk(m, "expert") == presiding and m.seat in PRESIDING for m in present):
            raise DomainError(
                ErrorCode.NO_PRESIDING, "须由出席的主任委员或副主任委员主持", "sessionId"
            )
        if not await Recording.filter(session_id=session.id).exists():
            raise DomainError(ErrorCode.NO_RECORDING, "须至少附一份评审录音录像", "sessionId")
        if not await SupervisorAssignment.filter(session_id=session.id).exists():
            raise DomainError(ErrorCode.NO_SUPERVISOR, "须至少指派一名监督委员", "sessionId")
        applicants = await SessionApplicant.filter(session_id=session.id).order_by("id")
        present_ids = {_fk(m, "expert") for m in present}
        cast: dict[tuple[int, int], str] = {
            (v["applicant_id"], v["expert_id"]): v["choice"]
            for v in await Vote.filter(session_id=session.id).values(
                "applicant_id", "expert_id", "choice"
            )
        }
        missing = [(a.id, e) for a in applicants for e in present_ids if (a.id, e) not in cast]
        if missing:
            raise DomainError(
                ErrorCode.VOTES_MISSING,
                f"尚缺{len(missing)}张选票（出席专家须对每名申报人投票）",
                "sessionId",
            )
        check_transition(SessionStatus(session.status), S.FINALISED)
        numerator, denominator = get_config().pass_share
        outcome: dict[int, dict[str, Any]] = {}
        for a in applicants:
            choices = [cast[(a.id, e)] for e in present_ids]
            votes_for = choices.count(VoteChoice.FOR)
            passed = votes_for * denominator >= len(present) * numerator
            values = {
                "votes_for": votes_for,
                "votes_against": choices.count(VoteChoice.AGAINST),
                "votes_abstain": choices.count(VoteChoice.ABSTAIN),
                "result": ApplicantResult.PASSED if passed else ApplicantResult.FAILED,
            }
            await SessionApplicant.filter(id=a.id).update(**values, updated_at=_now())
            outcome[a.id] = values
        before = {"status": session.status}
        await _save(session, {"status": S.FINALISED, "finalised_at": _now()})
        await audit.record(
            actor,
            "evaluation_session.finalise",
            session,
            before=before,
            after={"status": S.FINALISED, "present": len(present), "applicants": outcome},
        )
    return session


# --- fairness -----------------------------------------------------------------------


async def draw_fairness(actor: Actor, committee_id: int) -> list[FairnessRow]:
    """Per roster expert: how often drawn onto the initial panel over the committee's
    executed draws, against the uniform expectation Σ k / eligible; outliers flagged."""
    committee = await scoped(actor, Perm.COMMITTEE_VIEW, Committee.filter(id=committee_id)).first()
    if committee is None:
        raise NotFound("评委会不存在")
    require(actor, Perm.EXPERT_STATS, committee)
    rows = await Draw.filter(session__committee_id=committee.id, status=DrawStatus.EXECUTED).values(
        "inputs", "result"
    )
    expected: dict[str, Fraction] = defaultdict(Fraction)
    observed: dict[str, int] = defaultdict(int)
    eligible_in: dict[str, int] = defaultdict(int)
    for row in rows:
        numbers = [e["number"] for e in row["inputs"]["eligible"]]
        share = Fraction(row["inputs"]["k"], len(numbers))
        for n in numbers:
            expected[n] += share
            eligible_in[n] += 1
        for n in row["result"]["panel"]:
            observed[n] += 1
    roster = await CommitteeSeat.filter(committee_id=committee.id).values_list(
        "expert__number", flat=True
    )
    numbers = sorted({*expected, *(str(n) for n in roster)})
    people = {
        n: (i, name)
        for n, i, name in await Expert.filter(number__in=numbers).values_list(
            "number", "id", "name"
        )  # type: ignore[misc]
    }
    out: list[FairnessRow] = []
    for n in numbers:
        exp, obs = expected[n], observed[n]
        expert_id, name = people.get(n, (None, ""))
        out.append(
            FairnessRow(
                expert_id=expert_id,
                number=n,
                name=name,
                draws_eligible=eligible_in[n],
                observed=obs,
                expected=exp,
                outlier=(obs - exp) ** 2 > 9 * exp,
            )
        )
    return out


# --- lists (keyset pages for the GraphQL API) -----------------------------------------


class SessionOrder(StrEnum):
    STARTS_AT_ASC = "starts_at_asc"
    STARTS_AT_DESC = "starts_at_desc"


SESSION_SORTS: dict[SessionOrder, Sort] = {
    SessionOrder.STARTS_AT_ASC: Sort("s.starts", "starts_at"),
    SessionOrder.STARTS_AT_DESC: Sort("s.starts-", "starts_at", descending=True),
}


@dataclass(frozen=True)
class SessionFilter:
    statuses: Sequence[SessionStatus] | None = None
    committee_id: int | None = None
    year: int | None = None


async def list_evaluation_sessions(
    actor: Actor,
    *,
    filters: SessionFilter | None = None,
    order: SessionOrder = SessionOrder.STARTS_AT_ASC,
    page: PageArgs | None = None,
) -> Page[EvaluationSession]:
    """Sessions the actor may see (SESSION_VIEW: the bureau, the institution's staff,
    assigned supervisors); nobody else learns that a sitting exists."""
    if actor.is_anonymous:
        raise Unauthenticated()
    filters = filters or SessionFilter()
    supervised = await _supervised(actor)
    qs = scoped(actor, Perm.SESSION_VIEW, EvaluationSession.all(), supervised=supervised)
    if filters.statuses is not None:
        qs = qs.filter(status__in=list(filters.statuses))
    if filters.committee_id is not None:
        qs = qs.filter(committee_id=filters.committee_id)
    if filters.year is not None:
        qs = qs.filter(year=filters.year)
    return await paginate(qs, SESSION_SORTS[order], page or PageArgs())


# --- read models for the HTML workspace (issue 7 item 10) -----------------------------


async def list_session_supervisors(actor: Actor, session_id: int) -> list[SupervisorAssignment]:
    """Supervisors assigned to the session (Art. 30), with their user rows."""
    session = await load_session(actor, session_id, Perm.SESSION_VIEW)
    return (
        await SupervisorAssignment.filter(session_id=session.id)
        .select_related("user")
        .order_by("id")
    )


async def list_session_recordings(actor: Actor, session_id: int) -> list[Recording]:
    session = await load_session(actor, session_id, Perm.SESSION_VIEW)
    return await Recording.filter(session_id=session.id).order_by("id")


async def list_session_conflicts(actor: Actor, session_id: int) -> list[ConflictDeclaration]:
    """Declarations made for the session (R11): its staff, supervisors and the bureau."""
    session = await load_session(actor, session_id, Perm.SESSION_VIEW)
    return (
        await ConflictDeclaration.filter(session_id=session.id)
        .select_related("expert", "staff", "applicant", "relative_unit")
        .order_by("id")
    )


async def session_roster(actor: Actor, session_id: int) -> list[CommitteeSeat]:
    """The committee roster behind the session (for training and declarations): the
    institution's staff only. The roster is a superset of the sealed panel (R19)."""
    session = await load_session(actor, session_id, Perm.SESSION_MANAGE)
    return (
        await CommitteeSeat.filter(committee_id=_fk(session, "committee"))
        .select_related("expert")
        .order_by("expert__number")
    )


async def supervisor_candidates(actor: Actor) -> list[User]:
    """Active users holding the supervisor role, for the bureau's assignment form."""
    require(actor, Perm.SESSION_ASSIGN_SUPERVISOR)
    ids = await RoleAssignment.filter(role=Role.SUPERVISOR).values_list("user_id", flat=True)
    return await User.filter(id__in=list(ids), is_active=True).order_by("username")


async def unit_by_credit_code(code: str) -> Unit | None:
    """The registered unit with this 统一社会信用代码 (units are not personal data)."""
    value = (code or "").strip().upper() if isinstance(code, str) else ""
    return await Unit.filter(credit_code=value).first() if value else None


@dataclass(frozen=True)
class VoteProgress:
    """Who has voted on whom (R14), without the choices: individual votes are the
    bureau's (session_votes). `cast` maps (applicant id, expert id) → paper ballot."""

    present: list[PanelMember]
    cast: dict[tuple[int, int], bool]

    def missing(self, applicant_id: int) -> list[PanelMember]:
        return [m for m in self.present if (applicant_id, _fk(m, "expert")) not in self.cast]

    def count(self, applicant_id: int) -> int:
        return sum(1 for a, _ in self.cast if a == applicant_id)


async def vote_progress(actor: Actor, session_id: int) -> VoteProgress:
    """Votes cast so far per applicant and present expert: staff, supervisors, bureau."""
    session = await load_session(actor, session_id, Perm.PANEL_VIEW)
    present = [m for m in await _current_panel(session.id) if m.present]
    rows = await Vote.filter(session_id=session.id).values(
        "applicant_id", "expert_id", "paper_ballot"
    )
    return VoteProgress(
        present=present,
        cast={(r["applicant_id"], r["expert_id"]): bool(r["paper_ballot"]) for r in rows},
    )


@dataclass(frozen=True)
class Precondition:
    """One finalisation precondition (R14, R15) and whether it holds now."""

    code: ErrorCode
    label: str
    ok: bool


async def finalise_checklist(actor: Actor, session_id: int) -> list[Precondition]:
    """Every precondition finalise_session checks, each with its state, so the page can
    show all that are missing at once (finalise_session still decides)."""
    session = await load_session(actor, session_id, Perm.SESSION_VIEW)
    panel = await _current_panel(session.id)
    present = [m for m in panel if m.present]
    presiding = session.presiding_expert_id  # type: ignore[attr-defined]
    applicant_ids = await SessionApplicant.filter(session_id=session.id).values_list(
        "id", flat=True
    )
    present_ids = {_fk(m, "expert") for m in present}
    cast = set(
        await Vote.filter(session_id=session.id).values_list("applicant_id", "expert_id")  # type: ignore[arg-type]
    )
    missing = sum(1 for a in applicant_ids for e in present_ids if (a, e) not in cast)
    return [
        Precondition(
            ErrorCode.NO_QUORUM,
            f"出席专家达到法定人数（已出席{len(present)}人，评审组{len(panel)}人）",
            bool(panel) and _quorate(len(present), len(panel)),
        ),
        Precondition(
            ErrorCode.NO_PRESIDING,
            "由出席的主任委员或副主任委员主持",
            any(_fk(m, "expert") == presiding and m.seat in PRESIDING for m in present),
        ),
        Precondition(
            ErrorCode.NO_RECORDING,
            "已附评审录音录像",
            await Recording.filter(session_id=session.id).exists(),
        ),
        Precondition(
            ErrorCode.NO_SUPERVISOR,
            "已指派监督委员",
            await SupervisorAssignment.filter(session_id=session.id).exists(),
        ),
        Precondition(
            ErrorCode.VOTES_MISSING,
            f"出席专家已对每名申报人投票（尚缺{missing}张）",
            bool(present) and missing == 0,
        ),
    ]


async def _own_member(actor: Actor, panel_member_id: int) -> PanelMember:
    own = _own_experts(actor)
    member = None
    if own:
        member = (
            await PanelMember.filter(
                id=panel_member_id, expert_id__in=list(own), draw__status=DrawStatus.EXECUTED
            )
            .select_related("session", "draw")
            .first()
        )
    if member is None:
        raise NotFound("邀请不存在")
    require(actor, Perm.PANEL_VIEW, member)
    return member


async def accept_invitation(actor: Actor, panel_member_id: int) -> PanelMember:
    """A drawn expert accepts the own invitation (Art. 25). Side effects: the member →
    accepted, audit "panel_member.accept"."""
    member = await _own_member(actor, panel_member_id)
    session: EvaluationSession = member.session
    _open(session)
    if member.is_backup:
        raise DomainError(ErrorCode.INVALID, "备选专家尚未被邀请", "panelMemberId")
    if session.status not in (S.DRAWN, S.SITTING):
        raise DomainError(ErrorCode.INVALID_TRANSITION, "该邀请已失效", "panelMemberId")
    check_transition(PanelStatus(member.status), PanelStatus.ACCEPTED, field="panelMemberId")
    async with in_transaction():
        updated = await PanelMember.filter(id=member.id, status=member.status).update(
            status=PanelStatus.ACCEPTED, updated_at=_now()
        )
        if updated != 1:
            raise _version_conflict()
        await audit.record(
            actor,
            "panel_member.accept",
            member,
            before={"status": member.status},
            after={"status": PanelStatus.ACCEPTED},
        )
    member.status = PanelStatus.ACCEPTED
    return member


async def my_invitation_rows(actor: Actor) -> list[PanelMember]:
    """my_invitations with each session's committee loaded, for the expert's page;
    backups are not invited (they learn nothing until promoted)."""
    rows = await my_invitations(actor)
    ids = [m.id for m in rows if not m.is_backup]
    if not ids:
        return []
    return (
        await PanelMember.filter(id__in=ids)
        .select_related("session__committee", "session__institution")
        .order_by("-id")
    )


@dataclass(frozen=True)
class Ballot:
    """What a drawn expert sees to vote (R14): the own seat, the applicants and the own
    votes; never the other panel members (R19)."""

    member: PanelMember
    session: EvaluationSession
    applicants: list[SessionApplicant]
    votes: dict[int, VoteChoice]


async def my_ballot(actor: Actor, session_id: int) -> Ballot:
    """The actor's own seat on the session's current panel, or NotFound."""
    own = _own_experts(actor)
    member = None
    if own:
        member = (
            await PanelMember.filter(
                session_id=session_id,
                expert_id__in=list(own),
                draw__status=DrawStatus.EXECUTED,
                is_backup=False,
            )
            .exclude(status=PanelStatus.DECLINED)
            .select_related("session__committee", "session__institution")
            .first()
        )
    if member is None:
        raise NotFound("评审会议不存在")
    require(actor, Perm.PANEL_VIEW, member)
    session: EvaluationSession = member.session
    applicants = await SessionApplicant.filter(session_id=session.id).order_by("id")
    votes = {
        int(a): VoteChoice(c)
        for a, c in await Vote.filter(
            session_id=session.id, expert_id=_fk(member, "expert")
        ).values_list("applicant_id", "choice")  # type: ignore[misc]
    }
    return Ballot(member=member, session=session, applicants=applicants, votes=votes)
