"""The expert pool (Chapter 3): entry routes (R3), eligibility at entry (R4), review and
approval (Art. 17), terms (R7), self-service updates (R8), agreement and training
(R19), exit (R6, R17), statistics (R13)."""

import asyncio
import datetime as dt
import itertools
import json
import re
from typing import Any

import pytest

from models import (
    AgreementSignature,
    AuditEvent,
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
    User,
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
    Seat,
    TermStatus,
    UnitType,
    UpdateStatus,
)
from resolvers import expert as svc
from resolvers.actor import SYSTEM, Actor, Grant
from resolvers.common import beijing_today
from resolvers.eligibility import ReasonCode, term_end
from resolvers.errors import DomainError, ErrorCode, NotFound, PermissionDenied
from resolvers.personal import decrypt, keyed_hash
from resolvers.sweep import run_sweep
from tests import factories

EA, E = ExpertApplicationStatus, ExpertStatus
TODAY = beijing_today()
D = dt.date
_n = itertools.count(1)


# --- helpers ------------------------------------------------------------------------


async def _actor(*grants: Grant) -> Actor:
    n = next(_n)
    user = await User.create(username=f"x{n}", display_name=f"用户{n}", password_hash="x")
    return Actor(user_id=user.id, username=user.username, grants=grants)


async def _bureau() -> Actor:
    return await _actor(Grant(Role.BUREAU))


async def _staff(inst: Institution) -> Actor:
    return await _actor(Grant(Role.INSTITUTION, institution_id=inst.id))


async def _recommender(authority: Authority) -> Actor:
    return await _actor(Grant(Role.RECOMMENDER, authority_id=authority.id))


async def _employer(unit: Unit) -> Actor:
    return await _actor(Grant(Role.EMPLOYER, unit_id=unit.id))


async def _self(expert: Expert) -> Actor:
    return await _actor(Grant(Role.EXPERT, expert_id=expert.id))


def _years_ago(years: int, day: dt.date = TODAY) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _person(**over: Any) -> dict[str, Any]:
    n = next(_n)
    birth = over.pop("birth_date", D(1978, 4, 12))
    male = over.pop("male", True)
    values: dict[str, Any] = {
        "name": f"候选人{n}",
        "id_number": factories.make_id_number(birth, n, male=male),
        "phone": f"138{n:08d}",
        "email": f"c{n}@example.cn",
        "title": "教授级高级工程师",
        "title_level": Level.SENIOR,
        "title_obtained_on": D(2012, 6, 1),
        "series": "工程技术",
        "specialty": "电子信息",
        "field": "集成电路",
        "retirement_category": RetirementCategory.MALE_60 if male else RetirementCategory.FEMALE_55,
    }
    values.update(over)
    return values


async def _world(unit_type: UnitType = UnitType.MUNICIPAL) -> dict[str, Any]:
    """A filed institution, a unit and the authority responsible for it (R3)."""
    kind = svc.RESPONSIBLE_KIND[unit_type]
    authority = await factories.authority(kind)
    unit = await factories.unit(unit_type, authority=authority)
    inst = await factories.institution()
    return {
        "authority": authority,
        "unit": unit,
        "inst": inst,
        "recommender": await _recommender(authority),
        "staff": await _staff(inst),
        "bureau": await _bureau(),
    }


async def _recommend(w: dict[str, Any], **over: Any) -> ExpertApplication:
    return await svc.recommend_expert(
        w["recommender"], institution_id=w["inst"].id, unit_id=w["unit"].id, **_person(**over)
    )


async def _pooled(w: dict[str, Any], **over: Any) -> Expert:
    app = await _recommend(w, **over)
    await svc.review_expert_application(w["staff"], app.id, opinion="符合条件", recommend=True)
    await svc.approve_expert(w["bureau"], app.id)
    return await Expert.get(id=app.expert_id)  # type: ignore[attr-defined]


async def _counts() -> tuple[int, ...]:
    """What must not move when a request is refused."""
    return (
        await Expert.all().count(),
        await ExpertApplication.all().count(),
        await ExpertEmployment.all().count(),
        await ExpertTerm.all().count(),
        await ExpertUpdate.all().count(),
        await AuditEvent.all().count(),
    )


async def _row(obj: Any) -> tuple[Any, ...]:
    fresh = await type(obj).get(id=obj.pk)
    return (fresh.version, fresh.status, await AuditEvent.all().count())


async def _actions() -> list[str]:
    return await AuditEvent.all().order_by("seq").values_list("action", flat=True)  # type: ignore[return-value]


# --- entry: recommendation (Art. 15(一), R3, R4) --------------------------------------


async def test_recommend_expert_municipal_by_industry_authority_creates_applied_expert_r3():
    w = await _world(UnitType.MUNICIPAL)
    person = _person()

    app = await svc.recommend_expert(
        w["recommender"], institution_id=w["inst"].id, unit_id=w["unit"].id, **person
    )

    expert = await Expert.get(id=app.expert_id)  # type: ignore[attr-defined]
    assert (app.status, app.route, app.authority_id, app.institution_id) == (  # type: ignore[attr-defined]
        EA.SUBMITTED,
        EntryRoute.RECOMMENDATION,
        w["authority"].id,
        w["inst"].id,
    )
    assert expert.status == E.APPLIED
    assert re.fullmatch(rf"BJ{TODAY.year}\d{{6}}", expert.number)
    assert expert.number == f"BJ{TODAY.year}{expert.id:06d}"
    assert (expert.gender, expert.birth_date) == (Gender.MALE, D(1978, 4, 12))
    assert expert.id_number_hash == keyed_hash(person["id_number"])
    assert person["phone"] not in expert.phone_enc
    assert decrypt(expert.phone_enc) == person["phone"]
    employment = await ExpertEmployment.get(expert_id=expert.id)
    assert (employment.unit_id, employment.start_on, employment.end_on) == (  # type: ignore[attr-defined]
        w["unit"].id,
        TODAY,
        None,
    )
    assert await _actions() == ["expert.create", "expert_application.create"]
    audit_text = json.dumps(await AuditEvent.all().values_list("after", flat=True))
    assert person["id_number"] not in audit_text
    assert person["phone"] not in audit_text


@pytest.mark.parametrize("unit_type", [UnitType.DISTRICT, UnitType.CENTRAL, UnitType.NON_PUBLIC])
async def test_recommend_expert_district_central_non_public_by_district_bureau_r3(unit_type):
    w = await _world(unit_type)

    app = await _recommend(w)

    assert (app.status, app.authority_id) == (EA.SUBMITTED, w["authority"].id)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("unit_type", "other_kind"),
    [
        (UnitType.MUNICIPAL, AuthorityKind.INDUSTRY),  # another industry authority
        (UnitType.MUNICIPAL, AuthorityKind.DISTRICT_BUREAU),
        (UnitType.DISTRICT, AuthorityKind.INDUSTRY),
        (UnitType.NON_PUBLIC, AuthorityKind.DISTRICT_BUREAU),  # another district's bureau
        (UnitType.CENTRAL, AuthorityKind.INDUSTRY),
    ],
)
async def test_recommend_expert_wrong_recommender_refused_nothing_changed_r3(unit_type, other_kind):
    w = await _world(unit_type)
    wrong = await _recommender(await factories.authority(other_kind))
    before = await _counts()

    with pytest.raises(DomainError) as err:
        await svc.recommend_expert(
            wrong, institution_id=w["inst"].id, unit_id=w["unit"].id, **_person()
        )

    assert (err.value.code, err.value.field) == (ErrorCode.WRONG_RECOMMENDER, "unitId")
    label = svc.UNIT_TYPE_LABELS[unit_type]
    assert (
        err.value.message == f"{label}单位“{w['unit'].name}”的专家应由“{w['authority'].name}”推荐"
    )
    assert await _counts() == before


async def test_recommend_expert_unit_registered_under_wrong_kind_of_authority_refused_r3():
    """A municipal unit whose registered authority is a district bureau: nobody may
    recommend until the right industry authority is registered."""
    bureau_of_district = await factories.authority(AuthorityKind.DISTRICT_BUREAU)
    unit = await factories.unit(UnitType.MUNICIPAL, authority=bureau_of_district)
    inst = await factories.institution()
    recommender = await _recommender(bureau_of_district)
    before = await _counts()

    with pytest.raises(DomainError) as err:
        await svc.recommend_expert(
            recommender, institution_id=inst.id, unit_id=unit.id, **_person()
        )

    assert err.value.code == ErrorCode.WRONG_RECOMMENDER
    assert err.value.message == (
        f"市属单位的专家应由行业主管部门推荐,但“{unit.name}”尚未登记负责推荐的行业主管部门"
    )
    assert await _counts() == before


