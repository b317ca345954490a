"""The eligibility engine: pool entry (R4), sitting a level (R9), age exit (R6), terms (R7)."""

import datetime as dt
from dataclasses import replace

import pytest

from models.enums import Gender, Level, RetirementCategory
from resolvers.eligibility import (
    ExpertFacts,
    Reason,
    ReasonCode,
    check_can_sit,
    check_pool_entry,
    may_renew,
    must_exit_for_age,
    term_end,
    term_last_year,
)
from tests import factories

D = dt.date

# Man born 1970-06-10: statutory retirement 2031-11-10 (R5), age limit 2036-11-10 (R6).
BASE = ExpertFacts(
    gender=Gender.MALE,
    birth_date=D(1970, 6, 10),
    retirement_category=RetirementCategory.MALE_60,
    title_level=Level.SENIOR,
    title_obtained_on=D(2010, 1, 1),
)
RETIREMENT = D(2031, 11, 10)
AGE_LIMIT = D(2036, 11, 10)
TODAY = D(2025, 3, 14)


def facts(**changes: object) -> ExpertFacts:
    return replace(BASE, **changes)  # type: ignore[arg-type]


def codes(reasons: list[Reason]) -> list[ReasonCode]:
    return [r.code for r in reasons]


def entry(
    f: ExpertFacts, today: dt.date = TODAY, *, invited: bool = False, exception: bool = False
) -> list[Reason]:
    return check_pool_entry(f, today, invited=invited, urgent_exception_approved=exception)


# --- ExpertFacts ---------------------------------------------------------------------


async def test_expert_facts_from_model_copies_the_relevant_fields():
    expert = await factories.expert(
        gender=Gender.FEMALE,
        birth_date=D(1977, 5, 20),
        retirement_category=RetirementCategory.FEMALE_50,
        title_level=Level.ASSOCIATE_SENIOR,
        title_obtained_on=D(2019, 9, 1),
    )
    f = ExpertFacts.from_model(expert)
    assert f == ExpertFacts(
        gender=Gender.FEMALE,
        birth_date=D(1977, 5, 20),
        retirement_category=RetirementCategory.FEMALE_50,
        title_level=Level.ASSOCIATE_SENIOR,
        title_obtained_on=D(2019, 9, 1),
    )
    assert (f.retirement_date, f.age_limit_date) == (D(2028, 8, 20), D(2033, 8, 20))


def test_expert_facts_dates_r5_r6():
    assert (BASE.retirement_date, BASE.age_limit_date) == (RETIREMENT, AGE_LIMIT)


# --- R4: pool entry ------------------------------------------------------------------


def test_check_pool_entry_r4_senior_title_is_eligible_at_once():
    assert entry(facts(title_level=Level.SENIOR, title_obtained_on=TODAY)) == []


def test_check_pool_entry_r4_associate_senior_on_third_anniversary_is_eligible():
    f = facts(title_level=Level.ASSOCIATE_SENIOR, title_obtained_on=D(2022, 3, 14))
    assert entry(f, D(2025, 3, 14)) == []


def test_check_pool_entry_r4_associate_senior_day_before_third_anniversary():
    f = facts(title_level=Level.ASSOCIATE_SENIOR, title_obtained_on=D(2022, 3, 15))
    assert entry(f, D(2025, 3, 14)) == [
        Reason(
            ReasonCode.TITLE_NOT_HELD_LONG_ENOUGH,
            "副高级职称于2022年3月15日取得，至2025年3月14日满2年，不足3年；2025年3月15日起满3年。",
            "R4",
        )
    ]
    assert entry(f, D(2025, 3, 15)) == []


def test_check_pool_entry_r4_associate_senior_feb29_reaches_three_years_on_march_1():
    f = facts(title_level=Level.ASSOCIATE_SENIOR, title_obtained_on=D(2020, 2, 29))
    assert codes(entry(f, D(2023, 2, 28))) == [ReasonCode.TITLE_NOT_HELD_LONG_ENOUGH]
    assert entry(f, D(2023, 3, 1)) == []


