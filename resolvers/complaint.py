"""Review requests (复查申请), complaints (投诉) and reports (举报): intake, screening,
handling, the written reply, deadlines and the complainant's anonymity.

京人社事业发〔2023〕13号 Art. 9(七) and 28, rule R16 of SPEC.md:

- Intake from the public web form (anonymous or real name), logged-in applicants and
  partner portals (token scope `complaint:submit`). Each submission gets a tracking
  code and a query password (shown once, stored argon2-hashed) for `complaint_status`.
- Routing: the institution concerned handles it; complaints against an institution
  itself go to the bureau (`institution_id` null).
- Screening: not accepting names one of the regulation's reasons, which the
  complainant sees. A review request is accepted only from the applicant about the
  applicant's own result.
- Handling: notes, a written answer, closing; for review requests a recount from the
  stored votes, a procedure checklist, and the decision, which is the one audited
  path that may correct a finalised result.
- Deadlines in Chinese working days; overdue cases escalate to the bureau (sweep).
- Anonymity: the complainant's identity is only returned by `complaint_identity`
  (audited) and never to anyone the complaint is against — the complaint itself looks
  absent to them, even when they also hold handler rights.
"""

import datetime as dt
import functools
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models import (
    Committee,
    CommitteeSeat,
    Complaint,
    ComplaintNote,
    EvaluationSession,
    Expert,
    Institution,
    Notification,
    PanelMember,
    Recording,
    RoleAssignment,
    SessionApplicant,
    SupervisorAssignment,
    Vote,
)
from models.enums import (
    ApplicantResult,
    ComplaintChannel,
    ComplaintKind,
    ComplaintStatus,
    DrawStatus,
    NonAcceptanceReason,
    PanelStatus,
    Role,
    Seat,
    TargetType,
    VoteChoice,
)
from resolvers import audit, throttle, validate
from resolvers.actor import SYSTEM, Actor
from resolvers.common import fk_id as _fk
from resolvers.common import utcnow as _now
from resolvers.config import get_config
from resolvers.directory import Page, PageArgs, Sort, paginate
from resolvers.errors import DomainError, ErrorCode, NotFound, PermissionDenied, Unauthenticated
from resolvers.lifecycle import check_transition
from resolvers.passwords import hash_password, verify_password
from resolvers.personal import decrypt, encrypt
from resolvers.policy import Perm, require, scoped
from resolvers.workdays import add_workdays

M = TypeVar("M", bound=Model)
C, K, R = ComplaintStatus, ComplaintKind, NonAcceptanceReason

# The regulation sets no time limits: these are configurable defaults, counted in
# Chinese working days. Override with Config.extra["complaint_screening_workdays"] /
# ["complaint_handling_workdays"].
SCREENING_WORKDAYS = 5  # received → screened (accepted or not accepted)
HANDLING_WORKDAYS = 30  # accepted → answered

TZ = ZoneInfo("Asia/Shanghai")
FACTS_MAX = 5000
TEXT_MAX = 5000
TARGET_DESCRIPTION_MAX = 200
NAME_MAX = 50
CONTACT_MAX = 100

# Unambiguous when read aloud or copied by hand: no 0/O, 1/I/L.
TRACKING_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
TRACKING_LENGTH = 12
PASSWORD_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
QUERY_PASSWORD_LENGTH = 10
_CODE_ATTEMPTS = 5

_HOTLINE_RE = re.compile(r"^[0-9A-Za-z]{1,50}$")
# Bidirectional overrides and isolates reorder displayed text (spoofed names, facts).

OPEN_STATUSES = (C.RECEIVED, C.ACCEPTED, C.IN_HANDLING)
_COMPLAINT_REASONS = frozenset({R.NO_EVIDENCE, R.NO_CLUE, R.NO_TARGET, R.NO_FACTS})
_REVIEW_REASONS = frozenset(R)

# What the complainant is told (complaint_status), Art. 28.
REASON_TEXTS: dict[NonAcceptanceReason, str] = {
    R.NO_EVIDENCE: "未提供客观、明确的证据材料,不予受理。",
    R.NO_CLUE: "未提供可查证的线索,不予受理。",
    R.NO_TARGET: "没有具体的投诉举报对象,不予受理。",
    R.NO_FACTS: "未说明具体的违规事实,不予受理。",
    R.NOT_APPLICANT: "复查申请须由申报人本人就涉及本人的评审结果提出,不予受理。",
    R.OUT_OF_SCOPE: (
        "复查范围为评审程序是否合规、专家投票计票是否准确,所提事项不属于复查范围,不予受理。"
    ),
}

STATUS_LABELS: dict[ComplaintStatus, str] = {
    C.RECEIVED: "已收到",
    C.ACCEPTED: "已受理",
    C.NOT_ACCEPTED: "不予受理",
    C.IN_HANDLING: "办理中",
    C.ANSWERED: "已答复",
    C.CLOSED: "已办结",
}

KIND_LABELS: dict[ComplaintKind, str] = {
    K.REVIEW_REQUEST: "复查申请",
    K.COMPLAINT: "投诉",
    K.REPORT: "举报",
}

OUTCOME_UPHELD = "upheld"
OUTCOME_DISMISSED = "dismissed"


# --- value types ------------------------------------------------------------------

# Shared input checks (resolvers/validate.py), with this module's defaults.
_clean = functools.partial(validate.text, multiline=False)
_enum = validate.enum_value


@dataclass(frozen=True)
class ComplaintStatusView:
    """What the complainant sees with the tracking code and query password: never the
    handler's notes, the handler, the complainant identity or anyone else's data."""

    tracking_code: str
    kind: ComplaintKind
    status: ComplaintStatus
    status_label: str
    received_at: dt.datetime
    due_on: dt.date | None
    non_acceptance_reason: NonAcceptanceReason | None
    non_acceptance_text: str
    answer: str
    answered_at: dt.datetime | None
    closed_at: dt.datetime | None
    outcome: str


