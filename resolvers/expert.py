"""The expert pool (Chapter 3, Art. 13–22, 24, 25, 32): entry, review and approval,
terms, self-service updates, confidentiality agreement and training, exit,
assessment and pool statistics.

Rules enforced here: R3 (who recommends), R4 (entry eligibility), R6 (exit, the age
sweep), R7 (terms), R8 (updates apply only after both verifications), R9 via the
eligibility engine, R13 (youth share), R17 (a failed assessment exits), R19
(agreement and training records for the draw).

Exited experts keep every row of their history (terms, seats, assessments,
signatures): nothing is deleted. They can never be drawn because the draw's
eligibility starts from ``status == in_pool`` (and committee rosters count only
in-pool experts, resolvers/institution.py `_check_roster`); an exit also ends the
expert's open terms, so "term current" fails as well.

Expert numbers are "BJ" + year of entry + the row id padded to 6 digits: the id is
already unique, so two concurrent entries can never race for a number.
"""

import datetime as dt
import functools
import hashlib
import re
import secrets
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery
from tortoise.functions import Count
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models import (
    AgreementSignature,
    AgreementText,
    Authority,
    Committee,
    CommitteeSeat,
    EvaluationSession,
    Expert,
    ExpertApplication,
    ExpertAssessment,
    ExpertEmployment,
    ExpertTerm,
    ExpertUpdate,
    Institution,
    TrainingRecord,
    Unit,
)
from models.enums import (
    AssessmentResult,
    AuthorityKind,
    EntryRoute,
    ExitReason,
    ExpertApplicationStatus,
    ExpertStatus,
    FilingStatus,
    Gender,
    InvitationCategory,
    Level,
    RetirementCategory,
    Role,
    TermStatus,
    UnitType,
    UpdateStatus,
)
from resolvers import audit, validate
from resolvers.actor import SYSTEM, Actor
from resolvers.common import batch_ids, beijing_today
from resolvers.common import fk_id as _fk
from resolvers.common import utcnow as _now
from resolvers.config import get_config
from resolvers.eligibility import (
    AGE_LIMIT_YEARS,
    MAX_TERMS,
    ExpertFacts,
    Reason,
    ReasonCode,
    check_pool_entry,
    may_renew,
    must_exit_for_age,
    term_end,
    term_last_year,
)
from resolvers.errors import DomainError, ErrorCode, NotFound, PermissionDenied, Unauthenticated
from resolvers.institution import NATIONAL_SERIES, effective_status
from resolvers.jobs import Progress
from resolvers.lifecycle import check_transition
from resolvers.personal import (
    birth_date_from_id,
    decrypt,
    encrypt,
    gender_from_id,
    keyed_hash,
    mask_phone,
    normalize_id_number,
    normalize_phone,
    protect_id_number,
    protect_phone,
)
from resolvers.policy import Perm, allows, require, scope_filter, scoped
from resolvers.retirement import SCHEDULES, anniversary, category_matches_gender

E, EA = ExpertStatus, ExpertApplicationStatus
M = TypeVar("M", bound=Model)

TEXT_MAX = 2000

# Shared input checks (resolvers/validate.py), with this module's defaults.
_text = functools.partial(validate.text, max_length=TEXT_MAX)
_enum = validate.enum_value
YOUTH_AGE = 45  # Art. 14: 45周岁以下青年专家
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ACTIVE = (E.IN_POOL, E.SUSPENDED)
_OPEN = (E.APPLIED, E.REVIEWED, E.IN_POOL, E.SUSPENDED)

# R3 (Art. 15(一)): which kind of authority recommends experts of each unit type.
RESPONSIBLE_KIND: dict[UnitType, AuthorityKind] = {
    UnitType.MUNICIPAL: AuthorityKind.INDUSTRY,
    UnitType.DISTRICT: AuthorityKind.DISTRICT_BUREAU,
    UnitType.CENTRAL: AuthorityKind.DISTRICT_BUREAU,
    UnitType.NON_PUBLIC: AuthorityKind.DISTRICT_BUREAU,
}
UNIT_TYPE_LABELS: dict[UnitType, str] = {
    UnitType.MUNICIPAL: "市属",
    UnitType.DISTRICT: "区属",
    UnitType.CENTRAL: "中央在京",
    UnitType.NON_PUBLIC: "非公",
}
AUTHORITY_KIND_LABELS: dict[AuthorityKind, str] = {
    AuthorityKind.INDUSTRY: "行业主管部门",
    AuthorityKind.DISTRICT_BUREAU: "所在区人力资源社会保障部门",
}

# R8: what an expert may change in self-service (identity fields are not among them).
UPDATABLE_FIELDS: tuple[str, ...] = (
    "phone",
    "email",
    "unit_id",
    "title",
    "title_level",
    "title_obtained_on",
    "specialty",
    "field",
)


class EligibilityError(DomainError):
    """NOT_ELIGIBLE with the engine's named reasons (R4), so callers can list each one."""

    def __init__(self, reasons: Sequence[Reason], *, prefix: str = "") -> None:
        self.reasons: list[Reason] = list(reasons)
        message = prefix + "".join(r.message for r in self.reasons)
        super().__init__(ErrorCode.NOT_ELIGIBLE, message, None)

    @property
    def reason_codes(self) -> list[ReasonCode]:
        return [r.code for r in self.reasons]


# --- small helpers ----------------------------------------------------------------


def _today() -> dt.date:
    return beijing_today()


def _date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise DomainError(ErrorCode.INVALID, "日期格式应为YYYY-MM-DD", field)


def _email(value: Any, field: str = "email") -> str:
    value = _text(value, field, max_length=200, required=False)
    if value and not _EMAIL_RE.fullmatch(value):
        raise DomainError(ErrorCode.INVALID, "电子邮箱格式不正确", field)
    return value


def _series(value: Any, field: str = "series") -> str:
    value = _text(value, field, max_length=50)
    if value not in NATIONAL_SERIES:
        raise DomainError(ErrorCode.INVALID, "系列应为国家规定的职称系列之一", field)
    return value


def _conflict() -> DomainError:
    return DomainError(ErrorCode.VERSION_CONFLICT, "数据已被他人修改,请刷新后重试", "version")


async def _save(obj: M, changes: Mapping[str, Any]) -> M:
    """Write `changes` only if nobody changed `obj` since it was loaded (optimistic lock).

    Concurrent writers of one row: the second conditional UPDATE matches no row (it
    waits for the first to commit on PostgreSQL, then sees the new version).
    """
    seen: int = obj.version  # type: ignore[attr-defined]
    values = {**changes, "version": seen + 1, "updated_at": _now()}
    updated = await type(obj).filter(pk=obj.pk, version=seen).update(**values)
    if updated != 1:
        raise _conflict()
    for name, value in values.items():
        setattr(obj, name, value)
    return obj


async def _first(qs: QuerySet[M], message: str) -> M:
    obj = await qs.first()
    if obj is None:
        raise NotFound(message)
    return obj