def test_check_pool_entry_r4_intermediate_title_too_low():
    f = facts(title_level=Level.INTERMEDIATE, title_obtained_on=D(2000, 1, 1))
    assert entry(f) == [
        Reason(
            ReasonCode.TITLE_TOO_LOW,
            "现有职称层级为中级；入库专家一般应具有副高级职称3年及以上或正高级职称。",
            "R4",
        )
    ]


@pytest.mark.parametrize("level", [Level.JUNIOR_CLERK, Level.JUNIOR_ASSISTANT])
def test_check_pool_entry_r4_junior_title_too_low(level):
    assert codes(entry(facts(title_level=level))) == [ReasonCode.TITLE_TOO_LOW]


def test_check_pool_entry_r4_title_dated_in_the_future_not_yet_obtained():
    f = facts(title_level=Level.SENIOR, title_obtained_on=D(2025, 6, 1))
    assert entry(f, D(2025, 5, 31)) == [
        Reason(
            ReasonCode.TITLE_NOT_YET_OBTAINED,
            "职称取得日期为2025年6月1日，晚于2025年5月31日，截至当日尚未取得正高级职称。",
            "R4",
        )
    ]


def test_check_pool_entry_r4_urgent_exception_waives_title_conditions():
    f = facts(title_level=Level.INTERMEDIATE, title_obtained_on=D(2024, 1, 1))
    assert codes(entry(f, exception=False)) == [ReasonCode.TITLE_TOO_LOW]
    assert entry(f, exception=True) == []


def test_check_pool_entry_r4_urgent_exception_does_not_waive_retirement():
    f = facts(title_level=Level.INTERMEDIATE)
    later = RETIREMENT + dt.timedelta(days=1)
    assert codes(entry(f, later, exception=True)) == [ReasonCode.PAST_RETIREMENT]


def test_check_pool_entry_r4_on_retirement_day_is_eligible():
    assert entry(BASE, RETIREMENT) == []


def test_check_pool_entry_r4_day_after_retirement_is_past_retirement():
    assert entry(BASE, D(2031, 11, 11)) == [
        Reason(
            ReasonCode.PAST_RETIREMENT,
            "法定退休日期为2031年11月10日，2031年11月11日已超过法定退休年龄；"
            "申请入库年龄一般不超过法定退休年龄（邀请入库除外）。",
            "R4",
        )
    ]


def test_check_pool_entry_r4_invited_may_enter_past_retirement():
    assert entry(BASE, D(2031, 11, 11), invited=True) == []
    assert entry(BASE, AGE_LIMIT, invited=True) == []


def test_check_pool_entry_r4_r6_invited_past_age_limit_is_refused():
    """R4 + R6: an invitation cannot bring in someone the age sweep would exit at once."""
    assert codes(entry(BASE, D(2036, 11, 11), invited=True)) == [ReasonCode.PAST_AGE_LIMIT]


def test_check_pool_entry_r4_reports_every_failed_condition():
    f = facts(title_level=Level.ASSOCIATE_SENIOR, title_obtained_on=D(2030, 1, 1))
    assert codes(entry(f, D(2031, 12, 1))) == [
        ReasonCode.TITLE_NOT_HELD_LONG_ENOUGH,
        ReasonCode.PAST_RETIREMENT,
    ]


# --- R9: may sit for a committee's level ---------------------------------------------

_BELOW_SENIOR = [
    Level.JUNIOR_CLERK,
    Level.JUNIOR_ASSISTANT,
    Level.INTERMEDIATE,
    Level.ASSOCIATE_SENIOR,
]


@pytest.mark.parametrize("committee", _BELOW_SENIOR)
@pytest.mark.parametrize("own", list(Level))
def test_check_can_sit_r9_own_level_at_or_above_committee_level(own, committee):
    f = facts(title_level=own, title_obtained_on=D(2024, 12, 1))
    at_or_above = list(Level).index(own) >= list(Level).index(committee)
    expected = [] if at_or_above else [ReasonCode.LEVEL_ABOVE_OWN_TITLE]
    assert codes(check_can_sit(f, committee, TODAY)) == expected


