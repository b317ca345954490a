"""Idempotency-Key on every creating mutation (issue 11 §4), over HTTP through the
real schema: a sequential replay returns the same answer and creates one row; 10
concurrent requests with one key create one row; the same key with another body is
IDEMPOTENCY_MISMATCH; another actor's identical key is not a replay.

The mutations are enumerated from the schema (every mutation whose description says
it supports Idempotency-Key): a new one fails `test_every_keyed_mutation_has_a_case`
until it gets a case here.
"""

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from graphql import GraphQLObjectType, get_named_type
from tortoise.models import Model

from models import (
    AnnualPlan,
    AuditEvent,
    Committee,
    ComplaintNote,
    ConflictDeclaration,
    Draw,
    EvaluationSession,
    ExpertApplication,
    ExpertAssessment,
    ExpertTerm,
    ExpertUpdate,
    IdempotencyKey,
    Institution,
    InstitutionApplication,
    InstitutionAssessment,
    Recording,
    SupervisorAssignment,
    TrainingRecord,
    Vote,
)
from models.enums import ComplaintKind, ComplaintStatus, Role, TargetType
from resolvers import complaint as complaints
from resolvers import evaluation
from resolvers.actor import Actor, Grant
from resolvers.common import beijing_today
from resolvers.eligibility import term_end
from schema import build_schema
from schema.relay import to_global_id
from tests import factories
from tests.resolvers import test_evaluation as ev
from tests.schema import test_expert_mutations as em
from tests.schema import test_institution_mutations as im
from tests.schema.conftest import graphql_app

KEY = "reliability-0b7f6c1e-2d4a-4c2b-9f1e-5a7d3c9b8e21"
CONCURRENT = 10
SCHEMA = build_schema()._schema


def gid(type_name: str, pk: Any) -> str:
    return to_global_id(type_name, int(pk))


def keyed_mutations() -> list[str]:
    mutation = SCHEMA.mutation_type
    assert mutation is not None
    return sorted(
        name
        for name, field in mutation.fields.items()
        if "Idempotency-Key" in (field.description or "")
    )


def document(name: str) -> str:
    """The mutation with every scalar of its payload and the id of every object."""
    mutation = SCHEMA.mutation_type
    assert mutation is not None
    field = mutation.fields[name]
    input_type = field.args["input"].type
    payload = get_named_type(field.type)
    assert isinstance(payload, GraphQLObjectType)
    parts = []
    for fname, f in payload.fields.items():
        named = get_named_type(f.type)
        if fname == "errors":
            parts.append("errors { field code message }")
        elif isinstance(named, GraphQLObjectType):
            parts.append(f"{fname} {{ {'id' if 'id' in named.fields else '__typename'} }}")
        else:
            parts.append(fname)
    return f"mutation($input: {input_type}) {{ {name}(input: $input) {{ {' '.join(parts)} }} }}"


@dataclass
class Case:
    actor: Actor
    other: Actor  # another actor allowed to make the same request
    input: dict[str, Any]
    changed: dict[str, Any]  # the same request with another body
    model: type[Model]


Setup = Callable[[], Awaitable[Case]]


def _changed(input: dict[str, Any], **over: Any) -> dict[str, Any]:
    return {**input, **over}


# --- institution domain ---------------------------------------------------------------


async def _create_institution() -> Case:
    w = await im._world()
    input = await im.MATRIX["createInstitution"][0](w)
    return Case(
        w.actors["bureau"],
        await im.bureau(),
        input,
        _changed(input, name="另一个评审机构"),
        Institution,
    )


async def _create_institution_application() -> Case:
    w = await im._world()
    input = await im.MATRIX["createInstitutionApplication"][0](w)
    return Case(
        w.actors["own"],
        await im.staff(w.home),
        input,
        _changed(input, strengths="另一份申请的优势"),
        InstitutionApplication,
    )


async def _create_committee_application() -> Case:
    w = await im._world()
    input = await im.MATRIX["createCommitteeApplication"][0](w)
    return Case(
        w.actors["own"],
        await im.staff(w.home),
        input,
        _changed(input, procedure="另一套评审程序"),
        Committee,
    )


async def _save_annual_plan() -> Case:
    w = await im._world()
    input = await im.MATRIX["saveAnnualPlan"][0](w)
    return Case(
        w.actors["own"],
        await im.staff(w.home),
        input,
        _changed(input, method="另一种评审方式"),
        AnnualPlan,
    )


