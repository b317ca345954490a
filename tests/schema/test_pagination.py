"""Keyset connections: every row exactly once while rows are inserted between pages,
forwards and backwards; page size 1..100 with a clear BAD_USER_INPUT error."""

import datetime as dt
from typing import Any

import pytest

from models import Institution
from models.enums import FilingStatus
from resolvers.directory import MAX_PAGE_SIZE
from tests import factories
from tests.schema.conftest import BUREAU, codes, committee, data, gql, plan

PAGE = """
query($first: Int, $after: String, $last: Int, $before: String, $order: InstitutionOrderBy!) {
  institutions(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    edges { cursor node { name } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def _page(**variables: Any) -> dict[str, Any]:
    variables.setdefault("order", "NAME_ASC")
    return data(await gql(PAGE, variables, actor=BUREAU))["institutions"]


def _names(page: dict[str, Any]) -> list[str]:
    return [e["node"]["name"] for e in page["edges"]]


async def _named(*names: str) -> None:
    for name in names:
        await factories.institution(name=name)


async def test_forward_paging_returns_every_row_once_while_rows_are_inserted():
    await _named(*(f"机构{i:02d}" for i in range(0, 20, 2)))  # 机构00, 02, … 18
    seen: list[str] = []
    after = None
    inserted = iter(["机构01", "机构05", "机构11", "机构19", "机构99"])
    while True:
        page = await _page(first=3, after=after)
        seen += _names(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        # One row before the cursor (never shown), one after it (shown once).
        await _named(next(inserted, "机构50"))
    originals = [f"机构{i:02d}" for i in range(0, 20, 2)]
    assert [n for n in seen if n in originals] == originals
    assert len(seen) == len(set(seen))
    assert seen == sorted(seen)


async def test_backward_paging_returns_every_row_once_while_rows_are_inserted():
    await _named(*(f"机构{i:02d}" for i in range(0, 20, 2)))
    seen: list[str] = []
    before = None
    inserted = iter(["机构17", "机构13", "机构03", "机构00A", "机构-1"])
    while True:
        page = await _page(last=3, before=before)
        seen = _names(page) + seen
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
        await _named(next(inserted))
    originals = [f"机构{i:02d}" for i in range(0, 20, 2)]
    assert [n for n in seen if n in originals] == originals
    assert len(seen) == len(set(seen))
    assert seen == sorted(seen)


async def test_page_info_forward_and_backward():
    await _named("甲", "乙", "丙")  # sorted by code point: 丙 < 乙 < 甲
    first = await _page(first=2)
    assert (_names(first), first["pageInfo"]["hasNextPage"]) == (["丙", "乙"], True)
    assert first["pageInfo"]["hasPreviousPage"] is False
    rest = await _page(first=2, after=first["pageInfo"]["endCursor"])
    assert (_names(rest), rest["pageInfo"]["hasNextPage"]) == (["甲"], False)
    assert rest["pageInfo"]["hasPreviousPage"] is True
    back = await _page(last=2, before=rest["pageInfo"]["startCursor"])
    assert (_names(back), back["pageInfo"]["hasPreviousPage"]) == (["丙", "乙"], False)
    assert back["pageInfo"]["hasNextPage"] is True


async def test_descending_datetime_order_pages_without_gaps():
    for i in range(7):
        await factories.institution(name=f"机构{i}")
    seen: list[str] = []
    after = None
    while True:
        page = await _page(first=2, after=after, order="CREATED_AT_DESC")
        seen += _names(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [f"机构{i}" for i in reversed(range(7))]


async def test_equal_sort_keys_are_split_by_id():
    """Plans of many committees share a year: the id tie-breaker keeps pages exact."""
    inst = await factories.institution()
    ids = []
    for _ in range(5):
        c = await committee(inst)
        ids.append((await plan(c, 2025)).pk)
    query = """query($after: String) { annualPlans(first: 2, after: $after, orderBy: YEAR_ASC) {
      edges { node { id } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after = None
    while True:
        page = data(await gql(query, {"after": after}, actor=BUREAU))["annualPlans"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 5


async def test_date_order_of_experts_pages_backwards():
    for year in (1980, 1970, 1975, 1965):
        await factories.expert(birth_date=dt.date(year, 1, 1))
    query = """query($before: String) { experts(last: 3, before: $before, orderBy: BIRTH_DATE_ASC) {
      edges { node { birthDate } } pageInfo { hasPreviousPage startCursor } } }"""
    last = data(await gql(query, actor=BUREAU))["experts"]
    assert [e["node"]["birthDate"] for e in last["edges"]] == [
        "1970-01-01",
        "1975-01-01",
        "1980-01-01",
    ]
    rest = data(await gql(query, {"before": last["pageInfo"]["startCursor"]}, actor=BUREAU))
    assert [e["node"]["birthDate"] for e in rest["experts"]["edges"]] == ["1965-01-01"]


@pytest.mark.parametrize("size", [1, MAX_PAGE_SIZE])
async def test_page_size_bounds_are_accepted(size: int):
    await _named("机构A", "机构B")
    assert len(_names(await _page(first=size))) == min(size, 2)
    assert len(_names(await _page(last=size))) == min(size, 2)


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 0},
        {"first": MAX_PAGE_SIZE + 1},
        {"last": 0},
        {"last": MAX_PAGE_SIZE + 1},
        {"first": -1},
        {"first": 1, "last": 1},
    ],
)
async def test_page_size_out_of_range_is_bad_user_input(variables: dict[str, int]):
    await _named("机构A")
    result = await gql(PAGE, {"order": "NAME_ASC", **variables}, actor=BUREAU)
    assert result.data == {"institutions": None}
    assert codes(result) == ["BAD_USER_INPUT"]
    assert result.errors[0].extensions["field"] in ("first", "last")


@pytest.mark.parametrize(
    "cursor", ["garbage", "WyJ4Il0", "", "WyJpLm5hbWUiLCJ4Iiw5OTk5OTk5OTk5OTk5OTk5OTk5OTldXQ"]
)
async def test_forged_cursor_is_bad_user_input(cursor: str):
    await _named("机构A")
    result = await gql(
        PAGE, {"order": "NAME_ASC", "first": 1, "after": cursor or "=="}, actor=BUREAU
    )
    assert codes(result) == ["BAD_USER_INPUT"]
    assert result.errors[0].extensions["field"] == "after"


async def test_cursor_of_another_ordering_is_refused():
    await _named("机构A", "机构B")
    by_name = await _page(first=1)
    result = await gql(
        PAGE,
        {"order": "CREATED_AT_DESC", "first": 1, "after": by_name["pageInfo"]["endCursor"]},
        actor=BUREAU,
    )
    assert codes(result) == ["BAD_USER_INPUT"]
    assert result.errors[0].message == "游标与当前排序方式不一致"


async def test_filters_narrow_the_list():
    await factories.institution(name="北京工程师协会")
    await factories.institution(name="北京会计学会", status=FilingStatus.SUSPENDED)
    result = await gql(
        '{ institutions(filter: {nameContains: "协会", statuses: [FILED]}) '
        "{ edges { node { name } } } }",
        actor=BUREAU,
    )
    assert _names(data(result)["institutions"]) == ["北京工程师协会"]
    assert await Institution.all().count() == 2


async def test_name_prefix_matches_only_the_start_of_the_name():
    """namePrefix is a prefix match (indexed on PostgreSQL, migration 0003); `%` and `_`
    typed by the caller are literal characters, not wildcards."""
    for name in ("张伟", "张三丰", "李张", "张%"):
        await factories.expert(name=name)

    async def names(prefix: str) -> list[str]:
        result = await gql(
            "query($p: String!) { experts(filter: {namePrefix: $p}, first: 10) "
            "{ edges { node { name } } } }",
            {"p": prefix},
            actor=BUREAU,
        )
        return sorted(_names(data(result)["experts"]))

    assert await names("张") == ["张%", "张三丰", "张伟"]
    assert await names("张%") == ["张%"]
    assert await names("_") == []


async def test_phone_filter_finds_exactly_that_expert_by_keyed_hash():
    """SPEC "Personal data": the phone is matched on its keyed hash, never in clear;
    a malformed number is BAD_USER_INPUT (INVALID_PHONE on "phone"), not a 500."""
    await factories.expert(name="王一", phone="13900000001")
    await factories.expert(name="王二", phone="13900000002")
    query = (
        "query($p: String!) { experts(filter: {phone: $p}, first: 10) "
        "{ totalCount edges { node { name } } } }"
    )
    found = data(await gql(query, {"p": " 13900000002 "}, actor=BUREAU))["experts"]
    assert (_names(found), found["totalCount"]) == (["王二"], 1)
    none = data(await gql(query, {"p": "13900000009"}, actor=BUREAU))["experts"]
    assert none["totalCount"] == 0

    bad = await gql(query, {"p": "1390000"}, actor=BUREAU)
    assert bad.data == {"experts": None}
    assert codes(bad) == ["BAD_USER_INPUT"]
    assert bad.errors is not None
    ext = bad.errors[0].extensions or {}
    assert (ext["reason"], ext["field"]) == ("INVALID_PHONE", "phone")