def _years_before(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


# --- reads --------------------------------------------------------------------------


async def get_expert(actor: Actor, expert_id: int) -> Expert:
    """One expert as far as the actor may see experts (absent otherwise)."""
    return await _first(scoped(actor, Perm.EXPERT_VIEW, Expert.filter(id=expert_id)), "专家不存在")


async def get_expert_application(actor: Actor, application_id: int) -> ExpertApplication:
    """One application: the bureau, its institution, its recommending authority, the expert."""
    qs = scoped(actor, Perm.EXPERT_VIEW, ExpertApplication.filter(id=application_id))
    return await _first(qs, "入库申请不存在")


def expert_applications_query(
    actor: Actor,
    *,
    statuses: Sequence[ExpertApplicationStatus] | None = None,
    routes: Sequence[EntryRoute] | None = None,
    institution_id: int | None = None,
    committee_id: int | None = None,
) -> QuerySet[ExpertApplication]:
    """The applications the actor may see (EXPERT_VIEW scope), filtered; None = any.
    The pool is not public (SPEC roles): anonymous callers are told to log in."""
    if actor.is_anonymous:
        raise Unauthenticated()
    qs = scoped(actor, Perm.EXPERT_VIEW, ExpertApplication.all())
    if statuses is not None:
        qs = qs.filter(status__in=list(statuses))
    if routes is not None:
        qs = qs.filter(route__in=list(routes))
    if institution_id is not None:
        qs = qs.filter(institution_id=institution_id)
    if committee_id is not None:
        qs = qs.filter(committee_id=committee_id)
    return qs


async def list_expert_applications(
    actor: Actor,
    *,
    status: ExpertApplicationStatus | None = None,
    institution_id: int | None = None,
) -> list[ExpertApplication]:
    """Review queue (institution: submitted) and approval queue (bureau: reviewed)."""
    statuses = None if status is None else [status]
    qs = expert_applications_query(actor, statuses=statuses, institution_id=institution_id)
    return await qs.order_by("id")


async def page_expert_applications(
    actor: Actor,
    *,
    statuses: Sequence[ExpertApplicationStatus] = (),
    page: int = 1,
    page_size: int = 20,
) -> tuple[list[ExpertApplication], bool]:
    """One page of the applications the actor may see (oldest first), with their
    experts loaded, and whether a next page exists. For the HTML queues."""
    qs = expert_applications_query(actor, statuses=list(statuses) or None)
    page = max(page, 1)
    rows = (
        await qs.order_by("id")
        .offset((page - 1) * page_size)
        .limit(page_size + 1)
        .select_related("expert", "institution")
    )
    return rows[:page_size], len(rows) > page_size


@dataclass(frozen=True)
class ExpertRecord:
    """What an expert's self-service page shows besides the profile (Art. 19, 25, 32)."""

    terms: list[ExpertTerm]
    trainings: list[TrainingRecord]
    assessments: list[ExpertAssessment]
    signatures: list[AgreementSignature]


async def expert_record(actor: Actor, expert_id: int) -> ExpertRecord:
    """Terms, training records, assessments and agreement signatures of one expert,
    each through its own scoped query."""
    expert = await get_expert(actor, expert_id)
    return ExpertRecord(
        terms=await scoped(
            actor, Perm.EXPERT_VIEW, ExpertTerm.filter(expert_id=expert.id)
        ).order_by("number"),
        trainings=await scoped(
            actor, Perm.EXPERT_VIEW, TrainingRecord.filter(expert_id=expert.id)
        ).order_by("-trained_on", "-id"),
        assessments=await scoped(
            actor, Perm.EXPERT_VIEW, ExpertAssessment.filter(expert_id=expert.id)
        ).order_by("-assessed_on", "-id"),
        signatures=await scoped(
            actor, Perm.EXPERT_VIEW, AgreementSignature.filter(expert_id=expert.id)
        )
        .select_related("agreement")
        .order_by("-signed_at"),
    )


async def recommendable_units(actor: Actor) -> list[Unit]:
    """Units whose registered authority is one the recommender acts for (R3 form choices;
    recommend_expert still checks the authority's kind)."""
    require(actor, Perm.EXPERT_RECOMMEND)
    ids = [g.authority_id for g in actor.grants_of(Role.RECOMMENDER) if g.authority_id]
    return await Unit.filter(authority_id__in=ids).order_by("name")


# --- entry (Art. 15–17, R3, R4) ---------------------------------------------------


@dataclass(frozen=True)
class PersonInput:
    """A candidate's validated personal and professional data (before any write)."""

    name: str
    id_number: str
    gender: Gender
    birth_date: dt.date
    retirement_category: RetirementCategory
    phone: str
    email: str
    title: str
    title_level: Level
    title_obtained_on: dt.date
    series: str
    specialty: str
    field: str

    @property
    def facts(self) -> ExpertFacts:
        return ExpertFacts(
            gender=self.gender,
            birth_date=self.birth_date,
            retirement_category=self.retirement_category,
            title_level=self.title_level,
            title_obtained_on=self.title_obtained_on,
        )


def validate_person(raw: Mapping[str, Any]) -> PersonInput:
    """Validate candidate fields; gender and birth date come from the ID number.

    Raises DomainError (field named in camelCase) on the first bad value.
    """
    name = _text(raw.get("name"), "name", max_length=50)
    id_number = normalize_id_number(_text(raw.get("id_number"), "idNumber", max_length=30))
    gender = Gender(gender_from_id(id_number))
    category = _enum(RetirementCategory, raw.get("retirement_category"), "retirementCategory")
    if not category_matches_gender(gender, category):
        raise DomainError(
            ErrorCode.INVALID,
            "原退休年龄类别与身份证号码显示的性别不符",
            "retirementCategory",
        )
    phone = normalize_phone(_text(raw.get("phone"), "phone", max_length=20))
    return PersonInput(
        name=name,
        id_number=id_number,
        gender=gender,
        birth_date=birth_date_from_id(id_number),
        retirement_category=category,
        phone=phone,
        email=_email(raw.get("email")),
        title=_text(raw.get("title"), "title", max_length=100),
        title_level=_enum(Level, raw.get("title_level"), "titleLevel"),
        title_obtained_on=_date(raw.get("title_obtained_on"), "titleObtainedOn"),
        series=_series(raw.get("series")),
        specialty=_text(raw.get("specialty"), "specialty", max_length=100),
        field=_text(raw.get("field"), "field", max_length=200, required=False),
    )


def recommender_error(unit: Unit, authority: Authority | None) -> DomainError | None:
    """R3: None when `authority` (the unit's registered one) may recommend for `unit`.

    The message names who should recommend, so a wrong recommender knows where to go.
    """
    kind = RESPONSIBLE_KIND[UnitType(unit.unit_type)]
    label = UNIT_TYPE_LABELS[UnitType(unit.unit_type)]
    if authority is None or authority.kind != kind:
        return DomainError(
            ErrorCode.WRONG_RECOMMENDER,
            f"{label}单位的专家应由{AUTHORITY_KIND_LABELS[kind]}推荐,"
            f"但“{unit.name}”尚未登记负责推荐的{AUTHORITY_KIND_LABELS[kind]}",
            "unitId",
        )
    return None


def check_entry(
    person: PersonInput, today: dt.date, *, invited: bool, exception_reason: str
) -> list[Reason]:
    """R4 at entry: the reasons that remain; with an urgently needed specialty reason
    the title conditions are left for the bureau's approval (Art. 16(四))."""
    reasons = check_pool_entry(
        person.facts, today, invited=invited, urgent_exception_approved=False
    )
    if reasons and exception_reason:
        return check_pool_entry(
            person.facts, today, invited=invited, urgent_exception_approved=True
        )
    return reasons


async def collecting_institution(actor: Actor, institution_id: int) -> Institution:
    """The institution collecting candidates: visible to the actor and filed in force."""
    inst = await _first(
        scoped(actor, Perm.INSTITUTION_VIEW, Institution.filter(id=institution_id)),
        "评审机构不存在",
    )
    if effective_status(inst) != FilingStatus.FILED:
        raise DomainError(
            ErrorCode.INSTITUTION_NOT_FILED, "评审机构未备案或已停止,不能征集专家", "institutionId"
        )
    return inst


async def _committee_of(committee_id: int | None, inst: Institution) -> int | None:
    if committee_id is None:
        return None
    committee = await Committee.get_or_none(id=committee_id)
    if committee is None or _fk(committee, "institution") != inst.id:
        raise DomainError(ErrorCode.INVALID, "评委会不属于该评审机构", "committeeId")
    return committee.id


async def create_candidate(
    actor: Actor,
    person: PersonInput,
    unit: Unit,
    *,
    institution_id: int,
    committee_id: int | None,
    route: EntryRoute,
    authority_id: int | None,
    invitation_category: InvitationCategory | None,
    exception_reason: str,
    exception_approved: bool,
    today: dt.date,
) -> tuple[Expert, ExpertApplication]:
    """Write one validated candidate: Expert (applied), employment, application.

    Call inside a transaction (used by the entry services and the Excel import). A
    previously rejected person is re-opened on the same expert row (history kept);
    anyone else already known by ID number is a DUPLICATE.
    """
    id_hash = keyed_hash(person.id_number)
    values: dict[str, Any] = {
        "name": person.name,
        "gender": person.gender,
        "birth_date": person.birth_date,
        "retirement_category": person.retirement_category,
        "email": person.email,
        "unit_id": unit.id,
        "title": person.title,
        "title_level": person.title_level,
        "title_obtained_on": person.title_obtained_on,
        "series": person.series,
        "specialty": person.specialty,
        "field": person.field,
        "entry_route": route,
        "invitation_category": invitation_category,
        "institution_id": institution_id,
        "status": E.APPLIED,
        **protect_phone(person.phone),
    }
    existing = await Expert.filter(id_number_hash=id_hash).first()
    if existing is not None and existing.status != E.REJECTED:
        raise DomainError(ErrorCode.DUPLICATE, "该身份证号码的专家已在库或已申请入库", "idNumber")
    if existing is None:
        try:
            row: dict[str, Any] = {**protect_id_number(person.id_number), **values}
            expert = await Expert.create(number="T" + secrets.token_hex(7), **row)
        except IntegrityError:
            raise DomainError(
                ErrorCode.DUPLICATE, "该身份证号码的专家已在库或已申请入库", "idNumber"
            ) from None
        expert.number = f"BJ{today.year}{expert.id:06d}"
        await Expert.filter(id=expert.id).update(number=expert.number)
        await audit.record(actor, "expert.create", expert, after=audit.snapshot(expert))
        await ExpertEmployment.create(expert_id=expert.id, unit_id=unit.id, start_on=today)
    else:
        expert = existing
        before = audit.snapshot(expert)
        check_transition(E(expert.status), E.APPLIED)
        old_unit = _fk(expert, "unit")
        await _save(expert, values)
        await audit.record(
            actor, "expert.reapply", expert, before=before, after=audit.snapshot(expert)
        )
        if old_unit != unit.id:
            await _move_employment(expert.id, unit.id, today)
    application = await ExpertApplication.create(
        expert_id=expert.id,
        route=route,
        authority_id=authority_id,
        invitation_category=invitation_category,
        institution_id=institution_id,
        committee_id=committee_id,
        exception_reason=exception_reason,
        exception_approved=exception_approved,
        submitted_by_id=actor.user_id,
    )
    await audit.record(
        actor, "expert_application.create", application, after=audit.snapshot(application)
    )
    return expert, application


async def _move_employment(expert_id: int, unit_id: int, today: dt.date) -> None:
    # R11 counts employment within 3 years: close the old period, keep it as history.
    await ExpertEmployment.filter(expert_id=expert_id, end_on=None).update(
        end_on=today - dt.timedelta(days=1)
    )
    await ExpertEmployment.create(expert_id=expert_id, unit_id=unit_id, start_on=today)


async def recommend_expert(
    actor: Actor,
    *,
    institution_id: int,
    committee_id: int | None = None,
    name: str,
    id_number: str,
    phone: str,
    email: str = "",
    unit_id: int,
    title: str,
    title_level: Level | str,
    title_obtained_on: dt.date,
    series: str,
    specialty: str,
    field: str = "",
    retirement_category: RetirementCategory | str,
    exception_reason: str = "",
) -> ExpertApplication:
    """Recommendation route (Art. 15(一), R3): the authority responsible for the unit.

    Municipal units: their industry authority; district, central-in-Beijing and
    non-public units: their district bureau. Any other recommender gets
    WRONG_RECOMMENDER naming the right one. R4 is checked at once: an ineligible
    candidate is refused with the reasons (NOT_ELIGIBLE) unless an urgently needed
    specialty reason is given, which the bureau must then approve.

    Side effects: Expert (applied, new number), ExpertEmployment, ExpertApplication
    (submitted); audit events for each.
    """
    params = dict(locals())
    require(actor, Perm.EXPERT_RECOMMEND)
    today = _today()
    person = validate_person(params)
    reason = _text(exception_reason, "exceptionReason", required=False)
    async with in_transaction():
        unit = await Unit.get_or_none(id=unit_id).select_related("authority")
        if unit is None:
            raise DomainError(ErrorCode.INVALID, "所在单位不存在", "unitId")
        authority: Authority | None = unit.authority
        error = recommender_error(unit, authority)
        if error is not None:
            raise error
        assert authority is not None  # noqa: S101 -- recommender_error returned None
        if not any(g.authority_id == authority.id for g in actor.grants_of(Role.RECOMMENDER)):
            label = UNIT_TYPE_LABELS[UnitType(unit.unit_type)]
            raise DomainError(
                ErrorCode.WRONG_RECOMMENDER,
                f"{label}单位“{unit.name}”的专家应由“{authority.name}”推荐",
                "unitId",
            )
        inst = await collecting_institution(actor, institution_id)
        committee = await _committee_of(committee_id, inst)
        reasons = check_entry(person, today, invited=False, exception_reason=reason)
        if reasons:
            raise EligibilityError(reasons)
        _, application = await create_candidate(
            actor,
            person,
            unit,
            institution_id=inst.id,
            committee_id=committee,
            route=EntryRoute.RECOMMENDATION,
            authority_id=authority.id,
            invitation_category=None,
            exception_reason=reason,
            exception_approved=False,
            today=today,
        )
    return application


async def invite_expert(
    actor: Actor,
    *,
    category: InvitationCategory | str,
    institution_id: int,
    committee_id: int | None = None,
    name: str,
    id_number: str,
    phone: str,
    email: str = "",
    unit_id: int,
    title: str,
    title_level: Level | str,
    title_obtained_on: dt.date,
    series: str,
    specialty: str,
    field: str = "",
    retirement_category: RetirementCategory | str,
    exception_reason: str = "",
) -> ExpertApplication:
    """Invitation route (Art. 15(二), R3): the bureau only, with a category.

    An invited expert may be past the statutory retirement date (R4), not past the
    age limit (R6). Only an urgently needed specialty invitation may carry a title
    exception; the bureau inviting is the bureau approving it, so it is recorded as
    approved. The institution still reviews the application (Art. 17).

    Side effects: as recommend_expert.
    """
    params = dict(locals())
    require(actor, Perm.EXPERT_INVITE)
    today = _today()
    invitation: InvitationCategory = _enum(InvitationCategory, category, "category")
    person = validate_person(params)
    reason = _text(exception_reason, "exceptionReason", required=False)
    if reason and invitation != InvitationCategory.URGENT_SPECIALTY:
        raise DomainError(
            ErrorCode.INVALID, "只有急需紧缺专业的邀请可以设置例外条件", "exceptionReason"
        )
    async with in_transaction():
        unit = await Unit.get_or_none(id=unit_id)
        if unit is None:
            raise DomainError(ErrorCode.INVALID, "所在单位不存在", "unitId")
        inst = await collecting_institution(actor, institution_id)
        committee = await _committee_of(committee_id, inst)
        reasons = check_entry(person, today, invited=True, exception_reason=reason)
        if reasons:
            raise EligibilityError(reasons)
        _, application = await create_candidate(
            actor,
            person,
            unit,
            institution_id=inst.id,
            committee_id=committee,
            route=EntryRoute.INVITATION,
            authority_id=None,
            invitation_category=invitation,
            exception_reason=reason,
            exception_approved=bool(reason),
            today=today,
        )
    return application


async def _set_expert_status(
    actor: Actor, expert: Expert, status: ExpertStatus, action: str, **extra: Any
) -> None:
    check_transition(E(expert.status), status)
    before = audit.snapshot(expert)
    await _save(expert, {"status": status, **extra})
    await audit.record(actor, action, expert, before=before, after=audit.snapshot(expert))


async def review_expert_application(
    actor: Actor, application_id: int, *, opinion: str, recommend: bool
) -> ExpertApplication:
    """The institution's qualification review with its opinion (Art. 17).

    Side effects: recommend → application reviewed and expert reviewed; otherwise
    application and expert rejected with the opinion as the reason; audit events.
    """
    async with in_transaction():
        app = await get_expert_application(actor, application_id)
        require(actor, Perm.EXPERT_REVIEW, app)
        opinion = _text(opinion, "opinion")
        target = EA.REVIEWED if recommend else EA.REJECTED
        check_transition(EA(app.status), target)
        expert = await Expert.get(id=_fk(app, "expert"))
        before = audit.snapshot(app)
        changes: dict[str, Any] = {
            "status": target,
            "institution_opinion": opinion,
            "reviewed_at": _now(),
        }
        if not recommend:
            changes.update(decided_at=_now(), decision_reason=opinion)
        await _save(app, changes)
        await audit.record(
            actor,
            "expert_application.review" if recommend else "expert_application.reject",
            app,
            before=before,
            after=audit.snapshot(app),
        )
        await _set_expert_status(
            actor,
            expert,
            E.REVIEWED if recommend else E.REJECTED,
            "expert.review" if recommend else "expert.reject",
        )
    return app


async def approve_expert(
    actor: Actor, application_id: int, *, approve_exception: bool = False
) -> ExpertApplication:
    """The bureau files a reviewed expert into the pool (Art. 17, 19).

    Eligibility is re-run for today (R4): an ineligible candidate with a recorded
    urgently needed specialty reason needs `approve_exception=True`; without one the
    reasons are returned. Concurrent approvals: the conditional update on the
    application's version lets exactly one through.

    Side effects: application approved; expert in_pool with pooled_at today; the
    first ExpertTerm (3 years, R7); audit events for each.
    """
    today = _today()
    async with in_transaction():
        app = await get_expert_application(actor, application_id)
        require(actor, Perm.EXPERT_APPROVE, app)
        check_transition(EA(app.status), EA.APPROVED)
        expert = await Expert.get(id=_fk(app, "expert"))
        facts = ExpertFacts.from_model(expert)
        invited = app.route == EntryRoute.INVITATION
        reasons = check_pool_entry(facts, today, invited=invited, urgent_exception_approved=False)
        exception_approved = bool(app.exception_approved)
        if reasons:
            if not app.exception_reason:
                raise EligibilityError(reasons)
            if not (approve_exception or exception_approved):
                raise EligibilityError(
                    reasons,
                    prefix=f"须批准急需紧缺专业例外(理由:{app.exception_reason})方可入库。",
                )
            remaining = check_pool_entry(
                facts, today, invited=invited, urgent_exception_approved=True
            )
            if remaining:
                raise EligibilityError(remaining)
            exception_approved = True
        before = audit.snapshot(app)
        await _save(
            app,
            {"status": EA.APPROVED, "decided_at": _now(), "exception_approved": exception_approved},
        )
        await audit.record(
            actor, "expert_application.approve", app, before=before, after=audit.snapshot(app)
        )
        await _set_expert_status(actor, expert, E.IN_POOL, "expert.approve", pooled_at=today)
        first = await ExpertTerm.filter(expert_id=expert.id).order_by("-number").first()
        term = await ExpertTerm.create(
            expert_id=expert.id,
            number=1 if first is None else first.number + 1,
            start_on=today,
            end_on=term_end(today),
        )
        await audit.record(actor, "expert_term.create", term, after=audit.snapshot(term))
    return app


async def reject_expert(actor: Actor, application_id: int, *, reason: str) -> ExpertApplication:
    """The bureau declines an application (submitted or reviewed). Side effects:
    application and expert rejected with the reason; audit events."""
    async with in_transaction():
        app = await get_expert_application(actor, application_id)
        require(actor, Perm.EXPERT_APPROVE, app)
        reason = _text(reason, "reason")
        check_transition(EA(app.status), EA.REJECTED)
        expert = await Expert.get(id=_fk(app, "expert"))
        before = audit.snapshot(app)
        await _save(app, {"status": EA.REJECTED, "decided_at": _now(), "decision_reason": reason})
        await audit.record(
            actor, "expert_application.reject", app, before=before, after=audit.snapshot(app)
        )
        await _set_expert_status(actor, expert, E.REJECTED, "expert.reject")
    return app


# --- additions or adjustments (Art. 17) -------------------------------------------

# What the submitter may correct when an application is sent back. The ID number
# (and so gender and birth date) and the unit are not among them: a different person
# or unit is a new application (the unit decides the recommender, R3).
AMENDABLE_FIELDS: tuple[str, ...] = (
    "name",
    "phone",
    "email",
    "title",
    "title_level",
    "title_obtained_on",
    "series",
    "specialty",
    "field",
    "exception_reason",
    "committee_id",
)


def _require_sender_back(actor: Actor, app: ExpertApplication) -> str:
    """Who may ask for additions: the institution while it reviews (submitted), the
    bureau until it decides (submitted or reviewed). Returns the asking side."""
    if app.status == EA.SUBMITTED and allows(actor, Perm.EXPERT_REVIEW):
        require(actor, Perm.EXPERT_REVIEW, app)
        return "institution"
    require(actor, Perm.EXPERT_APPROVE, app)
    return "bureau"


async def request_expert_application_changes(
    actor: Actor, application_id: int, *, reason: str
) -> ExpertApplication:
    """Send an application back to its submitter for additions or adjustments (Art. 17).

    The institution may do so while reviewing, the bureau before its decision; the
    reason is required. Side effects: application needs_changes with the reason, a
    new entry in change_history; an expert already reviewed goes back to applied;
    audit events for each.
    """
    async with in_transaction():
        app = await get_expert_application(actor, application_id)
        side = _require_sender_back(actor, app)
        reason = _text(reason, "reason")
        check_transition(EA(app.status), EA.NEEDS_CHANGES)
        expert = await Expert.get(id=_fk(app, "expert"))
        now = _now()
        history = [
            *(app.change_history or []),
            {
                "requestedAt": now.isoformat(),
                "requestedBy": actor.user_id,
                "side": side,
                "reason": reason,
                "resubmittedAt": None,
                "response": "",
                "changedFields": [],
            },
        ]
        before = audit.snapshot(app)
        await _save(
            app,
            {
                "status": EA.NEEDS_CHANGES,
                "change_request": reason,
                "change_requested_at": now,
                "change_history": history,
            },
        )
        await audit.record(
            actor,
            "expert_application.request_changes",
            app,
            before=before,
            after=audit.snapshot(app),
        )
        if expert.status == E.REVIEWED:
            await _set_expert_status(actor, expert, E.APPLIED, "expert.send_back")
    return app


async def _amendments(
    app: ExpertApplication, expert: Expert, raw: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validated (expert values, application values) from the given fields (None: keep)."""
    person: dict[str, Any] = {}
    application: dict[str, Any] = {}
    if raw.get("name") is not None:
        person["name"] = _text(raw["name"], "name", max_length=50)
    if raw.get("phone") is not None:
        phone = normalize_phone(_text(raw["phone"], "phone", max_length=20))
        person.update(protect_phone(phone))
    if raw.get("email") is not None:
        person["email"] = _email(raw["email"])
    if raw.get("title") is not None:
        person["title"] = _text(raw["title"], "title", max_length=100)
    if raw.get("title_level") is not None:
        person["title_level"] = _enum(Level, raw["title_level"], "titleLevel")
    if raw.get("title_obtained_on") is not None:
        obtained = _date(raw["title_obtained_on"], "titleObtainedOn")
        if obtained > _today():
            raise DomainError(ErrorCode.INVALID, "职称取得日期不能晚于今天", "titleObtainedOn")
        person["title_obtained_on"] = obtained
    if raw.get("series") is not None:
        person["series"] = _series(raw["series"])
    if raw.get("specialty") is not None:
        person["specialty"] = _text(raw["specialty"], "specialty", max_length=100)
    if raw.get("field") is not None:
        person["field"] = _text(raw["field"], "field", max_length=200, required=False)
    if raw.get("exception_reason") is not None:
        reason = _text(raw["exception_reason"], "exceptionReason", required=False)
        invited = app.route == EntryRoute.INVITATION
        if reason and invited and app.invitation_category != InvitationCategory.URGENT_SPECIALTY:
            raise DomainError(
                ErrorCode.INVALID, "只有急需紧缺专业的邀请可以设置例外条件", "exceptionReason"
            )
        # The bureau's own invitation carries its approval; a recommender's does not.
        application["exception_reason"] = reason
        application["exception_approved"] = bool(reason) and invited
    if raw.get("committee_id") is not None:
        inst = await Institution.get(id=_fk(app, "institution"))
        application["committee_id"] = await _committee_of(int(raw["committee_id"]), inst)
    # A value submitted unchanged is no amendment (forms send every field back).
    if person.get("phone_hash") == expert.phone_hash:
        person = {k: v for k, v in person.items() if not k.startswith("phone")}
    person = {k: v for k, v in person.items() if k.startswith("phone") or getattr(expert, k) != v}
    if application.get("exception_reason", app.exception_reason) == app.exception_reason:
        application.pop("exception_reason", None)
        application.pop("exception_approved", None)
    if application.get("committee_id", _fk(app, "committee")) == _fk(app, "committee"):
        application.pop("committee_id", None)
    return person, application


async def resubmit_expert_application(
    actor: Actor,
    application_id: int,
    *,
    version: int,
    response: str = "",
    name: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    title: str | None = None,
    title_level: Level | str | None = None,
    title_obtained_on: dt.date | str | None = None,
    series: str | None = None,
    specialty: str | None = None,
    field: str | None = None,
    exception_reason: str | None = None,
    committee_id: int | None = None,
) -> ExpertApplication:
    """The submitter amends a sent-back application and submits it again (Art. 17).

    The recommending authority for a recommendation, the bureau for an invitation.
    Only AMENDABLE_FIELDS change (None keeps a value); entry eligibility is checked
    again on the amended data (R4). The application returns to the institution's
    review. `version` is the application's version the submitter saw: a stale one
    is refused with VERSION_CONFLICT and nothing changes. Side effects: expert
    amended, application submitted (version + 1), the open change_history entry
    closed with the response and the changed fields; audit events for each.
    """
    raw = {k: v for k, v in dict(locals()).items() if k in AMENDABLE_FIELDS}
    async with in_transaction():
        app = await get_expert_application(actor, application_id)
        route = EntryRoute(app.route)
        perm = Perm.EXPERT_RECOMMEND if route == EntryRoute.RECOMMENDATION else Perm.EXPERT_INVITE
        require(actor, perm, app)
        check_transition(EA(app.status), EA.SUBMITTED)
        if version != app.version:
            raise _conflict()
        response = _text(response, "response", required=False)
        expert = await Expert.get(id=_fk(app, "expert"))
        person, application = await _amendments(app, expert, raw)
        facts = ExpertFacts(
            gender=Gender(expert.gender),
            birth_date=expert.birth_date,
            retirement_category=RetirementCategory(expert.retirement_category),
            title_level=Level(person.get("title_level", expert.title_level)),
            title_obtained_on=person.get("title_obtained_on", expert.title_obtained_on),
        )
        exception = application.get("exception_reason", app.exception_reason)
        invited = route == EntryRoute.INVITATION
        reasons = check_pool_entry(
            facts, _today(), invited=invited, urgent_exception_approved=False
        )
        if reasons and exception:
            reasons = check_pool_entry(
                facts, _today(), invited=invited, urgent_exception_approved=True
            )
        if reasons:
            raise EligibilityError(reasons)
        changed = sorted(
            {"phone" if k.startswith("phone") else k for k in person}
            | {k for k in application if k != "exception_approved"}
        )
        if person:
            before = audit.snapshot(expert)
            await _save(expert, person)
            await audit.record(
                actor, "expert.amend", expert, before=before, after=audit.snapshot(expert)
            )
        history = [dict(entry) for entry in (app.change_history or [])]
        if history:
            history[-1].update(
                resubmittedAt=_now().isoformat(), response=response, changedFields=changed
            )
        before = audit.snapshot(app)
        await _save(
            app,
            {
                **application,
                "status": EA.SUBMITTED,
                "change_request": "",
                "change_history": history,
            },
        )
        await audit.record(
            actor, "expert_application.resubmit", app, before=before, after=audit.snapshot(app)
        )
    return app


# --- terms (Art. 19, R7) ------------------------------------------------------------


async def current_term(expert_id: int, today: dt.date) -> ExpertTerm | None:
    """The term that covers `today` (for the draw's "term current", R10).

    A term renewed early keeps running (status renewed) until its end; the next one
    (active) starts on the anniversary. Ended terms never count.
    """
    return (
        await ExpertTerm.filter(
            expert_id=expert_id,
            start_on__lte=today,
            end_on__gte=today,
            status__in=(TermStatus.ACTIVE, TermStatus.RENEWED),
        )
        .order_by("-number")
        .first()
    )


async def _passed_in_last_year(term: ExpertTerm) -> bool:
    first_day, last_day = term_last_year(term.start_on)
    return await ExpertAssessment.exists(
        term_id=term.id,
        result=AssessmentResult.PASS,
        assessed_on__gte=first_day,
        assessed_on__lte=last_day,
    )


async def _renew_one(term_id: int, today: dt.date) -> str:
    async with in_transaction():
        term = await ExpertTerm.get_or_none(id=term_id)
        if term is None or term.status != TermStatus.ACTIVE:
            return "skipped"
        expert = await Expert.get(id=_fk(term, "expert"))
        in_last_year = today >= term_last_year(term.start_on)[0]
        passed = in_last_year and expert.status in _ACTIVE and await _passed_in_last_year(term)
        reasons = may_renew(term.number, passed, bool(term.exception_reason))
        if not reasons:
            updated = await ExpertTerm.filter(id=term.id, status=TermStatus.ACTIVE).update(
                status=TermStatus.RENEWED, updated_at=_now()
            )
            if updated != 1:
                return "skipped"
            before = audit.snapshot(term)
            term.status = TermStatus.RENEWED
            await audit.record(
                SYSTEM, "expert_term.renew", term, before=before, after=audit.snapshot(term)
            )
            start = term.end_on + dt.timedelta(days=1)
            new = await ExpertTerm.create(
                expert_id=expert.id, number=term.number + 1, start_on=start, end_on=term_end(start)
            )
            await audit.record(SYSTEM, "expert_term.create", new, after=audit.snapshot(new))
            return "renewed"
        if term.end_on < today:
            updated = await ExpertTerm.filter(id=term.id, status=TermStatus.ACTIVE).update(
                status=TermStatus.ENDED, updated_at=_now()
            )
            if updated != 1:
                return "skipped"
            before = audit.snapshot(term)
            term.status = TermStatus.ENDED
            await audit.record(
                SYSTEM, "expert_term.end", term, before=before, after=audit.snapshot(term)
            )
            return "ended"
        if passed:
            return "awaiting_exception"
        return "skipped"


async def current_term_ends(experts: list[Expert], today: dt.date) -> dict[int, dt.date]:
    """End of each listed expert's current term (the predicate of current_term),
    in one statement. Only experts the resolver already returned are asked about:
    the term is part of the expert's record."""
    ids = sorted(e.id for e in experts)
    if not ids:
        return {}
    rows = await ExpertTerm.filter(
        expert_id__in=ids,
        start_on__lte=today,
        end_on__gte=today,
        status__in=(TermStatus.ACTIVE, TermStatus.RENEWED),
    ).order_by("number")
    return {t.expert_id: t.end_on for t in rows}  # type: ignore[attr-defined]


async def renew_terms(today: dt.date | None = None) -> dict[str, int]:
    """The sweep (R7): renew every active term in its last year whose expert passed
    that term's assessment in that year; end every active term past its end.

    A renewal beyond the third term needs the bureau's exception on the current
    term (`grant_term_exception`); such terms are counted as awaiting_exception until
    they end. The new term starts on the anniversary, so renewing early or late
    leaves no gap. One transaction and audit events (actor system) per term.
    """
    today = today or _today()
    counts = {"renewed": 0, "ended": 0, "awaiting_exception": 0}
    # Prefilter in SQL: the last year starts two years after the start.
    horizon = anniversary(today, -2)
    ids: list[int] = await ExpertTerm.filter(  # type: ignore[assignment]
        Q(start_on__lte=horizon) | Q(end_on__lt=today), status=TermStatus.ACTIVE
    ).values_list("id", flat=True)
    for term_id in ids:
        outcome = await _renew_one(term_id, today)
        if outcome in counts:
            counts[outcome] += 1
    return counts


async def grant_term_exception(actor: Actor, expert_id: int, *, reason: str) -> ExpertTerm:
    """The bureau allows renewal beyond three terms (Art. 19 "原则上不超过3届").

    Recorded on the current active term (the third or later), so the next renewal may
    exceed the limit. Side effects: term.exception_reason, audit.
    """
    async with in_transaction():
        expert = await get_expert(actor, expert_id)
        require(actor, Perm.EXPERT_TERM_EXCEPTION, expert)
        reason = _text(reason, "reason")
        term = (
            await ExpertTerm.filter(expert_id=expert.id, status=TermStatus.ACTIVE)
            .order_by("-number")
            .first()
        )
        if term is None or expert.status not in _ACTIVE:
            raise DomainError(ErrorCode.INVALID, "该专家没有在任聘期", "expertId")
        if term.number < MAX_TERMS:
            raise DomainError(
                ErrorCode.INVALID,
                f"第{term.number}届聘期续聘无需例外;续聘第{MAX_TERMS + 1}届起须经批准",
                "expertId",
            )
        before = audit.snapshot(term)
        updated = await ExpertTerm.filter(id=term.id, status=TermStatus.ACTIVE).update(
            exception_reason=reason, updated_at=_now()
        )
        if updated != 1:
            raise _conflict()
        term.exception_reason = reason
        await audit.record(
            actor, "expert_term.exception", term, before=before, after=audit.snapshot(term)
        )
    return term


# --- self-service updates (Art. 19, 21, 24, R8) ------------------------------------

_CHANGE_FIELDS = {
    "phone": "phone",
    "email": "email",
    "unit_id": "unitId",
    "title": "title",
    "title_level": "titleLevel",
    "title_obtained_on": "titleObtainedOn",
    "specialty": "specialty",
    "field": "field",
}


async def _validate_changes(expert: Expert, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The stored form of a change request: only real changes; the phone only
    encrypted and masked (a database dump must not reveal it, SPEC "Personal data")."""
    if not isinstance(changes, Mapping) or not changes:
        raise DomainError(ErrorCode.REQUIRED, "请填写需要更新的内容", "changes")
    stored: dict[str, Any] = {}
    for key, value in changes.items():
        if key not in UPDATABLE_FIELDS:
            raise DomainError(ErrorCode.INVALID, "该项不能自助修改", f"changes.{key}")
        f = _CHANGE_FIELDS[key]
        if key == "phone":
            phone = normalize_phone(_text(value, f, max_length=20), field=f)
            if keyed_hash(phone) != expert.phone_hash:
                stored["phone_enc"] = encrypt(phone)
                stored["phone_masked"] = mask_phone(phone)
        elif key == "email":
            email = _email(value, f)
            if email != expert.email:
                stored["email"] = email
        elif key == "unit_id":
            if not isinstance(value, int) or isinstance(value, bool):
                raise DomainError(ErrorCode.INVALID, "所在单位无效", f)
            if not await Unit.exists(id=value):
                raise DomainError(ErrorCode.INVALID, "所在单位不存在", f)
            if value != _fk(expert, "unit"):
                stored["unit_id"] = value
        elif key == "title_level":
            level = _enum(Level, value, f)
            if level != expert.title_level:
                stored["title_level"] = level.value
        elif key == "title_obtained_on":
            day = _date(value, f)
            if day > _today():
                raise DomainError(ErrorCode.INVALID, "职称取得日期不能晚于今天", f)
            if day != expert.title_obtained_on:
                stored["title_obtained_on"] = day.isoformat()
        else:
            limit = {"title": 100, "specialty": 100, "field": 200}[key]
            text = _text(value, f, max_length=limit, required=key != "field")
            if text != getattr(expert, key):
                stored[key] = text
    if not stored:
        raise DomainError(ErrorCode.INVALID, "所填内容与现有信息相同,没有需要更新的内容", "changes")
    return stored


def display_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Stored changes as anyone may see them: the phone masked, never decrypted."""
    out = {k: v for k, v in changes.items() if k not in ("phone_enc", "phone_masked")}
    if "phone_masked" in changes:
        out["phone"] = changes["phone_masked"]
    return out


def _update_snapshot(update: ExpertUpdate) -> dict[str, Any]:
    # The generic snapshot would copy the nested phone ciphertext into the audit trail.
    snap = audit.snapshot(update)
    snap["changes"] = display_changes(update.changes)
    return snap


def _expert_values(changes: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "phone_enc":
            values.update(protect_phone(decrypt(value)))
        elif key == "phone_masked":
            continue
        elif key == "title_level":
            values[key] = Level(value)
        elif key == "title_obtained_on":
            values[key] = dt.date.fromisoformat(value)
        else:
            values[key] = value
    return values


async def request_expert_update(
    actor: Actor, expert_id: int, *, changes: Mapping[str, Any]
) -> ExpertUpdate:
    """The expert asks to change own data (R8). Nothing on the Expert row changes
    until the employer and the institution have both verified (verify_expert_update).

    One pending request at a time. Side effects: one ExpertUpdate (pending), audit.
    """
    async with in_transaction():
        expert = await get_expert(actor, expert_id)
        require(actor, Perm.EXPERT_UPDATE_REQUEST, expert)
        if expert.status not in _OPEN:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "专家已退出或未入库,不能更新信息")
        stored = await _validate_changes(expert, changes)
        if await ExpertUpdate.exists(expert_id=expert.id, status=UpdateStatus.PENDING):
            raise DomainError(
                ErrorCode.DUPLICATE, "已有待核对的信息变更,请待核对完成或撤回后再提交", "changes"
            )
        update = await ExpertUpdate.create(expert_id=expert.id, changes=stored)
        await audit.record(actor, "expert_update.request", update, after=_update_snapshot(update))
    return update


async def _get_update(actor: Actor, update_id: int) -> ExpertUpdate:
    qs = scoped(actor, Perm.EXPERT_VIEW, ExpertUpdate.filter(id=update_id)).select_related("expert")
    return await _first(qs, "信息变更不存在")


_SIDES = (
    ("employer", Perm.EXPERT_UPDATE_VERIFY_EMPLOYER),
    ("institution", Perm.EXPERT_UPDATE_VERIFY_INSTITUTION),
)


def _entitled_sides(actor: Actor, update: ExpertUpdate) -> list[str]:
    sides = []
    for side, perm in _SIDES:
        try:
            require(actor, perm, update)
        except PermissionDenied:
            continue
        sides.append(side)
    return sides


async def verify_expert_update(
    actor: Actor, update_id: int, *, approve: bool, reason: str = ""
) -> ExpertUpdate:
    """The employer (of the expert's current unit) or the institution checks a change.

    R8: the change applies only when both have approved; a rejection by either ends
    the request. One person holding both roles verifies one side only: two
    verifications mean two people.

    Side effects: verification stamped on the update; on the second approval the
    Expert fields change (version +1, employment moved on a unit change), update
    applied; on rejection update rejected; audit events for each.
    """
    async with in_transaction():
        update = await _get_update(actor, update_id)
        sides = _entitled_sides(actor, update)
        if not sides:
            raise PermissionDenied()
        if update.status != UpdateStatus.PENDING:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "该信息变更已办结", "status")
        pending = [
            s
            for s in sides
            if getattr(update, f"{s}_verified_at") is None
            and (
                actor.user_id is None
                or actor.user_id
                not in (update.employer_verified_by_id, update.institution_verified_by_id)  # type: ignore[attr-defined]
            )
        ]
        if not pending:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION,
                "您已核对过该信息变更;单位和评审机构须由不同人员分别核对",
                "status",
            )
        side = pending[0]
        before = _update_snapshot(update)
        if not approve:
            reason = _text(reason, "reason")
            check_transition(UpdateStatus(update.status), UpdateStatus.REJECTED)
            await _save(
                update,
                {
                    "status": UpdateStatus.REJECTED,
                    "rejection_reason": reason,
                    f"{side}_verified_by_id": actor.user_id,
                    f"{side}_verified_at": _now(),
                },
            )
            await audit.record(
                actor, "expert_update.reject", update, before=before, after=_update_snapshot(update)
            )
            return update
        other = "institution" if side == "employer" else "employer"
        both = getattr(update, f"{other}_verified_at") is not None
        stamp: dict[str, Any] = {
            f"{side}_verified_by_id": actor.user_id,
            f"{side}_verified_at": _now(),
        }
        if both:
            check_transition(UpdateStatus(update.status), UpdateStatus.APPLIED)
            stamp["status"] = UpdateStatus.APPLIED
        await _save(update, stamp)
        await audit.record(
            actor,
            f"expert_update.verify_{side}",
            update,
            before=before,
            after=_update_snapshot(update),
        )
        if both:
            await _apply_update(actor, update)
    return update


async def _apply_update(actor: Actor, update: ExpertUpdate) -> None:
    expert = await Expert.get(id=_fk(update, "expert"))
    values = _expert_values(update.changes)
    old_unit = _fk(expert, "unit")
    before = audit.snapshot(expert)
    await _save(expert, values)
    await audit.record(actor, "expert.update", expert, before=before, after=audit.snapshot(expert))
    if "unit_id" in values and values["unit_id"] != old_unit:
        await _move_employment(expert.id, values["unit_id"], _today())


async def withdraw_expert_update(actor: Actor, update_id: int) -> ExpertUpdate:
    """The expert withdraws a pending change. Side effects: update withdrawn, audit."""
    async with in_transaction():
        update = await _get_update(actor, update_id)
        require(actor, Perm.EXPERT_UPDATE_REQUEST, update)
        check_transition(UpdateStatus(update.status), UpdateStatus.WITHDRAWN)
        before = _update_snapshot(update)
        await _save(update, {"status": UpdateStatus.WITHDRAWN})
        await audit.record(
            actor, "expert_update.withdraw", update, before=before, after=_update_snapshot(update)
        )
    return update


async def pending_updates_for(actor: Actor) -> list[ExpertUpdate]:
    """The verification queue: pending changes whose side the actor still has to check
    (employers: their unit's experts; institution staff: their institution's)."""
    clauses: list[Q] = []
    for side, perm in _SIDES:
        q = scope_filter(actor, perm, "ExpertUpdate")
        unverified: dict[str, Any] = {f"{side}_verified_at__isnull": True}
        waiting = Q(**unverified)
        clauses.append(waiting if q is None else Q(q, waiting))
    qs = ExpertUpdate.filter(Q(*clauses, join_type="OR"), status=UpdateStatus.PENDING)
    if actor.user_id is not None:
        # Whoever verified one side cannot verify the other (verify_expert_update).
        for side, _ in _SIDES:
            # Spelled out: NOT (column = id) would also drop the NULL (unverified) rows.
            by = f"{side}_verified_by_id"
            not_me: dict[str, Any] = {f"{by}__isnull": True}
            other: dict[str, Any] = {f"{by}__not": actor.user_id}
            qs = qs.filter(Q(Q(**not_me), Q(**other), join_type="OR"))
    return await qs.order_by("id")


@dataclass(frozen=True)
class PendingChange:
    """What an expert sees of a pending change: the values asked for (phone masked)
    and who must still verify ("employer", "institution")."""

    update_id: int
    requested_at: dt.datetime
    changes: dict[str, Any]
    awaiting: list[str]


async def list_pending_changes(actor: Actor, expert_id: int) -> list[PendingChange]:
    expert = await get_expert(actor, expert_id)
    rows = await ExpertUpdate.filter(expert_id=expert.id, status=UpdateStatus.PENDING).order_by(
        "id"
    )
    return [
        PendingChange(
            update_id=u.id,
            requested_at=u.created_at,
            changes=display_changes(u.changes),
            awaiting=[s for s, _ in _SIDES if getattr(u, f"{s}_verified_at") is None],
        )
        for u in rows
    ]


# --- confidentiality agreement and training (Art. 9(四), 25, R19) ------------------


async def publish_agreement_text(actor: Actor, *, version: str, content: str) -> AgreementText:
    """The bureau publishes a new version of the confidentiality agreement; the
    newest version is the one experts must have signed (R19).

    Uses Perm.EXPERT_APPROVE: the bureau's admission powers cover the conditions of
    sitting. Side effects: one AgreementText (with its SHA-256), audit.
    """
    require(actor, Perm.EXPERT_APPROVE)
    version = _text(version, "version", max_length=20)
    content = _text(content, "content", max_length=100_000)
    digest = hashlib.sha256(content.encode()).hexdigest()
    async with in_transaction():
        if await AgreementText.exists(version=version):
            raise DomainError(ErrorCode.DUPLICATE, "该版本已发布", "version")
        try:
            text = await AgreementText.create(version=version, content=content, content_hash=digest)
        except IntegrityError:
            raise DomainError(ErrorCode.DUPLICATE, "该版本已发布", "version") from None
        await audit.record(
            actor,
            "agreement_text.publish",
            text,
            after=audit.snapshot(text, ["id", "version", "content_hash"]),
        )
    return text


async def current_agreement() -> AgreementText | None:
    return await AgreementText.all().order_by("-created_at", "-id").first()


async def sign_confidentiality_agreement(
    actor: Actor, expert_id: int, *, version: str
) -> AgreementSignature:
    """The expert signs one agreement version (Art. 25): time and the hash of the text
    signed are kept. Signing a version again returns the first signature.

    Side effects: one AgreementSignature, audit (none when already signed).
    """
    async with in_transaction():
        expert = await get_expert(actor, expert_id)
        require(actor, Perm.EXPERT_SIGN_AGREEMENT, expert)
        if expert.status not in _OPEN:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "专家已退出或未入库")
        version = validate.text(version, "version", max_length=20, multiline=False)
        text = await AgreementText.get_or_none(version=version)
        if text is None:
            raise NotFound("保密协议版本不存在")
        existing = await AgreementSignature.get_or_none(expert_id=expert.id, agreement_id=text.id)
        if existing is not None:
            return existing
        signature = await AgreementSignature.create(
            expert_id=expert.id,
            agreement_id=text.id,
            signed_at=_now(),
            content_hash=text.content_hash,
        )
        await audit.record(
            actor, "agreement_signature.sign", signature, after=audit.snapshot(signature)
        )
    return signature


async def has_signed_current_agreement(expert_id: int) -> bool:
    """R19 for the draw: signed the newest published version (False if none exists)."""
    text = await current_agreement()
    if text is None:
        return False
    return await AgreementSignature.exists(expert_id=expert_id, agreement_id=text.id)


async def record_training(
    actor: Actor,
    expert_id: int,
    *,
    session_id: int | None = None,
    year: int | None = None,
    trained_on: dt.date,
    topic: str,
) -> TrainingRecord:
    """Institution staff record pre-evaluation training (Art. 9(四)), for one session
    of their own institution or for a whole year (exactly one of the two).

    Side effects: one TrainingRecord, audit.
    """
    async with in_transaction():
        expert = await get_expert(actor, expert_id)
        require(actor, Perm.EXPERT_TRAINING_RECORD, expert)
        if (session_id is None) == (year is None):
            raise DomainError(ErrorCode.INVALID, "培训须对应一次评审会议或一个年度(二选一)", "year")
        if year is not None and not 2000 <= year <= 2100:
            raise DomainError(ErrorCode.INVALID, "年度无效", "year")
        if trained_on > _today():
            raise DomainError(ErrorCode.INVALID, "培训日期不能晚于今天", "trainedOn")
        topic = _text(topic, "topic", max_length=200)
        if expert.status not in _OPEN:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "专家已退出或未入库")
        if session_id is not None:
            session = await scoped(
                actor, Perm.SESSION_MANAGE, EvaluationSession.filter(id=session_id)
            ).first()
            if session is None:
                raise DomainError(ErrorCode.INVALID, "评审会议不存在", "sessionId")
        row = await TrainingRecord.create(
            expert_id=expert.id,
            session_id=session_id,
            year=year,
            trained_on=trained_on,
            topic=topic,
            recorded_by_id=actor.user_id,
        )
        await audit.record(actor, "training_record.create", row, after=audit.snapshot(row))
    return row


