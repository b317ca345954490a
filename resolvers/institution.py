"""Institutions (评审机构), committees (评委会), annual plans and the bureau's assessments.

Chapters 2 and 5 of 京人社事业发〔2023〕13号: filing (Art. 10–12, R1), the operating
guard every evaluation step calls (R2), annual implementation plans (Art. 9(二)),
supervision and assessment (Art. 29–31, R17) and expiry notices.

Statuses are stored, but a filing whose validity end has passed counts as expired at
every use (`effective_status`), even before the daily sweep (`expire_filings`) has
written the change.
"""

import datetime as dt
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, TypeVar

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models import (
    AnnualPlan,
    Committee,
    CommitteeSeat,
    Complaint,
    Expert,
    Institution,
    InstitutionApplication,
    InstitutionAssessment,
    Notification,
    Unit,
)
from models.enums import (
    ApplicationStatus,
    AssessmentMethod,
    AssessmentResult,
    ComplaintStatus,
    ExpertStatus,
    FilingStatus,
    InstitutionKind,
    Level,
    PlanStatus,
    Seat,
)
from resolvers import audit, validate
from resolvers.actor import SYSTEM, Actor
from resolvers.common import beijing_today
from resolvers.common import fk_id as _fk
from resolvers.config import get_config
from resolvers.errors import DomainError, ErrorCode, NotFound, Unauthenticated
from resolvers.lifecycle import check_transition
from resolvers.policy import Perm, require, scope_filter, scoped

F, A = FilingStatus, ApplicationStatus
M = TypeVar("M", bound=Model)

FILING_YEARS = 3  # Art. 12: 备案有效期不超过3年
NOTICE_DAYS = 90
TEXT_MAX = 5000

# Shared input checks (resolvers/validate.py), with this module's defaults.
_text = functools.partial(validate.text, max_length=TEXT_MAX)
_enum = validate.enum_value
REASON_MAX = 2000
# Status reasons written by an assessment start with this, so that a later passed
# assessment lifts only a suspension that an assessment caused (R17).
ASSESSMENT_SUSPENSION = "考核不合格"

# The 27 national professional-title series (SPEC.md "Names").
NATIONAL_SERIES: tuple[str, ...] = (
    "高等学校教师", "哲学社会科学研究", "自然科学研究", "卫生技术", "工程技术", "农业技术",
    "新闻", "出版", "图书资料", "文物博物", "档案", "工艺美术", "技工院校教师", "体育",
    "翻译", "播音主持", "会计", "统计", "经济", "实验技术", "中等职业学校教师",
    "中小学教师", "艺术", "公共法律服务", "船舶", "民用航空飞行技术", "审计",
)  # fmt: skip

# Mainland mobile; landline with area code (optional extension); 400/800 service lines.
_PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(-\d{1,6})?|[48]00-?\d{3}-?\d{4})$")

_OPEN_APPLICATION = (A.DRAFT, A.SUBMITTED, A.REJECTED)
_OPEN_COMPLAINT = (ComplaintStatus.RECEIVED, ComplaintStatus.ACCEPTED, ComplaintStatus.IN_HANDLING)


# --- value types ------------------------------------------------------------------


@dataclass(frozen=True)
class ProposedCommittee:
    """A committee an institution proposes in its filing application (Art. 10, 11)."""

    name: str
    series: str
    specialty: str
    level: Level
    applicant_scope: str
    quantitative_standard: str
    procedure: str
    self_evaluation: bool = False


class ComplaintFigures(TypedDict):
    """Complaint handling figures of one institution (Art. 31 接诉即办情况)."""

    received: int
    answered_on_time: int
    overdue: int
    open: int


@dataclass(frozen=True)
class ExpiringFiling:
    """One filing that ends within the dashboard window."""

    kind: Literal["institution", "committee"]
    id: int
    name: str
    institution_id: int
    valid_until: dt.date
    days_left: int


# --- small helpers ----------------------------------------------------------------


def _today() -> dt.date:
    return beijing_today()


def add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _phone(value: str | None, field: str, *, required: bool = True) -> str:
    value = _text(value, field, max_length=30, required=required)
    if value and not _PHONE_RE.fullmatch(value):
        raise DomainError(ErrorCode.INVALID_PHONE, "联系电话应为手机号码或带区号的固定电话", field)
    return value


def _series(value: str | None, field: str) -> str:
    value = _text(value, field, max_length=50)
    if value not in NATIONAL_SERIES:
        raise DomainError(ErrorCode.INVALID, "评审系列应为国家规定的职称系列之一", field)
    return value


def _reason(reason: str | None) -> str:
    return _text(reason, "reason", max_length=REASON_MAX)


def _conflict() -> DomainError:
    return DomainError(ErrorCode.VERSION_CONFLICT, "数据已被他人修改,请刷新后重试", "version")


def _check_version(obj: Model, version: int | None) -> None:
    if version is not None and version != obj.version:  # type: ignore[attr-defined]
        raise _conflict()


async def _save(obj: M, changes: Mapping[str, Any]) -> M:
    """Write `changes` only if nobody changed `obj` since it was loaded (optimistic lock)."""
    seen: int = obj.version  # type: ignore[attr-defined]
    values = {**changes, "version": seen + 1, "updated_at": dt.datetime.now(dt.UTC)}
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


def _own_or_bureau(actor: Actor, staff_perm: Perm, bureau_perm: Perm, model: str) -> Q | None:
    """Rows the bureau may handle or the actor's own institution may work on.

    Drafts, applications, rosters, assessments and dashboards are not public, so they
    are narrowed with non-public perms (whose scope has no public part).
    """
    a = scope_filter(actor, staff_perm, model)
    b = scope_filter(actor, bureau_perm, model)
    if a is None or b is None:
        return None
    return Q(a, b, join_type="OR")


def _narrow(qs: QuerySet[M], q: Q | None) -> QuerySet[M]:
    return qs if q is None else qs.filter(q)


