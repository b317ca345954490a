"""Idempotent creation: the `Idempotency-Key` header of every creating mutation.

A client that did not see the answer to a creating request (a timeout, a dropped
connection) sends it again with the same key and gets the first answer back,
instead of creating a second complaint or a second certificate.

How a creating mutation uses it (schema/ passes the header and its input)::

    result = await idempotency.run_once(
        actor, key=ctx.idempotency_key, request={"op": "submitComplaint", "input": data},
        model=Complaint, create=lambda: complaint.submit_complaint(actor, ...),
    )
    complaint_obj = result.value   # the created object, or the first one on a replay

Rules:
- Keys belong to one actor (`actor_key`): another actor's identical key is a new key.
- The first request claims the key (a row) inside the transaction that creates the
  object and stores its primary key as the answer: "created", "claimed" and "answer
  stored" commit together or not at all, so a process killed midway leaves no claim
  that would block the client's retry. A concurrent second claim fails on the unique
  constraint (actor_key, key) once the first commits, and that request returns the
  first one's answer instead of creating anything.
- The same key with a different request (SHA-256 of its canonical JSON) is
  refused with IDEMPOTENCY_MISMATCH; nothing is created.
- Keys expire after 24 hours: an older key counts as never used.
- When `create` raises (a DomainError, a bug), the claim rolls back with it, so the
  client can correct its request and retry with the same key.
"""

import asyncio
import datetime as dt
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tortoise.exceptions import IntegrityError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import IdempotencyKey
from resolvers.actor import Actor
from resolvers.errors import DomainError, ErrorCode

M = TypeVar("M", bound=Model)

TTL = dt.timedelta(hours=24)
HEADER = "Idempotency-Key"
# 16+ characters: a UUID fits; short counters ("1", "2") would collide across
# the anonymous public, who all share one actor key per client address.
_KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{16,200}$")
WAIT_STEP = 0.05
WAIT_TOTAL = 10.0


@dataclass(frozen=True)
class Outcome(Generic[M]):
    """The created object and whether it was replayed from an earlier request."""

    value: M
    replayed: bool


def actor_key(actor: Actor) -> str:
    """Whose key space a key lives in. Anonymous callers are told apart by address."""
    if actor.is_anonymous:
        return f"anonymous:{actor.client_addr}"[:100]
    return actor.label[:100]


def request_hash(request: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        request, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    if not _KEY_RE.fullmatch(key):
        raise DomainError(
            ErrorCode.INVALID,
            "Idempotency-Key 应为 16–200 个字母、数字或 _ . : - 字符(建议使用 UUID)",
            HEADER,
        )
    return key


class _Taken(Exception):
    """Another request holds (or held) the key."""


async def _await_answer(owner: str, key: str, digest: str, model: type[M]) -> M | None:
    """The first request's object once it is stored; None if that request gave up."""
    waited = 0.0
    while True:
        row = await IdempotencyKey.get_or_none(actor_key=owner, key=key)
        if row is None:
            return None
        if row.request_hash != digest:
            raise DomainError(
                ErrorCode.IDEMPOTENCY_MISMATCH,
                "该 Idempotency-Key 已用于另一个不同的请求",
                HEADER,
            )
        if row.response is not None:
            return await model.get(pk=row.response["pk"])
        if waited >= WAIT_TOTAL:
            raise DomainError(
                ErrorCode.IDEMPOTENCY_IN_PROGRESS,
                "使用该 Idempotency-Key 的请求仍在处理中,请稍后重试",
                HEADER,
            )
        await asyncio.sleep(WAIT_STEP)
        waited += WAIT_STEP


async def run_once(
    actor: Actor,
    *,
    key: str | None,
    request: Mapping[str, Any],
    model: type[M],
    create: Callable[[], Awaitable[M]],
    now: dt.datetime | None = None,
) -> Outcome[M]:
    """Run `create` at most once per (actor, key) within 24 h; see the module doc.

    Side effects: inserts/updates/deletes an IdempotencyKey row; whatever `create`
    does (its own audit events included), exactly once per key.
    """
    if key is None:
        return Outcome(await create(), replayed=False)
    key = check_key(key)
    owner = actor_key(actor)
    digest = request_hash(request)
    now = now or dt.datetime.now(dt.UTC)
    for _ in range(3):
        # An expired key counts as unused: remove it so the unique constraint lets us in.
        await IdempotencyKey.filter(actor_key=owner, key=key, created_at__lt=now - TTL).delete()
        try:
            # The claim shares the creation's transaction: a crash (SIGKILL) before the
            # commit leaves no claim behind, and a concurrent claim of the same key waits
            # on the unique index (PostgreSQL) or the lock (SQLite) until this commits.
            async with in_transaction():
                try:
                    claim = await IdempotencyKey.create(
                        actor_key=owner, key=key, request_hash=digest
                    )
                except IntegrityError:
                    raise _Taken from None
                created = await create()
                await IdempotencyKey.filter(id=claim.id).update(response={"pk": created.pk})
        except _Taken:
            earlier = await _await_answer(owner, key, digest, model)
            if earlier is not None:
                return Outcome(earlier, replayed=True)
            continue  # the holder rolled back: try to claim it ourselves
        return Outcome(created, replayed=False)
    raise DomainError(
        ErrorCode.IDEMPOTENCY_IN_PROGRESS,
        "使用该 Idempotency-Key 的请求仍在处理中,请稍后重试",
        HEADER,
    )


async def purge_expired(now: dt.datetime | None = None) -> int:
    """Delete keys older than 24 h (the daily sweep); returns how many were removed."""
    now = now or dt.datetime.now(dt.UTC)
    return await IdempotencyKey.filter(created_at__lt=now - TTL).delete()