async def is_trained(expert_id: int, session_id: int | None, year: int | None) -> bool:
    """R19 for the draw: trained for this session, or for the session's year."""
    clauses = []
    if session_id is not None:
        clauses.append(Q(session_id=session_id))
    if year is not None:
        clauses.append(Q(year=year))
    if not clauses:
        return False
    return await TrainingRecord.filter(Q(*clauses, join_type="OR"), expert_id=expert_id).exists()


# --- exit (Art. 22, 32, R6, R17) ----------------------------------------------------

EXIT_REASON_LABELS: dict[ExitReason, str] = {
    ExitReason.NOT_PROFESSIONAL: "不再从事专业技术工作",
    ExitReason.HEALTH: "因身体原因不能胜任评审工作",
    ExitReason.AGE_LIMIT: "超过退休年龄5年",
    ExitReason.FAILED_ASSESSMENT: "考核不合格",
    ExitReason.OTHER: "其他不宜担任专家的情形",
}


async def _exit(actor: Actor, expert: Expert, reason: ExitReason, note: str) -> None:
    """Exit with history kept: open terms end, pending self-service changes lapse."""
    await _set_expert_status(
        actor,
        expert,
        E.EXITED,
        "expert.exit",
        exit_reason=reason,
        exit_note=note,
        exited_at=_now(),
    )
    for term in await ExpertTerm.filter(expert_id=expert.id, status=TermStatus.ACTIVE):
        before = audit.snapshot(term)
        await ExpertTerm.filter(id=term.id).update(status=TermStatus.ENDED, updated_at=_now())
        term.status = TermStatus.ENDED
        await audit.record(
            actor, "expert_term.end", term, before=before, after=audit.snapshot(term)
        )
    for update in await ExpertUpdate.filter(expert_id=expert.id, status=UpdateStatus.PENDING):
        before = _update_snapshot(update)
        await _save(update, {"status": UpdateStatus.WITHDRAWN})
        await audit.record(
            actor, "expert_update.withdraw", update, before=before, after=_update_snapshot(update)
        )


