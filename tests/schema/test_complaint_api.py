"""The GraphQL layer of review requests, complaints and reports (issue 4 root
operations, issue 8 mutations): public intake and status check, screening with a
reason the complainant sees (R16), the handlers' permission matrix, the complainant's
anonymity and idempotent intake."""

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from models import AuditEvent, Complaint, ComplaintNote, Expert, Institution
from models.enums import NonAcceptanceReason, Role
from resolvers.actor import ANONYMOUS, Actor, Grant
from resolvers.complaint import REASON_TEXTS
from schema.relay import to_global_id
from tests import factories
from tests.resolvers.test_evaluation import _actor
from tests.schema.conftest import codes, data, gql

SUBMIT = """
mutation($input: SubmitComplaintInput!) {
  submitComplaint(input: $input) {
    trackingCode queryPassword status dueOn errors { field code message }
  }
}"""

STATUS = """
query($code: String!, $password: String!) {
  complaintStatus(trackingCode: $code, password: $password) {
    trackingCode kind status statusLabel nonAcceptanceReason nonAcceptanceText answer
  }
}"""

SCREEN = """
mutation($input: ScreenComplaintInput!) {
  screenComplaint(input: $input) {
    complaint { status nonAcceptanceReason } errors { field code }
  }
}"""

COMPLAINT = """
query($id: ID!) {
  complaint(id: $id) { id kind status facts anonymous trackingCode notes { body } }
}"""


def _input(expert: Expert, **kw: Any) -> dict[str, Any]:
    return {
        "kind": "COMPLAINT",
        "targetType": "EXPERT",
        "targetId": expert.id,
        "facts": "该专家在评审中收受申报人财物。",
        "clues": "评审当晚的聚餐发票",
        "anonymous": True,
        **kw,
    }


async def _case(**kw: Any) -> tuple[Institution, Expert, dict[str, Any]]:
    inst = await factories.institution()
    expert = await factories.expert(institution=inst)
    submitted = data(await gql(SUBMIT, {"input": _input(expert, **kw)}))["submitComplaint"]
    assert submitted["errors"] == []
    return inst, expert, submitted


async def _complaint_id(tracking_code: str) -> str:
    row = await Complaint.get(tracking_code=tracking_code)
    return to_global_id("Complaint", row.id)


async def test_anonymous_submit_then_status_with_code_and_password_r16():
    _, _, submitted = await _case()

    assert submitted["status"] == "RECEIVED"
    assert len(submitted["queryPassword"]) == 10
    status = data(
        await gql(
            STATUS, {"code": submitted["trackingCode"], "password": submitted["queryPassword"]}
        )
    )["complaintStatus"]
    assert status == {
        "trackingCode": submitted["trackingCode"],
        "kind": "COMPLAINT",
        "status": "RECEIVED",
        "statusLabel": "已收到",
        "nonAcceptanceReason": None,
        "nonAcceptanceText": "",
        "answer": "",
    }
    stored = await Complaint.get(tracking_code=submitted["trackingCode"])
    assert (stored.submitted_by_id, stored.anonymous) == (None, True)  # type: ignore[attr-defined]


async def test_complaint_status_wrong_password_is_the_same_not_found_as_a_wrong_code_r16():
    _, _, submitted = await _case()

    wrong_password = await gql(
        STATUS, {"code": submitted["trackingCode"], "password": "wrongpass22"}
    )
    wrong_code = await gql(STATUS, {"code": "ZZZZZZZZZZZZ", "password": submitted["queryPassword"]})

    assert codes(wrong_password) == ["NOT_FOUND"]
    assert wrong_password.data is None
    assert [(e.message, e.extensions) for e in wrong_password.errors or ()] == [
        (e.message, e.extensions) for e in wrong_code.errors or ()
    ]


async def test_screen_not_accepted_with_a_reason_visible_in_complaint_status_r16():
    inst, _, submitted = await _case()
    staff = await _actor(Grant(Role.INSTITUTION, institution_id=inst.id))
    complaint_id = await _complaint_id(submitted["trackingCode"])

    screened = data(
        await gql(
            SCREEN,
            {"input": {"complaintId": complaint_id, "accept": False, "reason": "NO_EVIDENCE"}},
            actor=staff,
        )
    )["screenComplaint"]

    assert screened == {
        "complaint": {"status": "NOT_ACCEPTED", "nonAcceptanceReason": "NO_EVIDENCE"},
        "errors": [],
    }
    status = data(
        await gql(
            STATUS, {"code": submitted["trackingCode"], "password": submitted["queryPassword"]}
        )
    )["complaintStatus"]
    assert (status["status"], status["nonAcceptanceReason"], status["nonAcceptanceText"]) == (
        "NOT_ACCEPTED",
        "NO_EVIDENCE",
        REASON_TEXTS[NonAcceptanceReason.NO_EVIDENCE],
    )


