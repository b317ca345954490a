"""Dependency reachability, for /healthz, and what counts as "the database is down"."""

import asyncio
import logging
import socket

import asyncpg
import redis.asyncio as aioredis
from tortoise import connections
from tortoise.exceptions import DBConnectionError

from resolvers.config import get_config

log = logging.getLogger(__name__)

DATABASE = "database"
REDIS = "redis"

# What asyncpg and Tortoise raise while PostgreSQL restarts or is unreachable: the
# server ending sessions (AdminShutdown/CannotConnectNow are OperatorIntervention),
# a dropped or refused socket, a DNS failure, a connect timeout, a closed pool.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InterfaceError,
    DBConnectionError,
    ConnectionError,
    socket.gaierror,
    TimeoutError,
)


def is_connection_error(exc: BaseException) -> bool:
    """True when `exc`, or an exception it was raised from, means the database could
    not be reached (rather than a bug or a bad query)."""
    current: BaseException | None = exc
    for _ in range(8):  # a cause chain is short; the bound guards against cycles
        if current is None:
            return False
        # A bare OSError is asyncpg's "Multiple exceptions: [Errno 111] ..." when every
        # address refused; its subclasses (FileNotFoundError...) are not about the DB.
        if isinstance(current, _CONNECTION_ERRORS) or type(current) is OSError:
            return True
        current = current.__cause__
    return False


async def database_ok(limit_seconds: float = 2.0) -> bool:
    """True when a trivial query succeeds within `limit_seconds`."""
    try:
        conn = connections.get("default")
        await asyncio.wait_for(conn.execute_query("SELECT 1"), limit_seconds)
    except Exception as exc:  # any failure means "not reachable" for a health check
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        return False
    return True


async def redis_ok(url: str, limit_seconds: float = 1.0) -> bool:
    """True when Redis at `url` answers PING within `limit_seconds`.

    A client of its own, closed afterwards: the counter store's pooled client
    (resolvers/throttle.py) belongs to its event loop and must not be left holding a
    half-open connection by a probe that timed out.
    """
    client = aioredis.Redis.from_url(
        url, socket_connect_timeout=limit_seconds, socket_timeout=limit_seconds
    )
    try:
        await asyncio.wait_for(client.ping(), limit_seconds)
    except Exception as exc:  # any failure means "not reachable" for a health check
        # The type only: a redis error message names the host and port.
        log.warning("health check: redis unreachable (%s)", type(exc).__name__)
        return False
    finally:
        await client.aclose()
    return True


async def unavailable_dependencies() -> list[str]:
    """The names of the dependencies that do not answer (empty when all are up): the
    database always, Redis when the counters live there (PINGSHEN_REDIS_URL). Probed
    concurrently, so a down dependency costs its timeout once."""
    redis_url = get_config().redis_url
    probes = {DATABASE: database_ok()}
    if redis_url:
        probes[REDIS] = redis_ok(redis_url)
    results = await asyncio.gather(*probes.values())
    return [name for name, ok in zip(probes, results, strict=True) if not ok]
