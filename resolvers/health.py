"""Database reachability, for /healthz, and what counts as "the database is down"."""

import asyncio
import logging
import socket

import asyncpg
from tortoise import connections
from tortoise.exceptions import DBConnectionError

log = logging.getLogger(__name__)

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
