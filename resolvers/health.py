"""Database reachability, for /healthz."""

import asyncio
import logging

from tortoise import connections

log = logging.getLogger(__name__)


async def database_ok(limit_seconds: float = 2.0) -> bool:
    """True when a trivial query succeeds within `limit_seconds`."""
    try:
        conn = connections.get("default")
        await asyncio.wait_for(conn.execute_query("SELECT 1"), limit_seconds)
    except Exception as exc:  # any failure means "not reachable" for a health check
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        return False
    return True
