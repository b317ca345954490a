"""Expert eligibility engine: pool entry (R4), sitting a level (R9), age exit (R6), terms (R7).

Every check is a pure function of an expert's facts and an explicit ``today`` and
returns a list of named reasons; an empty list means "eligible". Each reason carries a
stable code for clients to branch on and a Chinese message that tells the candidate
exactly which condition failed, with the dates and years involved, so the same engine
serves the entry review, the draw (R10) and the age sweep.

Date conventions (shared with resolvers/retirement.py):

- "held N years" / "N years past" count full years, the anniversary counting
  (``years_between``); a 29 February date reaches its anniversary on 1 March.
- Past the retirement date means strictly after it: on the retirement day itself the
  expert has reached, not exceeded, the statutory age (Art. 16(五) "不超过").
- More than 5 years past (R6, Art. 22(三)) means strictly after the fifth anniversary
  of the retirement date.
- A term runs from its start date to the day before the third anniversary, both
  inclusive, so the next term starts on the anniversary and no day belongs to two terms.
"""

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from models.enums import LEVEL_LABELS, LEVEL_RANK, Gender, Level, RetirementCategory
from resolvers.retirement import anniversary, statutory_retirement_date, years_between

if TYPE_CHECKING:
    from models.expert import Expert

TITLE_YEARS_REQUIRED = (
    3  # Art. 16(四): 副高级 3 years for the pool, 正高级 3 years for 正高级 committees
)
AGE_LIMIT_YEARS = 5  # Art. 22(三): 超过退休年龄5年
TERM_YEARS = 3  # Art. 19: 每届聘期3年
MAX_TERMS = 3  # Art. 19: 原则上不超过3届


class ReasonCode(StrEnum):
    """Stable codes of the reasons an expert is not eligible."""

    TITLE_NOT_YET_OBTAINED = "TITLE_NOT_YET_OBTAINED"
    TITLE_TOO_LOW = "TITLE_TOO_LOW"
    TITLE_NOT_HELD_LONG_ENOUGH = "TITLE_NOT_HELD_LONG_ENOUGH"
    SENIOR_TITLE_REQUIRED = "SENIOR_TITLE_REQUIRED"
    SENIOR_TITLE_NOT_HELD_LONG_ENOUGH = "SENIOR_TITLE_NOT_HELD_LONG_ENOUGH"
    PAST_RETIREMENT = "PAST_RETIREMENT"
    PAST_AGE_LIMIT = "PAST_AGE_LIMIT"
    LEVEL_ABOVE_OWN_TITLE = "LEVEL_ABOVE_OWN_TITLE"
    TERM_LIMIT_REACHED = "TERM_LIMIT_REACHED"
    NO_PASSED_ASSESSMENT = "NO_PASSED_ASSESSMENT"


@dataclass(frozen=True)
class Reason:
    """One failed condition: ``code`` for machines, ``message`` for the person, ``rule`` cited."""

    code: ReasonCode
    message: str
    rule: str


@dataclass(frozen=True)
class ExpertFacts:
    """The facts about an expert that eligibility depends on, detached from the ORM."""

    gender: Gender
    birth_date: dt.date
    retirement_category: RetirementCategory
    title_level: Level
    title_obtained_on: dt.date

    @classmethod
    def from_model(cls, expert: "Expert") -> "ExpertFacts":
        return cls(
            gender=Gender(expert.gender),
            birth_date=expert.birth_date,
            retirement_category=RetirementCategory(expert.retirement_category),
            title_level=Level(expert.title_level),
            title_obtained_on=expert.title_obtained_on,
        )

    @property
    def retirement_date(self) -> dt.date:
        return statutory_retirement_date(self.gender, self.birth_date, self.retirement_category)

    @property
    def age_limit_date(self) -> dt.date:
        """Last day in the pool (R6): the fifth anniversary of the retirement date."""
        return anniversary(self.retirement_date, AGE_LIMIT_YEARS)


