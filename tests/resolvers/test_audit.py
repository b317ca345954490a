"""R20: the audit trail is a hash chain that detects every kind of tampering."""

import asyncio
import itertools

from tortoise.transactions import in_transaction

from models import AuditEvent
from resolvers import audit
from resolvers.actor import SYSTEM, Actor
from tests import factories


async def _chain(n: int) -> list[AuditEvent]:
    for i in range(n):
        async with in_transaction():
            await audit.record(SYSTEM, "test.event", ("thing", i), before=None, after={"i": i})
    return await AuditEvent.all().order_by("seq")


async def test_verify_chain_empty_is_ok():
    report = await audit.verify_chain()
    assert (report.ok, report.count, report.head) == (True, 0, audit.GENESIS)


async def test_verify_chain_intact_chain_is_ok():
    events = await _chain(5)
    report = await audit.verify_chain(batch=2)
    assert (report.ok, report.count, report.head) == (True, 5, events[-1].hash)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))


async def test_verify_chain_detects_edited_event():
    events = await _chain(5)
    await AuditEvent.filter(id=events[2].id).update(after={"i": 99})
    report = await audit.verify_chain()
    assert (report.ok, report.broken_seq, report.count) == (False, 3, 2)
    assert "修改" in report.reason


async def test_verify_chain_detects_edited_actor():
    events = await _chain(3)
    await AuditEvent.filter(id=events[0].id).update(actor="user:mallory")
    report = await audit.verify_chain()
    assert (report.ok, report.broken_seq) == (False, 1)


async def test_verify_chain_detects_deleted_event():
    events = await _chain(5)
    await AuditEvent.filter(id=events[1].id).delete()
    report = await audit.verify_chain()
    assert (report.ok, report.broken_seq) == (False, 3)


async def test_verify_chain_detects_deleted_first_event():
    events = await _chain(3)
    await AuditEvent.filter(id=events[0].id).delete()
    report = await audit.verify_chain()
    assert (report.ok, report.broken_seq) == (False, 2)


async def test_verify_chain_detects_reordered_events():
    events = await _chain(5)
    a, b = events[1], events[3]
    # Swap positions through a temporary seq (seq is unique).
    await AuditEvent.filter(id=a.id).update(seq=-1)
    await AuditEvent.filter(id=b.id).update(seq=a.seq)
    await AuditEvent.filter(id=a.id).update(seq=b.seq)
    report = await audit.verify_chain()
    assert (report.ok, report.broken_seq) == (False, 2)


async def test_verify_chain_detects_inserted_event():
    events = await _chain(4)
    # Make room after seq 2 and insert a forged event that claims to follow it.
    for e in reversed(events[2:]):
        await AuditEvent.filter(id=e.id).update(seq=e.seq + 1)
    forged = {
        "seq": 3,
        "created_at": events[1].created_at,
        "actor": "user:mallory",
        "actor_user_id": None,
        "action": "forged",
        "target_type": "x",
        "target_id": "1",
        "before": None,
        "after": None,
    }
    content = audit._content(**forged)
    await AuditEvent.create(
        **forged, prev_hash=events[1].hash, hash=audit.event_hash(events[1].hash, content)
    )
    report = await audit.verify_chain()
    assert (report.ok, report.broken_seq) == (False, 4)


async def test_record_masks_personal_data_and_drops_ciphertexts():
    expert = await factories.expert()
    async with in_transaction():
        event = await audit.record(
            Actor(user_id=7, username="alice"),
            "expert.update",
            expert,
            before=audit.snapshot(expert),
            after={"phone": "13912345678"},
        )
    assert event.actor == "user:alice"
    assert event.target_type == "expert"
    assert "id_number_enc" not in event.before
    assert "phone_hash" not in event.before
    assert event.before["id_number_masked"] == expert.id_number_masked
    assert event.after == {"phone": "139****5678"}


async def test_record_concurrent_appends_keep_one_chain():
    async def one(i: int) -> None:
        async with in_transaction():
            await audit.record(SYSTEM, "test.concurrent", ("thing", i))

    await asyncio.gather(*(one(i) for i in range(20)))
    report = await audit.verify_chain()
    assert (report.ok, report.count) == (True, 20)


async def test_record_many_extends_the_same_chain():
    await _chain(2)
    async with in_transaction():
        n = await audit.record_many(SYSTEM, "demo.load", [("thing", i, {"i": i}) for i in range(5)])
    await _chain(1)
    report = await audit.verify_chain()
    assert (n, report.ok, report.count) == (5, True, 8)
