"""Statutory retirement date under the 2025 progressive reform (R5), and date helpers.

Source: 全国人民代表大会常务委员会《关于实施渐进式延迟法定退休年龄的决定》(2024-09-13)
and its annexed tables, in force from 2025-01-01:

| original category      | original age | delay                                  | cap       |
|------------------------|--------------|----------------------------------------|-----------|
| men                    | 60           | +1 month per 4 months, from 2025-01    | 36 months |
| women, original 55     | 55           | +1 month per 4 months, from 2025-01    | 36 months |
| women, original 50     | 50           | +1 month per 2 months, from 2025-01    | 60 months |

The *original* retirement date is the birth date plus the original age. When it falls
before January 2025 nothing changes. Otherwise count the whole months from January 2025
to the original retirement month (January 2025 = 0) and delay by
``min(months // step + 1, cap)`` months: original dates in Jan–Apr 2025 move one month,
May–Aug 2025 two months, and so on (Jan–Feb 2025 one month for women of 50).

The day of month is the birth day, clamped to the last day of the month when that month
is shorter (born on the 31st or on 29 February). Worked examples (SPEC.md R5):

- man 1965-01-15: original 2025-01-15, 0 months in → +1 → 2025-02-15 (60y1m)
- man 1970-06-10: original 2030-06-10, 65 months in → 65 // 4 + 1 = +17 → 2031-11-10
- man 1980-01-01: original 2040-01-01, 180 months in → 46, capped +36 → 2043-01-01
- woman (55) 1972-03-01: original 2027-03-01, 26 months in → +7 → 2027-10-01
- woman (50) 1977-05-20: original 2027-05-20, 28 months in → 28 // 2 + 1 = +15 → 2028-08-20

The reform's voluntary flexible retirement (弹性退休) is a personal choice recorded
nowhere in this system, so it is out of scope: this is the statutory date only.

All functions are pure: same inputs, same output, no clock and no database.
"""

import calendar
import datetime as dt
from dataclasses import dataclass

from models.enums import Gender, RetirementCategory

REFORM_START = dt.date(2025, 1, 1)


@dataclass(frozen=True)
class Schedule:
    """One row of the reform table."""

    original_age_years: int
    months_per_step: int
    max_delay_months: int


SCHEDULES: dict[RetirementCategory, Schedule] = {
    RetirementCategory.MALE_60: Schedule(60, 4, 36),
    RetirementCategory.FEMALE_55: Schedule(55, 4, 36),
    RetirementCategory.FEMALE_50: Schedule(50, 2, 60),
}

_CATEGORIES_BY_GENDER: dict[Gender, frozenset[RetirementCategory]] = {
    Gender.MALE: frozenset({RetirementCategory.MALE_60}),
    Gender.FEMALE: frozenset({RetirementCategory.FEMALE_55, RetirementCategory.FEMALE_50}),
}


def category_matches_gender(gender: Gender, category: RetirementCategory) -> bool:
    """Whether the original retirement category is possible for this gender.

    Services that take both from user input should check this and reject the
    combination with a DomainError before storing it.
    """
    return category in _CATEGORIES_BY_GENDER[Gender(gender)]


def add_months(year: int, month: int, months: int, day: int) -> dt.date:
    """The date ``months`` after (year, month), on ``day`` clamped to that month's end."""
    index = year * 12 + (month - 1) + months
    new_year, new_month0 = divmod(index, 12)
    last_day = calendar.monthrange(new_year, new_month0 + 1)[1]
    return dt.date(new_year, new_month0 + 1, min(day, last_day))


def original_retirement_date(birth_date: dt.date, category: RetirementCategory) -> dt.date:
    """Birth date plus the pre-reform retirement age (29 February clamps to the 28th)."""
    years = SCHEDULES[RetirementCategory(category)].original_age_years
    return add_months(birth_date.year, birth_date.month, years * 12, birth_date.day)


def delay_months(birth_date: dt.date, category: RetirementCategory) -> int:
    """Months the reform adds to the original retirement date (0 before January 2025)."""
    schedule = SCHEDULES[RetirementCategory(category)]
    original = original_retirement_date(birth_date, category)
    months_since_start = (original.year - REFORM_START.year) * 12 + (
        original.month - REFORM_START.month
    )
    if months_since_start < 0:
        return 0
    return min(months_since_start // schedule.months_per_step + 1, schedule.max_delay_months)


def statutory_retirement_date(
    gender: Gender, birth_date: dt.date, category: RetirementCategory
) -> dt.date:
    """The statutory retirement date (R5); see the module docstring for the rule.

    Raises ValueError when the category is impossible for the gender (a man in a
    women's category or the reverse): that is corrupt data, not a date to guess.
    """
    if not category_matches_gender(gender, category):
        raise ValueError(f"retirement category {category} does not apply to gender {gender}")
    original = original_retirement_date(birth_date, category)
    return add_months(
        original.year, original.month, delay_months(birth_date, category), birth_date.day
    )


def anniversary(start: dt.date, years: int) -> dt.date:
    """The day on which ``years`` full years since ``start`` are reached.

    A 29 February start reaches its anniversary on 1 March in common years, so that
    ``years_between(start, d) >= n`` holds exactly when ``d >= anniversary(start, n)``.
    """
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return dt.date(start.year + years, 3, 1)


def years_between(start: dt.date, end: dt.date) -> int:
    """Full years from ``start`` to ``end``; the anniversary itself counts.

    Negative when ``end`` is before ``start``.
    """
    before_anniversary = (end.month, end.day) < (start.month, start.day)
    return end.year - start.year - int(before_anniversary)


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Age in full years (周岁) on ``day``, the birthday counting as the new age."""
    return years_between(birth_date, day)
