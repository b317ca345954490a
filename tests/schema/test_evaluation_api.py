"""The GraphQL layer of evaluation sessions and certificates (issue 4 root operations,
issue 7 mutations): a full session walked through the API (R10, R14, R15, R18), the
sealed panel (R19) and the permission matrix of the session mutations."""

import datetime as dt
import hashlib
import json
from typing import Any

import pytest

from models import EvaluationSession, Expert, SessionApplicant
from models.enums import Role
from resolvers import evaluation as svc
from resolvers.actor import ANONYMOUS, Actor, Grant
from schema.relay import to_global_id
from tests import factories
from tests.resolvers.test_evaluation import (
    SESSION_DAY,
    _actor,
    _applicant,
    _at,
    _drawn,
    _expert_actor,
    _session,
    _state,
    _world,
)
from tests.schema.conftest import codes, data, gql

SESSION_FIELDS = """
    id year startsAt endsAt place panelSize backupCount status finalisedAt version
    committee { id name }
    applicants { id name idNumberMasked unitId series specialty level result
                 votesFor votesAgainst votesAbstain recordedByBureauAt }
    supervisors { id userId assignedAt }
    draws { id status poolHash secretHash entropy seed secretRevealed committedAt
            executedAt abandonReason }
    panel { id expertId expertNumber expertName rank seat isBackup status declineReason
            present }
    drawBundle
    recordings { id kind uri sizeBytes sha256 }
    votes { id applicantId expertId choice paperBallot }
"""


def gid(type_name: str, pk: int | None) -> str:
    return to_global_id(type_name, pk or 0)


async def run(query: str, actor: Actor, **variables: Any) -> Any:
    return data(await gql(query, variables, actor=actor))


CREATE = """
mutation($input: CreateEvaluationSessionInput!) {
  createEvaluationSession(input: $input) {
    evaluationSession { id status panelSize }
    errors { field code message }
  }
}"""

ADD = """
mutation($input: AddSessionApplicantsInput!) {
  addSessionApplicants(input: $input) {
    applicants { id name idNumberMasked }
    errors { field code }
  }
}"""

ASSIGN = """
mutation($input: AssignSupervisorInput!) {
  assignSupervisor(input: $input) { supervisor { userId } errors { field code } }
}"""

COMMIT = """
mutation($input: SessionRefInput!) {
  commitDraw(input: $input) {
    draw { status poolHash secretHash secretRevealed seed } errors { field code }
  }
}"""

EXECUTE = """
mutation($input: ExecuteDrawInput!) {
  executeDraw(input: $input) {
    draw { status secretHash secretRevealed entropy seed } errors { field code }
  }
}"""

SESSION = "query($id: ID!) { evaluationSession(id: $id) { " + SESSION_FIELDS + " } }"


def _applicant_input(a: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": a["name"],
        "idNumber": a["id_number"],
        "unitId": gid("Unit", a["unit_id"]),
        "series": a["series"],
        "specialty": a["specialty"],
        "level": a["level"].name,
    }


