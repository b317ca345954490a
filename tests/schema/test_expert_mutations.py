"""GraphQL layer of the expert pool (issue 6 item 12).

The entry walk (Art. 15–17: recommendation by the right authority, R3; institution
review; bureau approval into the pool with a first term, R7), eligibility refusals
with one payload error per named reason (R4), R8 (a requested change is nobody's
current data until both verifications), the permission matrix of every expert
mutation × role (denials change nothing and write no audit event), masked personal
data in every new type, the new queries' scopes, and the N+1 guard of the new
relations.
"""

import datetime as dt
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from strawberry.types import ExecutionResult

from models import (
    AgreementSignature,
    AgreementText,
    AuditEvent,
    Authority,
    Expert,
    ExpertApplication,
    ExpertAssessment,
    ExpertEmployment,
    ExpertTerm,
    ExpertUpdate,
    IdempotencyKey,
    Institution,
    TrainingRecord,
    Unit,
    User,
)
from models.enums import (
    AssessmentResult,
    AuthorityKind,
    EntryRoute,
    ExpertApplicationStatus,
    FilingStatus,
    Gender,
    Level,
    RetirementCategory,
    Role,
    TermStatus,
    UnitType,
)
from resolvers import expert as svc
from resolvers.actor import ANONYMOUS, Actor, Grant
from resolvers.common import beijing_today
from resolvers.eligibility import ExpertFacts, ReasonCode, check_pool_entry, term_end
from resolvers.personal import decrypt
from schema.relay import from_global_id, to_global_id
from tests import factories
from tests.schema.conftest import codes, committee, count_sql, data, gql, graphql_app, seat

TODAY = beijing_today()
D = dt.date
_n = itertools.count(1)
KEY = "5b1d0c9e-2a3b-4c5d-8e9f-a0b1c2d3e4f5"
ERRORS = "errors { field code message }"


# --- actors and helpers -------------------------------------------------------------


async def _user(*grants: Grant) -> Actor:
    n = next(_n)
    user = await User.create(username=f"ex{n}", display_name=f"用户{n}", password_hash="x")
    return Actor(user_id=user.id, username=user.username, grants=grants)


async def bureau() -> Actor:
    return await _user(Grant(Role.BUREAU))


async def staff(inst: Institution) -> Actor:
    return await _user(Grant(Role.INSTITUTION, institution_id=inst.id))


async def recommender(authority: Authority) -> Actor:
    return await _user(Grant(Role.RECOMMENDER, authority_id=authority.id))


async def employer(unit: Unit) -> Actor:
    return await _user(Grant(Role.EMPLOYER, unit_id=unit.id))


async def self_of(expert_id: int) -> Actor:
    return await _user(Grant(Role.EXPERT, expert_id=expert_id))


def partner() -> Actor:
    """A partner portal's token with every partner API scope."""
    return Actor(
        username="门户",
        grants=(Grant(Role.PARTNER),),
        token_id=next(_n),
        token_scopes=frozenset({"public:read", "certificate:verify", "complaint:submit"}),
    )


def gid(type_name: str, pk: int) -> str:
    return to_global_id(type_name, pk)


def pk_of(global_id: str) -> int:
    parsed = from_global_id(global_id)
    assert parsed is not None
    return parsed[1]


def years_ago(years: int) -> dt.date:
    try:
        return TODAY.replace(year=TODAY.year - years)
    except ValueError:
        return TODAY.replace(year=TODAY.year - years, day=28)


# --- mutations ----------------------------------------------------------------------

APPLICATION = """application { id status route invitationCategory institutionOpinion
  decisionReason exceptionReason exceptionApproved
  expert { id status idNumber phone } recommender { name kind } }"""
UPDATE = """update { id status awaiting rejectionReason
  changes { phone email title titleLevel titleObtainedOn specialty field unit { name } } }"""
TERM = "term { id number startOn endOn status exceptionReason }"

MUTATIONS: dict[str, tuple[str, str]] = {
    "recommendExpert": ("RecommendExpertInput", APPLICATION),
    "inviteExpert": ("InviteExpertInput", APPLICATION),
    "reviewExpertApplication": ("ReviewExpertApplicationInput", APPLICATION),
    "approveExpert": ("ApproveExpertInput", APPLICATION),
    "rejectExpert": ("RejectExpertInput", APPLICATION),
    "requestExpertUpdate": ("RequestExpertUpdateInput", UPDATE),
    "verifyExpertUpdate": ("VerifyExpertUpdateInput", UPDATE),
    "signConfidentialityAgreement": (
        "SignConfidentialityAgreementInput",
        "signature { agreementVersion contentHash signedAt expert { id } }",
    ),
    "recordTraining": (
        "RecordTrainingInput",
        "training { id year sessionId trainedOn topic expert { id } }",
    ),
    "recordExpertAssessment": (
        "RecordExpertAssessmentInput",
        "assessment { id result quality duties supervision term { number } "
        "institution { name } expert { id status } }",
    ),
    "exitExpert": ("ExitExpertInput", "expert { id status }"),
    "grantTermException": ("GrantTermExceptionInput", TERM),
    "requestExpertApplicationChanges": ("RequestExpertApplicationChangesInput", APPLICATION),
    "resubmitExpertApplication": ("ResubmitExpertApplicationInput", APPLICATION),
}


def document(name: str) -> str:
    input_type, selection = MUTATIONS[name]
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {selection} {ERRORS} }} }}"


async def mutate(name: str, input: dict[str, Any], actor: Actor) -> ExecutionResult:
    return await gql(document(name), {"input": input}, actor=actor)


async def ok(name: str, input: dict[str, Any], actor: Actor) -> dict[str, Any]:
    payload = data(await mutate(name, input, actor))[name]
    assert payload["errors"] == [], payload["errors"]
    return payload


async def refused(name: str, input: dict[str, Any], actor: Actor) -> list[dict[str, Any]]:
    """The payload errors of a mutation refused as UserErrors (its object null)."""
    payload = data(await mutate(name, input, actor))[name]
    assert [v for k, v in payload.items() if k != "errors"] == [None] * (len(payload) - 1)
    assert payload["errors"] != []
    return payload["errors"]