async def _record_institution_assessment() -> Case:
    w = await im._world()
    input = await im.MATRIX["recordInstitutionAssessment"][0](w)
    return Case(
        w.actors["bureau"],
        await im.bureau(),
        input,
        _changed(input, findings="另一份考核意见"),
        InstitutionAssessment,
    )


# --- expert domain -----------------------------------------------------------------------


async def _recommend_expert() -> Case:
    w = await em.world()
    input = em.person(w.unit, w.home)
    return Case(
        w.recommender,
        await em.recommender(w.authority),
        input,
        _changed(input, field="另一个研究方向"),
        ExpertApplication,
    )


async def _invite_expert() -> Case:
    w = await em.world()
    input = {**em.person(w.unit, w.home), "category": "ACADEMICIAN"}
    return Case(
        w.bureau,
        await em.bureau(),
        input,
        _changed(input, field="另一个研究方向"),
        ExpertApplication,
    )


async def _request_expert_update() -> Case:
    w = await em.world()
    target = await em.pooled(w)
    input = {"expertId": gid("Expert", target.id), "title": "研究员"}
    return Case(
        await em.self_of(target.id),
        await em.self_of(target.id),
        input,
        _changed(input, title="正高级工程师"),
        ExpertUpdate,
    )


async def _record_training() -> Case:
    w = await em.world()
    target = await em.pooled(w)
    input = {
        "expertId": gid("Expert", target.id),
        "trainedOn": beijing_today().isoformat(),
        "topic": "评审纪律与回避",
        "year": beijing_today().year,
    }
    return Case(
        w.staff,
        await em.staff(w.home),
        input,
        _changed(input, topic="另一个培训主题"),
        TrainingRecord,
    )


async def _record_expert_assessment() -> Case:
    w = await em.world()
    target = await em.pooled(w)
    today = beijing_today()
    term = await ExpertTerm.create(expert=target, number=1, start_on=today, end_on=term_end(today))
    input = {
        "expertId": gid("Expert", target.id),
        "termId": gid("ExpertTerm", term.id),
        "quality": "评审质量好",
        "duties": "按时参加评审",
        "supervision": "无问题",
        "result": "PASS",
    }
    return Case(
        w.staff,
        await em.staff(w.home),
        input,
        _changed(input, quality="另一份考核意见"),
        ExpertAssessment,
    )


# --- evaluation sessions -----------------------------------------------------------------


async def _staff_of(w: Any) -> Actor:
    return await ev._actor(Grant(Role.INSTITUTION, institution_id=w.inst.id))


async def _create_evaluation_session() -> Case:
    w = await ev._world(5)
    input = {
        "committeeId": gid("Committee", w.committee.id),
        "startsAt": ev._at(ev.SESSION_DAY, 9).isoformat(),
        "endsAt": ev._at(ev.SESSION_DAY, 17).isoformat(),
        "place": "评审会议室",
        "panelSize": 3,
        "backupCount": 1,
    }
    return Case(
        w.staff, await _staff_of(w), input, _changed(input, place="另一间会议室"), EvaluationSession
    )


async def _declare_conflict() -> Case:
    w = await ev._world(5)
    session = await ev._session(w)
    applicant = await evaluation.SessionApplicant.filter(session_id=session.id).first()
    assert applicant is not None
    input = {
        "sessionId": gid("EvaluationSession", session.id),
        "kind": "OTHER",
        "applicantId": gid("SessionApplicant", applicant.id),
        "expertId": gid("Expert", w.experts[-1].id),
        "detail": "该专家曾指导申报人的博士论文",
    }
    return Case(
        w.staff,
        await _staff_of(w),
        input,
        _changed(input, detail="该专家与申报人合作发表论文"),
        ConflictDeclaration,
    )


async def _assign_supervisor() -> Case:
    w = await ev._world(5)
    session = await ev._session(w, supervisor=False)
    other_supervisor = await ev._actor(Grant(Role.SUPERVISOR))
    input = {
        "sessionId": gid("EvaluationSession", session.id),
        "userId": gid("User", w.supervisor.user_id),
    }
    return Case(
        w.bureau,
        await ev._actor(Grant(Role.BUREAU)),
        input,
        _changed(input, userId=gid("User", other_supervisor.user_id)),
        SupervisorAssignment,
    )