def effective_status(filing: Institution | Committee, today: dt.date | None = None) -> FilingStatus:
    """The status in force on `today`: a filed filing past its validity end is expired
    (R1) even before the sweep has stored that."""
    today = today or _today()
    status = FilingStatus(filing.status)
    if status == F.FILED and (filing.valid_until is None or filing.valid_until < today):
        return F.EXPIRED
    return status


def _validity(valid_until: dt.date | None, filed_at: dt.date) -> dt.date:
    limit = add_years(filed_at, FILING_YEARS)
    if valid_until is None:
        return limit
    if valid_until > limit:
        raise DomainError(
            ErrorCode.INVALID, f"备案有效期不超过{FILING_YEARS}年(最迟至{limit})", "validUntil"
        )
    if valid_until < filed_at:
        raise DomainError(ErrorCode.INVALID, "有效期截止日不能早于备案日期", "validUntil")
    return valid_until


# --- R2: the operating guard ------------------------------------------------------


def assert_can_operate(
    institution: Institution, committee: Committee, today: dt.date | None = None
) -> None:
    """R2: raise unless the institution and its committee may run evaluation work.

    Sessions, draws, votes and finalisation call this; the code names the cause.
    """
    today = today or _today()
    if _fk(committee, "institution") != institution.id:
        raise DomainError(ErrorCode.INVALID, "评委会不属于该评审机构", "committeeId")
    status = effective_status(institution, today)
    if status != F.FILED:
        code, message = {
            F.REVOKED: (ErrorCode.INSTITUTION_REVOKED, "评审机构备案已撤销"),
            F.SUSPENDED: (ErrorCode.INSTITUTION_SUSPENDED, "评审机构已暂停开展评审工作"),
            F.EXPIRED: (ErrorCode.INSTITUTION_EXPIRED, "评审机构备案已到期"),
        }.get(status, (ErrorCode.INSTITUTION_NOT_FILED, "评审机构尚未备案"))
        raise DomainError(code, message, "institutionId")
    status = effective_status(committee, today)
    if status == F.EXPIRED:
        raise DomainError(ErrorCode.COMMITTEE_EXPIRED, "评委会备案已到期", "committeeId")
    if status != F.FILED:
        raise DomainError(ErrorCode.COMMITTEE_NOT_FILED, "评委会未备案或已停止", "committeeId")


# --- institutions: reads ----------------------------------------------------------


async def get_institution(actor: Actor, institution_id: int) -> Institution:
    """One institution: the public sees it only while its filing is in force."""
    qs = scoped(actor, Perm.INSTITUTION_VIEW, Institution.filter(id=institution_id))
    return await _first(qs, "评审机构不存在")


async def list_institutions(
    actor: Actor, *, status: FilingStatus | None = None
) -> list[Institution]:
    """The directory: in-force institutions for everyone, plus the actor's own."""
    qs = scoped(actor, Perm.INSTITUTION_VIEW, Institution.all())
    if status is not None:
        qs = qs.filter(status=status)
    return await qs.order_by("name")


def _applications(actor: Actor) -> QuerySet[InstitutionApplication]:
    q = _own_or_bureau(
        actor, Perm.INSTITUTION_APPLY, Perm.INSTITUTION_FILE, "InstitutionApplication"
    )
    return _narrow(InstitutionApplication.all(), q)


async def get_institution_application(actor: Actor, application_id: int) -> InstitutionApplication:
    return await _first(_applications(actor).filter(id=application_id), "备案申请不存在")


async def list_institution_applications(
    actor: Actor, *, institution_id: int | None = None, status: ApplicationStatus | None = None
) -> list[InstitutionApplication]:
    """The bureau's filing queue (every institution) or an institution's own rounds."""
    qs = _applications(actor)
    if institution_id is not None:
        qs = qs.filter(institution_id=institution_id)
    if status is not None:
        qs = qs.filter(status=status)
    return await qs.order_by("-id")


# --- institutions: filing ---------------------------------------------------------


async def create_institution(
    actor: Actor, *, name: str, kind: InstitutionKind | str, unit_id: int | None = None
) -> Institution:
    """Register an applying unit as a draft institution (bureau or system).

    Its staff accounts are then scoped to it and prepare the filing application.
    Side effects: one Institution row (draft), audit `institution.create`.
    """
    require(actor, Perm.INSTITUTION_FILE)
    name = _text(name, "name", max_length=200)
    kind = _enum(InstitutionKind, kind, "kind")
    async with in_transaction():
        if unit_id is not None and not await Unit.exists(id=unit_id):
            raise DomainError(ErrorCode.INVALID, "所在单位不存在", "unitId")
        if await Institution.exists(name=name):
            raise DomainError(ErrorCode.DUPLICATE, "已有同名评审机构", "name")
        inst = await Institution.create(name=name, kind=kind, unit_id=unit_id)
        await audit.record(actor, "institution.create", inst, after=audit.snapshot(inst))
    return inst


def _proposed(items: Sequence[ProposedCommittee | Mapping[str, Any]]) -> list[dict[str, Any]]:
    if not items:
        raise DomainError(ErrorCode.REQUIRED, "应至少填报一个拟开展的评委会", "proposedCommittees")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        raw = item.__dict__ if isinstance(item, ProposedCommittee) else dict(item)
        p = f"proposedCommittees[{i}]."
        entry = {
            "name": _text(raw.get("name"), p + "name", max_length=200),
            "series": _series(raw.get("series"), p + "series"),
            "specialty": _text(raw.get("specialty"), p + "specialty", max_length=100),
            "level": _enum(Level, raw.get("level"), p + "level").value,
            "applicant_scope": _text(raw.get("applicant_scope"), p + "applicantScope"),
            "quantitative_standard": _text(
                raw.get("quantitative_standard"), p + "quantitativeStandard"
            ),
            "procedure": _text(raw.get("procedure"), p + "procedure"),
            "self_evaluation": bool(raw.get("self_evaluation", False)),
        }
        if any(e["name"] == entry["name"] for e in out):
            raise DomainError(ErrorCode.DUPLICATE, "拟开展评委会名称重复", p + "name")
        out.append(entry)
    return out


