"""Tiny helpers every service module uses."""

import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.models import Model

BEIJING = ZoneInfo("Asia/Shanghai")


def beijing_today() -> dt.date:
    """Today in Beijing: the regulation's dates (filing validity, terms, deadlines) are
    Beijing dates, whatever time zone the host runs in (Debian servers: UTC, which is
    still "yesterday" until 08:00 Beijing time)."""
    return dt.datetime.now(BEIJING).date()


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC (what the database stores)."""
    return dt.datetime.now(dt.UTC)


def fk_id(obj: Model, name: str) -> Any:
    """The raw `<name>_id` of a foreign key: Tortoise adds these attributes at run
    time, the typed models do not declare them."""
    return getattr(obj, f"{name}_id")


def batch_ids(ids: Iterable[int]) -> list[int]:
    """The distinct ids of a batch load that can exist (1..2^63-1), sorted: anything
    else (0, negative, beyond a bigint) is simply not found rather than an error."""
    return sorted({i for i in ids if 0 < i < 2**63})
