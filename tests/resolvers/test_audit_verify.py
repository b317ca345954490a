"""R20: the fast chain walk (raw rows in keyset batches, the next batch read while this
one is hashed, the hashed text written out key by key) checks exactly what `record`
hashed, and detects what the model-based walk detected."""

import datetime as dt
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise import connections
from tortoise.transactions import in_transaction

from models import AuditEvent
from resolvers import audit
from resolvers.actor import SYSTEM
from tests.schema.conftest import count_sql

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seq=st.integers(1, 2**62),
    actor=TEXT,
    uid=st.none() | st.integers(-(2**31), 2**31),
    action=TEXT,
    target_type=TEXT,
    target_id=TEXT,
    before=JSON,
    after=JSON,
)
def test_hashed_text_written_key_by_key_equals_the_canonical_json(
    seq: int,
    actor: str,
    uid: int | None,
    action: str,
    target_type: str,
    target_id: str,
    before: object,
    after: object,
) -> None:
    """Control characters, quotes, non-ASCII, lone surrogates, NaN and big numbers
    included: `_content_text` gives the bytes `canonical(_content(...))` gives."""
    created = dt.datetime(2026, 11, 27, 6, 36, 38, 971362, tzinfo=dt.UTC)
    content = audit._content(
        seq, created, actor, uid, action, target_type, target_id, before, after
    )

    text = audit._content_text(
        seq, audit._stamp(created), actor, uid, action, target_type, target_id, before, after
    )

    assert text == audit.canonical(content)


async def _chain(n: int) -> list[AuditEvent]:
    for i in range(n):
        async with in_transaction():
            await audit.record(SYSTEM, "test.event", ("thing", i), after={"名称": f"第{i}条"})
    return await AuditEvent.all().order_by("seq")


async def test_verify_chain_reads_in_batches_whatever_the_batch_size():
    """Batch sizes that divide the chain, do not, equal it and exceed it; one read per
    batch plus the last (short or empty) one."""
    events = await _chain(6)
    outcomes = []
    for batch in (1, 2, 4, 6, 7):
        with count_sql() as counter:
            report = await audit.verify_chain(batch=batch)
        outcomes.append((batch, report.ok, report.count, report.head, len(counter.statements)))

    assert outcomes == [
        (b, True, 6, events[-1].hash, math.floor(6 / b) + 1) for b in (1, 2, 4, 6, 7)
    ]


async def test_verify_chain_reports_progress_after_each_batch():
    await _chain(5)
    seen: list[int] = []

    async def progress(checked: int) -> None:
        seen.append(checked)

    report = await audit.verify_chain(batch=2, on_progress=progress)

    assert (report.ok, seen) == (True, [2, 4, 5])


async def test_verify_chain_detects_an_edited_timestamp():
    events = await _chain(4)
    moved = events[2].created_at + dt.timedelta(microseconds=1)
    await AuditEvent.filter(id=events[2].id).update(created_at=moved)

    report = await audit.verify_chain(batch=2)

    assert (report.ok, report.broken_seq, report.broken_id, report.count) == (
        False,
        3,
        events[2].id,
        2,
    )
    assert "修改" in report.reason


async def test_verify_chain_detects_an_edited_json_value_with_the_same_text_length():
    events = await _chain(3)
    await AuditEvent.filter(id=events[1].id).update(after={"名称": "第9条"})

    report = await audit.verify_chain()

    assert (report.ok, report.broken_seq, report.count) == (False, 2, 1)


async def test_verify_chain_accepts_timestamps_outside_the_common_shape():
    """A whole second (no microseconds in the stored text) and a year before 1000 take
    the field's own conversion, as a model read would, and still verify."""
    prev = audit.GENESIS
    stamps = [
        dt.datetime(2026, 11, 27, 8, 0, 0, tzinfo=dt.UTC),
        dt.datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 27, 8, 0, 1, 5, tzinfo=dt.UTC),
    ]
    for seq, created in enumerate(stamps, 1):
        content = audit._content(seq, created, "system", None, "x", "t", str(seq), None, None)
        h = audit.event_hash(prev, content)
        await AuditEvent.create(
            seq=seq,
            created_at=created,
            actor="system",
            actor_user_id=None,
            action="x",
            target_type="t",
            target_id=str(seq),
            before=None,
            after=None,
            prev_hash=prev,
            hash=h,
        )
        prev = h

    report = await audit.verify_chain(batch=2)

    assert (report.ok, report.count, report.head) == (True, 3, prev)


async def test_verify_chain_inside_a_transaction_leaves_the_connection_usable():
    """A walk that stops at the first bad event while the next batch is being read
    waits for that read: the transaction's one connection keeps working."""
    events = await _chain(6)
    await AuditEvent.filter(id=events[0].id).update(actor="user:mallory")

    async with in_transaction():
        report = await audit.verify_chain(batch=2)
        total = await AuditEvent.all().count()
        await connections.get("default").execute_query("SELECT 1")

    assert (report.ok, report.broken_seq, total) == (False, 1, 6)
