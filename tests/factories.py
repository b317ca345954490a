"""Real objects in the real database, with valid personal data. No mocks."""

import datetime as dt
import itertools

from models import Authority, Expert, Institution, Unit
from models.enums import (
    AuthorityKind,
    EntryRoute,
    ExpertStatus,
    FilingStatus,
    Gender,
    InstitutionKind,
    Level,
    RetirementCategory,
    UnitType,
)
from resolvers.common import beijing_today
from resolvers.personal import (
    credit_code_check,
    id_check_digit,
    protect_id_number,
    protect_phone,
)

_seq = itertools.count(1)


def make_id_number(birth: dt.date, seq: int = 1, *, male: bool = True, area: str = "110101") -> str:
    """A valid GB 11643 number: area, birth date, sequence (odd = male), check digit."""
    order = (seq * 2 + (1 if male else 0)) % 1000
    first17 = f"{area}{birth:%Y%m%d}{order:03d}"
    return first17 + id_check_digit(first17)


def make_credit_code(n: int) -> str:
    first17 = f"12110000{n:09d}"
    return first17 + credit_code_check(first17)


async def authority(kind: AuthorityKind = AuthorityKind.INDUSTRY, **kw) -> Authority:
    n = next(_seq)
    return await Authority.create(name=kw.pop("name", f"主管部门{n}"), kind=kind, **kw)


async def unit(unit_type: UnitType = UnitType.MUNICIPAL, **kw) -> Unit:
    n = next(_seq)
    return await Unit.create(
        name=kw.pop("name", f"北京测试单位{n}"),
        credit_code=kw.pop("credit_code", make_credit_code(n)),
        unit_type=unit_type,
        **kw,
    )


async def institution(status: FilingStatus = FilingStatus.FILED, **kw) -> Institution:
    n = next(_seq)
    today = beijing_today()
    filed = status == FilingStatus.FILED
    return await Institution.create(
        name=kw.pop("name", f"测试评审机构{n}"),
        kind=kw.pop("kind", InstitutionKind.ASSOCIATION),
        status=status,
        filed_at=kw.pop("filed_at", today if filed else None),
        valid_until=kw.pop("valid_until", today.replace(year=today.year + 3) if filed else None),
        **kw,
    )


async def expert(**kw) -> Expert:
    n = next(_seq)
    birth = kw.pop("birth_date", dt.date(1975, 5, 20))
    gender = kw.pop("gender", Gender.MALE)
    idn = make_id_number(birth, n, male=gender == Gender.MALE)
    phone = kw.pop("phone", f"139{n:08d}")
    the_unit = kw.pop("unit", None) or await unit()
    return await Expert.create(
        number=kw.pop("number", f"E{n:07d}"),
        name=kw.pop("name", f"专家{n}"),
        gender=gender,
        birth_date=birth,
        retirement_category=kw.pop(
            "retirement_category",
            RetirementCategory.MALE_60 if gender == Gender.MALE else RetirementCategory.FEMALE_55,
        ),
        unit=the_unit,
        title=kw.pop("title", "教授级高级工程师"),
        title_level=kw.pop("title_level", Level.SENIOR),
        title_obtained_on=kw.pop("title_obtained_on", dt.date(2010, 1, 1)),
        series=kw.pop("series", "工程技术"),
        specialty=kw.pop("specialty", "电子信息"),
        entry_route=kw.pop("entry_route", EntryRoute.RECOMMENDATION),
        status=kw.pop("status", ExpertStatus.IN_POOL),
        **{**protect_id_number(idn), **protect_phone(phone), **kw},
    )