async def exit_expert(
    actor: Actor, expert_id: int, *, reason: ExitReason | str, note: str
) -> Expert:
    """The bureau or the expert's institution takes an expert out of the pool (Art. 22).

    The age limit and a failed assessment are facts the system checks, not claims:
    exiting for them is refused unless they hold. Side effects: expert exited (reason,
    note, time), open terms ended, pending changes withdrawn; audit events.
    """
    today = _today()
    async with in_transaction():
        expert = await get_expert(actor, expert_id)
        require(actor, Perm.EXPERT_EXIT, expert)
        why: ExitReason = _enum(ExitReason, reason, "reason")
        note = _text(note, "note")
        check_transition(E(expert.status), E.EXITED)
        if why == ExitReason.AGE_LIMIT and not must_exit_for_age(
            ExpertFacts.from_model(expert), today
        ):
            raise DomainError(ErrorCode.INVALID, "该专家尚未超过退休年龄5年", "reason")
        if why == ExitReason.FAILED_ASSESSMENT and not await ExpertAssessment.exists(
            expert_id=expert.id, result=AssessmentResult.FAIL
        ):
            raise DomainError(ErrorCode.INVALID, "该专家没有考核不合格记录", "reason")
        await _exit(actor, expert, why, note)
    return expert


def _age_limit_birth_cutoff(today: dt.date) -> dt.date:
    # Nobody can be past the limit before the youngest possible limit age (original
    # age 50, no delay, plus 5 years); one spare day covers 29 February rounding.
    youngest = min(s.original_age_years for s in SCHEDULES.values()) + AGE_LIMIT_YEARS
    return _years_before(today, youngest) + dt.timedelta(days=1)


