"""Evaluation sessions (评审会议): applicants, conflicts, supervisors, draws, the
panel, recordings and votes (Art. 9, 13, 18, 26, 27, 30)."""

from typing import Any

from tortoise import fields

from models.base import Timestamped, Versioned
from models.enums import (
    ApplicantResult,
    ConflictKind,
    DeclaredBy,
    DrawStatus,
    Level,
    PanelStatus,
    RecordingKind,
    Seat,
    SessionStatus,
    VoteChoice,
)


class EvaluationSession(Versioned):
    """A sitting of one committee for one year's applicants."""

    id = fields.IntField(primary_key=True)
    committee: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Committee", related_name="sessions", on_delete=fields.RESTRICT
    )
    institution: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Institution", related_name="sessions", on_delete=fields.RESTRICT
    )
    year = fields.IntField(db_index=True)
    starts_at = fields.DatetimeField(db_index=True)
    ends_at = fields.DatetimeField()
    place = fields.CharField(max_length=200)
    panel_size = fields.IntField()
    backup_count = fields.IntField(default=2)
    status = fields.CharEnumField(
        SessionStatus, max_length=20, default=SessionStatus.PLANNED, db_index=True
    )
    presiding_expert: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Expert", related_name="presided_sessions", null=True, on_delete=fields.SET_NULL
    )
    finalised_at = fields.DatetimeField(null=True)

    class Meta:
        table = "evaluation_session"


class SessionApplicant(Timestamped):
    """申报人 in one session, with the result once the session is finalised."""

    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[EvaluationSession] = fields.ForeignKeyField(
        "models.EvaluationSession", related_name="applicants", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=50)
    id_number_enc = fields.TextField()
    id_number_hash = fields.CharField(max_length=64, db_index=True)
    id_number_masked = fields.CharField(max_length=18)
    unit: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Unit", related_name="applicants", on_delete=fields.RESTRICT
    )
    series = fields.CharField(max_length=50)
    specialty = fields.CharField(max_length=100)
    level = fields.CharEnumField(Level, max_length=20)
    result = fields.CharEnumField(
        ApplicantResult, max_length=10, default=ApplicantResult.PENDING, db_index=True
    )
    votes_for = fields.IntField(default=0)
    votes_against = fields.IntField(default=0)
    votes_abstain = fields.IntField(default=0)
    recorded_by_bureau_at = fields.DatetimeField(null=True)

    class Meta:
        table = "session_applicant"
        unique_together = (("session", "id_number_hash"),)


class ConflictDeclaration(Timestamped):
    """A recusal ground (Art. 26, R11) between an expert or staff user and an applicant."""

    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyNullableRelation[EvaluationSession] = fields.ForeignKeyField(
        "models.EvaluationSession", related_name="conflicts", null=True, on_delete=fields.CASCADE
    )
    applicant: fields.ForeignKeyNullableRelation[SessionApplicant] = fields.ForeignKeyField(
        "models.SessionApplicant", related_name="conflicts", null=True, on_delete=fields.CASCADE
    )
    expert: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Expert", related_name="conflicts", null=True, on_delete=fields.CASCADE
    )
    staff: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.User", related_name="conflicts", null=True, on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(ConflictKind, max_length=20)
    declared_by = fields.CharEnumField(DeclaredBy, max_length=20)
    # For a declared relative: who and where, matched against applicants by name+unit.
    relative_name = fields.CharField(max_length=50, default="")
    relative_unit: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Unit", related_name="relative_conflicts", null=True, on_delete=fields.SET_NULL
    )
    detail = fields.TextField(default="")

    class Meta:
        table = "conflict_declaration"