@dataclass(frozen=True)
class ComplainantIdentity:
    """The decrypted identity of a real-name complainant (empty when anonymous)."""

    complaint_id: int
    anonymous: bool
    name: str
    contact: str


@dataclass(frozen=True)
class ProcedureCheck:
    """One item of a review request's procedure checklist."""

    key: str
    label: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class RecountResult:
    """A recount of one applicant's votes from the stored Vote rows (R14, Art. 28)."""

    complaint_id: int
    applicant_id: int
    session_id: int
    stored_for: int
    stored_against: int
    stored_abstain: int
    stored_result: ApplicantResult
    counted_for: int
    counted_against: int
    counted_abstain: int
    present: int
    present_source: str  # "attendance" (PanelMember.present) or "voters"
    counted_result: ApplicantResult
    checks: tuple[ProcedureCheck, ...]

    @property
    def miscounted(self) -> bool:
        return (self.stored_for, self.stored_against, self.stored_abstain) != (
            self.counted_for,
            self.counted_against,
            self.counted_abstain,
        )

    @property
    def result_differs(self) -> bool:
        return self.stored_result != self.counted_result

    @property
    def procedure_ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def summary(self) -> dict[str, Any]:
        """The audited form of the recount."""
        return {
            "applicant_id": self.applicant_id,
            "session_id": self.session_id,
            "stored": [self.stored_for, self.stored_against, self.stored_abstain],
            "stored_result": self.stored_result.value,
            "counted": [self.counted_for, self.counted_against, self.counted_abstain],
            "counted_result": self.counted_result.value,
            "present": self.present,
            "present_source": self.present_source,
            "checks": {c.key: c.ok for c in self.checks},
        }


# --- small helpers ----------------------------------------------------------------


def local_date(moment: dt.datetime) -> dt.date:
    """The calendar day in Beijing: deadlines start from the local receipt day."""
    return moment.astimezone(TZ).date()


def _limit(key: str, default: int) -> int:
    raw = get_config().extra.get(key)
    return int(raw) if raw else default


def screening_due_on(received_at: dt.datetime) -> dt.date:
    """Last day to screen a case received at `received_at` (working days)."""
    days = _limit("complaint_screening_workdays", SCREENING_WORKDAYS)
    return add_workdays(local_date(received_at), days)


def handling_due_on(accepted_at: dt.datetime) -> dt.date:
    """Last day to answer a case accepted at `accepted_at` (working days)."""
    days = _limit("complaint_handling_workdays", HANDLING_WORKDAYS)
    return add_workdays(local_date(accepted_at), days)


def is_overdue(complaint: Complaint, today: dt.date) -> bool:
    """Open, unanswered and past its due day (dashboards show it red)."""
    return (
        complaint.status in OPEN_STATUSES
        and complaint.answered_at is None
        and complaint.due_on is not None
        and complaint.due_on < today
    )


def _conflict() -> DomainError:
    return DomainError(ErrorCode.VERSION_CONFLICT, "数据已被他人修改,请刷新后重试", "version")


def _check_version(obj: Complaint, version: int | None) -> None:
    if version is not None and version != obj.version:
        raise _conflict()


async def _save(obj: M, changes: Mapping[str, Any]) -> M:
    """Write `changes` only if nobody changed `obj` since it was loaded."""
    seen: int = obj.version  # type: ignore[attr-defined]
    values = {**changes, "version": seen + 1, "updated_at": _now()}
    if await type(obj).filter(pk=obj.pk, version=seen).update(**values) != 1:
        raise _conflict()
    for name, value in values.items():
        setattr(obj, name, value)
    return obj


def _new_tracking_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


def _new_query_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(QUERY_PASSWORD_LENGTH))


def normalize_tracking_code(value: str) -> str:
    """What people type: lower case, spaces and dashes forgiven."""
    return re.sub(r"[\s-]", "", value or "").upper()


_dummy_hashes: dict[str, str] = {}


async def _dummy_hash() -> str:
    # Verified for unknown codes so that a wrong code costs as long as a wrong password.
    profile = get_config().argon2_profile
    if profile not in _dummy_hashes:
        _dummy_hashes[profile] = await hash_password(secrets.token_urlsafe(16))
    return _dummy_hashes[profile]


# --- intake -----------------------------------------------------------------------


def _channel(actor: Actor, anonymous: bool) -> ComplaintChannel:
    if actor.token_id is not None:
        return ComplaintChannel.PARTNER
    # An anonymous case does not even say that its author is an applicant.
    if actor.has(Role.APPLICANT) and not anonymous:
        return ComplaintChannel.APPLICANT
    return ComplaintChannel.WEB


async def _route(kind: ComplaintKind, target_type: TargetType, target_id: int) -> int | None:
    """Check the target exists and return the handling institution (None = bureau)."""
    missing = DomainError(ErrorCode.INVALID, "投诉举报对象不存在", "targetId")
    if target_type == TargetType.INSTITUTION:
        if not await Institution.exists(id=target_id):
            raise missing
        return None
    if target_type == TargetType.EXPERT:
        expert = await Expert.get_or_none(id=target_id)
        if expert is None:
            raise missing
        return _fk(expert, "institution")
    if target_type == TargetType.COMMITTEE:
        committee = await Committee.get_or_none(id=target_id)
        if committee is None:
            raise missing
        return _fk(committee, "institution")
    if target_type == TargetType.SESSION:
        session = await EvaluationSession.get_or_none(id=target_id)
        if session is None:
            raise missing
        return _fk(session, "institution")
    applicant = await SessionApplicant.filter(id=target_id).select_related("session").first()
    if applicant is None:
        raise missing
    if kind != K.REVIEW_REQUEST and applicant.result != ApplicantResult.PASSED:
        # Art. 28: objections about other people concern those who passed.
        raise DomainError(ErrorCode.INVALID, "只能对评审通过人员提出异议", "targetId")
    return _fk(applicant.session, "institution")


