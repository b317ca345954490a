"""Every GraphQL root field has a permission test (issue 3 "Done when").

Two parts:
- `ROOT_FIELDS`, the registry: each root Query and Mutation field → the test that
  covers who may use it. `test_every_root_field_is_in_the_registry` introspects the
  built schema and fails when a field is added without an entry (or an entry names a
  test that does not exist).
- `MATRIX`: the role matrix of the session, vote, draw and certificate mutations that
  no domain test covers yet (R10, R11, R14, R15, R18, Art. 30). Each mutation is
  called as 13 roles against real objects; a permitted role succeeds, every other one
  gets the top-level code of the error contract with no row and no audit event
  changed.
"""

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from tortoise import Tortoise

from models import AuditEvent, Certificate, EvaluationSession, PanelMember, SessionApplicant
from models.enums import Role
from resolvers import certificate as certificates
from resolvers import evaluation as svc
from resolvers.actor import ANONYMOUS, Actor, Grant
from resolvers.common import beijing_today
from schema import build_schema
from schema.relay import to_global_id
from tests import factories
from tests.resolvers.test_certificate import _finalised
from tests.resolvers.test_evaluation import (
    SESSION_DAY,
    World,
    _actor,
    _applicant,
    _at,
    _drawn,
    _expert_actor,
    _seated,
    _session,
    _sit,
    _state,
    _world,
)
from tests.schema import test_expert_mutations as expert_matrix
from tests.schema import test_institution_mutations as institution_matrix
from tests.schema.conftest import codes, data, gql

HERE = "tests.schema.test_root_matrix"
INST = "tests.schema.test_institution_mutations"
EXPERT = "tests.schema.test_expert_mutations"
EVAL = "tests.schema.test_evaluation_api"
COMPL = "tests.schema.test_complaint_api"
DIRECTORY = "tests.schema.test_directory"
LOGIN = "tests.schema.test_login"

# Root field → (module, test) that decides who may use it.
ROOT_FIELDS: dict[str, dict[str, tuple[str, str]]] = {
    "Mutation": {
        "login": (LOGIN, "test_login_unknown_user_and_wrong_password_answer_identically"),
        "logout": (LOGIN, "test_logout_ends_the_session"),
        # Each domain matrix asserts it covers every mutation of its domain class.
        **{name: (INST, "test_permission_matrix") for name in institution_matrix.MATRIX},
        **{name: (EXPERT, "test_permission_matrix") for name in expert_matrix.MATRIX},
        "commitDraw": (EVAL, "test_commit_draw_permission_matrix_r10"),
        "assignSupervisor": (EVAL, "test_assign_supervisor_permission_matrix_art30"),
        "finaliseSession": (EVAL, "test_finalise_session_permission_matrix_r15"),
        **{
            name: (HERE, "test_root_mutation_role_matrix")
            for name in (
                "createEvaluationSession",
                "addSessionApplicants",
                "declareConflict",
                "executeDraw",
                "declineInvitation",
                "redraw",
                "recordAttendance",
                "castVote",
                "recordPaperBallots",
                "attachRecording",
                "recordPassedApplicants",
                "revokeCertificate",
            )
        },
        "submitComplaint": (COMPL, "test_submit_complaint_is_open_to_every_caller_r16"),
        **{
            name: (COMPL, "test_handler_mutations_permission_matrix_r16")
            for name in (
                "screenComplaint",
                "addComplaintNote",
                "answerComplaint",
                "closeComplaint",
                "recountReviewRequest",
            )
        },
    },
    "Query": {
        "institutions": (DIRECTORY, "test_anonymous_sees_only_filed_unexpired_institutions_r1"),
        "institution": (INST, "test_applications_assessments_and_figures_hidden_from_others"),
        "committees": (
            DIRECTORY,
            "test_anonymous_sees_only_filed_committees_of_filed_institutions_r2",
        ),
        "committee": (INST, "test_committee_roster_visible_to_bureau_and_own_staff_only"),
        "annualPlans": (DIRECTORY, "test_anonymous_sees_only_published_annual_plans"),
        "expiringFilings": (INST, "test_expiring_filings_dashboard_is_scoped"),
        "experts": (DIRECTORY, "test_staff_sees_only_own_institutions_experts"),
        "expert": (
            DIRECTORY,
            "test_id_number_full_forbidden_without_pii_permission_and_nothing_audited",
        ),
        "expertApplications": (
            EXPERT,
            "test_expert_applications_connection_is_scoped_and_filtered",
        ),
        "pendingExpertUpdates": (
            EXPERT,
            "test_verification_queue_lists_what_each_verifier_still_has_to_check_r8",
        ),
        "poolStatistics": (EXPERT, "test_pool_statistics_are_scoped_per_resolver_r13"),
        "me": (DIRECTORY, "test_me_is_null_for_anonymous_and_lists_roles"),
        "evaluationSessions": (EVAL, "test_evaluation_sessions_list_is_scoped_and_keyset_paged"),
        "evaluationSession": (
            EVAL,
            "test_sealed_panel_no_drawn_expert_reaches_applicants_or_the_public_r19",
        ),
        "myInvitations": (EVAL, "test_expert_sees_own_invitation_but_not_the_panel_r19"),
        "verifyCertificate": (
            EVAL,
            "test_verify_certificate_unknown_code_is_unknown_not_an_error_r18",
        ),
        "complaints": (COMPL, "test_complaints_list_requires_login_and_is_scoped"),
        "complaint": (
            COMPL,
            "test_complainant_identity_only_for_handlers_and_audited_never_for_the_target_r16",
        ),
        "complaintStatus": (
            COMPL,
            "test_complaint_status_wrong_password_is_the_same_not_found_as_a_wrong_code_r16",
        ),
        "node": (DIRECTORY, "test_node_resolves_visible_objects_and_nulls_the_rest"),
        "nodes": (DIRECTORY, "test_node_resolves_visible_objects_and_nulls_the_rest"),
    },
}