async def test_session_walk_through_graphql_to_a_revoked_certificate_r10_r14_r15_r18():
    w = await _world(5)
    applicant = await _applicant()
    created = await run(
        CREATE,
        w.staff,
        input={
            "committeeId": gid("Committee", w.committee.id),
            "startsAt": _at(SESSION_DAY, 9).isoformat(),
            "endsAt": _at(SESSION_DAY, 17).isoformat(),
            "place": "评审会议室",
            "panelSize": 3,
            "backupCount": 1,
        },
    )
    payload = created["createEvaluationSession"]
    assert payload["errors"] == []
    assert payload["evaluationSession"]["status"] == "PLANNED"
    session_id = payload["evaluationSession"]["id"]

    added = await run(
        ADD, w.staff, input={"sessionId": session_id, "applicants": [_applicant_input(applicant)]}
    )
    assert added["addSessionApplicants"]["errors"] == []
    [row] = added["addSessionApplicants"]["applicants"]
    assert row["name"] == applicant["name"]
    # Personal data masked: the full ID number never comes back.
    assert row["idNumberMasked"] != applicant["id_number"]
    assert applicant["id_number"] not in json.dumps(added)
    applicant_id = row["id"]

    assigned = await run(
        ASSIGN,
        w.bureau,
        input={"sessionId": session_id, "userId": gid("User", w.supervisor.user_id)},
    )
    assert assigned["assignSupervisor"] == {
        "supervisor": {"userId": gid("User", w.supervisor.user_id)},
        "errors": [],
    }

    committed = (await run(COMMIT, w.staff, input={"sessionId": session_id}))["commitDraw"]
    assert committed["errors"] == []
    assert committed["draw"]["status"] == "COMMITTED"
    assert committed["draw"]["secretRevealed"] == ""
    assert committed["draw"]["seed"] == ""

    executed = (
        await run(EXECUTE, w.supervisor, input={"sessionId": session_id, "entropy": "骰子 6-2-5-3"})
    )["executeDraw"]
    assert executed["errors"] == []
    drawn = executed["draw"]
    assert drawn["status"] == "EXECUTED"
    assert drawn["entropy"] == "骰子 6-2-5-3"
    # R10: the revealed secret matches the published commitment.
    assert (
        hashlib.sha256(bytes.fromhex(drawn["secretRevealed"])).hexdigest()
        == (committed["draw"]["secretHash"])
    )

    seen = (await run(SESSION, w.staff, id=session_id))["evaluationSession"]
    panel = [m for m in seen["panel"] if not m["isBackup"]]
    assert len(panel) == 3
    assert json.loads(seen["drawBundle"])["entropy"] == "骰子 6-2-5-3"
    presiding = next(m for m in panel if m["seat"] in ("CHAIR", "VICE_CHAIR"))
    attended = await run(
        """mutation($input: RecordAttendanceInput!) {
          recordAttendance(input: $input) { evaluationSession { status } errors { code } } }""",
        w.staff,
        input={
            "sessionId": session_id,
            "presentExpertIds": [m["expertId"] for m in panel],
            "presidingExpertId": presiding["expertId"],
        },
    )
    assert attended["recordAttendance"] == {
        "evaluationSession": {"status": "SITTING"},
        "errors": [],
    }

    for member in panel:
        expert = await Expert.get(number=member["expertNumber"])
        voted = await run(
            """mutation($input: CastVoteInput!) {
              castVote(input: $input) { vote { choice paperBallot } errors { code } } }""",
            await _expert_actor(expert),
            input={"sessionId": session_id, "applicantId": applicant_id, "choice": "FOR"},
        )
        assert voted["castVote"] == {
            "vote": {"choice": "FOR", "paperBallot": False},
            "errors": [],
        }

    recorded = await run(
        """mutation($input: AttachRecordingInput!) {
          attachRecording(input: $input) { recording { kind sizeBytes } errors { code } } }""",
        w.staff,
        input={
            "sessionId": session_id,
            "kind": "VIDEO",
            "uri": "s3://recordings/1.mp4",
            "sizeBytes": 1024,
            "sha256": "a" * 64,
        },
    )
    assert recorded["attachRecording"] == {
        "recording": {"kind": "VIDEO", "sizeBytes": 1024},
        "errors": [],
    }

    finalised = await run(
        """mutation($input: SessionRefInput!) {
          finaliseSession(input: $input) { evaluationSession { status } errors { code } } }""",
        w.staff,
        input={"sessionId": session_id},
    )
    assert finalised["finaliseSession"] == {
        "evaluationSession": {"status": "FINALISED"},
        "errors": [],
    }

    issued = await run(
        """mutation($input: RecordPassedApplicantsInput!) {
          recordPassedApplicants(input: $input) { certificates { code kind } errors { code } } }""",
        w.bureau,
        input={"sessionId": session_id},
    )
    certificates = issued["recordPassedApplicants"]["certificates"]
    assert sorted(c["kind"] for c in certificates) == ["CERTIFICATE", "RESULT_NOTICE"]
    code = next(c["code"] for c in certificates if c["kind"] == "CERTIFICATE")

    verify = """query($code: String!) { verifyCertificate(code: $code) {
        code validity kind holderNameMasked series level committeeName sessionDate
        signatureValid revokedAt } }"""
    checked = (await run(verify, ANONYMOUS, code=code.lower()))["verifyCertificate"]
    assert checked == {
        "code": code,
        "validity": "VALID",
        "kind": "CERTIFICATE",
        "holderNameMasked": applicant["name"][:1] + "*" * (len(applicant["name"]) - 1),
        "series": "工程技术",
        "level": checked["level"],
        "committeeName": w.committee.name,
        "sessionDate": SESSION_DAY.isoformat(),
        "signatureValid": True,
        "revokedAt": None,
    }
    assert applicant["name"] not in json.dumps(checked, ensure_ascii=False)

    revoked = await run(
        """mutation($input: RevokeCertificateInput!) {
          revokeCertificate(input: $input) { certificate { code revokedAt } errors { code } } }""",
        w.bureau,
        input={"code": code, "reason": "申报材料弄虚作假"},
    )
    assert revoked["revokeCertificate"]["errors"] == []
    after = (await run(verify, ANONYMOUS, code=code))["verifyCertificate"]
    assert after["validity"] == "REVOKED"
    assert after["revokedAt"] is not None


