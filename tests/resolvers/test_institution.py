"""Institutions and committees: filing (R1), the operating guard (R2), annual plans,
assessment (R17), expiry notices, and who may see and change what (Art. 2–3, 7–12,
29–31)."""

import datetime as dt
import itertools
from typing import Any

import pytest
from tortoise.models import Model

from models import (
    AnnualPlan,
    AuditEvent,
    Committee,
    CommitteeSeat,
    Complaint,
    Institution,
    InstitutionApplication,
    InstitutionAssessment,
    Notification,
    User,
)
from models.enums import (
    ApplicationStatus,
    AssessmentMethod,
    AssessmentResult,
    ComplaintChannel,
    ComplaintKind,
    ComplaintStatus,
    ExpertStatus,
    FilingStatus,
    InstitutionKind,
    Level,
    PlanStatus,
    Role,
    Seat,
    TargetType,
)
from resolvers import institution as svc
from resolvers.actor import ANONYMOUS, SYSTEM, Actor, Grant
from resolvers.common import beijing_today
from resolvers.errors import DomainError, ErrorCode, NotFound, PermissionDenied, Unauthenticated
from tests import factories

F, A = FilingStatus, ApplicationStatus
TODAY = beijing_today()
_n = itertools.count(1)


# --- local helpers ----------------------------------------------------------------


async def _actor(*grants: Grant) -> Actor:
    n = next(_n)
    user = await User.create(username=f"u{n}", display_name=f"用户{n}", password_hash="x")
    return Actor(user_id=user.id, username=user.username, grants=grants)


async def _bureau() -> Actor:
    return await _actor(Grant(Role.BUREAU))


async def _staff(inst: Institution) -> Actor:
    return await _actor(Grant(Role.INSTITUTION, institution_id=inst.id))


def _content(**over: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "kind": InstitutionKind.ASSOCIATION,
        "introduction": "北京市某学会,成立于1990年。",
        "person_in_charge": "张三",
        "professional_scope": "工程技术系列电子信息专业",
        "purpose": "开展电子信息专业职称评审",
        "office_address": "北京市西城区某路1号",
        "phone": "010-66001234",
        "full_time_staff": 6,
        "facilities": "评审会议室2间,录音录像设备",
        "strengths": "行业覆盖面广",
        "proposed_committees": [_proposed()],
    }
    values.update(over)
    return values


def _proposed(**over: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": f"拟设评委会{next(_n)}",
        "series": "工程技术",
        "specialty": "电子信息",
        "level": Level.SENIOR,
        "applicant_scope": "本市电子信息领域专业技术人员",
        "quantitative_standard": "论文、项目、获奖量化赋分",
        "procedure": "申报、审核、评审、公示",
    }
    values.update(over)
    return values


def _committee_fields(**over: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": f"电子信息高级评委会{next(_n)}",
        "series": "工程技术",
        "specialty": "电子信息",
        "level": Level.SENIOR,
        "applicant_scope": "本市电子信息领域专业技术人员",
        "quantitative_standard": "论文、项目、获奖量化赋分",
        "procedure": "申报、审核、评审、公示",
    }
    values.update(over)
    return values


async def _committee(
    inst: Institution, status: FilingStatus = F.FILED, *, roster: int = 5, **kw: Any
) -> Committee:
    filed = status == F.FILED
    committee = await Committee.create(
        institution=inst,
        status=status,
        filed_at=kw.pop("filed_at", TODAY if filed else None),
        valid_until=kw.pop("valid_until", svc.add_years(TODAY, 3) if filed else None),
        **_committee_fields(**kw),
    )
    for i in range(roster):
        expert = await factories.expert(institution=inst)
        await CommitteeSeat.create(
            committee=committee, expert=expert, seat=Seat.CHAIR if i == 0 else Seat.MEMBER
        )
    return committee


def _plan_fields() -> dict[str, Any]:
    return {
        "conditions": "取得副高级职称满5年",
        "procedure": "个人申报、单位推荐、评审",
        "method": "答辩评审",
        "contact_phone": "010-66001234",
        "acceptance_start": TODAY,
        "acceptance_end": TODAY + dt.timedelta(days=30),
        "material_requirements": "申报表一份,业绩材料",
    }


async def _audit_count() -> int:
    return await AuditEvent.all().count()


async def _state(*objs: Model) -> tuple[Any, ...]:
    """What must not move when a request is refused: versions, statuses, audit size."""
    rows = []
    for obj in objs:
        fresh = await type(obj).get(id=obj.pk)
        rows.append((type(obj).__name__, fresh.pk, fresh.version, fresh.status))  # type: ignore[attr-defined]
    return (*rows, await _audit_count())


async def _draft_application(bureau: Actor) -> tuple[Institution, Actor, InstitutionApplication]:
    inst = await svc.create_institution(
        bureau, name=f"新评审机构{next(_n)}", kind=InstitutionKind.ASSOCIATION
    )
    staff = await _staff(inst)
    app = await svc.create_institution_application(staff, inst.id, **_content())
    return inst, staff, app


async def _filed_via_flow() -> tuple[Institution, Actor, Actor]:
    bureau = await _bureau()
    inst, staff, app = await _draft_application(bureau)
    await svc.submit_institution_application(staff, app.id)
    inst = await svc.file_institution(bureau, app.id)
    return inst, staff, bureau


