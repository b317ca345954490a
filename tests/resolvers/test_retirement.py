"""R5: statutory retirement date under the 2025 progressive reform, and date helpers."""

import datetime as dt

import pytest

from models.enums import Gender, RetirementCategory
from resolvers.retirement import (
    age_on,
    anniversary,
    category_matches_gender,
    delay_months,
    original_retirement_date,
    statutory_retirement_date,
    years_between,
)

D = dt.date
MALE, FEMALE = Gender.MALE, Gender.FEMALE
M60, F55, F50 = (
    RetirementCategory.MALE_60,
    RetirementCategory.FEMALE_55,
    RetirementCategory.FEMALE_50,
)


@pytest.mark.parametrize(
    ("gender", "birth", "category", "expected"),
    [
        (MALE, D(1965, 1, 15), M60, D(2025, 2, 15)),  # 60y1m
        (MALE, D(1970, 6, 10), M60, D(2031, 11, 10)),  # 61y5m
        (MALE, D(1980, 1, 1), M60, D(2043, 1, 1)),  # 63y
        (FEMALE, D(1972, 3, 1), F55, D(2027, 10, 1)),  # 55y7m
        (FEMALE, D(1977, 5, 20), F50, D(2028, 8, 20)),  # 51y3m
    ],
)
def test_statutory_retirement_date_spec_r5_examples(gender, birth, category, expected):
    """R5: the five worked examples of SPEC.md."""
    assert statutory_retirement_date(gender, birth, category) == expected


def test_statutory_retirement_date_r5_male_before_reform_unchanged():
    """R5: an original date in December 2024 is not delayed."""
    assert statutory_retirement_date(MALE, D(1964, 12, 31), M60) == D(2024, 12, 31)


def test_statutory_retirement_date_r5_female55_before_reform_unchanged():
    assert statutory_retirement_date(FEMALE, D(1969, 12, 1), F55) == D(2024, 12, 1)


def test_statutory_retirement_date_r5_female50_before_reform_unchanged():
    assert statutory_retirement_date(FEMALE, D(1974, 12, 5), F50) == D(2024, 12, 5)


@pytest.mark.parametrize(
    ("birth", "expected_delay", "expected"),
    [
        (D(1965, 1, 1), 1, D(2025, 2, 1)),  # Jan 2025 is the first month of the first step
        (D(1965, 4, 30), 1, D(2025, 5, 30)),  # Apr 2025 is the last month of the first step
        (D(1965, 5, 1), 2, D(2025, 7, 1)),  # May 2025 opens the second step
        (D(1965, 8, 9), 2, D(2025, 10, 9)),
        (D(1965, 9, 9), 3, D(2025, 12, 9)),
    ],
)
def test_statutory_retirement_date_r5_male_one_month_per_four(birth, expected_delay, expected):
    """R5: men gain one month for every 4 months of original date from January 2025."""
    assert delay_months(birth, M60) == expected_delay
    assert statutory_retirement_date(MALE, birth, M60) == expected


@pytest.mark.parametrize(
    ("birth", "expected_delay", "expected"),
    [
        (D(1975, 1, 3), 1, D(2025, 2, 3)),
        (D(1975, 2, 3), 1, D(2025, 3, 3)),
        (D(1975, 3, 3), 2, D(2025, 5, 3)),
        (D(1975, 4, 3), 2, D(2025, 6, 3)),
        (D(1975, 5, 3), 3, D(2025, 8, 3)),
    ],
)
def test_statutory_retirement_date_r5_female50_one_month_per_two(birth, expected_delay, expected):
    """R5: women of original age 50 gain one month for every 2 months."""
    assert delay_months(birth, F50) == expected_delay
    assert statutory_retirement_date(FEMALE, birth, F50) == expected


def test_statutory_retirement_date_r5_male_last_month_before_cap():
    """R5: a man born August 1976 is delayed 35 months, one short of the cap."""
    assert delay_months(D(1976, 8, 15), M60) == 35
    assert statutory_retirement_date(MALE, D(1976, 8, 15), M60) == D(2039, 7, 15)


def test_statutory_retirement_date_r5_male_reaches_cap_of_36_months():
    """R5: from September 1976 births men retire at exactly 63."""
    assert delay_months(D(1976, 9, 15), M60) == 36
    assert statutory_retirement_date(MALE, D(1976, 9, 15), M60) == D(2039, 9, 15)
    assert statutory_retirement_date(MALE, D(1976, 12, 3), M60) == D(2039, 12, 3)
    assert statutory_retirement_date(MALE, D(1990, 7, 7), M60) == D(2053, 7, 7)


def test_statutory_retirement_date_r5_female55_reaches_cap_of_36_months():
    """R5: from September 1981 births women of original age 55 retire at exactly 58."""
    assert delay_months(D(1981, 8, 1), F55) == 35
    assert delay_months(D(1981, 9, 1), F55) == 36
    assert statutory_retirement_date(FEMALE, D(1981, 9, 1), F55) == D(2039, 9, 1)
    assert statutory_retirement_date(FEMALE, D(1995, 2, 14), F55) == D(2053, 2, 14)


