"""GraphQL mutations and queries for institutions and committees (issue 5 §7).

The filing walk through GraphQL (Art. 10–12, R1), rejection and resubmission,
suspension and revocation (Art. 31, R17), payload errors for bad input, the permission
matrix of every mutation × role (denials change nothing and write no audit event),
Idempotency-Key replay, optimistic locking, and the new fields' visibility.
"""

import datetime as dt
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from strawberry.types import ExecutionResult

from models import (
    AnnualPlan,
    AuditEvent,
    Committee,
    CommitteeSeat,
    Complaint,
    IdempotencyKey,
    Institution,
    InstitutionApplication,
    InstitutionAssessment,
    User,
)
from models.enums import (
    ComplaintChannel,
    ComplaintKind,
    ComplaintStatus,
    FilingStatus,
    InstitutionKind,
    Level,
    Role,
    Seat,
    TargetType,
)
from resolvers import institution as svc
from resolvers.actor import ANONYMOUS, Actor, Grant
from resolvers.common import beijing_today
from schema.relay import to_global_id
from tests import factories
from tests.schema.conftest import codes, data, gql

F = FilingStatus
TODAY = beijing_today()
_n = itertools.count(1)
KEY = "6a0c9f0e-1d2b-4e5f-8a9b-0c1d2e3f4a5b"


# --- actors -------------------------------------------------------------------------


async def _user(*grants: Grant) -> Actor:
    n = next(_n)
    user = await User.create(username=f"gq{n}", display_name=f"用户{n}", password_hash="x")
    return Actor(user_id=user.id, username=user.username, grants=grants)


async def bureau() -> Actor:
    return await _user(Grant(Role.BUREAU))


async def staff(inst: Institution) -> Actor:
    return await _user(Grant(Role.INSTITUTION, institution_id=inst.id))


async def expert_actor() -> Actor:
    expert = await factories.expert()
    return await _user(Grant(Role.EXPERT, expert_id=expert.id))


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


# --- mutations ----------------------------------------------------------------------

ERRORS = "errors { field code message }"
APPLICATION = "application { id status version decisionReason institution { id status } }"
INSTITUTION = "institution { id status statusReason filedAt validUntil version }"
COMMITTEE = "committee { id status statusReason filedAt validUntil version }"
PLAN = "annualPlan { id status version }"

MUTATIONS: dict[str, tuple[str, str]] = {
    "createInstitution": ("CreateInstitutionInput", INSTITUTION),
    "createInstitutionApplication": ("CreateInstitutionApplicationInput", APPLICATION),
    "updateInstitutionApplication": ("UpdateInstitutionApplicationInput", APPLICATION),
    "submitInstitutionApplication": ("SubmitInstitutionApplicationInput", APPLICATION),
    "fileInstitution": ("FileInstitutionInput", INSTITUTION),
    "rejectInstitutionApplication": ("RejectInstitutionApplicationInput", APPLICATION),
    "suspendInstitution": ("InstitutionStatusInput", INSTITUTION),
    "revokeInstitution": ("InstitutionStatusInput", INSTITUTION),
    "createCommitteeApplication": ("CreateCommitteeApplicationInput", COMMITTEE),
    "updateCommitteeApplication": ("UpdateCommitteeApplicationInput", COMMITTEE),
    "submitCommittee": ("SubmitCommitteeInput", COMMITTEE),
    "fileCommittee": ("FileCommitteeInput", COMMITTEE),
    "rejectCommittee": ("RejectCommitteeInput", COMMITTEE),
    "setCommitteeSeat": (
        "SetCommitteeSeatInput",
        "committee { id version seats { expertNumber expertName seat } }",
    ),
    "saveAnnualPlan": ("SaveAnnualPlanInput", PLAN),
    "publishAnnualPlan": ("PublishAnnualPlanInput", PLAN),
    "recordInstitutionAssessment": (
        "RecordInstitutionAssessmentInput",
        "assessment { method assessedOn result complaintFigures { received overdue } } "
        "institution { id status statusReason }",
    ),
}


def document(name: str) -> str:
    input_type, selection = MUTATIONS[name]
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {selection} {ERRORS} }} }}"


async def mutate(name: str, input: dict[str, Any], actor: Actor) -> ExecutionResult:
    return await gql(document(name), {"input": input}, actor=actor)