def _d(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _level(level: Level) -> str:
    return LEVEL_LABELS[level]


def _title_not_yet_obtained(facts: ExpertFacts, today: dt.date) -> Reason:
    return Reason(
        ReasonCode.TITLE_NOT_YET_OBTAINED,
        f"职称取得日期为{_d(facts.title_obtained_on)}，晚于{_d(today)}，"
        f"截至当日尚未取得{_level(facts.title_level)}职称。",
        "R4",
    )


def _past_retirement(facts: ExpertFacts, today: dt.date) -> Reason:
    return Reason(
        ReasonCode.PAST_RETIREMENT,
        f"法定退休日期为{_d(facts.retirement_date)}，{_d(today)}已超过法定退休年龄；"
        f"申请入库年龄一般不超过法定退休年龄（邀请入库除外）。",
        "R4",
    )


def _past_age_limit(facts: ExpertFacts, today: dt.date) -> Reason:
    return Reason(
        ReasonCode.PAST_AGE_LIMIT,
        f"法定退休日期为{_d(facts.retirement_date)}，超过退休年龄5年的专家应退出专家库；"
        f"可留库至{_d(facts.age_limit_date)}，{_d(today)}已超过该期限。",
        "R6",
    )


def must_exit_for_age(facts: ExpertFacts, today: dt.date) -> bool:
    """R6: more than 5 years past the statutory retirement date (Art. 22(三))."""
    return today > facts.age_limit_date


def check_pool_entry(
    facts: ExpertFacts,
    today: dt.date,
    *,
    invited: bool,
    urgent_exception_approved: bool,
) -> list[Reason]:
    """R4 (Art. 16(四)(五)): may this person enter the pool on ``today``?

    - Title: 正高级, or 副高级 held at least 3 full years. An urgently needed specialty
      exception approved by the bureau waives the title conditions; recording the
      exception's reason is the entry service's job (ExpertApplication.exception_reason).
    - Age: not past the statutory retirement date, unless invited by the bureau. An
      invited expert more than 5 years past it is refused all the same, since R6 would
      exit them on the next sweep.
    """
    reasons: list[Reason] = []
    if not urgent_exception_approved:
        reasons.extend(_pool_title_reasons(facts, today))
    if invited:
        if must_exit_for_age(facts, today):
            reasons.append(_past_age_limit(facts, today))
    elif today > facts.retirement_date:
        reasons.append(_past_retirement(facts, today))
    return reasons


def _pool_title_reasons(facts: ExpertFacts, today: dt.date) -> list[Reason]:
    if facts.title_obtained_on > today:
        return [_title_not_yet_obtained(facts, today)]
    if facts.title_level == Level.SENIOR:
        return []
    if facts.title_level != Level.ASSOCIATE_SENIOR:
        return [
            Reason(
                ReasonCode.TITLE_TOO_LOW,
                f"现有职称层级为{_level(facts.title_level)}；入库专家一般应具有副高级职称"
                f"{TITLE_YEARS_REQUIRED}年及以上或正高级职称。",
                "R4",
            )
        ]
    held = years_between(facts.title_obtained_on, today)
    if held < TITLE_YEARS_REQUIRED:
        reached = anniversary(facts.title_obtained_on, TITLE_YEARS_REQUIRED)
        return [
            Reason(
                ReasonCode.TITLE_NOT_HELD_LONG_ENOUGH,
                f"副高级职称于{_d(facts.title_obtained_on)}取得，至{_d(today)}满{held}年，"
                f"不足{TITLE_YEARS_REQUIRED}年；{_d(reached)}起满{TITLE_YEARS_REQUIRED}年。",
                "R4",
            )
        ]
    return []


def check_can_sit(facts: ExpertFacts, committee_level: Level, today: dt.date) -> list[Reason]:
    """R9 with R4's senior rule and R6: may this expert evaluate at ``committee_level``?

    - The expert's own title level must be at or above the committee's level.
    - A 正高级 committee needs a 正高级 title held at least 3 full years (this is the
      more specific reason, so it replaces LEVEL_ABOVE_OWN_TITLE there).
    - Not more than 5 years past the statutory retirement date.
    """
    reasons: list[Reason] = []
    if facts.title_obtained_on > today:
        reasons.append(_title_not_yet_obtained(facts, today))
    elif Level(committee_level) == Level.SENIOR:
        reasons.extend(_senior_committee_reasons(facts, today))
    elif LEVEL_RANK[facts.title_level] < LEVEL_RANK[Level(committee_level)]:
        reasons.append(
            Reason(
                ReasonCode.LEVEL_ABOVE_OWN_TITLE,
                f"评委会评审层级为{_level(committee_level)}，高于本人职称层级"
                f"{_level(facts.title_level)}；专家只能评审本人职称层级及以下的申报人。",
                "R9",
            )
        )
    if must_exit_for_age(facts, today):
        reasons.append(_past_age_limit(facts, today))
    return reasons


def _senior_committee_reasons(facts: ExpertFacts, today: dt.date) -> list[Reason]:
    if facts.title_level != Level.SENIOR:
        return [
            Reason(
                ReasonCode.SENIOR_TITLE_REQUIRED,
                f"正高级评委会的评审专家需具有正高级职称{TITLE_YEARS_REQUIRED}年及以上；"
                f"本人职称层级为{_level(facts.title_level)}。",
                "R9",
            )
        ]
    held = years_between(facts.title_obtained_on, today)
    if held < TITLE_YEARS_REQUIRED:
        reached = anniversary(facts.title_obtained_on, TITLE_YEARS_REQUIRED)
        return [
            Reason(
                ReasonCode.SENIOR_TITLE_NOT_HELD_LONG_ENOUGH,
                f"正高级职称于{_d(facts.title_obtained_on)}取得，至{_d(today)}满{held}年，"
                f"不足{TITLE_YEARS_REQUIRED}年；{_d(reached)}起可评审正高级。",
                "R9",
            )
        ]
    return []


def term_end(start: dt.date) -> dt.date:
    """R7: last day of a term starting on ``start`` (the day before the third anniversary)."""
    return anniversary(start, TERM_YEARS) - dt.timedelta(days=1)


def term_last_year(start: dt.date) -> tuple[dt.date, dt.date]:
    """R7: first and last day of a term's final year, where the renewing assessment falls."""
    return anniversary(start, TERM_YEARS - 1), term_end(start)


def may_renew(
    term_number: int, has_passed_assessment_in_last_year: bool, has_exception: bool
) -> list[Reason]:
    """R7 (Art. 19): may the term numbered ``term_number`` (1-based) be followed by another?

    Renewal needs a passed assessment in the term's last year; a term after the third
    needs a bureau exception as well.
    """
    if term_number < 1:
        raise ValueError(f"term numbers start at 1, got {term_number}")
    reasons: list[Reason] = []
    if not has_passed_assessment_in_last_year:
        reasons.append(
            Reason(
                ReasonCode.NO_PASSED_ASSESSMENT,
                f"第{term_number}届聘期最后一年没有考核合格记录；聘期考核合格方可续聘。",
                "R7",
            )
        )
    if term_number >= MAX_TERMS and not has_exception:
        reasons.append(
            Reason(
                ReasonCode.TERM_LIMIT_REACHED,
                f"已聘任{term_number}届，每届{TERM_YEARS}年，原则上不超过{MAX_TERMS}届；"
                f"续聘第{term_number + 1}届须经市人力资源社会保障局批准例外并记录理由。",
                "R7",
            )
        )
    return reasons
