"""Evaluation institutions (评审机构), their filing applications, committees (评委会),
committee seats, annual implementation plans and the bureau's assessments."""

from typing import Any

from tortoise import fields

from models.base import Timestamped, Versioned
from models.enums import (
    ApplicationStatus,
    AssessmentMethod,
    AssessmentResult,
    FilingStatus,
    InstitutionKind,
    Level,
    PlanStatus,
    Seat,
)


class Institution(Versioned):
    """A 评审机构 and its filing in force (Art. 2, 7–12).

    The Art. 10 fields hold the values of the filing in force; a pending re-filing
    lives in InstitutionApplication until the bureau decides it.
    """

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, unique=True)
    kind = fields.CharEnumField(InstitutionKind, max_length=30, db_index=True)
    unit: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Unit", related_name="institutions", null=True, on_delete=fields.SET_NULL
    )
    introduction = fields.TextField(default="")
    person_in_charge = fields.CharField(max_length=50, default="")
    professional_scope = fields.TextField(default="")
    purpose = fields.TextField(default="")
    office_address = fields.CharField(max_length=200, default="")
    phone = fields.CharField(max_length=30, default="")
    full_time_staff = fields.IntField(default=0)
    facilities = fields.TextField(default="")
    strengths = fields.TextField(default="")
    status = fields.CharEnumField(
        FilingStatus, max_length=20, default=FilingStatus.DRAFT, db_index=True
    )
    filed_at = fields.DateField(null=True)
    valid_until = fields.DateField(null=True, db_index=True)
    status_reason = fields.TextField(default="")

    class Meta:
        table = "institution"


class InstitutionApplication(Versioned):
    """One filing round (first filing or re-filing after a major change or expiry)."""

    id = fields.IntField(primary_key=True)
    institution: fields.ForeignKeyRelation[Institution] = fields.ForeignKeyField(
        "models.Institution", related_name="applications", on_delete=fields.CASCADE
    )
    status = fields.CharEnumField(
        ApplicationStatus, max_length=20, default=ApplicationStatus.DRAFT, db_index=True
    )
    # The Art. 10 fields as proposed, and the committees proposed (Art. 10 last item).
    content: Any = fields.JSONField(default=dict)
    proposed_committees: Any = fields.JSONField(default=list)
    submitted_at = fields.DatetimeField(null=True)
    decided_at = fields.DatetimeField(null=True)
    decided_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.User",
        related_name="decided_institution_applications",
        null=True,
        on_delete=fields.SET_NULL,
    )
    decision_reason = fields.TextField(default="")

    class Meta:
        table = "institution_application"


class Committee(Versioned):
    """A 评委会 of one institution (Art. 3, 11, 12, 23)."""

    id = fields.IntField(primary_key=True)
    institution: fields.ForeignKeyRelation[Institution] = fields.ForeignKeyField(
        "models.Institution", related_name="committees", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200, unique=True)
    series = fields.CharField(max_length=50, db_index=True)
    specialty = fields.CharField(max_length=100, db_index=True)
    level = fields.CharEnumField(Level, max_length=20, db_index=True)
    applicant_scope = fields.TextField(default="")
    quantitative_standard = fields.TextField(default="")
    procedure = fields.TextField(default="")
    self_evaluation = fields.BooleanField(default=False)
    status = fields.CharEnumField(
        FilingStatus, max_length=20, default=FilingStatus.DRAFT, db_index=True
    )
    filed_at = fields.DateField(null=True)
    valid_until = fields.DateField(null=True, db_index=True)
    status_reason = fields.TextField(default="")

    class Meta:
        table = "committee"


class CommitteeSeat(Timestamped):
    """An expert's seat on a committee roster (Art. 18): chair, vice chair or member."""

    id = fields.IntField(primary_key=True)
    committee: fields.ForeignKeyRelation[Committee] = fields.ForeignKeyField(
        "models.Committee", related_name="seats", on_delete=fields.CASCADE
    )
    expert: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Expert", related_name="seats", on_delete=fields.CASCADE
    )
    seat = fields.CharEnumField(Seat, max_length=20, default=Seat.MEMBER)

    class Meta:
        table = "committee_seat"
        unique_together = (("committee", "expert"),)


class AnnualPlan(Versioned):
    """当年职称评审实施方案 (Art. 9(二)), published plans are public."""

    id = fields.IntField(primary_key=True)
    committee: fields.ForeignKeyRelation[Committee] = fields.ForeignKeyField(
        "models.Committee", related_name="annual_plans", on_delete=fields.CASCADE
    )
    year = fields.IntField()
    series = fields.CharField(max_length=50)
    specialty = fields.CharField(max_length=100)
    level = fields.CharEnumField(Level, max_length=20)
    conditions = fields.TextField(default="")
    procedure = fields.TextField(default="")
    method = fields.TextField(default="")
    contact_phone = fields.CharField(max_length=30, default="")
    acceptance_start = fields.DateField(null=True)
    acceptance_end = fields.DateField(null=True)
    material_requirements = fields.TextField(default="")
    status = fields.CharEnumField(
        PlanStatus, max_length=20, default=PlanStatus.DRAFT, db_index=True
    )
    published_at = fields.DatetimeField(null=True)

    class Meta:
        table = "annual_plan"
        unique_together = (("committee", "year"),)


class InstitutionAssessment(Timestamped):
    """The bureau's supervision/assessment of an institution (Art. 29–31)."""

    id = fields.IntField(primary_key=True)
    institution: fields.ForeignKeyRelation[Institution] = fields.ForeignKeyField(
        "models.Institution", related_name="assessments", on_delete=fields.CASCADE
    )
    method = fields.CharEnumField(AssessmentMethod, max_length=20)
    assessed_on = fields.DateField()
    findings = fields.TextField(default="")
    result = fields.CharEnumField(AssessmentResult, max_length=10)
    # Complaint handling figures at assessment time (received, on time, overdue).
    complaint_figures: Any = fields.JSONField(default=dict)
    assessor: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.User",
        related_name="institution_assessments",
        null=True,
        on_delete=fields.SET_NULL,
    )

    class Meta:
        table = "institution_assessment"