async def test_screen_not_accepted_without_a_reason_is_a_user_error_nothing_changed_r16():
    inst, _, submitted = await _case()
    staff = await _actor(Grant(Role.INSTITUTION, institution_id=inst.id))
    complaint_id = await _complaint_id(submitted["trackingCode"])
    before = await _state()

    screened = data(
        await gql(SCREEN, {"input": {"complaintId": complaint_id, "accept": False}}, actor=staff)
    )["screenComplaint"]

    assert screened == {"complaint": None, "errors": [{"field": "reason", "code": "REQUIRED"}]}
    assert await _state() == before


async def _state() -> tuple[Any, ...]:
    return (
        await AuditEvent.all().count(),
        await Complaint.all().order_by("id").values_list("status", "version", "answer"),
        await ComplaintNote.all().count(),
    )


async def _roles(inst: Institution) -> dict[str, Actor]:
    other = await factories.institution()
    return {
        "bureau": await _actor(Grant(Role.BUREAU)),
        "own_staff": await _actor(Grant(Role.INSTITUTION, institution_id=inst.id)),
        "other_staff": await _actor(Grant(Role.INSTITUTION, institution_id=other.id)),
        "expert": await _actor(
            Grant(Role.EXPERT, expert_id=(await factories.expert(institution=inst)).id)
        ),
        "supervisor": await _actor(Grant(Role.SUPERVISOR)),
        "applicant": await _actor(Grant(Role.APPLICANT)),
        "anonymous": ANONYMOUS,
        "partner": Actor(token_id=1, grants=(Grant(Role.PARTNER),)),
    }


HANDLER_MATRIX = {
    "bureau": None,
    "own_staff": None,
    "other_staff": "NOT_FOUND",
    "expert": "NOT_FOUND",
    "supervisor": "NOT_FOUND",
    "applicant": "NOT_FOUND",
    "anonymous": "UNAUTHENTICATED",
    "partner": "NOT_FOUND",
}

HANDLER_MUTATIONS: dict[str, tuple[str, Callable[[str], dict[str, Any]]]] = {
    "screenComplaint": (SCREEN, lambda cid: {"complaintId": cid, "accept": True}),
    "addComplaintNote": (
        """mutation($input: AddComplaintNoteInput!) {
          addComplaintNote(input: $input) { note { body } errors { code } } }""",
        lambda cid: {"complaintId": cid, "body": "已调取评审录像"},
    ),
    "answerComplaint": (
        """mutation($input: AnswerComplaintInput!) {
          answerComplaint(input: $input) { complaint { status } errors { code } } }""",
        lambda cid: {"complaintId": cid, "answer": "经核查,情况属实"},
    ),
    "closeComplaint": (
        """mutation($input: CloseComplaintInput!) {
          closeComplaint(input: $input) { complaint { status } errors { code } } }""",
        lambda cid: {"complaintId": cid},
    ),
    "recountReviewRequest": (
        """mutation($input: RecountReviewRequestInput!) {
          recountReviewRequest(input: $input) { recount { miscounted } errors { code } } }""",
        lambda cid: {"complaintId": cid},
    ),
}

# What a permitted handler gets on a freshly received complaint (not a review request).
PERMITTED: dict[str, Any] = {
    "screenComplaint": {
        "complaint": {"status": "ACCEPTED", "nonAcceptanceReason": None},
        "errors": [],
    },
    "addComplaintNote": {"note": {"body": "已调取评审录像"}, "errors": []},
    "answerComplaint": {"complaint": None, "errors": [{"code": "INVALID_TRANSITION"}]},
    "closeComplaint": {"complaint": None, "errors": [{"code": "INVALID_TRANSITION"}]},
    "recountReviewRequest": {"recount": None, "errors": [{"code": "INVALID"}]},
}


@pytest.mark.parametrize("mutation", list(HANDLER_MUTATIONS))
@pytest.mark.parametrize(("role", "expected"), list(HANDLER_MATRIX.items()))
async def test_handler_mutations_permission_matrix_r16(mutation, role, expected):
    inst, _, submitted = await _case()
    actor = (await _roles(inst))[role]
    complaint_id = await _complaint_id(submitted["trackingCode"])
    query, make = HANDLER_MUTATIONS[mutation]
    before = await _state()

    result = await gql(query, {"input": make(complaint_id)}, actor=actor)

    if expected is None:
        assert data(result)[mutation] == PERMITTED[mutation]
    else:
        assert codes(result) == [expected]
        assert await _state() == before