def person(unit: Unit, inst: Institution, **over: Any) -> dict[str, Any]:
    """A candidate as GraphQL input: 正高级 held since 2012, born 1978 (eligible, R4)."""
    n = next(_n)
    birth = over.pop("birth", D(1978, 4, 12))
    male = over.pop("male", True)
    return {
        "institutionId": gid("Institution", inst.id),
        "unitId": gid("Unit", unit.id),
        "name": f"候选人{n}",
        "idNumber": factories.make_id_number(birth, n, male=male),
        "phone": f"138{n:08d}",
        "email": f"c{n}@example.cn",
        "title": "教授级高级工程师",
        "titleLevel": "SENIOR",
        "titleObtainedOn": "2012-06-01",
        "series": "工程技术",
        "specialty": "电子信息",
        "field": "集成电路",
        "retirementCategory": "MALE_60" if male else "FEMALE_55",
        **over,
    }


def service_person(unit: Unit, inst: Institution) -> dict[str, Any]:
    """The same candidate for calling resolvers.expert directly (test set-up)."""
    n = next(_n)
    return {
        "institution_id": inst.id,
        "unit_id": unit.id,
        "name": f"候选人{n}",
        "id_number": factories.make_id_number(D(1978, 4, 12), n),
        "phone": f"137{n:08d}",
        "title": "教授级高级工程师",
        "title_level": Level.SENIOR,
        "title_obtained_on": D(2012, 6, 1),
        "series": "工程技术",
        "specialty": "电子信息",
        "retirement_category": RetirementCategory.MALE_60,
    }


# --- "nothing changed" --------------------------------------------------------------

_WATCHED = (
    Expert,
    ExpertApplication,
    ExpertEmployment,
    ExpertTerm,
    ExpertUpdate,
    AgreementText,
    AgreementSignature,
    TrainingRecord,
    ExpertAssessment,
    AuditEvent,
    IdempotencyKey,
)


async def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table these mutations write (audit trail included)."""
    return {m.__name__: await m.all().order_by("id").values() for m in _WATCHED}


# --- a world: a municipal unit, its industry authority, two filed institutions --------


@dataclass
class World:
    authority: Authority
    unit: Unit
    home: Institution
    other: Institution
    bureau: Actor
    staff: Actor
    recommender: Actor


async def world() -> World:
    authority = await factories.authority(AuthorityKind.INDUSTRY)
    unit = await factories.unit(UnitType.MUNICIPAL, authority=authority)
    home = await factories.institution()
    return World(
        authority=authority,
        unit=unit,
        home=home,
        other=await factories.institution(),
        bureau=await bureau(),
        staff=await staff(home),
        recommender=await recommender(authority),
    )


async def pooled(w: World, **kw: Any) -> Expert:
    """An expert of `w.home` from `w.unit`, in the pool (factory-made)."""
    return await factories.expert(institution=w.home, unit=w.unit, **kw)


# --- the entry walk (Art. 15–17, R3, R7) --------------------------------------------

EXPERT_DETAIL = """query($id: ID!) { expert(id: $id) {
  id number status statutoryRetirementDate
  currentTerm { number startOn endOn status }
  terms { number status }
  applications { status institutionOpinion recommender { name } institution { id } }
} }"""


async def test_entry_walk_recommend_review_approve_puts_expert_in_pool_with_term_r3_r7():
    """Art. 15(一), 17, R3, R7: the responsible industry authority recommends, the
    institution reviews, the bureau approves; the expert is in the pool with a 3-year
    first term — every step through GraphQL."""
    w = await world()
    candidate = person(w.unit, w.home)

    recommended = await ok("recommendExpert", candidate, w.recommender)
    app = recommended["application"]
    assert (app["status"], app["route"], app["recommender"]) == (
        "SUBMITTED",
        "RECOMMENDATION",
        {"name": w.authority.name, "kind": "INDUSTRY"},
    )
    assert app["expert"]["status"] == "APPLIED"

    reviewed = await ok(
        "reviewExpertApplication",
        {"applicationId": app["id"], "opinion": "资格符合", "recommend": True},
        w.staff,
    )
    assert (reviewed["application"]["status"], reviewed["application"]["expert"]["status"]) == (
        "REVIEWED",
        "REVIEWED",
    )

    approved = await ok("approveExpert", {"applicationId": app["id"]}, w.bureau)
    assert approved["application"]["status"] == "APPROVED"

    detail = data(await gql(EXPERT_DETAIL, {"id": app["expert"]["id"]}, actor=w.bureau))["expert"]
    expert = await Expert.get(id=pk_of(app["expert"]["id"]))
    assert detail == {
        "id": app["expert"]["id"],
        "number": f"BJ{TODAY.year}{expert.id:06d}",
        "status": "IN_POOL",
        "statutoryRetirementDate": ExpertFacts.from_model(expert).retirement_date.isoformat(),
        "currentTerm": {
            "number": 1,
            "startOn": TODAY.isoformat(),
            "endOn": term_end(TODAY).isoformat(),
            "status": "ACTIVE",
        },
        "terms": [{"number": 1, "status": "ACTIVE"}],
        "applications": [
            {
                "status": "APPROVED",
                "institutionOpinion": "资格符合",
                "recommender": {"name": w.authority.name},
                "institution": {"id": gid("Institution", w.home.id)},
            }
        ],
    }
    actions = await AuditEvent.all().order_by("seq").values_list("action", flat=True)
    assert list(actions) == [
        "expert.create",
        "expert_application.create",
        "expert_application.review",
        "expert.review",
        "expert_application.approve",
        "expert.approve",
        "expert_term.create",
    ]


@pytest.mark.parametrize("kind", [AuthorityKind.DISTRICT_BUREAU, AuthorityKind.INDUSTRY])
async def test_recommend_by_wrong_recommender_is_payload_error_nothing_changed_r3(kind):
    """R3: a municipal unit's expert recommended by a district bureau, or by another
    industry authority than the unit's own, is refused as WRONG_RECOMMENDER."""
    w = await world()
    wrong = await recommender(await factories.authority(kind))
    before = await snapshot()

    errors = await refused("recommendExpert", person(w.unit, w.home), wrong)

    assert [(e["code"], e["field"]) for e in errors] == [("WRONG_RECOMMENDER", "unitId")]
    assert f"“{w.authority.name}”推荐" in errors[0]["message"]
    assert await snapshot() == before


