"""Review requests (复查申请), complaints (投诉) and reports (举报) (Art. 9(七), 28)."""

from tortoise import fields

from models.base import Timestamped, Versioned
from models.enums import (
    ComplaintChannel,
    ComplaintKind,
    ComplaintStatus,
    NonAcceptanceReason,
    TargetType,
)


class Complaint(Versioned):
    """One submission, its screening, handling, reply and deadline.

    Complainant identity is personal data: stored encrypted, and only for real-name
    submissions (R16). `query_password_hash` lets an anonymous complainant follow the
    case with the tracking code.
    """

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(ComplaintKind, max_length=20, db_index=True)
    channel = fields.CharEnumField(ComplaintChannel, max_length=20)
    target_type = fields.CharEnumField(TargetType, max_length=20)
    target_id = fields.IntField(null=True)
    target_description = fields.CharField(max_length=200, default="")
    facts = fields.TextField()
    clues = fields.TextField(default="")
    anonymous = fields.BooleanField(default=True)
    complainant_name_enc = fields.TextField(default="")
    complainant_contact_enc = fields.TextField(default="")
    submitted_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.User", related_name="complaints", null=True, on_delete=fields.SET_NULL
    )
    partner_token: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.ApiToken", related_name="complaints", null=True, on_delete=fields.SET_NULL
    )
    applicant: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.SessionApplicant",
        related_name="review_requests",
        null=True,
        on_delete=fields.SET_NULL,
    )
    hotline_ticket = fields.CharField(max_length=50, default="")
    tracking_code = fields.CharField(max_length=20, unique=True)
    query_password_hash = fields.CharField(max_length=255)
    # Who handles it: the institution concerned, or the bureau (institution is null)
    # when the complaint is against an institution.
    institution: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Institution", related_name="complaints", null=True, on_delete=fields.SET_NULL
    )
    status = fields.CharEnumField(
        ComplaintStatus, max_length=20, default=ComplaintStatus.RECEIVED, db_index=True
    )
    non_acceptance_reason = fields.CharEnumField(NonAcceptanceReason, max_length=20, null=True)
    due_on = fields.DateField(null=True, db_index=True)
    answer = fields.TextField(default="")
    answered_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    escalated_at = fields.DatetimeField(null=True)
    outcome = fields.CharField(max_length=20, default="")

    class Meta:
        table = "complaint"


class ComplaintNote(Timestamped):
    """An investigation note by a handler."""

    id = fields.IntField(primary_key=True)
    complaint: fields.ForeignKeyRelation[Complaint] = fields.ForeignKeyField(
        "models.Complaint", related_name="notes", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.User", related_name="complaint_notes", null=True, on_delete=fields.SET_NULL
    )
    body = fields.TextField()

    class Meta:
        table = "complaint_note"


class EvidenceFile(Timestamped):
    """An uploaded evidence file, stored outside the web root under its SHA-256."""

    id = fields.IntField(primary_key=True)
    complaint: fields.ForeignKeyRelation[Complaint] = fields.ForeignKeyField(
        "models.Complaint", related_name="evidence", on_delete=fields.CASCADE
    )
    filename = fields.CharField(max_length=200)
    content_type = fields.CharField(max_length=100)
    size_bytes = fields.BigIntField()
    sha256 = fields.CharField(max_length=64)

    class Meta:
        table = "evidence_file"
