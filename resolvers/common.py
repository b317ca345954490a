"""Tiny helpers every service module uses."""

import datetime as dt
from typing import Any

from tortoise.models import Model


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC (what the database stores)."""
    return dt.datetime.now(dt.UTC)


def fk_id(obj: Model, name: str) -> Any:
    """The raw `<name>_id` of a foreign key: Tortoise adds these attributes at run
    time, the typed models do not declare them."""
    return getattr(obj, f"{name}_id")