async def test_verify_certificate_unknown_code_is_unknown_not_an_error_r18():
    result = await run(
        '{ verifyCertificate(code: "nope") { code validity signatureValid } }', ANONYMOUS
    )
    assert result == {
        "verifyCertificate": {"code": "", "validity": "UNKNOWN", "signatureValid": None}
    }


async def _applicant_actor(session: EvaluationSession) -> Actor:
    row = await SessionApplicant.filter(session_id=session.id).first()
    assert row is not None
    return await _actor(Grant(Role.APPLICANT, applicant_id=row.id))


REACHABLE = (
    """query($id: ID!) {
      evaluationSession(id: $id) { """
    + SESSION_FIELDS
    + """ }
      node(id: $id) { id ... on EvaluationSession { """
    + SESSION_FIELDS
    + """ } }
      nodes(ids: [$id]) { id }
      myInvitations { panelMemberId sessionId startsAt place seat status }
    }"""
)

LIST = "{ evaluationSessions(first: 100) { totalCount nodes { " + SESSION_FIELDS + " } } }"


@pytest.mark.parametrize("who", ["applicant", "anonymous"])
async def test_sealed_panel_no_drawn_expert_reaches_applicants_or_the_public_r19(who):
    w = await _world(5)
    session = await _drawn(w)
    panel = await svc.session_panel(w.bureau, session.id)
    secrets = {m.expert.name for m in panel} | {m.expert.number for m in panel}
    secrets |= {gid("Expert", m.expert.id) for m in panel}
    assert len(panel) == 4  # the data that could leak exists: 3 seated + 1 backup
    staff_view = await gql(REACHABLE, {"id": gid("EvaluationSession", session.id)}, actor=w.staff)
    assert {m.expert.name for m in panel} <= {
        m["expertName"] for m in data(staff_view)["evaluationSession"]["panel"]
    }
    actor = await _applicant_actor(session) if who == "applicant" else ANONYMOUS

    results = [
        await gql(REACHABLE, {"id": gid("EvaluationSession", session.id)}, actor=actor),
        await gql(LIST, actor=actor),
    ]

    dumped = json.dumps(
        [[r.data, [e.formatted for e in r.errors or ()]] for r in results], ensure_ascii=False
    )
    assert [s for s in secrets if s in dumped] == []
    assert results[0].data == {
        "evaluationSession": None,
        "node": None,
        "nodes": [None],
        "myInvitations": [],
    }


async def test_expert_sees_own_invitation_but_not_the_panel_r19():
    w = await _world(5)
    session = await _drawn(w)
    panel = [m for m in await svc.session_panel(w.bureau, session.id) if not m.is_backup]
    me = await _expert_actor(panel[0].expert)
    others = {m.expert.name for m in panel[1:]} | {m.expert.number for m in panel[1:]}

    result = await gql(REACHABLE, {"id": gid("EvaluationSession", session.id)}, actor=me)

    found = data(result)
    assert [i["panelMemberId"] for i in found["myInvitations"]] == [gid("PanelMember", panel[0].id)]
    assert found["evaluationSession"] is None
    dumped = json.dumps(found, ensure_ascii=False)
    assert [s for s in others if s in dumped] == []


# --- permission matrix (every role; denial changes nothing) ---------------------------


async def _roles(w: Any, session: EvaluationSession) -> dict[str, Actor]:
    # Not another _world(): its newer agreement text would make w's experts ineligible.
    other = await factories.institution()
    return {
        "bureau": w.bureau,
        "own_staff": w.staff,
        "other_staff": await _actor(Grant(Role.INSTITUTION, institution_id=other.id)),
        "expert": await _expert_actor(w.experts[0]),
        "supervisor": w.supervisor,
        "applicant": await _applicant_actor(session),
        "anonymous": ANONYMOUS,
        "partner": Actor(token_id=1, grants=(Grant(Role.PARTNER),)),
    }


COMMIT_MATRIX = {
    "bureau": "FORBIDDEN",
    "own_staff": None,
    "other_staff": "NOT_FOUND",
    "expert": "NOT_FOUND",
    "supervisor": "FORBIDDEN",
    "applicant": "NOT_FOUND",
    "anonymous": "NOT_FOUND",  # a session the caller cannot see looks absent
    "partner": "NOT_FOUND",
}