async def test_recommend_unit_without_responsible_authority_names_who_should_recommend_r3():
    """R3: a district unit registered under an industry authority: only a district
    bureau may recommend, and the message says so."""
    w = await world()
    unit = await factories.unit(UnitType.DISTRICT, authority=w.authority)
    before = await snapshot()

    errors = await refused("recommendExpert", person(unit, w.home), w.recommender)

    assert errors == [
        {
            "field": "unitId",
            "code": "WRONG_RECOMMENDER",
            "message": f"区属单位的专家应由所在区人力资源社会保障部门推荐,"
            f"但“{unit.name}”尚未登记负责推荐的所在区人力资源社会保障部门",
        }
    ]
    assert await snapshot() == before


# --- eligibility in the payload (R4) --------------------------------------------------


def _expected_reasons(**facts: Any) -> list[tuple[ReasonCode, str]]:
    reasons = check_pool_entry(
        ExpertFacts(**facts), TODAY, invited=False, urgent_exception_approved=False
    )
    return [(r.code, r.message) for r in reasons]


async def test_ineligible_candidate_gets_one_not_eligible_error_per_reason_r4():
    """R4: 副高级 held one year and past the statutory retirement date: two named
    reasons, each its own NOT_ELIGIBLE UserError with the reason's Chinese text."""
    w = await world()
    obtained = years_ago(1)
    expected = _expected_reasons(
        gender=Gender.MALE,
        birth_date=D(1960, 3, 1),
        retirement_category=RetirementCategory.MALE_60,
        title_level=Level.ASSOCIATE_SENIOR,
        title_obtained_on=obtained,
    )
    before = await snapshot()

    errors = await refused(
        "recommendExpert",
        person(
            w.unit,
            w.home,
            birth=D(1960, 3, 1),
            titleLevel="ASSOCIATE_SENIOR",
            titleObtainedOn=obtained.isoformat(),
        ),
        w.recommender,
    )

    assert [code for code, _ in expected] == [
        ReasonCode.TITLE_NOT_HELD_LONG_ENOUGH,
        ReasonCode.PAST_RETIREMENT,
    ]
    assert errors == [
        {"field": None, "code": "NOT_ELIGIBLE", "message": message} for _, message in expected
    ]
    assert await snapshot() == before


async def test_title_too_low_is_named_r4():
    w = await world()
    expected = _expected_reasons(
        gender=Gender.MALE,
        birth_date=D(1978, 4, 12),
        retirement_category=RetirementCategory.MALE_60,
        title_level=Level.INTERMEDIATE,
        title_obtained_on=D(2012, 6, 1),
    )

    errors = await refused(
        "recommendExpert", person(w.unit, w.home, titleLevel="INTERMEDIATE"), w.recommender
    )

    assert [code for code, _ in expected] == [ReasonCode.TITLE_TOO_LOW]
    assert errors == [{"field": None, "code": "NOT_ELIGIBLE", "message": expected[0][1]}]


async def test_urgent_exception_needs_bureau_approval_at_approve_r4():
    """Art. 16(四): a recorded urgently needed specialty reason lets the application
    in; the bureau must approve the exception, else the lead error and the reason."""
    w = await world()
    app = (
        await ok(
            "recommendExpert",
            person(w.unit, w.home, titleLevel="INTERMEDIATE", exceptionReason="集成电路急需"),
            w.recommender,
        )
    )["application"]
    await ok(
        "reviewExpertApplication",
        {"applicationId": app["id"], "opinion": "急需", "recommend": True},
        w.staff,
    )
    expected = _expected_reasons(
        gender=Gender.MALE,
        birth_date=D(1978, 4, 12),
        retirement_category=RetirementCategory.MALE_60,
        title_level=Level.INTERMEDIATE,
        title_obtained_on=D(2012, 6, 1),
    )
    before = await snapshot()

    errors = await refused("approveExpert", {"applicationId": app["id"]}, w.bureau)

    assert errors == [
        {
            "field": "approveException",
            "code": "NOT_ELIGIBLE",
            "message": "须批准急需紧缺专业例外(理由:集成电路急需)方可入库。",
        },
        {"field": None, "code": "NOT_ELIGIBLE", "message": expected[0][1]},
    ]
    assert await snapshot() == before
    approved = await ok(
        "approveExpert", {"applicationId": app["id"], "approveException": True}, w.bureau
    )
    assert (approved["application"]["status"], approved["application"]["exceptionApproved"]) == (
        "APPROVED",
        True,
    )


async def test_invite_by_bureau_past_retirement_is_allowed_r4():
    """R4: invited experts may be past the statutory retirement date (not the R6 limit)."""
    w = await world()
    born = years_ago(62)
    invited = await ok(
        "inviteExpert",
        {**person(w.unit, w.home, birth=born), "category": "ACADEMICIAN"},
        w.bureau,
    )
    assert (invited["application"]["route"], invited["application"]["invitationCategory"]) == (
        "INVITATION",
        "ACADEMICIAN",
    )


async def test_bad_input_is_a_payload_error_on_the_field():
    w = await world()
    errors = await refused(
        "recommendExpert", person(w.unit, w.home, idNumber="110101197804121234"), w.recommender
    )
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_ID_NUMBER", "idNumber")]
    errors = await refused(
        "recommendExpert",
        person(w.unit, w.home, unitId=gid("Institution", w.home.id)),
        w.recommender,
    )
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID", "unitId")]


# --- R8: a requested change is nobody's current data until both verifications ---------

PROFILE = """query($id: ID!) { expert(id: $id) {
  phone title field titleLevel unit { name }
  pendingChanges { id awaiting changes { phone title titleLevel unit { name } } }
} }"""


