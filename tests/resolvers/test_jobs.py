"""Background jobs (resolvers/jobs.py; issue 9 item 5, issue 12 item 1): progress and
results live in the database so any process can show them; only the starter reads a
job; a dead process's job is reported interrupted; failures never leak messages."""

import asyncio
import datetime as dt
import itertools
import logging

import pytest

from models import User
from models.account import BackgroundJob
from models.enums import JobKind, JobStatus, Role
from resolvers import jobs, sweep
from resolvers.actor import Actor, Grant
from resolvers.common import utcnow
from resolvers.errors import DomainError, ErrorCode, NotFound, PermissionDenied

_n = itertools.count(1)


async def _actor() -> Actor:
    n = next(_n)
    user = await User.create(username=f"job{n}", display_name=f"用户{n}", password_hash="x")
    return Actor(user_id=user.id, username=user.username, grants=(Grant(Role.BUREAU),))


async def _row(job_id: str) -> BackgroundJob:
    return await BackgroundJob.get(id=job_id)


async def test_progress_reaches_the_database_while_the_job_runs():
    """Another process reads the row: the worker's progress must get there."""
    actor = await _actor()
    release = asyncio.Event()

    async def work(progress: jobs.Progress) -> dict[str, int]:
        progress.step("检查数据", 40, 100)
        await release.wait()
        progress.step("写入数据", 100, 100)
        return {"rows": 100}

    job = await jobs.start_job(actor, JobKind.EXPERT_IMPORT, work)
    for _ in range(40):  # the flusher writes about every FLUSH_EVERY seconds
        row = await _row(job.id)
        if row.done == 40:
            break
        await asyncio.sleep(0.1)

    assert (row.status, row.phase, row.done, row.total) == (JobStatus.RUNNING, "检查数据", 40, 100)
    assert jobs.Job.of(row).percent == 40
    release.set()
    await jobs.drain(cancel=False)
    done = await jobs.get_job(actor, job.id, JobKind.EXPERT_IMPORT)
    assert (done.status, done.result, done.percent, done.done) == (
        JobStatus.DONE,
        {"rows": 100},
        100,
        100,
    )
    assert done.finished_at is not None


async def test_only_the_starter_reads_a_job_and_only_of_its_kind():
    owner, other = await _actor(), await _actor()

    async def work(progress: jobs.Progress) -> None:
        return None

    job = await jobs.start_job(owner, JobKind.POOL_STATISTICS, work)
    await jobs.drain(cancel=False)

    for actor, kind, job_id in [
        (other, JobKind.POOL_STATISTICS, job.id),
        (owner, JobKind.AUDIT_VERIFY, job.id),
        (owner, JobKind.POOL_STATISTICS, "nope"),
        (owner, JobKind.POOL_STATISTICS, "x" * 33),
        (Actor(), JobKind.POOL_STATISTICS, job.id),
    ]:
        with pytest.raises(NotFound):
            await jobs.get_job(actor, job_id, kind)
    assert (await jobs.get_job(owner, job.id, JobKind.POOL_STATISTICS)).status == JobStatus.DONE


async def test_anonymous_cannot_start_a_job_and_nothing_is_stored():
    async def work(progress: jobs.Progress) -> None:
        return None

    with pytest.raises(PermissionDenied):
        await jobs.start_job(Actor(), JobKind.POOL_STATISTICS, work)
    assert await BackgroundJob.all().count() == 0


async def test_running_job_is_reused_or_refused_when_exclusive():
    actor = await _actor()
    release = asyncio.Event()

    async def work(progress: jobs.Progress) -> None:
        await release.wait()

    first = await jobs.start_job(actor, JobKind.POOL_STATISTICS, work)
    again = await jobs.start_job(actor, JobKind.POOL_STATISTICS, work)
    importing = await jobs.start_job(actor, JobKind.EXPERT_IMPORT, work, exclusive=True)
    with pytest.raises(DomainError) as refused:
        await jobs.start_job(actor, JobKind.EXPERT_IMPORT, work, exclusive=True)
    # Another scope (institution) is another queue.
    elsewhere = await jobs.start_job(
        actor, JobKind.EXPERT_IMPORT, work, scope="institution:2", exclusive=True
    )
    release.set()
    await jobs.drain(cancel=False)

    assert again.id == first.id
    assert refused.value.code == ErrorCode.JOB_RUNNING
    assert len({first.id, importing.id, elsewhere.id}) == 3
    assert await BackgroundJob.all().count() == 3