async def exit_over_age(today: dt.date | None = None) -> dict[str, int]:
    """The sweep (R6, Art. 22(三)): exit every in-pool or suspended expert more than
    5 years past the statutory retirement date, with reason age_limit.

    SQL narrows to birth dates old enough to possibly qualify; the exact R5 date is
    computed in Python. One transaction and audit events (actor system) per expert.
    """
    today = today or _today()
    rows = await Expert.filter(
        status__in=_ACTIVE, birth_date__lt=_age_limit_birth_cutoff(today)
    ).values_list(
        "id", "gender", "birth_date", "retirement_category", "title_level", "title_obtained_on"
    )
    exited = 0
    for pk, gender, birth, category, level, obtained in rows:
        facts = ExpertFacts(
            gender=Gender(gender),
            birth_date=birth,
            retirement_category=RetirementCategory(category),
            title_level=Level(level),
            title_obtained_on=obtained,
        )
        if not must_exit_for_age(facts, today):
            continue
        async with in_transaction():
            expert = await Expert.get_or_none(id=pk)
            if expert is None or expert.status not in _ACTIVE:
                continue
            note = (
                f"法定退休日期{facts.retirement_date.isoformat()},"
                f"已超过退休年龄5年({facts.age_limit_date.isoformat()}后)"
            )
            await _exit(SYSTEM, expert, ExitReason.AGE_LIMIT, note)
        exited += 1
    return {"exited": exited}