async def test_requested_update_is_not_current_data_for_anyone_until_both_verify_r8():
    """R8 (Art. 19): until the employer and the institution have both verified, every
    role reading the expert sees the old phone, title and unit; only the expert and the
    two verifiers see the pending change (masked), everyone else sees null."""
    w = await world()
    new_unit = await factories.unit(UnitType.MUNICIPAL, authority=w.authority)
    expert = await pooled(w, phone="13911112222", title="高级工程师", field="EDA")
    me = await self_of(expert.id)
    hr = await employer(w.unit)
    readers = {
        "bureau": w.bureau,
        "staff": w.staff,
        "employer": hr,
        "self": me,
        "recommender": w.recommender,
    }
    requested = await ok(
        "requestExpertUpdate",
        {
            "expertId": gid("Expert", expert.id),
            "phone": "13700001111",
            "title": "研究员",
            "titleLevel": "SENIOR",
            "unitId": gid("Unit", new_unit.id),
        },
        me,
    )
    update_id = requested["update"]["id"]
    pending = {
        "id": update_id,
        "awaiting": ["EMPLOYER", "INSTITUTION"],
        "changes": {
            "phone": "137****1111",
            "title": "研究员",
            "titleLevel": None,  # already 正高级: not a change
            "unit": {"name": new_unit.name},
        },
    }
    old = {
        "phone": "139****2222",
        "title": "高级工程师",
        "field": "EDA",
        "titleLevel": "SENIOR",
        "unit": {"name": w.unit.name},
    }

    async def profiles() -> dict[str, Any]:
        return {
            role: data(await gql(PROFILE, {"id": gid("Expert", expert.id)}, actor=a))["expert"]
            for role, a in readers.items()
        }

    seen_by_verifiers = {**old, "pendingChanges": [pending]}
    seen_by_others = {**old, "pendingChanges": None}
    assert await profiles() == {
        "bureau": seen_by_others,
        "staff": seen_by_verifiers,
        "employer": seen_by_verifiers,
        "self": seen_by_verifiers,
        "recommender": seen_by_others,
    }

    after_employer = await ok("verifyExpertUpdate", {"updateId": update_id, "approve": True}, hr)
    assert after_employer["update"]["awaiting"] == ["INSTITUTION"]
    still = await profiles()
    assert {
        role: {k: v for k, v in p.items() if k != "pendingChanges"} for role, p in still.items()
    } == {role: old for role in readers}
    fresh = await Expert.get(id=expert.id)
    assert (decrypt(fresh.phone_enc), fresh.title, fresh.unit_id) == (  # type: ignore[attr-defined]
        "13911112222",
        "高级工程师",
        w.unit.id,
    )

    applied = await ok("verifyExpertUpdate", {"updateId": update_id, "approve": True}, w.staff)
    assert (applied["update"]["status"], applied["update"]["awaiting"]) == ("APPLIED", [])
    # The expert moved units: the old unit's employer no longer sees the expert at all.
    readers.pop("employer")
    readers["new employer"] = await employer(new_unit)
    new = {**old, "phone": "137****1111", "title": "研究员", "unit": {"name": new_unit.name}}
    assert {
        r: {k: v for k, v in p.items() if k != "pendingChanges"}
        for r, p in (await profiles()).items()
    } == {role: new for role in readers}


async def test_verification_queue_lists_what_each_verifier_still_has_to_check_r8():
    w = await world()
    expert = await pooled(w)
    hr = await employer(w.unit)
    other_hr = await employer(await factories.unit())
    update = await svc.request_expert_update(
        await self_of(expert.id), expert.id, changes={"title": "研究员"}
    )
    query = "{ pendingExpertUpdates { id awaiting expert { number } } }"
    row = {
        "id": gid("ExpertUpdate", update.id),
        "awaiting": ["EMPLOYER", "INSTITUTION"],
        "expert": {"number": expert.number},
    }

    queues = [
        data(await gql(query, actor=a))["pendingExpertUpdates"]
        for a in (hr, w.staff, other_hr, w.bureau, ANONYMOUS)
    ]
    assert queues == [[row], [row], [], [], []]

    await ok("verifyExpertUpdate", {"updateId": row["id"], "approve": True}, hr)
    assert data(await gql(query, actor=hr))["pendingExpertUpdates"] == []
    assert data(await gql(query, actor=w.staff))["pendingExpertUpdates"] == [
        {**row, "awaiting": ["INSTITUTION"]}
    ]


async def test_rejected_update_ends_with_reason_and_nothing_applied_r8():
    w = await world()
    expert = await pooled(w, title="高级工程师")
    update = await svc.request_expert_update(
        await self_of(expert.id), expert.id, changes={"title": "研究员"}
    )
    errors = await refused(
        "verifyExpertUpdate",
        {"updateId": gid("ExpertUpdate", update.id), "approve": False},
        w.staff,
    )
    assert [(e["code"], e["field"]) for e in errors] == [("REQUIRED", "reason")]

    payload = await ok(
        "verifyExpertUpdate",
        {"updateId": gid("ExpertUpdate", update.id), "approve": False, "reason": "无聘任文件"},
        w.staff,
    )
    assert (payload["update"]["status"], payload["update"]["rejectionReason"]) == (
        "REJECTED",
        "无聘任文件",
    )
    assert (await Expert.get(id=expert.id)).title == "高级工程师"


# --- personal data masked in every new type -----------------------------------------

EVERYTHING = """query($id: ID!) { expert(id: $id) {
  idNumber phone
  pendingChanges { changes { phone email } expert { idNumber phone } }
  applications { expert { idNumber phone } }
  trainings { expert { idNumber phone } }
  assessments { expert { idNumber phone } }
} }"""


async def test_personal_data_is_masked_in_every_new_type():
    """SPEC "Personal data": neither the ID number nor any phone (current or requested)
    nor the requested e-mail appears in clear in payloads or the new types."""
    w = await world()
    candidate = person(w.unit, w.home)
    recommended = await ok("recommendExpert", candidate, w.recommender)
    app_id = recommended["application"]["id"]
    await ok(
        "reviewExpertApplication",
        {"applicationId": app_id, "opinion": "符合", "recommend": True},
        w.staff,
    )
    await ok("approveExpert", {"applicationId": app_id}, w.bureau)
    expert_gid = recommended["application"]["expert"]["id"]
    expert = await Expert.get(id=pk_of(expert_gid))
    me = await self_of(expert.id)
    term = await ExpertTerm.get(expert_id=expert.id)
    await ok(
        "recordTraining",
        {
            "expertId": expert_gid,
            "trainedOn": TODAY.isoformat(),
            "topic": "评审纪律",
            "year": TODAY.year,
        },
        w.staff,
    )
    await ok(
        "recordExpertAssessment",
        {
            "expertId": expert_gid,
            "termId": gid("ExpertTerm", term.id),
            "quality": "好",
            "duties": "履职",
            "supervision": "无问题",
            "result": "PASS",
        },
        w.staff,
    )
    update = await ok(
        "requestExpertUpdate",
        {"expertId": expert_gid, "phone": "13600009999", "email": "zhang.san@example.cn"},
        me,
    )

    answers = [recommended, update]
    for reader in (w.bureau, w.staff, me):
        answers.append(data(await gql(EVERYTHING, {"id": expert_gid}, actor=reader)))
    text = json.dumps(answers, ensure_ascii=False)

    for secret in (candidate["idNumber"], candidate["phone"], "13600009999", "zhang.san@"):
        assert secret not in text
    assert recommended["application"]["expert"]["idNumber"] == (
        candidate["idNumber"][:6] + "********" + candidate["idNumber"][-4:]
    )
    assert update["update"]["changes"] | {} == {
        "phone": "136****9999",
        "email": "z***@example.cn",
        "title": None,
        "titleLevel": None,
        "titleObtainedOn": None,
        "specialty": None,
        "field": None,
        "unit": None,
    }