class SupervisorAssignment(Timestamped):
    """监督委员 assigned to a session (Art. 30)."""

    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[EvaluationSession] = fields.ForeignKeyField(
        "models.EvaluationSession", related_name="supervisors", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.User", related_name="supervisions", on_delete=fields.CASCADE
    )
    assigned_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.User",
        related_name="supervisor_assignments_made",
        null=True,
        on_delete=fields.SET_NULL,
    )
    findings = fields.TextField(default="")

    class Meta:
        table = "supervisor_assignment"
        unique_together = (("session", "user"),)


class Draw(Timestamped):
    """One commit–reveal random draw (Art. 13, R10).

    `inputs` is the frozen canonical pool (eligible experts, exclusions with reasons,
    k and backups); `pool_hash` commits to it and `secret_hash` to the server secret,
    which stays encrypted until it is revealed after the draw.
    """

    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[EvaluationSession] = fields.ForeignKeyField(
        "models.EvaluationSession", related_name="draws", on_delete=fields.CASCADE
    )
    status = fields.CharEnumField(DrawStatus, max_length=20, default=DrawStatus.COMMITTED)
    inputs: Any = fields.JSONField()
    pool_hash = fields.CharField(max_length=64)
    secret_enc = fields.TextField()
    secret_hash = fields.CharField(max_length=64)
    secret_revealed = fields.CharField(max_length=64, default="")
    entropy = fields.CharField(max_length=200, default="")
    seed = fields.CharField(max_length=64, default="")
    result: Any = fields.JSONField(null=True)
    committed_at = fields.DatetimeField()
    executed_at = fields.DatetimeField(null=True)
    abandon_reason = fields.TextField(default="")
    confirmed_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.User", related_name="confirmed_draws", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "draw"


class PanelMember(Timestamped):
    """A drawn expert: panel seat or backup, and what became of the invitation."""

    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[EvaluationSession] = fields.ForeignKeyField(
        "models.EvaluationSession", related_name="panel", on_delete=fields.CASCADE
    )
    draw: fields.ForeignKeyRelation[Draw] = fields.ForeignKeyField(
        "models.Draw", related_name="members", on_delete=fields.CASCADE
    )
    expert: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Expert", related_name="panel_memberships", on_delete=fields.RESTRICT
    )
    rank = fields.IntField()
    seat = fields.CharEnumField(Seat, max_length=20)
    is_backup = fields.BooleanField(default=False)
    status = fields.CharEnumField(PanelStatus, max_length=20, default=PanelStatus.INVITED)
    decline_reason = fields.TextField(default="")
    replaces: fields.ForeignKeyNullableRelation["PanelMember"] = fields.ForeignKeyField(
        "models.PanelMember", related_name="replaced_by", null=True, on_delete=fields.SET_NULL
    )
    present = fields.BooleanField(null=True)

    class Meta:
        table = "panel_member"
        unique_together = (("draw", "expert"),)


class Recording(Timestamped):
    """An audio/video recording reference with its checksum (Art. 9(六))."""

    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[EvaluationSession] = fields.ForeignKeyField(
        "models.EvaluationSession", related_name="recordings", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(RecordingKind, max_length=10)
    uri = fields.CharField(max_length=500)
    size_bytes = fields.BigIntField()
    sha256 = fields.CharField(max_length=64)

    class Meta:
        table = "recording"


class Vote(Timestamped):
    """One present expert's vote on one applicant (R14): kept for recounts."""

    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[EvaluationSession] = fields.ForeignKeyField(
        "models.EvaluationSession", related_name="votes", on_delete=fields.CASCADE
    )
    applicant: fields.ForeignKeyRelation[SessionApplicant] = fields.ForeignKeyField(
        "models.SessionApplicant", related_name="votes", on_delete=fields.CASCADE
    )
    expert: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Expert", related_name="votes", on_delete=fields.RESTRICT
    )
    choice = fields.CharEnumField(VoteChoice, max_length=10)
    paper_ballot = fields.BooleanField(default=False)
    entered_by: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.User", related_name="entered_votes", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "vote"
        unique_together = (("applicant", "expert"),)