async def record_expert_assessment(
    actor: Actor,
    expert_id: int,
    *,
    term_id: int,
    quality: str,
    duties: str,
    supervision: str,
    result: AssessmentResult | str,
) -> ExpertAssessment:
    """The institution assesses its expert for one term (Art. 32): evaluation
    quality, duties fulfilled, supervision results. One assessment per term.

    A pass in the term's last year renews the term on the next sweep (R7); a fail
    exits the expert at once (R17). Side effects: one ExpertAssessment, audit; on fail
    the exit's side effects.
    """
    today = _today()
    async with in_transaction():
        expert = await get_expert(actor, expert_id)
        require(actor, Perm.EXPERT_ASSESS, expert)
        result = _enum(AssessmentResult, result, "result")
        quality = _text(quality, "quality")
        duties = _text(duties, "duties")
        supervision = _text(supervision, "supervision")
        if expert.status not in _ACTIVE:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "只能考核库内专家", "expertId")
        term = await ExpertTerm.get_or_none(id=term_id, expert_id=expert.id)
        if term is None or term.status == TermStatus.ENDED or term.start_on > today:
            raise DomainError(ErrorCode.INVALID, "聘期不存在或不在任", "termId")
        if await ExpertAssessment.exists(term_id=term.id):
            raise DomainError(ErrorCode.DUPLICATE, "该聘期已有考核结果", "termId")
        row = await ExpertAssessment.create(
            expert_id=expert.id,
            term_id=term.id,
            institution_id=_fk(expert, "institution"),
            assessed_on=today,
            quality=quality,
            duties=duties,
            supervision=supervision,
            result=result,
        )
        await audit.record(actor, "expert_assessment.record", row, after=audit.snapshot(row))
        if result == AssessmentResult.FAIL:
            await _exit(
                actor,
                expert,
                ExitReason.FAILED_ASSESSMENT,
                f"第{term.number}届聘期考核不合格"[:TEXT_MAX],
            )
    return row


