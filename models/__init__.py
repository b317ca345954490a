"""Tortoise models: thin and typed. Rules and state machines live in resolvers/."""

from models.account import (
    ApiToken,
    BackgroundJob,
    IdempotencyKey,
    LoginSession,
    Notification,
    RateCounter,
    RoleAssignment,
    User,
)
from models.audit import AuditEvent
from models.certificate import Certificate
from models.complaint import Complaint, ComplaintNote, EvidenceFile
from models.evaluation import (
    ConflictDeclaration,
    Draw,
    EvaluationSession,
    PanelMember,
    Recording,
    SessionApplicant,
    SupervisorAssignment,
    Vote,
)
from models.expert import (
    AgreementSignature,
    AgreementText,
    Expert,
    ExpertApplication,
    ExpertAssessment,
    ExpertEmployment,
    ExpertTerm,
    ExpertUpdate,
    TrainingRecord,
)
from models.institution import (
    AnnualPlan,
    Committee,
    CommitteeSeat,
    Institution,
    InstitutionApplication,
    InstitutionAssessment,
)
from models.unit import Authority, Unit

__all__ = [
    "AgreementSignature",
    "AgreementText",
    "AnnualPlan",
    "ApiToken",
    "AuditEvent",
    "Authority",
    "BackgroundJob",
    "Certificate",
    "Committee",
    "CommitteeSeat",
    "Complaint",
    "ComplaintNote",
    "ConflictDeclaration",
    "Draw",
    "EvaluationSession",
    "EvidenceFile",
    "Expert",
    "ExpertApplication",
    "ExpertAssessment",
    "ExpertEmployment",
    "ExpertTerm",
    "ExpertUpdate",
    "IdempotencyKey",
    "Institution",
    "InstitutionApplication",
    "InstitutionAssessment",
    "LoginSession",
    "Notification",
    "PanelMember",
    "RateCounter",
    "Recording",
    "RoleAssignment",
    "SessionApplicant",
    "SupervisorAssignment",
    "TrainingRecord",
    "Unit",
    "User",
    "Vote",
]
