"""`pingshen sweep`: the daily job runs each step once, and only one run at a time."""

import datetime as dt

from models import AuditEvent, Institution
from models.enums import FilingStatus
from resolvers import sweep
from tests import factories

TODAY = dt.date(2026, 11, 27)


async def test_run_sweep_expires_a_filing_past_its_end_r1():
    old = await factories.institution(
        filed_at=dt.date(2023, 11, 26), valid_until=dt.date(2026, 11, 26)
    )
    current = await factories.institution(
        filed_at=dt.date(2023, 11, 27), valid_until=dt.date(2026, 11, 27)
    )
    report = await sweep.run_sweep(today=TODAY)
    assert report.skipped is False
    assert report.results["备案到期"]["institutions"] == 1
    assert (await Institution.get(id=old.id)).status == FilingStatus.EXPIRED
    assert (await Institution.get(id=current.id)).status == FilingStatus.FILED
    assert list(report.results) == [name for name, _ in sweep._steps()]


async def test_run_sweep_twice_changes_nothing_the_second_time():
    await factories.institution(filed_at=dt.date(2023, 1, 1), valid_until=dt.date(2026, 1, 1))
    await sweep.run_sweep(today=TODAY)
    events = await AuditEvent.all().count()
    second = await sweep.run_sweep(today=TODAY)
    assert second.results["备案到期"] == {"institutions": 0, "committees": 0}
    assert await AuditEvent.all().count() == events


async def test_run_sweep_skips_while_another_run_holds_the_lock():
    await factories.institution(filed_at=dt.date(2023, 1, 1), valid_until=dt.date(2026, 1, 1))
    async with sweep._exclusive() as got:
        assert got is True
        report = await sweep.run_sweep(today=TODAY)
    assert (report.skipped, report.results) == (True, {})
    assert await Institution.filter(status=FilingStatus.EXPIRED).count() == 0
    assert report.lines() == [f"{TODAY}:另一个 sweep 正在运行,本次跳过"]