async def _actions(target: Model) -> list[str]:
    return (
        await AuditEvent.filter(target_type=target._meta.db_table, target_id=str(target.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )


# --- institution filing (Art. 10, 12, R1) -----------------------------------------


async def test_create_institution_by_bureau_is_draft_and_audited():
    bureau = await _bureau()
    inst = await svc.create_institution(bureau, name="北京市某协会", kind="association")
    assert (inst.status, inst.filed_at, inst.valid_until) == (F.DRAFT, None, None)
    assert await _actions(inst) == ["institution.create"]


async def test_create_institution_by_staff_refused_nothing_changed():
    other = await factories.institution()
    staff = await _staff(other)
    with pytest.raises(PermissionDenied):
        await svc.create_institution(staff, name="北京市某协会", kind="association")
    assert (await Institution.all().count(), await _audit_count()) == (1, 0)


async def test_create_institution_duplicate_name_refused():
    bureau = await _bureau()
    await svc.create_institution(bureau, name="北京市某协会", kind="association")
    with pytest.raises(DomainError) as e:
        await svc.create_institution(bureau, name="北京市某协会", kind="employer")
    assert (e.value.code, e.value.field) == (ErrorCode.DUPLICATE, "name")
    assert await _audit_count() == 1


async def test_first_filing_walks_draft_submitted_rejected_submitted_filed():
    """R1, Art. 12: reject with reason, resubmit, file for 3 years from today."""
    bureau = await _bureau()
    inst, staff, app = await _draft_application(bureau)

    app = await svc.submit_institution_application(staff, app.id)
    inst = await Institution.get(id=inst.id)
    assert (app.status, inst.status) == (A.SUBMITTED, F.SUBMITTED)

    app = await svc.reject_institution_application(bureau, app.id, reason="专职人员材料不全")
    inst = await Institution.get(id=inst.id)
    assert (app.status, app.decision_reason, inst.status, inst.status_reason) == (
        A.REJECTED,
        "专职人员材料不全",
        F.REJECTED,
        "专职人员材料不全",
    )

    app = await svc.update_institution_application(
        staff, app.id, version=app.version, full_time_staff=8
    )
    app = await svc.submit_institution_application(staff, app.id)
    inst = await Institution.get(id=inst.id)
    assert (app.status, inst.status, app.content["full_time_staff"]) == (
        A.SUBMITTED,
        F.SUBMITTED,
        8,
    )

    inst = await svc.file_institution(bureau, app.id)
    app = await InstitutionApplication.get(id=app.id)
    assert (inst.status, inst.filed_at, inst.valid_until) == (
        F.FILED,
        TODAY,
        svc.add_years(TODAY, 3),
    )
    assert (inst.person_in_charge, inst.phone, inst.full_time_staff, inst.kind) == (
        "张三",
        "010-66001234",
        8,
        InstitutionKind.ASSOCIATION,
    )
    assert (app.status, app.decided_by_id) == (A.FILED, bureau.user_id)  # type: ignore[attr-defined]
    assert await _actions(inst) == [
        "institution.create",
        "institution.submit",
        "institution.reject",
        "institution.submit",
        "institution.file",
    ]
    assert await _actions(app) == [
        "institution_application.create",
        "institution_application.submit",
        "institution_application.reject",
        "institution_application.update",
        "institution_application.submit",
        "institution_application.file",
    ]


async def test_file_institution_validity_beyond_three_years_refused_r1():
    bureau = await _bureau()
    inst, staff, app = await _draft_application(bureau)
    app = await svc.submit_institution_application(staff, app.id)
    before = await _state(inst, app)
    too_late = svc.add_years(TODAY, 3) + dt.timedelta(days=1)
    with pytest.raises(DomainError) as e:
        await svc.file_institution(bureau, app.id, valid_until=too_late)
    assert (e.value.code, e.value.field) == (ErrorCode.INVALID, "validUntil")
    assert await _state(inst, app) == before


async def test_file_institution_shorter_validity_is_kept():
    bureau = await _bureau()
    inst, staff, app = await _draft_application(bureau)
    await svc.submit_institution_application(staff, app.id)
    until = TODAY + dt.timedelta(days=400)
    inst = await svc.file_institution(bureau, app.id, valid_until=until)
    assert (inst.filed_at, inst.valid_until) == (TODAY, until)


@pytest.mark.parametrize(
    ("over", "code", "field"),
    [
        ({"introduction": "  "}, ErrorCode.REQUIRED, "introduction"),
        ({"person_in_charge": "张" * 51}, ErrorCode.TOO_LONG, "personInCharge"),
        ({"professional_scope": ""}, ErrorCode.REQUIRED, "professionalScope"),
        ({"purpose": ""}, ErrorCode.REQUIRED, "purpose"),
        ({"office_address": "路" * 201}, ErrorCode.TOO_LONG, "officeAddress"),
        ({"phone": "12345"}, ErrorCode.INVALID_PHONE, "phone"),
        ({"full_time_staff": 0}, ErrorCode.INVALID, "fullTimeStaff"),
        ({"facilities": ""}, ErrorCode.REQUIRED, "facilities"),
        ({"strengths": ""}, ErrorCode.REQUIRED, "strengths"),
        ({"kind": "company"}, ErrorCode.INVALID, "kind"),
        ({"proposed_committees": []}, ErrorCode.REQUIRED, "proposedCommittees"),
        (
            {"proposed_committees": [_proposed(series="化学")]},
            ErrorCode.INVALID,
            "proposedCommittees[0].series",
        ),
        (
            {"proposed_committees": [_proposed(), _proposed(level="expert")]},
            ErrorCode.INVALID,
            "proposedCommittees[1].level",
        ),
        (
            {"proposed_committees": [_proposed(procedure="")]},
            ErrorCode.REQUIRED,
            "proposedCommittees[0].procedure",
        ),
        (
            {"proposed_committees": [_proposed(name="同名"), _proposed(name="同名")]},
            ErrorCode.DUPLICATE,
            "proposedCommittees[1].name",
        ),
    ],
)
async def test_create_institution_application_validation_names_field(over, code, field):
    """Art. 10: every field is required and checked; nothing is written on error."""
    bureau = await _bureau()
    inst = await svc.create_institution(bureau, name="北京市某协会", kind="association")
    staff = await _staff(inst)
    with pytest.raises(DomainError) as e:
        await svc.create_institution_application(staff, inst.id, **_content(**over))
    assert (e.value.code, e.value.field) == (code, field)
    assert (await InstitutionApplication.all().count(), await _audit_count()) == (0, 1)


@pytest.mark.parametrize(
    "phone", ["13912345678", "010-66001234", "01066001234", "010-66001234-801", "400-123-4567"]
)
async def test_create_institution_application_accepts_phone_forms(phone):
    bureau = await _bureau()
    inst = await svc.create_institution(bureau, name="北京市某协会", kind="association")
    staff = await _staff(inst)
    app = await svc.create_institution_application(staff, inst.id, **_content(phone=phone))
    assert app.content["phone"] == phone


async def test_update_institution_application_stale_version_refused():
    bureau = await _bureau()
    _inst, staff, app = await _draft_application(bureau)
    seen = app.version
    await svc.update_institution_application(staff, app.id, version=seen, purpose="新")
    before = await _state(app)
    with pytest.raises(DomainError) as e:  # a second editor still holding the old version
        await svc.update_institution_application(staff, app.id, version=seen, purpose="旧")
    assert (e.value.code, e.value.field) == (ErrorCode.VERSION_CONFLICT, "version")
    assert await _state(app) == before
    assert (await InstitutionApplication.get(id=app.id)).content["purpose"] == "新"


async def test_second_open_application_refused():
    bureau = await _bureau()
    inst, staff, _app = await _draft_application(bureau)
    with pytest.raises(DomainError) as e:
        await svc.create_institution_application(staff, inst.id, **_content())
    assert e.value.code == ErrorCode.DUPLICATE
    assert await InstitutionApplication.filter(institution_id=inst.id).count() == 1


async def test_forbidden_application_transitions_refused_nothing_changed():
    bureau = await _bureau()
    inst, staff, draft = await _draft_application(bureau)
    for call in (
        lambda: svc.file_institution(bureau, draft.id),  # draft → filed
        lambda: svc.reject_institution_application(bureau, draft.id, reason="x"),  # → rejected
    ):
        before = await _state(inst, draft)
        with pytest.raises(DomainError) as e:
            await call()
        assert e.value.code == ErrorCode.INVALID_TRANSITION
        assert await _state(inst, draft) == before
    await svc.submit_institution_application(staff, draft.id)
    await svc.file_institution(bureau, draft.id)
    for call in (
        lambda: svc.submit_institution_application(staff, draft.id),  # filed → submitted
        lambda: svc.file_institution(bureau, draft.id),  # filed → filed
        lambda: svc.reject_institution_application(bureau, draft.id, reason="x"),
        lambda: svc.update_institution_application(staff, draft.id, version=4, purpose="x"),
    ):
        before = await _state(inst, draft)
        with pytest.raises(DomainError) as e:
            await call()
        assert e.value.code == ErrorCode.INVALID_TRANSITION
        assert await _state(inst, draft) == before


async def test_submit_submitted_application_refused():
    bureau = await _bureau()
    inst, staff, app = await _draft_application(bureau)
    await svc.submit_institution_application(staff, app.id)
    before = await _state(inst, app)
    with pytest.raises(DomainError) as e:
        await svc.submit_institution_application(staff, app.id)
    assert e.value.code == ErrorCode.INVALID_TRANSITION
    assert await _state(inst, app) == before


async def test_refiling_keeps_filing_in_force_until_filed_then_restarts_validity():
    """Art. 12: a major change is re-filed; the old filing stands until the decision."""
    inst, staff, bureau = await _filed_via_flow()
    old_filed = TODAY - dt.timedelta(days=700)
    await Institution.filter(id=inst.id).update(
        filed_at=old_filed, valid_until=svc.add_years(old_filed, 3)
    )
    app = await svc.create_institution_application(
        staff, inst.id, **_content(person_in_charge="李四", kind=InstitutionKind.EMPLOYER)
    )
    await svc.submit_institution_application(staff, app.id)
    await svc.reject_institution_application(bureau, app.id, reason="负责人材料缺失")
    inst = await Institution.get(id=inst.id)
    assert (inst.status, inst.person_in_charge, inst.filed_at) == (F.FILED, "张三", old_filed)
    await svc.submit_institution_application(staff, app.id)
    inst = await svc.file_institution(bureau, app.id)
    assert (inst.status, inst.person_in_charge, inst.kind, inst.filed_at, inst.valid_until) == (
        F.FILED,
        "李四",
        InstitutionKind.EMPLOYER,
        TODAY,
        svc.add_years(TODAY, 3),
    )


async def test_refiling_expired_institution_files_it_again():
    inst, staff, bureau = await _filed_via_flow()
    await Institution.filter(id=inst.id).update(status=F.EXPIRED)
    app = await svc.create_institution_application(staff, inst.id, **_content())
    await svc.submit_institution_application(staff, app.id)
    assert (await Institution.get(id=inst.id)).status == F.EXPIRED
    inst = await svc.file_institution(bureau, app.id)
    assert (inst.status, inst.valid_until) == (F.FILED, svc.add_years(TODAY, 3))
    assert (await _actions(inst))[-1] == "institution.file"


async def test_suspend_revoke_walk_and_manual_suspension_lifted_by_refiling():
    inst, staff, bureau = await _filed_via_flow()
    inst = await svc.suspend_institution(bureau, inst.id, reason="违规组织评审")
    assert (inst.status, inst.status_reason) == (F.SUSPENDED, "违规组织评审")
    app = await svc.create_institution_application(staff, inst.id, **_content())
    await svc.submit_institution_application(staff, app.id)
    inst = await svc.file_institution(bureau, app.id)  # suspended → filed
    assert (inst.status, inst.status_reason) == (F.FILED, "")
    inst = await svc.suspend_institution(bureau, inst.id, reason="再次违规")
    inst = await svc.revoke_institution(bureau, inst.id, reason="撤销备案")  # suspended → revoked
    assert (inst.status, inst.status_reason) == (F.REVOKED, "撤销备案")


async def test_revoke_filed_and_expired_institutions():
    bureau = await _bureau()
    filed = await factories.institution()
    expired = await factories.institution(status=F.EXPIRED)
    assert (await svc.revoke_institution(bureau, filed.id, reason="严重违规")).status == F.REVOKED
    assert (await svc.revoke_institution(bureau, expired.id, reason="不再开展")).status == F.REVOKED
    assert await _actions(filed) == ["institution.revoke"]


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (F.DRAFT, "suspend"),
        (F.DRAFT, "revoke"),
        (F.SUBMITTED, "suspend"),
        (F.EXPIRED, "suspend"),
        (F.REVOKED, "suspend"),
        (F.REVOKED, "revoke"),
        (F.SUSPENDED, "suspend"),
        (F.REJECTED, "revoke"),
    ],
)
async def test_forbidden_institution_transitions_refused_nothing_changed(status, action):
    bureau = await _bureau()
    inst = await factories.institution(status=status)
    before = await _state(inst)
    fn = svc.suspend_institution if action == "suspend" else svc.revoke_institution
    with pytest.raises(DomainError) as e:
        await fn(bureau, inst.id, reason="原因")
    assert e.value.code == ErrorCode.INVALID_TRANSITION
    assert await _state(inst) == before


