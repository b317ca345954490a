"""Experts (专家), how they entered the pool, their employment history, terms,
profile updates awaiting verification, confidentiality agreements, training and
assessments (Chapter 3)."""

from typing import Any

from tortoise import fields

from models.base import Timestamped, Versioned
from models.enums import (
    AssessmentResult,
    EntryRoute,
    ExitReason,
    ExpertApplicationStatus,
    ExpertStatus,
    Gender,
    InvitationCategory,
    Level,
    RetirementCategory,
    TermStatus,
    UpdateStatus,
)


class Expert(Versioned):
    """A person in (or applying to) the expert pool.

    Personal data (resident ID number, phone) is stored encrypted (`*_enc`), with a
    keyed hash (`*_hash`) for exact lookup and uniqueness and a masked copy for
    display; see resolvers/personal.py. `number` is the public, stable expert number
    used by the draw (R10).
    """

    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=16, unique=True)
    name = fields.CharField(max_length=50, db_index=True)
    gender = fields.CharEnumField(Gender, max_length=10)
    birth_date = fields.DateField(db_index=True)
    retirement_category = fields.CharEnumField(RetirementCategory, max_length=20)
    id_number_enc = fields.TextField()
    id_number_hash = fields.CharField(max_length=64, unique=True)
    id_number_masked = fields.CharField(max_length=18)
    phone_enc = fields.TextField(default="")
    phone_hash = fields.CharField(max_length=64, default="", db_index=True)
    phone_masked = fields.CharField(max_length=11, default="")
    email = fields.CharField(max_length=200, default="")
    unit: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Unit", related_name="experts", on_delete=fields.RESTRICT
    )
    title = fields.CharField(max_length=100)
    title_level = fields.CharEnumField(Level, max_length=20, db_index=True)
    title_obtained_on = fields.DateField()
    series = fields.CharField(max_length=50, db_index=True)
    specialty = fields.CharField(max_length=100, db_index=True)
    field = fields.CharField(max_length=200, default="")
    entry_route = fields.CharEnumField(EntryRoute, max_length=20)
    invitation_category = fields.CharEnumField(InvitationCategory, max_length=30, null=True)
    institution: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Institution", related_name="experts", null=True, on_delete=fields.SET_NULL
    )
    status = fields.CharEnumField(
        ExpertStatus, max_length=20, default=ExpertStatus.APPLIED, db_index=True
    )
    pooled_at = fields.DateField(null=True)
    exit_reason = fields.CharEnumField(ExitReason, max_length=30, null=True)
    exit_note = fields.TextField(default="")
    exited_at = fields.DatetimeField(null=True)

    class Meta:
        table = "expert"


class ExpertEmployment(Timestamped):
    """Employment history: recusal counts employment within the last 3 years (R11)."""

    id = fields.IntField(primary_key=True)
    expert: fields.ForeignKeyRelation[Expert] = fields.ForeignKeyField(
        "models.Expert", related_name="employments", on_delete=fields.CASCADE
    )
    unit: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Unit", related_name="employments", on_delete=fields.RESTRICT
    )
    start_on = fields.DateField()
    end_on = fields.DateField(null=True)

    class Meta:
        table = "expert_employment"


class ExpertApplication(Versioned):
    """An application into the pool by recommendation or invitation (Art. 15, 17)."""

    id = fields.IntField(primary_key=True)
    expert: fields.ForeignKeyRelation[Expert] = fields.ForeignKeyField(
        "models.Expert", related_name="applications", on_delete=fields.CASCADE
    )
    route = fields.CharEnumField(EntryRoute, max_length=20)
    authority: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Authority", related_name="recommendations", null=True, on_delete=fields.RESTRICT
    )
    invitation_category = fields.CharEnumField(InvitationCategory, max_length=30, null=True)
    institution: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Institution", related_name="expert_applications", on_delete=fields.CASCADE
    )
    committee: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Committee",
        related_name="expert_applications",
        null=True,
        on_delete=fields.SET_NULL,
    )
    status = fields.CharEnumField(
        ExpertApplicationStatus,
        max_length=20,
        default=ExpertApplicationStatus.SUBMITTED,
        db_index=True,
    )
    # Urgently needed specialty exception (Art. 16(四)): reason + bureau approval.
    exception_reason = fields.TextField(default="")
    exception_approved = fields.BooleanField(default=False)
    institution_opinion = fields.TextField(default="")
    reviewed_at = fields.DatetimeField(null=True)
    decided_at = fields.DatetimeField(null=True)
    decision_reason = fields.TextField(default="")
    # Art. 17 additions or adjustments: the open request (reason, when) and every
    # earlier round as a list of {requestedAt, requestedBy, reason, resubmittedAt}.
    change_request = fields.TextField(default="", db_default="")
    change_requested_at = fields.DatetimeField(null=True)
    change_history: Any = fields.JSONField(null=True)
    submitted_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.User", related_name="expert_applications", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "expert_application"


