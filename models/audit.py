"""The tamper-evident audit trail (R20, Art. 9(六))."""

from typing import Any

from tortoise import fields
from tortoise.models import Model


class AuditEvent(Model):
    """One recorded change. `hash` = SHA-256(prev_hash ‖ canonical content), the
    events form a chain in `seq` order that resolvers/audit.py verifies end to end.
    Personal data inside before/after is masked before it gets here."""

    id = fields.IntField(primary_key=True)
    seq = fields.BigIntField(unique=True)
    created_at = fields.DatetimeField()
    actor = fields.CharField(max_length=100)
    actor_user_id = fields.IntField(null=True, db_index=True)
    action = fields.CharField(max_length=60, db_index=True)
    target_type = fields.CharField(max_length=40)
    target_id = fields.CharField(max_length=40)
    before: Any = fields.JSONField(null=True)
    after: Any = fields.JSONField(null=True)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64, unique=True)

    class Meta:
        table = "audit_event"
        indexes = (("target_type", "target_id"),)
