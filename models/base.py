"""Shared model building blocks: timestamps and the optimistic-lock version column."""

from tortoise import fields
from tortoise.models import Model


class Timestamped(Model):
    """Adds creation and last-change times (UTC, timezone-aware)."""

    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True


class Versioned(Timestamped):
    """An editable aggregate: `version` grows by one on every change.

    Resolvers update with `WHERE version = :seen` so a stale edit changes nothing
    and is reported as a conflict (see resolvers.base.update_versioned).
    """

    version = fields.IntField(default=1)

    class Meta:
        abstract = True