async def test_suspend_without_reason_refused():
    bureau = await _bureau()
    inst = await factories.institution()
    before = await _state(inst)
    with pytest.raises(DomainError) as e:
        await svc.suspend_institution(bureau, inst.id, reason=" ")
    assert (e.value.code, e.value.field) == (ErrorCode.REQUIRED, "reason")
    assert await _state(inst) == before


async def test_suspend_by_own_staff_forbidden_nothing_changed():
    inst = await factories.institution()
    staff = await _staff(inst)
    before = await _state(inst)
    with pytest.raises(PermissionDenied):
        await svc.suspend_institution(staff, inst.id, reason="自行暂停")
    assert await _state(inst) == before


# --- expiry (R1) ------------------------------------------------------------------


async def test_filing_dated_three_years_and_a_day_ago_is_expired_r1():
    filed_at = svc.add_years(TODAY, -3) - dt.timedelta(days=1)
    inst = await factories.institution(filed_at=filed_at, valid_until=svc.add_years(filed_at, 3))
    committee = await _committee(inst, filed_at=filed_at, valid_until=svc.add_years(filed_at, 3))
    assert (svc.effective_status(inst, TODAY), svc.effective_status(committee, TODAY)) == (
        F.EXPIRED,
        F.EXPIRED,
    )
    assert inst.status == F.FILED  # stored status: the sweep has not run yet


