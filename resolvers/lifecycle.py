"""Lifecycle transition tables: the one place that says which status may follow which.

Resolvers call `check_transition()` before changing a status; the model tests walk
every (from, to) pair of every table.
"""

from enum import StrEnum

from models.enums import (
    ApplicationStatus,
    ComplaintStatus,
    DrawStatus,
    ExpertApplicationStatus,
    ExpertStatus,
    FilingStatus,
    PanelStatus,
    PlanStatus,
    SessionStatus,
    TermStatus,
    UpdateStatus,
)
from resolvers.errors import DomainError, ErrorCode

F, A, E, EA = FilingStatus, ApplicationStatus, ExpertStatus, ExpertApplicationStatus
S, C = SessionStatus, ComplaintStatus

TRANSITIONS: dict[type[StrEnum], dict[StrEnum, frozenset[StrEnum]]] = {
    # Institutions and committees (Art. 12, 31). A rejected first filing may be
    # resubmitted; an expired, suspended or rejected one is re-filed; suspension is
    # lifted by a new passed assessment (back to filed); revocation is final.
    FilingStatus: {
        F.DRAFT: frozenset({F.SUBMITTED}),
        F.SUBMITTED: frozenset({F.FILED, F.REJECTED}),
        F.REJECTED: frozenset({F.SUBMITTED}),
        F.FILED: frozenset({F.EXPIRED, F.SUSPENDED, F.REVOKED}),
        F.EXPIRED: frozenset({F.FILED, F.REVOKED}),
        F.SUSPENDED: frozenset({F.FILED, F.REVOKED, F.EXPIRED}),
        F.REVOKED: frozenset(),
    },
    ApplicationStatus: {
        A.DRAFT: frozenset({A.SUBMITTED}),
        A.SUBMITTED: frozenset({A.FILED, A.REJECTED}),
        A.REJECTED: frozenset({A.SUBMITTED}),
        A.FILED: frozenset(),
    },
    PlanStatus: {
        PlanStatus.DRAFT: frozenset({PlanStatus.PUBLISHED}),
        PlanStatus.PUBLISHED: frozenset(),
    },
    # Experts (Art. 17, 22, 32): exited is final and keeps the history.
    ExpertStatus: {
        E.APPLIED: frozenset({E.REVIEWED, E.REJECTED}),
        # Back to applied when the bureau asks for additions after the review (Art. 17).
        E.REVIEWED: frozenset({E.IN_POOL, E.REJECTED, E.APPLIED}),
        E.REJECTED: frozenset({E.APPLIED}),
        E.IN_POOL: frozenset({E.SUSPENDED, E.EXITED}),
        E.SUSPENDED: frozenset({E.IN_POOL, E.EXITED}),
        E.EXITED: frozenset(),
    },
    ExpertApplicationStatus: {
        # Art. 17: additions or adjustments may be requested before the decision; the
        # amended application is submitted again and reviewed again.
        EA.SUBMITTED: frozenset({EA.REVIEWED, EA.REJECTED, EA.NEEDS_CHANGES}),
        EA.REVIEWED: frozenset({EA.APPROVED, EA.REJECTED, EA.NEEDS_CHANGES}),
        EA.NEEDS_CHANGES: frozenset({EA.SUBMITTED, EA.REJECTED}),
        EA.APPROVED: frozenset(),
        EA.REJECTED: frozenset(),
    },
    TermStatus: {
        TermStatus.ACTIVE: frozenset({TermStatus.RENEWED, TermStatus.ENDED}),
        TermStatus.RENEWED: frozenset(),
        TermStatus.ENDED: frozenset(),
    },
    UpdateStatus: {
        UpdateStatus.PENDING: frozenset(
            {UpdateStatus.APPLIED, UpdateStatus.REJECTED, UpdateStatus.WITHDRAWN}
        ),
        UpdateStatus.APPLIED: frozenset(),
        UpdateStatus.REJECTED: frozenset(),
        UpdateStatus.WITHDRAWN: frozenset(),
    },
    # Sessions: a redraw goes back from committed/drawn to committed (new commitment).
    SessionStatus: {
        S.PLANNED: frozenset({S.COMMITTED, S.CANCELLED}),
        S.COMMITTED: frozenset({S.DRAWN, S.COMMITTED, S.CANCELLED}),
        S.DRAWN: frozenset({S.SITTING, S.COMMITTED, S.CANCELLED}),
        S.SITTING: frozenset({S.FINALISED}),
        S.FINALISED: frozenset(),
        S.CANCELLED: frozenset(),
    },
    DrawStatus: {
        DrawStatus.COMMITTED: frozenset({DrawStatus.EXECUTED, DrawStatus.ABANDONED}),
        DrawStatus.EXECUTED: frozenset({DrawStatus.ABANDONED}),
        DrawStatus.ABANDONED: frozenset(),
    },
    PanelStatus: {
        PanelStatus.INVITED: frozenset({PanelStatus.ACCEPTED, PanelStatus.DECLINED}),
        PanelStatus.ACCEPTED: frozenset({PanelStatus.DECLINED}),
        PanelStatus.DECLINED: frozenset(),
    },
    # Complaints (Art. 28, R16).
    ComplaintStatus: {
        C.RECEIVED: frozenset({C.ACCEPTED, C.NOT_ACCEPTED}),
        C.ACCEPTED: frozenset({C.IN_HANDLING, C.ANSWERED}),
        C.NOT_ACCEPTED: frozenset({C.CLOSED}),
        C.IN_HANDLING: frozenset({C.ANSWERED}),
        C.ANSWERED: frozenset({C.CLOSED}),
        C.CLOSED: frozenset(),
    },
}

STATUS_LABELS: dict[StrEnum, str] = {
    F.DRAFT: "草稿",
    F.SUBMITTED: "已提交",
    F.FILED: "已备案",
    F.REJECTED: "未予备案",
    F.EXPIRED: "已到期",
    F.SUSPENDED: "已暂停",
    F.REVOKED: "已撤销",
}


def can_transition(current: StrEnum, target: StrEnum) -> bool:
    table = TRANSITIONS[type(current)]
    return target in table[current]


def check_transition(current: StrEnum, target: StrEnum, *, field: str = "status") -> None:
    """Raise INVALID_TRANSITION unless `current → target` is in the table."""
    if not can_transition(current, target):
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"当前状态“{current.value}”不能变更为“{target.value}”",
            field,
        )
