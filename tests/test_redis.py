"""Shared counters in the database or in Redis (issue 12 §1, issue 3 §5–6): one table of
cases run against both backends, which must give the same answers (login throttle
windows, token requests and GraphQL cost per minute, Retry-After, concurrency).

The Redis cases run when PINGSHEN_TEST_REDIS_URL names a server (e.g.
redis://127.0.0.1:6379/0) and are skipped otherwise; each test uses its own key
prefix and deletes its keys afterwards.
"""

import asyncio
import contextlib
import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import redis.asyncio as aioredis

import app as app_module
from models import RateCounter
from models.enums import Role
from resolvers import throttle
from resolvers.actor import Actor, Grant
from resolvers.config import Config, configure
from tests import conftest
from tests.conftest import TEST_SECRET
from tests.schema.conftest import codes, gql

REDIS_URL = os.environ.get("PINGSHEN_TEST_REDIS_URL", "")
NEEDS_REDIS = pytest.mark.skipif(not REDIS_URL, reason="needs PINGSHEN_TEST_REDIS_URL")
BACKENDS = [
    pytest.param("database", id="database"),
    pytest.param("redis", id="redis", marks=NEEDS_REDIS),
]
# A fixed instant 20 s into a one-minute window (and 5 min into a 15-minute one).
T0 = dt.datetime(2026, 3, 2, 8, 5, 20, tzinfo=dt.UTC)
WINDOW = throttle.window_start(T0, throttle.TOKEN_WINDOW)


@contextlib.asynccontextmanager
async def counters(backend: str, **config: object) -> AsyncIterator[str]:
    """Configure the counter store for one test; yield its Redis key prefix."""
    prefix = f"pingshen-test:{uuid.uuid4().hex}:"
    url = REDIS_URL if backend == "redis" else ""
    configure(
        Config(
            secret_key=TEST_SECRET,
            argon2_profile="cheapest",
            redis_url=url,
            redis_prefix=prefix,
            **config,  # type: ignore[arg-type]
        )
    )
    try:
        yield prefix
    finally:
        if url:
            client = aioredis.Redis.from_url(url)
            keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()


async def _stored_rows() -> int:
    return await RateCounter.all().count()


# --- the table -------------------------------------------------------------------------


async def login_limit_per_account_and_address() -> None:
    """R-issue-3 §5: the 11th failure in the window is throttled, per account (from any
    address) and per address (for any account); a success is taken back."""
    verdicts = [
        (await throttle.begin_login_attempt("zhang", f"10.0.0.{i}", at=T0)).throttled
        for i in range(11)
    ]
    assert verdicts == [False] * 10 + [True]
    by_address = [
        (await throttle.begin_login_attempt(f"user{i}", "10.9.9.9", at=T0)).throttled
        for i in range(11)
    ]
    assert by_address == [False] * 10 + [True]
    ok = await throttle.begin_login_attempt("li", "10.1.1.1", at=T0)
    await ok.succeeded()
    assert await throttle.count(throttle.login_keys("li", "10.1.1.1")[0], ok.start) == 0


async def login_window_spans_the_previous_window() -> None:
    start = throttle.window_start(T0, throttle.LOGIN_WINDOW)
    for i in range(10):
        await throttle.begin_login_attempt(
            "wang", f"10.0.1.{i}", at=start - dt.timedelta(seconds=1)
        )
    now = await throttle.begin_login_attempt("wang", "10.0.2.1", at=start)
    later = await throttle.begin_login_attempt("wang", "10.0.2.2", at=start + throttle.LOGIN_WINDOW)
    assert (now.throttled, later.throttled) == (True, False)


async def token_requests_per_minute_with_retry_after() -> None:
    for _ in range(3):
        await throttle.check_token_rate(7, 3, at=T0)
    with pytest.raises(throttle.RateLimited) as refused:
        await throttle.check_token_rate(7, 3, at=T0)
    assert refused.value.retry_after == 40  # T0 is 20 s into its minute
    await throttle.check_token_rate(8, 3, at=T0)  # another token is unaffected
    await throttle.check_token_rate(7, 3, at=WINDOW + throttle.TOKEN_WINDOW)  # next minute


async def token_cost_budget_per_minute() -> None:
    """Issue 3 §6: cost per minute; a refused operation is not charged, so a cheaper
    one still fits; another token has its own budget."""
    await throttle.charge_token_cost(7, 60, 100, at=T0)
    with pytest.raises(throttle.RateLimited) as refused:
        await throttle.charge_token_cost(7, 60, 100, at=T0 + dt.timedelta(seconds=30))
    assert refused.value.retry_after == 10
    await throttle.charge_token_cost(7, 40, 100, at=T0)  # exactly the budget
    with pytest.raises(throttle.RateLimited):
        await throttle.charge_token_cost(7, 1, 100, at=T0)
    await throttle.charge_token_cost(8, 100, 100, at=T0)
    await throttle.charge_token_cost(7, 100, 100, at=WINDOW + throttle.TOKEN_WINDOW)
    assert await throttle.count("token-cost:7", WINDOW) == 100


async def concurrent_hits_are_never_lost() -> None:
    values = await asyncio.gather(*(throttle.hit("k", WINDOW) for _ in range(60)))
    assert sorted(values) == list(range(1, 61))
    assert await throttle.count("k", WINDOW) == 60


