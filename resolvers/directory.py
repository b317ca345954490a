"""Read side of the directory: institutions, committees, annual plans and experts.

Every list starts from a scoped query (policy.scoped) and is paginated by keyset
(`paginate`), so the GraphQL API and the admin pages see exactly the same rows.
The `load_*` functions fetch many objects by id in one statement for DataLoaders;
they apply the same scope, so an object outside the actor's scope is simply absent.

Keyset pagination: a cursor holds the ordering's name, the sort key of a row and
its id. The next page is `WHERE (key, id) > (cursor key, cursor id)` in the
ordering's direction, so rows inserted while a client pages never shift or repeat
what it has already seen, and page 1,000 costs what page 1 costs.
"""

import base64
import binascii
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from tortoise import fields as tfields
from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from models import AnnualPlan, Committee, CommitteeSeat, Expert, Institution, Unit
from models.enums import (
    ExpertStatus,
    FilingStatus,
    InstitutionKind,
    Level,
    PlanStatus,
    UnitType,
)
from resolvers import audit
from resolvers.actor import Actor
from resolvers.common import batch_ids
from resolvers.errors import DomainError, ErrorCode, NotFound, Unauthenticated
from resolvers.personal import decrypt, keyed_hash, normalize_phone
from resolvers.policy import Perm, require, scoped

M = TypeVar("M", bound=Model)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Cursor ids and integer keys beyond a 64-bit range can only be forged; refusing
# them keeps the database from answering with a driver error.
_MAX_INT = 2**63 - 1


# --- keyset pagination ---------------------------------------------------------------


@dataclass(frozen=True)
class Sort:
    """One ordering of a list: a non-null column, its direction, id as tie-breaker."""

    name: str
    column: str
    descending: bool = False


@dataclass(frozen=True)
class PageArgs:
    """Relay pagination arguments as the client sent them."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None


@dataclass
class Page(Generic[M]):
    """One page of rows with their cursors; `total_count()` runs only when called."""

    items: list[M]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    base: QuerySet[M]

    async def total_count(self) -> int:
        return await self.base.count()


def page_size(args: PageArgs) -> tuple[int, bool]:
    """The page size and whether the client pages backwards; bad input raises.

    Without `first` and `last` the first DEFAULT_PAGE_SIZE rows are returned.
    """
    if args.first is not None and args.last is not None:
        raise DomainError(ErrorCode.INVALID, "first 与 last 不能同时使用", "first")
    for name, value in (("first", args.first), ("last", args.last)):
        if value is not None and not 1 <= value <= MAX_PAGE_SIZE:
            raise DomainError(ErrorCode.INVALID, f"{name} 必须在 1 到 {MAX_PAGE_SIZE} 之间", name)
    if args.last is not None:
        return args.last, True
    return (args.first if args.first is not None else DEFAULT_PAGE_SIZE), False


def _key_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def encode_cursor(sort: Sort, obj: Model) -> str:
    payload = [sort.name, _key_value(getattr(obj, sort.column)), obj.pk]
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _parse_key(field: tfields.Field, value: Any) -> Any:
    if isinstance(field, tfields.DatetimeField):
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime")
        return parsed
    if isinstance(field, tfields.DateField):
        return dt.date.fromisoformat(value)
    if isinstance(field, tfields.IntField):
        if type(value) is not int or abs(value) > _MAX_INT:
            raise ValueError("not an integer key")
        return value
    if not isinstance(value, str):
        raise ValueError("not a text key")
    return value


def decode_cursor(model: type[Model], sort: Sort, cursor: str, arg: str) -> tuple[Any, int]:
    """The (sort key, id) a cursor points at; a forged or foreign cursor raises."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, value, pk = json.loads(raw)
        if name != sort.name:
            raise DomainError(ErrorCode.INVALID, "游标与当前排序方式不一致", arg)
        if type(pk) is not int or not 0 < pk <= _MAX_INT:
            raise ValueError("bad id")
        return _parse_key(model._meta.fields_map[sort.column], value), pk
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise DomainError(ErrorCode.INVALID, "游标无效", arg) from None


def _beyond(sort: Sort, value: Any, pk: int, *, forward: bool) -> Q:
    """Rows after (forward) or before the point (value, pk) in the sort order."""
    greater = forward != sort.descending
    op = "gt" if greater else "lt"
    # `key >= value` (or <=) first: a range bound the sort column's index can seek to,
    # so a deep page reads what page 1 reads; the OR only filters the rows at `value`.
    return Q(**{f"{sort.column}__{op}e": value}) & (
        Q(**{f"{sort.column}__{op}": value}) | Q(**{sort.column: value, f"id__{op}": pk})
    )