async def _review_target(
    actor: Actor,
    anonymous: bool,
    target_type: TargetType,
    target_id: int | None,
    applicant_id: int | None,
) -> tuple[TargetType, int, SessionApplicant]:
    if actor.is_anonymous:
        raise DomainError(ErrorCode.INVALID, "复查申请须由申报人本人登录后提出", "kind")
    if anonymous:
        raise DomainError(ErrorCode.INVALID, "复查申请须由申报人本人实名提出,不能匿名", "anonymous")
    if applicant_id is None:
        raise DomainError(ErrorCode.REQUIRED, "请指明申请复查的评审结果", "applicantId")
    applicant = await SessionApplicant.get_or_none(id=applicant_id)
    if applicant is None:
        raise DomainError(ErrorCode.INVALID, "申报记录不存在", "applicantId")
    if applicant.result == ApplicantResult.PENDING:
        raise DomainError(ErrorCode.INVALID, "该申报的评审结果尚未产生", "applicantId")
    own = {
        TargetType.APPLICANT: applicant.id,
        TargetType.SESSION: _fk(applicant, "session"),
    }
    if target_type not in own or (target_id is not None and target_id != own[target_type]):
        raise DomainError(ErrorCode.INVALID, "复查申请的对象应为该申报的评审结果", "targetId")
    return target_type, own[target_type], applicant


async def submit_complaint(
    actor: Actor,
    *,
    kind: ComplaintKind | str,
    target_type: TargetType | str,
    target_id: int | None,
    target_description: str = "",
    facts: str,
    clues: str = "",
    anonymous: bool,
    complainant_name: str = "",
    complainant_contact: str = "",
    hotline_ticket: str = "",
    applicant_id: int | None = None,
    attach: Callable[[Complaint, Actor], Awaitable[object]] | None = None,
) -> tuple[Complaint, str]:
    """File a review request, complaint or report; returns it and its query password
    (shown once: only its argon2 hash is stored).

    `attach(complaint, audit_actor)`, when given, runs inside the filing transaction
    after the case row and its audit event: the evidence filed with the case
    (resolvers.evidence.submit_with_evidence), so that a case never claims evidence
    that was not stored. Whatever it raises undoes the filing.

    Anonymous submissions store no identity: the name and contact fields are dropped,
    `submitted_by` stays empty even for a logged-in user, and the audit event names the
    actor "anonymous" (or the partner token), so nothing links the person to the case.
    Real-name submissions keep name and contact AES-GCM encrypted. A review request
    must be real-name and logged in; whether it comes from the applicant is decided
    at screening (NOT_APPLICANT), so a misdirected one is still received.

    Side effects: one Complaint (received, due in SCREENING_WORKDAYS working days),
    audit `complaint.submit`, and what `attach` does.
    """
    # Public, but a partner token needs its complaint:submit scope (policy.require).
    require(actor, Perm.COMPLAINT_SUBMIT)
    the_kind: ComplaintKind = _enum(ComplaintKind, kind, "kind")
    the_type: TargetType = _enum(TargetType, target_type, "targetType")
    facts = _clean(facts, "facts", max_length=FACTS_MAX, multiline=True)
    clues = _clean(clues, "clues", max_length=TEXT_MAX, required=False, multiline=True)
    target_description = _clean(
        target_description, "targetDescription", max_length=TARGET_DESCRIPTION_MAX, required=False
    )
    hotline_ticket = _clean(hotline_ticket, "hotlineTicket", max_length=50, required=False)
    if hotline_ticket and not _HOTLINE_RE.fullmatch(hotline_ticket):
        raise DomainError(ErrorCode.INVALID, "接诉即办工单号只能包含字母和数字", "hotlineTicket")
    name = contact = ""
    if not anonymous:
        name = _clean(complainant_name, "complainantName", max_length=NAME_MAX)
        contact = _clean(
            complainant_contact, "complainantContact", max_length=CONTACT_MAX, required=False
        )

    linked_applicant: int | None = None
    if the_kind == K.REVIEW_REQUEST:
        the_type, target_id, applicant = await _review_target(
            actor, anonymous, the_type, target_id, applicant_id
        )
        linked_applicant = applicant.id
    elif applicant_id is not None:
        raise DomainError(ErrorCode.INVALID, "仅复查申请需要指明申报记录", "applicantId")
    if target_id is None:
        raise DomainError(ErrorCode.REQUIRED, "请指明具体的投诉举报对象", "targetId")
    institution_id = await _route(the_kind, the_type, target_id)

    password = _new_query_password()
    password_hash = await hash_password(password)  # off the loop, outside the transaction
    received_at = _now()
    audit_actor = Actor(token_id=actor.token_id) if anonymous else actor
    fields: dict[str, Any] = {
        "kind": the_kind,
        "channel": _channel(actor, anonymous),
        "target_type": the_type,
        "target_id": target_id,
        "target_description": target_description,
        "facts": facts,
        "clues": clues,
        "anonymous": anonymous,
        "complainant_name_enc": encrypt(name),
        "complainant_contact_enc": encrypt(contact),
        "submitted_by_id": None if anonymous else actor.user_id,
        "partner_token_id": actor.token_id,
        "applicant_id": linked_applicant,
        "hotline_ticket": hotline_ticket,
        "query_password_hash": password_hash,
        "institution_id": institution_id,
        "status": C.RECEIVED,
        "due_on": screening_due_on(received_at),
    }
    for attempt in range(_CODE_ATTEMPTS):
        code = _new_tracking_code()
        try:
            async with in_transaction():
                if await Complaint.exists(tracking_code=code):
                    continue
                complaint = await Complaint.create(tracking_code=code, **fields)
                await audit.record(
                    audit_actor, "complaint.submit", complaint, after=audit.snapshot(complaint)
                )
                if attach is not None:
                    await attach(complaint, audit_actor)
            return complaint, password
        except IntegrityError:
            # A concurrent submission took the same code between the check and insert.
            if attempt == _CODE_ATTEMPTS - 1:
                raise
    raise RuntimeError("could not allocate a unique tracking code")