async def test_domain_error_is_stored_with_its_code_and_message():
    actor = await _actor()

    async def work(progress: jobs.Progress) -> None:
        raise DomainError(ErrorCode.REQUIRED, "文件中没有候选人数据", "file")

    job = await jobs.start_job(actor, JobKind.EXPERT_IMPORT, work)
    await jobs.drain(cancel=False)

    stored = await jobs.get_job(actor, job.id, JobKind.EXPERT_IMPORT)
    assert (stored.status, stored.error_code, stored.error_message) == (
        JobStatus.FAILED,
        "REQUIRED",
        "文件中没有候选人数据",
    )


async def test_a_bug_fails_the_job_and_the_log_carries_no_message(caplog):
    """R18 personal data: an exception message may contain an ID number or phone."""
    actor = await _actor()

    personal = {"idNumber": "110101197804120019", "phone": "13512345678"}

    async def work(progress: jobs.Progress) -> None:
        raise ValueError(f"bad input {personal}")

    with caplog.at_level(logging.ERROR, logger="resolvers.jobs"):
        job = await jobs.start_job(actor, JobKind.POOL_STATISTICS, work)
        await jobs.drain(cancel=False)

    stored = await jobs.get_job(actor, job.id, JobKind.POOL_STATISTICS)
    assert (stored.status, stored.error_code, stored.error_message) == (
        JobStatus.FAILED,
        "JOB_FAILED",
        jobs.FAILED,
    )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert job.id in logged and "ValueError" in logged and "test_jobs.py" in logged
    assert "110101197804120019" not in logged and "13512345678" not in logged


async def test_unserialisable_result_fails_the_job_instead_of_leaving_it_running():
    actor = await _actor()

    async def work(progress: jobs.Progress) -> object:
        return {"when": dt.date(2026, 1, 1)}

    job = await jobs.start_job(actor, JobKind.POOL_STATISTICS, work)
    await jobs.drain(cancel=False)

    assert (await _row(job.id)).status == JobStatus.FAILED


async def test_job_of_a_dead_process_is_reported_and_stored_interrupted():
    """Issue 12: the process that ran it stopped (no heartbeat for STALE_AFTER)."""
    actor = await _actor()
    await BackgroundJob.create(
        id="dead-process-job",
        kind=JobKind.EXPERT_IMPORT,
        user_id=actor.user_id,
        phase="写入数据",
        heartbeat_at=utcnow() - jobs.STALE_AFTER - dt.timedelta(seconds=1),
    )

    job = await jobs.get_job(actor, "dead-process-job", JobKind.EXPERT_IMPORT)

    assert (job.status, job.error_code, job.error_message) == (
        JobStatus.FAILED,
        "JOB_INTERRUPTED",
        jobs.INTERRUPTED,
    )
    assert (await _row("dead-process-job")).status == JobStatus.FAILED

    # A live heartbeat is left alone, and a new exclusive job may start after a dead one.
    async def work(progress: jobs.Progress) -> None:
        return None

    assert (await jobs.start_job(actor, JobKind.EXPERT_IMPORT, work, exclusive=True)).running


async def test_shutdown_stores_running_jobs_as_interrupted():
    actor = await _actor()

    async def work(progress: jobs.Progress) -> None:
        await asyncio.Event().wait()

    job = await jobs.start_job(actor, JobKind.AUDIT_VERIFY, work)
    await asyncio.sleep(0)
    await jobs.drain(cancel=True)

    row = await _row(job.id)
    assert (row.status, row.error_code, row.error_message) == (
        JobStatus.FAILED,
        "JOB_INTERRUPTED",
        jobs.STOPPED,
    )


async def test_sweep_forgets_finished_jobs_after_a_day_not_running_ones():
    actor = await _actor()
    old = utcnow() - jobs.KEEP_FINISHED - dt.timedelta(minutes=1)
    common = {"kind": JobKind.EXPERT_IMPORT, "user_id": actor.user_id, "heartbeat_at": utcnow()}
    await BackgroundJob.create(id="old-done", status=JobStatus.DONE, finished_at=old, **common)
    await BackgroundJob.create(id="new-done", status=JobStatus.DONE, finished_at=utcnow(), **common)
    await BackgroundJob.create(id="running", **common)

    report = await sweep.run_sweep()

    assert report.results["过期数据清理"]["background_jobs"] == 1
    assert set(await BackgroundJob.all().values_list("id", flat=True)) == {"new-done", "running"}