async def test_filing_dated_exactly_three_years_ago_is_still_in_force_r1():
    filed_at = svc.add_years(TODAY, -3)
    inst = await factories.institution(filed_at=filed_at, valid_until=svc.add_years(filed_at, 3))
    assert svc.effective_status(inst, TODAY) == F.FILED


async def test_expire_filings_sweep_expires_and_audits_each_as_system_r1():
    filed_at = svc.add_years(TODAY, -3) - dt.timedelta(days=1)
    old = await factories.institution(filed_at=filed_at, valid_until=svc.add_years(filed_at, 3))
    old_committee = await _committee(old, filed_at=filed_at, valid_until=svc.add_years(filed_at, 3))
    fresh_filed = svc.add_years(TODAY, -3)
    fresh = await factories.institution(
        filed_at=fresh_filed, valid_until=svc.add_years(fresh_filed, 3)
    )
    suspended = await factories.institution(
        status=F.SUSPENDED, filed_at=filed_at, valid_until=svc.add_years(filed_at, 3)
    )

    counts = await svc.expire_filings(TODAY)

    assert counts == {"institutions": 1, "committees": 1}
    statuses = [
        (await m.get(id=o.id)).status
        for m, o in (
            (Institution, old),
            (Committee, old_committee),
            (Institution, fresh),
            (Institution, suspended),
        )
    ]
    assert statuses == [F.EXPIRED, F.EXPIRED, F.FILED, F.SUSPENDED]
    events = await AuditEvent.all().order_by("seq").values_list("actor", "action", "target_id")
    assert events == [
        ("system", "institution.expire", str(old.id)),
        ("system", "committee.expire", str(old_committee.id)),
    ]
    assert await svc.expire_filings(TODAY) == {"institutions": 0, "committees": 0}


# --- R2 guard ---------------------------------------------------------------------

_PAST = TODAY - dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("inst_kw", "comm_kw", "code"),
    [
        ({"status": F.DRAFT}, {}, ErrorCode.INSTITUTION_NOT_FILED),
        ({"status": F.SUBMITTED}, {}, ErrorCode.INSTITUTION_NOT_FILED),
        ({"status": F.REJECTED}, {}, ErrorCode.INSTITUTION_NOT_FILED),
        ({"status": F.EXPIRED}, {}, ErrorCode.INSTITUTION_EXPIRED),
        ({"valid_until": _PAST}, {}, ErrorCode.INSTITUTION_EXPIRED),
        ({"status": F.SUSPENDED}, {}, ErrorCode.INSTITUTION_SUSPENDED),
        ({"status": F.REVOKED}, {}, ErrorCode.INSTITUTION_REVOKED),
        ({}, {"status": F.DRAFT}, ErrorCode.COMMITTEE_NOT_FILED),
        ({}, {"status": F.SUBMITTED}, ErrorCode.COMMITTEE_NOT_FILED),
        ({}, {"status": F.SUSPENDED}, ErrorCode.COMMITTEE_NOT_FILED),
        ({}, {"status": F.REVOKED}, ErrorCode.COMMITTEE_NOT_FILED),
        ({}, {"status": F.EXPIRED}, ErrorCode.COMMITTEE_EXPIRED),
        ({}, {"valid_until": _PAST}, ErrorCode.COMMITTEE_EXPIRED),
    ],
)
async def test_assert_can_operate_refuses_each_cause_with_its_code_r2(inst_kw, comm_kw, code):
    inst = await factories.institution(**inst_kw)
    committee = await _committee(inst, roster=0, **comm_kw)
    with pytest.raises(DomainError) as e:
        svc.assert_can_operate(inst, committee, TODAY)
    assert e.value.code == code


async def test_assert_can_operate_allows_filed_and_in_force_r2():
    inst = await factories.institution()
    committee = await _committee(inst, roster=0)
    assert svc.assert_can_operate(inst, committee, TODAY) is None


async def test_assert_can_operate_refuses_committee_of_another_institution():
    inst, other = await factories.institution(), await factories.institution()
    committee = await _committee(other, roster=0)
    with pytest.raises(DomainError) as e:
        svc.assert_can_operate(inst, committee, TODAY)
    assert (e.value.code, e.value.field) == (ErrorCode.INVALID, "committeeId")


# --- committees (Art. 11, 12) -----------------------------------------------------


@pytest.mark.parametrize("status", [F.SUSPENDED, F.EXPIRED])
async def test_revoke_committee_from_suspended_or_expired(status):
    inst = await factories.institution()
    committee = await _committee(inst, status, roster=0)
    committee = await svc.revoke_committee(await _bureau(), committee.id, reason="撤销")
    assert (committee.status, committee.status_reason) == (F.REVOKED, "撤销")
    assert await _actions(committee) == ["committee.revoke"]


async def _seat_roster(staff: Actor, inst: Institution, committee: Committee, n: int) -> list[int]:
    ids = []
    for i in range(n):
        expert = await factories.expert(institution=inst)
        await svc.set_committee_seat(
            staff, committee.id, expert.id, Seat.CHAIR if i == 0 else Seat.MEMBER
        )
        ids.append(expert.id)
    return ids