# --- other new fields and queries ----------------------------------------------------


@pytest.mark.parametrize(
    ("gender", "birth", "category", "retires"),
    [
        (Gender.MALE, D(1965, 1, 15), RetirementCategory.MALE_60, "2025-02-15"),
        (Gender.MALE, D(1970, 6, 10), RetirementCategory.MALE_60, "2031-11-10"),
        (Gender.FEMALE, D(1972, 3, 1), RetirementCategory.FEMALE_55, "2027-10-01"),
        (Gender.FEMALE, D(1977, 5, 20), RetirementCategory.FEMALE_50, "2028-08-20"),
    ],
)
async def test_statutory_retirement_date_is_exposed_r5(gender, birth, category, retires):
    """R5 examples of SPEC.md, read through Expert.statutoryRetirementDate."""
    w = await world()
    expert = await pooled(w, gender=gender, birth_date=birth, retirement_category=category)
    got = data(
        await gql(
            "query($id: ID!) { expert(id: $id) { statutoryRetirementDate } }",
            {"id": gid("Expert", expert.id)},
            actor=w.bureau,
        )
    )
    assert got == {"expert": {"statutoryRetirementDate": retires}}


async def test_current_term_is_the_running_term_as_the_resolver_says_r7():
    """currentTerm mirrors resolvers.expert.current_term: an ended term and a future
    term never count; a renewed term covering today does."""
    w = await world()
    expert = await pooled(w)
    start = years_ago(4)
    await ExpertTerm.create(
        expert=expert, number=1, start_on=start, end_on=term_end(start), status=TermStatus.RENEWED
    )
    second = term_end(start) + dt.timedelta(days=1)
    await ExpertTerm.create(
        expert=expert, number=2, start_on=second, end_on=term_end(second), status=TermStatus.RENEWED
    )
    third = term_end(second) + dt.timedelta(days=1)
    await ExpertTerm.create(expert=expert, number=3, start_on=third, end_on=term_end(third))
    query = "query($id: ID!) { expert(id: $id) { currentTerm { number } terms { number } } }"

    got = data(await gql(query, {"id": gid("Expert", expert.id)}, actor=w.staff))["expert"]

    running = await svc.current_term(expert.id, TODAY)
    assert running is not None
    assert got == {
        "currentTerm": {"number": running.number},
        "terms": [{"number": n} for n in (1, 2, 3)],
    }
    assert running.number == 2


async def test_expert_applications_connection_is_scoped_and_filtered():
    """Each actor lists exactly the applications it may see: the bureau all, staff its
    institution's, the recommender its own recommendations, the expert its own."""
    w = await world()
    district_bureau = await factories.authority(AuthorityKind.DISTRICT_BUREAU)
    district = await factories.unit(UnitType.DISTRICT, authority=district_bureau)
    elsewhere = await recommender(district_bureau)
    mine = await svc.recommend_expert(w.recommender, **service_person(w.unit, w.home))
    theirs = await svc.recommend_expert(elsewhere, **service_person(district, w.other))
    await svc.review_expert_application(w.staff, mine.id, opinion="符合", recommend=True)
    query = """query($f: ExpertApplicationFilter) { expertApplications(filter: $f, first: 10) {
      totalCount edges { node { id status } } } }"""

    def ids(result: ExecutionResult) -> list[str]:
        return [e["node"]["id"] for e in data(result)["expertApplications"]["edges"]]

    a, b = gid("ExpertApplication", mine.id), gid("ExpertApplication", theirs.id)
    candidate = await self_of(mine.expert_id)  # type: ignore[attr-defined]
    assert [
        ids(await gql(query, actor=x)) for x in (w.bureau, w.staff, w.recommender, candidate)
    ] == [
        [a, b],
        [a],
        [a],
        [a],
    ]
    reviewed = await gql(query, {"f": {"statuses": ["REVIEWED"]}}, actor=w.bureau)
    assert ids(reviewed) == [a]
    assert codes(await gql(query, actor=ANONYMOUS)) == ["UNAUTHENTICATED"]
    other_staff = await staff(w.other)
    assert ids(await gql(query, actor=other_staff)) == [b]


