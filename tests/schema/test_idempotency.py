"""Idempotency-Key (issue 4 §4): a replay returns the first result and creates
nothing; another body is IDEMPOTENCY_MISMATCH; keys are per actor; 24 h expiry;
concurrent requests with one key create one object."""

import asyncio
import datetime as dt
import uuid

import httpx
import pytest
import strawberry
from starlette.applications import Starlette
from tortoise.transactions import in_transaction

from models import AuditEvent, IdempotencyKey, Notification
from resolvers import audit, idempotency
from resolvers.actor import Actor
from resolvers.errors import DomainError, ErrorCode
from schema import Query, graphql_route, new_schema
from schema.context import ctx
from schema.errors import UserError, user_errors
from schema.payload import create_once
from tests.schema.conftest import BUREAU, AsActor

OTHER = Actor(user_id=7, username="bureau2")


async def create_notice(actor: Actor, *, subject: str) -> Notification:
    """A real creating service function: one row and its audit event."""
    async with in_transaction():
        notice = await Notification.create(
            kind="test", subject=subject, body="正文", dedupe_key=uuid.uuid4().hex
        )
        await audit.record(actor, "notification.create", notice, after={"subject": subject})
    return notice


async def _run(actor: Actor, key: str | None, subject: str = "通知", **kw):
    return await idempotency.run_once(
        actor,
        key=key,
        request={"op": "createNotice", "input": {"subject": subject}},
        model=Notification,
        create=lambda: create_notice(actor, subject=subject),
        **kw,
    )


KEY = "3f1c2a9e-6b1d-4c44-9a53-8f2d3d1f0c11"


async def test_replay_returns_the_first_object_and_creates_nothing():
    first = await _run(BUREAU, KEY)
    again = await _run(BUREAU, KEY)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.value.pk == first.value.pk
    assert await Notification.all().count() == 1
    assert await AuditEvent.all().count() == 1


async def test_same_key_with_another_body_is_a_mismatch_and_creates_nothing():
    await _run(BUREAU, KEY, subject="甲")
    with pytest.raises(DomainError) as caught:
        await _run(BUREAU, KEY, subject="乙")
    assert (caught.value.code, caught.value.field) == (
        ErrorCode.IDEMPOTENCY_MISMATCH,
        "Idempotency-Key",
    )
    assert await Notification.all().values_list("subject", flat=True) == ["甲"]


async def test_keys_belong_to_one_actor():
    mine = await _run(BUREAU, KEY)
    theirs = await _run(OTHER, KEY)
    assert theirs.replayed is False and theirs.value.pk != mine.value.pk
    assert await Notification.all().count() == 2


async def test_anonymous_callers_are_told_apart_by_address():
    a = Actor(client_addr="10.0.0.1")
    b = Actor(client_addr="10.0.0.2")
    assert a.is_anonymous and b.is_anonymous
    first = await _run(a, KEY)
    other = await _run(b, KEY)
    assert other.value.pk != first.value.pk
    assert (await _run(a, KEY)).value.pk == first.value.pk


async def test_key_expires_after_24_hours():
    first = await _run(BUREAU, KEY)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=24, minutes=1)
    fresh = await _run(BUREAU, KEY, now=later)
    assert fresh.replayed is False and fresh.value.pk != first.value.pk
    assert await IdempotencyKey.all().count() == 1


async def test_key_within_24_hours_still_replays():
    first = await _run(BUREAU, KEY)
    almost = dt.datetime.now(dt.UTC) + dt.timedelta(hours=23, minutes=59)
    assert (await _run(BUREAU, KEY, now=almost)).value.pk == first.value.pk


async def test_concurrent_requests_with_one_key_create_one_object():
    results = await asyncio.gather(*(_run(BUREAU, KEY) for _ in range(5)))
    assert len({r.value.pk for r in results}) == 1
    assert sorted(r.replayed for r in results) == [False, True, True, True, True]
    assert await Notification.all().count() == 1
    assert await IdempotencyKey.all().count() == 1


async def test_failed_creation_releases_the_key():
    async def failing() -> Notification:
        raise DomainError(ErrorCode.REQUIRED, "标题不能为空", "subject")

    with pytest.raises(DomainError):
        await idempotency.run_once(
            BUREAU,
            key=KEY,
            request={"input": {"subject": "x"}},
            model=Notification,
            create=failing,
        )
    assert await IdempotencyKey.all().count() == 0
    assert (await _run(BUREAU, KEY, subject="x")).replayed is False


async def test_no_key_means_no_idempotency():
    await _run(BUREAU, None)
    await _run(BUREAU, None)
    assert (await Notification.all().count(), await IdempotencyKey.all().count()) == (2, 0)


@pytest.mark.parametrize(
    "key", ["short", "x" * 201, "有中文的键有中文的键有中文的键有中文", "bad key with spaces!"]
)
async def test_malformed_key_is_refused_and_creates_nothing(key: str):
    with pytest.raises(DomainError) as caught:
        await _run(BUREAU, key)
    assert (caught.value.code, caught.value.field) == (ErrorCode.INVALID, "Idempotency-Key")
    assert await Notification.all().count() == 0


async def test_purge_removes_only_expired_keys():
    await _run(BUREAU, KEY)
    assert await idempotency.purge_expired() == 0
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)
    assert await idempotency.purge_expired(later) == 1


# --- through a mutation over HTTP: the header reaches the resolver ---------------------


@strawberry.type
class _NoticePayload:
    notice_id: int | None
    replayed: bool
    errors: list[UserError]


@strawberry.type
class _Mutation:
    @strawberry.mutation
    async def create_notice(self, info: strawberry.Info, subject: str) -> _NoticePayload:
        actor = ctx(info).actor
        try:
            outcome = await create_once(
                info,
                input={"subject": subject},
                model=Notification,
                create=lambda: create_notice(actor, subject=subject),
            )
        except DomainError as exc:
            return _NoticePayload(notice_id=None, replayed=False, errors=user_errors(exc))
        return _NoticePayload(notice_id=outcome.value.pk, replayed=outcome.replayed, errors=[])


MUTATION = """mutation($s: String!) { createNotice(subject: $s) {
  noticeId replayed errors { field code message } } }"""


async def _post(client, subject: str, key: str | None):
    headers = {"Idempotency-Key": key} if key else {}
    response = await client.post(
        "/graphql", json={"query": MUTATION, "variables": {"s": subject}}, headers=headers
    )
    return response.json()["data"]["createNotice"]


async def test_mutation_replays_over_http_with_the_header():
    app = AsActor(Starlette(routes=[graphql_route(new_schema(Query, _Mutation))]), BUREAU)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        first = await _post(c, "甲", KEY)
        again = await _post(c, "甲", KEY)
        mismatch = await _post(c, "乙", KEY)
        unkeyed = await _post(c, "甲", None)
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["noticeId"] == first["noticeId"]
    assert mismatch == {
        "noticeId": None,
        "replayed": False,
        "errors": [
            {
                "field": "Idempotency-Key",
                "code": "IDEMPOTENCY_MISMATCH",
                "message": "该 Idempotency-Key 已用于另一个不同的请求",
            }
        ],
    }
    assert unkeyed["noticeId"] != first["noticeId"]
    assert await Notification.all().count() == 2