async def ok(name: str, input: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """The payload of a mutation that must succeed."""
    payload = data(await mutate(name, input, actor))[name]
    assert payload["errors"] == [], payload["errors"]
    return payload


async def refused(name: str, input: dict[str, Any], actor: Actor) -> list[dict[str, Any]]:
    """The payload errors of a mutation that must fail as a UserError (object null)."""
    payload = data(await mutate(name, input, actor))[name]
    assert payload["errors"] != []
    assert [v for k, v in payload.items() if k != "errors"] == [None] * (len(payload) - 1)
    return payload["errors"]


def pk_of(global_id: str) -> int:
    from schema.relay import from_global_id

    parsed = from_global_id(global_id)
    assert parsed is not None
    return parsed[1]


# --- input builders -----------------------------------------------------------------


def proposed(**over: Any) -> dict[str, Any]:
    return {
        "name": f"拟设评委会{next(_n)}",
        "series": "工程技术",
        "specialty": "电子信息",
        "level": "SENIOR",
        "applicantScope": "本市电子信息领域专业技术人员",
        "quantitativeStandard": "论文、项目、获奖量化赋分",
        "procedure": "申报、审核、评审、公示",
        **over,
    }


def application_input(inst: Institution | str, **over: Any) -> dict[str, Any]:
    institution_id = inst if isinstance(inst, str) else gid("Institution", inst.id)
    return {
        "institutionId": institution_id,
        "kind": "ASSOCIATION",
        "introduction": "北京市某学会,成立于1990年。",
        "personInCharge": "张三",
        "professionalScope": "工程技术系列电子信息专业",
        "purpose": "开展电子信息专业职称评审",
        "officeAddress": "北京市西城区某路1号",
        "phone": "010-66001234",
        "fullTimeStaff": 6,
        "facilities": "评审会议室2间,录音录像设备",
        "strengths": "行业覆盖面广",
        "proposedCommittees": [proposed()],
        **over,
    }


def committee_input(inst: Institution, **over: Any) -> dict[str, Any]:
    return {
        "institutionId": gid("Institution", inst.id),
        "name": f"电子信息高级评委会{next(_n)}",
        "series": "工程技术",
        "specialty": "电子信息",
        "level": "SENIOR",
        "applicantScope": "本市电子信息领域专业技术人员",
        "quantitativeStandard": "论文、项目、获奖量化赋分",
        "procedure": "申报、审核、评审、公示",
        **over,
    }


def plan_input(committee: Committee, **over: Any) -> dict[str, Any]:
    return {
        "committeeId": gid("Committee", committee.id),
        "year": TODAY.year,
        "conditions": "取得副高级职称满5年",
        "procedure": "个人申报、单位推荐、评审",
        "method": "答辩评审",
        "contactPhone": "010-66001234",
        "acceptanceStart": TODAY.isoformat(),
        "acceptanceEnd": (TODAY + dt.timedelta(days=30)).isoformat(),
        "materialRequirements": "申报表一份,业绩材料",
        **over,
    }


def service_application(**over: Any) -> dict[str, Any]:
    """The same application as keyword arguments of the service function."""
    values: dict[str, Any] = {
        "kind": InstitutionKind.ASSOCIATION,
        "introduction": "北京市某学会。",
        "person_in_charge": "张三",
        "professional_scope": "电子信息",
        "purpose": "开展职称评审",
        "office_address": "北京市西城区某路1号",
        "phone": "010-66001234",
        "full_time_staff": 6,
        "facilities": "会议室",
        "strengths": "覆盖面广",
        "proposed_committees": [
            {
                "name": f"拟设评委会{next(_n)}",
                "series": "工程技术",
                "specialty": "电子信息",
                "level": Level.SENIOR,
                "applicant_scope": "本市",
                "quantitative_standard": "量化赋分",
                "procedure": "评审",
            }
        ],
    }
    values.update(over)
    return values


async def committee_with_roster(
    inst: Institution, status: FilingStatus = F.DRAFT, *, roster: int = 5
) -> Committee:
    filed = status == F.FILED
    committee = await Committee.create(
        institution=inst,
        name=f"评委会{next(_n)}",
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
        applicant_scope="本市",
        quantitative_standard="量化赋分",
        procedure="评审",
        status=status,
        filed_at=TODAY if filed else None,
        valid_until=svc.add_years(TODAY, 3) if filed else None,
    )
    for i in range(roster):
        expert = await factories.expert(institution=inst)
        await CommitteeSeat.create(
            committee=committee, expert=expert, seat=Seat.CHAIR if i == 0 else Seat.MEMBER
        )
    return committee


# --- "nothing changed" --------------------------------------------------------------

_WATCHED = (
    Institution,
    InstitutionApplication,
    Committee,
    CommitteeSeat,
    AnnualPlan,
    InstitutionAssessment,
    AuditEvent,
    IdempotencyKey,
)


async def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table these mutations write (audit trail included)."""
    return {m.__name__: await m.all().order_by("id").values() for m in _WATCHED}


async def audit_actions(model: type, pk: int) -> list[str]:
    table = model._meta.db_table  # type: ignore[attr-defined]
    rows = await (
        AuditEvent.filter(target_type=table, target_id=str(pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )
    return [str(r) for r in rows]


# --- the filing walk (Art. 10–12, R1) -----------------------------------------------


async def test_filing_walk_bureau_creates_staff_submits_bureau_files_r1():
    """Art. 10, 12, R1: draft → submitted → filed with a 3-year validity, all through
    GraphQL; the application's content becomes the institution's filing."""
    the_bureau = await bureau()
    created = await ok(
        "createInstitution", {"name": "北京市电子学会", "kind": "ASSOCIATION"}, the_bureau
    )
    inst_gid = created["institution"]["id"]
    assert created["institution"]["status"] == "DRAFT"
    inst = await Institution.get(id=pk_of(inst_gid))
    the_staff = await staff(inst)

    prepared = await ok("createInstitutionApplication", application_input(inst_gid), the_staff)
    app = prepared["application"]
    assert (app["status"], app["version"], app["institution"]) == (
        "DRAFT",
        1,
        {"id": inst_gid, "status": "DRAFT"},
    )
    updated = await ok(
        "updateInstitutionApplication",
        {"applicationId": app["id"], "version": 1, "personInCharge": "李四"},
        the_staff,
    )
    assert updated["application"]["version"] == 2
    submitted = await ok(
        "submitInstitutionApplication", {"applicationId": app["id"], "version": 2}, the_staff
    )
    assert (submitted["application"]["status"], submitted["application"]["institution"]) == (
        "SUBMITTED",
        {"id": inst_gid, "status": "SUBMITTED"},
    )
    filed = await ok("fileInstitution", {"applicationId": app["id"]}, the_bureau)

    assert filed["institution"] == {
        "id": inst_gid,
        "status": "FILED",
        "statusReason": "",
        "filedAt": TODAY.isoformat(),
        "validUntil": svc.add_years(TODAY, 3).isoformat(),
        "version": 3,  # created, submitted, filed
    }
    stored = await Institution.get(id=inst.id)
    assert (stored.person_in_charge, stored.phone, stored.full_time_staff) == (
        "李四",
        "010-66001234",
        6,
    )
    assert await audit_actions(Institution, inst.id) == [
        "institution.create",
        "institution.submit",
        "institution.file",
    ]
    assert await audit_actions(InstitutionApplication, pk_of(app["id"])) == [
        "institution_application.create",
        "institution_application.update",
        "institution_application.submit",
        "institution_application.file",
    ]
    # Now in force, it is in the public directory.
    public = data(await gql("{ institutions { nodes { id status } } }"))
    assert public["institutions"]["nodes"] == [{"id": inst_gid, "status": "FILED"}]


async def test_filing_walk_shorter_validity_is_kept_r1():
    the_bureau = await bureau()
    inst = await svc.create_institution(the_bureau, name="某协会", kind=InstitutionKind.ASSOCIATION)
    the_staff = await staff(inst)
    app = await svc.create_institution_application(the_staff, inst.id, **service_application())
    await svc.submit_institution_application(the_staff, app.id)
    until = TODAY + dt.timedelta(days=400)

    filed = await ok(
        "fileInstitution",
        {"applicationId": gid("InstitutionApplication", app.id), "validUntil": until.isoformat()},
        the_bureau,
    )

    assert filed["institution"]["validUntil"] == until.isoformat()


async def test_rejection_with_reason_then_resubmission_and_filing():
    """Art. 12: the bureau rejects with a reason the staff can read; they correct and
    resubmit; the bureau files."""
    the_bureau = await bureau()
    inst = await svc.create_institution(
        the_bureau, name="某研究会", kind=InstitutionKind.ASSOCIATION
    )
    the_staff = await staff(inst)
    app = await svc.create_institution_application(the_staff, inst.id, **service_application())
    app_gid = gid("InstitutionApplication", app.id)
    await ok("submitInstitutionApplication", {"applicationId": app_gid}, the_staff)

    rejected = await ok(
        "rejectInstitutionApplication",
        {"applicationId": app_gid, "reason": "专职人员不足,请补充"},
        the_bureau,
    )
    assert (rejected["application"]["status"], rejected["application"]["decisionReason"]) == (
        "REJECTED",
        "专职人员不足,请补充",
    )
    seen = data(
        await gql(
            "query($id: ID!) { institution(id: $id) { status applications "
            "{ id status decisionReason fullTimeStaff version } } }",
            {"id": gid("Institution", inst.id)},
            actor=the_staff,
        )
    )["institution"]
    assert seen == {
        "status": "REJECTED",
        "applications": [
            {
                "id": app_gid,
                "status": "REJECTED",
                "decisionReason": "专职人员不足,请补充",
                "fullTimeStaff": 6,
                "version": 3,
            }
        ],
    }

    await ok(
        "updateInstitutionApplication",
        {"applicationId": app_gid, "version": 3, "fullTimeStaff": 9},
        the_staff,
    )
    resubmitted = await ok(
        "submitInstitutionApplication", {"applicationId": app_gid, "version": 4}, the_staff
    )
    assert (
        resubmitted["application"]["status"],
        resubmitted["application"]["decisionReason"],
        resubmitted["application"]["institution"]["status"],
    ) == ("SUBMITTED", "", "SUBMITTED")
    filed = await ok("fileInstitution", {"applicationId": app_gid}, the_bureau)
    assert filed["institution"]["status"] == "FILED"
    assert (await Institution.get(id=inst.id)).full_time_staff == 9
    assert await audit_actions(Institution, inst.id) == [
        "institution.create",
        "institution.submit",
        "institution.reject",
        "institution.submit",
        "institution.file",
    ]


async def test_suspension_then_revocation_and_revoked_is_final():
    """Art. 31, R2: the bureau suspends with a reason, then revokes; revocation is final."""
    inst = await factories.institution()
    the_bureau = await bureau()
    inst_gid = gid("Institution", inst.id)

    suspended = await ok(
        "suspendInstitution", {"institutionId": inst_gid, "reason": "整改期间暂停"}, the_bureau
    )
    assert (suspended["institution"]["status"], suspended["institution"]["statusReason"]) == (
        "SUSPENDED",
        "整改期间暂停",
    )
    revoked = await ok(
        "revokeInstitution", {"institutionId": inst_gid, "reason": "严重违规"}, the_bureau
    )
    assert (revoked["institution"]["status"], revoked["institution"]["statusReason"]) == (
        "REVOKED",
        "严重违规",
    )
    before = await snapshot()
    errors = await refused(
        "suspendInstitution", {"institutionId": inst_gid, "reason": "再次暂停"}, the_bureau
    )
    assert [(e["field"], e["code"]) for e in errors] == [("status", "INVALID_TRANSITION")]
    assert await snapshot() == before
    assert await audit_actions(Institution, inst.id) == [
        "institution.suspend",
        "institution.revoke",
    ]


async def test_committee_walk_roster_submit_file_plan_publish_r1():
    """Art. 11, 12, 9(二): staff create a committee, seat an odd roster with one chair,
    submit; the bureau files; staff publish the annual plan, which is then public."""
    inst = await factories.institution()
    the_staff, the_bureau = await staff(inst), await bureau()
    created = await ok("createCommitteeApplication", committee_input(inst), the_staff)
    committee_gid = created["committee"]["id"]
    experts = [await factories.expert(institution=inst) for _ in range(5)]
    for i, expert in enumerate(experts):
        await ok(
            "setCommitteeSeat",
            {
                "committeeId": committee_gid,
                "expertId": gid("Expert", expert.id),
                "seat": "CHAIR" if i == 0 else "MEMBER",
            },
            the_staff,
        )
    changed = await ok(
        "setCommitteeSeat",
        {"committeeId": committee_gid, "expertId": gid("Expert", experts[1].id), "seat": None},
        the_staff,
    )
    assert len(changed["committee"]["seats"]) == 4
    await ok(
        "setCommitteeSeat",
        {
            "committeeId": committee_gid,
            "expertId": gid("Expert", experts[1].id),
            "seat": "VICE_CHAIR",
        },
        the_staff,
    )
    roster = data(
        await gql(
            "query($id: ID!) { committee(id: $id) { version seats "
            "{ expertNumber expertName seat expert { id idNumber } } } }",
            {"id": committee_gid},
            actor=the_staff,
        )
    )["committee"]
    # Committee version: 1 at creation, +1 per roster change (7 changes).
    assert roster["version"] == 8
    assert sorted(
        (s["expertNumber"], s["expertName"], s["seat"], s["expert"]["idNumber"])
        for s in roster["seats"]
    ) == sorted(
        (
            e.number,
            e.name,
            "CHAIR" if i == 0 else "VICE_CHAIR" if i == 1 else "MEMBER",
            e.id_number_masked,
        )
        for i, e in enumerate(experts)
    )
    submitted = await ok("submitCommittee", {"committeeId": committee_gid, "version": 8}, the_staff)
    assert submitted["committee"]["status"] == "SUBMITTED"
    filed = await ok("fileCommittee", {"committeeId": committee_gid}, the_bureau)
    assert (
        filed["committee"]["status"],
        filed["committee"]["filedAt"],
        filed["committee"]["validUntil"],
    ) == ("FILED", TODAY.isoformat(), svc.add_years(TODAY, 3).isoformat())

    committee = await Committee.get(id=pk_of(committee_gid))
    saved = await ok("saveAnnualPlan", plan_input(committee), the_staff)
    plan_gid = saved["annualPlan"]["id"]
    assert (saved["annualPlan"]["status"], saved["annualPlan"]["version"]) == ("DRAFT", 1)
    edited = await ok(
        "saveAnnualPlan", plan_input(committee, version=1, method="面试答辩"), the_staff
    )
    assert edited["annualPlan"] == {"id": plan_gid, "status": "DRAFT", "version": 2}
    assert data(await gql("{ annualPlans { nodes { id } } }"))["annualPlans"]["nodes"] == []
    published = await ok("publishAnnualPlan", {"planId": plan_gid, "version": 2}, the_staff)
    assert published["annualPlan"]["status"] == "PUBLISHED"
    public = data(await gql("{ annualPlans { nodes { id method } } }"))["annualPlans"]["nodes"]
    assert public == [{"id": plan_gid, "method": "面试答辩"}]


async def test_committee_rejected_with_reason_then_corrected():
    inst = await factories.institution()
    the_staff, the_bureau = await staff(inst), await bureau()
    committee = await committee_with_roster(inst, F.SUBMITTED)
    committee_gid = gid("Committee", committee.id)

    rejected = await ok(
        "rejectCommittee", {"committeeId": committee_gid, "reason": "量化标准不明确"}, the_bureau
    )
    assert (rejected["committee"]["status"], rejected["committee"]["statusReason"]) == (
        "REJECTED",
        "量化标准不明确",
    )
    version = rejected["committee"]["version"]
    updated = await ok(
        "updateCommitteeApplication",
        {"committeeId": committee_gid, "version": version, "quantitativeStandard": "细化赋分表"},
        the_staff,
    )
    assert updated["committee"]["version"] == version + 1
    assert (await Committee.get(id=committee.id)).quantitative_standard == "细化赋分表"


async def test_failed_assessment_suspends_and_passed_one_reinstates_r17():
    """Art. 31, R17: a failed assessment suspends the institution; a later pass lifts it.
    The assessment keeps the complaint figures of the day."""
    inst = await factories.institution()
    the_bureau = await bureau()
    await Complaint.create(
        kind=ComplaintKind.COMPLAINT,
        channel=ComplaintChannel.WEB,
        target_type=TargetType.INSTITUTION,
        facts="评审程序违规",
        tracking_code="T0000001",
        query_password_hash="x",
        institution=inst,
        status=ComplaintStatus.IN_HANDLING,
        due_on=TODAY - dt.timedelta(days=1),
    )
    base = {"institutionId": gid("Institution", inst.id), "assessedOn": TODAY.isoformat()}

    failed = await ok(
        "recordInstitutionAssessment",
        base | {"method": "INTERVIEW", "findings": "投诉逾期未办", "result": "FAIL"},
        the_bureau,
    )
    assert failed == {
        "assessment": {
            "method": "INTERVIEW",
            "assessedOn": TODAY.isoformat(),
            "result": "FAIL",
            "complaintFigures": {"received": 1, "overdue": 1},
        },
        "institution": {
            "id": gid("Institution", inst.id),
            "status": "SUSPENDED",
            "statusReason": "考核不合格:投诉逾期未办",
        },
        "errors": [],
    }
    passed = await ok(
        "recordInstitutionAssessment",
        base | {"method": "DOCUMENT_REVIEW", "findings": "已整改", "result": "PASS"},
        the_bureau,
    )
    assert passed["institution"]["status"] == "FILED"
    assert await audit_actions(Institution, inst.id) == [
        "institution.suspend",
        "institution.reinstate",
    ]


# --- payload errors: field + code, nothing changed ----------------------------------


async def _draft_world() -> tuple[Institution, Actor, Actor]:
    the_bureau = await bureau()
    inst = await svc.create_institution(the_bureau, name=f"草稿机构{next(_n)}", kind="association")
    return inst, await staff(inst), the_bureau


@pytest.mark.parametrize(
    ("over", "field", "code"),
    [
        ({"fullTimeStaff": 0}, "fullTimeStaff", "INVALID"),
        ({"phone": "12345"}, "phone", "INVALID_PHONE"),
        ({"introduction": "   "}, "introduction", "REQUIRED"),
        ({"purpose": "长" * 5001}, "purpose", "TOO_LONG"),
        ({"proposedCommittees": []}, "proposedCommittees", "REQUIRED"),
        (
            {"proposedCommittees": [proposed(series="烹饪")]},
            "proposedCommittees[0].series",
            "INVALID",
        ),
        (
            {"proposedCommittees": [proposed(name="同名"), proposed(name="同名")]},
            "proposedCommittees[1].name",
            "DUPLICATE",
        ),
        ({"institutionId": gid("Committee", 1)}, "institutionId", "INVALID"),
        ({"institutionId": "not-an-id"}, "institutionId", "INVALID"),
    ],
)
async def test_create_institution_application_bad_input_is_payload_error(over, field, code):
    inst, the_staff, _ = await _draft_world()
    before = await snapshot()

    errors = await refused(
        "createInstitutionApplication", application_input(inst, **over), the_staff
    )

    assert [(e["field"], e["code"]) for e in errors] == [(field, code)]
    assert errors[0]["message"] != ""
    assert await snapshot() == before


async def _submitted_application() -> tuple[Institution, Actor, Actor, str]:
    inst, the_staff, the_bureau = await _draft_world()
    app = await svc.create_institution_application(the_staff, inst.id, **service_application())
    await svc.submit_institution_application(the_staff, app.id)
    return inst, the_staff, the_bureau, gid("InstitutionApplication", app.id)


async def test_file_institution_validity_beyond_three_years_is_payload_error_r1():
    _, _, the_bureau, app_gid = await _submitted_application()
    too_late = svc.add_years(TODAY, 3) + dt.timedelta(days=1)
    before = await snapshot()

    errors = await refused(
        "fileInstitution",
        {"applicationId": app_gid, "validUntil": too_late.isoformat()},
        the_bureau,
    )

    assert [(e["field"], e["code"]) for e in errors] == [("validUntil", "INVALID")]
    assert await snapshot() == before


async def test_reject_without_reason_is_payload_error():
    _, _, the_bureau, app_gid = await _submitted_application()
    before = await snapshot()

    errors = await refused(
        "rejectInstitutionApplication", {"applicationId": app_gid, "reason": " "}, the_bureau
    )

    assert [(e["field"], e["code"]) for e in errors] == [("reason", "REQUIRED")]
    assert await snapshot() == before


async def test_file_draft_application_is_invalid_transition():
    inst, the_staff, the_bureau = await _draft_world()
    app = await svc.create_institution_application(the_staff, inst.id, **service_application())
    before = await snapshot()

    errors = await refused(
        "fileInstitution", {"applicationId": gid("InstitutionApplication", app.id)}, the_bureau
    )

    assert [(e["field"], e["code"]) for e in errors] == [("status", "INVALID_TRANSITION")]
    assert await snapshot() == before


async def test_second_chair_is_payload_error():
    inst = await factories.institution()
    committee = await committee_with_roster(inst, roster=1)
    newcomer = await factories.expert(institution=inst)
    the_staff = await staff(inst)
    before = await snapshot()

    errors = await refused(
        "setCommitteeSeat",
        {
            "committeeId": gid("Committee", committee.id),
            "expertId": gid("Expert", newcomer.id),
            "seat": "CHAIR",
        },
        the_staff,
    )

    assert [(e["field"], e["code"]) for e in errors] == [("seat", "DUPLICATE")]
    assert await snapshot() == before


async def test_submit_committee_with_even_roster_is_payload_error():
    inst = await factories.institution()
    committee = await committee_with_roster(inst, roster=6)
    the_staff = await staff(inst)
    before = await snapshot()

    errors = await refused(
        "submitCommittee", {"committeeId": gid("Committee", committee.id)}, the_staff
    )

    assert [(e["field"], e["code"]) for e in errors] == [("seats", "INVALID")]
    assert await snapshot() == before


async def test_file_committee_of_suspended_institution_is_payload_error_r2():
    inst = await factories.institution()
    committee = await committee_with_roster(inst, F.SUBMITTED)
    await Institution.filter(id=inst.id).update(status=F.SUSPENDED)
    before = await snapshot()

    errors = await refused(
        "fileCommittee", {"committeeId": gid("Committee", committee.id)}, await bureau()
    )

    assert [(e["field"], e["code"]) for e in errors] == [("institutionId", "INSTITUTION_SUSPENDED")]
    assert await snapshot() == before


async def test_publish_incomplete_plan_names_missing_field():
    inst = await factories.institution()
    committee = await committee_with_roster(inst, F.FILED, roster=0)
    the_staff = await staff(inst)
    plan = await svc.save_annual_plan(the_staff, committee.id, TODAY.year, method="答辩")
    before = await snapshot()

    errors = await refused("publishAnnualPlan", {"planId": gid("AnnualPlan", plan.id)}, the_staff)

    assert [(e["field"], e["code"]) for e in errors] == [("conditions", "REQUIRED")]
    assert await snapshot() == before


async def test_future_assessment_date_is_payload_error():
    inst = await factories.institution()
    before = await snapshot()

    errors = await refused(
        "recordInstitutionAssessment",
        {
            "institutionId": gid("Institution", inst.id),
            "method": "ACCEPTANCE",
            "assessedOn": (TODAY + dt.timedelta(days=1)).isoformat(),
            "findings": "良好",
            "result": "PASS",
        },
        await bureau(),
    )

    assert [(e["field"], e["code"]) for e in errors] == [("assessedOn", "INVALID")]
    assert await snapshot() == before


async def test_create_institution_duplicate_name_is_payload_error():
    the_bureau = await bureau()
    await svc.create_institution(the_bureau, name="重名机构", kind="association")
    before = await snapshot()

    errors = await refused(
        "createInstitution", {"name": "重名机构", "kind": "TALENT_SERVICE"}, the_bureau
    )

    assert [(e["field"], e["code"]) for e in errors] == [("name", "DUPLICATE")]
    assert await snapshot() == before


# --- optimistic locking -------------------------------------------------------------


async def test_stale_version_on_application_update_is_version_conflict():
    inst, the_staff, _ = await _draft_world()
    app = await svc.create_institution_application(the_staff, inst.id, **service_application())
    app_gid = gid("InstitutionApplication", app.id)
    await ok(
        "updateInstitutionApplication",
        {"applicationId": app_gid, "version": 1, "purpose": "第一次修改"},
        the_staff,
    )
    before = await snapshot()

    errors = await refused(
        "updateInstitutionApplication",
        {"applicationId": app_gid, "version": 1, "purpose": "基于旧版本的修改"},
        the_staff,
    )

    assert [(e["field"], e["code"]) for e in errors] == [("version", "VERSION_CONFLICT")]
    assert await snapshot() == before
    assert (await InstitutionApplication.get(id=app.id)).content["purpose"] == "第一次修改"


@pytest.mark.parametrize(
    "name", ["submitInstitutionApplication", "submitCommittee", "publishAnnualPlan"]
)
async def test_stale_version_on_transition_is_version_conflict(name):
    inst = await factories.institution()
    the_staff = await staff(inst)
    if name == "submitInstitutionApplication":
        app = await svc.create_institution_application(the_staff, inst.id, **service_application())
        input = {"applicationId": gid("InstitutionApplication", app.id), "version": 0}
    elif name == "submitCommittee":
        committee = await committee_with_roster(inst)
        input = {"committeeId": gid("Committee", committee.id), "version": 0}
    else:
        committee = await committee_with_roster(inst, F.FILED, roster=0)
        the_plan = await svc.save_annual_plan(
            the_staff,
            committee.id,
            TODAY.year,
            conditions="条件",
            procedure="程序",
            method="方式",
            contact_phone="010-66001234",
            acceptance_start=TODAY,
            acceptance_end=TODAY,
            material_requirements="材料",
        )
        input = {"planId": gid("AnnualPlan", the_plan.id), "version": 0}
    before = await snapshot()

    errors = await refused(name, input, the_staff)

    assert [(e["field"], e["code"]) for e in errors] == [("version", "VERSION_CONFLICT")]
    assert await snapshot() == before


async def test_save_existing_plan_without_version_is_version_conflict():
    inst = await factories.institution()
    committee = await committee_with_roster(inst, F.FILED, roster=0)
    the_staff = await staff(inst)
    await ok("saveAnnualPlan", plan_input(committee), the_staff)
    before = await snapshot()

    errors = await refused("saveAnnualPlan", plan_input(committee, method="另一版本"), the_staff)

    assert [(e["field"], e["code"]) for e in errors] == [("version", "VERSION_CONFLICT")]
    assert await snapshot() == before


# --- Idempotency-Key (issue 4 §4) ---------------------------------------------------

CREATE_APPLICATION = document("createInstitutionApplication")


async def _post(client: Any, input: dict[str, Any], key: str) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": CREATE_APPLICATION, "variables": {"input": input}},
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 200
    return response.json()["data"]["createInstitutionApplication"]


async def test_create_institution_application_replay_returns_first_and_creates_nothing(http_as):
    inst, the_staff, _ = await _draft_world()
    input = application_input(inst)
    async with http_as(the_staff) as client:
        first = await _post(client, input, KEY)
        audit_after_first = await AuditEvent.all().count()
        again = await _post(client, input, KEY)
        mismatch = await _post(client, input | {"purpose": "另一份申请"}, KEY)

    assert first["errors"] == [] and again == first
    assert await InstitutionApplication.all().count() == 1
    assert await AuditEvent.all().count() == audit_after_first
    assert mismatch == {
        "application": None,
        "errors": [
            {
                "field": "Idempotency-Key",
                "code": "IDEMPOTENCY_MISMATCH",
                "message": "该 Idempotency-Key 已用于另一个不同的请求",
            }
        ],
    }


async def test_create_institution_replay_over_http_creates_one(http_as):
    the_bureau = await bureau()
    document_ = document("createInstitution")
    body = {
        "query": document_,
        "variables": {"input": {"name": "幂等机构", "kind": "TALENT_SERVICE"}},
    }
    async with http_as(the_bureau) as client:
        answers = [
            (await client.post("/graphql", json=body, headers={"Idempotency-Key": KEY})).json()
            for _ in range(2)
        ]

    assert answers[0] == answers[1]
    assert answers[0]["data"]["createInstitution"]["errors"] == []
    assert await Institution.all().count() == 1


# --- permission matrix: every mutation × every role ---------------------------------

ROLES = ("bureau", "own", "other", "expert", "anonymous", "partner")
OK, FORBIDDEN, NOT_FOUND, UNAUTH = "ok", "FORBIDDEN", "NOT_FOUND", "UNAUTHENTICATED"


def _expect(outcomes: tuple[str, ...]) -> dict[str, str]:
    return dict(zip(ROLES, outcomes, strict=True))


# The target is visible to everyone (a filed institution / committee): the action is
# forbidden, or asks an anonymous caller to log in.
BUREAU_ON_PUBLIC = _expect((OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, UNAUTH, FORBIDDEN))
STAFF_ON_PUBLIC = _expect((FORBIDDEN, OK, FORBIDDEN, FORBIDDEN, UNAUTH, FORBIDDEN))
# The target is private (a draft, an application): outside the scope it looks absent.
BUREAU_ON_PRIVATE = _expect((OK, FORBIDDEN, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND))
STAFF_ON_PRIVATE = _expect((FORBIDDEN, OK, NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND))


@dataclass
class World:
    home: Institution  # filed; "own" staff work here
    actors: dict[str, Actor]


async def _world() -> World:
    home = await factories.institution()
    elsewhere = await factories.institution()
    actors = {
        "bureau": await bureau(),
        "own": await staff(home),
        "other": await staff(elsewhere),
        "expert": await expert_actor(),
        "anonymous": ANONYMOUS,
        "partner": partner(),
    }
    return World(home, actors)


Setup = Callable[[World], Awaitable[dict[str, Any]]]


async def _create_institution(w: World) -> dict[str, Any]:
    return {"name": "新申请单位", "kind": "EMPLOYER"}


async def _create_application(w: World) -> dict[str, Any]:
    return application_input(w.home)  # a re-filing of the filed institution


async def _draft_application(w: World) -> InstitutionApplication:
    return await svc.create_institution_application(
        w.actors["own"], w.home.id, **service_application()
    )


async def _update_application(w: World) -> dict[str, Any]:
    app = await _draft_application(w)
    return {
        "applicationId": gid("InstitutionApplication", app.id),
        "version": app.version,
        "strengths": "新增服务",
    }


async def _submit_application(w: World) -> dict[str, Any]:
    app = await _draft_application(w)
    return {"applicationId": gid("InstitutionApplication", app.id), "version": app.version}


async def _submitted_app(w: World) -> InstitutionApplication:
    app = await _draft_application(w)
    return await svc.submit_institution_application(w.actors["own"], app.id)


async def _file_institution(w: World) -> dict[str, Any]:
    return {"applicationId": gid("InstitutionApplication", (await _submitted_app(w)).id)}


async def _reject_application(w: World) -> dict[str, Any]:
    app = await _submitted_app(w)
    return {"applicationId": gid("InstitutionApplication", app.id), "reason": "材料不全"}


async def _institution_status(w: World) -> dict[str, Any]:
    return {"institutionId": gid("Institution", w.home.id), "reason": "违规"}


async def _create_committee(w: World) -> dict[str, Any]:
    return committee_input(w.home)


async def _update_committee(w: World) -> dict[str, Any]:
    committee = await committee_with_roster(w.home, roster=0)
    return {
        "committeeId": gid("Committee", committee.id),
        "version": committee.version,
        "procedure": "新程序",
    }


async def _submit_committee(w: World) -> dict[str, Any]:
    committee = await committee_with_roster(w.home)
    return {"committeeId": gid("Committee", committee.id), "version": committee.version}


async def _file_committee(w: World) -> dict[str, Any]:
    committee = await committee_with_roster(w.home, F.SUBMITTED)
    return {"committeeId": gid("Committee", committee.id)}


async def _reject_committee(w: World) -> dict[str, Any]:
    committee = await committee_with_roster(w.home, F.SUBMITTED)
    return {"committeeId": gid("Committee", committee.id), "reason": "名单不符"}


async def _set_seat(w: World) -> dict[str, Any]:
    committee = await committee_with_roster(w.home, roster=0)
    expert = await factories.expert(institution=w.home)
    return {
        "committeeId": gid("Committee", committee.id),
        "expertId": gid("Expert", expert.id),
        "seat": "MEMBER",
    }


async def _save_plan(w: World) -> dict[str, Any]:
    return plan_input(await committee_with_roster(w.home, F.FILED, roster=0))


async def _publish_plan(w: World) -> dict[str, Any]:
    committee = await committee_with_roster(w.home, F.FILED, roster=0)
    fields = plan_input(committee)
    plan = await svc.save_annual_plan(
        w.actors["own"],
        committee.id,
        fields["year"],
        conditions=fields["conditions"],
        procedure=fields["procedure"],
        method=fields["method"],
        contact_phone=fields["contactPhone"],
        acceptance_start=TODAY,
        acceptance_end=TODAY + dt.timedelta(days=30),
        material_requirements=fields["materialRequirements"],
    )
    return {"planId": gid("AnnualPlan", plan.id), "version": plan.version}


async def _assessment(w: World) -> dict[str, Any]:
    return {
        "institutionId": gid("Institution", w.home.id),
        "method": "OBSERVATION",
        "assessedOn": TODAY.isoformat(),
        "findings": "现场观摩",
        "result": "PASS",
    }


MATRIX: dict[str, tuple[Setup, dict[str, str]]] = {
    "createInstitution": (_create_institution, BUREAU_ON_PUBLIC),
    "createInstitutionApplication": (_create_application, STAFF_ON_PUBLIC),
    "updateInstitutionApplication": (_update_application, STAFF_ON_PRIVATE),
    "submitInstitutionApplication": (_submit_application, STAFF_ON_PRIVATE),
    "fileInstitution": (_file_institution, BUREAU_ON_PRIVATE),
    "rejectInstitutionApplication": (_reject_application, BUREAU_ON_PRIVATE),
    "suspendInstitution": (_institution_status, BUREAU_ON_PUBLIC),
    "revokeInstitution": (_institution_status, BUREAU_ON_PUBLIC),
    "createCommitteeApplication": (_create_committee, STAFF_ON_PUBLIC),
    "updateCommitteeApplication": (_update_committee, STAFF_ON_PRIVATE),
    "submitCommittee": (_submit_committee, STAFF_ON_PRIVATE),
    "fileCommittee": (_file_committee, BUREAU_ON_PRIVATE),
    "rejectCommittee": (_reject_committee, BUREAU_ON_PRIVATE),
    "setCommitteeSeat": (_set_seat, STAFF_ON_PRIVATE),
    "saveAnnualPlan": (_save_plan, STAFF_ON_PUBLIC),
    "publishAnnualPlan": (_publish_plan, STAFF_ON_PRIVATE),
    "recordInstitutionAssessment": (_assessment, BUREAU_ON_PUBLIC),
}


def test_permission_matrix_covers_every_institution_mutation():
    import strawberry

    from schema.institution import InstitutionMutation

    names = [
        f.graphql_name or strawberry.utils.str_converters.to_camel_case(f.python_name)
        for f in InstitutionMutation.__strawberry_definition__.fields
    ]
    assert sorted(MATRIX) == sorted(MUTATIONS) == sorted(names)


def test_mutation_root_refuses_two_domains_defining_one_mutation():
    """A silent override would drop one domain's mutation from the partner contract."""
    import strawberry

    from schema.institution import InstitutionMutation
    from schema.mutation import mutation_root

    @strawberry.type(description="重复定义。")
    class Clashing:
        @strawberry.mutation(description="与评审机构领域同名。")
        def suspend_institution(self) -> bool:
            return True

    with pytest.raises(ValueError, match="suspend_institution defined by both"):
        mutation_root(InstitutionMutation, Clashing)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(MATRIX))