# --- pool statistics (Art. 14, R13) -------------------------------------------------


@dataclass(frozen=True)
class YouthShare:
    """Experts under 45 among `total`; `below_floor` against Config.youth_floor_percent."""

    total: int
    under_45: int
    percent: float | None
    below_floor: bool


@dataclass(frozen=True)
class PoolStatistics:
    """In-pool experts (optionally of one committee's roster) as the actor may see them."""

    today: dt.date
    total: int
    by_series: dict[str, int]
    by_specialty: dict[str, int]
    by_level: dict[str, int]
    by_unit_type: dict[str, int]
    youth: YouthShare
    youth_by_committee: dict[int, YouthShare] = field(default_factory=dict)
    non_public: int = 0
    non_public_percent: float | None = None


_STATISTICS_QUERIES = 8  # the counts pool_statistics makes, for its progress
_T = TypeVar("_T")


def _share(part: int, total: int) -> float | None:
    return None if total == 0 else round(part * 100 / total, 1)


def _youth(total: int, young: int) -> YouthShare:
    floor = get_config().youth_floor_percent
    # Integer comparison: 19.99% is below a 20% floor however it would be rounded.
    return YouthShare(total, young, _share(young, total), total > 0 and young * 100 < floor * total)


async def _grouped(qs: QuerySet[Any], key: str) -> dict[str, int]:
    rows = await qs.annotate(n=Count("id")).group_by(key).values(key, "n")
    return {str(r[key]): int(r["n"]) for r in sorted(rows, key=lambda r: str(r[key]))}