async def test_committee_lifecycle_walks_every_allowed_transition():
    """Art. 11–12, R1: draft → submitted → rejected → submitted → filed → expired →
    filed → suspended → filed → revoked."""
    inst = await factories.institution()
    staff, bureau = await _staff(inst), await _bureau()
    committee = await svc.create_committee_application(staff, inst.id, **_committee_fields())
    await _seat_roster(staff, inst, committee, 5)
    committee = await svc.submit_committee(staff, committee.id)
    assert committee.status == F.SUBMITTED
    committee = await svc.reject_committee(bureau, committee.id, reason="量化标准不明确")
    assert (committee.status, committee.status_reason) == (F.REJECTED, "量化标准不明确")
    committee = await svc.update_committee_application(
        staff, committee.id, version=committee.version, quantitative_standard="细化赋分表"
    )
    committee = await svc.submit_committee(staff, committee.id)
    committee = await svc.file_committee(bureau, committee.id)
    assert (committee.status, committee.filed_at, committee.valid_until) == (
        F.FILED,
        TODAY,
        svc.add_years(TODAY, 3),
    )
    await Committee.filter(id=committee.id).update(valid_until=_PAST)
    assert await svc.expire_filings(TODAY) == {"institutions": 0, "committees": 1}
    committee = await svc.file_committee(bureau, committee.id)  # expired → filed
    assert (committee.status, committee.valid_until) == (F.FILED, svc.add_years(TODAY, 3))
    committee = await svc.suspend_committee(bureau, committee.id, reason="暂停整改")
    committee = await svc.file_committee(bureau, committee.id)  # suspended → filed
    committee = await svc.revoke_committee(bureau, committee.id, reason="撤销")
    assert committee.status == F.REVOKED
    actions = [a for a in await _actions(committee) if not a.startswith("committee_seat")]
    assert actions == [
        "committee.create",
        "committee.submit",
        "committee.reject",
        "committee.update",
        "committee.submit",
        "committee.file",
        "committee.expire",
        "committee.file",
        "committee.suspend",
        "committee.file",
        "committee.revoke",
    ]


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (F.DRAFT, "file"),
        (F.DRAFT, "reject"),
        (F.FILED, "submit"),
        (F.FILED, "file"),
        (F.REVOKED, "file"),
        (F.REJECTED, "file"),
        (F.EXPIRED, "suspend"),
    ],
)
async def test_forbidden_committee_transitions_refused_nothing_changed(status, action):
    inst = await factories.institution()
    staff, bureau = await _staff(inst), await _bureau()
    committee = await _committee(inst, status)
    before = await _state(committee)
    with pytest.raises(DomainError) as e:
        if action == "file":
            await svc.file_committee(bureau, committee.id)
        elif action == "reject":
            await svc.reject_committee(bureau, committee.id, reason="x")
        elif action == "submit":
            await svc.submit_committee(staff, committee.id)
        else:
            await svc.suspend_committee(bureau, committee.id, reason="x")
    assert e.value.code == ErrorCode.INVALID_TRANSITION
    assert await _state(committee) == before


@pytest.mark.parametrize(("members", "chairs"), [(4, 1), (6, 1), (5, 0), (3, 1)])
async def test_file_committee_roster_must_be_odd_minimum_with_one_chair(members, chairs):
    """Roster: odd-sized, ≥ Config.committee_min_roster (5), exactly one chair."""
    inst = await factories.institution()
    bureau = await _bureau()
    committee = await _committee(inst, F.SUBMITTED, roster=0)
    for i in range(members):
        expert = await factories.expert(institution=inst)
        await CommitteeSeat.create(
            committee=committee, expert=expert, seat=Seat.CHAIR if i < chairs else Seat.MEMBER
        )
    before = await _state(committee)
    with pytest.raises(DomainError) as e:
        await svc.file_committee(bureau, committee.id)
    assert (e.value.code, e.value.field) == (ErrorCode.INVALID, "seats")
    assert await _state(committee) == before


async def test_file_committee_counts_only_in_pool_experts():
    inst = await factories.institution()
    committee = await _committee(inst, F.SUBMITTED, roster=5)
    exited = await factories.expert(institution=inst, status=ExpertStatus.EXITED)
    await CommitteeSeat.create(committee=committee, expert=exited, seat=Seat.MEMBER)
    committee = await svc.file_committee(await _bureau(), committee.id)
    assert committee.status == F.FILED


@pytest.mark.parametrize(
    ("inst_status", "code"),
    [
        (F.SUSPENDED, ErrorCode.INSTITUTION_SUSPENDED),
        (F.DRAFT, ErrorCode.INSTITUTION_NOT_FILED),
        (F.EXPIRED, ErrorCode.INSTITUTION_EXPIRED),
    ],
)
async def test_file_committee_requires_institution_in_force(inst_status, code):
    inst = await factories.institution(status=inst_status)
    committee = await _committee(inst, F.SUBMITTED)
    before = await _state(committee)
    with pytest.raises(DomainError) as e:
        await svc.file_committee(await _bureau(), committee.id)
    assert e.value.code == code
    assert await _state(committee) == before


async def test_file_committee_validity_beyond_three_years_refused_r1():
    inst = await factories.institution()
    committee = await _committee(inst, F.SUBMITTED)
    before = await _state(committee)
    with pytest.raises(DomainError) as e:
        await svc.file_committee(
            await _bureau(),
            committee.id,
            valid_until=svc.add_years(TODAY, 3) + dt.timedelta(days=1),
        )
    assert (e.value.code, e.value.field) == (ErrorCode.INVALID, "validUntil")
    assert await _state(committee) == before


async def test_create_committee_validation_and_duplicate_name():
    inst = await factories.institution()
    staff = await _staff(inst)
    with pytest.raises(DomainError) as e:
        await svc.create_committee_application(
            staff, inst.id, **_committee_fields(series="不存在的系列")
        )
    assert (e.value.code, e.value.field) == (ErrorCode.INVALID, "series")
    await svc.create_committee_application(staff, inst.id, **_committee_fields(name="甲评委会"))
    with pytest.raises(DomainError) as e:
        await svc.create_committee_application(staff, inst.id, **_committee_fields(name="甲评委会"))
    assert (e.value.code, e.value.field) == (ErrorCode.DUPLICATE, "name")
    assert (await Committee.all().count(), await _audit_count()) == (1, 1)


async def test_set_committee_seat_change_and_remove():
    inst = await factories.institution()
    staff = await _staff(inst)
    committee = await svc.create_committee_application(staff, inst.id, **_committee_fields())
    expert = await factories.expert(institution=inst)
    committee = await svc.set_committee_seat(staff, committee.id, expert.id, Seat.MEMBER)
    committee = await svc.set_committee_seat(staff, committee.id, expert.id, Seat.VICE_CHAIR)
    assert await CommitteeSeat.filter(committee_id=committee.id).values_list(
        "expert_id", "seat"
    ) == [(expert.id, Seat.VICE_CHAIR)]
    committee = await svc.set_committee_seat(staff, committee.id, expert.id, None)
    assert await CommitteeSeat.filter(committee_id=committee.id).count() == 0
    assert committee.version == 4
    assert await AuditEvent.all().order_by("seq").values_list("action", flat=True) == [
        "committee.create",
        "committee_seat.set",
        "committee_seat.set",
        "committee_seat.remove",
    ]


async def test_set_committee_seat_second_chair_refused():
    inst = await factories.institution()
    staff = await _staff(inst)
    committee = await svc.create_committee_application(staff, inst.id, **_committee_fields())
    first, second = (
        await factories.expert(institution=inst),
        await factories.expert(institution=inst),
    )
    committee = await svc.set_committee_seat(staff, committee.id, first.id, Seat.CHAIR)
    before = await _state(committee)
    with pytest.raises(DomainError) as e:
        await svc.set_committee_seat(staff, committee.id, second.id, Seat.CHAIR)
    assert (e.value.code, e.value.field) == (ErrorCode.DUPLICATE, "seat")
    assert await _state(committee) == before
    assert await CommitteeSeat.filter(committee_id=committee.id).count() == 1