async def test_permission_matrix(name: str, role: str):
    """Each mutation as each role: success, or the top-level error code with nothing
    changed and no audit event (ARCHITECTURE "Permission matrix")."""
    world = await _world()
    setup, expected = MATRIX[name]
    input = await setup(world)
    before = await snapshot()

    result = await mutate(name, input, world.actors[role])

    if expected[role] == OK:
        assert data(result)[name]["errors"] == []
        assert await AuditEvent.all().count() > len(before["AuditEvent"])
    else:
        assert codes(result) == [expected[role]]
        assert result.data is None
        assert await snapshot() == before


# --- queries: who sees applications, assessments, figures, rosters -------------------

INSTITUTION_DETAIL = """query($id: ID!) { institution(id: $id) {
  applications { id status } assessments { result findings }
  complaintFigures { received answeredOnTime overdue open } } }"""


async def _detailed_institution() -> tuple[Institution, Actor]:
    inst = await factories.institution()
    the_staff = await staff(inst)
    await svc.create_institution_application(the_staff, inst.id, **service_application())
    await svc.record_institution_assessment(
        await bureau(),
        inst.id,
        method="inquiry",
        assessed_on=TODAY,
        findings="质询记录",
        result="pass",
    )
    return inst, the_staff


async def test_applications_assessments_and_figures_visible_to_own_staff_and_bureau():
    inst, the_staff = await _detailed_institution()
    app = await InstitutionApplication.get(institution_id=inst.id)
    expected = {
        "applications": [{"id": gid("InstitutionApplication", app.id), "status": "DRAFT"}],
        "assessments": [{"result": "PASS", "findings": "质询记录"}],
        "complaintFigures": {"received": 0, "answeredOnTime": 0, "overdue": 0, "open": 0},
    }

    for actor in (the_staff, await bureau()):
        seen = data(await gql(INSTITUTION_DETAIL, {"id": gid("Institution", inst.id)}, actor=actor))
        assert seen["institution"] == expected