def test_check_can_sit_r9_level_above_own_title_message():
    f = facts(title_level=Level.INTERMEDIATE)
    assert check_can_sit(f, Level.ASSOCIATE_SENIOR, TODAY) == [
        Reason(
            ReasonCode.LEVEL_ABOVE_OWN_TITLE,
            "评委会评审层级为副高级，高于本人职称层级中级；专家只能评审本人职称层级及以下的申报人。",
            "R9",
        )
    ]


def test_check_can_sit_r9_senior_committee_needs_senior_title():
    f = facts(title_level=Level.ASSOCIATE_SENIOR, title_obtained_on=D(2000, 1, 1))
    assert check_can_sit(f, Level.SENIOR, TODAY) == [
        Reason(
            ReasonCode.SENIOR_TITLE_REQUIRED,
            "正高级评委会的评审专家需具有正高级职称3年及以上；本人职称层级为副高级。",
            "R9",
        )
    ]


def test_check_can_sit_r4_r9_senior_title_day_before_third_anniversary():
    f = facts(title_level=Level.SENIOR, title_obtained_on=D(2022, 3, 15))
    assert check_can_sit(f, Level.SENIOR, D(2025, 3, 14)) == [
        Reason(
            ReasonCode.SENIOR_TITLE_NOT_HELD_LONG_ENOUGH,
            "正高级职称于2022年3月15日取得，至2025年3月14日满2年，不足3年；"
            "2025年3月15日起可评审正高级。",
            "R9",
        )
    ]


def test_check_can_sit_r4_r9_senior_title_on_third_anniversary():
    f = facts(title_level=Level.SENIOR, title_obtained_on=D(2022, 3, 15))
    assert check_can_sit(f, Level.SENIOR, D(2025, 3, 15)) == []


def test_check_can_sit_r9_new_senior_title_may_sit_below_senior():
    f = facts(title_level=Level.SENIOR, title_obtained_on=D(2025, 3, 14))
    assert check_can_sit(f, Level.ASSOCIATE_SENIOR, D(2025, 3, 14)) == []


def test_check_can_sit_r9_title_not_yet_obtained():
    f = facts(title_level=Level.SENIOR, title_obtained_on=D(2025, 3, 15))
    assert codes(check_can_sit(f, Level.INTERMEDIATE, D(2025, 3, 14))) == [
        ReasonCode.TITLE_NOT_YET_OBTAINED
    ]


def test_check_can_sit_r6_past_retirement_within_five_years_may_sit():
    assert check_can_sit(BASE, Level.SENIOR, D(2031, 11, 11)) == []


def test_check_can_sit_r6_exactly_five_years_past_retirement_may_sit():
    assert check_can_sit(BASE, Level.SENIOR, AGE_LIMIT) == []


def test_check_can_sit_r6_one_day_more_than_five_years_past():
    assert check_can_sit(BASE, Level.SENIOR, D(2036, 11, 11)) == [
        Reason(
            ReasonCode.PAST_AGE_LIMIT,
            "法定退休日期为2031年11月10日，超过退休年龄5年的专家应退出专家库；"
            "可留库至2036年11月10日，2036年11月11日已超过该期限。",
            "R6",
        )
    ]


def test_check_can_sit_r6_r9_reports_title_and_age_together():
    f = facts(title_level=Level.INTERMEDIATE)
    assert codes(check_can_sit(f, Level.ASSOCIATE_SENIOR, D(2040, 1, 1))) == [
        ReasonCode.LEVEL_ABOVE_OWN_TITLE,
        ReasonCode.PAST_AGE_LIMIT,
    ]


# --- R6: exit for age ----------------------------------------------------------------


def test_must_exit_for_age_r6_boundary():
    assert must_exit_for_age(BASE, RETIREMENT) is False
    assert must_exit_for_age(BASE, AGE_LIMIT) is False
    assert must_exit_for_age(BASE, D(2036, 11, 11)) is True