@pytest.mark.parametrize(("role", "expected"), list(COMMIT_MATRIX.items()))
async def test_commit_draw_permission_matrix_r10(role, expected):
    w = await _world(5)
    session = await _session(w)
    actor = (await _roles(w, session))[role]
    before = await _state()

    result = await gql(
        COMMIT, {"input": {"sessionId": gid("EvaluationSession", session.id)}}, actor=actor
    )

    if expected is None:
        assert data(result)["commitDraw"]["errors"] == []
        assert (await EvaluationSession.get(id=session.id)).status == "committed"
    else:
        assert codes(result) == [expected]
        assert await _state() == before


ASSIGN_MATRIX = {
    "bureau": None,
    "own_staff": "FORBIDDEN",
    "other_staff": "NOT_FOUND",
    "expert": "NOT_FOUND",
    "supervisor": "FORBIDDEN",
    "applicant": "NOT_FOUND",
    "anonymous": "NOT_FOUND",  # a session the caller cannot see looks absent
    "partner": "NOT_FOUND",
}


@pytest.mark.parametrize(("role", "expected"), list(ASSIGN_MATRIX.items()))
async def test_assign_supervisor_permission_matrix_art30(role, expected):
    w = await _world(3)
    session = await _session(w)  # w.supervisor already assigned: assign a second one
    second = await _actor(Grant(Role.SUPERVISOR))
    actor = (await _roles(w, session))[role]
    before = await _state()

    result = await gql(
        ASSIGN,
        {
            "input": {
                "sessionId": gid("EvaluationSession", session.id),
                "userId": gid("User", second.user_id),
            }
        },
        actor=actor,
    )

    if expected is None:
        assert data(result)["assignSupervisor"]["errors"] == []
    else:
        assert codes(result) == [expected]
        assert await _state() == before


FINALISE_MATRIX = {
    "bureau": "FORBIDDEN",
    "own_staff": None,
    "other_staff": "NOT_FOUND",
    "expert": "NOT_FOUND",
    "supervisor": "FORBIDDEN",
    "applicant": "NOT_FOUND",
    "anonymous": "NOT_FOUND",  # a session the caller cannot see looks absent
    "partner": "NOT_FOUND",
}


@pytest.mark.parametrize(("role", "expected"), list(FINALISE_MATRIX.items()))
async def test_finalise_session_permission_matrix_r15(role, expected):
    """A drawn session without votes: the permitted actor gets a UserError, not a change."""
    w = await _world(5)
    session = await _drawn(w)
    actor = (await _roles(w, session))[role]
    before = await _state()

    result = await gql(
        """mutation($input: SessionRefInput!) {
          finaliseSession(input: $input) { evaluationSession { status } errors { code } } }""",
        {"input": {"sessionId": gid("EvaluationSession", session.id)}},
        actor=actor,
    )

    if expected is None:
        assert data(result)["finaliseSession"] == {
            "evaluationSession": None,
            "errors": [{"code": "NO_QUORUM"}],
        }
    else:
        assert codes(result) == [expected]
    assert await _state() == before


async def test_evaluation_sessions_list_is_scoped_and_keyset_paged():
    w = await _world(3)
    other = await _world(3)
    mine = [await _session(w, day=SESSION_DAY + dt.timedelta(days=i)) for i in range(3)]
    await _session(other)
    query = """query($after: String) { evaluationSessions(first: 2, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { id } } }"""

    first = (await run(query, w.staff, after=None))["evaluationSessions"]
    second = (await run(query, w.staff, after=first["pageInfo"]["endCursor"]))["evaluationSessions"]

    assert first["totalCount"] == 3
    assert [n["id"] for n in first["nodes"] + second["nodes"]] == [
        gid("EvaluationSession", s.id) for s in mine
    ]
    assert second["pageInfo"]["hasNextPage"] is False


async def test_decline_invitation_by_the_drawn_expert_replaces_them_r10():
    w = await _world(5)
    session = await _drawn(w)
    member = next(m for m in await svc.session_panel(w.bureau, session.id) if not m.is_backup)
    me = await _expert_actor(member.expert)

    result = await run(
        """mutation($input: DeclineInvitationInput!) {
          declineInvitation(input: $input) { invitation { status panelMemberId } errors { code } }
        }""",
        me,
        input={"panelMemberId": gid("PanelMember", member.id), "reason": "出差在外"},
    )

    assert result["declineInvitation"] == {
        "invitation": {"status": "DECLINED", "panelMemberId": gid("PanelMember", member.id)},
        "errors": [],
    }
    seated = [m for m in await svc.session_panel(w.bureau, session.id) if not m.is_backup]
    assert len([m for m in seated if m.status != "declined"]) == 3