async def paginate(queryset: QuerySet[M], sort: Sort, args: PageArgs) -> Page[M]:
    """One keyset page of `queryset` (already scoped and filtered) in `sort` order."""
    size, backward = page_size(args)
    model = queryset.model
    bounded = queryset
    if args.after:
        value, pk = decode_cursor(model, sort, args.after, "after")
        bounded = bounded.filter(_beyond(sort, value, pk, forward=True))
    if args.before:
        value, pk = decode_cursor(model, sort, args.before, "before")
        bounded = bounded.filter(_beyond(sort, value, pk, forward=False))
    descending = sort.descending != backward
    prefix = "-" if descending else ""
    rows = await bounded.order_by(f"{prefix}{sort.column}", f"{prefix}id").limit(size + 1)
    more = len(rows) > size
    rows = rows[:size]
    if backward:
        rows.reverse()
        has_next, has_previous = args.before is not None, more
    else:
        has_next, has_previous = more, args.after is not None
    return Page(
        items=rows,
        cursors=[encode_cursor(sort, r) for r in rows],
        has_next_page=has_next,
        has_previous_page=has_previous,
        base=queryset,
    )


def _by_id(rows: Iterable[M]) -> dict[int, M]:
    return {r.pk: r for r in rows}


# --- institutions ----------------------------------------------------------------------


class InstitutionOrder(StrEnum):
    NAME_ASC = "name_asc"
    NAME_DESC = "name_desc"
    CREATED_AT_DESC = "created_at_desc"


INSTITUTION_SORTS: dict[InstitutionOrder, Sort] = {
    InstitutionOrder.NAME_ASC: Sort("i.name", "name"),
    InstitutionOrder.NAME_DESC: Sort("i.name-", "name", descending=True),
    InstitutionOrder.CREATED_AT_DESC: Sort("i.created-", "created_at", descending=True),
}


@dataclass(frozen=True)
class InstitutionFilter:
    name_contains: str | None = None
    kinds: Sequence[InstitutionKind] | None = None
    statuses: Sequence[FilingStatus] | None = None


def _institutions(actor: Actor) -> QuerySet[Institution]:
    return scoped(actor, Perm.INSTITUTION_VIEW, Institution.all())


async def list_institutions(
    actor: Actor,
    *,
    filters: InstitutionFilter = InstitutionFilter(),
    order: InstitutionOrder = InstitutionOrder.NAME_ASC,
    page: PageArgs = PageArgs(),
) -> Page[Institution]:
    """Institutions the actor may see; the public sees filed, unexpired ones (R1)."""
    qs = _institutions(actor)
    if filters.name_contains:
        qs = qs.filter(name__icontains=filters.name_contains)
    if filters.kinds is not None:
        qs = qs.filter(kind__in=list(filters.kinds))
    if filters.statuses is not None:
        qs = qs.filter(status__in=list(filters.statuses))
    return await paginate(qs, INSTITUTION_SORTS[order], page)


async def load_institutions(actor: Actor, ids: Iterable[int]) -> dict[int, Institution]:
    return _by_id(await _institutions(actor).filter(id__in=batch_ids(ids)))


async def get_institution(actor: Actor, institution_id: int) -> Institution:
    found = (await load_institutions(actor, [institution_id])).get(institution_id)
    if found is None:
        raise NotFound("评审机构不存在")
    return found


# --- committees ------------------------------------------------------------------------


class CommitteeOrder(StrEnum):
    NAME_ASC = "name_asc"
    NAME_DESC = "name_desc"
    CREATED_AT_DESC = "created_at_desc"


COMMITTEE_SORTS: dict[CommitteeOrder, Sort] = {
    CommitteeOrder.NAME_ASC: Sort("c.name", "name"),
    CommitteeOrder.NAME_DESC: Sort("c.name-", "name", descending=True),
    CommitteeOrder.CREATED_AT_DESC: Sort("c.created-", "created_at", descending=True),
}


@dataclass(frozen=True)
class CommitteeFilter:
    institution_id: int | None = None
    name_contains: str | None = None
    series: str | None = None
    specialty: str | None = None
    levels: Sequence[Level] | None = None
    statuses: Sequence[FilingStatus] | None = None
    self_evaluation: bool | None = None