def test_must_exit_for_age_r6_retirement_on_feb29():
    """R5 + R6: born 1967-06-29 (man): original 2027-06 (29 months in → +8) → 2028-02-29;
    the fifth anniversary of a 29 February falls on 1 March 2033."""
    f = facts(birth_date=D(1967, 6, 29))
    assert (f.retirement_date, f.age_limit_date) == (D(2028, 2, 29), D(2033, 3, 1))
    assert must_exit_for_age(f, D(2033, 3, 1)) is False
    assert must_exit_for_age(f, D(2033, 3, 2)) is True


# --- R7: terms -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (D(2024, 7, 1), D(2027, 6, 30)),
        (D(2025, 1, 1), D(2027, 12, 31)),
        (D(2024, 3, 1), D(2027, 2, 28)),
        (D(2024, 2, 29), D(2027, 2, 28)),
        (D(2025, 2, 28), D(2028, 2, 27)),
    ],
)
def test_term_end_r7_day_before_third_anniversary(start, end):
    assert term_end(start) == end


def test_term_end_r7_consecutive_terms_leave_no_gap():
    first = D(2024, 2, 29)
    second = term_end(first) + dt.timedelta(days=1)
    third = term_end(second) + dt.timedelta(days=1)
    assert (second, third, term_end(third)) == (D(2027, 3, 1), D(2030, 3, 1), D(2033, 2, 28))


def test_term_last_year_r7():
    assert term_last_year(D(2024, 7, 1)) == (D(2026, 7, 1), D(2027, 6, 30))


@pytest.mark.parametrize("term_number", [1, 2])
def test_may_renew_r7_passed_assessment_renews(term_number):
    assert may_renew(term_number, True, False) == []


def test_may_renew_r7_without_passed_assessment():
    assert may_renew(2, False, False) == [
        Reason(
            ReasonCode.NO_PASSED_ASSESSMENT,
            "第2届聘期最后一年没有考核合格记录；聘期考核合格方可续聘。",
            "R7",
        )
    ]


def test_may_renew_r7_fourth_term_needs_exception():
    assert may_renew(3, True, False) == [
        Reason(
            ReasonCode.TERM_LIMIT_REACHED,
            "已聘任3届，每届3年，原则上不超过3届；续聘第4届须经市人力资源社会保障局批准例外并记录理由。",
            "R7",
        )
    ]


def test_may_renew_r7_fourth_term_with_exception():
    assert may_renew(3, True, True) == []


def test_may_renew_r7_fifth_term_also_needs_exception():
    assert codes(may_renew(4, True, False)) == [ReasonCode.TERM_LIMIT_REACHED]
    assert may_renew(4, True, True) == []


def test_may_renew_r7_reports_both_reasons():
    assert codes(may_renew(3, False, False)) == [
        ReasonCode.NO_PASSED_ASSESSMENT,
        ReasonCode.TERM_LIMIT_REACHED,
    ]


def test_may_renew_r7_rejects_term_number_below_one():
    with pytest.raises(ValueError, match="start at 1"):
        may_renew(0, True, False)


# --- coverage of the vocabulary ------------------------------------------------------


def test_every_reason_code_is_produced_by_the_engine():
    """Issue 6: every eligibility reason has a scenario that produces it."""
    produced = {
        *codes(entry(facts(title_level=Level.INTERMEDIATE))),
        *codes(entry(facts(title_level=Level.ASSOCIATE_SENIOR, title_obtained_on=TODAY))),
        *codes(entry(facts(title_obtained_on=D(2030, 1, 1)))),
        *codes(entry(BASE, D(2032, 1, 1))),
        *codes(entry(BASE, D(2037, 1, 1), invited=True)),
        *codes(check_can_sit(facts(title_level=Level.INTERMEDIATE), Level.ASSOCIATE_SENIOR, TODAY)),
        *codes(check_can_sit(facts(title_level=Level.ASSOCIATE_SENIOR), Level.SENIOR, TODAY)),
        *codes(check_can_sit(facts(title_obtained_on=D(2024, 1, 1)), Level.SENIOR, TODAY)),
        *codes(may_renew(3, False, False)),
    }
    assert produced == set(ReasonCode)
