"""Complaint deadlines in Chinese working days (Art. 28; issue 8 item 6)."""

import datetime as dt

from resolvers.workdays import add_workdays, is_workday, workdays_between


def test_add_workdays_skips_national_day_holiday_2026():
    # 2026-09-30 (Wed) + 3 working days: Oct 1–7 are the National Day holiday and
    # Oct 10 (Saturday) is a make-up working day, so: Oct 8, Oct 9, Oct 10.
    assert add_workdays(dt.date(2026, 9, 30), 3) == dt.date(2026, 10, 10)


def test_add_workdays_counts_make_up_saturday():
    assert is_workday(dt.date(2026, 10, 10)) is True  # Saturday, 调休上班
    assert is_workday(dt.date(2026, 10, 3)) is False  # holiday
    assert add_workdays(dt.date(2026, 10, 9), 1) == dt.date(2026, 10, 10)


def test_add_workdays_ordinary_weekend():
    # 2026-11-20 is a Friday: one working day later is Monday the 23rd.
    assert add_workdays(dt.date(2026, 11, 20), 1) == dt.date(2026, 11, 23)
    assert add_workdays(dt.date(2026, 11, 20), 0) == dt.date(2026, 11, 20)


def test_workdays_between_across_holiday():
    assert workdays_between(dt.date(2026, 9, 30), dt.date(2026, 10, 10)) == 3
    assert workdays_between(dt.date(2026, 10, 10), dt.date(2026, 9, 30)) == 0


def test_year_without_schedule_falls_back_to_weekdays():
    # 2099-01-05 is a Monday; the package has no schedule for 2099.
    assert add_workdays(dt.date(2099, 1, 2), 1) == dt.date(2099, 1, 5)