def _root_fields(kind: str) -> set[str]:
    graphql = build_schema()._schema
    root = graphql.query_type if kind == "Query" else graphql.mutation_type
    assert root is not None
    return set(root.fields)


@pytest.mark.parametrize("kind", sorted(ROOT_FIELDS))
def test_every_root_field_is_in_the_registry(kind: str):
    """A new root field fails here until a permission test for it is named."""
    assert sorted(ROOT_FIELDS[kind]) == sorted(_root_fields(kind))
    missing = []
    for field, (module, test) in ROOT_FIELDS[kind].items():
        if not callable(getattr(importlib.import_module(module), test, None)):
            missing.append((field, test))
    assert missing == []


def test_this_matrix_covers_exactly_the_fields_registered_to_it():
    mine = sorted(f for f, (module, _) in ROOT_FIELDS["Mutation"].items() if module == HERE)
    assert sorted(MATRIX) == mine


# --- the role matrix ------------------------------------------------------------------

ROLES = (
    "bureau",
    "own_staff",
    "other_staff",
    "expert_self",
    "expert_other",
    "employer",
    "recommender",
    "supervisor_assigned",
    "supervisor_unassigned",
    "applicant",
    "partner_scoped",
    "partner_unscoped",
    "anonymous",
)
OK, FORBIDDEN, NOT_FOUND, UNAUTH = "ok", "FORBIDDEN", "NOT_FOUND", "UNAUTHENTICATED"
ALL_SCOPES = frozenset({"public:read", "certificate:verify", "complaint:submit"})


@dataclass
class Case:
    """The objects one mutation is called on: the session, the expert it concerns
    ("expert self") and the input."""

    w: World
    session: EvaluationSession
    expert_id: int
    input: dict[str, Any]


def gid(type_name: str, pk: int) -> str:
    return to_global_id(type_name, pk)


def _sid(session: EvaluationSession) -> str:
    return gid("EvaluationSession", session.id)


async def _first_applicant(session: EvaluationSession) -> SessionApplicant:
    row = await SessionApplicant.filter(session_id=session.id).order_by("id").first()
    assert row is not None
    return row