@pytest.mark.parametrize("role", ["other", "expert", "anonymous", "partner"])
async def test_applications_assessments_and_figures_hidden_from_others(role: str):
    """The institution is public (filed); its applications, assessments and complaint
    figures are not: they look absent."""
    inst, _ = await _detailed_institution()
    actor = {
        "other": await staff(await factories.institution()),
        "expert": await expert_actor(),
        "anonymous": ANONYMOUS,
        "partner": partner(),
    }[role]

    seen = data(await gql(INSTITUTION_DETAIL, {"id": gid("Institution", inst.id)}, actor=actor))

    assert seen["institution"] == {
        "applications": [],
        "assessments": [],
        "complaintFigures": None,
    }


async def test_application_node_visible_only_to_own_staff_and_bureau():
    inst, the_staff = await _detailed_institution()
    app = await InstitutionApplication.get(institution_id=inst.id)
    query = "query($id: ID!) { node(id: $id) { id ... on InstitutionApplication { status } } }"
    variables = {"id": gid("InstitutionApplication", app.id)}
    other = await staff(await factories.institution())

    assert data(await gql(query, variables, actor=the_staff))["node"] == {
        "id": variables["id"],
        "status": "DRAFT",
    }
    assert data(await gql(query, variables, actor=await bureau()))["node"]["status"] == "DRAFT"
    assert data(await gql(query, variables, actor=other))["node"] is None
    assert data(await gql(query, variables))["node"] is None