@pytest.mark.parametrize("role", [Role.BUREAU, Role.INSTITUTION, Role.EMPLOYER, Role.EXPERT])
async def test_recommend_expert_by_other_roles_permission_denied_nothing_changed_r3(role):
    w = await _world()
    actor = await _actor(
        Grant(role, institution_id=w["inst"].id, unit_id=w["unit"].id, expert_id=1)
    )
    before = await _counts()

    with pytest.raises(PermissionDenied):
        await _recommend({**w, "recommender": actor})

    assert await _counts() == before


@pytest.mark.parametrize(
    ("over", "code", "field"),
    [
        ({"id_number": "110101197804120011"}, ErrorCode.INVALID_ID_NUMBER, "idNumber"),
        (
            {"retirement_category": RetirementCategory.FEMALE_55},
            ErrorCode.INVALID,
            "retirementCategory",
        ),
        ({"phone": "12345"}, ErrorCode.INVALID_PHONE, "phone"),
        ({"series": "烹饪"}, ErrorCode.INVALID, "series"),
        ({"title_level": "professor"}, ErrorCode.INVALID, "titleLevel"),
        ({"email": "not-an-email"}, ErrorCode.INVALID, "email"),
        ({"name": "  "}, ErrorCode.REQUIRED, "name"),
    ],
)
async def test_recommend_expert_bad_input_refused_nothing_changed(over, code, field):
    w = await _world()
    before = await _counts()

    with pytest.raises(DomainError) as err:
        await _recommend(w, **over)

    assert (err.value.code, err.value.field) == (code, field)
    assert await _counts() == before


async def test_recommend_expert_gender_from_id_must_match_female_category():
    w = await _world()

    app = await _recommend(
        w, male=False, birth_date=D(1980, 2, 3), retirement_category=RetirementCategory.FEMALE_50
    )

    expert = await Expert.get(id=app.expert_id)  # type: ignore[attr-defined]
    assert (expert.gender, expert.retirement_category) == (
        Gender.FEMALE,
        RetirementCategory.FEMALE_50,
    )


async def test_recommend_expert_duplicate_id_number_refused_nothing_changed():
    w = await _world()
    person = _person()
    await svc.recommend_expert(
        w["recommender"], institution_id=w["inst"].id, unit_id=w["unit"].id, **person
    )
    before = await _counts()

    with pytest.raises(DomainError) as err:
        await svc.recommend_expert(
            w["recommender"],
            institution_id=w["inst"].id,
            unit_id=w["unit"].id,
            **{**person, "phone": "13900000000"},
        )

    assert (err.value.code, err.value.field) == (ErrorCode.DUPLICATE, "idNumber")
    assert await _counts() == before


@pytest.mark.parametrize(
    ("over", "codes"),
    [
        ({"title_level": Level.INTERMEDIATE}, [ReasonCode.TITLE_TOO_LOW]),
        (
            {"title_level": Level.ASSOCIATE_SENIOR, "title_obtained_on": _years_ago(1)},
            [ReasonCode.TITLE_NOT_HELD_LONG_ENOUGH],
        ),
        ({"title_obtained_on": TODAY + dt.timedelta(days=10)}, [ReasonCode.TITLE_NOT_YET_OBTAINED]),
        ({"birth_date": D(1955, 1, 1)}, [ReasonCode.PAST_RETIREMENT]),
        (
            {"birth_date": D(1955, 1, 1), "title_level": Level.INTERMEDIATE},
            [ReasonCode.TITLE_TOO_LOW, ReasonCode.PAST_RETIREMENT],
        ),
    ],
)
async def test_recommend_expert_ineligible_refused_with_named_reasons_r4(over, codes):
    w = await _world()
    before = await _counts()

    with pytest.raises(svc.EligibilityError) as err:
        await _recommend(w, **over)

    assert err.value.code == ErrorCode.NOT_ELIGIBLE
    assert err.value.reason_codes == codes
    assert err.value.message == "".join(r.message for r in err.value.reasons)
    assert await _counts() == before


async def test_recommend_expert_associate_senior_held_three_years_is_eligible_r4():
    w = await _world()

    app = await _recommend(w, title_level=Level.ASSOCIATE_SENIOR, title_obtained_on=_years_ago(3))

    assert app.status == EA.SUBMITTED


async def test_urgent_exception_is_recorded_and_needs_bureau_approval_r4():
    w = await _world()
    app = await _recommend(
        w, title_level=Level.INTERMEDIATE, exception_reason="人工智能芯片急需紧缺专业"
    )
    assert (app.exception_reason, app.exception_approved) == ("人工智能芯片急需紧缺专业", False)
    await svc.review_expert_application(w["staff"], app.id, opinion="急需", recommend=True)
    state = await _row(app)

    with pytest.raises(svc.EligibilityError) as err:
        await svc.approve_expert(w["bureau"], app.id)

    assert err.value.reason_codes == [ReasonCode.TITLE_TOO_LOW]
    assert err.value.message.startswith("须批准急需紧缺专业例外(理由:人工智能芯片急需紧缺专业)")
    assert await _row(app) == state

    approved = await svc.approve_expert(w["bureau"], app.id, approve_exception=True)

    assert (approved.status, approved.exception_approved) == (EA.APPROVED, True)
    assert (await Expert.get(id=app.expert_id)).status == E.IN_POOL  # type: ignore[attr-defined]


async def test_urgent_exception_does_not_waive_the_retirement_age_r4():
    w = await _world()
    before = await _counts()

    with pytest.raises(svc.EligibilityError) as err:
        await _recommend(w, birth_date=D(1955, 1, 1), exception_reason="急需紧缺")

    assert err.value.reason_codes == [ReasonCode.PAST_RETIREMENT]
    assert await _counts() == before


async def test_rejected_person_may_be_recommended_again_on_the_same_row():
    w = await _world()
    person = _person()
    first = await svc.recommend_expert(
        w["recommender"], institution_id=w["inst"].id, unit_id=w["unit"].id, **person
    )
    await svc.reject_expert(w["bureau"], first.id, reason="材料不全")

    second = await svc.recommend_expert(
        w["recommender"], institution_id=w["inst"].id, unit_id=w["unit"].id, **person
    )

    assert second.expert_id == first.expert_id  # type: ignore[attr-defined]
    assert (await Expert.get(id=first.expert_id)).status == E.APPLIED  # type: ignore[attr-defined]
    assert await ExpertApplication.filter(expert_id=first.expert_id).count() == 2  # type: ignore[attr-defined]


async def test_recommend_expert_to_unfiled_institution_refused():
    w = await _world()
    draft = await factories.institution(FilingStatus.DRAFT)
    before = await _counts()

    with pytest.raises(DomainError) as err:
        await svc.recommend_expert(
            w["recommender"], institution_id=draft.id, unit_id=w["unit"].id, **_person()
        )

    assert (err.value.code, err.value.field) == (ErrorCode.INSTITUTION_NOT_FILED, "institutionId")

    assert await _counts() == before


# --- entry: invitation (Art. 15(二), R3, R4) ------------------------------------------


async def test_invite_expert_by_bureau_may_be_past_retirement_r4():
    """A man of 64 is past his retirement date (at most 63, R5) and not past the age
    limit (at least 65, R6), whatever today is."""
    w = await _world()
    birth = _years_ago(64)
    person = _person(birth_date=birth)

    app = await svc.invite_expert(
        w["bureau"],
        category=InvitationCategory.ACADEMICIAN,
        institution_id=w["inst"].id,
        unit_id=w["unit"].id,
        **person,
    )

    expert = await Expert.get(id=app.expert_id)  # type: ignore[attr-defined]
    assert (app.route, app.invitation_category, app.authority_id) == (  # type: ignore[attr-defined]
        EntryRoute.INVITATION,
        InvitationCategory.ACADEMICIAN,
        None,
    )
    assert (expert.entry_route, expert.status) == (EntryRoute.INVITATION, E.APPLIED)
    with pytest.raises(svc.EligibilityError) as err:
        await svc.recommend_expert(
            w["recommender"],
            institution_id=w["inst"].id,
            unit_id=w["unit"].id,
            **{**person, "id_number": factories.make_id_number(birth, 999)},
        )
    assert err.value.reason_codes == [ReasonCode.PAST_RETIREMENT]


