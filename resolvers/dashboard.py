"""The figures of the role dashboards ("/"), one section per role the actor holds.

Every figure is counted in SQL on a scoped query (policy.scoped / scope_filter, or
the domain resolvers' own scoped queries), so a dashboard shows exactly what the
lists it links to would show, and no permission logic lives in the view. The number
of SQL statements per dashboard does not grow with the data (short "next up" lists
are LIMITed); tests/views/test_dashboard_pages.py asserts that.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from tortoise.functions import Count, Max
from tortoise.queryset import QuerySet

from models import (
    AgreementSignature,
    Certificate,
    Committee,
    Complaint,
    EvaluationSession,
    Expert,
    ExpertApplication,
    ExpertTerm,
    ExpertUpdate,
    Institution,
    InstitutionApplication,
    PanelMember,
    SessionApplicant,
    TrainingRecord,
)
from models.enums import (
    ApplicantResult,
    ApplicationStatus,
    DrawStatus,
    ExpertApplicationStatus,
    ExpertStatus,
    FilingStatus,
    PanelStatus,
    Role,
    SessionStatus,
    TermStatus,
    UpdateStatus,
)
from resolvers import complaint as complaints
from resolvers import expert as experts
from resolvers.account import supervised_sessions
from resolvers.actor import Actor
from resolvers.common import beijing_today
from resolvers.policy import Perm, scoped

WINDOW_DAYS = 90  # filings and expert terms ending within this many days are shown
NEXT_UP = 5  # rows in the short "next up" lists
_CLOSED_SESSIONS = (SessionStatus.FINALISED, SessionStatus.CANCELLED)


def _today() -> dt.date:
    return beijing_today()


def _window(today: dt.date) -> dict[str, Any]:
    return {"gte": today, "lte": today + dt.timedelta(days=WINDOW_DAYS)}


@dataclass(frozen=True)
class ComplaintFigures:
    """Open cases the actor handles, how many are past their due day (shown red) and
    the earliest deadlines."""

    open: int
    overdue: int
    next_due: list[Complaint] = field(default_factory=list)


async def _complaint_figures(actor: Actor, today: dt.date, *, with_list: bool) -> ComplaintFigures:
    qs = (await complaints.visible_complaints(actor)).filter(
        status__in=list(complaints.OPEN_STATUSES)
    )
    open_count = await qs.count()
    overdue = await qs.filter(answered_at__isnull=True, due_on__lt=today).count()
    rows: list[Complaint] = []
    if with_list:
        rows = await qs.filter(due_on__isnull=False).order_by("due_on", "id").limit(NEXT_UP)
    return ComplaintFigures(open_count, overdue, rows)


@dataclass(frozen=True)
class BureauDashboard:
    institution_filings: int  # submitted institution applications (R1)
    committee_filings: int  # submitted committees (R2)
    expert_approvals: int  # reviewed expert applications awaiting approval (Art. 17)
    expiring_institutions: int
    expiring_committees: int
    expiring_terms: int  # current expert terms ending within the window (R10)
    complaints: ComplaintFigures
    pool: experts.PoolStatistics
    committee_names: dict[int, str]


async def bureau_dashboard(actor: Actor, today: dt.date | None = None) -> BureauDashboard:
    today = today or _today()
    window = _window(today)
    inst_apps = scoped(
        actor,
        Perm.INSTITUTION_FILE,
        InstitutionApplication.filter(status=ApplicationStatus.SUBMITTED),
    )
    committees = scoped(actor, Perm.COMMITTEE_FILE, Committee.filter(status=FilingStatus.SUBMITTED))
    approvals = scoped(
        actor,
        Perm.EXPERT_APPROVE,
        ExpertApplication.filter(status=ExpertApplicationStatus.REVIEWED),
    )
    expiring = {
        "status": FilingStatus.FILED,
        "valid_until__gte": window["gte"],
        "valid_until__lte": window["lte"],
    }
    terms = scoped(
        actor,
        Perm.EXPERT_VIEW,
        ExpertTerm.filter(
            status=TermStatus.ACTIVE,
            start_on__lte=today,
            end_on__gte=window["gte"],
            end_on__lte=window["lte"],
            expert__status=ExpertStatus.IN_POOL,
        ),
    )
    pool = await experts.pool_statistics(actor, today)
    names = dict(
        await scoped(
            actor,
            Perm.COMMITTEE_VIEW,
            Committee.filter(id__in=sorted(pool.youth_by_committee) or [0]),
        ).values_list("id", "name")
    )
    return BureauDashboard(
        institution_filings=await inst_apps.count(),
        committee_filings=await committees.count(),
        expert_approvals=await approvals.count(),
        expiring_institutions=await scoped(
            actor, Perm.INSTITUTION_FILE, Institution.filter(**expiring)
        ).count(),
        expiring_committees=await scoped(
            actor, Perm.COMMITTEE_FILE, Committee.filter(**expiring)
        ).count(),
        expiring_terms=await terms.count(),
        complaints=await _complaint_figures(actor, today, with_list=False),
        pool=pool,
        committee_names={int(k): str(v) for k, v in names.items()},
    )


@dataclass(frozen=True)
class CommitteeRow:
    id: int
    name: str
    status: FilingStatus
    valid_until: dt.date | None
    expiring: bool


@dataclass(frozen=True)
class InstitutionDashboard:
    institution_id: int
    institution_name: str
    status: FilingStatus
    valid_until: dt.date | None
    committees: list[CommitteeRow]
    upcoming_sessions: int
    next_sessions: list[EvaluationSession]
    review_queue: int  # expert applications submitted to this institution (Art. 16)
    updates_to_verify: int  # expert profile changes waiting for the institution (R8)
    complaints: ComplaintFigures


async def institution_dashboard(
    actor: Actor, today: dt.date | None = None
) -> list[InstitutionDashboard]:
    """One section per institution the actor works for (normally one)."""
    today = today or _today()
    out: list[InstitutionDashboard] = []
    own = [g.institution_id for g in actor.grants_of(Role.INSTITUTION) if g.institution_id]
    if not own:
        return out
    # Complaints and the verification queue are the actor's whole scope (every
    # institution they work for), counted once.
    figures = await _complaint_figures(actor, today, with_list=True)
    to_verify = len(await experts.pending_updates_for(actor))
    insts = {
        i.id: i
        for i in await scoped(actor, Perm.INSTITUTION_APPLY, Institution.filter(id__in=sorted(own)))
    }
    comms = await scoped(
        actor, Perm.COMMITTEE_MANAGE, Committee.filter(institution_id__in=sorted(insts))
    ).order_by("name")
    now = dt.datetime.now(dt.UTC)
    sessions = scoped(
        actor,
        Perm.SESSION_MANAGE,
        EvaluationSession.filter(institution_id__in=sorted(insts), starts_at__gte=now).exclude(
            status__in=list(_CLOSED_SESSIONS)
        ),
    )
    upcoming = {
        int(r["institution_id"]): int(r["n"])
        for r in await sessions.annotate(n=Count("id"))
        .group_by("institution_id")
        .values("institution_id", "n")
    }
    next_sessions = await sessions.order_by("starts_at", "id").limit(NEXT_UP)
    queue = {
        int(r["institution_id"]): int(r["n"])
        for r in await scoped(
            actor,
            Perm.EXPERT_REVIEW,
            ExpertApplication.filter(
                institution_id__in=sorted(insts), status=ExpertApplicationStatus.SUBMITTED
            ),
        )
        .annotate(n=Count("id"))
        .group_by("institution_id")
        .values("institution_id", "n")
    }
    limit = today + dt.timedelta(days=WINDOW_DAYS)
    for inst_id in own:
        inst = insts.get(inst_id)
        if inst is None:
            continue
        rows = [
            CommitteeRow(
                c.id,
                c.name,
                FilingStatus(c.status),
                c.valid_until,
                c.status == FilingStatus.FILED
                and c.valid_until is not None
                and today <= c.valid_until <= limit,
            )
            for c in comms
            if c.institution_id == inst_id  # type: ignore[attr-defined]
        ]
        out.append(
            InstitutionDashboard(
                institution_id=inst.id,
                institution_name=inst.name,
                status=FilingStatus(inst.status),
                valid_until=inst.valid_until,
                committees=rows,
                upcoming_sessions=upcoming.get(inst_id, 0),
                next_sessions=[
                    s
                    for s in next_sessions
                    if s.institution_id == inst_id  # type: ignore[attr-defined]
                ],
                review_queue=queue.get(inst_id, 0),
                updates_to_verify=to_verify,
                complaints=figures,
            )
        )
    return out


@dataclass(frozen=True)
class ExpertDashboard:
    expert_id: int
    name: str
    status: ExpertStatus
    open_invitations: int  # drawn, not declined, session not closed
    pending_changes: int  # own profile changes waiting for verification (R8)
    agreement_published: bool
    agreement_signed: bool  # the newest confidentiality agreement (R19)
    trainings_this_year: int
    last_trained_on: dt.date | None
    term: ExpertTerm | None


async def expert_dashboard(actor: Actor, today: dt.date | None = None) -> list[ExpertDashboard]:
    today = today or _today()
    own = [g.expert_id for g in actor.grants_of(Role.EXPERT) if g.expert_id is not None]
    if not own:
        return []
    rows = await scoped(actor, Perm.EXPERT_VIEW, Expert.filter(id__in=sorted(own))).values(
        "id", "name", "status"
    )
    invitations = await _grouped(
        scoped(
            actor,
            Perm.PANEL_VIEW,
            PanelMember.filter(
                expert_id__in=sorted(own),
                draw__status=DrawStatus.EXECUTED,
                status__in=[PanelStatus.INVITED, PanelStatus.ACCEPTED],
            ).exclude(session__status__in=list(_CLOSED_SESSIONS)),
        ),
        "expert_id",
    )
    changes = await _grouped(
        scoped(
            actor,
            Perm.EXPERT_VIEW,
            ExpertUpdate.filter(expert_id__in=sorted(own), status=UpdateStatus.PENDING),
        ),
        "expert_id",
    )
    agreement = await experts.current_agreement()
    signed: set[int] = set()
    if agreement is not None:
        signed = {
            int(r["expert_id"])
            for r in await scoped(
                actor,
                Perm.EXPERT_VIEW,
                AgreementSignature.filter(expert_id__in=sorted(own), agreement_id=agreement.id),
            ).values("expert_id")
        }
    trainings = await _grouped(
        scoped(
            actor,
            Perm.EXPERT_VIEW,
            TrainingRecord.filter(expert_id__in=sorted(own), trained_on__gte=today.replace(1, 1)),
        ),
        "expert_id",
    )
    last_trained = {
        int(r["expert_id"]): r["last"]
        for r in await scoped(
            actor, Perm.EXPERT_VIEW, TrainingRecord.filter(expert_id__in=sorted(own))
        )
        .annotate(last=Max("trained_on"))
        .group_by("expert_id")
        .values("expert_id", "last")
    }
    terms: dict[int, ExpertTerm] = {}
    current = ExpertTerm.filter(
        expert_id__in=sorted(own),
        start_on__lte=today,
        end_on__gte=today,
        status__in=(TermStatus.ACTIVE, TermStatus.RENEWED),
    )
    for term in await scoped(actor, Perm.EXPERT_VIEW, current).order_by("number"):
        terms[term.expert_id] = term  # type: ignore[attr-defined]  # highest number wins
    return [
        ExpertDashboard(
            expert_id=r["id"],
            name=r["name"],
            status=ExpertStatus(r["status"]),
            open_invitations=invitations.get(r["id"], 0),
            pending_changes=changes.get(r["id"], 0),
            agreement_published=agreement is not None,
            agreement_signed=r["id"] in signed,
            trainings_this_year=trainings.get(r["id"], 0),
            last_trained_on=last_trained.get(r["id"]),
            term=terms.get(r["id"]),
        )
        for r in rows
    ]


async def _grouped(qs: QuerySet[Any], key: str) -> dict[int, int]:
    rows = await qs.annotate(n=Count("id")).group_by(key).values(key, "n")
    return {int(r[key]): int(r["n"]) for r in rows}


@dataclass(frozen=True)
class SupervisorDashboard:
    upcoming: int
    assigned: int
    next_sessions: list[EvaluationSession]


async def supervisor_dashboard(actor: Actor) -> SupervisorDashboard:
    supervised = await supervised_sessions(actor)
    qs = scoped(actor, Perm.SESSION_SUPERVISE, EvaluationSession.all(), supervised=supervised)
    upcoming = qs.exclude(status__in=list(_CLOSED_SESSIONS))
    return SupervisorDashboard(
        upcoming=await upcoming.count(),
        assigned=await qs.count(),
        next_sessions=await upcoming.order_by("starts_at", "id").limit(NEXT_UP),
    )


@dataclass(frozen=True)
class EmployerDashboard:
    to_verify: int  # profile changes of the unit's experts waiting for the employer (R8)


async def employer_dashboard(actor: Actor) -> EmployerDashboard:
    # pending_updates_for is the queue's one definition (both sides, not the same
    # person twice); it returns rows, and its length is what the employer's list shows.
    return EmployerDashboard(to_verify=len(await experts.pending_updates_for(actor)))


@dataclass(frozen=True)
class RecommenderDashboard:
    by_status: dict[ExpertApplicationStatus, int]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


async def recommender_dashboard(actor: Actor) -> RecommenderDashboard:
    qs = scoped(actor, Perm.EXPERT_RECOMMEND, ExpertApplication.all())
    rows = await qs.annotate(n=Count("id")).group_by("status").values("status", "n")
    counts = {ExpertApplicationStatus(r["status"]): int(r["n"]) for r in rows}
    return RecommenderDashboard({s: counts.get(s, 0) for s in ExpertApplicationStatus})


@dataclass(frozen=True)
class ApplicantRow:
    applicant_id: int
    series: str
    specialty: str
    level: str
    session_year: int
    finalised: bool
    result: ApplicantResult | None  # None until the session is finalised (R14)
    certificate_codes: list[str]


async def applicant_dashboard(actor: Actor) -> list[ApplicantRow]:
    rows = (
        await scoped(actor, Perm.RESULT_VIEW, SessionApplicant.all())
        .select_related("session")
        .order_by("-id")
        .limit(NEXT_UP * 4)
    )
    if not rows:
        return []
    certs: dict[int, list[str]] = {}
    for applicant_id, code in await scoped(
        actor,
        Perm.RESULT_VIEW,
        Certificate.filter(applicant_id__in=[r.id for r in rows], revoked_at__isnull=True),
    ).values_list("applicant_id", "code"):
        certs.setdefault(int(applicant_id), []).append(str(code))
    out = []
    for r in rows:
        finalised = r.session.status == SessionStatus.FINALISED
        out.append(
            ApplicantRow(
                applicant_id=r.id,
                series=r.series,
                specialty=r.specialty,
                level=str(r.level),
                session_year=r.session.year,
                finalised=finalised,
                result=ApplicantResult(r.result) if finalised else None,
                certificate_codes=certs.get(r.id, []),
            )
        )
    return out


@dataclass(frozen=True)
class Dashboard:
    """Every section the actor's roles give; None/empty = section not shown."""

    bureau: BureauDashboard | None = None
    institutions: list[InstitutionDashboard] = field(default_factory=list)
    experts: list[ExpertDashboard] = field(default_factory=list)
    supervisor: SupervisorDashboard | None = None
    employer: EmployerDashboard | None = None
    recommender: RecommenderDashboard | None = None
    applications: list[ApplicantRow] = field(default_factory=list)
    applicant: bool = False


async def dashboard(actor: Actor, today: dt.date | None = None) -> Dashboard:
    """The sections for each role the actor holds (none for the anonymous public).

    Read only; no side effects.
    """
    if actor.is_anonymous or actor.token_id is not None:
        return Dashboard()
    today = today or _today()
    return Dashboard(
        bureau=await bureau_dashboard(actor, today) if actor.has(Role.BUREAU) else None,
        institutions=await institution_dashboard(actor, today),
        experts=await expert_dashboard(actor, today),
        supervisor=await supervisor_dashboard(actor) if actor.has(Role.SUPERVISOR) else None,
        employer=await employer_dashboard(actor) if actor.has(Role.EMPLOYER) else None,
        recommender=await recommender_dashboard(actor) if actor.has(Role.RECOMMENDER) else None,
        applications=await applicant_dashboard(actor) if actor.has(Role.APPLICANT) else [],
        applicant=actor.has(Role.APPLICANT),
    )
