"""The tamper-evident audit trail (R20).

Every state-changing resolver calls `record()` inside the transaction that makes the
change. Events form a hash chain in `seq` order: each event's `hash` is
SHA-256(prev_hash ‖ canonical JSON of its content). `verify_chain()` walks the chain
and names the first event that was edited, deleted, reordered or inserted.

The chain proves integrity against anyone who cannot rewrite it from the broken
event onwards; `pingshen audit verify` prints the head hash so that operators can
anchor it outside the database (e.g. in the daily report) and detect a full rewrite.
"""

import asyncio
import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tortoise import connections
from tortoise.models import Model

from models.audit import AuditEvent
from resolvers.actor import Actor
from resolvers.errors import NotFound
from resolvers.personal import mask_for_audit
from resolvers.policy import Perm, require

GENESIS = "0" * 64
_PG_LOCK_KEY = 7_264_839_001  # arbitrary constant: the audit chain's advisory lock


def canonical(value: Any) -> str:
    """The one JSON form that is hashed: sorted keys, no spaces, UTF-8 text."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _jsonable(value: dict | None) -> dict | None:
    # Round-trip so what is hashed equals what the JSON column gives back.
    return None if value is None else json.loads(canonical(value))


def _stamp(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(prev_hash: str, content: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(content)).encode()).hexdigest()


def _content(
    seq: int,
    created_at: dt.datetime,
    actor: str,
    actor_user_id: int | None,
    action: str,
    target_type: str,
    target_id: str,
    before: Any,
    after: Any,
) -> dict:
    return {
        "seq": seq,
        "created_at": _stamp(created_at),
        "actor": actor,
        "actor_user_id": actor_user_id,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "before": before,
        "after": after,
    }


def snapshot(obj: Model, fields: list[str] | None = None) -> dict[str, Any]:
    """The audited view of a model: its columns, personal data removed or masked."""
    names = fields or [
        n for n in obj._meta.fields_db_projection if n not in ("created_at", "updated_at")
    ]
    return mask_for_audit({n: getattr(obj, n) for n in names}) or {}


async def record(
    actor: Actor,
    action: str,
    target: Model | tuple[str, Any],
    *,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Append one event to the chain. Call inside the changing transaction.

    Side effects: takes the chain lock (PostgreSQL advisory transaction lock; SQLite
    transactions are already serialised), inserts one AuditEvent.
    """
    if isinstance(target, Model):
        target_type, target_id = target._meta.db_table, str(target.pk)
    else:
        target_type, target_id = target[0], str(target[1])
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
    last = await AuditEvent.all().order_by("-seq").first().only("seq", "hash")
    seq = last.seq + 1 if last else 1
    prev = last.hash if last else GENESIS
    created_at = dt.datetime.now(dt.UTC)
    before_j = _jsonable(mask_for_audit(before))
    after_j = _jsonable(mask_for_audit(after))
    content = _content(
        seq,
        created_at,
        actor.label,
        actor.user_id,
        action,
        target_type,
        target_id,
        before_j,
        after_j,
    )
    return await AuditEvent.create(
        seq=seq,
        created_at=created_at,
        actor=actor.label,
        actor_user_id=actor.user_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before_j,
        after=after_j,
        prev_hash=prev,
        hash=event_hash(prev, content),
    )


@dataclass(frozen=True)
class ChainReport:
    """Outcome of a full verification: `ok`, how many events, the first bad one."""

    ok: bool
    count: int
    head: str
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str = ""