async def test_invite_expert_past_age_limit_refused_r6():
    w = await _world()
    before = await _counts()

    with pytest.raises(svc.EligibilityError) as err:
        await svc.invite_expert(
            w["bureau"],
            category=InvitationCategory.NATIONAL_AWARD,
            institution_id=w["inst"].id,
            unit_id=w["unit"].id,
            **_person(birth_date=D(1950, 1, 1)),
        )

    assert err.value.reason_codes == [ReasonCode.PAST_AGE_LIMIT]
    assert await _counts() == before


@pytest.mark.parametrize("role", [Role.RECOMMENDER, Role.INSTITUTION])
async def test_invite_expert_by_non_bureau_denied_nothing_changed_r3(role):
    w = await _world()
    actor = await _actor(Grant(role, institution_id=w["inst"].id, authority_id=w["authority"].id))
    before = await _counts()

    with pytest.raises(PermissionDenied):
        await svc.invite_expert(
            actor,
            category=InvitationCategory.ACADEMICIAN,
            institution_id=w["inst"].id,
            unit_id=w["unit"].id,
            **_person(),
        )

    assert await _counts() == before


async def test_invite_urgent_specialty_exception_is_approved_by_the_inviting_bureau():
    w = await _world()

    app = await svc.invite_expert(
        w["bureau"],
        category=InvitationCategory.URGENT_SPECIALTY,
        institution_id=w["inst"].id,
        unit_id=w["unit"].id,
        exception_reason="量子计算急需",
        **_person(title_level=Level.INTERMEDIATE),
    )
    await svc.review_expert_application(w["staff"], app.id, opinion="同意", recommend=True)
    approved = await svc.approve_expert(w["bureau"], app.id)

    assert (approved.status, approved.exception_approved) == (EA.APPROVED, True)


async def test_invite_exception_reason_only_for_urgent_specialty():
    w = await _world()
    with pytest.raises(DomainError) as err:
        await svc.invite_expert(
            w["bureau"],
            category=InvitationCategory.ACADEMICIAN,
            institution_id=w["inst"].id,
            unit_id=w["unit"].id,
            exception_reason="例外",
            **_person(),
        )
    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "exceptionReason")


# --- review and approval (Art. 17) ------------------------------------------------------


async def test_review_then_approve_puts_expert_in_pool_with_first_three_year_term_r7():
    w = await _world()
    app = await _recommend(w)

    reviewed = await svc.review_expert_application(
        w["staff"], app.id, opinion="资格审核通过", recommend=True
    )
    assert (reviewed.status, reviewed.institution_opinion) == (EA.REVIEWED, "资格审核通过")
    assert (await Expert.get(id=app.expert_id)).status == E.REVIEWED  # type: ignore[attr-defined]
    approved = await svc.approve_expert(w["bureau"], app.id)

    expert = await Expert.get(id=app.expert_id)  # type: ignore[attr-defined]
    terms = await ExpertTerm.filter(expert_id=expert.id).values_list(
        "number", "start_on", "end_on", "status"
    )
    assert approved.status == EA.APPROVED
    assert (expert.status, expert.pooled_at) == (E.IN_POOL, TODAY)
    assert terms == [(1, TODAY, term_end(TODAY), TermStatus.ACTIVE)]
    assert (await _actions())[2:] == [
        "expert_application.review",
        "expert.review",
        "expert_application.approve",
        "expert.approve",
        "expert_term.create",
    ]


async def test_review_not_recommended_rejects_application_and_expert():
    w = await _world()
    app = await _recommend(w)

    rejected = await svc.review_expert_application(
        w["staff"], app.id, opinion="业绩不足", recommend=False
    )

    assert (rejected.status, rejected.decision_reason) == (EA.REJECTED, "业绩不足")
    assert (await Expert.get(id=app.expert_id)).status == E.REJECTED  # type: ignore[attr-defined]


async def test_review_by_other_institution_staff_not_found_nothing_changed():
    w = await _world()
    app = await _recommend(w)
    other = await _staff(await factories.institution())
    state = await _row(app)

    with pytest.raises(NotFound):
        await svc.review_expert_application(other, app.id, opinion="x", recommend=True)

    assert await _row(app) == state


@pytest.mark.parametrize("who", ["bureau", "recommender"])
async def test_review_by_bureau_or_recommender_denied_nothing_changed(who):
    w = await _world()
    app = await _recommend(w)
    state = await _row(app)

    with pytest.raises(PermissionDenied):
        await svc.review_expert_application(w[who], app.id, opinion="x", recommend=True)

    assert await _row(app) == state


async def test_approve_before_review_refused_invalid_transition():
    w = await _world()
    app = await _recommend(w)
    state = await _row(app)

    with pytest.raises(DomainError) as err:
        await svc.approve_expert(w["bureau"], app.id)

    assert err.value.code == ErrorCode.INVALID_TRANSITION
    assert await _row(app) == state


@pytest.mark.parametrize("who", ["staff", "recommender"])
async def test_approve_by_non_bureau_denied_nothing_changed(who):
    w = await _world()
    app = await _recommend(w)
    await svc.review_expert_application(w["staff"], app.id, opinion="同意", recommend=True)
    before = await _counts()

    with pytest.raises(PermissionDenied):
        await svc.approve_expert(w[who], app.id)

    assert await _counts() == before
    assert (await ExpertApplication.get(id=app.id)).status == EA.REVIEWED


async def test_approve_reruns_eligibility_on_the_day_of_approval_r4():
    w = await _world()
    app = await _recommend(w)
    await svc.review_expert_application(w["staff"], app.id, opinion="同意", recommend=True)
    # The candidate's data changed since the recommendation (corrected birth date).
    await Expert.filter(id=app.expert_id).update(birth_date=D(1955, 1, 1))  # type: ignore[attr-defined]
    before = await _counts()

    with pytest.raises(svc.EligibilityError) as err:
        await svc.approve_expert(w["bureau"], app.id)

    assert err.value.reason_codes == [ReasonCode.PAST_RETIREMENT]
    assert await _counts() == before


async def test_concurrent_approvals_make_exactly_one_transition_and_one_audit_event():
    w = await _world()
    app = await _recommend(w)
    await svc.review_expert_application(w["staff"], app.id, opinion="同意", recommend=True)
    other_bureau = await _bureau()

    results = await asyncio.gather(
        svc.approve_expert(w["bureau"], app.id),
        svc.approve_expert(other_bureau, app.id),
        return_exceptions=True,
    )

    ok = [r for r in results if isinstance(r, ExpertApplication)]
    failed = [r for r in results if isinstance(r, DomainError)]
    assert (len(ok), len(failed)) == (1, 1)
    assert failed[0].code in (ErrorCode.VERSION_CONFLICT, ErrorCode.INVALID_TRANSITION)
    assert await AuditEvent.filter(action="expert_application.approve").count() == 1
    assert await AuditEvent.filter(action="expert.approve").count() == 1
    assert await ExpertTerm.filter(expert_id=app.expert_id).count() == 1  # type: ignore[attr-defined]
    fresh = await ExpertApplication.get(id=app.id)
    assert (fresh.status, fresh.version) == (EA.APPROVED, app.version + 2)


async def test_reject_expert_by_bureau_with_reason():
    w = await _world()
    app = await _recommend(w)
    await svc.review_expert_application(w["staff"], app.id, opinion="同意", recommend=True)

    rejected = await svc.reject_expert(w["bureau"], app.id, reason="库内该专业专家已足")

    assert (rejected.status, rejected.decision_reason) == (EA.REJECTED, "库内该专业专家已足")
    assert (await Expert.get(id=app.expert_id)).status == E.REJECTED  # type: ignore[attr-defined]


async def test_reject_expert_by_staff_denied_nothing_changed():
    w = await _world()
    app = await _recommend(w)
    state = await _row(app)

    with pytest.raises(PermissionDenied):
        await svc.reject_expert(w["staff"], app.id, reason="x")

    assert await _row(app) == state