def _content(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the Art. 10 fields; storage keys are snake_case, error fields camelCase."""
    staff = raw.get("full_time_staff")
    if not isinstance(staff, int) or isinstance(staff, bool) or staff < 1:
        raise DomainError(ErrorCode.INVALID, "专职工作人员应至少1人", "fullTimeStaff")
    return {
        "kind": _enum(InstitutionKind, raw.get("kind"), "kind").value,
        "introduction": _text(raw.get("introduction"), "introduction"),
        "person_in_charge": _text(raw.get("person_in_charge"), "personInCharge", max_length=50),
        "professional_scope": _text(raw.get("professional_scope"), "professionalScope"),
        "purpose": _text(raw.get("purpose"), "purpose"),
        "office_address": _text(raw.get("office_address"), "officeAddress", max_length=200),
        "phone": _phone(raw.get("phone"), "phone"),
        "full_time_staff": staff,
        "facilities": _text(raw.get("facilities"), "facilities"),
        "strengths": _text(raw.get("strengths"), "strengths"),
    }


async def create_institution_application(
    actor: Actor,
    institution_id: int,
    *,
    kind: InstitutionKind | str,
    introduction: str,
    person_in_charge: str,
    professional_scope: str,
    purpose: str,
    office_address: str,
    phone: str,
    full_time_staff: int,
    facilities: str,
    strengths: str,
    proposed_committees: Sequence[ProposedCommittee | Mapping[str, Any]],
) -> InstitutionApplication:
    """Prepare a filing application (first filing, or re-filing after a major change
    or expiry) with every Art. 10 field and the proposed committees.

    One open round per institution; while a re-filing is pending, the filing in force
    stays in force. Side effects: one InstitutionApplication (draft), audit.
    """
    params = dict(locals())
    async with in_transaction():
        inst = await get_institution(actor, institution_id)
        require(actor, Perm.INSTITUTION_APPLY, inst)
        content = _content(params)
        committees = _proposed(proposed_committees)
        if inst.status == F.REVOKED:
            raise DomainError(ErrorCode.INSTITUTION_REVOKED, "评审机构备案已撤销,不能再申请", None)
        if await InstitutionApplication.exists(
            institution_id=inst.id, status__in=_OPEN_APPLICATION
        ):
            raise DomainError(ErrorCode.DUPLICATE, "已有未办结的备案申请,请修改该申请后提交", None)
        app = await InstitutionApplication.create(
            institution_id=inst.id, content=content, proposed_committees=committees
        )
        await audit.record(actor, "institution_application.create", app, after=audit.snapshot(app))
    return app


async def update_institution_application(
    actor: Actor,
    application_id: int,
    *,
    version: int,
    kind: InstitutionKind | str | None = None,
    introduction: str | None = None,
    person_in_charge: str | None = None,
    professional_scope: str | None = None,
    purpose: str | None = None,
    office_address: str | None = None,
    phone: str | None = None,
    full_time_staff: int | None = None,
    facilities: str | None = None,
    strengths: str | None = None,
    proposed_committees: Sequence[ProposedCommittee | Mapping[str, Any]] | None = None,
) -> InstitutionApplication:
    """Edit a draft or rejected application (None = unchanged). Side effects: audit."""
    params = dict(locals())
    given = {
        k: v
        for k, v in params.items()
        if v is not None and k not in ("actor", "application_id", "version", "proposed_committees")
    }
    async with in_transaction():
        app = await get_institution_application(actor, application_id)
        require(actor, Perm.INSTITUTION_APPLY, app)
        if app.status not in (A.DRAFT, A.REJECTED):
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, "该申请已提交或已办结,不能修改", "status"
            )
        _check_version(app, version)
        content = _content({**app.content, **given})
        committees = (
            app.proposed_committees
            if proposed_committees is None
            else _proposed(proposed_committees)
        )
        before = audit.snapshot(app)
        await _save(app, {"content": content, "proposed_committees": committees})
        await audit.record(
            actor, "institution_application.update", app, before=before, after=audit.snapshot(app)
        )
    return app


async def submit_institution_application(
    actor: Actor, application_id: int, *, version: int | None = None
) -> InstitutionApplication:
    """Send the application to the bureau (a rejected one may be resubmitted).

    Side effects: application → submitted; a never-filed institution → submitted;
    audit events for both.
    """
    async with in_transaction():
        app = await get_institution_application(actor, application_id)
        require(actor, Perm.INSTITUTION_APPLY, app)
        _check_version(app, version)
        check_transition(A(app.status), A.SUBMITTED)
        _content(app.content)
        _proposed(app.proposed_committees)
        inst = await Institution.get(id=_fk(app, "institution"))
        if inst.status == F.REVOKED:
            raise DomainError(ErrorCode.INSTITUTION_REVOKED, "评审机构备案已撤销", None)
        before = audit.snapshot(app)
        await _save(
            app,
            {"status": A.SUBMITTED, "submitted_at": dt.datetime.now(dt.UTC), "decision_reason": ""},
        )
        await audit.record(
            actor, "institution_application.submit", app, before=before, after=audit.snapshot(app)
        )
        if inst.status in (F.DRAFT, F.REJECTED):
            await _set_status(actor, inst, F.SUBMITTED, "institution.submit", reason="")
    return app


async def _set_status(
    actor: Actor,
    obj: Institution | Committee,
    status: FilingStatus,
    action: str,
    *,
    reason: str,
    extra: Mapping[str, Any] | None = None,
) -> None:
    check_transition(FilingStatus(obj.status), status)
    before = audit.snapshot(obj)
    await _save(obj, {"status": status, "status_reason": reason, **(extra or {})})
    await audit.record(actor, action, obj, before=before, after=audit.snapshot(obj))


async def _last_assessment_failed(institution_id: int) -> bool:
    last = (
        await InstitutionAssessment.filter(institution_id=institution_id)
        .order_by("-assessed_on", "-id")
        .first()
    )
    return last is not None and last.result == AssessmentResult.FAIL


async def file_institution(
    actor: Actor, application_id: int, *, valid_until: dt.date | None = None
) -> Institution:
    """The bureau files a submitted application (Art. 12, R1).

    Filing date today; validity end at most 3 years later (default exactly 3). The
    application's content replaces the institution's and validity restarts. An
    institution whose latest assessment failed cannot be re-filed (R17: only a passed
    assessment lifts that). Side effects: application → filed, institution → filed,
    audit events for both.
    """
    today = _today()
    async with in_transaction():
        app = await get_institution_application(actor, application_id)
        require(actor, Perm.INSTITUTION_FILE, app)
        check_transition(A(app.status), A.FILED)
        until = _validity(valid_until, today)
        inst = await Institution.get(id=_fk(app, "institution"))
        if inst.status == F.REVOKED:
            raise DomainError(ErrorCode.INSTITUTION_REVOKED, "评审机构备案已撤销", None)
        if await _last_assessment_failed(inst.id):
            raise DomainError(
                ErrorCode.INSTITUTION_SUSPENDED,
                "最近一次考核不合格,须经考核合格后方可重新备案",
                None,
            )
        if inst.status != F.FILED:
            check_transition(FilingStatus(inst.status), F.FILED)
        before_app = audit.snapshot(app)
        await _save(
            app,
            {
                "status": A.FILED,
                "decided_at": dt.datetime.now(dt.UTC),
                "decided_by_id": actor.user_id,
            },
        )
        await audit.record(
            actor, "institution_application.file", app, before=before_app, after=audit.snapshot(app)
        )
        c = app.content
        before = audit.snapshot(inst)
        await _save(
            inst,
            {
                "kind": InstitutionKind(c["kind"]),
                "introduction": c["introduction"],
                "person_in_charge": c["person_in_charge"],
                "professional_scope": c["professional_scope"],
                "purpose": c["purpose"],
                "office_address": c["office_address"],
                "phone": c["phone"],
                "full_time_staff": c["full_time_staff"],
                "facilities": c["facilities"],
                "strengths": c["strengths"],
                "status": F.FILED,
                "filed_at": today,
                "valid_until": until,
                "status_reason": "",
            },
        )
        await audit.record(
            actor, "institution.file", inst, before=before, after=audit.snapshot(inst)
        )
    return inst


async def reject_institution_application(
    actor: Actor, application_id: int, *, reason: str
) -> InstitutionApplication:
    """The bureau declines to file; the applicant may fix and resubmit.

    A re-filing's rejection leaves the filing in force untouched. Side effects:
    application → rejected (and a never-filed institution → rejected), audit.
    """
    async with in_transaction():
        app = await get_institution_application(actor, application_id)
        require(actor, Perm.INSTITUTION_FILE, app)
        reason = _reason(reason)
        check_transition(A(app.status), A.REJECTED)
        before = audit.snapshot(app)
        await _save(
            app,
            {
                "status": A.REJECTED,
                "decided_at": dt.datetime.now(dt.UTC),
                "decided_by_id": actor.user_id,
                "decision_reason": reason,
            },
        )
        await audit.record(
            actor, "institution_application.reject", app, before=before, after=audit.snapshot(app)
        )
        inst = await Institution.get(id=_fk(app, "institution"))
        if inst.status == F.SUBMITTED:
            await _set_status(actor, inst, F.REJECTED, "institution.reject", reason=reason)
    return app


async def suspend_institution(actor: Actor, institution_id: int, *, reason: str) -> Institution:
    """The bureau suspends a filed institution (R2 then refuses its work). Audited."""
    async with in_transaction():
        inst = await get_institution(actor, institution_id)
        require(actor, Perm.INSTITUTION_SUSPEND, inst)
        reason = _reason(reason)
        await _set_status(actor, inst, F.SUSPENDED, "institution.suspend", reason=reason)
    return inst


async def revoke_institution(actor: Actor, institution_id: int, *, reason: str) -> Institution:
    """The bureau revokes a filing for good (revoked is final). Audited."""
    async with in_transaction():
        inst = await get_institution(actor, institution_id)
        require(actor, Perm.INSTITUTION_SUSPEND, inst)
        reason = _reason(reason)
        await _set_status(actor, inst, F.REVOKED, "institution.revoke", reason=reason)
    return inst


async def _expire(model: type[Institution] | type[Committee], today: dt.date) -> int:
    count = 0
    ids = await model.filter(status=F.FILED, valid_until__lt=today).values_list("id", flat=True)
    for pk in ids:
        try:
            async with in_transaction():
                obj = await model.get(id=pk)
                if obj.status != F.FILED:
                    continue
                await _set_status(
                    SYSTEM,
                    obj,
                    F.EXPIRED,
                    f"{model._meta.db_table}.expire",
                    reason=f"备案有效期已于{obj.valid_until}届满",
                )
        except DomainError:
            continue
        count += 1
    return count


async def expire_filings(today: dt.date | None = None) -> dict[str, int]:
    """The sweep: store `expired` on every filed institution and committee whose
    validity ended before `today` (R1). One short transaction and one audit event
    (actor system) per object; an object changed concurrently is left to the next run."""
    today = today or _today()
    return {
        "institutions": await _expire(Institution, today),
        "committees": await _expire(Committee, today),
    }


# --- committees -------------------------------------------------------------------


async def get_committee(actor: Actor, committee_id: int) -> Committee:
    """One committee: the public sees it only while it and its institution are in force."""
    qs = scoped(actor, Perm.COMMITTEE_VIEW, Committee.filter(id=committee_id))
    return await _first(qs, "评委会不存在")


async def list_committees(actor: Actor, *, institution_id: int | None = None) -> list[Committee]:
    qs = scoped(actor, Perm.COMMITTEE_VIEW, Committee.all())
    if institution_id is not None:
        qs = qs.filter(institution_id=institution_id)
    return await qs.order_by("name")


def _committee_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": _text(raw.get("name"), "name", max_length=200),
        "series": _series(raw.get("series"), "series"),
        "specialty": _text(raw.get("specialty"), "specialty", max_length=100),
        "level": _enum(Level, raw.get("level"), "level"),
        "applicant_scope": _text(raw.get("applicant_scope"), "applicantScope"),
        "quantitative_standard": _text(raw.get("quantitative_standard"), "quantitativeStandard"),
        "procedure": _text(raw.get("procedure"), "procedure"),
        "self_evaluation": bool(raw.get("self_evaluation", False)),
    }


async def _unique_committee_name(name: str, exclude_id: int | None = None) -> None:
    qs = Committee.filter(name=name)
    if exclude_id is not None:
        qs = qs.exclude(id=exclude_id)
    if await qs.exists():
        raise DomainError(ErrorCode.DUPLICATE, "已有同名评委会", "name")


async def create_committee_application(
    actor: Actor,
    institution_id: int,
    *,
    name: str,
    series: str,
    specialty: str,
    level: Level | str,
    applicant_scope: str,
    quantitative_standard: str,
    procedure: str,
    self_evaluation: bool = False,
) -> Committee:
    """Institution staff prepare a committee filing (Art. 11). Side effects: one
    Committee (draft), audit."""
    params = dict(locals())
    async with in_transaction():
        inst = await get_institution(actor, institution_id)
        require(actor, Perm.COMMITTEE_MANAGE, inst)
        values = _committee_fields(params)
        if inst.status == F.REVOKED:
            raise DomainError(ErrorCode.INSTITUTION_REVOKED, "评审机构备案已撤销", None)
        await _unique_committee_name(values["name"])
        try:
            committee = await Committee.create(institution_id=inst.id, **values)
        except IntegrityError:
            raise DomainError(ErrorCode.DUPLICATE, "已有同名评委会", "name") from None
        await audit.record(actor, "committee.create", committee, after=audit.snapshot(committee))
    return committee


async def update_committee_application(
    actor: Actor,
    committee_id: int,
    *,
    version: int,
    name: str | None = None,
    series: str | None = None,
    specialty: str | None = None,
    level: Level | str | None = None,
    applicant_scope: str | None = None,
    quantitative_standard: str | None = None,
    procedure: str | None = None,
    self_evaluation: bool | None = None,
) -> Committee:
    """Edit a committee that is not filed or under review (None = unchanged). Audited."""
    params = dict(locals())
    given = {
        k: v
        for k, v in params.items()
        if v is not None and k not in ("actor", "committee_id", "version")
    }
    async with in_transaction():
        committee = await get_committee(actor, committee_id)
        require(actor, Perm.COMMITTEE_MANAGE, committee)
        if committee.status not in (F.DRAFT, F.REJECTED, F.EXPIRED):
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, "评委会已提交或已备案,变更须重新备案", "status"
            )
        _check_version(committee, version)
        current = {
            k: getattr(committee, k)
            for k in (
                "name",
                "series",
                "specialty",
                "level",
                "applicant_scope",
                "quantitative_standard",
                "procedure",
                "self_evaluation",
            )
        }
        values = _committee_fields({**current, **given})
        await _unique_committee_name(values["name"], exclude_id=committee.id)
        before = audit.snapshot(committee)
        await _save(committee, values)
        await audit.record(
            actor, "committee.update", committee, before=before, after=audit.snapshot(committee)
        )
    return committee


async def _check_roster(committee: Committee) -> None:
    """Art. 12, 人社部令第40号: an odd roster of at least the configured minimum of
    in-pool experts, with exactly one chair."""
    seats = CommitteeSeat.filter(committee_id=committee.id, expert__status=ExpertStatus.IN_POOL)
    size = await seats.count()
    chairs = await seats.filter(seat=Seat.CHAIR).count()
    minimum = get_config().committee_min_roster
    if size < minimum:
        raise DomainError(
            ErrorCode.INVALID, f"评委会库内专家应不少于{minimum}人,现有{size}人", "seats"
        )
    if size % 2 == 0:
        raise DomainError(ErrorCode.INVALID, f"评委会专家人数应为奇数,现有{size}人", "seats")
    if chairs != 1:
        raise DomainError(ErrorCode.INVALID, "评委会应有且仅有一名主任委员", "seats")


async def submit_committee(
    actor: Actor, committee_id: int, *, version: int | None = None
) -> Committee:
    """Send a committee filing to the bureau; its roster is then frozen. Audited."""
    async with in_transaction():
        committee = await get_committee(actor, committee_id)
        require(actor, Perm.COMMITTEE_MANAGE, committee)
        _check_version(committee, version)
        check_transition(FilingStatus(committee.status), F.SUBMITTED)
        await _check_roster(committee)
        await _set_status(actor, committee, F.SUBMITTED, "committee.submit", reason="")
    return committee


async def file_committee(
    actor: Actor, committee_id: int, *, valid_until: dt.date | None = None
) -> Committee:
    """The bureau files a submitted (or re-files an expired or suspended) committee.

    Requires the institution in force and a valid roster; validity ≤ 3 years (R1).
    Side effects: committee → filed with filed_at today, audit.
    """
    today = _today()
    async with in_transaction():
        committee = await get_committee(actor, committee_id)
        require(actor, Perm.COMMITTEE_FILE, committee)
        check_transition(FilingStatus(committee.status), F.FILED)
        until = _validity(valid_until, today)
        inst = await Institution.get(id=_fk(committee, "institution"))
        status = effective_status(inst, today)
        if status != F.FILED:
            code, message = {
                F.REVOKED: (ErrorCode.INSTITUTION_REVOKED, "评审机构备案已撤销"),
                F.SUSPENDED: (ErrorCode.INSTITUTION_SUSPENDED, "评审机构已暂停"),
                F.EXPIRED: (ErrorCode.INSTITUTION_EXPIRED, "评审机构备案已到期"),
            }.get(status, (ErrorCode.INSTITUTION_NOT_FILED, "评审机构尚未备案"))
            raise DomainError(code, message, "institutionId")
        await _check_roster(committee)
        await _set_status(
            actor,
            committee,
            F.FILED,
            "committee.file",
            reason="",
            extra={"filed_at": today, "valid_until": until},
        )
    return committee


async def reject_committee(actor: Actor, committee_id: int, *, reason: str) -> Committee:
    """The bureau declines a committee filing; staff may fix and resubmit. Audited."""
    async with in_transaction():
        committee = await get_committee(actor, committee_id)
        require(actor, Perm.COMMITTEE_FILE, committee)
        reason = _reason(reason)
        await _set_status(actor, committee, F.REJECTED, "committee.reject", reason=reason)
    return committee


async def suspend_committee(actor: Actor, committee_id: int, *, reason: str) -> Committee:
    """The bureau stops a filed committee (R2 then refuses it); re-filing lifts it."""
    async with in_transaction():
        committee = await get_committee(actor, committee_id)
        require(actor, Perm.COMMITTEE_FILE, committee)
        reason = _reason(reason)
        await _set_status(actor, committee, F.SUSPENDED, "committee.suspend", reason=reason)
    return committee


async def revoke_committee(actor: Actor, committee_id: int, *, reason: str) -> Committee:
    """The bureau revokes a committee filing for good. Audited."""
    async with in_transaction():
        committee = await get_committee(actor, committee_id)
        require(actor, Perm.COMMITTEE_FILE, committee)
        reason = _reason(reason)
        await _set_status(actor, committee, F.REVOKED, "committee.revoke", reason=reason)
    return committee


async def list_committee_seats(actor: Actor, committee_id: int) -> list[CommitteeSeat]:
    """The roster (bureau and the committee's own institution only)."""
    committee = await get_committee(actor, committee_id)
    q = _own_or_bureau(actor, Perm.COMMITTEE_MANAGE, Perm.COMMITTEE_FILE, "Committee")
    await _first(_narrow(Committee.filter(id=committee.id), q), "评委会不存在")
    return await CommitteeSeat.filter(committee_id=committee.id).order_by("seat", "id")


async def set_committee_seat(
    actor: Actor, committee_id: int, expert_id: int, seat: Seat | str | None
) -> Committee:
    """Give an in-pool expert a seat (chair, vice chair, member), change it, or remove
    it with None. At most one chair. The roster is frozen while under review.

    Side effects: seat row created/changed/deleted, committee version +1 (so two
    concurrent roster edits cannot both pass the one-chair check), audit.
    """
    new_seat = None if seat is None else _enum(Seat, seat, "seat")
    async with in_transaction():
        committee = await get_committee(actor, committee_id)
        require(actor, Perm.COMMITTEE_MANAGE, committee)
        if committee.status in (F.SUBMITTED, F.REVOKED):
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, "评委会备案审核中或已撤销,不能调整专家名单", "seat"
            )
        current = await CommitteeSeat.filter(committee_id=committee.id, expert_id=expert_id).first()
        if new_seat is None:
            if current is None:
                raise NotFound("该专家不在评委会名单中")
            before = audit.snapshot(current)
            await current.delete()
            await _save(committee, {})
            await audit.record(actor, "committee_seat.remove", current, before=before)
            return committee
        expert = await _first(
            scoped(actor, Perm.EXPERT_VIEW, Expert.filter(id=expert_id)), "专家不存在"
        )
        if expert.status != ExpertStatus.IN_POOL:
            raise DomainError(ErrorCode.INVALID, "只有在库专家才能进入评委会", "expertId")
        if (
            new_seat == Seat.CHAIR
            and await CommitteeSeat.filter(committee_id=committee.id, seat=Seat.CHAIR)
            .exclude(expert_id=expert_id)
            .exists()
        ):
            raise DomainError(ErrorCode.DUPLICATE, "评委会只能有一名主任委员", "seat")
        await _save(committee, {})
        if current is None:
            row = await CommitteeSeat.create(
                committee_id=committee.id, expert_id=expert_id, seat=new_seat
            )
            await audit.record(actor, "committee_seat.set", row, after=audit.snapshot(row))
        else:
            before = audit.snapshot(current)
            current.seat = new_seat
            await current.save(update_fields=["seat", "updated_at"])
            await audit.record(
                actor, "committee_seat.set", current, before=before, after=audit.snapshot(current)
            )
    return committee


# --- annual plans (Art. 9(二)) ----------------------------------------------------


async def get_annual_plan(actor: Actor, plan_id: int) -> AnnualPlan:
    qs = scoped(actor, Perm.PLAN_VIEW, AnnualPlan.filter(id=plan_id))
    return await _first(qs, "年度实施方案不存在")


async def list_annual_plans(
    actor: Actor, *, committee_id: int | None = None, year: int | None = None
) -> list[AnnualPlan]:
    """Published plans for everyone; drafts only for their institution and the bureau."""
    qs = scoped(actor, Perm.PLAN_VIEW, AnnualPlan.all())
    if committee_id is not None:
        qs = qs.filter(committee_id=committee_id)
    if year is not None:
        qs = qs.filter(year=year)
    return await qs.order_by("-year", "committee_id")


async def save_annual_plan(
    actor: Actor,
    committee_id: int,
    year: int,
    *,
    version: int | None = None,
    series: str | None = None,
    specialty: str | None = None,
    level: Level | str | None = None,
    conditions: str = "",
    procedure: str = "",
    method: str = "",
    contact_phone: str = "",
    acceptance_start: dt.date | None = None,
    acceptance_end: dt.date | None = None,
    material_requirements: str = "",
) -> AnnualPlan:
    """Create or edit the draft plan of one committee for one year.

    Series, specialty and level default to the committee's. Completeness is checked at
    publication; editing an existing draft needs the version seen. Audited.
    """
    if not 2000 <= year <= 2100:
        raise DomainError(ErrorCode.INVALID, "年度无效", "year")
    if acceptance_start and acceptance_end and acceptance_start > acceptance_end:
        raise DomainError(ErrorCode.INVALID, "受理开始日期不能晚于结束日期", "acceptanceEnd")
    async with in_transaction():
        committee = await get_committee(actor, committee_id)
        require(actor, Perm.PLAN_MANAGE, committee)
        values: dict[str, Any] = {
            "series": _series(series or committee.series, "series"),
            "specialty": _text(specialty or committee.specialty, "specialty", max_length=100),
            "level": _enum(Level, level or committee.level, "level"),
            "conditions": _text(conditions, "conditions", required=False),
            "procedure": _text(procedure, "procedure", required=False),
            "method": _text(method, "method", required=False),
            "contact_phone": _phone(contact_phone, "contactPhone", required=False),
            "acceptance_start": acceptance_start,
            "acceptance_end": acceptance_end,
            "material_requirements": _text(
                material_requirements, "materialRequirements", required=False
            ),
        }
        plan = await AnnualPlan.filter(committee_id=committee.id, year=year).first()
        if plan is None:
            if version is not None:
                raise _conflict()
            plan = await AnnualPlan.create(committee_id=committee.id, year=year, **values)
            await audit.record(actor, "annual_plan.create", plan, after=audit.snapshot(plan))
            return plan
        if plan.status != PlanStatus.DRAFT:
            raise DomainError(ErrorCode.INVALID_TRANSITION, "方案已公布,不能修改", "status")
        if version is None:
            raise DomainError(
                ErrorCode.VERSION_CONFLICT, "该年度方案已存在,请在其基础上修改", "version"
            )
        _check_version(plan, version)
        before = audit.snapshot(plan)
        await _save(plan, values)
        await audit.record(
            actor, "annual_plan.update", plan, before=before, after=audit.snapshot(plan)
        )
    return plan


async def publish_annual_plan(
    actor: Actor, plan_id: int, *, version: int | None = None
) -> AnnualPlan:
    """Publish a complete plan of an operating committee; it then becomes public and
    final. Side effects: plan → published, audit."""
    today = _today()
    async with in_transaction():
        plan = await get_annual_plan(actor, plan_id)
        committee = await Committee.get(id=_fk(plan, "committee"))
        require(actor, Perm.PLAN_MANAGE, committee)
        _check_version(plan, version)
        check_transition(PlanStatus(plan.status), PlanStatus.PUBLISHED)
        for attr, field in (
            ("conditions", "conditions"),
            ("procedure", "procedure"),
            ("method", "method"),
            ("contact_phone", "contactPhone"),
            ("acceptance_start", "acceptanceStart"),
            ("acceptance_end", "acceptanceEnd"),
            ("material_requirements", "materialRequirements"),
        ):
            if getattr(plan, attr) in (None, ""):
                raise DomainError(ErrorCode.REQUIRED, "公布前须填写此项", field)
        start, end = plan.acceptance_start, plan.acceptance_end
        if start and end and start > end:
            raise DomainError(ErrorCode.INVALID, "受理开始日期不能晚于结束日期", "acceptanceEnd")
        inst = await Institution.get(id=_fk(committee, "institution"))
        assert_can_operate(inst, committee, today)
        before = audit.snapshot(plan)
        await _save(plan, {"status": PlanStatus.PUBLISHED, "published_at": dt.datetime.now(dt.UTC)})
        await audit.record(
            actor, "annual_plan.publish", plan, before=before, after=audit.snapshot(plan)
        )
    return plan


# --- supervision and assessment (Art. 29–31) --------------------------------------


def _figures_sql(dialect: str) -> str:
    # A reply is on time when it comes before the end of its due day, Beijing time.
    if dialect == "postgres":
        on_time = "answered_at < ((due_on + 1)::timestamp AT TIME ZONE 'Asia/Shanghai')"
        inst, today = "$1", "$2"
    else:
        on_time = "julianday(answered_at) < julianday(due_on, '+1 day', '-8 hours')"
        inst, today = "?1", "?2"  # numbered: the date is used before the id
    open_ = ", ".join(f"'{s.value}'" for s in _OPEN_COMPLAINT)
    return f"""
        SELECT COUNT(*) AS received,
          COALESCE(SUM(CASE WHEN answered_at IS NOT NULL AND (due_on IS NULL OR {on_time})
                       THEN 1 ELSE 0 END), 0) AS answered_on_time,
          COALESCE(SUM(CASE WHEN (answered_at IS NOT NULL AND due_on IS NOT NULL
                                  AND NOT ({on_time}))
                              OR (answered_at IS NULL AND status IN ({open_})
                                  AND due_on < {today})
                       THEN 1 ELSE 0 END), 0) AS overdue,
          COALESCE(SUM(CASE WHEN status IN ({open_}) THEN 1 ELSE 0 END), 0) AS open
        FROM {Complaint._meta.db_table} WHERE institution_id = {inst}
    """  # noqa: S608 -- only constants are interpolated; values are bound parameters


async def _complaint_figures(institution_id: int, today: dt.date) -> ComplaintFigures:
    conn = connections.get("default")
    dialect = conn.capabilities.dialect
    param: Any = today if dialect == "postgres" else today.isoformat()
    rows = await conn.execute_query_dict(_figures_sql(dialect), [institution_id, param])
    row = rows[0]
    return {
        "received": int(row["received"]),
        "answered_on_time": int(row["answered_on_time"]),
        "overdue": int(row["overdue"]),
        "open": int(row["open"]),
    }


async def complaint_figures(
    actor: Actor, institution_id: int, today: dt.date | None = None
) -> ComplaintFigures:
    """Complaint handling of one institution as of `today`: received, answered on time
    (before the end of the due day), overdue (answered late, or open past the due day)
    and open. Only the bureau and the institution itself see them."""
    qs = scoped(actor, Perm.COMPLAINT_VIEW, Institution.filter(id=institution_id))
    inst = await _first(qs, "评审机构不存在")
    return await _complaint_figures(inst.id, today or _today())


async def list_institution_assessments(
    actor: Actor, institution_id: int
) -> list[InstitutionAssessment]:
    q = _own_or_bureau(
        actor, Perm.INSTITUTION_APPLY, Perm.INSTITUTION_ASSESS, "InstitutionAssessment"
    )
    qs = _narrow(InstitutionAssessment.filter(institution_id=institution_id), q)
    return await qs.order_by("-assessed_on", "-id")


async def record_institution_assessment(
    actor: Actor,
    institution_id: int,
    *,
    method: AssessmentMethod | str,
    assessed_on: dt.date,
    findings: str,
    result: AssessmentResult | str,
) -> InstitutionAssessment:
    """The bureau records an assessment with the complaint figures of the day.

    R17: a fail suspends a filed institution (status reason marks the assessment); a
    later pass lifts such a suspension — back to filed within validity, else expired.
    Side effects: one InstitutionAssessment, maybe an institution status change,
    audit events for each.
    """
    today = _today()
    async with in_transaction():
        inst = await get_institution(actor, institution_id)
        require(actor, Perm.INSTITUTION_ASSESS, inst)
        method = _enum(AssessmentMethod, method, "method")
        result = _enum(AssessmentResult, result, "result")
        findings = _text(findings, "findings")
        if assessed_on > today:
            raise DomainError(ErrorCode.INVALID, "考核日期不能晚于今天", "assessedOn")
        if inst.status == F.REVOKED:
            raise DomainError(ErrorCode.INSTITUTION_REVOKED, "评审机构备案已撤销", None)
        if inst.filed_at is None:
            raise DomainError(ErrorCode.INSTITUTION_NOT_FILED, "评审机构尚未备案", None)
        figures = await _complaint_figures(inst.id, today)
        row = await InstitutionAssessment.create(
            institution_id=inst.id,
            method=method,
            assessed_on=assessed_on,
            findings=findings,
            result=result,
            complaint_figures=dict(figures),
            assessor_id=actor.user_id,
        )
        await audit.record(actor, "institution_assessment.record", row, after=audit.snapshot(row))
        if result == AssessmentResult.FAIL and inst.status == F.FILED:
            await _set_status(
                actor,
                inst,
                F.SUSPENDED,
                "institution.suspend",
                reason=f"{ASSESSMENT_SUSPENSION}:{findings}"[:REASON_MAX],
            )
        elif (
            result == AssessmentResult.PASS
            and inst.status == F.SUSPENDED
            and inst.status_reason.startswith(ASSESSMENT_SUSPENSION)
        ):
            back = F.FILED if inst.valid_until and inst.valid_until >= today else F.EXPIRED
            await _set_status(actor, inst, back, "institution.reinstate", reason="")
    return row


# --- expiry notices ---------------------------------------------------------------


async def _expiring(
    q_inst: Q | None, q_comm: Q | None, today: dt.date, days: int
) -> list[ExpiringFiling]:
    window = {
        "status": F.FILED,
        "valid_until__gte": today,
        "valid_until__lte": today + dt.timedelta(days=days),
    }
    insts = await _narrow(Institution.filter(**window), q_inst).values("id", "name", "valid_until")
    comms = await _narrow(Committee.filter(**window), q_comm).values(
        "id", "name", "institution_id", "valid_until"
    )
    out = [
        ExpiringFiling(
            "institution",
            r["id"],
            r["name"],
            r["id"],
            r["valid_until"],
            (r["valid_until"] - today).days,
        )
        for r in insts
    ]
    out += [
        ExpiringFiling(
            "committee",
            r["id"],
            r["name"],
            r["institution_id"],
            r["valid_until"],
            (r["valid_until"] - today).days,
        )
        for r in comms
    ]
    return sorted(out, key=lambda f: (f.valid_until, f.kind, f.id))


async def expiring_filings(
    actor: Actor, today: dt.date | None = None, days: int = NOTICE_DAYS
) -> list[ExpiringFiling]:
    """Filings ending within `days` for a dashboard: every one for the bureau, the
    actor's own institution's for its staff."""
    if actor.is_anonymous:
        raise Unauthenticated()
    q_inst = _own_or_bureau(actor, Perm.INSTITUTION_APPLY, Perm.INSTITUTION_FILE, "Institution")
    q_comm = _own_or_bureau(actor, Perm.COMMITTEE_MANAGE, Perm.COMMITTEE_FILE, "Committee")
    return await _expiring(q_inst, q_comm, today or _today(), days)


async def queue_expiry_notices(
    today: dt.date | None = None, days: int = NOTICE_DAYS
) -> dict[str, int]:
    """Put one outbox notification per filing ending within `days`, addressed to its
    institution; a filing already notified for the same validity end is skipped.
    Returns how many were queued, by kind (the sweep's step shape). Side effects:
    Notification rows."""
    today = today or _today()
    filings = await _expiring(None, None, today, days)
    labels = {"institution": "评审机构", "committee": "评委会"}
    wanted = {f"expiry:{f.kind}:{f.id}:{f.valid_until.isoformat()}": f for f in filings}
    existing = set(
        await Notification.filter(dedupe_key__in=list(wanted)).values_list("dedupe_key", flat=True)
    )
    new = [
        Notification(
            institution_id=f.institution_id,
            kind="filing_expiry",
            dedupe_key=key,
            subject=f"{labels[f.kind]}备案即将到期:{f.name}"[:200],
            body=(
                f"{labels[f.kind]}“{f.name}”的备案有效期至{f.valid_until},"
                f"还有{f.days_left}天到期。请及时申请重新备案(京人社事业发〔2023〕13号第十二条)。"
            ),
        )
        for key, f in wanted.items()
        if key not in existing
    ]
    if new:
        await Notification.bulk_create(new, ignore_conflicts=True)
    queued = [wanted[n.dedupe_key].kind for n in new]
    return {"institutions": queued.count("institution"), "committees": queued.count("committee")}
