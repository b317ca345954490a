"""The one permission table: Perm × Role → scope rule. Every transport asks here.

`require(actor, perm, obj)` decides "may this actor do this to this object?";
`scoped(actor, perm, queryset)` narrows a list query to what the actor may see, in SQL.
Resolvers load objects through `scoped()` first (absent → NotFound) and then call
`require()` for the action (visible but not allowed → PermissionDenied).
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.enums import Role
from resolvers.actor import Actor, Grant
from resolvers.common import beijing_today
from resolvers.errors import PermissionDenied, Unauthenticated


class Perm(StrEnum):
    """The permission vocabulary. Add a value here and to POLICY (a test enforces it)."""

    INSTITUTION_VIEW = "institution.view"
    INSTITUTION_APPLY = "institution.apply"
    INSTITUTION_FILE = "institution.file"
    INSTITUTION_SUSPEND = "institution.suspend"
    INSTITUTION_ASSESS = "institution.assess"
    COMMITTEE_VIEW = "committee.view"
    COMMITTEE_MANAGE = "committee.manage"
    COMMITTEE_FILE = "committee.file"
    PLAN_VIEW = "plan.view"
    PLAN_MANAGE = "plan.manage"
    EXPERT_VIEW = "expert.view"
    EXPERT_VIEW_PII = "expert.view_pii"
    EXPERT_RECOMMEND = "expert.recommend"
    EXPERT_INVITE = "expert.invite"
    EXPERT_REVIEW = "expert.review"
    EXPERT_APPROVE = "expert.approve"
    EXPERT_UPDATE_REQUEST = "expert.update_request"
    EXPERT_UPDATE_VERIFY_EMPLOYER = "expert.update_verify_employer"
    EXPERT_UPDATE_VERIFY_INSTITUTION = "expert.update_verify_institution"
    EXPERT_SIGN_AGREEMENT = "expert.sign_agreement"
    EXPERT_TRAINING_RECORD = "expert.training_record"
    EXPERT_ASSESS = "expert.assess"
    EXPERT_EXIT = "expert.exit"
    EXPERT_TERM_EXCEPTION = "expert.term_exception"
    EXPERT_STATS = "expert.stats"
    SESSION_VIEW = "session.view"
    SESSION_MANAGE = "session.manage"
    SESSION_ASSIGN_SUPERVISOR = "session.assign_supervisor"
    SESSION_SUPERVISE = "session.supervise"
    PANEL_VIEW = "panel.view"
    CONFLICT_DECLARE = "conflict.declare"
    VOTE_CAST = "vote.cast"
    VOTE_VIEW = "vote.view"
    RESULT_VIEW = "result.view"
    CERTIFICATE_ISSUE = "certificate.issue"
    CERTIFICATE_REVOKE = "certificate.revoke"
    CERTIFICATE_VERIFY = "certificate.verify"
    COMPLAINT_SUBMIT = "complaint.submit"
    COMPLAINT_VIEW = "complaint.view"
    COMPLAINT_HANDLE = "complaint.handle"
    COMPLAINT_VIEW_IDENTITY = "complaint.view_identity"
    AUDIT_VIEW = "audit.view"
    USER_MANAGE = "user.manage"
    TOKEN_MANAGE = "token.manage"


class Scope(StrEnum):
    """How far a grant reaches."""

    PUBLIC = "public"  # anyone, including the anonymous public
    ALL = "all"  # every object (the bureau)
    INSTITUTION = "institution"  # objects of the grant's institution
    AUTHORITY = "authority"  # objects under the grant's recommending authority
    UNIT = "unit"  # objects of the grant's employer unit
    SELF = "self"  # the grant's own expert record
    SUPERVISED = "supervised"  # sessions the user is assigned to supervise
    OWN_APPLICATION = "own_application"  # the applicant's own application
    PARTNER = "partner"  # partner token; the token must also carry the perm's API scope


P, R, S = Perm, Role, Scope

# Perm → {Role: Scope}. Absent role = not allowed. Anonymous callers get PUBLIC perms.
POLICY: dict[Perm, dict[Role, Scope]] = {
    P.INSTITUTION_VIEW: {R.BUREAU: S.ALL, R.INSTITUTION: S.INSTITUTION, R.RECOMMENDER: S.ALL},
    P.INSTITUTION_APPLY: {R.INSTITUTION: S.INSTITUTION},
    P.INSTITUTION_FILE: {R.BUREAU: S.ALL},
    P.INSTITUTION_SUSPEND: {R.BUREAU: S.ALL},
    P.INSTITUTION_ASSESS: {R.BUREAU: S.ALL},
    P.COMMITTEE_VIEW: {R.BUREAU: S.ALL, R.INSTITUTION: S.INSTITUTION, R.RECOMMENDER: S.ALL},
    P.COMMITTEE_MANAGE: {R.INSTITUTION: S.INSTITUTION},
    P.COMMITTEE_FILE: {R.BUREAU: S.ALL},
    P.PLAN_VIEW: {R.BUREAU: S.ALL, R.INSTITUTION: S.INSTITUTION},
    P.PLAN_MANAGE: {R.INSTITUTION: S.INSTITUTION},
    P.EXPERT_VIEW: {
        R.BUREAU: S.ALL,
        R.INSTITUTION: S.INSTITUTION,
        R.RECOMMENDER: S.AUTHORITY,
        R.EMPLOYER: S.UNIT,
        R.EXPERT: S.SELF,
    },
    P.EXPERT_VIEW_PII: {R.BUREAU: S.ALL, R.INSTITUTION: S.INSTITUTION, R.EXPERT: S.SELF},
    P.EXPERT_RECOMMEND: {R.RECOMMENDER: S.AUTHORITY},
    P.EXPERT_INVITE: {R.BUREAU: S.ALL},
    P.EXPERT_REVIEW: {R.INSTITUTION: S.INSTITUTION},
    P.EXPERT_APPROVE: {R.BUREAU: S.ALL},
    P.EXPERT_UPDATE_REQUEST: {R.EXPERT: S.SELF},
    P.EXPERT_UPDATE_VERIFY_EMPLOYER: {R.EMPLOYER: S.UNIT},
    P.EXPERT_UPDATE_VERIFY_INSTITUTION: {R.INSTITUTION: S.INSTITUTION},
    P.EXPERT_SIGN_AGREEMENT: {R.EXPERT: S.SELF},
    P.EXPERT_TRAINING_RECORD: {R.INSTITUTION: S.INSTITUTION},
    P.EXPERT_ASSESS: {R.INSTITUTION: S.INSTITUTION},
    P.EXPERT_EXIT: {R.BUREAU: S.ALL, R.INSTITUTION: S.INSTITUTION},
    P.EXPERT_TERM_EXCEPTION: {R.BUREAU: S.ALL},
    P.EXPERT_STATS: {R.BUREAU: S.ALL, R.INSTITUTION: S.INSTITUTION},
    P.SESSION_VIEW: {
        R.BUREAU: S.ALL,
        R.INSTITUTION: S.INSTITUTION,
        R.SUPERVISOR: S.SUPERVISED,
    },
    P.SESSION_MANAGE: {R.INSTITUTION: S.INSTITUTION},
    P.SESSION_ASSIGN_SUPERVISOR: {R.BUREAU: S.ALL, R.RECOMMENDER: S.ALL},
    P.SESSION_SUPERVISE: {R.SUPERVISOR: S.SUPERVISED},
    # R19: the sealed panel — never applicants or the public before the session ends.
    P.PANEL_VIEW: {
        R.BUREAU: S.ALL,
        R.INSTITUTION: S.INSTITUTION,
        R.SUPERVISOR: S.SUPERVISED,
        R.EXPERT: S.SELF,
    },
    P.CONFLICT_DECLARE: {
        R.EXPERT: S.SELF,
        R.APPLICANT: S.OWN_APPLICATION,
        R.INSTITUTION: S.INSTITUTION,
    },
    P.VOTE_CAST: {R.EXPERT: S.SELF, R.INSTITUTION: S.INSTITUTION},
    P.VOTE_VIEW: {R.BUREAU: S.ALL},
    P.RESULT_VIEW: {
        R.BUREAU: S.ALL,
        R.INSTITUTION: S.INSTITUTION,
        R.APPLICANT: S.OWN_APPLICATION,
    },
    P.CERTIFICATE_ISSUE: {R.BUREAU: S.ALL},
    P.CERTIFICATE_REVOKE: {R.BUREAU: S.ALL},
    P.CERTIFICATE_VERIFY: {R.PARTNER: S.PARTNER},
    P.COMPLAINT_SUBMIT: {R.PARTNER: S.PARTNER, R.APPLICANT: S.OWN_APPLICATION},
    P.COMPLAINT_VIEW: {R.BUREAU: S.ALL, R.INSTITUTION: S.INSTITUTION},
    P.COMPLAINT_HANDLE: {R.BUREAU: S.ALL, R.INSTITUTION: S.INSTITUTION},
    P.COMPLAINT_VIEW_IDENTITY: {R.BUREAU: S.ALL, R.INSTITUTION: S.INSTITUTION},
    P.AUDIT_VIEW: {R.BUREAU: S.ALL},
    P.USER_MANAGE: {R.BUREAU: S.ALL},
    P.TOKEN_MANAGE: {R.BUREAU: S.ALL},
}

# Perms anyone may use, logged in or not (the public directory, verification, intake).
PUBLIC_PERMS: frozenset[Perm] = frozenset(
    {P.INSTITUTION_VIEW, P.COMMITTEE_VIEW, P.PLAN_VIEW, P.CERTIFICATE_VERIFY, P.COMPLAINT_SUBMIT}
)

# The API scope a partner token needs for each perm it may use.
PARTNER_API_SCOPE: dict[Perm, str] = {
    P.INSTITUTION_VIEW: "public:read",
    P.COMMITTEE_VIEW: "public:read",
    P.PLAN_VIEW: "public:read",
    P.CERTIFICATE_VERIFY: "certificate:verify",
    P.COMPLAINT_SUBMIT: "complaint:submit",
}


def _in_force() -> Q:
    from models.enums import FilingStatus

    return Q(status=FilingStatus.FILED, valid_until__gte=beijing_today())


def _published() -> Q:
    from models.enums import PlanStatus

    return Q(status=PlanStatus.PUBLISHED)


# What the public sees of each publicly listed model (the directory, R1/R2 in force).
PUBLIC_FILTERS: dict[Perm, Callable[[], Q]] = {
    P.INSTITUTION_VIEW: _in_force,
    P.COMMITTEE_VIEW: lambda: (
        _in_force() & Q(institution__status="filed", institution__valid_until__gte=beijing_today())
    ),
    P.PLAN_VIEW: _published,
}


@dataclass(frozen=True)
class ObjectScope:
    """The scope keys of one object, derived from its foreign keys."""

    institution_ids: frozenset[int] = frozenset()
    authority_ids: frozenset[int] = frozenset()
    unit_ids: frozenset[int] = frozenset()
    expert_ids: frozenset[int] = frozenset()
    session_ids: frozenset[int] = frozenset()
    applicant_ids: frozenset[int] = frozenset()


# Model name → (scope, field path) used to filter querysets in SQL and to read the
# scope keys of a loaded object. Resolvers register their models below.
SCOPE_PATHS: dict[str, dict[Scope, str]] = {
    "Institution": {S.INSTITUTION: "id"},
    "InstitutionApplication": {S.INSTITUTION: "institution_id"},
    "InstitutionAssessment": {S.INSTITUTION: "institution_id"},
    "Committee": {S.INSTITUTION: "institution_id"},
    "CommitteeSeat": {S.INSTITUTION: "committee__institution_id"},
    "AnnualPlan": {S.INSTITUTION: "committee__institution_id"},
    "Expert": {
        S.INSTITUTION: "institution_id",
        S.UNIT: "unit_id",
        S.SELF: "id",
        S.AUTHORITY: "unit__authority_id",
    },
    "ExpertApplication": {
        S.INSTITUTION: "institution_id",
        S.AUTHORITY: "authority_id",
        S.SELF: "expert_id",
    },
    "ExpertUpdate": {
        S.INSTITUTION: "expert__institution_id",
        S.UNIT: "expert__unit_id",
        S.SELF: "expert_id",
    },
    "ExpertTerm": {S.INSTITUTION: "expert__institution_id", S.SELF: "expert_id"},
    "ExpertAssessment": {S.INSTITUTION: "institution_id", S.SELF: "expert_id"},
    "TrainingRecord": {S.INSTITUTION: "expert__institution_id", S.SELF: "expert_id"},
    "AgreementSignature": {S.INSTITUTION: "expert__institution_id", S.SELF: "expert_id"},
    "EvaluationSession": {S.INSTITUTION: "institution_id", S.SUPERVISED: "id"},
    "SessionApplicant": {
        S.INSTITUTION: "session__institution_id",
        S.SUPERVISED: "session_id",
        S.OWN_APPLICATION: "id",
    },
    "PanelMember": {
        S.INSTITUTION: "session__institution_id",
        S.SUPERVISED: "session_id",
        S.SELF: "expert_id",
    },
    "Vote": {S.INSTITUTION: "session__institution_id", S.SELF: "expert_id"},
    "Recording": {S.INSTITUTION: "session__institution_id", S.SUPERVISED: "session_id"},
    "ConflictDeclaration": {
        S.INSTITUTION: "session__institution_id",
        S.SELF: "expert_id",
        S.OWN_APPLICATION: "applicant_id",
    },
    "Complaint": {S.INSTITUTION: "institution_id"},
    "Certificate": {S.OWN_APPLICATION: "applicant_id"},
}


def _grant_value(grant: Grant, scope: Scope) -> Any:
    return {
        S.INSTITUTION: grant.institution_id,
        S.AUTHORITY: grant.authority_id,
        S.UNIT: grant.unit_id,
        S.SELF: grant.expert_id,
        S.OWN_APPLICATION: grant.applicant_id,
    }.get(scope)


def _matching_grants(actor: Actor, perm: Perm) -> list[tuple[Grant, Scope]]:
    rules = POLICY[perm]
    return [(g, rules[g.role]) for g in actor.grants if g.role in rules]


def _partner_allowed(actor: Actor, perm: Perm) -> bool:
    need = PARTNER_API_SCOPE.get(perm)
    return actor.token_id is not None and need is not None and need in actor.token_scopes


def allows(actor: Actor, perm: Perm) -> bool:
    """Whether any grant (or public access) could allow `perm` on some object."""
    if actor.is_system:
        return True
    if actor.token_id is not None:
        return _partner_allowed(actor, perm)
    return perm in PUBLIC_PERMS or bool(_matching_grants(actor, perm))


def _path_value(obj: Model, path: str) -> Any:
    """Follow `a__b_id` through relations the caller loaded (select_related /
    fetch_related); an unloaded relation is a programming error, not a denial."""
    *hops, last = path.split("__")
    current: Any = obj
    for hop in hops:
        current = getattr(current, hop, None)
        if current is None:
            return None
        if not isinstance(current, Model):
            raise ValueError(
                f"require() on {type(obj).__name__} needs {'__'.join(hops)} loaded "
                f"(select_related) to check {path}"
            )
    return getattr(current, last)


def _covers(
    actor: Actor, scope: Scope, grant: Grant, obj: Model, supervised: frozenset[int]
) -> bool:
    if scope in (S.ALL, S.PUBLIC, S.PARTNER):
        return True
    path = SCOPE_PATHS.get(type(obj).__name__, {}).get(scope)
    if path is None:
        return False
    value = _path_value(obj, path)
    if scope == S.SUPERVISED:
        return value in supervised
    return value is not None and value == _grant_value(grant, scope)


def require(
    actor: Actor, perm: Perm, obj: Model | None = None, *, supervised: frozenset[int] = frozenset()
) -> None:
    """Raise unless `actor` may do `perm` (to `obj`, when given).

    Unauthenticated for an anonymous caller of a non-public perm, PermissionDenied
    otherwise (also for a partner token whose API scopes lack the perm, public or
    not). `supervised` is the set of session ids the actor supervises (loaded by the
    caller when a SUPERVISED rule may apply).
    """
    if actor.is_system:
        return
    # A partner token may use exactly the perms its API scopes name, public ones
    # included: a token without complaint:submit must not file as a partner portal.
    if actor.token_id is not None:
        if _partner_allowed(actor, perm):
            return
        raise PermissionDenied()
    if perm in PUBLIC_PERMS:
        return
    if actor.is_anonymous:
        raise Unauthenticated()
    for grant, scope in _matching_grants(actor, perm):
        if obj is None or _covers(actor, scope, grant, obj, supervised):
            return
    raise PermissionDenied()


def scope_filter(
    actor: Actor, perm: Perm, model_name: str, *, supervised: frozenset[int] = frozenset()
) -> Q | None:
    """A Q that keeps exactly the rows `actor` may `perm`; None means every row.

    Public perms see the public subset (PUBLIC_FILTERS) plus whatever the actor's
    grants add. A Q matching nothing is returned when nothing applies.
    """
    if actor.is_system:
        return None
    if actor.token_id is not None and not _partner_allowed(actor, perm):
        # As in require(): a token without the perm's API scope gets nothing of it.
        return Q(pk__in=[])
    clauses: list[Q] = []
    public = PUBLIC_FILTERS.get(perm)
    if public is not None:
        clauses.append(public())
    elif perm in PUBLIC_PERMS:
        return None
    paths = SCOPE_PATHS.get(model_name, {})
    for grant, scope in _matching_grants(actor, perm):
        if scope == S.ALL:
            return None
        path = paths.get(scope)
        if path is None:
            continue
        if scope == S.SUPERVISED:
            in_filter: dict[str, Any] = {f"{path}__in": list(supervised)}
            clauses.append(Q(**in_filter))
            continue
        value = _grant_value(grant, scope)
        if value is not None:
            clauses.append(Q(**{path: value}))
    if not clauses:
        return Q(pk__in=[])
    return clauses[0] if len(clauses) == 1 else Q(*clauses, join_type="OR")


def scoped(
    actor: Actor, perm: Perm, queryset: QuerySet, *, supervised: frozenset[int] = frozenset()
) -> QuerySet:
    """Narrow `queryset` to the rows `actor` may `perm`, in SQL (never in Python)."""
    q = scope_filter(actor, perm, queryset.model.__name__, supervised=supervised)
    return queryset if q is None else queryset.filter(q)
