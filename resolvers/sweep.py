"""`pingshen sweep`: the daily job, safe to start on every host at once.

Exactly one run proceeds at a time: a PostgreSQL advisory lock (session level, on one
dedicated connection) or, on SQLite, an exclusive file lock next to the database. A
second concurrent run reports "skipped". Each step commits per object in its own
transaction and is idempotent, so a run that dies midway leaves nothing half-done and
the next run finishes the work.
"""

import contextlib
import datetime as dt
import fcntl
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from tortoise import connections

from resolvers.common import beijing_today

log = logging.getLogger(__name__)

_PG_SWEEP_LOCK = 7_264_839_002

Step = Callable[[dt.date], Awaitable[dict[str, int]]]


async def _housekeeping(today: dt.date) -> dict[str, int]:
    """Drop expired shared state: idempotency keys (24 h), throttle windows (1 day) and
    finished background jobs with their results (1 day)."""
    from resolvers import idempotency, jobs, throttle

    now = dt.datetime.now(dt.UTC)
    return {
        "idempotency_keys": await idempotency.purge_expired(now),
        "rate_counters": await throttle.purge_counters(before=now - dt.timedelta(days=1)),
        "background_jobs": await jobs.purge_finished(before=now - jobs.KEEP_FINISHED),
    }


def _steps() -> list[tuple[str, Step]]:
    from resolvers import complaint, expert, institution

    return [
        ("备案到期", institution.expire_filings),
        ("到期提醒", institution.queue_expiry_notices),
        ("专家聘期", expert.renew_terms),
        ("超龄退出", expert.exit_over_age),
        ("投诉逾期", complaint.escalate_overdue),
        ("过期数据清理", _housekeeping),
    ]


@dataclass
class SweepReport:
    """What one run did, step by step."""

    today: dt.date
    skipped: bool = False
    results: dict[str, dict[str, int]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        if self.skipped:
            return [f"{self.today}:另一个 sweep 正在运行,本次跳过"]
        out = [f"{self.today}:每日任务完成"]
        for name, counts in self.results.items():
            detail = ", ".join(f"{k}={v}" for k, v in counts.items()) or "无"
            out.append(f"  {name}:{detail}")
        return out


@contextlib.asynccontextmanager
async def _exclusive() -> AsyncIterator[bool]:
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        # A session-level advisory lock on one pooled connection held for the run.
        async with conn.acquire_connection() as raw:
            got = await raw.fetchval("SELECT pg_try_advisory_lock($1)", _PG_SWEEP_LOCK)
            try:
                yield bool(got)
            finally:
                if got:
                    await raw.execute("SELECT pg_advisory_unlock($1)", _PG_SWEEP_LOCK)
        return
    path = Path(getattr(conn, "filename", "pingshen.sqlite3") + ".sweep.lock")
    # A local lock file: opening it is instant, so blocking the loop here is harmless.
    with open(path, "w") as fh:  # noqa: ASYNC230
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


async def run_sweep(*, today: dt.date | None = None) -> SweepReport:
    """Run every daily step once (or skip when another host is running it)."""
    today = today or beijing_today()
    report = SweepReport(today=today)
    async with _exclusive() as got:
        if not got:
            report.skipped = True
            return report
        for name, step in _steps():
            report.results[name] = await step(today)
            log.info("sweep %s: %s", name, report.results[name])
    return report