@pytest.mark.parametrize(
    "status",
    [ExpertStatus.APPLIED, ExpertStatus.REVIEWED, ExpertStatus.SUSPENDED, ExpertStatus.EXITED],
)
async def test_set_committee_seat_expert_not_in_pool_refused(status):
    inst = await factories.institution()
    staff = await _staff(inst)
    committee = await _committee(inst, F.DRAFT, roster=0)
    expert = await factories.expert(institution=inst, status=status)
    before = await _state(committee)
    with pytest.raises(DomainError) as e:
        await svc.set_committee_seat(staff, committee.id, expert.id, Seat.MEMBER)
    assert (e.value.code, e.value.field) == (ErrorCode.INVALID, "expertId")
    assert await _state(committee) == before


async def test_set_committee_seat_frozen_while_submitted():
    inst = await factories.institution()
    staff = await _staff(inst)
    committee = await _committee(inst, F.SUBMITTED, roster=5)
    expert = await factories.expert(institution=inst)
    before = await _state(committee)
    with pytest.raises(DomainError) as e:
        await svc.set_committee_seat(staff, committee.id, expert.id, Seat.MEMBER)
    assert e.value.code == ErrorCode.INVALID_TRANSITION
    assert await _state(committee) == before


# --- scoping: institution A's staff and B's data ----------------------------------


async def test_staff_of_a_cannot_see_or_change_b_drafts_committees_plans_figures():
    """Out-of-scope objects look absent (NotFound) and nothing changes."""
    a = await factories.institution()
    staff_a = await _staff(a)
    bureau = await _bureau()
    b_draft, _staff_b, b_app = await _draft_application(bureau)
    b = await factories.institution()
    b_committee = await _committee(b, F.DRAFT)
    b_plan = await AnnualPlan.create(
        committee=b_committee,
        year=TODAY.year,
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
    )
    expert = await factories.expert(institution=a)
    before = await _state(b_draft, b_app, b_committee, b_plan)

    denied = [
        lambda: svc.get_institution(staff_a, b_draft.id),
        lambda: svc.get_institution_application(staff_a, b_app.id),
        lambda: svc.update_institution_application(staff_a, b_app.id, version=1, purpose="x"),
        lambda: svc.submit_institution_application(staff_a, b_app.id),
        lambda: svc.create_institution_application(staff_a, b_draft.id, **_content()),
        lambda: svc.get_committee(staff_a, b_committee.id),
        lambda: svc.update_committee_application(staff_a, b_committee.id, version=1, procedure="x"),
        lambda: svc.submit_committee(staff_a, b_committee.id),
        lambda: svc.set_committee_seat(staff_a, b_committee.id, expert.id, Seat.MEMBER),
        lambda: svc.list_committee_seats(staff_a, b_committee.id),
        lambda: svc.save_annual_plan(staff_a, b_committee.id, TODAY.year + 1),
        lambda: svc.get_annual_plan(staff_a, b_plan.id),
        lambda: svc.publish_annual_plan(staff_a, b_plan.id),
        lambda: svc.complaint_figures(staff_a, b.id),
    ]
    for call in denied:
        with pytest.raises(NotFound):
            await call()
    assert await _state(b_draft, b_app, b_committee, b_plan) == before
    assert await svc.list_institution_applications(staff_a) == []
    assert [c.id for c in await svc.list_committees(staff_a)] == []
    assert await svc.list_annual_plans(staff_a) == []
    assert await svc.list_institution_assessments(staff_a, b.id) == []


async def test_staff_of_a_may_see_filed_b_but_not_act_on_it():
    a, b = await factories.institution(), await factories.institution()
    staff_a = await _staff(a)
    assert (await svc.get_institution(staff_a, b.id)).id == b.id
    before = await _state(b)
    with pytest.raises(PermissionDenied):
        await svc.create_committee_application(staff_a, b.id, **_committee_fields())
    with pytest.raises(PermissionDenied):
        await svc.create_institution_application(staff_a, b.id, **_content())
    assert await _state(b) == before
    assert await Committee.all().count() == 0


async def test_public_sees_only_filed_unexpired_institutions_committees_and_published_plans():
    filed = await factories.institution(name="在册机构")
    lapsed = await factories.institution(name="过期未清理", valid_until=_PAST)
    for status in (F.DRAFT, F.SUBMITTED, F.REJECTED, F.EXPIRED, F.SUSPENDED, F.REVOKED):
        other = await factories.institution(status=status, name=f"机构-{status.value}")
        await _committee(other, roster=0, name=f"评委会-{status.value}")
    good = await _committee(filed, roster=0, name="在册评委会")
    await _committee(filed, F.DRAFT, roster=0, name="草稿评委会")
    await _committee(filed, roster=0, name="过期评委会", valid_until=_PAST)
    await _committee(lapsed, roster=0, name="过期机构的评委会")
    published = await AnnualPlan.create(
        committee=good,
        year=TODAY.year,
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
        status=PlanStatus.PUBLISHED,
    )
    await AnnualPlan.create(
        committee=good,
        year=TODAY.year + 1,
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
    )

    assert [i.name for i in await svc.list_institutions(ANONYMOUS)] == ["在册机构"]
    assert [c.name for c in await svc.list_committees(ANONYMOUS)] == ["在册评委会"]
    assert [p.id for p in await svc.list_annual_plans(ANONYMOUS)] == [published.id]
    with pytest.raises(NotFound):
        await svc.get_institution(ANONYMOUS, lapsed.id)
    with pytest.raises(NotFound):
        await svc.list_committee_seats(ANONYMOUS, good.id)
    with pytest.raises(NotFound):
        await svc.complaint_figures(ANONYMOUS, filed.id)


# --- annual plans (Art. 9(二)) ----------------------------------------------------


async def test_annual_plan_draft_then_publish_is_public_and_final():
    inst = await factories.institution()
    staff = await _staff(inst)
    committee = await _committee(inst, roster=0)
    plan = await svc.save_annual_plan(staff, committee.id, TODAY.year, conditions="草案")
    assert (plan.status, plan.series, plan.level) == (PlanStatus.DRAFT, "工程技术", Level.SENIOR)
    assert await svc.list_annual_plans(ANONYMOUS) == []
    plan = await svc.save_annual_plan(
        staff, committee.id, TODAY.year, version=plan.version, **_plan_fields()
    )
    plan = await svc.publish_annual_plan(staff, plan.id)
    assert plan.status == PlanStatus.PUBLISHED
    assert [p.id for p in await svc.list_annual_plans(ANONYMOUS)] == [plan.id]
    before = await _state(plan)
    with pytest.raises(DomainError) as e:
        await svc.save_annual_plan(
            staff, committee.id, TODAY.year, version=plan.version, **_plan_fields()
        )
    assert e.value.code == ErrorCode.INVALID_TRANSITION
    with pytest.raises(DomainError) as e:
        await svc.publish_annual_plan(staff, plan.id)
    assert e.value.code == ErrorCode.INVALID_TRANSITION
    assert await _state(plan) == before
    assert await _actions(plan) == [
        "annual_plan.create",
        "annual_plan.update",
        "annual_plan.publish",
    ]