async def test_queues_show_each_actor_its_own_applications():
    w = await _world()
    mine = await _recommend(w)
    w2 = await _world()
    theirs = await _recommend(w2)

    assert [a.id for a in await svc.list_expert_applications(w["staff"])] == [mine.id]
    assert [a.id for a in await svc.list_expert_applications(w["recommender"])] == [mine.id]
    assert [a.id for a in await svc.list_expert_applications(w["bureau"])] == [mine.id, theirs.id]


# --- terms (Art. 19, R7) ------------------------------------------------------------

SWEEP_DAY = D(2026, 6, 15)


async def _term(expert: Expert, number: int, start: dt.date, **kw: Any) -> ExpertTerm:
    return await ExpertTerm.create(
        expert=expert, number=number, start_on=start, end_on=term_end(start), **kw
    )


async def _assess(expert: Expert, term: ExpertTerm, on: dt.date, result: AssessmentResult) -> None:
    await ExpertAssessment.create(
        expert=expert,
        term=term,
        institution_id=expert.institution_id,  # type: ignore[attr-defined]
        assessed_on=on,
        result=result,
    )


async def test_renew_terms_renews_exactly_the_terms_with_a_passed_assessment_r7():
    inst = await factories.institution()
    start = D(2023, 9, 1)  # last year 2025-09-01 .. 2026-08-31: SWEEP_DAY is in it
    passed, no_assessment, failed_old, third, third_exc, early = [
        await factories.expert(institution=inst) for _ in range(6)
    ]
    t_passed = await _term(passed, 1, start)
    await _assess(passed, t_passed, D(2026, 3, 1), AssessmentResult.PASS)
    await _term(no_assessment, 1, start)
    # A pass before the last year does not renew.
    t_old = await _term(failed_old, 1, start)
    await _assess(failed_old, t_old, D(2025, 3, 1), AssessmentResult.PASS)
    t_third = await _term(third, 3, start)
    await _assess(third, t_third, D(2026, 3, 1), AssessmentResult.PASS)
    t_exc = await _term(third_exc, 3, start, exception_reason="学科带头人,局批准")
    await _assess(third_exc, t_exc, D(2026, 3, 1), AssessmentResult.PASS)
    t_early = await _term(early, 1, D(2024, 9, 1))  # last year starts 2026-09-01
    await _assess(early, t_early, D(2026, 6, 1), AssessmentResult.PASS)

    counts = await svc.renew_terms(SWEEP_DAY)

    assert counts == {"renewed": 2, "ended": 0, "awaiting_exception": 1}
    rows = (
        await ExpertTerm.all()
        .order_by("expert_id", "number")
        .values_list("expert_id", "number", "start_on", "status")
    )
    assert rows == [
        (passed.id, 1, start, TermStatus.RENEWED),
        (passed.id, 2, D(2026, 9, 1), TermStatus.ACTIVE),
        (no_assessment.id, 1, start, TermStatus.ACTIVE),
        (failed_old.id, 1, start, TermStatus.ACTIVE),
        (third.id, 3, start, TermStatus.ACTIVE),
        (third_exc.id, 3, start, TermStatus.RENEWED),
        (third_exc.id, 4, D(2026, 9, 1), TermStatus.ACTIVE),
        (early.id, 1, D(2024, 9, 1), TermStatus.ACTIVE),
    ]
    assert await svc.renew_terms(SWEEP_DAY) == {"renewed": 0, "ended": 0, "awaiting_exception": 1}


async def test_renew_terms_ends_terms_past_their_end_without_renewal_r7():
    inst = await factories.institution()
    lapsed, limit, current = [await factories.expert(institution=inst) for _ in range(3)]
    await _term(lapsed, 1, D(2023, 6, 1))  # ended 2026-05-31
    t_limit = await _term(limit, 3, D(2023, 6, 1))
    await _assess(limit, t_limit, D(2026, 1, 10), AssessmentResult.PASS)
    await _term(current, 1, D(2025, 1, 1))

    counts = await svc.renew_terms(SWEEP_DAY)

    assert counts == {"renewed": 0, "ended": 2, "awaiting_exception": 0}
    statuses = await ExpertTerm.all().order_by("expert_id").values_list("expert_id", "status")
    assert statuses == [
        (lapsed.id, TermStatus.ENDED),
        (limit.id, TermStatus.ENDED),
        (current.id, TermStatus.ACTIVE),
    ]
    assert await AuditEvent.filter(action="expert_term.end", actor="system").count() == 2


async def test_grant_term_exception_lets_the_fourth_term_follow_r7():
    w = await _world()
    expert = await factories.expert(institution=w["inst"])
    term = await _term(expert, 3, D(2023, 9, 1))
    await _assess(expert, term, D(2026, 2, 1), AssessmentResult.PASS)
    assert await svc.renew_terms(SWEEP_DAY) == {"renewed": 0, "ended": 0, "awaiting_exception": 1}

    granted = await svc.grant_term_exception(w["bureau"], expert.id, reason="学科带头人")
    counts = await svc.renew_terms(SWEEP_DAY)

    assert granted.exception_reason == "学科带头人"
    assert counts == {"renewed": 1, "ended": 0, "awaiting_exception": 0}
    assert await ExpertTerm.filter(expert_id=expert.id, number=4).count() == 1


async def test_grant_term_exception_before_the_third_term_refused():
    w = await _world()
    expert = await factories.expert(institution=w["inst"])
    await _term(expert, 2, D(2024, 1, 1))

    with pytest.raises(DomainError) as err:
        await svc.grant_term_exception(w["bureau"], expert.id, reason="x")

    assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "expertId")


async def test_grant_term_exception_by_institution_denied_nothing_changed():
    w = await _world()
    expert = await factories.expert(institution=w["inst"])
    term = await _term(expert, 3, D(2024, 1, 1))
    audit_before = await AuditEvent.all().count()

    with pytest.raises(PermissionDenied):
        await svc.grant_term_exception(w["staff"], expert.id, reason="x")

    assert (await ExpertTerm.get(id=term.id)).exception_reason == ""
    assert await AuditEvent.all().count() == audit_before


async def test_current_term_covers_the_running_renewed_term():
    expert = await factories.expert()
    first = await _term(expert, 1, D(2023, 9, 1), status=TermStatus.RENEWED)
    second = await _term(expert, 2, D(2026, 9, 1))

    assert (await svc.current_term(expert.id, SWEEP_DAY)).id == first.id  # type: ignore[union-attr]
    assert (await svc.current_term(expert.id, D(2026, 9, 1))).id == second.id  # type: ignore[union-attr]
    assert await svc.current_term(expert.id, D(2023, 8, 31)) is None


# --- self-service updates (Art. 19, R8) ---------------------------------------------


async def _update_world() -> dict[str, Any]:
    w = await _world()
    expert = await factories.expert(institution=w["inst"], unit=w["unit"], phone="13911112222")
    await ExpertEmployment.create(expert=expert, unit=w["unit"], start_on=D(2020, 1, 1))
    return {
        **w,
        "expert": expert,
        "self": await _self(expert),
        "employer": await _employer(w["unit"]),
    }


async def test_requested_update_is_not_current_data_until_verified_r8():
    u = await _update_world()
    expert = u["expert"]

    update = await svc.request_expert_update(
        u["self"], expert.id, changes={"phone": "13700001111", "title": "研究员", "field": "EDA"}
    )

    fresh = await Expert.get(id=expert.id)
    assert (fresh.version, fresh.title, fresh.field, decrypt(fresh.phone_enc)) == (
        expert.version,
        expert.title,
        expert.field,
        "13911112222",
    )
    assert update.status == UpdateStatus.PENDING
    stored = json.dumps((await ExpertUpdate.get(id=update.id)).changes)
    assert "13700001111" not in stored
    assert svc.display_changes(update.changes) == {
        "phone": "137****1111",
        "title": "研究员",
        "field": "EDA",
    }
    audit_text = json.dumps(await AuditEvent.all().values_list("after", flat=True))
    assert "13700001111" not in audit_text
    assert update.changes["phone_enc"] not in audit_text
    assert [p.awaiting for p in await svc.list_pending_changes(u["self"], expert.id)] == [
        ["employer", "institution"]
    ]