async def verify_chain(
    batch: int = 5000, on_progress: Callable[[int], Awaitable[None]] | None = None
) -> ChainReport:
    """Walk every event in `seq` order and recompute the chain.

    Detects an edited event (its hash no longer matches its content), a deleted or
    inserted event (a gap or a prev_hash that does not match) and reordering (seq
    values swapped: prev_hash mismatch). `on_progress(checked)` is awaited after each
    batch (the bureau's audit page shows it while the walk runs).
    """
    expected_seq, prev, count, last_seq = 1, GENESIS, 0, 0
    cols = (
        "id",
        "seq",
        "created_at",
        "actor",
        "actor_user_id",
        "action",
        "target_type",
        "target_id",
        "before",
        "after",
        "prev_hash",
        "hash",
    )
    while True:
        rows = (
            await AuditEvent.filter(seq__gt=last_seq)
            .order_by("seq")
            .limit(batch)
            .values_list(*cols)
        )
        if not rows:
            return ChainReport(ok=True, count=count, head=prev)
        for (
            eid,
            seq,
            created_at,
            actor,
            uid,
            action,
            ttype,
            tid,
            before,
            after,
            prev_hash,
            h,
        ) in rows:
            if seq != expected_seq:
                return ChainReport(
                    False,
                    count,
                    prev,
                    seq,
                    eid,
                    f"序号不连续:期望 {expected_seq},实际 {seq}(事件被删除或插入)",
                )
            if prev_hash != prev:
                return ChainReport(
                    False, count, prev, seq, eid, "前一事件哈希不符(事件被删除、插入或调换顺序)"
                )
            content = _content(seq, created_at, actor, uid, action, ttype, tid, before, after)
            if event_hash(prev_hash, content) != h:
                return ChainReport(False, count, prev, seq, eid, "事件内容与哈希不符(事件被修改)")
            prev, expected_seq, count, last_seq = h, seq + 1, count + 1, seq
        if on_progress is not None:
            await on_progress(count)


async def record_many(
    actor: Actor, action: str, targets: list[tuple[str, Any, dict | None]]
) -> int:
    """Append one event per (target_type, target_id, after) in a single bulk insert.

    For bulk loads (demo data, imports): same chain, same lock, one round trip.
    Call inside the changing transaction. Returns the number of events written.
    """
    if not targets:
        return 0
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
    last = await AuditEvent.all().order_by("-seq").first().only("seq", "hash")
    seq = last.seq + 1 if last else 1
    prev = last.hash if last else GENESIS
    created_at = dt.datetime.now(dt.UTC)
    rows = []
    for target_type, target_id, after in targets:
        after_j = _jsonable(mask_for_audit(after))
        content = _content(
            seq,
            created_at,
            actor.label,
            actor.user_id,
            action,
            target_type,
            str(target_id),
            None,
            after_j,
        )
        h = event_hash(prev, content)
        rows.append(
            AuditEvent(
                seq=seq,
                created_at=created_at,
                actor=actor.label,
                actor_user_id=actor.user_id,
                action=action,
                target_type=target_type,
                target_id=str(target_id),
                before=None,
                after=after_j,
                prev_hash=prev,
                hash=h,
            )
        )
        prev, seq = h, seq + 1
    await AuditEvent.bulk_create(rows, batch_size=1000)
    return len(rows)


# --- verification in the background, with progress (the bureau's audit page) ----------


@dataclass
class VerificationJob:
    """One background walk of the chain in this process: `checked` of `total` events
    so far; `report` once done. Kept in memory (a page polls it), never persisted."""

    id: str
    started_by: int | None
    started_at: dt.datetime
    total: int
    checked: int = 0
    report: ChainReport | None = None
    failed: bool = False
    task: "asyncio.Task[None] | None" = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.report is not None or self.failed

    @property
    def percent(self) -> int:
        if self.done:
            return 100
        return min(99, self.checked * 100 // self.total) if self.total else 0


_JOBS: dict[str, VerificationJob] = {}
_KEEP_JOBS = 20


async def start_chain_verification(actor: Actor, *, batch: int = 5000) -> VerificationJob:
    """Start `verify_chain` as a background task and return its job at once (R20).

    Requires Perm.AUDIT_VIEW. Side effects: none in the database (read only); the job
    is kept in this process's memory (the oldest are forgotten beyond 20).
    """
    require(actor, Perm.AUDIT_VIEW)
    job = VerificationJob(
        id=secrets.token_urlsafe(12),
        started_by=actor.user_id,
        started_at=dt.datetime.now(dt.UTC),
        total=await AuditEvent.all().count(),
    )

    async def progress(checked: int) -> None:
        job.checked = checked
        await asyncio.sleep(0)  # let requests in between batches

    async def run() -> None:
        try:
            job.report = await verify_chain(batch, on_progress=progress)
            job.checked = job.report.count
        except Exception:
            job.failed = True
            raise

    while len(_JOBS) >= _KEEP_JOBS:
        _JOBS.pop(next(iter(_JOBS)))
    _JOBS[job.id] = job
    job.task = asyncio.create_task(run())
    return job


def chain_verification(actor: Actor, job_id: str) -> VerificationJob:
    """A job started in this process (NotFound when unknown or forgotten)."""
    require(actor, Perm.AUDIT_VIEW)
    job = _JOBS.get(job_id)
    if job is None:
        raise NotFound("核验任务不存在或已过期")
    return job