@pytest.mark.parametrize("role", list(HANDLER_MATRIX))
async def test_submit_complaint_is_open_to_every_caller_r16(role):
    inst = await factories.institution()
    expert = await factories.expert(institution=inst)
    actor = (await _roles(inst))[role]
    if role == "partner":
        # A partner token without the complaint:submit scope may not file (policy).
        result = await gql(SUBMIT, {"input": _input(expert)}, actor=actor)
        assert codes(result) == ["FORBIDDEN"]
        assert await Complaint.all().count() == 0
        return

    result = data(await gql(SUBMIT, {"input": _input(expert)}, actor=actor))["submitComplaint"]

    assert (result["status"], result["errors"]) == ("RECEIVED", [])
    assert await Complaint.all().count() == 1


async def test_complainant_identity_only_for_handlers_and_audited_never_for_the_target_r16():
    inst, expert, submitted = await _case(
        anonymous=False, complainantName="王举报", complainantContact="13800138000"
    )
    complaint_id = await _complaint_id(submitted["trackingCode"])
    handler = await _actor(Grant(Role.INSTITUTION, institution_id=inst.id))
    # The target also holds staff rights of the handling institution.
    target = await _actor(
        Grant(Role.EXPERT, expert_id=expert.id),
        Grant(Role.INSTITUTION, institution_id=inst.id),
    )
    identity = (
        "query($id: ID!) { complaint(id: $id) { complainantIdentity { anonymous name contact } } }"
    )
    audits = await AuditEvent.filter(action="complaint.view_identity").count()

    seen = data(await gql(identity, {"id": complaint_id}, actor=handler))

    assert seen == {
        "complaint": {
            "complainantIdentity": {"anonymous": False, "name": "王举报", "contact": "13800138000"}
        }
    }
    assert await AuditEvent.filter(action="complaint.view_identity").count() == audits + 1
    plain = data(await gql(COMPLAINT, {"id": complaint_id}, actor=handler))
    assert "王举报" not in json.dumps(plain, ensure_ascii=False)

    as_target = [
        await gql(identity, {"id": complaint_id}, actor=target),
        await gql(COMPLAINT, {"id": complaint_id}, actor=target),
        await gql("{ complaints(first: 100) { totalCount nodes { id facts } } }", actor=target),
        await gql("query($id: ID!) { node(id: $id) { id } }", {"id": complaint_id}, actor=target),
    ]
    dumped = json.dumps([r.data for r in as_target], ensure_ascii=False)
    assert "王举报" not in dumped and submitted["trackingCode"] not in dumped
    assert [r.data for r in as_target] == [
        {"complaint": None},
        {"complaint": None},
        {"complaints": {"totalCount": 0, "nodes": []}},
        {"node": None},
    ]


async def test_complaints_list_requires_login_and_is_scoped():
    inst, _, submitted = await _case()
    await _case()  # another institution's case
    staff = await _actor(Grant(Role.INSTITUTION, institution_id=inst.id))
    query = "{ complaints(first: 10) { totalCount nodes { trackingCode status } } }"

    anonymous = await gql(query)
    mine = data(await gql(query, actor=staff))

    assert codes(anonymous) == ["UNAUTHENTICATED"]
    assert mine == {
        "complaints": {
            "totalCount": 1,
            "nodes": [{"trackingCode": submitted["trackingCode"], "status": "RECEIVED"}],
        }
    }


async def test_submit_complaint_replay_with_the_same_idempotency_key_creates_nothing(
    http_as: Callable[..., httpx.AsyncClient],
):
    inst = await factories.institution()
    expert = await factories.expert(institution=inst)
    body = {"query": SUBMIT, "variables": {"input": _input(expert)}}
    headers = {"Idempotency-Key": "complaint-7d1c2a90-0001"}

    async with http_as(ANONYMOUS) as client:
        first = (await client.post("/graphql", json=body, headers=headers)).json()
        replay = (await client.post("/graphql", json=body, headers=headers)).json()
        changed = {"query": SUBMIT, "variables": {"input": _input(expert, facts="另一件事。")}}
        mismatch = (await client.post("/graphql", json=changed, headers=headers)).json()

    created = first["data"]["submitComplaint"]
    assert created["errors"] == []
    # The password is shown once: only its hash is stored, so a replay cannot repeat it.
    assert replay["data"]["submitComplaint"] == {**created, "queryPassword": None}
    assert mismatch["data"]["submitComplaint"]["errors"] == [
        {
            "field": "Idempotency-Key",
            "code": "IDEMPOTENCY_MISMATCH",
            "message": "该 Idempotency-Key 已用于另一个不同的请求",
        }
    ]
    assert await Complaint.all().count() == 1