@pytest.mark.parametrize("order", [("employer", "staff"), ("staff", "employer")])
async def test_update_applies_only_after_both_employer_and_institution_verify_r8(order):
    u = await _update_world()
    expert = u["expert"]
    update = await svc.request_expert_update(
        u["self"], expert.id, changes={"phone": "13700001111", "title_level": "associate_senior"}
    )

    await svc.verify_expert_update(u[order[0]], update.id, approve=True)

    half = await Expert.get(id=expert.id)
    assert (half.version, half.title_level, decrypt(half.phone_enc)) == (
        expert.version,
        Level.SENIOR,
        "13911112222",
    )
    waiting = "institution" if order[0] == "employer" else "employer"
    assert [p.awaiting for p in await svc.list_pending_changes(u["self"], expert.id)] == [[waiting]]

    done = await svc.verify_expert_update(u[order[1]], update.id, approve=True)

    fresh = await Expert.get(id=expert.id)
    assert done.status == UpdateStatus.APPLIED
    assert (fresh.version, fresh.title_level, decrypt(fresh.phone_enc), fresh.phone_masked) == (
        expert.version + 1,
        Level.ASSOCIATE_SENIOR,
        "13700001111",
        "137****1111",
    )
    assert fresh.phone_hash == keyed_hash("13700001111")
    change = await AuditEvent.get(action="expert.update")
    assert (change.before["title_level"], change.after["title_level"]) == (  # type: ignore[index]
        "senior",
        "associate_senior",
    )
    assert (change.before["phone_masked"], change.after["phone_masked"]) == (  # type: ignore[index]
        "139****2222",
        "137****1111",
    )
    assert await svc.list_pending_changes(u["self"], expert.id) == []


async def test_update_rejected_by_either_side_ends_it_nothing_applied_r8():
    u = await _update_world()
    expert = u["expert"]
    update = await svc.request_expert_update(u["self"], expert.id, changes={"title": "研究员"})
    await svc.verify_expert_update(u["employer"], update.id, approve=True)

    rejected = await svc.verify_expert_update(
        u["staff"], update.id, approve=False, reason="职称证书未见"
    )

    assert (rejected.status, rejected.rejection_reason) == (UpdateStatus.REJECTED, "职称证书未见")
    assert (await Expert.get(id=expert.id)).title == expert.title
    with pytest.raises(DomainError) as err:
        await svc.verify_expert_update(u["staff"], update.id, approve=True)
    assert err.value.code == ErrorCode.INVALID_TRANSITION


async def test_unit_change_moves_employment_when_applied_r8():
    u = await _update_world()
    expert = u["expert"]
    new_unit = await factories.unit(UnitType.NON_PUBLIC)
    update = await svc.request_expert_update(u["self"], expert.id, changes={"unit_id": new_unit.id})

    await svc.verify_expert_update(u["employer"], update.id, approve=True)
    await svc.verify_expert_update(u["staff"], update.id, approve=True)

    assert (await Expert.get(id=expert.id)).unit_id == new_unit.id  # type: ignore[attr-defined]
    periods = (
        await ExpertEmployment.filter(expert_id=expert.id)
        .order_by("id")
        .values_list("unit_id", "start_on", "end_on")
    )
    assert periods == [
        (u["unit"].id, D(2020, 1, 1), TODAY - dt.timedelta(days=1)),
        (new_unit.id, TODAY, None),
    ]


async def test_verify_update_by_other_employer_not_found_by_expert_denied_nothing_changed_r8():
    u = await _update_world()
    update = await svc.request_expert_update(u["self"], u["expert"].id, changes={"title": "研究员"})
    other_employer = await _employer(await factories.unit())
    state = await _row(update)

    with pytest.raises(NotFound):
        await svc.verify_expert_update(other_employer, update.id, approve=True)
    with pytest.raises(PermissionDenied):
        await svc.verify_expert_update(u["self"], update.id, approve=True)
    with pytest.raises(PermissionDenied):
        await svc.verify_expert_update(u["bureau"], update.id, approve=True)

    assert await _row(update) == state


async def test_one_person_with_both_roles_verifies_only_one_side_r8():
    u = await _update_world()
    both = await _actor(
        Grant(Role.EMPLOYER, unit_id=u["unit"].id),
        Grant(Role.INSTITUTION, institution_id=u["inst"].id),
    )
    update = await svc.request_expert_update(u["self"], u["expert"].id, changes={"title": "研究员"})

    assert [x.id for x in await svc.pending_updates_for(both)] == [update.id]
    first = await svc.verify_expert_update(both, update.id, approve=True)
    assert await svc.pending_updates_for(both) == []
    assert (first.employer_verified_by_id, first.institution_verified_by_id) == (  # type: ignore[attr-defined]
        both.user_id,
        None,
    )
    with pytest.raises(DomainError) as err:
        await svc.verify_expert_update(both, update.id, approve=True)

    assert err.value.code == ErrorCode.INVALID_TRANSITION
    assert (await Expert.get(id=u["expert"].id)).title == u["expert"].title


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"name": "改名"}, ErrorCode.INVALID, "changes.name"),
        ({"phone": "123"}, ErrorCode.INVALID_PHONE, "phone"),
        ({"phone": "13911112222"}, ErrorCode.INVALID, "changes"),  # same as now
        ({"unit_id": 999999}, ErrorCode.INVALID, "unitId"),
        ({"title_obtained_on": "2999-01-01"}, ErrorCode.INVALID, "titleObtainedOn"),
        ({}, ErrorCode.REQUIRED, "changes"),
    ],
)
async def test_request_update_bad_changes_refused_nothing_changed(changes, code, field):
    u = await _update_world()
    before = await _counts()

    with pytest.raises(DomainError) as err:
        await svc.request_expert_update(u["self"], u["expert"].id, changes=changes)

    assert (err.value.code, err.value.field) == (code, field)
    assert await _counts() == before


async def test_request_update_for_another_expert_not_found_nothing_changed():
    u = await _update_world()
    other = await _self(await factories.expert())
    before = await _counts()

    with pytest.raises(NotFound):
        await svc.request_expert_update(other, u["expert"].id, changes={"title": "研究员"})
    with pytest.raises(PermissionDenied):
        await svc.request_expert_update(u["staff"], u["expert"].id, changes={"title": "研究员"})

    assert await _counts() == before


async def test_second_pending_update_refused_until_withdrawn():
    u = await _update_world()
    first = await svc.request_expert_update(u["self"], u["expert"].id, changes={"title": "研究员"})

    with pytest.raises(DomainError) as err:
        await svc.request_expert_update(u["self"], u["expert"].id, changes={"field": "EDA"})
    assert err.value.code == ErrorCode.DUPLICATE
    await svc.withdraw_expert_update(u["self"], first.id)
    second = await svc.request_expert_update(u["self"], u["expert"].id, changes={"field": "EDA"})

    assert second.status == UpdateStatus.PENDING


async def test_pending_updates_for_lists_what_each_verifier_still_has_to_check_r8():
    u = await _update_world()
    update = await svc.request_expert_update(u["self"], u["expert"].id, changes={"title": "研究员"})
    other_employer = await _employer(await factories.unit())

    assert [x.id for x in await svc.pending_updates_for(u["employer"])] == [update.id]
    assert [x.id for x in await svc.pending_updates_for(u["staff"])] == [update.id]
    assert await svc.pending_updates_for(other_employer) == []
    assert await svc.pending_updates_for(u["bureau"]) == []
    await svc.verify_expert_update(u["employer"], update.id, approve=True)

    assert await svc.pending_updates_for(u["employer"]) == []
    assert [x.id for x in await svc.pending_updates_for(u["staff"])] == [update.id]


# --- confidentiality agreement and training (R19) ----------------------------------


async def test_sign_agreement_records_time_and_hash_and_is_idempotent_r19():
    u = await _update_world()
    text = await svc.publish_agreement_text(u["bureau"], version="2026.1", content="保密条款……")

    first = await svc.sign_confidentiality_agreement(u["self"], u["expert"].id, version="2026.1")
    again = await svc.sign_confidentiality_agreement(u["self"], u["expert"].id, version="2026.1")

    assert first.id == again.id
    assert first.content_hash == text.content_hash
    assert len(text.content_hash) == 64
    assert await AuditEvent.filter(action="agreement_signature.sign").count() == 1
    assert await svc.has_signed_current_agreement(u["expert"].id) is True
    await svc.publish_agreement_text(u["bureau"], version="2027.1", content="新版保密条款")
    assert await svc.has_signed_current_agreement(u["expert"].id) is False