# --- the complainant's view -------------------------------------------------------


async def complaint_status(tracking_code: str, password: str) -> ComplaintStatusView:
    """The public status page: the same NotFound for a wrong code or password, with the
    same argon2 cost, so codes cannot be enumerated (throttling is done by the caller)."""
    code = normalize_tracking_code(tracking_code)
    complaint = None
    if 0 < len(code) <= 20 and len(password or "") <= 200:
        complaint = await Complaint.get_or_none(tracking_code=code)
    stored = complaint.query_password_hash if complaint is not None else await _dummy_hash()
    ok = await verify_password(stored, password or "")
    if complaint is None or not ok:
        raise NotFound("查询码或查询密码不正确")
    reason = (
        NonAcceptanceReason(complaint.non_acceptance_reason)
        if complaint.non_acceptance_reason
        else None
    )
    status = ComplaintStatus(complaint.status)
    return ComplaintStatusView(
        tracking_code=complaint.tracking_code,
        kind=ComplaintKind(complaint.kind),
        status=status,
        status_label=STATUS_LABELS[status],
        received_at=complaint.created_at,
        due_on=complaint.due_on,
        non_acceptance_reason=reason,
        non_acceptance_text=REASON_TEXTS[reason] if reason else "",
        answer=complaint.answer,
        answered_at=complaint.answered_at,
        closed_at=complaint.closed_at,
        outcome=complaint.outcome,
    )


async def check_query_password(complaint: Complaint, password: str | None) -> bool:
    """Whether `password` is the complaint's query password (evidence uploads)."""
    if not password or len(password) > 200:
        return False
    return await verify_password(complaint.query_password_hash, password)


# --- what a handler may see: scope minus anything the actor is a target of --------


async def own_targets(actor: Actor) -> dict[TargetType, set[int]]:
    """Everything a complaint could be against that is the actor (R16).

    From the actor's grants and from the user's RoleAssignment rows (a person with an
    expert role is that expert whatever grants this request carries): experts,
    applicants, staff institutions, the sessions those experts were drawn for and the
    committees whose roster they sit on.
    """
    experts = {g.expert_id for g in actor.grants if g.expert_id is not None}
    applicants = {g.applicant_id for g in actor.grants if g.applicant_id is not None}
    institutions = {
        g.institution_id
        for g in actor.grants
        if g.role == Role.INSTITUTION and g.institution_id is not None
    }
    if actor.user_id is not None:
        rows = await RoleAssignment.filter(
            user_id=actor.user_id, role__in=[Role.EXPERT, Role.APPLICANT, Role.INSTITUTION]
        ).values("role", "expert_id", "applicant_id", "institution_id")
        for row in rows:
            if row["role"] == Role.EXPERT and row["expert_id"] is not None:
                experts.add(row["expert_id"])
            elif row["role"] == Role.APPLICANT and row["applicant_id"] is not None:
                applicants.add(row["applicant_id"])
            elif row["role"] == Role.INSTITUTION and row["institution_id"] is not None:
                institutions.add(row["institution_id"])
    sessions: set[int] = set()
    committees: set[int] = set()
    if experts:
        panel = await PanelMember.filter(expert_id__in=sorted(experts)).values("session_id")
        sessions = {int(r["session_id"]) for r in panel}
        seats = await CommitteeSeat.filter(expert_id__in=sorted(experts)).values("committee_id")
        committees = {int(r["committee_id"]) for r in seats}
    return {
        TargetType.EXPERT: experts,
        TargetType.APPLICANT: applicants,
        TargetType.INSTITUTION: institutions,
        TargetType.SESSION: sessions,
        TargetType.COMMITTEE: committees,
    }


async def visible_complaints(actor: Actor, perm: Perm = Perm.COMPLAINT_VIEW) -> QuerySet[Complaint]:
    """The complaints `actor` may `perm`, in SQL: the policy scope minus every case
    the actor is a target of (those look absent)."""
    if actor.is_anonymous:
        raise Unauthenticated()
    qs = scoped(actor, perm, Complaint.all())
    for target_type, ids in (await own_targets(actor)).items():
        if ids:
            # One NOT over both terms: Tortoise's exclude(a=, b=) negates each on its own.
            qs = qs.filter(~Q(target_type=target_type, target_id__in=sorted(ids)))
    return qs


async def _first(qs: QuerySet[M], message: str = "投诉举报不存在") -> M:
    obj = await qs.first()
    if obj is None:
        raise NotFound(message)
    return obj


async def get_complaint(actor: Actor, complaint_id: int) -> Complaint:
    """One case for its handlers (the handling institution or the bureau)."""
    return await _first((await visible_complaints(actor)).filter(id=complaint_id))


async def list_complaints(
    actor: Actor,
    *,
    status: ComplaintStatus | None = None,
    kind: ComplaintKind | None = None,
) -> list[Complaint]:
    """The handler queue, earliest deadline first."""
    qs = await visible_complaints(actor)
    if status is not None:
        qs = qs.filter(status=status)
    if kind is not None:
        qs = qs.filter(kind=kind)
    return await qs.order_by("due_on", "id")


async def list_complaint_notes(actor: Actor, complaint_id: int) -> list[ComplaintNote]:
    complaint = await get_complaint(actor, complaint_id)
    return await ComplaintNote.filter(complaint_id=complaint.id).order_by("id")


async def complaint_identity(actor: Actor, complaint_id: int) -> ComplainantIdentity:
    """The complainant's name and contact, for the handling institution and the bureau
    only (R16); never for a target of the complaint.

    Side effects: audit `complaint.view_identity` (every look is recorded).
    """
    async with in_transaction():
        qs = await visible_complaints(actor, Perm.COMPLAINT_VIEW_IDENTITY)
        complaint = await _first(qs.filter(id=complaint_id))
        require(actor, Perm.COMPLAINT_VIEW_IDENTITY, complaint)
        await audit.record(actor, "complaint.view_identity", complaint)
    return ComplainantIdentity(
        complaint_id=complaint.id,
        anonymous=complaint.anonymous,
        name=decrypt(complaint.complainant_name_enc),
        contact=decrypt(complaint.complainant_contact_enc),
    )