async def _create_session() -> Case:
    w = await _world(5)
    session = await _session(w)  # gives the roles a session to be scoped by
    return Case(
        w,
        session,
        w.experts[0].id,
        {
            "committeeId": gid("Committee", w.committee.id),
            "startsAt": _at(SESSION_DAY, 9).isoformat(),
            "endsAt": _at(SESSION_DAY, 17).isoformat(),
            "place": "第二会议室",
            "panelSize": 3,
            "backupCount": 1,
        },
    )


async def _add_applicants() -> Case:
    w = await _world(5)
    session = await _session(w)
    a = await _applicant()
    row = {
        "name": a["name"],
        "idNumber": a["id_number"],
        "unitId": gid("Unit", a["unit_id"]),
        "series": a["series"],
        "specialty": a["specialty"],
        "level": a["level"].name,
    }
    return Case(w, session, w.experts[0].id, {"sessionId": _sid(session), "applicants": [row]})


async def _declare_conflict() -> Case:
    w = await _world(5)
    session = await _session(w)
    applicant = await _first_applicant(session)
    return Case(
        w,
        session,
        w.experts[1].id,
        {
            "sessionId": _sid(session),
            "applicantId": gid("SessionApplicant", applicant.id),
            "expertId": gid("Expert", w.experts[1].id),
            "kind": "OTHER",
            "detail": "曾在同一课题组共事",
        },
    )


async def _execute_draw() -> Case:
    w = await _world(5)
    session = await _session(w)
    await svc.commit_draw(w.staff, session.id)
    return Case(
        w, session, w.experts[0].id, {"sessionId": _sid(session), "entropy": "骰子 2-6-1-4"}
    )


async def _decline() -> Case:
    w = await _world(5)
    session = await _drawn(w)
    member = (await _seated(session.id))[0]
    return Case(
        w,
        session,
        member.expert.id,
        {"panelMemberId": gid("PanelMember", member.id), "reason": "当日出差"},
    )


async def _redraw() -> Case:
    w = await _world(5)
    session = await _drawn(w)
    return Case(
        w,
        session,
        w.experts[0].id,
        {
            "sessionId": _sid(session),
            "reason": "抽取时网络中断,经监督委员确认重新抽取",
        },
    )


async def _attendance() -> Case:
    w = await _world(5)
    session = await _drawn(w)
    seated = sorted(await _seated(session.id), key=lambda m: m.seat == "member")
    return Case(
        w,
        session,
        seated[0].expert.id,
        {
            "sessionId": _sid(session),
            "presentExpertIds": [gid("Expert", m.expert.id) for m in seated],
            "presidingExpertId": gid("Expert", seated[0].expert.id),
        },
    )


async def _sitting() -> tuple[World, EvaluationSession, list[int], SessionApplicant]:
    w = await _world(5)
    session = await _drawn(w)
    present = await _sit(w, session)
    return w, session, [e.id for e in present], await _first_applicant(session)


async def _cast_vote() -> Case:
    w, session, present, applicant = await _sitting()
    return Case(
        w,
        session,
        present[0],
        {
            "sessionId": _sid(session),
            "applicantId": gid("SessionApplicant", applicant.id),
            "choice": "FOR",
        },
    )


async def _paper_ballots() -> Case:
    w, session, present, applicant = await _sitting()
    return Case(
        w,
        session,
        present[0],
        {
            "sessionId": _sid(session),
            "applicantId": gid("SessionApplicant", applicant.id),
            "ballots": [{"expertId": gid("Expert", e), "choice": "FOR"} for e in present],
        },
    )


async def _recording() -> Case:
    w, session, present, _ = await _sitting()
    return Case(
        w,
        session,
        present[0],
        {
            "sessionId": _sid(session),
            "kind": "VIDEO",
            "uri": "s3://recordings/session.mp4",
            "sizeBytes": 2048,
            "sha256": "b" * 64,
        },
    )


async def _record_passed() -> Case:
    w, session, _ = await _finalised()
    expert = await PanelMember.filter(session_id=session.id).order_by("rank").first()
    assert expert is not None
    return Case(w, session, expert.expert_id, {"sessionId": _sid(session)})  # type: ignore[attr-defined]