async def test_sign_agreement_for_another_expert_not_found_nothing_changed_r19():
    u = await _update_world()
    await svc.publish_agreement_text(u["bureau"], version="v1", content="保密")
    other = await _self(await factories.expert())
    before = await AuditEvent.all().count()

    with pytest.raises(NotFound):
        await svc.sign_confidentiality_agreement(other, u["expert"].id, version="v1")
    with pytest.raises(PermissionDenied):
        await svc.sign_confidentiality_agreement(u["staff"], u["expert"].id, version="v1")

    assert await AgreementSignature.all().count() == 0
    assert await AuditEvent.all().count() == before


async def test_publish_agreement_by_institution_denied_and_duplicate_version_refused():
    u = await _update_world()
    with pytest.raises(PermissionDenied):
        await svc.publish_agreement_text(u["staff"], version="v1", content="保密")
    await svc.publish_agreement_text(u["bureau"], version="v1", content="保密")
    with pytest.raises(DomainError) as err:
        await svc.publish_agreement_text(u["bureau"], version="v1", content="其他")
    assert (err.value.code, err.value.field) == (ErrorCode.DUPLICATE, "version")


async def test_record_training_per_year_and_per_session_r19():
    u = await _update_world()
    committee = await Committee.create(
        institution=u["inst"], name="评委会T", series="工程技术", specialty="电子信息",
        level=Level.SENIOR,
    )  # fmt: skip
    start = dt.datetime(TODAY.year, 1, 5, 9, tzinfo=dt.UTC)
    session = await EvaluationSession.create(
        committee=committee, institution=u["inst"], year=TODAY.year, starts_at=start,
        ends_at=start + dt.timedelta(hours=8), place="会议室", panel_size=5,
    )  # fmt: skip
    expert = u["expert"]

    assert await svc.is_trained(expert.id, session.id, TODAY.year) is False
    await svc.record_training(
        u["staff"], expert.id, session_id=session.id, trained_on=TODAY, topic="评审纪律"
    )
    assert await svc.is_trained(expert.id, session.id, None) is True
    assert await svc.is_trained(expert.id, None, TODAY.year) is False
    await svc.record_training(
        u["staff"], expert.id, year=TODAY.year, trained_on=TODAY, topic="政策"
    )
    assert await svc.is_trained(expert.id, None, TODAY.year) is True
    assert await TrainingRecord.filter(expert_id=expert.id).count() == 2


async def test_record_training_needs_exactly_one_of_session_and_year():
    u = await _update_world()
    for kw in ({}, {"session_id": 1, "year": 2026}):
        with pytest.raises(DomainError) as err:
            await svc.record_training(u["staff"], u["expert"].id, trained_on=TODAY, topic="x", **kw)
        assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "year")


async def test_record_training_by_other_institution_not_found_nothing_changed():
    u = await _update_world()
    other = await _staff(await factories.institution())
    before = await AuditEvent.all().count()

    with pytest.raises(NotFound):
        await svc.record_training(other, u["expert"].id, year=2026, trained_on=TODAY, topic="x")
    with pytest.raises(PermissionDenied):
        await svc.record_training(
            u["bureau"], u["expert"].id, year=2026, trained_on=TODAY, topic="x"
        )

    assert await TrainingRecord.all().count() == 0
    assert await AuditEvent.all().count() == before


# --- exit (Art. 22, 32, R6, R17) ----------------------------------------------------

AGE_DAY = D(2020, 3, 11)


async def test_exit_over_age_exits_exactly_the_experts_past_the_limit_r6():
    """Pre-reform dates: a man born 1955-03-10 retired 2015-03-10, limit 2020-03-10."""
    past = await factories.expert(birth_date=D(1955, 3, 10))  # limit 2020-03-10 < day
    on_limit = await factories.expert(birth_date=D(1955, 3, 11))  # limit == day: stays
    woman_50 = await factories.expert(
        gender=Gender.FEMALE,
        birth_date=D(1965, 1, 1),
        retirement_category=RetirementCategory.FEMALE_50,
    )  # retired 2015-01-01, limit 2020-01-01
    woman_55 = await factories.expert(gender=Gender.FEMALE, birth_date=D(1962, 1, 1))
    suspended = await factories.expert(birth_date=D(1950, 1, 1), status=E.SUSPENDED)
    applied = await factories.expert(birth_date=D(1950, 1, 1), status=E.APPLIED)
    exited = await factories.expert(birth_date=D(1950, 1, 1), status=E.EXITED)
    young = await factories.expert(birth_date=D(1980, 1, 1))
    term = await _term(past, 1, D(2019, 1, 1))

    counts = await svc.exit_over_age(AGE_DAY)

    assert counts == {"exited": 3}
    statuses = {e.id: (e.status, e.exit_reason) for e in await Expert.all()}
    assert statuses == {
        past.id: (E.EXITED, ExitReason.AGE_LIMIT),
        on_limit.id: (E.IN_POOL, None),
        woman_50.id: (E.EXITED, ExitReason.AGE_LIMIT),
        woman_55.id: (E.IN_POOL, None),
        suspended.id: (E.EXITED, ExitReason.AGE_LIMIT),
        applied.id: (E.APPLIED, None),
        exited.id: (E.EXITED, None),
        young.id: (E.IN_POOL, None),
    }
    exits = (
        await AuditEvent.filter(action="expert.exit")
        .order_by("seq")
        .values_list("actor", "target_id")
    )
    assert sorted(exits) == sorted(
        [("system", str(past.id)), ("system", str(woman_50.id)), ("system", str(suspended.id))]
    )
    assert (await ExpertTerm.get(id=term.id)).status == TermStatus.ENDED
    assert await svc.exit_over_age(AGE_DAY) == {"exited": 0}


async def test_sweep_runs_term_renewal_and_age_exit():
    await factories.expert(birth_date=D(1950, 1, 1))

    report = await run_sweep(today=AGE_DAY)

    assert report.results["专家聘期"] == {"renewed": 0, "ended": 0, "awaiting_exception": 0}
    assert report.results["超龄退出"] == {"exited": 1}


async def test_exit_expert_by_institution_keeps_history_and_cannot_be_drawn_r6():
    w = await _world()
    expert = await _pooled(w)
    committee = await Committee.create(
        institution=w["inst"], name="评委会X", series="工程技术", specialty="电子信息",
        level=Level.SENIOR,
    )  # fmt: skip
    await CommitteeSeat.create(committee=committee, expert=expert, seat=Seat.MEMBER)

    exited = await svc.exit_expert(
        w["staff"], expert.id, reason=ExitReason.NOT_PROFESSIONAL, note="转任行政管理岗位"
    )

    assert (exited.status, exited.exit_reason, exited.exit_note) == (
        E.EXITED,
        ExitReason.NOT_PROFESSIONAL,
        "转任行政管理岗位",
    )
    assert exited.exited_at is not None
    assert await CommitteeSeat.filter(expert_id=expert.id).count() == 1
    assert await ExpertTerm.filter(expert_id=expert.id).values_list("status", flat=True) == [
        TermStatus.ENDED
    ]
    assert await svc.current_term(expert.id, TODAY) is None
    with pytest.raises(DomainError) as err:
        await svc.exit_expert(w["bureau"], expert.id, reason=ExitReason.OTHER, note="再次")
    assert err.value.code == ErrorCode.INVALID_TRANSITION


@pytest.mark.parametrize("who", ["employer", "self", "recommender"])
async def test_exit_expert_by_others_refused_nothing_changed(who):
    u = await _update_world()
    state = await _row(u["expert"])

    with pytest.raises((PermissionDenied, NotFound)):
        await svc.exit_expert(u[who], u["expert"].id, reason=ExitReason.HEALTH, note="x")

    assert await _row(u["expert"]) == state