def _committees(actor: Actor) -> QuerySet[Committee]:
    return scoped(actor, Perm.COMMITTEE_VIEW, Committee.all())


async def list_committees(
    actor: Actor,
    *,
    filters: CommitteeFilter = CommitteeFilter(),
    order: CommitteeOrder = CommitteeOrder.NAME_ASC,
    page: PageArgs = PageArgs(),
) -> Page[Committee]:
    """Committees the actor may see; the public sees filed, unexpired committees of
    filed, unexpired institutions (R1, R2)."""
    qs = _committees(actor)
    if filters.institution_id is not None:
        qs = qs.filter(institution_id=filters.institution_id)
    if filters.name_contains:
        qs = qs.filter(name__icontains=filters.name_contains)
    if filters.series:
        qs = qs.filter(series=filters.series)
    if filters.specialty:
        qs = qs.filter(specialty=filters.specialty)
    if filters.levels is not None:
        qs = qs.filter(level__in=list(filters.levels))
    if filters.statuses is not None:
        qs = qs.filter(status__in=list(filters.statuses))
    if filters.self_evaluation is not None:
        qs = qs.filter(self_evaluation=filters.self_evaluation)
    return await paginate(qs, COMMITTEE_SORTS[order], page)


async def load_committees(actor: Actor, ids: Iterable[int]) -> dict[int, Committee]:
    return _by_id(await _committees(actor).filter(id__in=batch_ids(ids)))


async def get_committee(actor: Actor, committee_id: int) -> Committee:
    found = (await load_committees(actor, [committee_id])).get(committee_id)
    if found is None:
        raise NotFound("评委会不存在")
    return found


# --- annual plans ----------------------------------------------------------------------


class AnnualPlanOrder(StrEnum):
    YEAR_DESC = "year_desc"
    YEAR_ASC = "year_asc"


ANNUAL_PLAN_SORTS: dict[AnnualPlanOrder, Sort] = {
    AnnualPlanOrder.YEAR_DESC: Sort("p.year-", "year", descending=True),
    AnnualPlanOrder.YEAR_ASC: Sort("p.year", "year"),
}


@dataclass(frozen=True)
class AnnualPlanFilter:
    committee_id: int | None = None
    year: int | None = None
    series: str | None = None
    levels: Sequence[Level] | None = None
    statuses: Sequence[PlanStatus] | None = None


def _annual_plans(actor: Actor) -> QuerySet[AnnualPlan]:
    return scoped(actor, Perm.PLAN_VIEW, AnnualPlan.all())


async def list_annual_plans(
    actor: Actor,
    *,
    filters: AnnualPlanFilter = AnnualPlanFilter(),
    order: AnnualPlanOrder = AnnualPlanOrder.YEAR_DESC,
    page: PageArgs = PageArgs(),
) -> Page[AnnualPlan]:
    """Annual plans (Art. 9(二)) the actor may see; the public sees published ones."""
    qs = _annual_plans(actor)
    if filters.committee_id is not None:
        qs = qs.filter(committee_id=filters.committee_id)
    if filters.year is not None:
        qs = qs.filter(year=filters.year)
    if filters.series:
        qs = qs.filter(series=filters.series)
    if filters.levels is not None:
        qs = qs.filter(level__in=list(filters.levels))
    if filters.statuses is not None:
        qs = qs.filter(status__in=list(filters.statuses))
    return await paginate(qs, ANNUAL_PLAN_SORTS[order], page)


async def load_annual_plans(actor: Actor, ids: Iterable[int]) -> dict[int, AnnualPlan]:
    return _by_id(await _annual_plans(actor).filter(id__in=batch_ids(ids)))


# --- experts ---------------------------------------------------------------------------


class ExpertOrder(StrEnum):
    NUMBER_ASC = "number_asc"
    NUMBER_DESC = "number_desc"
    NAME_ASC = "name_asc"
    BIRTH_DATE_ASC = "birth_date_asc"


EXPERT_SORTS: dict[ExpertOrder, Sort] = {
    ExpertOrder.NUMBER_ASC: Sort("e.number", "number"),
    ExpertOrder.NUMBER_DESC: Sort("e.number-", "number", descending=True),
    ExpertOrder.NAME_ASC: Sort("e.name", "name"),
    ExpertOrder.BIRTH_DATE_ASC: Sort("e.birth", "birth_date"),
}