async def handled_complaint(actor: Actor, complaint_id: int) -> Complaint:
    """Load a case for a handling action: absent when out of scope or when the actor
    is a target of it, forbidden when visible but not theirs to handle."""
    complaint = await get_complaint(actor, complaint_id)
    require(actor, Perm.COMPLAINT_HANDLE, complaint)
    return complaint


# --- screening (R16) --------------------------------------------------------------


async def from_applicant(complaint: Complaint) -> bool:
    """Whether a review request was filed by the applicant whose result it concerns:
    its submitting user holds the applicant role for that very application."""
    user_id = _fk(complaint, "submitted_by")
    applicant_id = _fk(complaint, "applicant")
    if user_id is None or applicant_id is None:
        return False
    return await RoleAssignment.exists(
        user_id=user_id, role=Role.APPLICANT, applicant_id=applicant_id
    )


async def screen_complaint(
    actor: Actor,
    complaint_id: int,
    *,
    accept: bool,
    reason: NonAcceptanceReason | str | None = None,
    version: int | None = None,
) -> Complaint:
    """Accept a received case, or refuse it with one of the regulation's reasons.

    Complaints and reports: no evidence, no verifiable clue, no specific target, no
    facts of a violation. Review requests also: not from the applicant, out of scope;
    one that is not from the applicant cannot be accepted (NOT_APPLICANT).
    Side effects: status accepted (due date reset to HANDLING_WORKDAYS working days)
    or not accepted with the reason; audit `complaint.screen`.
    """
    async with in_transaction():
        complaint = await handled_complaint(actor, complaint_id)
        _check_version(complaint, version)
        is_review = complaint.kind == K.REVIEW_REQUEST
        changes: dict[str, Any]
        if accept:
            check_transition(ComplaintStatus(complaint.status), C.ACCEPTED)
            if reason not in (None, ""):
                raise DomainError(ErrorCode.INVALID, "受理时不填写不予受理理由", "reason")
            if is_review and not await from_applicant(complaint):
                raise DomainError(
                    ErrorCode.NOT_APPLICANT,
                    "复查申请须由申报人本人就本人的评审结果提出,应以“非申报人本人”不予受理",
                    "accept",
                )
            changes = {"status": C.ACCEPTED, "due_on": handling_due_on(_now())}
        else:
            check_transition(ComplaintStatus(complaint.status), C.NOT_ACCEPTED)
            if reason is None or reason == "":
                raise DomainError(ErrorCode.REQUIRED, "不予受理须说明理由", "reason")
            reason = _enum(NonAcceptanceReason, reason, "reason")
            if reason not in (_REVIEW_REASONS if is_review else _COMPLAINT_REASONS):
                raise DomainError(ErrorCode.INVALID, "该理由不适用于此类事项", "reason")
            if reason == R.NOT_APPLICANT and await from_applicant(complaint):
                raise DomainError(ErrorCode.INVALID, "该复查申请由申报人本人提出", "reason")
            changes = {"status": C.NOT_ACCEPTED, "non_acceptance_reason": reason}
        before = audit.snapshot(complaint)
        await _save(complaint, changes)
        await audit.record(
            actor, "complaint.screen", complaint, before=before, after=audit.snapshot(complaint)
        )
    return complaint


# --- handling ---------------------------------------------------------------------


async def add_complaint_note(actor: Actor, complaint_id: int, *, body: str) -> ComplaintNote:
    """An investigation note; the first one on an accepted case starts its handling.

    Never shown to the complainant. Side effects: one ComplaintNote, maybe status
    accepted → in handling; audit `complaint.note` (and `complaint.handle`).
    """
    body = _clean(body, "body", max_length=TEXT_MAX, multiline=True)
    async with in_transaction():
        complaint = await handled_complaint(actor, complaint_id)
        if complaint.status == C.CLOSED:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "该事项已办结,不能再添加记录", "status")
        note = await ComplaintNote.create(
            complaint_id=complaint.id, author_id=actor.user_id, body=body
        )
        await audit.record(actor, "complaint.note", note, after=audit.snapshot(note))
        if complaint.status == C.ACCEPTED:
            await _start_handling(actor, complaint)
    return note


async def _start_handling(actor: Actor, complaint: Complaint) -> None:
    before = audit.snapshot(complaint)
    await _save(complaint, {"status": C.IN_HANDLING})
    await audit.record(
        actor, "complaint.handle", complaint, before=before, after=audit.snapshot(complaint)
    )


async def answer_complaint(
    actor: Actor, complaint_id: int, *, answer: str, version: int | None = None
) -> Complaint:
    """The written reply to the complainant (R16: every accepted item gets one).

    Review requests are answered through `decide_review_request`, which records the
    outcome. Side effects: status answered, answered_at; audit `complaint.answer`.
    """
    answer = _clean(answer, "answer", max_length=TEXT_MAX, multiline=True)
    async with in_transaction():
        complaint = await handled_complaint(actor, complaint_id)
        _check_version(complaint, version)
        if complaint.kind == K.REVIEW_REQUEST:
            raise DomainError(ErrorCode.INVALID, "复查申请请通过复查结论答复", "kind")
        check_transition(ComplaintStatus(complaint.status), C.ANSWERED)
        before = audit.snapshot(complaint)
        await _save(complaint, {"status": C.ANSWERED, "answer": answer, "answered_at": _now()})
        await audit.record(
            actor, "complaint.answer", complaint, before=before, after=audit.snapshot(complaint)
        )
    return complaint