async def test_exit_for_age_or_failed_assessment_must_be_true():
    u = await _update_world()
    state = await _row(u["expert"])

    for reason in (ExitReason.AGE_LIMIT, ExitReason.FAILED_ASSESSMENT):
        with pytest.raises(DomainError) as err:
            await svc.exit_expert(u["staff"], u["expert"].id, reason=reason, note="x")
        assert (err.value.code, err.value.field) == (ErrorCode.INVALID, "reason")

    assert await _row(u["expert"]) == state


async def test_failed_assessment_exits_the_expert_r17():
    w = await _world()
    expert = await _pooled(w)
    term = await ExpertTerm.get(expert_id=expert.id)

    row = await svc.record_expert_assessment(
        w["staff"], expert.id, term_id=term.id, quality="评审意见敷衍", duties="缺席两次",
        supervision="有违纪记录", result=AssessmentResult.FAIL,
    )  # fmt: skip

    fresh = await Expert.get(id=expert.id)
    assert (row.result, row.assessed_on, row.institution_id) == (  # type: ignore[attr-defined]
        AssessmentResult.FAIL,
        TODAY,
        w["inst"].id,
    )
    assert (fresh.status, fresh.exit_reason) == (E.EXITED, ExitReason.FAILED_ASSESSMENT)
    assert (await ExpertTerm.get(id=term.id)).status == TermStatus.ENDED


async def test_passed_assessment_keeps_the_expert_and_one_per_term():
    w = await _world()
    expert = await _pooled(w)
    term = await ExpertTerm.get(expert_id=expert.id)
    kw: dict[str, Any] = {
        "term_id": term.id, "quality": "好", "duties": "全勤", "supervision": "无问题",
        "result": AssessmentResult.PASS,
    }  # fmt: skip

    await svc.record_expert_assessment(w["staff"], expert.id, **kw)

    assert (await Expert.get(id=expert.id)).status == E.IN_POOL
    with pytest.raises(DomainError) as err:
        await svc.record_expert_assessment(w["staff"], expert.id, **kw)
    assert (err.value.code, err.value.field) == (ErrorCode.DUPLICATE, "termId")


async def test_assessment_by_other_institution_or_bureau_refused_nothing_changed():
    w = await _world()
    expert = await _pooled(w)
    term = await ExpertTerm.get(expert_id=expert.id)
    other = await _staff(await factories.institution())
    before = await _counts()
    kw: dict[str, Any] = {
        "term_id": term.id, "quality": "q", "duties": "d", "supervision": "s",
        "result": AssessmentResult.FAIL,
    }  # fmt: skip

    with pytest.raises(NotFound):
        await svc.record_expert_assessment(other, expert.id, **kw)
    with pytest.raises(PermissionDenied):
        await svc.record_expert_assessment(w["bureau"], expert.id, **kw)

    assert await _counts() == before
    assert await ExpertAssessment.all().count() == 0


# --- statistics (Art. 14, R13) ------------------------------------------------------

STATS_DAY = D(2026, 6, 15)


async def test_pool_statistics_counts_and_youth_share_r13():
    inst = await factories.institution()
    municipal = await factories.unit(UnitType.MUNICIPAL)
    private = await factories.unit(UnitType.NON_PUBLIC)
    young = D(1982, 6, 16)  # 43 on STATS_DAY
    exactly_45 = D(1981, 6, 15)  # 45 on STATS_DAY: not under 45
    a = await factories.expert(institution=inst, unit=municipal, birth_date=young)
    b = await factories.expert(
        institution=inst, unit=private, birth_date=exactly_45,
        title_level=Level.ASSOCIATE_SENIOR, series="经济", specialty="金融",
    )  # fmt: skip
    c = await factories.expert(institution=inst, unit=private, birth_date=D(1970, 1, 1))
    await factories.expert(institution=inst, status=E.EXITED, birth_date=young)
    committee = await Committee.create(
        institution=inst, name="评委会S", series="工程技术", specialty="电子信息",
        level=Level.SENIOR,
    )  # fmt: skip
    for e in (a, b, c):
        await CommitteeSeat.create(committee=committee, expert=e)
    other_committee = await Committee.create(
        institution=inst, name="评委会S2", series="经济", specialty="金融",
        level=Level.SENIOR,
    )  # fmt: skip
    await CommitteeSeat.create(committee=other_committee, expert=a)
    bureau = await _bureau()

    stats = await svc.pool_statistics(bureau, STATS_DAY)

    assert stats.total == 3
    assert stats.by_series == {"工程技术": 2, "经济": 1}
    assert stats.by_specialty == {"电子信息": 2, "金融": 1}
    assert stats.by_level == {"associate_senior": 1, "senior": 2}
    assert stats.by_unit_type == {"municipal": 1, "non_public": 2}
    assert stats.youth == svc.YouthShare(total=3, under_45=1, percent=33.3, below_floor=False)
    assert stats.youth_by_committee == {
        committee.id: svc.YouthShare(3, 1, 33.3, False),
        other_committee.id: svc.YouthShare(1, 1, 100.0, False),
    }
    assert (stats.non_public, stats.non_public_percent) == (2, 66.7)

    one = await svc.pool_statistics(bureau, D(2027, 6, 16), committee_id=committee.id)
    # A year later the young expert is 45 too: 0 of 3 under 45, below the 20% floor.
    assert one.youth == svc.YouthShare(3, 0, 0.0, True)
    assert one.youth_by_committee == {committee.id: svc.YouthShare(3, 0, 0.0, True)}


async def test_pool_statistics_institution_sees_only_its_own_experts_r13():
    inst, other = await factories.institution(), await factories.institution()
    await factories.expert(institution=inst)
    await factories.expert(institution=other)
    await factories.expert(institution=other)

    stats = await svc.pool_statistics(await _staff(inst), STATS_DAY)

    assert stats.total == 1
    with pytest.raises(PermissionDenied):
        await svc.pool_statistics(await _employer(await factories.unit()), STATS_DAY)


async def test_system_actor_cannot_recommend_without_a_recommender_grant():
    w = await _world()
    with pytest.raises(DomainError) as err:
        await _recommend({**w, "recommender": SYSTEM})
    assert err.value.code == ErrorCode.WRONG_RECOMMENDER


# --- additions or adjustments (Art. 17) -----------------------------------------------


async def test_institution_requests_changes_then_recommender_amends_and_resubmits_art17():
    w = await _world()
    app = await _recommend(w)

    sent = await svc.request_expert_application_changes(
        w["staff"], app.id, reason="请补充近三年代表性业绩"
    )
    assert (sent.status, sent.change_request) == (EA.NEEDS_CHANGES, "请补充近三年代表性业绩")
    again = await svc.resubmit_expert_application(
        w["recommender"],
        app.id,
        version=await _seen(app),
        response="已补充",
        specialty="微电子",
        phone="13900001111",
    )

    expert = await Expert.get(id=app.expert_id)  # type: ignore[attr-defined]
    assert (again.status, again.change_request) == (EA.SUBMITTED, "")
    assert (expert.specialty, expert.phone_masked, expert.status) == (
        "微电子",
        "139****1111",
        E.APPLIED,
    )
    [entry] = again.change_history
    assert (entry["side"], entry["reason"], entry["response"], entry["changedFields"]) == (
        "institution",
        "请补充近三年代表性业绩",
        "已补充",
        ["phone", "specialty"],
    )
    assert entry["resubmittedAt"] is not None
    assert (await _actions())[2:] == [
        "expert_application.request_changes",
        "expert.amend",
        "expert_application.resubmit",
    ]
    reviewed = await svc.review_expert_application(
        w["staff"], app.id, opinion="补充后符合条件", recommend=True
    )
    assert reviewed.status == EA.REVIEWED


async def test_bureau_requests_changes_after_review_expert_goes_back_to_applied_art17():
    w = await _world()
    app = await _recommend(w)
    await svc.review_expert_application(w["staff"], app.id, opinion="同意", recommend=True)

    sent = await svc.request_expert_application_changes(
        w["bureau"], app.id, reason="职称证书日期有误"
    )

    assert sent.status == EA.NEEDS_CHANGES
    assert sent.change_history[0]["side"] == "bureau"
    assert (await Expert.get(id=app.expert_id)).status == E.APPLIED  # type: ignore[attr-defined]
    assert (await _actions())[-2:] == ["expert_application.request_changes", "expert.send_back"]


