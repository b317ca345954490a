"""Long operations in the background, with progress any process can show (issue 9
item 5; issue 12 item 1: nothing lives in one process's memory).

A job runs as an asyncio task in the process that started it. Its row in
`background_job` holds the phase, the progress counters, the result (JSON) or the
error; a flusher task copies the worker's progress into the row about twice a second
and renews `heartbeat_at`, so a page polling through another worker process sees
the same figures. A running job whose heartbeat is older than STALE_AFTER belongs to
a process that died: it is reported, and stored, as interrupted.

The flusher is started outside the worker's transactions: on PostgreSQL it writes
through its own pooled connection while an import's transaction is open; on SQLite
(one connection) its writes wait until that transaction commits.

Jobs are readable only by the user who started them (NotFound for anyone else), and
the domain module that starts one checks its permission first. Starting a job is not
an audited state change by itself: the operations that change state (the import)
write their own audit events; verification and statistics only read.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from models.account import BackgroundJob
from models.enums import JobKind, JobStatus
from resolvers.actor import Actor
from resolvers.common import utcnow
from resolvers.errors import DomainError, ErrorCode, NotFound, PermissionDenied
from resolvers.logsafe import log_unexpected

log = logging.getLogger(__name__)

FLUSH_EVERY = 0.5  # seconds between progress writes while something changed
HEARTBEAT_EVERY = 5.0  # seconds between heartbeats while nothing changed
STALE_AFTER = dt.timedelta(seconds=60)
KEEP_FINISHED = dt.timedelta(days=1)  # results may name people (import errors)

INTERRUPTED = "任务中断(处理该任务的服务进程已停止),请重新开始"
FAILED = "任务执行出错,请稍后重试;如仍出错请联系管理员"
STOPPED = "服务停止,任务中断,请重新开始"


class Progress:
    """What the worker reports; the flusher copies it to the job's row."""

    def __init__(self) -> None:
        self.phase = ""
        self.done = 0
        self.total = 0
        self.changes = 0

    def step(self, phase: str, done: int = 0, total: int = 0) -> None:
        self.phase, self.done, self.total = phase, done, total
        self.changes += 1