@dataclass(frozen=True)
class ExpertFilter:
    name_contains: str | None = None
    # `name LIKE 'prefix%'`: served by an index on PostgreSQL (varchar_pattern_ops),
    # unlike name_contains, which must read every row.
    name_prefix: str | None = None
    number: str | None = None
    # Exact mobile number, matched on the keyed hash (the clear number is never stored).
    phone: str | None = None
    series: str | None = None
    specialty: str | None = None
    title_levels: Sequence[Level] | None = None
    statuses: Sequence[ExpertStatus] | None = None
    institution_id: int | None = None
    unit_types: Sequence[UnitType] | None = None


def _experts(actor: Actor) -> QuerySet[Expert]:
    # The pool is not public (SPEC roles): say "log in" rather than show nothing.
    if actor.is_anonymous:
        raise Unauthenticated()
    return scoped(actor, Perm.EXPERT_VIEW, Expert.all())


async def list_experts(
    actor: Actor,
    *,
    filters: ExpertFilter = ExpertFilter(),
    order: ExpertOrder = ExpertOrder.NUMBER_ASC,
    page: PageArgs = PageArgs(),
) -> Page[Expert]:
    """Experts in the actor's EXPERT_VIEW scope; anonymous callers are refused."""
    qs = _experts(actor)
    if filters.name_contains:
        qs = qs.filter(name__icontains=filters.name_contains)
    if filters.name_prefix:
        qs = qs.filter(name__startswith=filters.name_prefix)
    if filters.number:
        qs = qs.filter(number=filters.number)
    if filters.phone is not None:
        # A malformed number is refused (INVALID_PHONE on "phone"), not silently unmatched.
        qs = qs.filter(phone_hash=keyed_hash(normalize_phone(filters.phone)))
    if filters.series:
        qs = qs.filter(series=filters.series)
    if filters.specialty:
        qs = qs.filter(specialty=filters.specialty)
    if filters.title_levels is not None:
        qs = qs.filter(title_level__in=list(filters.title_levels))
    if filters.statuses is not None:
        qs = qs.filter(status__in=list(filters.statuses))
    if filters.institution_id is not None:
        qs = qs.filter(institution_id=filters.institution_id)
    if filters.unit_types is not None:
        qs = qs.filter(unit__unit_type__in=list(filters.unit_types))
    return await paginate(qs, EXPERT_SORTS[order], page)


async def load_experts(actor: Actor, ids: Iterable[int]) -> dict[int, Expert]:
    if actor.is_anonymous:
        return {}
    return _by_id(await _experts(actor).filter(id__in=batch_ids(ids)))


async def get_expert(actor: Actor, expert_id: int) -> Expert:
    found = (await load_experts(actor, [expert_id])).get(expert_id)
    if found is None:
        if actor.is_anonymous:
            raise Unauthenticated()
        raise NotFound("专家不存在")
    return found


async def load_units(actor: Actor, ids: Iterable[int]) -> dict[int, Unit]:
    """Employers by id. Callers pass the unit ids of experts the actor already sees:
    an expert's employer is part of the expert's record, not separately scoped."""
    return _by_id(await Unit.filter(id__in=batch_ids(ids)))


async def load_seats_by_expert(
    actor: Actor, expert_ids: Iterable[int]
) -> dict[int, list[CommitteeSeat]]:
    """Committee seats of the given experts, on committees the actor may see."""
    ids = batch_ids(expert_ids)
    visible = Subquery(_committees(actor).values("id"))
    rows = await CommitteeSeat.filter(expert_id__in=ids, committee_id__in=visible).order_by(
        "committee_id", "id"
    )
    out: dict[int, list[CommitteeSeat]] = {i: [] for i in ids}
    for seat in rows:
        out.setdefault(seat.expert_id, []).append(seat)  # type: ignore[attr-defined]
    return out


async def reveal_expert_pii(
    actor: Actor, expert_id: int, *, field: Literal["id_number", "phone"]
) -> str:
    """The clear value of an expert's ID number or phone (SPEC "Personal data").

    Side effects: writes the audit event "expert.pii_read" naming the field read.
    Out of scope → NotFound; visible without EXPERT_VIEW_PII → PermissionDenied.
    """
    expert = await get_expert(actor, expert_id)
    require(actor, Perm.EXPERT_VIEW_PII, expert)
    value = decrypt(expert.id_number_enc if field == "id_number" else expert.phone_enc)
    async with in_transaction():
        await audit.record(actor, "expert.pii_read", expert, after={"field": field})
    return value