async def _commit_draw() -> Case:
    w = await ev._world(8, vice_chairs=3)
    session = await ev._session(w)
    another = await ev._session(w, day=ev.SESSION_DAY + dt.timedelta(days=7))
    input = {"sessionId": gid("EvaluationSession", session.id)}
    return Case(
        w.staff,
        await _staff_of(w),
        input,
        {"sessionId": gid("EvaluationSession", another.id)},
        Draw,
    )


async def _redraw() -> Case:
    """R10: a redraw is an assigned supervisor's act; `other` is a second one."""
    w = await ev._world(8, vice_chairs=3)
    session = await ev._drawn(w)
    second = await ev._actor(Grant(Role.SUPERVISOR))
    await evaluation.assign_supervisor(w.bureau, session.id, second.user_id or 0)
    input = {
        "sessionId": gid("EvaluationSession", session.id),
        "reason": "抽取时设备故障,监督委员确认重新抽取",
    }
    return Case(w.supervisor, second, input, _changed(input, reason="另一个重新抽取的理由"), Draw)


async def _sitting() -> tuple[Any, EvaluationSession, list[Any]]:
    w = await ev._world(5)
    session = await ev._drawn(w)
    present = await ev._sit(w, session)
    return w, session, present


async def _cast_vote() -> Case:
    _, session, present = await _sitting()
    applicant = await evaluation.SessionApplicant.filter(session_id=session.id).first()
    assert applicant is not None
    input = {
        "sessionId": gid("EvaluationSession", session.id),
        "applicantId": gid("SessionApplicant", applicant.id),
        "choice": "FOR",
    }
    return Case(
        await ev._expert_actor(present[0]),
        await ev._expert_actor(present[1]),
        input,
        _changed(input, choice="AGAINST"),
        Vote,
    )


async def _attach_recording() -> Case:
    w, session, _ = await _sitting()
    input = {
        "sessionId": gid("EvaluationSession", session.id),
        "kind": "VIDEO",
        "uri": "s3://recordings/session-1.mp4",
        "sizeBytes": 1024,
        "sha256": "a" * 64,
    }
    return Case(
        w.staff,
        await _staff_of(w),
        input,
        _changed(input, uri="s3://recordings/session-2.mp4"),
        Recording,
    )


# --- complaints --------------------------------------------------------------------------


async def _submit_complaint() -> Case:
    inst = await factories.institution()
    input = {
        "kind": "COMPLAINT",
        "targetType": "INSTITUTION",
        "targetId": inst.id,
        "facts": "2026年5月评审会上,该机构未按规定组织专家回避,请予核查。",
        "anonymous": True,
    }
    return Case(
        Actor(client_addr="10.7.0.1"),
        Actor(client_addr="10.7.0.2"),
        input,
        _changed(input, facts="该机构收取评审费用后未组织评审,请予核查。"),
        complaints.Complaint,
    )


async def _add_complaint_note() -> Case:
    inst = await factories.institution()
    found, _ = await complaints.submit_complaint(
        Actor(client_addr="10.7.1.1"),
        kind=ComplaintKind.COMPLAINT,
        target_type=TargetType.INSTITUTION,
        target_id=inst.id,
        facts="2026年5月评审会上,该机构未按规定组织专家回避,请予核查。",
        anonymous=True,
    )
    bureau = await ev._actor(Grant(Role.BUREAU))
    await complaints.screen_complaint(bureau, found.id, accept=True)
    assert (await complaints.Complaint.get(id=found.id)).status == ComplaintStatus.ACCEPTED
    input = {"complaintId": gid("Complaint", found.id), "body": "已电话联系被投诉机构核实情况"}
    return Case(
        bureau,
        await ev._actor(Grant(Role.BUREAU)),
        input,
        _changed(input, body="已调取评审会议录像"),
        ComplaintNote,
    )


CASES: dict[str, Setup] = {
    "createInstitution": _create_institution,
    "createInstitutionApplication": _create_institution_application,
    "createCommitteeApplication": _create_committee_application,
    "saveAnnualPlan": _save_annual_plan,
    "recordInstitutionAssessment": _record_institution_assessment,
    "recommendExpert": _recommend_expert,
    "inviteExpert": _invite_expert,
    "requestExpertUpdate": _request_expert_update,
    "recordTraining": _record_training,
    "recordExpertAssessment": _record_expert_assessment,
    "createEvaluationSession": _create_evaluation_session,
    "declareConflict": _declare_conflict,
    "assignSupervisor": _assign_supervisor,
    "commitDraw": _commit_draw,
    "redraw": _redraw,
    "castVote": _cast_vote,
    "attachRecording": _attach_recording,
    "submitComplaint": _submit_complaint,
    "addComplaintNote": _add_complaint_note,
}

