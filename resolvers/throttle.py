"""Fixed-window counters in shared storage: the database, or Redis when configured.

Login throttling (issue 3: 10 failures per 15 minutes, per account and per client
address), the per-token request rate and the per-token GraphQL cost budget of partner
API tokens all count here, keyed by (key, window start). The storage is shared so that
the limits hold however many worker processes and hosts serve requests:

- the database (default): `RateCounter` rows, purged daily by the sweep;
- Redis, when `Config.redis_url` is set (PINGSHEN_REDIS_URL): one key per counter
  and window, expiring by itself. Same windows, same answers, same Retry-After.

A counter store that cannot be reached raises `CounterStoreUnavailable`, a
ConnectionError, so callers answer 503 as they do while the database is down.
"""

import asyncio
import datetime as dt
import math
import weakref
from typing import Protocol

import redis.asyncio as aioredis
import redis.exceptions
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models import RateCounter
from resolvers.config import get_config
from resolvers.personal import keyed_hash

LOGIN_WINDOW = dt.timedelta(minutes=15)
LOGIN_MAX_FAILURES = 10
TOKEN_WINDOW = dt.timedelta(minutes=1)
_KEY_MAX = 200
# A Redis counter lives as long as anything reads it: the login check reads the
# previous window too.
_REDIS_TTL = int((2 * LOGIN_WINDOW + dt.timedelta(minutes=1)).total_seconds())
_REDIS_TIMEOUT = 2.0


class RateLimited(Exception):
    """The caller exceeded its request rate; it may retry after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited, retry after {retry_after}s")
        self.retry_after = retry_after


class CounterStoreUnavailable(ConnectionError):
    """Redis could not be reached (resolvers.health counts it as a connection error)."""


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def window_start(at: dt.datetime, window: dt.timedelta) -> dt.datetime:
    """The start of the fixed window holding `at` (windows are aligned to the epoch)."""
    size = int(window.total_seconds())
    epoch = int(at.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % size, dt.UTC)


def _retry_after(start: dt.datetime, window: dt.timedelta, at: dt.datetime) -> int:
    return max(1, math.ceil((start + window - at).total_seconds()))


def _key(key: str) -> str:
    # Keys embed user input (a typed username): bound them to the column width.
    return key[:_KEY_MAX]


class CounterStore(Protocol):
    async def hit(self, key: str, start: dt.datetime, amount: int = 1) -> int: ...

    async def unhit(self, key: str, start: dt.datetime, amount: int = 1) -> None: ...

    async def count(self, key: str, start: dt.datetime) -> int: ...

    async def hit_all(
        self, keys: tuple[str, ...], start: dt.datetime, previous: dt.datetime
    ) -> list[int]:
        """Add one to each key's counter at `start`; per key, return the new value plus
        the count at `previous`, with every caller ordered the same way on all keys."""
        ...


class DatabaseCounters:
    """`RateCounter` rows: an UPDATE ... SET count = count + n, inserting on first use."""

    async def hit(self, key: str, start: dt.datetime, amount: int = 1) -> int:
        """Add `amount` to the counter (key, start) and return its new value.

        The UPDATE and the read share one transaction: on PostgreSQL the row lock
        taken by the UPDATE makes concurrent callers wait, on SQLite the transaction
        holds the only connection, so each caller reads exactly its own increment.
        The first caller of a window inserts the row; a caller that loses that race
        gets the unique-key conflict and retries the UPDATE, so no count is lost.
        """
        key = _key(key)
        for _ in range(3):
            try:
                async with in_transaction():
                    updated = await RateCounter.filter(key=key, window_start=start).update(
                        count=F("count") + amount
                    )
                    if updated == 0:
                        await RateCounter.create(key=key, window_start=start, count=amount)
                        return amount
                    rows = await RateCounter.filter(key=key, window_start=start).values("count")
                    return int(rows[0]["count"])
            except IntegrityError:
                continue
        raise RuntimeError(f"rate counter {key!r} could not be incremented")

    async def unhit(self, key: str, start: dt.datetime, amount: int = 1) -> None:
        await RateCounter.filter(key=_key(key), window_start=start, count__gte=amount).update(
            count=F("count") - amount
        )

    async def count(self, key: str, start: dt.datetime) -> int:
        rows = await RateCounter.filter(key=_key(key), window_start=start).values("count")
        return int(rows[0]["count"]) if rows else 0

    async def hit_all(
        self, keys: tuple[str, ...], start: dt.datetime, previous: dt.datetime
    ) -> list[int]:
        # One transaction, keys always locked in the same order: concurrent callers
        # are then ordered the same way on every counter.
        async with in_transaction():
            return [await self.hit(k, start) + await self.count(k, previous) for k in keys]


class RedisCounters:
    """One Redis key per (key, window): INCRBY, and EXPIRE so that nothing needs purging."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _name(self, key: str, start: dt.datetime) -> str:
        return f"{self.prefix}rate:{_key(key)}:{int(start.timestamp())}"

    async def hit(self, key: str, start: dt.datetime, amount: int = 1) -> int:
        return (await self.hit_all_amounts(((key, start, amount),)))[0]

    async def hit_all_amounts(
        self, hits: tuple[tuple[str, dt.datetime, int], ...], reads: tuple[str, ...] = ()
    ) -> list[int]:
        """INCRBY each hit and GET each extra name, in one MULTI/EXEC transaction:
        Redis runs it without interleaving another client's commands."""
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                for key, start, amount in hits:
                    name = self._name(key, start)
                    pipe.incrby(name, amount)
                    pipe.expire(name, _REDIS_TTL)
                for name in reads:
                    pipe.get(name)
                replies = await pipe.execute()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise CounterStoreUnavailable(f"Redis unavailable: {type(exc).__name__}") from exc
        counts = [int(replies[2 * i]) for i in range(len(hits))]
        return counts + [int(r or 0) for r in replies[2 * len(hits) :]]

    async def unhit(self, key: str, start: dt.datetime, amount: int = 1) -> None:
        await self.hit_all_amounts(((key, start, -amount),))

    async def count(self, key: str, start: dt.datetime) -> int:
        return (await self.hit_all_amounts((), (self._name(key, start),)))[0]

    async def hit_all(
        self, keys: tuple[str, ...], start: dt.datetime, previous: dt.datetime
    ) -> list[int]:
        hits = tuple((k, start, 1) for k in keys)
        values = await self.hit_all_amounts(hits, tuple(self._name(k, previous) for k in keys))
        return [values[i] + values[len(keys) + i] for i in range(len(keys))]