async def test_expert_applications_keyset_pages_return_every_row_once():
    w = await world()
    made = [
        gid(
            "ExpertApplication",
            (await svc.recommend_expert(w.recommender, **service_person(w.unit, w.home))).id,
        )
        for _ in range(5)
    ]
    query = """query($after: String) { expertApplications(first: 2, after: $after) {
      edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = data(await gql(query, {"after": after}, actor=w.bureau))["expertApplications"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == made


STATS = """query($c: ID) { poolStatistics(committeeId: $c) {
  total byLevel { key label count } byUnitType { key label count }
  youth { total under45 percent belowFloor } nonPublic nonPublicPercent
  youthByCommittee { committee { name } youth { total under45 } }
} }"""


async def test_pool_statistics_are_scoped_per_resolver_r13():
    """R13 (Art. 14): the bureau counts the whole pool, staff their institution's
    experts; other roles are refused, anonymous callers asked to log in."""
    w = await world()
    young = years_ago(30)
    com = await committee(w.home, name="电子信息正高级评委会")
    e1 = await pooled(w, birth_date=young)
    await pooled(w)
    await factories.expert(institution=w.other)  # another institution's expert
    await seat(com, e1)

    bureau_view = data(await gql(STATS, actor=w.bureau))["poolStatistics"]
    staff_view = data(await gql(STATS, actor=w.staff))["poolStatistics"]
    committee_view = data(await gql(STATS, {"c": gid("Committee", com.id)}, actor=w.staff))[
        "poolStatistics"
    ]

    assert (bureau_view["total"], staff_view["total"], committee_view["total"]) == (3, 2, 1)
    assert staff_view == {
        "total": 2,
        "byLevel": [{"key": "senior", "label": "正高级", "count": 2}],
        "byUnitType": [{"key": "municipal", "label": "市属", "count": 2}],
        "youth": {"total": 2, "under45": 1, "percent": 50.0, "belowFloor": False},
        "nonPublic": 0,
        "nonPublicPercent": 0.0,
        "youthByCommittee": [
            {"committee": {"name": "电子信息正高级评委会"}, "youth": {"total": 1, "under45": 1}}
        ],
    }
    # A filed committee is public, but none of its experts is in the other
    # institution's scope; a draft committee is invisible to it altogether.
    other_staff = await staff(w.other)
    draft = await committee(w.home, status=FilingStatus.DRAFT)
    assert [
        data(await gql(STATS, {"c": gid("Committee", c.id)}, actor=other_staff))["poolStatistics"]
        for c in (com, draft)
    ] == [
        {
            "total": 0,
            "byLevel": [],
            "byUnitType": [],
            "youth": {"total": 0, "under45": 0, "percent": None, "belowFloor": False},
            "nonPublic": 0,
            "nonPublicPercent": None,
            "youthByCommittee": [],
        },
        None,
    ]
    assert codes(await gql(STATS, actor=await self_of(e1.id))) == ["FORBIDDEN"]
    assert codes(await gql(STATS, actor=ANONYMOUS)) == ["UNAUTHENTICATED"]


async def test_failed_assessment_exits_the_expert_r17():
    w = await world()
    expert = await pooled(w)
    term = await ExpertTerm.create(expert=expert, number=1, start_on=TODAY, end_on=term_end(TODAY))
    payload = await ok(
        "recordExpertAssessment",
        {
            "expertId": gid("Expert", expert.id),
            "termId": gid("ExpertTerm", term.id),
            "quality": "差",
            "duties": "多次缺席",
            "supervision": "有违纪",
            "result": "FAIL",
        },
        w.staff,
    )
    assert payload["assessment"]["result"] == "FAIL"
    assert payload["assessment"]["expert"]["status"] == "EXITED"
    assert (await ExpertTerm.get(id=term.id)).status == TermStatus.ENDED


async def test_exit_for_age_limit_not_reached_is_a_payload_error_nothing_changed_r6():
    w = await world()
    expert = await pooled(w)
    before = await snapshot()
    errors = await refused(
        "exitExpert",
        {"expertId": gid("Expert", expert.id), "reason": "AGE_LIMIT", "note": "超龄"},
        w.bureau,
    )
    assert errors == [
        {"field": "reason", "code": "INVALID", "message": "该专家尚未超过退休年龄5年"}
    ]
    assert await snapshot() == before


async def test_recommend_replays_with_the_idempotency_key_over_http():
    """Issue 4 §4: the same Idempotency-Key and input returns the first application."""
    w = await world()
    body = {"query": document("recommendExpert"), "variables": {"input": person(w.unit, w.home)}}
    transport = httpx.ASGITransport(app=graphql_app(w.recommender))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        first = (await client.post("/graphql", json=body, headers={"Idempotency-Key": KEY})).json()
        again = (await client.post("/graphql", json=body, headers={"Idempotency-Key": KEY})).json()
    assert first["data"]["recommendExpert"]["errors"] == []
    assert again == first
    assert await ExpertApplication.all().count() == 1


async def test_node_resolves_pool_objects_only_for_who_may_see_them():
    w = await world()
    expert = await pooled(w)
    me = await self_of(expert.id)
    update = await svc.request_expert_update(me, expert.id, changes={"title": "研究员"})
    query = "query($id: ID!) { node(id: $id) { id ... on ExpertUpdate { status } } }"
    node_id = gid("ExpertUpdate", update.id)
    seen = [
        data(await gql(query, {"id": node_id}, actor=a))["node"]
        for a in (me, w.staff, w.bureau, w.recommender, ANONYMOUS)
    ]
    visible = {"id": node_id, "status": "PENDING"}
    assert seen == [visible, visible, None, None, None]


# --- permission matrix: every expert mutation × every role ----------------------------

ROLES = (
    "bureau",
    "own",
    "other",
    "self",
    "another_expert",
    "employer",
    "recommender",
    "anonymous",
    "partner",
)
OK, FORBIDDEN, NOT_FOUND, UNAUTH = "ok", "FORBIDDEN", "NOT_FOUND", "UNAUTHENTICATED"
F, NF = FORBIDDEN, NOT_FOUND


def _expect(*outcomes: str) -> dict[str, str]:
    return dict(zip(ROLES, outcomes, strict=True))


@dataclass
class Case:
    """A mutation's input, and the expert it concerns ("self" acts as that expert)."""

    input: dict[str, Any]
    subject_id: int


Setup = Callable[[World, Expert], Awaitable[Case]]


async def _recommend(w: World, target: Expert) -> Case:
    return Case(person(w.unit, w.home), target.id)


async def _invite(w: World, target: Expert) -> Case:
    return Case({**person(w.unit, w.home), "category": "ACADEMICIAN"}, target.id)


async def _submitted(w: World) -> ExpertApplication:
    return await svc.recommend_expert(w.recommender, **service_person(w.unit, w.home))


async def _review(w: World, target: Expert) -> Case:
    app = await _submitted(w)
    input = {
        "applicationId": gid("ExpertApplication", app.id),
        "opinion": "符合",
        "recommend": True,
    }
    return Case(input, app.expert_id)  # type: ignore[attr-defined]


async def _approve(w: World, target: Expert) -> Case:
    app = await _submitted(w)
    await svc.review_expert_application(w.staff, app.id, opinion="符合", recommend=True)
    return Case({"applicationId": gid("ExpertApplication", app.id)}, app.expert_id)  # type: ignore[attr-defined]


async def _reject(w: World, target: Expert) -> Case:
    app = await _submitted(w)
    input = {"applicationId": gid("ExpertApplication", app.id), "reason": "材料不实"}
    return Case(input, app.expert_id)  # type: ignore[attr-defined]


async def _request_update(w: World, target: Expert) -> Case:
    return Case({"expertId": gid("Expert", target.id), "title": "研究员"}, target.id)


async def _verify_update(w: World, target: Expert) -> Case:
    update = await svc.request_expert_update(
        await self_of(target.id), target.id, changes={"title": "研究员"}
    )
    return Case({"updateId": gid("ExpertUpdate", update.id), "approve": True}, target.id)