async def close_complaint(
    actor: Actor, complaint_id: int, *, version: int | None = None
) -> Complaint:
    """Close an answered or not-accepted case. Side effects: status closed, closed_at;
    audit `complaint.close`."""
    async with in_transaction():
        complaint = await handled_complaint(actor, complaint_id)
        _check_version(complaint, version)
        check_transition(ComplaintStatus(complaint.status), C.CLOSED)
        before = audit.snapshot(complaint)
        await _save(complaint, {"status": C.CLOSED, "closed_at": _now()})
        await audit.record(
            actor, "complaint.close", complaint, before=before, after=audit.snapshot(complaint)
        )
    return complaint


# --- review requests: recount and decision ----------------------------------------


def _passes(votes_for: int, present: int) -> bool:
    num, den = get_config().pass_share
    return present > 0 and present * num <= votes_for * den


async def _recount(complaint: Complaint) -> RecountResult:
    applicant = await SessionApplicant.get(id=_fk(complaint, "applicant"))
    session = await EvaluationSession.get(id=_fk(applicant, "session"))
    choices = await Vote.filter(applicant_id=applicant.id).values_list("expert_id", "choice")
    # The seated panel as finalisation sees it: the executed draw, no backups, no declines.
    seated = await (
        PanelMember.filter(session_id=session.id, draw__status=DrawStatus.EXECUTED, is_backup=False)
        .exclude(status=PanelStatus.DECLINED)
        .values("expert_id", "seat", "present")
    )
    attendance = any(p["present"] is not None for p in seated)
    if attendance:
        present_ids = {p["expert_id"] for p in seated if p["present"]}
        source = "attendance"
    else:
        present_ids = set(
            await Vote.filter(session_id=session.id).distinct().values_list("expert_id", flat=True)
        )
        source = "voters"
    present = len(present_ids)
    # Finalisation counts the present experts' ballots only; a stored ballot of anyone
    # else is reported by the "voters" check instead of being counted.
    counted = {c: 0 for c in VoteChoice}
    for expert_id, choice in choices:
        if expert_id in present_ids:
            counted[VoteChoice(choice)] += 1
    counted_result = (
        ApplicantResult.PASSED
        if _passes(counted[VoteChoice.FOR], present)
        else ApplicantResult.FAILED
    )
    panel_size = len(seated) or session.panel_size

    recordings = await Recording.filter(session_id=session.id).count()
    supervisors = await SupervisorAssignment.filter(session_id=session.id).count()
    q_num, q_den = get_config().quorum_share
    presiding_id = _fk(session, "presiding_expert")
    presiding_ok = any(
        p["expert_id"] == presiding_id
        and p["seat"] in (Seat.CHAIR, Seat.VICE_CHAIR)
        and (p["present"] if attendance else True)
        for p in seated
    )
    voters = {expert_id for expert_id, _ in choices}
    strangers = voters - (present_ids if attendance else {p["expert_id"] for p in seated})
    checks = (
        ProcedureCheck(
            "recording",
            "全程录音录像",
            recordings > 0,
            f"已附录音录像{recordings}份" if recordings else "未附录音录像",
        ),
        ProcedureCheck(
            "supervisor",
            "委派监督委员",
            supervisors > 0,
            f"监督委员{supervisors}名" if supervisors else "未委派监督委员",
        ),
        ProcedureCheck(
            "quorum",
            "出席专家不少于评审组的三分之二",
            present > 0 and present * q_den >= panel_size * q_num,
            f"出席{present}人,评审组{panel_size}人",
        ),
        ProcedureCheck(
            "presiding",
            "由主任委员或副主任委员主持",
            presiding_ok,
            "主持人符合要求" if presiding_ok else "未由出席的主任委员或副主任委员主持",
        ),
        ProcedureCheck(
            "voters",
            "投票专家均为出席的评审专家",
            not strangers,
            "投票人均在评审组内" if not strangers else f"{len(strangers)}名投票人不在出席专家之列",
        ),
    )
    return RecountResult(
        complaint_id=complaint.id,
        applicant_id=applicant.id,
        session_id=session.id,
        stored_for=applicant.votes_for,
        stored_against=applicant.votes_against,
        stored_abstain=applicant.votes_abstain,
        stored_result=ApplicantResult(applicant.result),
        counted_for=counted[VoteChoice.FOR],
        counted_against=counted[VoteChoice.AGAINST],
        counted_abstain=counted[VoteChoice.ABSTAIN],
        present=present,
        present_source=source,
        counted_result=counted_result,
        checks=checks,
    )


async def _review_in_handling(actor: Actor, complaint_id: int) -> Complaint:
    complaint = await handled_complaint(actor, complaint_id)
    if complaint.kind != K.REVIEW_REQUEST:
        raise DomainError(ErrorCode.INVALID, "该事项不是复查申请", "kind")
    if complaint.status not in (C.ACCEPTED, C.IN_HANDLING):
        raise DomainError(ErrorCode.INVALID_TRANSITION, "复查申请受理后、答复前才能复查", "status")
    return complaint


async def recount_review_request(actor: Actor, complaint_id: int) -> RecountResult:
    """Recount the applicant's votes from the stored Vote rows and check the procedure
    (recording, supervisor, quorum, presiding chair, voters present).

    Present experts are the seated panel members (executed draw, no backups, no
    declines) marked present; when attendance was not recorded, the distinct voters of
    the session. As at finalisation only present experts' ballots count; a ballot from
    anyone else fails the "voters" check. Pass rule: for-votes ≥ Config.pass_share of
    present. Side effects: an accepted case goes in handling;
    audit `complaint.recount` with the summary.
    """
    async with in_transaction():
        complaint = await _review_in_handling(actor, complaint_id)
        result = await _recount(complaint)
        await audit.record(actor, "complaint.recount", complaint, after=result.summary())
        if complaint.status == C.ACCEPTED:
            await _start_handling(actor, complaint)
    return result