async def _revoke() -> Case:
    w, session, _ = await _finalised()
    await certificates.record_passed_applicants(w.bureau, session.id)
    cert = await Certificate.filter(kind="certificate").order_by("-id").first()
    assert cert is not None
    expert = await PanelMember.filter(session_id=session.id).order_by("rank").first()
    assert expert is not None
    return Case(
        w,
        session,
        expert.expert_id,  # type: ignore[attr-defined]
        {"code": cert.code, "reason": "申报材料弄虚作假"},
    )


def _row(*outcomes: str) -> dict[str, str]:
    return dict(zip(ROLES, outcomes, strict=True))


OK_, F_, NF_, UA_ = OK, FORBIDDEN, NOT_FOUND, UNAUTH
# Roles in ROLES order. A session the caller may not view (SESSION_VIEW: bureau, own
# staff, assigned supervisor) looks absent: NOT_FOUND; one it views but may not act on
# is FORBIDDEN. Anonymous callers and tokens see no session, hence NOT_FOUND too.
# Columns: bureau, own staff, other staff, expert self, other expert, employer,
# recommender, assigned supervisor, unassigned supervisor, applicant, partner token
# with / without scopes, anonymous.
STAFF_ON_SESSION = _row(F_, OK_, NF_, NF_, NF_, NF_, NF_, F_, NF_, NF_, NF_, NF_, NF_)  # fmt: skip
# R2: staff plan sessions of their own filed committee; a filed committee is public.
CREATE_SESSION = _row(F_, OK_, F_, F_, F_, F_, F_, F_, F_, F_, F_, NF_, UA_)  # fmt: skip
# R11: the expert concerned, the applicant about their own application, own staff.
DECLARE_CONFLICT = _row(F_, OK_, NF_, OK_, NF_, NF_, NF_, F_, NF_, OK_, NF_, NF_, NF_)  # fmt: skip
# R10: only a supervisor assigned to this session enters the entropy.
EXECUTE_DRAW = _row(F_, F_, NF_, NF_, NF_, NF_, NF_, OK_, NF_, NF_, NF_, NF_, NF_)  # fmt: skip
# R10/Art. 30: a redraw is confirmed by a supervisor assigned to this session (the
# actor); institution staff and the (unassigned) bureau see the session but may not.
REDRAW = _row(F_, F_, NF_, NF_, NF_, NF_, NF_, OK_, NF_, NF_, NF_, NF_, NF_)  # fmt: skip
# R10/R11: the invited expert declines, or the session's own staff on the expert's behalf
# (e.g. the expert telephoned); the replacement follows the draw either way.
DECLINE = _row(F_, OK_, NF_, OK_, NF_, NF_, NF_, F_, NF_, NF_, NF_, NF_, NF_)  # fmt: skip
# R14: a present panel expert votes themself.
CAST_VOTE = _row(F_, F_, NF_, OK_, NF_, NF_, NF_, F_, NF_, NF_, NF_, NF_, NF_)  # fmt: skip
# R18: the bureau records who passed and issues the certificates.
RECORD_PASSED = _row(OK_, F_, NF_, NF_, NF_, NF_, NF_, F_, NF_, NF_, NF_, NF_, NF_)  # fmt: skip
# R18: revocation is the bureau's; to anyone else the certificate is absent.
REVOKE = _row(OK_, NF_, NF_, NF_, NF_, NF_, NF_, NF_, NF_, NF_, NF_, NF_, NF_)  # fmt: skip

Setup = Callable[[], Awaitable[Case]]

MATRIX: dict[str, tuple[Setup, str, dict[str, str]]] = {
    "createEvaluationSession": (_create_session, "evaluationSession { id }", CREATE_SESSION),
    "addSessionApplicants": (_add_applicants, "applicants { id }", STAFF_ON_SESSION),
    "declareConflict": (_declare_conflict, "conflict { id }", DECLARE_CONFLICT),
    "executeDraw": (_execute_draw, "draw { status }", EXECUTE_DRAW),
    "declineInvitation": (_decline, "invitation { status }", DECLINE),
    "redraw": (_redraw, "draw { status }", REDRAW),
    "recordAttendance": (_attendance, "evaluationSession { status }", STAFF_ON_SESSION),
    "castVote": (_cast_vote, "vote { choice }", CAST_VOTE),
    # R14: staff enter paper ballots of present experts.
    "recordPaperBallots": (_paper_ballots, "votes { choice }", STAFF_ON_SESSION),
    "attachRecording": (_recording, "recording { kind }", STAFF_ON_SESSION),
    "recordPassedApplicants": (_record_passed, "certificates { code }", RECORD_PASSED),
    "revokeCertificate": (_revoke, "certificate { revokedAt }", REVOKE),
}