@pytest.mark.parametrize(
    ("missing", "field"),
    [
        ("conditions", "conditions"),
        ("procedure", "procedure"),
        ("method", "method"),
        ("contact_phone", "contactPhone"),
        ("acceptance_start", "acceptanceStart"),
        ("acceptance_end", "acceptanceEnd"),
        ("material_requirements", "materialRequirements"),
    ],
)
async def test_publish_incomplete_plan_names_missing_field(missing, field):
    inst = await factories.institution()
    staff = await _staff(inst)
    committee = await _committee(inst, roster=0)
    values = _plan_fields()
    values[missing] = None if missing.startswith("acceptance") else ""
    plan = await svc.save_annual_plan(staff, committee.id, TODAY.year, **values)
    before = await _state(plan)
    with pytest.raises(DomainError) as e:
        await svc.publish_annual_plan(staff, plan.id)
    assert (e.value.code, e.value.field) == (ErrorCode.REQUIRED, field)
    assert await _state(plan) == before


async def test_save_annual_plan_refuses_start_after_end_and_bad_phone():
    inst = await factories.institution()
    staff = await _staff(inst)
    committee = await _committee(inst, roster=0)
    values = _plan_fields()
    values["acceptance_end"] = values["acceptance_start"] - dt.timedelta(days=1)
    with pytest.raises(DomainError) as e:
        await svc.save_annual_plan(staff, committee.id, TODAY.year, **values)
    assert (e.value.code, e.value.field) == (ErrorCode.INVALID, "acceptanceEnd")
    with pytest.raises(DomainError) as e:
        await svc.save_annual_plan(staff, committee.id, TODAY.year, contact_phone="电话")
    assert (e.value.code, e.value.field) == (ErrorCode.INVALID_PHONE, "contactPhone")
    assert (await AnnualPlan.all().count(), await _audit_count()) == (0, 0)


async def test_save_annual_plan_existing_draft_needs_seen_version():
    inst = await factories.institution()
    staff = await _staff(inst)
    committee = await _committee(inst, roster=0)
    plan = await svc.save_annual_plan(staff, committee.id, TODAY.year)
    before = await _state(plan)
    for version in (None, plan.version + 1):
        with pytest.raises(DomainError) as e:
            await svc.save_annual_plan(
                staff, committee.id, TODAY.year, version=version, method="覆盖"
            )
        assert e.value.code == ErrorCode.VERSION_CONFLICT
    assert await _state(plan) == before


async def test_publish_plan_of_committee_not_in_force_refused_r2():
    inst = await factories.institution()
    staff = await _staff(inst)
    committee = await _committee(inst, F.DRAFT, roster=0)
    plan = await svc.save_annual_plan(staff, committee.id, TODAY.year, **_plan_fields())
    before = await _state(plan)
    with pytest.raises(DomainError) as e:
        await svc.publish_annual_plan(staff, plan.id)
    assert e.value.code == ErrorCode.COMMITTEE_NOT_FILED
    assert await _state(plan) == before


async def test_bureau_cannot_manage_plans_but_sees_drafts():
    inst = await factories.institution()
    staff, bureau = await _staff(inst), await _bureau()
    committee = await _committee(inst, roster=0)
    plan = await svc.save_annual_plan(staff, committee.id, TODAY.year, **_plan_fields())
    assert (await svc.get_annual_plan(bureau, plan.id)).id == plan.id
    before = await _state(plan)
    with pytest.raises(PermissionDenied):
        await svc.publish_annual_plan(bureau, plan.id)
    assert await _state(plan) == before


# --- assessment (Art. 29–31, R17) -------------------------------------------------