async def _correct_result(actor: Actor, complaint: Complaint, result: RecountResult) -> None:
    """The only path that changes a finalised result: audited with before and after."""
    applicant = await SessionApplicant.get(id=result.applicant_id)
    names = ["votes_for", "votes_against", "votes_abstain", "result"]
    before = audit.snapshot(applicant, names)
    after = {
        "votes_for": result.counted_for,
        "votes_against": result.counted_against,
        "votes_abstain": result.counted_abstain,
        "result": result.counted_result,
    }
    updated = await SessionApplicant.filter(
        id=applicant.id,
        votes_for=result.stored_for,
        votes_against=result.stored_against,
        votes_abstain=result.stored_abstain,
        result=result.stored_result,
    ).update(**after, updated_at=_now())
    if updated != 1:
        raise _conflict()
    await audit.record(
        actor,
        "session_applicant.correct",
        applicant,
        before=before,
        after={**after, "complaint_id": complaint.id},
    )
    if result.result_differs:
        # Certificates and the bureau's record follow the result: tell the bureau.
        await Notification.create(
            kind="result_corrected",
            dedupe_key=f"result-corrected:{applicant.id}:{complaint.id}",
            subject=f"复查更正评审结果:{applicant.name}"[:200],
            body=(
                f"评审会议{result.session_id}申报人“{applicant.name}”的评审结果经复查由"
                f"“{result.stored_result.value}”更正为“{result.counted_result.value}”"
                f"(复查申请{complaint.id})。请核对备案记录和电子证书。"
            ),
        )


async def decide_review_request(
    actor: Actor,
    complaint_id: int,
    *,
    upheld: bool,
    answer: str,
    version: int | None = None,
) -> Complaint:
    """Conclude a review request and answer the applicant.

    The votes are recounted afresh. Upheld with a miscount: the applicant's stored
    counts and result are corrected to the recount — the one path that may change a
    finalised result. Dismissing while the stored counts disagree with the votes is
    refused (RECOUNT_MISMATCH): a known miscount cannot be left standing.
    Side effects: maybe the SessionApplicant correction (audit
    `session_applicant.correct`, bureau notification when the result flips); status
    answered, answer, outcome; audit `complaint.decide`.
    """
    answer = _clean(answer, "answer", max_length=TEXT_MAX, multiline=True)
    async with in_transaction():
        complaint = await _review_in_handling(actor, complaint_id)
        _check_version(complaint, version)
        result = await _recount(complaint)
        if result.miscounted and not upheld:
            raise DomainError(
                ErrorCode.RECOUNT_MISMATCH,
                "复查发现计票与记录不符,不能驳回复查申请",
                "upheld",
            )
        if upheld and result.miscounted:
            await _correct_result(actor, complaint, result)
        before = audit.snapshot(complaint)
        await _save(
            complaint,
            {
                "status": C.ANSWERED,
                "answer": answer,
                "answered_at": _now(),
                "outcome": OUTCOME_UPHELD if upheld else OUTCOME_DISMISSED,
            },
        )
        await audit.record(
            actor,
            "complaint.decide",
            complaint,
            before=before,
            after={**audit.snapshot(complaint), "recount": result.summary()},
        )
    return complaint


# --- deadlines --------------------------------------------------------------------


def _today() -> dt.date:
    return local_date(_now())


async def escalate_overdue(today: dt.date | None = None) -> dict[str, int]:
    """The sweep step: every open, unanswered case past its due day is escalated to
    the bureau once. Side effects per case, in its own transaction: escalated_at,
    one Notification for the bureau, audit `complaint.escalate`."""
    today = today or _today()
    ids = await Complaint.filter(
        status__in=OPEN_STATUSES,
        answered_at__isnull=True,
        escalated_at__isnull=True,
        due_on__lt=today,
    ).values_list("id", flat=True)
    escalated = 0
    for complaint_id in sorted(ids):
        async with in_transaction():
            now = _now()
            # Conditional on escalated_at: a concurrent or repeated run escalates once.
            changed = await Complaint.filter(
                id=complaint_id, escalated_at__isnull=True, status__in=OPEN_STATUSES
            ).update(escalated_at=now, version=F("version") + 1, updated_at=now)
            if changed != 1:
                continue
            complaint = await Complaint.get(id=complaint_id)
            handler = "市人力资源社会保障局"
            if _fk(complaint, "institution") is not None:
                inst = await Institution.get(id=_fk(complaint, "institution"))
                handler = inst.name
            key = f"complaint-overdue:{complaint.id}"
            if not await Notification.exists(dedupe_key=key):
                status = ComplaintStatus(complaint.status)
                await Notification.create(
                    kind="complaint_overdue",
                    dedupe_key=key,
                    subject=f"{KIND_LABELS[ComplaintKind(complaint.kind)]}逾期未办结"
                    f"(编号{complaint.id})",
                    body=(
                        f"办理单位:{handler};当前状态:{STATUS_LABELS[status]};"
                        f"办理期限:{complaint.due_on}。已超过办理期限,请督办"
                        "(京人社事业发〔2023〕13号第二十八条)。"
                    ),
                )
            await audit.record(
                SYSTEM,
                "complaint.escalate",
                complaint,
                before={"escalated_at": None},
                after={"escalated_at": now, "due_on": complaint.due_on},
            )
            escalated += 1
    return {"escalated": escalated}


async def overdue_complaints(actor: Actor, today: dt.date | None = None) -> list[Complaint]:
    """Open cases past their due day that the actor handles (dashboards)."""
    qs = await visible_complaints(actor)
    return await qs.filter(
        status__in=OPEN_STATUSES, answered_at__isnull=True, due_on__lt=today or _today()
    ).order_by("due_on", "id")


# --- the handler queue as keyset pages (GraphQL API) --------------------------------


class ComplaintOrder(StrEnum):
    RECEIVED_ASC = "received_asc"
    RECEIVED_DESC = "received_desc"


COMPLAINT_SORTS: dict[ComplaintOrder, Sort] = {
    ComplaintOrder.RECEIVED_ASC: Sort("c.created", "created_at"),
    ComplaintOrder.RECEIVED_DESC: Sort("c.created-", "created_at", descending=True),
}


