"""The permission matrix (issue 3): every Perm × every role × (own scope, other scope,
no scope), asked of policy.require() and of policy.scoped() against real objects.

The expected answers are written out below from SPEC.md's roles table and the
regulation articles, not derived from POLICY, so a change to POLICY that is not
also made here fails. Two worlds are built: "A" holds the target objects, "B" an
identical set that belongs to someone else.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import (
    AnnualPlan,
    ApiToken,
    AuditEvent,
    Authority,
    Certificate,
    Committee,
    Complaint,
    ConflictDeclaration,
    Draw,
    EvaluationSession,
    Expert,
    Institution,
    PanelMember,
    SessionApplicant,
    Unit,
    User,
    Vote,
)
from models.enums import (
    CertificateKind,
    ComplaintChannel,
    ComplaintKind,
    ConflictKind,
    DeclaredBy,
    Level,
    PlanStatus,
    Role,
    Seat,
    TargetType,
    VoteChoice,
)
from resolvers import audit
from resolvers.actor import ANONYMOUS, SYSTEM, Actor, Grant
from resolvers.common import beijing_today
from resolvers.errors import PermissionDenied, Unauthenticated
from resolvers.personal import protect_id_number
from resolvers.policy import POLICY, Perm, require, scoped
from tests import factories

P, R = Perm, Role
ANY, OWN = "any", "own"
PUBLIC = "public"  # everyone, the anonymous public included (Art. 9, R18, R16)

# Perm → PUBLIC, or {role: ANY (whatever its scope) | OWN (only within its own scope)}.
# A role not named is refused.
EXPECTED: dict[Perm, str | dict[Role, str]] = {
    P.INSTITUTION_VIEW: PUBLIC,
    P.INSTITUTION_APPLY: {R.INSTITUTION: OWN},  # Art. 10
    P.INSTITUTION_FILE: {R.BUREAU: ANY},  # Art. 12
    P.INSTITUTION_SUSPEND: {R.BUREAU: ANY},  # Art. 31
    P.INSTITUTION_ASSESS: {R.BUREAU: ANY},  # Art. 29–30
    P.COMMITTEE_VIEW: PUBLIC,
    P.COMMITTEE_MANAGE: {R.INSTITUTION: OWN},
    P.COMMITTEE_FILE: {R.BUREAU: ANY},  # Art. 12
    P.PLAN_VIEW: PUBLIC,  # published plans
    P.PLAN_MANAGE: {R.INSTITUTION: OWN},  # Art. 9(二)
    P.EXPERT_VIEW: {
        R.BUREAU: ANY,
        R.INSTITUTION: OWN,
        R.RECOMMENDER: OWN,
        R.EMPLOYER: OWN,
        R.EXPERT: OWN,
    },
    P.EXPERT_VIEW_PII: {R.BUREAU: ANY, R.INSTITUTION: OWN, R.EXPERT: OWN},
    P.EXPERT_RECOMMEND: {R.RECOMMENDER: OWN},  # R3, Art. 15(一)
    P.EXPERT_INVITE: {R.BUREAU: ANY},  # R3, Art. 15(二)
    P.EXPERT_REVIEW: {R.INSTITUTION: OWN},  # Art. 17
    P.EXPERT_APPROVE: {R.BUREAU: ANY},  # Art. 17
    P.EXPERT_UPDATE_REQUEST: {R.EXPERT: OWN},  # R8
    P.EXPERT_UPDATE_VERIFY_EMPLOYER: {R.EMPLOYER: OWN},  # R8
    P.EXPERT_UPDATE_VERIFY_INSTITUTION: {R.INSTITUTION: OWN},  # R8
    P.EXPERT_SIGN_AGREEMENT: {R.EXPERT: OWN},  # R19
    P.EXPERT_TRAINING_RECORD: {R.INSTITUTION: OWN},  # R19
    P.EXPERT_ASSESS: {R.INSTITUTION: OWN},  # Art. 32
    P.EXPERT_EXIT: {R.BUREAU: ANY, R.INSTITUTION: OWN},  # R6
    P.EXPERT_TERM_EXCEPTION: {R.BUREAU: ANY},  # R7
    P.EXPERT_STATS: {R.BUREAU: ANY, R.INSTITUTION: OWN},  # R13
    P.SESSION_VIEW: {R.BUREAU: ANY, R.INSTITUTION: OWN, R.SUPERVISOR: OWN},  # Art. 30
    P.SESSION_MANAGE: {R.INSTITUTION: OWN},
    P.SESSION_ASSIGN_SUPERVISOR: {R.BUREAU: ANY, R.RECOMMENDER: ANY},  # Art. 30 co-supervision
    P.SESSION_SUPERVISE: {R.SUPERVISOR: OWN},  # Art. 30
    # R19: the panel is sealed from applicants and the public.
    P.PANEL_VIEW: {R.BUREAU: ANY, R.INSTITUTION: OWN, R.SUPERVISOR: OWN, R.EXPERT: OWN},
    P.CONFLICT_DECLARE: {R.EXPERT: OWN, R.APPLICANT: OWN, R.INSTITUTION: OWN},  # R11
    P.VOTE_CAST: {R.EXPERT: OWN, R.INSTITUTION: OWN},  # R14 (staff enter paper ballots)
    P.VOTE_VIEW: {R.BUREAU: ANY},
    P.RESULT_VIEW: {R.BUREAU: ANY, R.INSTITUTION: OWN, R.APPLICANT: OWN},  # Art. 28
    P.CERTIFICATE_ISSUE: {R.BUREAU: ANY},  # R18
    P.CERTIFICATE_REVOKE: {R.BUREAU: ANY},
    P.CERTIFICATE_VERIFY: PUBLIC,  # R18: anyone can verify a code
    P.COMPLAINT_SUBMIT: PUBLIC,  # R16: anonymity allowed
    P.COMPLAINT_VIEW: {R.BUREAU: ANY, R.INSTITUTION: OWN},
    P.COMPLAINT_HANDLE: {R.BUREAU: ANY, R.INSTITUTION: OWN},  # Art. 28
    P.COMPLAINT_VIEW_IDENTITY: {R.BUREAU: ANY, R.INSTITUTION: OWN},  # R16
    P.AUDIT_VIEW: {R.BUREAU: ANY},  # R20
    P.USER_MANAGE: {R.BUREAU: ANY},
    P.TOKEN_MANAGE: {R.BUREAU: ANY},
}

# The object each perm is asked about, and the relation require() needs loaded.
TARGETS: dict[Perm, tuple[str, tuple[str, ...]]] = {
    **{
        p: ("institution", ())
        for p in (
            P.INSTITUTION_VIEW,
            P.INSTITUTION_APPLY,
            P.INSTITUTION_FILE,
            P.INSTITUTION_SUSPEND,
            P.INSTITUTION_ASSESS,
        )
    },
    **{p: ("committee", ()) for p in (P.COMMITTEE_VIEW, P.COMMITTEE_MANAGE, P.COMMITTEE_FILE)},
    **{p: ("plan", ("committee",)) for p in (P.PLAN_VIEW, P.PLAN_MANAGE)},
    **{p: ("expert", ("unit",)) for p in Perm if p.value.startswith("expert.")},
    **{
        p: ("session", ())
        for p in (
            P.SESSION_VIEW,
            P.SESSION_MANAGE,
            P.SESSION_ASSIGN_SUPERVISOR,
            P.SESSION_SUPERVISE,
        )
    },
    P.PANEL_VIEW: ("panel_member", ("session",)),
    P.CONFLICT_DECLARE: ("conflict", ("session",)),
    P.VOTE_CAST: ("vote", ("session",)),
    P.VOTE_VIEW: ("vote", ("session",)),
    P.RESULT_VIEW: ("applicant", ("session",)),
    **{
        p: ("certificate", ())
        for p in (P.CERTIFICATE_ISSUE, P.CERTIFICATE_REVOKE, P.CERTIFICATE_VERIFY)
    },
    **{
        p: ("complaint", ())
        for p in (
            P.COMPLAINT_SUBMIT,
            P.COMPLAINT_VIEW,
            P.COMPLAINT_HANDLE,
            P.COMPLAINT_VIEW_IDENTITY,
        )
    },
    P.AUDIT_VIEW: ("audit_event", ()),
    P.USER_MANAGE: ("user", ()),
    P.TOKEN_MANAGE: ("api_token", ()),
}

# The partner API scope each perm needs. A token uses exactly what its scopes name,
# public perms included (a token without complaint:submit may not file as a portal).
API_SCOPES = frozenset({"public:read", "certificate:verify", "complaint:submit"})
TOKEN_NEEDS: dict[Perm, str] = {
    P.INSTITUTION_VIEW: "public:read",
    P.COMMITTEE_VIEW: "public:read",
    P.PLAN_VIEW: "public:read",
    P.CERTIFICATE_VERIFY: "certificate:verify",
    P.COMPLAINT_SUBMIT: "complaint:submit",
}
CASES = ("own", "other", "none")


def _token_scopes(case: str) -> frozenset[str]:
    """ "own": every API scope; "other": public:read only; "none": no scope at all."""
    return {"own": API_SCOPES, "other": frozenset({"public:read"})}.get(case, frozenset())


@dataclass
class World:
    authority: Authority
    unit: Unit
    institution: Institution
    committee: Committee
    plan: AnnualPlan
    expert: Expert
    session: EvaluationSession
    applicant: SessionApplicant
    panel_member: PanelMember
    conflict: ConflictDeclaration
    vote: Vote
    certificate: Certificate
    complaint: Complaint
    audit_event: AuditEvent
    user: User
    api_token: ApiToken


async def _world(tag: str) -> World:
    authority = await factories.authority()
    unit = await factories.unit(authority=authority)
    institution = await factories.institution()
    committee = await Committee.create(
        institution=institution,
        name=f"{tag}工程技术正高级评委会",
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
        status="filed",
        filed_at=beijing_today(),
        valid_until=beijing_today() + dt.timedelta(days=365),
    )
    plan = await AnnualPlan.create(
        committee=committee,
        year=2026,
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
        status=PlanStatus.PUBLISHED,
    )
    expert = await factories.expert(unit=unit, institution=institution)
    starts = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    session = await EvaluationSession.create(
        committee=committee,
        institution=institution,
        year=starts.year,
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=8),
        place="北京",
        panel_size=7,
    )
    idn = factories.make_id_number(dt.date(1985, 3, 4), seq=len(tag) + ord(tag[0]))
    applicant = await SessionApplicant.create(
        session=session,
        name=f"申报人{tag}",
        unit=unit,
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
        **protect_id_number(idn),  # type: ignore[arg-type]
    )
    draw = await Draw.create(
        session=session,
        inputs={},
        pool_hash="0" * 64,
        secret_enc="",
        secret_hash="0" * 64,
        committed_at=dt.datetime.now(dt.UTC),
    )
    panel_member = await PanelMember.create(
        session=session, draw=draw, expert=expert, rank=1, seat=Seat.MEMBER
    )
    conflict = await ConflictDeclaration.create(
        session=session,
        applicant=applicant,
        expert=expert,
        kind=ConflictKind.OTHER,
        declared_by=DeclaredBy.EXPERT,
    )
    vote = await Vote.create(
        session=session, applicant=applicant, expert=expert, choice=VoteChoice.FOR
    )
    certificate = await Certificate.create(
        applicant=applicant,
        kind=CertificateKind.CERTIFICATE,
        code=f"CODE{tag}",
        payload={},
        signature="",
        issued_at=dt.datetime.now(dt.UTC),
    )
    complaint = await Complaint.create(
        kind=ComplaintKind.COMPLAINT,
        channel=ComplaintChannel.WEB,
        target_type=TargetType.INSTITUTION,
        target_id=institution.id,
        facts="事实",
        tracking_code=f"T{tag}",
        query_password_hash="x",
        institution=institution,
    )
    async with in_transaction():
        audit_event = await audit.record(SYSTEM, "test.world", ("world", tag))
    user = await User.create(username=f"user{tag}", display_name=tag, password_hash="x")
    api_token = await ApiToken.create(name=tag, prefix=tag, token_hash=f"{tag:0>64}")
    return World(
        authority,
        unit,
        institution,
        committee,
        plan,
        expert,
        session,
        applicant,
        panel_member,
        conflict,
        vote,
        certificate,
        complaint,
        audit_event,
        user,
        api_token,
    )


def _actor(role: Role, case: str, own: World, other: World) -> tuple[Actor, frozenset[int]]:
    """The actor holding `role` scoped to world A ("own"), B ("other") or nothing."""
    w = {"own": own, "other": other}.get(case)
    if role == R.PARTNER:
        return Actor(
            username="partner",
            grants=(Grant(R.PARTNER),),
            token_id=1,
            token_scopes=_token_scopes(case),
        ), frozenset()
    if role == R.SUPERVISOR:
        sup = frozenset({w.session.id}) if w else frozenset()
        return Actor(user_id=1, username="s", grants=(Grant(R.SUPERVISOR),)), sup
    keys: dict[str, Any] = {}
    if w is not None:
        keys = {
            R.INSTITUTION: {"institution_id": w.institution.id},
            R.RECOMMENDER: {"authority_id": w.authority.id},
            R.EMPLOYER: {"unit_id": w.unit.id},
            R.EXPERT: {"expert_id": w.expert.id},
            R.APPLICANT: {"applicant_id": w.applicant.id},
            R.BUREAU: {},
        }[role]
    return Actor(user_id=1, username="u", grants=(Grant(role, **keys),)), frozenset()


def _expected(perm: Perm, role: Role | None, case: str) -> bool:
    rule = EXPECTED[perm]
    if role == R.PARTNER:
        return TOKEN_NEEDS.get(perm) in _token_scopes(case)
    if rule == PUBLIC:
        return True
    if role is None:
        return False
    assert isinstance(rule, dict)
    reach = rule.get(role)
    return reach == ANY or (reach == OWN and case == "own")


async def _load(target: Model, related: tuple[str, ...]) -> Model:
    query = type(target).filter(pk=target.pk)
    return await (query.select_related(*related) if related else query).get()


async def _decide(actor: Actor, perm: Perm, obj: Model, sup: frozenset[int]) -> tuple[bool, bool]:
    try:
        require(actor, perm, obj, supervised=sup)
        by_require = True
    except (PermissionDenied, Unauthenticated):
        by_require = False
    by_scope = await scoped(actor, perm, type(obj).filter(pk=obj.pk), supervised=sup).exists()
    return by_require, by_scope


@pytest.mark.parametrize("perm", list(Perm), ids=lambda p: p.value)
async def test_permission_matrix(perm: Perm):
    own, other = await _world("A"), await _world("B")
    name, related = TARGETS[perm]
    target = await _load(getattr(own, name), related)
    audit_before = await AuditEvent.all().count()
    actual: dict[tuple[str, str], tuple[bool, bool]] = {}
    expected: dict[tuple[str, str], tuple[bool, bool]] = {}
    for role in Role:
        for case in CASES:
            actor, sup = _actor(role, case, own, other)
            actual[(role.value, case)] = await _decide(actor, perm, target, sup)
            want = _expected(perm, role, case)
            expected[(role.value, case)] = (want, want)
    actual[("anonymous", "none")] = await _decide(ANONYMOUS, perm, target, frozenset())
    want = _expected(perm, None, "none")
    expected[("anonymous", "none")] = (want, want)
    assert actual == expected
    assert await AuditEvent.all().count() == audit_before  # deciding changes nothing


def test_every_perm_is_in_policy_and_in_this_matrix():
    assert set(POLICY) == set(Perm)
    assert set(EXPECTED) == set(Perm)
    assert set(TARGETS) == set(Perm)


def test_matrix_covers_every_role():
    """A new Role must be given its scope in _actor() before the matrix runs."""
    own_keys = {
        R.INSTITUTION,
        R.RECOMMENDER,
        R.EMPLOYER,
        R.EXPERT,
        R.APPLICANT,
        R.BUREAU,
        R.PARTNER,
        R.SUPERVISOR,
    }
    assert set(Role) == own_keys


async def test_require_through_an_unloaded_relation_is_a_programming_error():
    """A joined scope path (Expert → unit → authority) needs the relation loaded;
    silently denying would hide the bug, silently allowing would leak."""
    world = await _world("A")
    recommender = Actor(
        user_id=1, username="r", grants=(Grant(R.RECOMMENDER, authority_id=world.authority.id),)
    )
    unloaded = await Expert.get(id=world.expert.id)
    with pytest.raises(ValueError, match="select_related"):
        require(recommender, P.EXPERT_RECOMMEND, unloaded)
    loaded = await Expert.get(id=world.expert.id).select_related("unit")
    require(recommender, P.EXPERT_RECOMMEND, loaded)  # allowed: no exception


@pytest.mark.parametrize("perm", sorted(TOKEN_NEEDS), ids=lambda p: p.value)
async def test_partner_token_without_the_scope_is_refused_even_a_public_perm(perm: Perm):
    """A public perm does not excuse a token from its API scope (the anonymous public
    may file a complaint, a token without complaint:submit may not file as a portal)."""
    world = await _world("A")
    name, related = TARGETS[perm]
    target = await _load(getattr(world, name), related)
    others = API_SCOPES - {TOKEN_NEEDS[perm]}
    lacking = Actor(username="p", grants=(Grant(R.PARTNER),), token_id=1, token_scopes=others)
    holding = Actor(username="p", grants=(Grant(R.PARTNER),), token_id=1, token_scopes=API_SCOPES)

    assert await _decide(lacking, perm, target, frozenset()) == (False, False)
    assert await _decide(holding, perm, target, frozenset()) == (True, True)
    assert await _decide(ANONYMOUS, perm, target, frozenset()) == (True, True)
    with pytest.raises(PermissionDenied):
        require(lacking, perm)
