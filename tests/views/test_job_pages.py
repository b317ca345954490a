"""Pages of long operations (issue 9 item 5): the Excel import and the whole-pool
statistics answer at once with progress, poll with htmx or refresh without JS, and
show the result when the background job ends; a job is its starter's alone."""

import asyncio
import datetime as dt

import httpx

from models import AuditEvent, ExpertApplication, User
from models.account import BackgroundJob
from models.enums import JobKind, JobStatus, Role
from resolvers import jobs
from tests.views.test_expert_pages import ORIGIN, _login, _row, _world, _xlsx

HTMX = {"HX-Request": "true"}


async def _job_id(url: str) -> str:
    return url.rsplit("job=", 1)[1]


async def test_statistics_answers_at_once_with_progress_then_shows_the_result(client):
    """The page never waits for the counting: it shows the job, polls it (htmx) or
    refreshes itself (noscript), and a fresh result is shown without a new count."""
    await _world()
    await _login(client, Role.BUREAU)

    first = await client.get("/experts/statistics")
    job = await BackgroundJob.get()
    poll = f"/experts/statistics?job={job.id}"

    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    assert 'data-job-status="running"' in first.text
    assert f'hx-get="{poll}" hx-trigger="every 1s"' in first.text
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in first.text
    await jobs.drain(cancel=False)
    fragment = await client.get(poll, headers=HTMX)
    again = await client.get("/experts/statistics")

    assert fragment.text.lstrip().startswith('<section id="stats-job"')
    assert "<html" not in fragment.text and "hx-trigger" not in fragment.text
    assert "在库专家 0 人" in fragment.text and "重新统计" in fragment.text
    assert "http-equiv" not in again.text and "在库专家 0 人" in again.text
    assert await BackgroundJob.all().count() == 1  # the fresh result was reused


async def test_statistics_restart_needs_csrf_and_starts_a_new_count(client):
    await _world()
    csrf = await _login(client, Role.BUREAU)
    await client.get("/experts/statistics")
    await jobs.drain(cancel=False)

    refused = await client.post("/experts/statistics")
    assert (refused.status_code, await BackgroundJob.all().count()) == (403, 1)
    restarted = await client.post("/experts/statistics", data={"csrf_token": csrf})
    swapped = await client.post("/experts/statistics", data={"csrf_token": csrf}, headers=HTMX)
    await jobs.drain(cancel=False)

    assert restarted.status_code == 303
    new_id = await _job_id(restarted.headers["location"])
    # A second click while that count runs gets the same job, not another count.
    assert swapped.headers["HX-Push-Url"] == f"/experts/statistics?job={new_id}"
    assert swapped.text.lstrip().startswith('<section id="stats-job"')
    assert await BackgroundJob.filter(status=JobStatus.DONE).count() == 2


async def test_another_user_gets_404_for_a_job_and_roles_without_statistics_403(client, asgi_app):
    w = await _world()
    await _login(client, Role.BUREAU)
    started = await client.get("/experts/statistics")
    assert started.status_code == 200
    job = await BackgroundJob.get()
    await jobs.drain(cancel=False)
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as other:
        await _login(other, Role.BUREAU)
        foreign = await other.get(f"/experts/statistics?job={job.id}")
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as staff:
        await _login(staff, Role.INSTITUTION, w.home.id)
        foreign_import = await staff.get(f"/institution/experts/import?job={job.id}")
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as supervisor:
        await _login(supervisor, Role.SUPERVISOR)
        denied = await supervisor.get("/experts/statistics")

    assert (foreign.status_code, foreign_import.status_code, denied.status_code) == (
        404,
        404,
        403,
    )
    assert await BackgroundJob.all().count() == 1  # the refused requests started nothing


async def test_import_runs_in_the_background_and_the_report_follows(client):
    w = await _world()
    csrf = await _login(client, Role.INSTITUTION, w.home.id)

    response = await client.post(
        "/institution/experts/import",
        data={"csrf_token": csrf, "mode": "good_rows"},
        files={"file": ("c.xlsx", _xlsx([_row(w), _row(w)]), "application/octet-stream")},
    )

    assert response.status_code == 303
    job_id = await _job_id(response.headers["location"])
    await jobs.drain(cancel=False)
    page = await client.get(response.headers["location"])
    fragment = await client.get(response.headers["location"], headers=HTMX)
    assert "共 2 行,导入 2 行,0 行有误" in page.text
    assert fragment.text.lstrip().startswith('<section id="import-job"')
    assert await ExpertApplication.filter(institution_id=w.home.id).count() == 2
    assert await AuditEvent.filter(action="expert.import").count() == 1
    job = await BackgroundJob.get(id=job_id)
    assert (job.kind, job.status, job.done, job.total) == (
        JobKind.EXPERT_IMPORT,
        JobStatus.DONE,
        2,
        2,
    )


async def test_import_of_an_unreadable_file_shows_the_error_next_to_the_file_input(client):
    w = await _world()
    csrf = await _login(client, Role.INSTITUTION, w.home.id)

    response = await client.post(
        "/institution/experts/import",
        data={"csrf_token": csrf, "mode": "all_or_nothing"},
        files={"file": ("c.xlsx", _xlsx([]), "application/octet-stream")},
    )
    await jobs.drain(cancel=False)
    page = await client.get(response.headers["location"])

    assert 'id="import-file-error" data-code="REQUIRED"' in page.text
    assert "文件中没有候选人数据" in page.text
    assert await ExpertApplication.all().count() == 0


async def test_second_import_while_one_runs_is_refused_and_changes_nothing(client, monkeypatch):
    w = await _world()
    csrf = await _login(client, Role.INSTITUTION, w.home.id)
    release = asyncio.Event()
    from resolvers import expert_io

    real = expert_io.import_candidates

    async def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        await release.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(expert_io, "import_candidates", slow)
    upload = {"file": ("c.xlsx", _xlsx([_row(w)]), "application/octet-stream")}

    first = await client.post(
        "/institution/experts/import", data={"csrf_token": csrf}, files=upload
    )
    running = await client.get(first.headers["location"])
    second = await client.post(
        "/institution/experts/import", data={"csrf_token": csrf}, files=upload
    )

    assert first.status_code == 303 and 'data-job-status="running"' in running.text
    assert second.status_code == 422 and 'data-code="JOB_RUNNING"' in second.text
    assert await BackgroundJob.all().count() == 1
    release.set()
    await jobs.drain(cancel=False)
    assert await ExpertApplication.all().count() == 1


async def test_interrupted_import_says_so_and_imported_nothing(client):
    """The process died mid-import: the transaction never committed, the page says
    the job was interrupted instead of polling forever."""
    w = await _world()
    await _login(client, Role.INSTITUTION, w.home.id)
    me = await User.filter(username__startswith="page").order_by("-id").first()
    assert me is not None and await BackgroundJob.all().count() == 0
    await BackgroundJob.create(
        id="died",
        kind=JobKind.EXPERT_IMPORT,
        user_id=me.id,
        scope=f"institution:{w.home.id}",
        phase="写入数据",
        heartbeat_at=dt.datetime.now(dt.UTC) - jobs.STALE_AFTER * 2,
    )

    page = await client.get("/institution/experts/import?job=died")

    assert 'data-code="JOB_INTERRUPTED"' in page.text
    assert "hx-trigger" not in page.text.split('id="import-job"', 1)[1].split(">", 1)[0]
    assert await ExpertApplication.all().count() == 0
