"""Accounts, scoped role assignments, browser login sessions, API tokens, and the
shared counters (throttles, idempotency keys) that must survive many processes."""

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.base import Timestamped, Versioned
from models.enums import JobKind, JobStatus, Role


class User(Versioned):
    """A person who logs in. Roles come from RoleAssignment rows, never from here."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    display_name = fields.CharField(max_length=100)
    password_hash = fields.CharField(max_length=255)
    is_active = fields.BooleanField(default=True)
    password_changed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "user"


class RoleAssignment(Timestamped):
    """One role held by one user, with the scope the role needs.

    Exactly the scope column(s) named for the role in resolvers/policy.py are set:
    institution staff → institution, recommender → authority, employer → unit,
    expert → expert, supervisor → (sessions via SupervisorAssignment), applicant →
    applicant, bureau → none.
    """

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="roles", on_delete=fields.CASCADE
    )
    role = fields.CharEnumField(Role, max_length=20, db_index=True)
    institution: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Institution", related_name="staff_roles", null=True, on_delete=fields.CASCADE
    )
    authority: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Authority", related_name="staff_roles", null=True, on_delete=fields.CASCADE
    )
    unit: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Unit", related_name="staff_roles", null=True, on_delete=fields.CASCADE
    )
    expert: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Expert", related_name="user_roles", null=True, on_delete=fields.CASCADE
    )
    applicant: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.SessionApplicant", related_name="user_roles", null=True, on_delete=fields.CASCADE
    )

    class Meta:
        table = "role_assignment"


class LoginSession(Model):
    """A browser login (never called just "session": see EvaluationSession).

    The cookie carries a random id; only its SHA-256 is stored, so a database read
    does not yield usable cookies.
    """

    id = fields.IntField(primary_key=True)
    key_hash = fields.CharField(max_length=64, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="login_sessions", on_delete=fields.CASCADE
    )
    csrf_token = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)
    client_addr = fields.CharField(max_length=64, default="")

    class Meta:
        table = "login_session"


class ApiToken(Timestamped):
    """A partner portal's bearer token: shown once, stored as SHA-256 only."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    prefix = fields.CharField(max_length=12, db_index=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    scopes: Any = fields.JSONField(default=list)
    expires_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="created_tokens", null=True, on_delete=fields.SET_NULL
    )
    requests_per_minute = fields.IntField(default=600)

    class Meta:
        table = "api_token"


class RateCounter(Model):
    """A fixed-window counter shared by all processes (login throttle, token rate).

    Incremented with a single UPSERT-like conditional update so concurrent workers
    never lose a count.
    """

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=200)
    window_start = fields.DatetimeField()
    count = fields.IntField(default=0)

    class Meta:
        table = "rate_counter"
        unique_together = (("key", "window_start"),)


class IdempotencyKey(Model):
    """The first response to a creating request, replayed for the same key (24 h)."""

    id = fields.IntField(primary_key=True)
    actor_key = fields.CharField(max_length=100)
    key = fields.CharField(max_length=200)
    request_hash = fields.CharField(max_length=64)
    response: Any = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "idempotency_key"
        unique_together = (("actor_key", "key"),)


class Notification(Model):
    """Outbox: what a later e-mail/SMS channel sends (sending is out of scope here)."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="notifications", null=True, on_delete=fields.CASCADE
    )
    institution: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Institution", related_name="notifications", null=True, on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=50, db_index=True)
    subject = fields.CharField(max_length=200)
    body = fields.TextField()
    dedupe_key = fields.CharField(max_length=200, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification"


class BackgroundJob(Model):
    """A long operation running in one app process, with its progress and result kept
    here so that any process can show them (issue 9 item 5, issue 12 item 1).

    `heartbeat_at` is renewed while the process works; a running job whose heartbeat
    stopped (the process died) is reported as interrupted. The id is unguessable and
    only the user who started the job may read it (resolvers/jobs.py).
    """

    id = fields.CharField(max_length=32, primary_key=True)
    kind = fields.CharEnumField(JobKind, max_length=30)
    status = fields.CharEnumField(JobStatus, max_length=20, default=JobStatus.RUNNING)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="jobs", null=True, on_delete=fields.CASCADE
    )
    scope = fields.CharField(max_length=100, default="")
    phase = fields.CharField(max_length=100, default="")
    done = fields.IntField(default=0)
    total = fields.IntField(default=0)
    result: Any = fields.JSONField(null=True)
    error_code = fields.CharField(max_length=50, default="")
    error_message = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    heartbeat_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "background_job"
        indexes = (("user_id", "kind", "created_at"),)
