"""Experts (专家), their employer and committee seats: types and queries.

Personal data (SPEC "Personal data"): `idNumber` and `phone` are always the masked
values. The clear values come only from `idNumberFull` / `phoneFull`, one expert at
a time, for actors allowed EXPERT_VIEW_PII on that expert; each read is audited.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Literal, Optional

import strawberry
from graphql.pyutils import Path
from strawberry.types import Info

import schema.enums  # noqa: F401 - registers the GraphQL enums
from models import CommitteeSeat, Expert, Unit
from models.enums import ExpertStatus, Gender, Level, Seat, UnitType
from resolvers import directory
from resolvers.directory import ExpertOrder
from resolvers.errors import NotFound, PermissionDenied
from schema.context import ctx
from schema.institution import CommitteeType, InstitutionType, _typed_id
from schema.relay import (
    AFTER,
    BEFORE,
    FIRST,
    LAST,
    Connection,
    Node,
    connection,
    expect_id,
    page_args,
    register_node,
)


@strawberry.type(name="Unit", description="专家所在单位。\nAn employer.")
class UnitNode:
    name: str = strawberry.field(description="单位名称。")
    unit_type: UnitType = strawberry.field(description="单位类型(决定推荐渠道,R3)。")

    @classmethod
    def from_model(cls, m: Unit) -> "UnitNode":
        return cls(name=m.name, unit_type=m.unit_type)


@strawberry.type(name="CommitteeSeat", description="专家在评委会中的席位(第十八条)。\nA seat.")
class CommitteeSeatType:
    committee_id: strawberry.Private[int]
    seat: Seat = strawberry.field(description="席位:主任委员、副主任委员或委员。")

    @strawberry.field(description="评委会;调用者不可见时为 null。")
    async def committee(self, info: Info) -> CommitteeType | None:
        found = await ctx(info).loaders.committee.load(self.committee_id)
        return CommitteeType.from_model(found) if found else None

    @classmethod
    def from_model(cls, m: CommitteeSeat) -> "CommitteeSeatType":
        return cls(committee_id=m.committee_id, seat=m.seat)  # type: ignore[attr-defined]


def _in_list(info: Info) -> bool:
    path: Path | None = info.path
    while path is not None:
        if isinstance(path.key, int):
            return True
        path = path.prev
    return False


async def _reveal(info: Info, pk: int, field: Literal["id_number", "phone"]) -> str:
    # Bulk reads of clear personal data would make the audit trail the only brake.
    if _in_list(info):
        raise PermissionDenied("完整个人信息只能逐个查询,列表中只显示脱敏值")
    return await directory.reveal_expert_pii(ctx(info).actor, pk, field=field)


@strawberry.type(
    name="Expert",
    description="评审专家:身份、所在单位、职称、系列专业、状态与评委会席位。\nAn expert.",
)
class ExpertType(Node):
    unit_id: strawberry.Private[int]
    institution_id: strawberry.Private[int | None]
    number: str = strawberry.field(description="专家编号(公开、稳定,随机抽取使用,R10)。")
    name: str = strawberry.field(description="姓名。")
    gender: Gender = strawberry.field(description="性别。")
    birth_date: dt.date = strawberry.field(description="出生日期。")
    id_number: str = strawberry.field(description="身份证号码(脱敏,如 110101********1234)。")
    phone: str = strawberry.field(description="手机号码(脱敏,如 139****1234)。")
    title: str = strawberry.field(description="现任职称。")
    title_level: Level = strawberry.field(description="职称层级。")
    title_obtained_on: dt.date = strawberry.field(description="取得现职称的日期。")
    series: str = strawberry.field(description="系列。")
    specialty: str = strawberry.field(description="专业。")
    status: ExpertStatus = strawberry.field(description="专家状态。")

    @strawberry.field(description="所在单位。")
    async def unit(self, info: Info) -> UnitNode | None:
        found = await ctx(info).loaders.unit.load(self.unit_id)
        return UnitNode.from_model(found) if found else None

    @strawberry.field(description="所属评审机构;没有或调用者不可见时为 null。")
    async def institution(self, info: Info) -> InstitutionType | None:
        if self.institution_id is None:
            return None
        found = await ctx(info).loaders.institution.load(self.institution_id)
        return InstitutionType.from_model(found) if found else None

    @strawberry.field(description="在调用者可见的评委会中的席位。")
    async def seats(self, info: Info) -> list[CommitteeSeatType]:
        found = await ctx(info).loaders.seats_by_expert.load(self.pk)
        return [CommitteeSeatType.from_model(s) for s in found]

    @strawberry.field(
        description=(
            "完整身份证号码。需要查看个人信息的权限;只能逐个专家查询;每次读取记入审计。\n"
            "Clear ID number (audited)."
        )
    )
    async def id_number_full(self, info: Info) -> str:
        return await _reveal(info, self.pk, "id_number")

    @strawberry.field(
        description="完整手机号码。权限与审计同 idNumberFull。\nClear phone number (audited)."
    )
    async def phone_full(self, info: Info) -> str:
        return await _reveal(info, self.pk, "phone")

    @classmethod
    def from_model(cls, m: Expert) -> "ExpertType":
        return cls(
            pk=m.pk,
            unit_id=m.unit_id,  # type: ignore[attr-defined]
            institution_id=m.institution_id,  # type: ignore[attr-defined]
            number=m.number,
            name=m.name,
            gender=m.gender,
            birth_date=m.birth_date,
            id_number=m.id_number_masked,
            phone=m.phone_masked,
            title=m.title,
            title_level=m.title_level,
            title_obtained_on=m.title_obtained_on,
            series=m.series,
            specialty=m.specialty,
            status=m.status,
        )


async def _fetch_experts(info: Info, pks: Sequence[int]) -> list[Node | None]:
    found = await ctx(info).loaders.expert.load_many(list(pks))
    return [ExpertType.from_model(f) if f else None for f in found]


register_node("Expert", _fetch_experts)


@strawberry.input(description="专家列表筛选条件(各条件同时满足)。\nExpert filter.")
class ExpertFilter:
    name_contains: str | None = strawberry.field(default=None, description="姓名包含该文字。")
    number: str | None = strawberry.field(default=None, description="专家编号(完全一致)。")
    series: str | None = strawberry.field(default=None, description="系列(完全一致)。")
    specialty: str | None = strawberry.field(default=None, description="专业(完全一致)。")
    title_levels: list[Level] | None = strawberry.field(default=None, description="职称层级之一。")
    statuses: list[ExpertStatus] | None = strawberry.field(
        default=None, description="专家状态之一。"
    )
    institution_id: strawberry.ID | None = strawberry.field(
        default=None, description="所属评审机构的 ID。"
    )
    unit_types: list[UnitType] | None = strawberry.field(
        default=None, description="所在单位类型之一。"
    )


@strawberry.type(description="专家库查询。")
class ExpertQuery:
    @strawberry.field(
        description="专家列表:调用者权限范围内的专家;需要登录。\nExperts (login required)."
    )
    async def experts(
        self,
        info: Info,
        filter: Annotated[
            ExpertFilter | None, strawberry.argument(description="筛选条件。")
        ] = None,
        order_by: Annotated[
            ExpertOrder, strawberry.argument(description="排序方式。")
        ] = ExpertOrder.NUMBER_ASC,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=BEFORE)] = None,
    ) -> Optional[Connection[ExpertType]]:  # noqa: UP045 - strawberry needs the generic form
        f = filter or ExpertFilter()
        page = await directory.list_experts(
            ctx(info).actor,
            filters=directory.ExpertFilter(
                name_contains=f.name_contains,
                number=f.number,
                series=f.series,
                specialty=f.specialty,
                title_levels=f.title_levels,
                statuses=f.statuses,
                institution_id=expect_id(f.institution_id, "Institution", "institutionId"),
                unit_types=f.unit_types,
            ),
            order=order_by,
            page=page_args(first, after, last, before),
        )
        return connection(page, ExpertType.from_model)

    @strawberry.field(description="按 ID 查询一位专家;不存在或不在权限范围内时为 null;需要登录。")
    async def expert(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="专家的 ID。")],
    ) -> ExpertType | None:
        pk = _typed_id(id, "Expert")
        if pk is None:
            return None
        try:
            found = await directory.get_expert(ctx(info).actor, pk)
        except NotFound:
            return None
        return ExpertType.from_model(found)
