"""Fixed-window counters in the database, shared by every worker process.

Login throttling (issue 3: 10 failures per 15 minutes, per account and per client
address) and the per-token request rate of partner API tokens both count here, in
`RateCounter` rows keyed by (key, window_start). The database is the shared storage
so that the limits hold however many worker processes serve requests.
"""

import datetime as dt
import math

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models import RateCounter

LOGIN_WINDOW = dt.timedelta(minutes=15)
LOGIN_MAX_FAILURES = 10
TOKEN_WINDOW = dt.timedelta(minutes=1)
_KEY_MAX = 200


class RateLimited(Exception):
    """The caller exceeded its request rate; it may retry after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited, retry after {retry_after}s")
        self.retry_after = retry_after


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def window_start(at: dt.datetime, window: dt.timedelta) -> dt.datetime:
    """The start of the fixed window holding `at` (windows are aligned to the epoch)."""
    size = int(window.total_seconds())
    epoch = int(at.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % size, dt.UTC)


def _key(key: str) -> str:
    # Keys embed user input (a typed username): bound them to the column width.
    return key[:_KEY_MAX]


async def hit(key: str, start: dt.datetime) -> int:
    """Add one to the counter (key, start) and return its new value.

    The UPDATE and the read share one transaction: on PostgreSQL the row lock taken
    by the UPDATE makes concurrent callers wait, on SQLite the transaction holds the
    only connection, so each caller reads exactly its own increment. The first caller
    of a window inserts the row; a caller that loses that race gets the unique-key
    conflict and retries the UPDATE, so no count is ever lost.
    """
    key = _key(key)
    for _ in range(3):
        try:
            async with in_transaction():
                updated = await RateCounter.filter(key=key, window_start=start).update(
                    count=F("count") + 1
                )
                if updated == 0:
                    await RateCounter.create(key=key, window_start=start, count=1)
                    return 1
                rows = await RateCounter.filter(key=key, window_start=start).values("count")
                return int(rows[0]["count"])
        except IntegrityError:
            continue
    raise RuntimeError(f"rate counter {key!r} could not be incremented")


async def unhit(key: str, start: dt.datetime) -> None:
    """Take back one count (an attempt that turned out not to be a failure)."""
    await RateCounter.filter(key=_key(key), window_start=start, count__gt=0).update(
        count=F("count") - 1
    )


async def count(key: str, start: dt.datetime) -> int:
    rows = await RateCounter.filter(key=_key(key), window_start=start).values("count")
    return int(rows[0]["count"]) if rows else 0


# --- login -----------------------------------------------------------------------------


def login_keys(username: str, client_addr: str) -> tuple[str, str]:
    return f"login:user:{username}", f"login:addr:{client_addr}"


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
    throttled = False
    # One transaction for both keys, always locked in the same order: concurrent
    # attempts are then ordered the same way on both counters, so exactly the first
    # LOGIN_MAX_FAILURES of them get through (not fewer, not more).
    async with in_transaction():
        for key in keys:
            current = await hit(key, start)
            if current + await count(key, previous) > LOGIN_MAX_FAILURES:
                throttled = True
    return LoginAttempt(keys, start, throttled)


# --- API tokens ------------------------------------------------------------------------


async def check_token_rate(
    token_id: int, requests_per_minute: int, *, at: dt.datetime | None = None
) -> None:
    """Count one request of a token; raise RateLimited past its per-minute budget."""
    at = at or now_utc()
    start = window_start(at, TOKEN_WINDOW)
    if await hit(f"token:{token_id}", start) > requests_per_minute:
        retry = (start + TOKEN_WINDOW - at).total_seconds()
        raise RateLimited(max(1, math.ceil(retry)))


async def purge_counters(*, before: dt.datetime) -> int:
    """Delete counters of windows that started before `before` (daily housekeeping)."""
    return await RateCounter.filter(window_start__lt=before).delete()