async def _sign(w: World, target: Expert) -> Case:
    await svc.publish_agreement_text(w.bureau, version="2026.1", content="保密条款")
    return Case({"expertId": gid("Expert", target.id), "version": "2026.1"}, target.id)


async def _training(w: World, target: Expert) -> Case:
    input = {
        "expertId": gid("Expert", target.id),
        "trainedOn": TODAY.isoformat(),
        "topic": "评审纪律与回避",
        "year": TODAY.year,
    }
    return Case(input, target.id)


async def _assessment(w: World, target: Expert) -> Case:
    term = await ExpertTerm.create(expert=target, number=1, start_on=TODAY, end_on=term_end(TODAY))
    input = {
        "expertId": gid("Expert", target.id),
        "termId": gid("ExpertTerm", term.id),
        "quality": "评审质量好",
        "duties": "按时参加评审",
        "supervision": "无问题",
        "result": "PASS",
    }
    return Case(input, target.id)


async def _exit(w: World, target: Expert) -> Case:
    input = {"expertId": gid("Expert", target.id), "reason": "HEALTH", "note": "本人申请"}
    return Case(input, target.id)


async def _term_exception(w: World, target: Expert) -> Case:
    start = years_ago(6)
    for number in (1, 2):
        await ExpertTerm.create(
            expert=target, number=number, start_on=start, end_on=term_end(start),
            status=TermStatus.RENEWED,
        )  # fmt: skip
        start = term_end(start) + dt.timedelta(days=1)
    await ExpertTerm.create(expert=target, number=3, start_on=start, end_on=term_end(start))
    return Case({"expertId": gid("Expert", target.id), "reason": "学科带头人"}, target.id)


async def _request_changes(w: World, target: Expert) -> Case:
    app = await _submitted(w)
    input = {"applicationId": gid("ExpertApplication", app.id), "reason": "请补充业绩材料"}
    return Case(input, app.expert_id)  # type: ignore[attr-defined]


async def _resubmit(w: World, target: Expert) -> Case:
    app = await _submitted(w)
    sent = await svc.request_expert_application_changes(w.staff, app.id, reason="请补充业绩材料")
    input = {
        "applicationId": gid("ExpertApplication", app.id),
        "version": sent.version,
        "specialty": "微电子",
    }
    return Case(input, app.expert_id)  # type: ignore[attr-defined]


#                 bureau own other self another employer recommender anonymous partner
ON_APPLICATION_BUREAU = _expect(OK, F, NF, F, NF, NF, F, NF, NF)
MATRIX: dict[str, tuple[Setup, dict[str, str]]] = {
    "recommendExpert": (_recommend, _expect(F, F, F, F, F, F, OK, UNAUTH, F)),
    "inviteExpert": (_invite, _expect(OK, F, F, F, F, F, F, UNAUTH, F)),
    "reviewExpertApplication": (_review, _expect(F, OK, NF, F, NF, NF, F, NF, NF)),
    "approveExpert": (_approve, ON_APPLICATION_BUREAU),
    "rejectExpert": (_reject, ON_APPLICATION_BUREAU),
    "requestExpertUpdate": (_request_update, _expect(F, F, NF, OK, NF, F, F, NF, NF)),
    "verifyExpertUpdate": (_verify_update, _expect(F, OK, NF, F, NF, OK, NF, NF, NF)),
    "signConfidentialityAgreement": (_sign, _expect(F, F, NF, OK, NF, F, F, NF, NF)),
    "recordTraining": (_training, _expect(F, OK, NF, F, NF, F, F, NF, NF)),
    "recordExpertAssessment": (_assessment, _expect(F, OK, NF, F, NF, F, F, NF, NF)),
    "exitExpert": (_exit, _expect(OK, OK, NF, F, NF, F, F, NF, NF)),
    "grantTermException": (_term_exception, _expect(OK, F, NF, F, NF, F, F, NF, NF)),
    # Art. 17: the institution while reviewing, the bureau before deciding.
    "requestExpertApplicationChanges": (
        _request_changes,
        _expect(OK, OK, NF, F, NF, NF, F, NF, NF),
    ),
    # Only the submitter (here the recommending authority) amends and resubmits.
    "resubmitExpertApplication": (_resubmit, _expect(F, F, NF, F, NF, NF, OK, NF, NF)),
}


def test_permission_matrix_covers_every_expert_mutation():
    from strawberry.utils.str_converters import to_camel_case

    from schema import build_schema
    from schema.expert import ExpertMutation

    own = [
        f.graphql_name or to_camel_case(f.python_name)
        for f in ExpertMutation.__strawberry_definition__.fields  # type: ignore[attr-defined]
    ]  # type: ignore[attr-defined]
    mutation_type = build_schema()._schema.mutation_type
    assert mutation_type is not None
    assert sorted(MATRIX) == sorted(MUTATIONS) == sorted(own)
    assert set(own) <= set(mutation_type.fields)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(MATRIX))
async def test_permission_matrix(name: str, role: str):
    """Each expert mutation as each role: success, or the top-level error code with
    nothing changed and no audit event (ARCHITECTURE "Permission matrix")."""
    w = await world()
    target = await pooled(w)
    setup, expected = MATRIX[name]
    case = await setup(w, target)
    actors = {
        "bureau": w.bureau,
        "own": w.staff,
        "other": await staff(w.other),
        "self": await self_of(case.subject_id),
        "another_expert": await self_of((await factories.expert()).id),
        "employer": await employer(w.unit),
        "recommender": w.recommender,
        "anonymous": ANONYMOUS,
        "partner": partner(),
    }
    before = await snapshot()

    result = await mutate(name, case.input, actors[role])

    if expected[role] == OK:
        assert data(result)[name]["errors"] == []
        assert await AuditEvent.all().count() > len(before["AuditEvent"])
    else:
        assert codes(result) == [expected[role]]
        assert result.data is None
        assert await snapshot() == before


# --- N+1 guard for the new relations ------------------------------------------------

POOL_LIST = """query { experts(first: 100) { edges { node {
  id statutoryRetirementDate
  terms { number } currentTerm { number }
  pendingChanges { awaiting changes { title } }
  applications { status recommender { name } }
  trainings { year }
  assessments { result term { number } }
} } } }"""
# The page, then one statement per relation: terms (currentTerm reuses its cache),
# pendingChanges (who may see them + the pending rows), applications,
# applications.recommender, trainings, assessments, assessments.term.
POOL_STATEMENTS = 1 + 1 + 2 + 1 + 1 + 1 + 1 + 1