async def test_history_keeps_every_round_of_changes_art17():
    w = await _world()
    app = await _recommend(w)
    await svc.request_expert_application_changes(w["staff"], app.id, reason="第一次")
    await svc.resubmit_expert_application(
        w["recommender"], app.id, version=await _seen(app), response="一"
    )
    await svc.request_expert_application_changes(w["staff"], app.id, reason="第二次")
    await svc.resubmit_expert_application(
        w["recommender"], app.id, version=await _seen(app), title="研究员"
    )

    fresh = await ExpertApplication.get(id=app.id)
    assert [(e["reason"], e["response"], e["changedFields"]) for e in fresh.change_history] == [
        ("第一次", "一", []),
        ("第二次", "", ["title"]),
    ]


async def test_request_changes_without_reason_refused_nothing_changed():
    w = await _world()
    app = await _recommend(w)
    state = await _row(app)

    with pytest.raises(DomainError) as err:
        await svc.request_expert_application_changes(w["staff"], app.id, reason="  ")

    assert (err.value.code, err.value.field) == (ErrorCode.REQUIRED, "reason")
    assert await _row(app) == state


async def test_request_changes_by_other_institution_not_found_nothing_changed():
    w = await _world()
    app = await _recommend(w)
    other = await _staff(await factories.institution())
    state = await _row(app)

    with pytest.raises(NotFound):
        await svc.request_expert_application_changes(other, app.id, reason="x")

    assert await _row(app) == state


@pytest.mark.parametrize("who", ["recommender"])
async def test_request_changes_by_recommender_denied_nothing_changed(who):
    w = await _world()
    app = await _recommend(w)
    state = await _row(app)

    with pytest.raises(PermissionDenied):
        await svc.request_expert_application_changes(w[who], app.id, reason="x")

    assert await _row(app) == state


async def test_request_changes_by_institution_after_its_review_denied_nothing_changed():
    w = await _world()
    app = await _recommend(w)
    await svc.review_expert_application(w["staff"], app.id, opinion="同意", recommend=True)
    state = await _row(app)

    with pytest.raises(PermissionDenied):
        await svc.request_expert_application_changes(w["staff"], app.id, reason="x")

    assert await _row(app) == state


async def test_request_changes_on_decided_application_refused_invalid_transition():
    w = await _world()
    app = await _recommend(w)
    await svc.reject_expert(w["bureau"], app.id, reason="不予入库")
    state = await _row(app)

    with pytest.raises(DomainError) as err:
        await svc.request_expert_application_changes(w["bureau"], app.id, reason="x")

    assert err.value.code == ErrorCode.INVALID_TRANSITION
    assert await _row(app) == state


async def _seen(app: ExpertApplication) -> int:
    """The version the submitter's client saw: the application as it is now."""
    return (await ExpertApplication.get(id=app.id)).version


async def test_resubmit_with_a_stale_version_refused_conflict_nothing_changed():
    """Issue 11 §3: a resubmission made on an outdated view (the application moved on
    since the client loaded it) is refused with VERSION_CONFLICT; neither the
    application nor the expert changes; the current version is then accepted."""
    w = await _world()
    app = await _recommend(w)
    await svc.request_expert_application_changes(w["staff"], app.id, reason="请补充")
    seen = await _seen(app)
    await ExpertApplication.filter(id=app.id).update(version=seen + 1)  # another edit
    before = await _counts()
    state = await _row(app)
    expert_before = await Expert.get(id=app.expert_id).values()  # type: ignore[attr-defined]

    with pytest.raises(DomainError) as err:
        await svc.resubmit_expert_application(
            w["recommender"], app.id, version=seen, title="研究员", response="已补充"
        )

    assert (err.value.code, err.value.field) == (ErrorCode.VERSION_CONFLICT, "version")
    assert err.value.message == "数据已被他人修改,请刷新后重试"
    assert (await _counts(), await _row(app)) == (before, state)
    assert await Expert.get(id=app.expert_id).values() == expert_before  # type: ignore[attr-defined]
    again = await svc.resubmit_expert_application(
        w["recommender"], app.id, version=seen + 1, title="研究员"
    )
    assert (again.status, again.version) == (EA.SUBMITTED, seen + 2)


async def test_resubmit_when_not_sent_back_refused_invalid_transition():
    w = await _world()
    app = await _recommend(w)
    state = await _row(app)

    with pytest.raises(DomainError) as err:
        await svc.resubmit_expert_application(
            w["recommender"], app.id, version=await _seen(app), title="研究员"
        )

    assert err.value.code == ErrorCode.INVALID_TRANSITION
    assert await _row(app) == state


@pytest.mark.parametrize("who", ["staff", "bureau"])
async def test_resubmit_recommendation_by_non_recommender_denied_nothing_changed(who):
    w = await _world()
    app = await _recommend(w)
    await svc.request_expert_application_changes(w["staff"], app.id, reason="请补充")
    before = await _counts()

    with pytest.raises(PermissionDenied):
        await svc.resubmit_expert_application(
            w[who], app.id, version=await _seen(app), title="研究员"
        )

    assert await _counts() == before
    assert (await ExpertApplication.get(id=app.id)).status == EA.NEEDS_CHANGES


async def test_resubmit_by_other_authority_not_found_nothing_changed():
    w = await _world()
    app = await _recommend(w)
    await svc.request_expert_application_changes(w["staff"], app.id, reason="请补充")
    other = await _recommender(await factories.authority(AuthorityKind.INDUSTRY))
    before = await _counts()

    with pytest.raises(NotFound):
        await svc.resubmit_expert_application(
            other, app.id, version=await _seen(app), title="研究员"
        )

    assert await _counts() == before


@pytest.mark.parametrize(
    ("over", "code", "field"),
    [
        ({"phone": "123"}, ErrorCode.INVALID_PHONE, "phone"),
        ({"email": "not-an-email"}, ErrorCode.INVALID, "email"),
        ({"series": "不存在的系列"}, ErrorCode.INVALID, "series"),
        ({"title_level": "nonsense"}, ErrorCode.INVALID, "titleLevel"),
        ({"name": " "}, ErrorCode.REQUIRED, "name"),
    ],
)
async def test_resubmit_bad_amendment_refused_nothing_changed(over, code, field):
    w = await _world()
    app = await _recommend(w)
    await svc.request_expert_application_changes(w["staff"], app.id, reason="请补充")
    before = await _counts()
    expert_before = await Expert.get(id=app.expert_id).values()  # type: ignore[attr-defined]

    with pytest.raises(DomainError) as err:
        await svc.resubmit_expert_application(
            w["recommender"], app.id, version=await _seen(app), **over
        )

    assert (err.value.code, err.value.field) == (code, field)
    assert await _counts() == before
    assert await Expert.get(id=app.expert_id).values() == expert_before  # type: ignore[attr-defined]


async def test_resubmit_amendment_that_makes_candidate_ineligible_refused_r4():
    w = await _world()
    app = await _recommend(w)
    await svc.request_expert_application_changes(w["staff"], app.id, reason="请核实职称")
    before = await _counts()

    with pytest.raises(svc.EligibilityError) as err:
        await svc.resubmit_expert_application(
            w["recommender"], app.id, version=await _seen(app), title_level=Level.INTERMEDIATE
        )

    assert err.value.reason_codes != []
    assert await _counts() == before
    assert (await ExpertApplication.get(id=app.id)).status == EA.NEEDS_CHANGES


async def test_invitation_sent_back_is_resubmitted_by_the_bureau():
    w = await _world()
    app = await svc.invite_expert(
        w["bureau"],
        category=InvitationCategory.ACADEMICIAN,
        institution_id=w["inst"].id,
        unit_id=w["unit"].id,
        **_person(),
    )
    await svc.request_expert_application_changes(w["staff"], app.id, reason="请补充联系方式")

    with pytest.raises(NotFound):  # an invitation has no recommending authority to see it
        await svc.resubmit_expert_application(
            w["recommender"], app.id, version=await _seen(app), email="a@b.cn"
        )
    again = await svc.resubmit_expert_application(
        w["bureau"], app.id, version=await _seen(app), email="a@b.cn"
    )

    assert again.status == EA.SUBMITTED
    assert (await Expert.get(id=app.expert_id)).email == "a@b.cn"  # type: ignore[attr-defined]