ROSTER = "query($id: ID!) { committee(id: $id) { seats { expertNumber seat } } }"


async def test_committee_roster_visible_to_bureau_and_own_staff_only():
    """R19 seals panels, not rosters; still the roster is not public."""
    inst = await factories.institution()
    committee = await committee_with_roster(inst, F.FILED, roster=3)
    numbers = sorted(
        await CommitteeSeat.filter(committee_id=committee.id).values_list(
            "expert__number", flat=True
        )
    )
    variables = {"id": gid("Committee", committee.id)}

    for actor in (await staff(inst), await bureau()):
        seats = data(await gql(ROSTER, variables, actor=actor))["committee"]["seats"]
        assert sorted(s["expertNumber"] for s in seats) == numbers
    for actor in (await staff(await factories.institution()), ANONYMOUS, partner()):
        assert data(await gql(ROSTER, variables, actor=actor))["committee"] == {"seats": []}


EXPIRING = """query($days: Int!) { expiringFilings(days: $days) {
  kind filingId name validUntil daysLeft institution { id } } }"""


async def test_expiring_filings_dashboard_is_scoped():
    a = await factories.institution(valid_until=TODAY + dt.timedelta(days=20))
    b = await factories.institution(valid_until=TODAY + dt.timedelta(days=200))
    b_committee = await committee_with_roster(b, F.FILED, roster=0)
    await Committee.filter(id=b_committee.id).update(valid_until=TODAY + dt.timedelta(days=60))

    everything = data(await gql(EXPIRING, {"days": 90}, actor=await bureau()))
    own_a = data(await gql(EXPIRING, {"days": 90}, actor=await staff(a)))
    own_b = data(await gql(EXPIRING, {"days": 90}, actor=await staff(b)))
    wider = data(await gql(EXPIRING, {"days": 366}, actor=await bureau()))

    a_row = {
        "kind": "INSTITUTION",
        "filingId": gid("Institution", a.id),
        "name": a.name,
        "validUntil": (TODAY + dt.timedelta(days=20)).isoformat(),
        "daysLeft": 20,
        "institution": {"id": gid("Institution", a.id)},
    }
    c_row = {
        "kind": "COMMITTEE",
        "filingId": gid("Committee", b_committee.id),
        "name": b_committee.name,
        "validUntil": (TODAY + dt.timedelta(days=60)).isoformat(),
        "daysLeft": 60,
        "institution": {"id": gid("Institution", b.id)},
    }
    assert everything["expiringFilings"] == [a_row, c_row]
    assert own_a["expiringFilings"] == [a_row]
    assert own_b["expiringFilings"] == [c_row]
    assert [r["filingId"] for r in wider["expiringFilings"]] == [
        gid("Institution", a.id),
        gid("Committee", b_committee.id),
        gid("Institution", b.id),
    ]


async def test_expiring_filings_needs_login_and_a_sane_window():
    anonymous = await gql(EXPIRING, {"days": 90})
    too_wide = await gql(EXPIRING, {"days": 367}, actor=await bureau())

    assert (codes(anonymous), anonymous.data) == (["UNAUTHENTICATED"], None)
    assert codes(too_wide) == ["BAD_USER_INPUT"]
    assert (too_wide.errors or [])[0].extensions["field"] == "days"  # type: ignore[index]