async def _roles(case: Case) -> dict[str, Actor]:
    w, session = case.w, case.session
    other_inst = await factories.institution()
    outsider = await factories.expert()
    authority = await factories.authority()
    expert_unit = (await factories.unit()).id
    from models import Expert

    unit_id = (await Expert.get(id=case.expert_id)).unit_id  # type: ignore[attr-defined]
    expert_unit = unit_id or expert_unit
    applicant = await _first_applicant(session)
    partner = Grant(Role.PARTNER)
    return {
        "bureau": w.bureau,
        "own_staff": w.staff,
        "other_staff": await _actor(Grant(Role.INSTITUTION, institution_id=other_inst.id)),
        "expert_self": await _actor(Grant(Role.EXPERT, expert_id=case.expert_id)),
        "expert_other": await _expert_actor(outsider),
        "employer": await _actor(Grant(Role.EMPLOYER, unit_id=expert_unit)),
        "recommender": await _actor(Grant(Role.RECOMMENDER, authority_id=authority.id)),
        "supervisor_assigned": w.supervisor,
        "supervisor_unassigned": await _actor(Grant(Role.SUPERVISOR)),
        "applicant": await _actor(Grant(Role.APPLICANT, applicant_id=applicant.id)),
        "partner_scoped": Actor(token_id=1, grants=(partner,), token_scopes=ALL_SCOPES),
        "partner_unscoped": Actor(token_id=2, grants=(partner,)),
        "anonymous": ANONYMOUS,
    }


# Request bookkeeping, not domain state: a refused call may count against a rate.
BOOKKEEPING = frozenset({"RateCounter"})


async def table_counts() -> dict[str, int]:
    """Row count of every domain table."""
    return {
        name: await model.all().count()
        for name, model in sorted(Tortoise.apps["models"].items())
        if name not in BOOKKEEPING
    }


async def _everything() -> tuple[Any, ...]:
    return (await table_counts(), await _state())


def _document(name: str, selection: str) -> str:
    field = build_schema()._schema.mutation_type.fields[name]  # type: ignore[union-attr]
    return (
        f"mutation($input: {field.args['input'].type}) {{ {name}(input: $input) "
        f"{{ {selection} errors {{ field code message }} }} }}"
    )


@pytest.mark.parametrize("name", sorted(MATRIX))
async def test_root_mutation_role_matrix(name: str):
    """Each of 13 roles calls the mutation on the same real objects: the denied ones
    first (top-level code, no row and no audit event changed), then each permitted
    one on fresh objects (success and an audit event)."""
    setup, selection, expected = MATRIX[name]
    document = _document(name, selection)
    case = await setup()
    actors = await _roles(case)
    before = await _everything()

    outcomes: dict[str, str] = {}
    for role in ROLES:
        if expected[role] == OK:
            continue
        result = await gql(document, {"input": case.input}, actor=actors[role])
        outcomes[role] = ",".join(codes(result)) or f"payload:{result.data}"
        assert result.data is None or result.data.get(name) is None
    after = await _everything()
    assert outcomes == {r: o for r, o in expected.items() if o != OK}
    assert after == before

    for role in ROLES:
        if expected[role] != OK:
            continue
        fresh = await setup()
        actor = (await _roles(fresh))[role]
        audit_before = await AuditEvent.all().count()
        payload = data(await gql(document, {"input": fresh.input}, actor=actor))[name]
        outcomes[role] = OK if payload["errors"] == [] else f"payload:{payload['errors']}"
        if payload["errors"] == []:
            assert await AuditEvent.all().count() > audit_before

    assert outcomes == expected


def test_matrix_rows_name_every_role():
    assert all(tuple(row) == ROLES for _, _, row in MATRIX.values())
    assert len(ROLES) == 13
    assert beijing_today() < SESSION_DAY  # the sessions built here lie ahead