@dataclass(frozen=True)
class Job:
    """A job as transports show it."""

    id: str
    kind: JobKind
    status: JobStatus
    phase: str
    done: int
    total: int
    result: Any
    error_code: str
    error_message: str
    created_at: dt.datetime
    finished_at: dt.datetime | None

    @property
    def running(self) -> bool:
        return self.status == JobStatus.RUNNING

    @property
    def failed(self) -> bool:
        return self.status == JobStatus.FAILED

    @property
    def percent(self) -> int:
        if not self.running:
            return 100
        return min(99, self.done * 100 // self.total) if self.total > 0 else 0

    @classmethod
    def of(cls, row: BackgroundJob) -> Job:
        return cls(
            id=row.id,
            kind=JobKind(row.kind),
            status=JobStatus(row.status),
            phase=row.phase,
            done=row.done,
            total=row.total,
            result=row.result,
            error_code=row.error_code,
            error_message=row.error_message,
            created_at=row.created_at,
            finished_at=row.finished_at,
        )


Work = Callable[[Progress], Awaitable[Any]]

_TASKS: set[asyncio.Task[None]] = set()


def _owner(actor: Actor) -> int:
    if actor.user_id is None:
        raise PermissionDenied("后台任务需要登录后使用")
    return actor.user_id


async def _current(user_id: int, kind: JobKind, scope: str) -> BackgroundJob | None:
    row = (
        await BackgroundJob.filter(user_id=user_id, kind=kind, scope=scope)
        .order_by("-created_at")
        .first()
    )
    if row is None:
        return None
    return await _settle_stale(row)


async def _settle_stale(row: BackgroundJob) -> BackgroundJob:
    """Store a running job with a stopped heartbeat as interrupted, and return it."""
    if row.status == JobStatus.RUNNING and row.heartbeat_at < utcnow() - STALE_AFTER:
        now = utcnow()
        values = {
            "status": JobStatus.FAILED,
            "error_code": ErrorCode.JOB_INTERRUPTED.value,
            "error_message": INTERRUPTED,
            "finished_at": now,
        }
        await BackgroundJob.filter(id=row.id, status=JobStatus.RUNNING).update(**values)
        fresh = await BackgroundJob.get_or_none(id=row.id)
        return fresh or row
    return row


async def start_job(
    actor: Actor, kind: JobKind, work: Work, *, scope: str = "", exclusive: bool = False
) -> Job:
    """Start `work` in the background and return its job at once.

    exclusive: while this user has a running job of this kind and scope, refuse a
    second one (JOB_RUNNING) instead of starting it (an import must not run twice).
    Otherwise a running job of the same kind and scope is returned rather than a
    duplicate started (a double click, a reload).
    """
    user_id = _owner(actor)
    running = await _current(user_id, kind, scope)
    if running is not None and running.status == JobStatus.RUNNING:
        if exclusive:
            raise DomainError(
                ErrorCode.JOB_RUNNING, "已有同类任务正在进行,请等待其完成后再开始", "job"
            )
        return Job.of(running)
    now = utcnow()
    row = await BackgroundJob.create(
        id=secrets.token_urlsafe(18),
        kind=kind,
        user_id=user_id,
        scope=scope,
        phase="排队中",
        heartbeat_at=now,
    )
    task = asyncio.create_task(_run(row.id, work), name=f"job-{kind.value}-{row.id}")
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return Job.of(row)


async def _flush(job_id: str, progress: Progress) -> None:
    seen = -1
    last = asyncio.get_running_loop().time()
    while True:
        await asyncio.sleep(FLUSH_EVERY)
        now = asyncio.get_running_loop().time()
        if progress.changes == seen and now - last < HEARTBEAT_EVERY:
            continue
        seen, last = progress.changes, now
        await BackgroundJob.filter(id=job_id, status=JobStatus.RUNNING).update(
            phase=progress.phase[:100],
            done=progress.done,
            total=progress.total,
            heartbeat_at=utcnow(),
        )


async def _finish(job_id: str, progress: Progress, **values: Any) -> None:
    now = utcnow()
    await BackgroundJob.filter(id=job_id, status=JobStatus.RUNNING).update(
        phase=progress.phase[:100],
        done=progress.done,
        total=progress.total,
        heartbeat_at=now,
        finished_at=now,
        **values,
    )


async def _run(job_id: str, work: Work) -> None:
    progress = Progress()
    flusher = asyncio.create_task(_flush(job_id, progress))
    try:
        result = await work(progress)
        flusher.cancel()  # (the flusher only ever writes a running job's row)
        await _finish(job_id, progress, status=JobStatus.DONE, result=result)
    except DomainError as exc:
        await _fail(job_id, progress, str(exc.code), exc.message[:2000])
    except asyncio.CancelledError:
        await _fail(job_id, progress, ErrorCode.JOB_INTERRUPTED.value, STOPPED)
        raise
    except Exception as exc:
        # The message may carry user input (personal data): type and frames only.
        log_unexpected(log, "background job failed", exc, job=job_id)
        await _fail(job_id, progress, ErrorCode.JOB_FAILED.value, FAILED)
    finally:
        flusher.cancel()


async def _fail(job_id: str, progress: Progress, code: str, message: str) -> None:
    await _finish(job_id, progress, status=JobStatus.FAILED, error_code=code, error_message=message)


async def get_job(actor: Actor, job_id: str, kind: JobKind) -> Job:
    """The job `job_id` of `kind`, if `actor` started it (NotFound otherwise)."""
    if actor.user_id is None or not job_id or len(job_id) > 32:
        raise NotFound("任务不存在或已过期")
    row = await BackgroundJob.get_or_none(id=job_id, user_id=actor.user_id, kind=kind)
    if row is None:
        raise NotFound("任务不存在或已过期")
    return Job.of(await _settle_stale(row))


async def latest_job(actor: Actor, kind: JobKind, *, scope: str = "") -> Job | None:
    """The actor's most recent job of `kind` and `scope`, if any."""
    row = await _current(_owner(actor), kind, scope)
    return None if row is None else Job.of(row)


async def drain(*, cancel: bool) -> None:
    """Wait for (or, with cancel, stop) the jobs of this process. The lifespan calls it
    with cancel=True at shutdown, so a stopped job is stored as interrupted at once."""
    tasks = list(_TASKS)
    if cancel:
        for task in tasks:
            task.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


async def purge_finished(before: dt.datetime) -> int:
    """Housekeeping (pingshen sweep): forget finished jobs and their results."""
    return await BackgroundJob.filter(finished_at__lt=before).delete()
