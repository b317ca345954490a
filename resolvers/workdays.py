"""Deadlines counted in Chinese working days (complaint handling limits, Art. 28).

Holidays and make-up working days (调休) come from the `chinese-calendar` package,
which publishes each year's State Council schedule. For a year it does not know yet,
the count falls back to Monday–Friday and says so in the log: the deadline is then
approximate until the package is updated, which the operator is told to do.
"""

import datetime as dt
import functools
import logging

import chinese_calendar

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4096)
def is_workday(day: dt.date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        log.warning("chinese-calendar has no schedule for %s: counting Mon–Fri", day.year)
        return day.weekday() < 5


def add_workdays(start: dt.date, days: int) -> dt.date:
    """The date `days` working days after `start` (the start day itself not counted)."""
    if days < 0:
        raise ValueError("days must be >= 0")
    day = start
    remaining = days
    while remaining:
        day += dt.timedelta(days=1)
        if is_workday(day):
            remaining -= 1
    return day


def workdays_between(start: dt.date, end: dt.date) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start)."""
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        count += is_workday(day)
    return count