# Answered only to the first request: the complaint's query password is stored as a
# hash, so a replay cannot repeat it (the tracking code and the rest are the same).
FIRST_ANSWER_ONLY = {"submitComplaint": {"queryPassword"}}


def test_every_keyed_mutation_has_a_case():
    assert sorted(CASES) == keyed_mutations()
    assert len(CASES) >= 19


async def _post(actor: Actor, name: str, input: dict[str, Any], key: str) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=graphql_app(actor))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        response = await c.post(
            "/graphql",
            json={"query": document(name), "variables": {"input": input}},
            headers={"Idempotency-Key": key},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body["data"][name]


def _comparable(name: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k not in FIRST_ANSWER_ONLY.get(name, set())}


def _created_id(payload: dict[str, Any]) -> Any:
    """The id (or public code) of the created object: the payload's first object
    (an object without an id, like an assessment, counts by its presence)."""
    for value in payload.values():
        if isinstance(value, dict):
            return value.get("id", value)
    return payload.get("trackingCode")


async def _rows(model: type[Model]) -> tuple[int, int]:
    return await model.all().count(), await AuditEvent.all().count()


@pytest.mark.parametrize("name", sorted(CASES))
async def test_sequential_replay_returns_the_first_answer_and_one_row(name):
    case = await CASES[name]()
    rows, _ = await _rows(case.model)

    first = await _post(case.actor, name, case.input, KEY)
    assert first["errors"] == [], first
    after_first = await _rows(case.model)
    assert after_first[0] == rows + 1

    again = await _post(case.actor, name, case.input, KEY)
    third = await _post(case.actor, name, case.input, KEY)
    assert _comparable(name, again) == _comparable(name, first) == _comparable(name, third)
    assert await _rows(case.model) == after_first  # no row, no audit event
    for field in FIRST_ANSWER_ONLY.get(name, ()):
        assert first[field] and again[field] is None


@pytest.mark.parametrize("name", sorted(CASES))
async def test_concurrent_requests_with_one_key_create_one_row(name):
    case = await CASES[name]()
    rows, events = await _rows(case.model)

    answers = await asyncio.gather(
        *(_post(case.actor, name, case.input, KEY) for _ in range(CONCURRENT))
    )

    assert all(a["errors"] == [] for a in answers), answers
    assert len({repr(_comparable(name, a)) for a in answers}) == 1
    count, after = await _rows(case.model)
    assert count == rows + 1
    assert await IdempotencyKey.all().count() == 1
    assert after > events  # the one creation's audit events; replays write none
    later = await _post(case.actor, name, case.input, KEY)
    assert _comparable(name, later) == _comparable(name, answers[0])
    assert await _rows(case.model) == (count, after)


@pytest.mark.parametrize("name", sorted(CASES))
async def test_same_key_with_another_body_is_refused_and_creates_nothing(name):
    case = await CASES[name]()
    first = await _post(case.actor, name, case.input, KEY)
    assert first["errors"] == []
    before = await _rows(case.model)

    mismatch = await _post(case.actor, name, case.changed, KEY)

    assert [(e["code"], e["field"]) for e in mismatch["errors"]] == [
        ("IDEMPOTENCY_MISMATCH", "Idempotency-Key")
    ]
    assert "另一个不同的请求" in mismatch["errors"][0]["message"]
    assert _created_id(mismatch) is None
    assert await _rows(case.model) == before


@pytest.mark.parametrize("name", sorted(CASES))
async def test_another_actors_identical_key_is_not_a_replay(name):
    case = await CASES[name]()
    first = await _post(case.actor, name, case.input, KEY)
    assert first["errors"] == []
    rows, _ = await _rows(case.model)

    theirs = await _post(case.other, name, case.input, KEY)

    # Either their own new object, or their own refusal (e.g. DUPLICATE): never ours.
    if theirs["errors"]:
        assert _created_id(theirs) is None
        assert "IDEMPOTENCY_MISMATCH" not in {e["code"] for e in theirs["errors"]}
        assert (await _rows(case.model))[0] == rows
    else:
        assert (await _rows(case.model))[0] == rows + 1  # a new row: not a replay
        if isinstance(_created_id(first), str):
            assert _created_id(theirs) != _created_id(first)
    assert await IdempotencyKey.filter(key=KEY).count() == (1 if theirs["errors"] else 2)