_DATABASE = DatabaseCounters()
# One client per (event loop, URL): a redis.asyncio connection belongs to its loop.
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, aioredis.Redis]]"
_clients = weakref.WeakKeyDictionary()


def store() -> CounterStore:
    """The configured counter store: Redis when `Config.redis_url` is set."""
    config = get_config()
    if not config.redis_url:
        return _DATABASE
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(config.redis_url)
    if client is None:
        client = aioredis.Redis.from_url(
            config.redis_url,
            socket_connect_timeout=_REDIS_TIMEOUT,
            socket_timeout=_REDIS_TIMEOUT,
        )
        per_loop[config.redis_url] = client
    return RedisCounters(client, config.redis_prefix)


async def hit(key: str, start: dt.datetime, amount: int = 1) -> int:
    """Add `amount` to the counter (key, start); return its new value."""
    return await store().hit(key, start, amount)


async def unhit(key: str, start: dt.datetime, amount: int = 1) -> None:
    """Take back `amount` (an attempt that turned out not to be a failure)."""
    await store().unhit(key, start, amount)


async def count(key: str, start: dt.datetime) -> int:
    return await store().count(key, start)


# --- login -----------------------------------------------------------------------------


def login_keys(username: str, client_addr: str) -> tuple[str, str]:
    """The two counters of a login attempt. The account key is a keyed hash of what was
    typed: a phone number or ID typed into the username field is never stored."""
    typed = keyed_hash(username.encode("utf-8", "surrogatepass").hex())
    return f"login:user:{typed}", f"login:addr:{client_addr}"


class LoginAttempt:
    """One counted login attempt: counted before the password is checked, so that
    concurrent attempts (a batch, GraphQL aliases) cannot all slip past the limit
    before any of them is counted; taken back when the password was right."""

    def __init__(self, keys: tuple[str, ...], start: dt.datetime, throttled: bool) -> None:
        self.keys = keys
        self.start = start
        self.throttled = throttled

    async def succeeded(self) -> None:
        for key in self.keys:
            await unhit(key, self.start)


async def begin_login_attempt(
    username: str, client_addr: str, *, at: dt.datetime | None = None
) -> LoginAttempt:
    """Count an attempt for the account and for the client address.

    Throttled when, for either key, the attempts of the current and the previous
    window exceed the limit. Summing two adjacent windows guarantees at most
    LOGIN_MAX_FAILURES counted failures in any 15-minute span (a plain fixed window
    lets twice as many through around a window boundary).
    """
    at = at or now_utc()
    start = window_start(at, LOGIN_WINDOW)
    previous = start - LOGIN_WINDOW
    keys = login_keys(username, client_addr)
    # Both keys are counted together, every caller ordered the same way on both
    # counters, so exactly the first LOGIN_MAX_FAILURES attempts get through.
    totals = await store().hit_all(keys, start, previous)
    throttled = any(total > LOGIN_MAX_FAILURES for total in totals)
    return LoginAttempt(keys, start, throttled)


# --- API tokens ------------------------------------------------------------------------


async def check_token_rate(
    token_id: int, requests_per_minute: int, *, at: dt.datetime | None = None
) -> None:
    """Count one request of a token; raise RateLimited past its per-minute budget."""
    at = at or now_utc()
    start = window_start(at, TOKEN_WINDOW)
    if await hit(f"token:{token_id}", start) > requests_per_minute:
        raise RateLimited(_retry_after(start, TOKEN_WINDOW, at))


async def charge_token_cost(
    token_id: int, cost: int, cost_per_minute: int, *, at: dt.datetime | None = None
) -> None:
    """Charge a GraphQL operation's estimated cost to the token's per-minute budget.

    Raises RateLimited when the charge would exceed the budget; the refused operation
    does not run and so is not charged (a cheaper one may still fit this minute).
    """
    at = at or now_utc()
    start = window_start(at, TOKEN_WINDOW)
    key = f"token-cost:{token_id}"
    if await hit(key, start, cost) > cost_per_minute:
        await unhit(key, start, cost)
        raise RateLimited(_retry_after(start, TOKEN_WINDOW, at))


async def purge_counters(*, before: dt.datetime) -> int:
    """Delete counters of windows that started before `before` (daily housekeeping;
    Redis keys expire by themselves)."""
    return await RateCounter.filter(window_start__lt=before).delete()