async def pool_statistics(
    actor: Actor,
    today: dt.date | None = None,
    *,
    committee_id: int | None = None,
    progress: Progress | None = None,
) -> PoolStatistics:
    """Counts by series, specialty, level and unit type, the share under 45 pool-wide
    and per committee (warning under the configured floor, R13), and the share from
    non-public units (Art. 14). Every count is one SQL GROUP BY; `progress` (a
    background job's, see expert_io.start_pool_statistics) hears of each.

    The bureau sees the whole pool; institution staff their institution's experts.
    """
    require(actor, Perm.EXPERT_STATS)
    today = today or _today()
    scope = scope_filter(actor, Perm.EXPERT_STATS, "Expert")
    experts = Expert.filter(status=E.IN_POOL)
    if scope is not None:
        experts = experts.filter(scope)
    if committee_id is not None:
        committee = await _first(
            scoped(actor, Perm.COMMITTEE_VIEW, Committee.filter(id=committee_id)), "评委会不存在"
        )
        experts = experts.filter(
            id__in=Subquery(CommitteeSeat.filter(committee_id=committee.id).values("expert_id"))
        )
    # Under 45 on `today` (周岁) exactly when born after the day 45 years earlier.
    cutoff = _years_before(today, YOUTH_AGE)
    counted = 0

    async def count(query: Awaitable[_T]) -> _T:
        nonlocal counted
        value = await query
        counted += 1
        if progress is not None:
            progress.step("统计中", counted, _STATISTICS_QUERIES)
        return value

    total = await count(experts.count())
    young = await count(experts.filter(birth_date__gt=cutoff).count())
    by_unit_type = await count(_grouped(experts, "unit__unit_type"))
    non_public = by_unit_type.get(UnitType.NON_PUBLIC.value, 0)
    seats = CommitteeSeat.filter(expert_id__in=Subquery(experts.values("id")))
    if committee_id is not None:
        seats = seats.filter(committee_id=committee_id)
    per_total = await count(_grouped(seats, "committee_id"))
    per_young = await count(_grouped(seats.filter(expert__birth_date__gt=cutoff), "committee_id"))
    by_series = await count(_grouped(experts, "series"))
    by_specialty = await count(_grouped(experts, "specialty"))
    by_level = await count(_grouped(experts, "title_level"))
    return PoolStatistics(
        today=today,
        total=total,
        by_series=by_series,
        by_specialty=by_specialty,
        by_level=by_level,
        by_unit_type=by_unit_type,
        youth=_youth(total, young),
        youth_by_committee={
            int(cid): _youth(n, per_young.get(cid, 0)) for cid, n in per_total.items()
        },
        non_public=non_public,
        non_public_percent=_share(non_public, total),
    )


# --- agreement versions for the bureau's page (issue 9, R19) ---------------------------


@dataclass(frozen=True)
class AgreementVersion:
    """One published version of the confidentiality agreement (Art. 9(四), 25, R19):
    `current` is the newest, the one the draw requires; `signed` counts the experts
    whose signature holds this version's content hash."""

    text: AgreementText
    current: bool
    signed: int


async def list_agreement_versions(actor: Actor) -> list[AgreementVersion]:
    """Every published version, newest first, with its signature count: the bureau
    (Perm.EXPERT_APPROVE, as for publishing). Two queries whatever the number of
    versions."""
    require(actor, Perm.EXPERT_APPROVE)
    texts = await AgreementText.all().order_by("-created_at", "-id")
    rows = (
        await AgreementSignature.filter(agreement_id__in=[t.id for t in texts])
        .annotate(n=Count("id"))
        .group_by("agreement_id", "content_hash")
        .values_list("agreement_id", "content_hash", "n")
    )
    signed = {(int(a), str(h)): int(n) for a, h, n in rows}  # type: ignore[misc]
    return [
        AgreementVersion(text=t, current=i == 0, signed=signed.get((t.id, t.content_hash), 0))
        for i, t in enumerate(texts)
    ]


# --- batch loads of the pool's relations (GraphQL DataLoaders call these) -------------

_UPDATE_PERMS = (
    Perm.EXPERT_UPDATE_REQUEST,
    Perm.EXPERT_UPDATE_VERIFY_EMPLOYER,
    Perm.EXPERT_UPDATE_VERIFY_INSTITUTION,
)
_POOL_ORDER: dict[type[Model], str] = {ExpertTerm: "number"}  # per expert: terms by number


def _update_visibility(actor: Actor, model_name: str) -> Q | None:
    """Who sees pending changes (R8): the expert who may request them and the two
    parties who verify them — the policy's own perms, nobody else (not the bureau).
    `model_name` is ExpertUpdate or Expert (the same scopes, seen from the expert)."""
    clauses: list[Q] = []
    for perm in _UPDATE_PERMS:
        q = scope_filter(actor, perm, model_name)
        if q is None:
            return None
        clauses.append(q)
    return Q(*clauses, join_type="OR")


async def load_pool_rows(actor: Actor, model: type[M], ids: Iterable[int]) -> dict[int, M]:
    """Rows of a pool relation (ExpertTerm, ExpertApplication, TrainingRecord,
    ExpertAssessment) by id, as far as the actor may see their expert (EXPERT_VIEW)."""
    rows = await scoped(actor, Perm.EXPERT_VIEW, model.filter(id__in=batch_ids(ids)))
    return {r.pk: r for r in rows}


async def load_pool_rows_by_expert(
    actor: Actor, model: type[M], expert_ids: Iterable[int]
) -> dict[int, list[M]]:
    """The same relation grouped per expert: one statement for any number of experts."""
    order = _POOL_ORDER.get(model, "id")
    rows = await scoped(
        actor, Perm.EXPERT_VIEW, model.filter(expert_id__in=batch_ids(expert_ids))
    ).order_by(order)
    grouped: dict[int, list[M]] = {}
    for row in rows:
        grouped.setdefault(row.expert_id, []).append(row)  # type: ignore[attr-defined]
    return grouped


async def load_updates(actor: Actor, ids: Iterable[int]) -> dict[int, ExpertUpdate]:
    """Profile changes by id, for the expert and the two verifying parties (R8)."""
    q = _update_visibility(actor, "ExpertUpdate")
    qs = ExpertUpdate.filter(id__in=batch_ids(ids))
    return {r.pk: r for r in await (qs if q is None else qs.filter(q))}


async def load_pending_updates_by_expert(
    actor: Actor, expert_ids: Iterable[int]
) -> dict[int, list[ExpertUpdate]]:
    """Pending changes per expert, keyed only for experts whose changes the actor may
    see (R8): a missing key means "not yours to see", an empty list "none pending"."""
    q = _update_visibility(actor, "Expert")
    seen = Expert.filter(id__in=batch_ids(expert_ids))
    allowed: list[int] = await (seen if q is None else seen.filter(q)).values_list(  # type: ignore[assignment]
        "id", flat=True
    )
    grouped: dict[int, list[ExpertUpdate]] = {k: [] for k in allowed}
    if allowed:
        rows = await ExpertUpdate.filter(
            expert_id__in=sorted(allowed), status=UpdateStatus.PENDING
        ).order_by("id")
        for row in rows:
            grouped[row.expert_id].append(row)  # type: ignore[attr-defined]
    return grouped


async def load_authorities(actor: Actor, ids: Iterable[int]) -> dict[int, Authority]:
    """Recommending authorities are public bodies (Art. 15), not scoped data."""
    return {a.pk: a for a in await Authority.filter(id__in=batch_ids(ids))}
