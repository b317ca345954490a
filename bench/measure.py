"""In-process measures: exact SQL statements per operation, interleaved timing rounds,
and PostgreSQL plans.

Statements are counted from Tortoise's `tortoise.db_client` logger, which every
backend calls once per statement it sends (execute_query, execute_many,
execute_insert, execute_script). The logger is at DEBUG only while counting, never
while timing.
"""

import cProfile
import io
import json
import logging
import pstats
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tortoise.transactions import in_transaction

LARGE_TABLES = frozenset({"expert", "complaint", "audit_event"})
_LOGGER = logging.getLogger("tortoise.db_client")


@dataclass
class Statement:
    sql: str
    values: Any


class Capture(logging.Handler):
    """Collects the statements logged while installed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[Statement] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.msg
        if not isinstance(msg, str) or msg.startswith(("Created connection", "Closed connection")):
            return
        if msg == "%s: %s" and isinstance(record.args, tuple) and len(record.args) == 2:
            self.statements.append(Statement(str(record.args[0]), record.args[1]))
        elif not record.args:
            self.statements.append(Statement(msg, None))


@contextmanager
def capture_sql() -> Iterator[Capture]:
    handler = Capture()
    previous, propagate = _LOGGER.level, _LOGGER.propagate
    _LOGGER.addHandler(handler)
    _LOGGER.setLevel(logging.DEBUG)
    _LOGGER.propagate = False
    try:
        yield handler
    finally:
        _LOGGER.removeHandler(handler)
        _LOGGER.setLevel(previous)
        _LOGGER.propagate = propagate


async def count_statements(fn: Callable[[], Awaitable[Any]]) -> tuple[int, list[Statement]]:
    with capture_sql() as cap:
        await fn()
    return len(cap.statements), cap.statements


@dataclass
class Timing:
    """Wall-clock samples of one operation, in milliseconds."""

    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def p90(self) -> float:
        if not self.samples:
            return float("nan")
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]

    def as_dict(self) -> dict[str, Any]:
        return {"n": len(self.samples), "median_ms": self.median, "p90_ms": self.p90}


async def interleaved(
    ops: dict[str, Callable[[], Awaitable[Any]]], *, rounds: int, warmup: int = 3
) -> dict[str, Timing]:
    """Time every op once per round, rotating the order each round, so that machine
    noise (other tenants, GC, CPU frequency) lands on all ops alike."""
    names = list(ops)
    for _ in range(warmup):
        for name in names:
            await ops[name]()
    out = {n: Timing() for n in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            await ops[name]()
            out[name].samples.append((time.perf_counter() - started) * 1000)
    return out


async def profile(fn: Callable[[], Awaitable[Any]], *, repeat: int, top: int = 12) -> list[str]:
    """Where an operation's time goes: the functions with the most own time."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(repeat):
        await fn()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    lines = [ln.rstrip() for ln in out.getvalue().splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    return lines[start : start + top + 1]


# --- PostgreSQL plans --------------------------------------------------------------------------


def _walk(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _walk(child)


def _full_walks(plan: dict[str, Any], limit_cost: float | None = None) -> Iterator[dict[str, Any]]:
    """Index scans with a Filter and no Index Cond that the plan expects to run to the
    end: no LIMIT above them, or one whose cost is most of theirs (the filter keeps
    too few rows for the LIMIT to stop the walk early)."""
    if plan.get("Node Type") == "Limit":
        limit_cost = float(plan["Total Cost"])
    if (
        plan.get("Node Type") in ("Index Scan", "Index Only Scan")
        and "Index Cond" not in plan
        and "Filter" in plan
        and (limit_cost is None or limit_cost >= 0.5 * float(plan["Total Cost"]))
    ):
        yield plan
    for child in plan.get("Plans", []):
        yield from _full_walks(child, limit_cost)


async def seq_scans(statements: list[Statement], *, forced: bool = False) -> list[dict[str, str]]:
    """Sequential scans on the large tables in the plans of the SELECTs given.

    `forced` plans with `enable_seqscan = off`: a Seq Scan left then means that no
    index can serve the statement at all, whatever the table's size, so the check
    gives the same answer on a 2,000-expert smoke data set as at 200k. So does an
    index scan that only filters (no Index Cond) and is expected to walk the whole
    index (see _full_walks): a sequential scan in disguise. Without
    `forced`, the planner's own choice for the data at hand is reported (a seq scan
    can be right when a statement reads a large share of a small table).
    """
    found: list[dict[str, str]] = []
    async with in_transaction() as conn:
        if forced:
            await conn.execute_script("SET LOCAL enable_seqscan = off")
        for st in statements:
            if not st.sql.lstrip().upper().startswith("SELECT"):
                continue
            _, rows = await conn.execute_query(
                "EXPLAIN (FORMAT JSON) " + st.sql, list(st.values or [])
            )
            plan_json = rows[0][0]
            plan = (json.loads(plan_json) if isinstance(plan_json, str) else plan_json)[0]["Plan"]
            walks = [id(n) for n in _full_walks(plan)] if forced else []
            for node in _walk(plan):
                relation = node.get("Relation Name", "")
                kind = node.get("Node Type", "")
                if relation in LARGE_TABLES and (kind == "Seq Scan" or id(node) in walks):
                    found.append({"table": relation, "node": kind, "sql": st.sql[:300]})
    return found