class ExpertTerm(Timestamped):
    """聘期 (Art. 19, R7): three years, a fourth term needs a bureau exception."""

    id = fields.IntField(primary_key=True)
    expert: fields.ForeignKeyRelation[Expert] = fields.ForeignKeyField(
        "models.Expert", related_name="terms", on_delete=fields.CASCADE
    )
    number = fields.IntField()
    start_on = fields.DateField()
    end_on = fields.DateField(db_index=True)
    status = fields.CharEnumField(TermStatus, max_length=20, default=TermStatus.ACTIVE)
    exception_reason = fields.TextField(default="")

    class Meta:
        table = "expert_term"
        unique_together = (("expert", "number"),)


class ExpertUpdate(Versioned):
    """A profile change by the expert, applied only after both verifications (R8)."""

    id = fields.IntField(primary_key=True)
    expert: fields.ForeignKeyRelation[Expert] = fields.ForeignKeyField(
        "models.Expert", related_name="updates", on_delete=fields.CASCADE
    )
    changes: Any = fields.JSONField()
    status = fields.CharEnumField(
        UpdateStatus, max_length=20, default=UpdateStatus.PENDING, db_index=True
    )
    employer_verified_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.User",
        related_name="employer_verifications",
        null=True,
        on_delete=fields.SET_NULL,
    )
    employer_verified_at = fields.DatetimeField(null=True)
    institution_verified_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.User",
        related_name="institution_verifications",
        null=True,
        on_delete=fields.SET_NULL,
    )
    institution_verified_at = fields.DatetimeField(null=True)
    rejection_reason = fields.TextField(default="")

    class Meta:
        table = "expert_update"


class AgreementText(Timestamped):
    """A version of the confidentiality agreement (Art. 25)."""

    id = fields.IntField(primary_key=True)
    version = fields.CharField(max_length=20, unique=True)
    content = fields.TextField()
    content_hash = fields.CharField(max_length=64)

    class Meta:
        table = "agreement_text"


class AgreementSignature(Timestamped):
    """An expert's signature of one agreement version, with the hash of what was signed."""

    id = fields.IntField(primary_key=True)
    expert: fields.ForeignKeyRelation[Expert] = fields.ForeignKeyField(
        "models.Expert", related_name="signatures", on_delete=fields.CASCADE
    )
    agreement: fields.ForeignKeyRelation[AgreementText] = fields.ForeignKeyField(
        "models.AgreementText", related_name="signatures", on_delete=fields.RESTRICT
    )
    signed_at = fields.DatetimeField()
    content_hash = fields.CharField(max_length=64)

    class Meta:
        table = "agreement_signature"
        unique_together = (("expert", "agreement"),)


class TrainingRecord(Timestamped):
    """评前培训 (Art. 9(四)): for one session, or for a whole year."""

    id = fields.IntField(primary_key=True)
    expert: fields.ForeignKeyRelation[Expert] = fields.ForeignKeyField(
        "models.Expert", related_name="trainings", on_delete=fields.CASCADE
    )
    session: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.EvaluationSession",
        related_name="trainings",
        null=True,
        on_delete=fields.CASCADE,
    )
    year = fields.IntField(null=True)
    trained_on = fields.DateField()
    topic = fields.CharField(max_length=200, default="")
    recorded_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.User", related_name="recorded_trainings", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "training_record"


class ExpertAssessment(Timestamped):
    """An institution's assessment of an expert for one term (Art. 32)."""

    id = fields.IntField(primary_key=True)
    expert: fields.ForeignKeyRelation[Expert] = fields.ForeignKeyField(
        "models.Expert", related_name="assessments", on_delete=fields.CASCADE
    )
    term: fields.ForeignKeyNullableRelation[ExpertTerm] = fields.ForeignKeyField(
        "models.ExpertTerm", related_name="assessments", null=True, on_delete=fields.SET_NULL
    )
    institution: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Institution", related_name="expert_assessments", on_delete=fields.CASCADE
    )
    assessed_on = fields.DateField()
    quality = fields.TextField(default="")
    duties = fields.TextField(default="")
    supervision = fields.TextField(default="")
    result = fields.CharEnumField(AssessmentResult, max_length=10)

    class Meta:
        table = "expert_assessment"