async def concurrent_login_attempts_let_exactly_ten_through() -> None:
    attempts = await asyncio.gather(
        *(throttle.begin_login_attempt("zhao", "10.3.3.3", at=T0) for _ in range(15))
    )
    assert sorted(a.throttled for a in attempts) == [False] * 10 + [True] * 5


async def long_keys_are_bounded_alike() -> None:
    long_name = "长" * 500
    await throttle.hit(long_name, WINDOW)
    assert await throttle.count(long_name[:200] + "其他", WINDOW) == 1


CASES: list[Callable[[], Awaitable[None]]] = [
    login_limit_per_account_and_address,
    login_window_spans_the_previous_window,
    token_requests_per_minute_with_retry_after,
    token_cost_budget_per_minute,
    concurrent_hits_are_never_lost,
    concurrent_login_attempts_let_exactly_ten_through,
    long_keys_are_bounded_alike,
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
async def test_counter_semantics(backend: str, case: Callable[[], Awaitable[None]]) -> None:
    async with counters(backend):
        await case()
        # The Redis backend keeps nothing in the database, the database one nothing else.
        assert (await _stored_rows() > 0) == (backend == "database")


# --- Redis specifics ---------------------------------------------------------------------


@NEEDS_REDIS
async def test_redis_keys_expire_by_themselves() -> None:
    async with counters("redis") as prefix:
        await throttle.hit("token:9", WINDOW)
        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            [key] = [k async for k in client.scan_iter(match=f"{prefix}*")]
            ttl = await client.ttl(key)
        finally:
            await client.aclose()
    assert key.decode() == f"{prefix}rate:token:9:{int(WINDOW.timestamp())}"
    assert 0 < ttl <= 31 * 60


@NEEDS_REDIS
async def test_two_prefixes_do_not_share_counters() -> None:
    """Two deployments on one Redis (PINGSHEN_REDIS_PREFIX) count apart."""
    async with counters("redis"):
        await throttle.hit("shared", WINDOW)
        async with counters("redis"):
            assert await throttle.count("shared", WINDOW) == 0


async def test_unreachable_redis_is_a_connection_error_not_a_pass() -> None:
    """A down counter store never lets a login through unthrottled: it refuses (the
    app answers 503, tested over HTTP below)."""
    configure(
        Config(secret_key=TEST_SECRET, argon2_profile="cheapest", redis_url="redis://127.0.0.1:1/0")
    )
    with pytest.raises(throttle.CounterStoreUnavailable):
        await throttle.begin_login_attempt("zhang", "10.0.0.1")
    assert await _stored_rows() == 0


LOGIN = """mutation { login(input: {username: "nobody", password: "Wrong-password-123"}) {
  me { username } errors { code } } }"""


async def test_login_while_redis_is_down_answers_503_unavailable() -> None:
    settings = app_module.Settings(
        **{**conftest.test_settings().__dict__, "redis_url": "redis://127.0.0.1:1/0"}
    )
    transport = httpx.ASGITransport(app=app_module.create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        response = await c.post("/graphql", json={"query": LOGIN})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["errors"] == [
        {
            "message": "系统暂时无法连接数据库,请稍后重试。",
            "locations": [{"line": 1, "column": 12}],
            "path": ["login"],
            "extensions": {"code": "UNAVAILABLE", "retryAfter": 5},
        }
    ]


def test_settings_read_redis_and_cost_budget_from_the_environment() -> None:
    env = {
        "PINGSHEN_SECRET_KEY": "k" * 40,
        "PINGSHEN_REDIS_URL": "redis://10.0.0.9:6379/2",
        "PINGSHEN_REDIS_PREFIX": "city:",
        "PINGSHEN_TOKEN_COST_PER_MINUTE": "5000",
    }
    config = app_module.Settings.from_env(env).config()
    default = app_module.Settings.from_env({"PINGSHEN_SECRET_KEY": "k" * 40}).config()
    assert (config.redis_url, config.redis_prefix, config.token_cost_per_minute) == (
        "redis://10.0.0.9:6379/2",
        "city:",
        5000,
    )
    assert (default.redis_url, default.redis_prefix, default.token_cost_per_minute) == (
        "",
        "pingshen:",
        100_000,
    )


@pytest.mark.parametrize("raw", ["0", "-5", "many"])
def test_cost_budget_must_be_a_positive_integer(raw: str) -> None:
    with pytest.raises(app_module.CLIError) as caught:
        app_module.Settings.from_env(
            {"PINGSHEN_SECRET_KEY": "k" * 40, "PINGSHEN_TOKEN_COST_PER_MINUTE": raw}
        )
    assert str(caught.value) == f"PINGSHEN_TOKEN_COST_PER_MINUTE 须为正整数,当前为 {raw!r}"


async def test_cost_charge_while_redis_is_down_is_unavailable_not_a_bug() -> None:
    configure(
        Config(secret_key=TEST_SECRET, argon2_profile="cheapest", redis_url="redis://127.0.0.1:1/0")
    )
    partner = Actor(username="人才网", grants=(Grant(Role.PARTNER),), token_id=1)
    result = await gql("{ __typename }", actor=partner)
    assert (result.data, codes(result)) == (None, ["UNAVAILABLE"])
    assert result.errors is not None and result.errors[0].extensions == {
        "code": "UNAVAILABLE",
        "retryAfter": 5,
    }