def _beijing(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(
        day.year, day.month, day.day, hour, minute, tzinfo=dt.timezone(dt.timedelta(hours=8))
    )


async def _complaint(
    inst: Institution | None,
    status: ComplaintStatus,
    *,
    due_on: dt.date | None,
    answered_at: dt.datetime | None = None,
) -> Complaint:
    n = next(_n)
    return await Complaint.create(
        kind=ComplaintKind.COMPLAINT,
        channel=ComplaintChannel.WEB,
        target_type=TargetType.SESSION,
        facts="评审程序违规",
        tracking_code=f"T{n:08d}",
        query_password_hash="x",
        institution=inst,
        status=status,
        due_on=due_on,
        answered_at=answered_at,
    )


async def test_complaint_figures_counts_in_sql_with_beijing_due_day():
    inst, other = await factories.institution(), await factories.institution()
    due = TODAY - dt.timedelta(days=10)
    S = ComplaintStatus
    await _complaint(inst, S.ANSWERED, due_on=due, answered_at=_beijing(due, 23, 59))  # on time
    await _complaint(
        inst, S.CLOSED, due_on=due, answered_at=_beijing(due + dt.timedelta(days=1), 0, 1)
    )  # late
    await _complaint(inst, S.ANSWERED, due_on=None, answered_at=_beijing(due, 9, 0))  # on time
    await _complaint(inst, S.IN_HANDLING, due_on=due)  # open, overdue
    await _complaint(inst, S.ACCEPTED, due_on=TODAY)  # open, due today: not overdue
    await _complaint(inst, S.RECEIVED, due_on=None)  # open
    await _complaint(inst, S.NOT_ACCEPTED, due_on=due)  # decided, not open
    await _complaint(other, S.IN_HANDLING, due_on=due)
    await _complaint(None, S.IN_HANDLING, due_on=due)

    figures = await svc.complaint_figures(await _bureau(), inst.id, TODAY)

    assert figures == {"received": 7, "answered_on_time": 2, "overdue": 2, "open": 3}
    assert await svc.complaint_figures(await _staff(inst), inst.id, TODAY) == figures


async def test_failed_assessment_suspends_and_later_pass_lifts_r17():
    inst = await factories.institution()
    committee = await _committee(inst, roster=0)
    bureau = await _bureau()
    await _complaint(inst, ComplaintStatus.IN_HANDLING, due_on=TODAY - dt.timedelta(days=3))

    failed = await svc.record_institution_assessment(
        bureau,
        inst.id,
        method=AssessmentMethod.OBSERVATION,
        assessed_on=TODAY,
        findings="评审记录不完整",
        result=AssessmentResult.FAIL,
    )

    inst = await Institution.get(id=inst.id)
    assert failed.complaint_figures == {
        "received": 1,
        "answered_on_time": 0,
        "overdue": 1,
        "open": 1,
    }
    assert (inst.status, inst.status_reason) == (F.SUSPENDED, "考核不合格:评审记录不完整")
    with pytest.raises(DomainError) as e:
        svc.assert_can_operate(inst, committee, TODAY)
    assert e.value.code == ErrorCode.INSTITUTION_SUSPENDED

    await svc.record_institution_assessment(
        bureau, inst.id, method="acceptance", assessed_on=TODAY, findings="整改到位", result="pass"
    )

    inst = await Institution.get(id=inst.id)
    assert (inst.status, inst.status_reason) == (F.FILED, "")
    assert svc.assert_can_operate(inst, committee, TODAY) is None
    assert await _actions(inst) == ["institution.suspend", "institution.reinstate"]
    assert [
        a.result for a in await svc.list_institution_assessments(await _staff(inst), inst.id)
    ] == [AssessmentResult.PASS, AssessmentResult.FAIL]


async def test_pass_after_validity_end_lifts_suspension_to_expired_r17():
    inst = await factories.institution(
        status=F.SUSPENDED,
        filed_at=svc.add_years(_PAST, -3),
        valid_until=_PAST,
        status_reason="考核不合格:材料造假",
    )
    await svc.record_institution_assessment(
        await _bureau(),
        inst.id,
        method="inquiry",
        assessed_on=TODAY,
        findings="整改到位",
        result="pass",
    )
    assert (await Institution.get(id=inst.id)).status == F.EXPIRED


async def test_pass_does_not_lift_a_bureau_suspension():
    inst = await factories.institution(
        status=F.SUSPENDED,
        filed_at=TODAY,
        valid_until=svc.add_years(TODAY, 3),
        status_reason="违规收费",
    )
    await svc.record_institution_assessment(
        await _bureau(),
        inst.id,
        method="interview",
        assessed_on=TODAY,
        findings="合格",
        result="pass",
    )
    assert (await Institution.get(id=inst.id)).status == F.SUSPENDED


async def test_refiling_refused_while_latest_assessment_failed_r17():
    inst, staff, bureau = await _filed_via_flow()
    await svc.record_institution_assessment(
        bureau,
        inst.id,
        method="document_review",
        assessed_on=TODAY,
        findings="不合格",
        result="fail",
    )
    app = await svc.create_institution_application(staff, inst.id, **_content())
    app = await svc.submit_institution_application(staff, app.id)
    before = await _state(await Institution.get(id=inst.id), app)
    with pytest.raises(DomainError) as e:
        await svc.file_institution(bureau, app.id)
    assert e.value.code == ErrorCode.INSTITUTION_SUSPENDED
    assert await _state(await Institution.get(id=inst.id), app) == before


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"findings": ""}, "findings"),
        ({"method": "gossip"}, "method"),
        ({"result": "maybe"}, "result"),
        ({"assessed_on": TODAY + dt.timedelta(days=1)}, "assessedOn"),
    ],
)
async def test_record_assessment_validation_names_field(kw, field):
    inst = await factories.institution()
    values: dict[str, Any] = {
        "method": "inquiry",
        "assessed_on": TODAY,
        "findings": "合格",
        "result": "fail",
        **kw,
    }
    before = await _state(inst)
    with pytest.raises(DomainError) as e:
        await svc.record_institution_assessment(await _bureau(), inst.id, **values)
    assert e.value.field == field
    assert await _state(inst) == before
    assert await InstitutionAssessment.all().count() == 0


async def test_record_assessment_by_staff_forbidden_nothing_changed():
    inst = await factories.institution()
    before = await _state(inst)
    with pytest.raises(PermissionDenied):
        await svc.record_institution_assessment(
            await _staff(inst),
            inst.id,
            method="inquiry",
            assessed_on=TODAY,
            findings="自评",
            result="pass",
        )
    assert await _state(inst) == before
    assert await InstitutionAssessment.all().count() == 0


# --- expiry notices ---------------------------------------------------------------


async def test_queue_expiry_notices_one_per_filing_within_90_days_deduplicated():
    soon = await factories.institution(valid_until=TODAY + dt.timedelta(days=30))
    edge = await factories.institution(valid_until=TODAY + dt.timedelta(days=90))
    await factories.institution(valid_until=TODAY + dt.timedelta(days=91))
    await factories.institution(valid_until=_PAST)
    await factories.institution(status=F.SUSPENDED, valid_until=TODAY + dt.timedelta(days=5))
    far = await factories.institution()
    committee = await _committee(far, roster=0, valid_until=TODAY + dt.timedelta(days=10))

    assert await svc.queue_expiry_notices(TODAY) == {"institutions": 2, "committees": 1}
    assert await svc.queue_expiry_notices(TODAY) == {"institutions": 0, "committees": 0}
    rows = (
        await Notification.all().order_by("dedupe_key").values_list("institution_id", "dedupe_key")
    )
    assert sorted(rows) == sorted(
        [
            (soon.id, f"expiry:institution:{soon.id}:{soon.valid_until.isoformat()}"),
            (edge.id, f"expiry:institution:{edge.id}:{edge.valid_until.isoformat()}"),
            (far.id, f"expiry:committee:{committee.id}:{committee.valid_until.isoformat()}"),
        ]
    )


async def test_expiring_filings_dashboard_is_scoped():
    a = await factories.institution(valid_until=TODAY + dt.timedelta(days=20))
    b = await factories.institution(valid_until=TODAY + dt.timedelta(days=40))
    b_committee = await _committee(b, roster=0, valid_until=TODAY + dt.timedelta(days=60))

    everything = await svc.expiring_filings(await _bureau(), TODAY)
    own = await svc.expiring_filings(await _staff(a), TODAY)

    assert [(f.kind, f.id, f.days_left) for f in everything] == [
        ("institution", a.id, 20),
        ("institution", b.id, 40),
        ("committee", b_committee.id, 60),
    ]
    assert [(f.kind, f.id) for f in own] == [("institution", a.id)]
    with pytest.raises(Unauthenticated):
        await svc.expiring_filings(ANONYMOUS, TODAY)
    recommender = await _actor(Grant(Role.RECOMMENDER, authority_id=1))
    assert await svc.expiring_filings(recommender, TODAY) == []


async def test_system_actor_sees_everything():
    inst = await factories.institution(status=F.DRAFT)
    assert (await svc.get_institution(SYSTEM, inst.id)).id == inst.id