def test_statutory_retirement_date_r5_female50_reaches_cap_of_60_months():
    """R5: from November 1984 births women of original age 50 retire at exactly 55."""
    assert delay_months(D(1984, 10, 1), F50) == 59
    assert delay_months(D(1984, 11, 1), F50) == 60
    assert statutory_retirement_date(FEMALE, D(1984, 11, 1), F50) == D(2039, 11, 1)
    assert statutory_retirement_date(FEMALE, D(1999, 6, 6), F50) == D(2054, 6, 6)


def test_statutory_retirement_date_r5_clamps_day_31_to_month_end():
    """R5: born on the 31st, retiring in a 28-day February → the 28th."""
    assert statutory_retirement_date(MALE, D(1965, 1, 31), M60) == D(2025, 2, 28)


def test_statutory_retirement_date_r5_clamps_day_31_in_30_day_month():
    assert statutory_retirement_date(MALE, D(1965, 3, 31), M60) == D(2025, 4, 30)


def test_statutory_retirement_date_r5_feb29_birth_before_reform_clamps_to_28th():
    """R5: born 29 February 1968, original date February 2023 (common year) → 28th."""
    assert original_retirement_date(D(1968, 2, 29), F55) == D(2023, 2, 28)
    assert statutory_retirement_date(FEMALE, D(1968, 2, 29), F55) == D(2023, 2, 28)


def test_statutory_retirement_date_r5_feb29_birth_keeps_29th_after_delay():
    """R5: the day of month is the birth day, not the clamped original day.

    Born 1972-02-29 (55): original February 2027 (25 months in → +7) → 2027-09-29.
    """
    assert statutory_retirement_date(FEMALE, D(1972, 2, 29), F55) == D(2027, 9, 29)


def test_statutory_retirement_date_r5_feb29_birth_pre_reform_in_leap_february():
    """R5: born 1964-02-29 retires 2024-02-29 (leap year, before the reform)."""
    assert statutory_retirement_date(MALE, D(1964, 2, 29), M60) == D(2024, 2, 29)


def test_statutory_retirement_date_r5_delay_into_common_february_clamps_man():
    """R5: born 1965-11-30: original 2025-11 (10 months in → +3) → February 2026 → 28th."""
    assert statutory_retirement_date(MALE, D(1965, 11, 30), M60) == D(2026, 2, 28)


def test_statutory_retirement_date_r5_delay_into_common_february_clamps_woman50():
    """R5: born 1976-05-30 (50): original 2026-05 (16 months in → +9) → 2027-02-28."""
    assert statutory_retirement_date(FEMALE, D(1976, 5, 30), F50) == D(2027, 2, 28)


def test_statutory_retirement_date_r5_day_30_kept_where_month_allows():
    """R5: born 1976-04-30 (50): original 2026-04 (15 months in → +8) → 2026-12-30."""
    assert statutory_retirement_date(FEMALE, D(1976, 4, 30), F50) == D(2026, 12, 30)


@pytest.mark.parametrize(
    ("gender", "category"),
    [(MALE, F55), (MALE, F50), (FEMALE, M60)],
)
def test_statutory_retirement_date_r5_rejects_category_of_other_gender(gender, category):
    assert category_matches_gender(gender, category) is False
    with pytest.raises(ValueError, match="does not apply"):
        statutory_retirement_date(gender, D(1970, 1, 1), category)


@pytest.mark.parametrize(
    ("gender", "category"),
    [(MALE, M60), (FEMALE, F55), (FEMALE, F50)],
)
def test_category_matches_gender_r5_valid_pairs(gender, category):
    assert category_matches_gender(gender, category) is True


def test_years_between_counts_the_anniversary():
    start = D(2020, 5, 10)
    assert years_between(start, D(2023, 5, 9)) == 2
    assert years_between(start, D(2023, 5, 10)) == 3
    assert years_between(start, D(2023, 5, 11)) == 3
    assert years_between(start, D(2020, 5, 9)) == -1


def test_years_between_feb29_start_reaches_anniversary_on_march_1():
    start = D(2020, 2, 29)
    assert years_between(start, D(2023, 2, 28)) == 2
    assert years_between(start, D(2023, 3, 1)) == 3
    assert years_between(start, D(2024, 2, 29)) == 4
    assert anniversary(start, 3) == D(2023, 3, 1)
    assert anniversary(start, 4) == D(2024, 2, 29)


def test_age_on_birthday_counts_new_age():
    assert age_on(D(1980, 7, 1), D(2025, 6, 30)) == 44
    assert age_on(D(1980, 7, 1), D(2025, 7, 1)) == 45