def _overdue_q(today: dt.date) -> Q:
    return Q(status__in=list(OPEN_STATUSES), answered_at__isnull=True, due_on__lt=today)


async def list_complaints_page(
    actor: Actor,
    *,
    statuses: list[ComplaintStatus] | None = None,
    kinds: list[ComplaintKind] | None = None,
    overdue: bool = False,
    order: ComplaintOrder = ComplaintOrder.RECEIVED_DESC,
    page: PageArgs | None = None,
    today: dt.date | None = None,
) -> Page[Complaint]:
    """The handler queue (scope minus cases against the actor, R16), keyset-paged;
    `overdue` keeps only open cases past their due day."""
    qs = await visible_complaints(actor)
    if statuses is not None:
        qs = qs.filter(status__in=list(statuses))
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    if overdue:
        qs = qs.filter(_overdue_q(today or _today()))
    return await paginate(qs, COMPLAINT_SORTS[order], page or PageArgs())


# --- the bureau's escalation view -------------------------------------------------


def supervises_escalations(actor: Actor) -> bool:
    """Overdue cases escalate to the bureau (sweep): only the bureau supervises them."""
    return actor.has(Role.BUREAU)


async def list_escalated_page(
    actor: Actor, *, page: PageArgs | None = None, today: dt.date | None = None
) -> Page[Complaint]:
    """Cases escalated by the sweep or open past their due day, for the bureau only
    (others get PermissionDenied), oldest first; cases against the actor look absent."""
    if actor.is_anonymous:
        raise Unauthenticated()
    if not supervises_escalations(actor):
        raise PermissionDenied("只有市人力资源社会保障局可以查看逾期督办事项")
    qs = (await visible_complaints(actor)).filter(
        Q(escalated_at__isnull=False) | _overdue_q(today or _today())
    )
    return await paginate(qs, COMPLAINT_SORTS[ComplaintOrder.RECEIVED_ASC], page or PageArgs())


# --- what the HTML pages need besides the case itself -----------------------------

STATUS_WINDOW = dt.timedelta(minutes=15)
STATUS_MAX_FAILURES = 10


async def lookup_complaint_status(
    tracking_code: str, password: str, *, client_addr: str
) -> ComplaintStatusView:
    """`complaint_status` throttled against guessing: after STATUS_MAX_FAILURES wrong
    code/password pairs from one client address, or for one tracking code, within
    STATUS_WINDOW, every lookup is refused with RateLimited until the window ends
    (even a right pair, so the limit cannot be probed). Side effects: failure
    counters (RateCounter)."""
    now = throttle.now_utc()
    start = throttle.window_start(now, STATUS_WINDOW)
    keys = (
        f"complaint-status:addr:{client_addr}",
        f"complaint-status:code:{normalize_tracking_code(tracking_code)[:20]}",
    )
    for key in keys:
        if await throttle.count(key, start) >= STATUS_MAX_FAILURES:
            retry = (start + STATUS_WINDOW - now).total_seconds()
            raise throttle.RateLimited(max(1, int(retry) + 1))
    try:
        return await complaint_status(tracking_code, password)
    except NotFound:
        for key in keys:
            await throttle.hit(key, start)
        raise


async def reviewable_results(actor: Actor) -> list[SessionApplicant]:
    """The logged-in applicant's own results a review request may be about (R16):
    from the actor's applicant grants only, results already produced."""
    ids = sorted(
        {g.applicant_id for g in actor.grants_of(Role.APPLICANT) if g.applicant_id is not None}
    )
    if not ids:
        return []
    return (
        await SessionApplicant.filter(id__in=ids)
        .exclude(result=ApplicantResult.PENDING)
        .order_by("-id")
    )


TARGET_LABELS: dict[TargetType, str] = {
    TargetType.INSTITUTION: "评审机构",
    TargetType.COMMITTEE: "评委会",
    TargetType.EXPERT: "评审专家",
    TargetType.SESSION: "评审会议",
    TargetType.APPLICANT: "评审通过人员/申报人",
}


async def target_names(complaints: list[Complaint]) -> dict[int, str]:
    """complaint id → the name of what it is against, for cases the caller already
    loaded through a scoped query (one query per target type)."""
    wanted: dict[TargetType, set[int]] = {}
    for c in complaints:
        if c.target_id is not None:
            wanted.setdefault(TargetType(c.target_type), set()).add(c.target_id)
    names: dict[tuple[TargetType, int], str] = {}
    models: dict[TargetType, Any] = {
        TargetType.INSTITUTION: Institution,
        TargetType.COMMITTEE: Committee,
        TargetType.EXPERT: Expert,
        TargetType.APPLICANT: SessionApplicant,
    }
    for target_type, ids in wanted.items():
        if target_type == TargetType.SESSION:
            rows = await EvaluationSession.filter(id__in=sorted(ids)).values("id", "year", "place")
            for r in rows:
                names[(target_type, r["id"])] = f"{r['year']}年评审会议(地点:{r['place']})"
            continue
        for r in await models[target_type].filter(id__in=sorted(ids)).values("id", "name"):
            names[(target_type, r["id"])] = r["name"]
    return {
        c.id: names.get((TargetType(c.target_type), c.target_id), "")  # type: ignore[arg-type]
        for c in complaints
    }


BUREAU_NAME = "市人力资源社会保障局"


async def handler_names(complaints: list[Complaint]) -> dict[int, str]:
    """complaint id → who handles it: the institution concerned, or the bureau."""
    ids = sorted({i for c in complaints if (i := _fk(c, "institution")) is not None})
    rows = await Institution.filter(id__in=ids).values("id", "name") if ids else []
    names = {r["id"]: r["name"] for r in rows}
    result: dict[int, str] = {}
    for c in complaints:
        institution_id = _fk(c, "institution")
        result[c.id] = BUREAU_NAME if institution_id is None else names.get(institution_id, "")
    return result
