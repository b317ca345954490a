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
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from tortoise import connections
from tortoise.models import Model

from models.audit import AuditEvent
from models.enums import JobKind
from resolvers import jobs
from resolvers.actor import Actor
from resolvers.personal import mask_for_audit
from resolvers.policy import Perm, require

GENESIS = "0" * 64
_PG_LOCK_KEY = 7_264_839_001  # arbitrary constant: the audit chain's advisory lock


# json.dumps with these options builds this same encoder on every call; verify_chain
# hashes hundreds of thousands of events, so build it once (identical output).
_CANONICAL = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
).encode
_json_str = json.encoder.encode_basestring  # a JSON string, non-ASCII kept (ensure_ascii=False)


def canonical(value: Any) -> str:
    """The one JSON form that is hashed: sorted keys, no spaces, UTF-8 text."""
    return _CANONICAL(value)


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


# Columns read by verify_chain, in the order its raw rows carry them.
_CHAIN_COLUMNS = (
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


def _chain_sql(dialect: str) -> str:
    """One keyset batch of the chain in `seq` order (the unique index on seq serves it)."""
    meta = AuditEvent._meta
    cols = ", ".join(f'"{meta.fields_map[c].source_field or c}"' for c in _CHAIN_COLUMNS)
    after, limit = ("$1", "$2") if dialect == "postgres" else ("?", "?")
    return (
        # Identifiers from the model's metadata; the values are bound parameters.
        f'SELECT {cols} FROM "{meta.db_table}" WHERE "seq" > {after} ORDER BY "seq" LIMIT {limit}'  # noqa: S608
    )


def _stamp_raw(value: Any, to_python: Callable[[Any], Any]) -> str:
    """`_stamp` of a created_at as the driver returns it, without the ORM's round trip.

    The two common shapes (SQLite's text "YYYY-MM-DD HH:MM:SS.ffffff+00:00", a
    UTC-convertible datetime from asyncpg) are formatted directly; anything else goes
    through the field's own conversion, exactly as a model read would, so an odd
    stored value is stamped (or refused) as before.
    """
    if type(value) is str:
        if (
            len(value) == 32
            and value[26:] == "+00:00"
            and value[10] == " "
            and value[19] == "."
            and value[0] != "0"
        ):
            try:
                dt.datetime.fromisoformat(value)  # validates every digit and the calendar
            except ValueError:
                pass
            else:
                return f"{value[:10]}T{value[11:26]}Z"
    elif isinstance(value, dt.datetime) and value.tzinfo is not None:
        text = value.astimezone(dt.UTC).isoformat()
        if len(text) == 32 and text[0] != "0":
            return text[:26] + "Z"
    return _stamp(to_python(value))


def _content_text(
    seq: int,
    stamp: str,
    actor: str,
    actor_user_id: int | None,
    action: str,
    target_type: str,
    target_id: str,
    before: Any,
    after: Any,
) -> str:
    """`canonical(_content(...))` written out key by key (sorted), for verify_chain.

    The caller checks the types (int seq, int or None user id, str text columns):
    for those the result is byte-identical to the encoder's, which
    tests/resolvers/test_audit_verify.py checks; it skips the dict and the key sort.
    """
    return "".join(
        (
            '{"action":',
            _json_str(action),
            ',"actor":',
            _json_str(actor),
            ',"actor_user_id":',
            "null" if actor_user_id is None else int.__repr__(actor_user_id),
            ',"after":',
            "null" if after is None else _CANONICAL(after),
            ',"before":',
            "null" if before is None else _CANONICAL(before),
            ',"created_at":',
            _json_str(stamp),
            ',"seq":',
            int.__repr__(seq),
            ',"target_id":',
            _json_str(target_id),
            ',"target_type":',
            _json_str(target_type),
            "}",
        )
    )


async def verify_chain(
    batch: int = 5000, on_progress: Callable[[int], Awaitable[None]] | None = None
) -> ChainReport:
    """Walk every event in `seq` order and recompute the chain.

    Detects an edited event (its hash no longer matches its content), a deleted or
    inserted event (a gap or a prev_hash that does not match) and reordering (seq
    values swapped: prev_hash mismatch). `on_progress(checked)` is awaited after each
    batch (the bureau's audit page shows it while the walk runs).

    Reads raw driver rows in keyset batches (no model instances, no per-column ORM
    conversion: that was ~60 % of the walk) and fetches the next batch while this one
    is hashed. The hashed content is exactly what `record` hashed: the JSON columns
    go through the field's own decoder, created_at through `_stamp_raw`.
    """
    conn = connections.get("default")
    sql = _chain_sql(conn.capabilities.dialect)
    fields_map = AuditEvent._meta.fields_map
    created_py = fields_map["created_at"].to_python_value
    before_py = fields_map["before"].to_python_value
    after_py = fields_map["after"].to_python_value
    sha256 = hashlib.sha256

    async def fetch(after_seq: int) -> Any:
        return (await conn.execute_query(sql, [after_seq, batch]))[1]

    expected_seq, prev, count = 1, GENESIS, 0
    pending: asyncio.Task[Any] | None = asyncio.ensure_future(fetch(0))
    try:
        while pending is not None:
            rows = await pending
            pending = None
            if not rows:
                return ChainReport(ok=True, count=count, head=prev)
            if len(rows) == batch:
                # The keyset is the last seq read, so the next read need not wait.
                pending = asyncio.ensure_future(fetch(rows[-1][1]))
            for eid, seq, created_at, actor, uid, action, ttype, tid, before, after, ph, h in rows:
                if seq != expected_seq:
                    return ChainReport(
                        False,
                        count,
                        prev,
                        seq,
                        eid,
                        f"序号不连续:期望 {expected_seq},实际 {seq}(事件被删除或插入)",
                    )
                if ph != prev:
                    return ChainReport(
                        False, count, prev, seq, eid, "前一事件哈希不符(事件被删除、插入或调换顺序)"
                    )
                stamp = _stamp_raw(created_at, created_py)
                before, after = before_py(before), after_py(after)
                if (
                    type(seq) is int
                    and (uid is None or type(uid) is int)
                    and type(actor) is str
                    and type(action) is str
                    and type(ttype) is str
                    and type(tid) is str
                ):
                    text = _content_text(seq, stamp, actor, uid, action, ttype, tid, before, after)
                else:  # a value of an unexpected type: let the encoder decide, as record did
                    text = _CANONICAL(
                        {
                            "seq": seq,
                            "created_at": stamp,
                            "actor": actor,
                            "actor_user_id": uid,
                            "action": action,
                            "target_type": ttype,
                            "target_id": tid,
                            "before": before,
                            "after": after,
                        }
                    )
                if sha256((ph + text).encode()).hexdigest() != h:
                    return ChainReport(
                        False, count, prev, seq, eid, "事件内容与哈希不符(事件被修改)"
                    )
                prev, expected_seq, count = h, seq + 1, count + 1
            if on_progress is not None:
                await on_progress(count)
        return ChainReport(ok=True, count=count, head=prev)
    finally:
        if pending is not None:
            # Let an in-flight read finish rather than cancel it mid-statement (inside
            # a transaction that could leave the connection unusable).
            await asyncio.gather(pending, return_exceptions=True)


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


async def start_chain_verification(actor: Actor, *, batch: int = 5000) -> "jobs.Job":
    """Start `verify_chain` as a background job and return it at once (R20).

    Requires Perm.AUDIT_VIEW. Side effects: a background_job row (progress and the
    report, readable from any process by the user who started it); the chain is only
    read. A second start while one runs returns the running job.
    """
    require(actor, Perm.AUDIT_VIEW)

    async def work(progress: jobs.Progress) -> dict[str, Any]:
        total = await AuditEvent.all().count()
        progress.step("核验中", 0, total)

        async def checked(n: int) -> None:
            progress.step("核验中", n, max(total, n))
            await asyncio.sleep(0)  # let requests in between batches

        report = await verify_chain(batch, on_progress=checked)
        progress.step("完成", report.count, report.count)
        return asdict(report)

    return await jobs.start_job(actor, JobKind.AUDIT_VERIFY, work)


async def chain_verification(actor: Actor, job_id: str) -> tuple["jobs.Job", ChainReport | None]:
    """A verification job this user started, with its report once done (NotFound
    when unknown, another user's, or purged)."""
    require(actor, Perm.AUDIT_VIEW)
    job = await jobs.get_job(actor, job_id, JobKind.AUDIT_VERIFY)
    report = ChainReport(**job.result) if isinstance(job.result, dict) else None
    return job, report