APPLICATION_LIST = """query { expertApplications(first: 100) { edges { node {
  id status expert { number } institution { name } committee { name } recommender { name }
} } } }"""
# The page, then expert, institution, committee, recommender.
APPLICATION_STATEMENTS = 1 + 4


async def _pool_world(w: World, n: int) -> None:
    com = await committee(w.home)
    for _ in range(n):
        expert = await pooled(w)
        term = await ExpertTerm.create(
            expert=expert, number=1, start_on=TODAY, end_on=term_end(TODAY)
        )
        await ExpertApplication.create(
            expert=expert,
            route=EntryRoute.RECOMMENDATION,
            authority=w.authority,
            institution=w.home,
            committee=com,
            status=ExpertApplicationStatus.APPROVED,
        )
        await TrainingRecord.create(expert=expert, year=TODAY.year, trained_on=TODAY, topic="纪律")
        await ExpertAssessment.create(
            expert=expert,
            term=term,
            institution=w.home,
            assessed_on=TODAY,
            result=AssessmentResult.PASS,
        )
        await ExpertUpdate.create(expert=expert, changes={"title": "研究员"})


async def _statements(query: str, actor: Actor) -> tuple[int, Any]:
    with count_sql() as counter:
        result = await gql(query, actor=actor)
    return len(counter.statements), data(result)


async def test_pool_relations_statement_count_is_flat_from_1_to_50():
    w = await world()
    await _pool_world(w, 1)
    one, data_one = await _statements(POOL_LIST, w.staff)
    await _pool_world(w, 49)
    fifty, data_fifty = await _statements(POOL_LIST, w.staff)

    assert len(data_one["experts"]["edges"]) == 1
    assert len(data_fifty["experts"]["edges"]) == 50
    node = data_fifty["experts"]["edges"][-1]["node"]
    assert (node["currentTerm"], node["pendingChanges"][0]["awaiting"], node["assessments"]) == (
        {"number": 1},
        ["EMPLOYER", "INSTITUTION"],
        [{"result": "PASS", "term": {"number": 1}}],
    )
    assert one == fifty == POOL_STATEMENTS


async def test_expert_applications_statement_count_is_flat_from_1_to_50():
    w = await world()
    await _pool_world(w, 1)
    one, _ = await _statements(APPLICATION_LIST, w.bureau)
    await _pool_world(w, 49)
    fifty, got = await _statements(APPLICATION_LIST, w.bureau)
    assert len(got["expertApplications"]["edges"]) == 50
    assert one == fifty == APPLICATION_STATEMENTS


# --- additions or adjustments (Art. 17) -------------------------------------------------

CHANGES = """query($id: ID!) { node(id: $id) { ... on ExpertApplication {
  status version changeRequest
  changeHistory { side reason response changedFields resubmittedAt }
  expert { specialty }
} } }"""


async def test_send_back_and_resubmit_walk_keeps_history_art17():
    """Art. 17: the institution asks for additions with a reason, the recommender
    amends and resubmits, the application is back in the institution's review and the
    round stays in changeHistory."""
    w = await world()
    app = (await ok("recommendExpert", person(w.unit, w.home), w.recommender))["application"]

    sent = await ok(
        "requestExpertApplicationChanges",
        {"applicationId": app["id"], "reason": "请补充近三年业绩"},
        w.staff,
    )
    assert sent["application"]["status"] == "NEEDS_CHANGES"
    seen = data(await gql(CHANGES, {"id": app["id"]}, actor=w.recommender))["node"]["version"]
    again = await ok(
        "resubmitExpertApplication",
        {"applicationId": app["id"], "version": seen, "specialty": "微电子", "response": "已补充"},
        w.recommender,
    )

    node = data(await gql(CHANGES, {"id": app["id"]}, actor=w.staff))["node"]
    assert again["application"]["status"] == "SUBMITTED"
    assert (node["status"], node["version"]) == ("SUBMITTED", seen + 1)
    assert node["changeRequest"] == ""
    [round_] = node["changeHistory"]
    assert (round_["side"], round_["reason"], round_["response"], round_["changedFields"]) == (
        "institution",
        "请补充近三年业绩",
        "已补充",
        ["specialty"],
    )
    assert round_["resubmittedAt"] is not None


async def test_send_back_without_reason_is_a_payload_error_nothing_changed():
    w = await world()
    app = await _submitted(w)
    before = await snapshot()

    errors = await refused(
        "requestExpertApplicationChanges",
        {"applicationId": gid("ExpertApplication", app.id), "reason": " "},
        w.staff,
    )

    assert [(e["field"], e["code"]) for e in errors] == [("reason", "REQUIRED")]
    assert await snapshot() == before


async def test_resubmit_with_bad_phone_is_a_payload_error_nothing_changed():
    w = await world()
    app = await _submitted(w)
    sent = await svc.request_expert_application_changes(w.staff, app.id, reason="请核实电话")
    before = await snapshot()

    errors = await refused(
        "resubmitExpertApplication",
        {
            "applicationId": gid("ExpertApplication", app.id),
            "version": sent.version,
            "phone": "123",
        },
        w.recommender,
    )

    assert [(e["field"], e["code"]) for e in errors] == [("phone", "INVALID_PHONE")]
    assert await snapshot() == before


async def test_resubmit_with_a_stale_version_is_a_conflict_payload_error_nothing_changed():
    """Issue 11 §3: the version the client saw is required; once the application moved
    on, the resubmission is refused with VERSION_CONFLICT on `version`."""
    w = await world()
    app = await _submitted(w)
    sent = await svc.request_expert_application_changes(w.staff, app.id, reason="请核实职称")
    await ExpertApplication.filter(id=app.id).update(version=sent.version + 1)
    before = await snapshot()
    input = {"applicationId": gid("ExpertApplication", app.id), "title": "研究员"}

    errors = await refused(
        "resubmitExpertApplication", {**input, "version": sent.version}, w.recommender
    )

    assert [(e["field"], e["code"], e["message"]) for e in errors] == [
        ("version", "VERSION_CONFLICT", "数据已被他人修改,请刷新后重试")
    ]
    assert await snapshot() == before
    missing = await mutate("resubmitExpertApplication", input, w.recommender)
    assert missing.errors and "version" in str(missing.errors[0])
    assert await snapshot() == before
