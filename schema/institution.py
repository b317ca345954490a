"""Institutions (评审机构), committees (评委会) and annual plans: types and queries."""

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Optional

import strawberry
from strawberry.types import Info

import schema.enums  # noqa: F401 - registers the GraphQL enums
from models import AnnualPlan, Committee, Institution
from models.enums import FilingStatus, InstitutionKind, Level, PlanStatus
from resolvers import directory
from resolvers.directory import AnnualPlanOrder, CommitteeOrder, InstitutionOrder
from schema.context import ctx
from schema.relay import (
    AFTER,
    BEFORE,
    FIRST,
    LAST,
    Connection,
    Node,
    connection,
    expect_id,
    from_global_id,
    page_args,
    register_node,
)


@strawberry.type(
    name="Institution",
    description="评审机构:其备案信息(第十条)与备案状态、有效期(第十二条)。\nAn institution.",
)
class InstitutionType(Node):
    name: str = strawberry.field(description="机构名称。")
    kind: InstitutionKind = strawberry.field(description="机构类别。")
    introduction: str = strawberry.field(description="机构简介。")
    person_in_charge: str = strawberry.field(description="负责人。")
    professional_scope: str = strawberry.field(description="专业范围。")
    purpose: str = strawberry.field(description="宗旨。")
    office_address: str = strawberry.field(description="办公地址。")
    phone: str = strawberry.field(description="机构联系电话(公开信息)。")
    full_time_staff: int = strawberry.field(description="专职工作人员数。")
    facilities: str = strawberry.field(description="办公设施条件。")
    strengths: str = strawberry.field(description="优势与服务。")
    status: FilingStatus = strawberry.field(description="备案状态。")
    filed_at: dt.date | None = strawberry.field(description="备案日期。")
    valid_until: dt.date | None = strawberry.field(description="备案有效期截止日(R1,至多3年)。")

    @classmethod
    def from_model(cls, m: Institution) -> "InstitutionType":
        return cls(
            pk=m.pk,
            name=m.name,
            kind=m.kind,
            introduction=m.introduction,
            person_in_charge=m.person_in_charge,
            professional_scope=m.professional_scope,
            purpose=m.purpose,
            office_address=m.office_address,
            phone=m.phone,
            full_time_staff=m.full_time_staff,
            facilities=m.facilities,
            strengths=m.strengths,
            status=m.status,
            filed_at=m.filed_at,
            valid_until=m.valid_until,
        )


@strawberry.type(
    name="Committee",
    description="评委会:所属机构、系列专业、评审层级与备案状态(第十一条)。\nA committee.",
)
class CommitteeType(Node):
    institution_id: strawberry.Private[int]
    name: str = strawberry.field(description="评委会名称。")
    series: str = strawberry.field(description="系列。")
    specialty: str = strawberry.field(description="专业。")
    level: Level = strawberry.field(description="评审层级。")
    applicant_scope: str = strawberry.field(description="评审范围(申报人范围)。")
    quantitative_standard: str = strawberry.field(description="量化评价标准。")
    procedure: str = strawberry.field(description="评审程序。")
    self_evaluation: bool = strawberry.field(description="是否为自主评聘评委会(第二十三条)。")
    status: FilingStatus = strawberry.field(description="备案状态。")
    filed_at: dt.date | None = strawberry.field(description="备案日期。")
    valid_until: dt.date | None = strawberry.field(description="备案有效期截止日(R1)。")

    @strawberry.field(description="所属评审机构;调用者不可见时为 null。")
    async def institution(self, info: Info) -> InstitutionType | None:
        found = await ctx(info).loaders.institution.load(self.institution_id)
        return InstitutionType.from_model(found) if found else None

    @classmethod
    def from_model(cls, m: Committee) -> "CommitteeType":
        return cls(
            pk=m.pk,
            institution_id=m.institution_id,  # type: ignore[attr-defined]
            name=m.name,
            series=m.series,
            specialty=m.specialty,
            level=m.level,
            applicant_scope=m.applicant_scope,
            quantitative_standard=m.quantitative_standard,
            procedure=m.procedure,
            self_evaluation=m.self_evaluation,
            status=m.status,
            filed_at=m.filed_at,
            valid_until=m.valid_until,
        )


@strawberry.type(
    name="AnnualPlan",
    description="当年职称评审实施方案(第九条第二项);已发布的方案向公众公开。\nAn annual plan.",
)
class AnnualPlanType(Node):
    committee_id: strawberry.Private[int]
    year: int = strawberry.field(description="年度。")
    series: str = strawberry.field(description="系列。")
    specialty: str = strawberry.field(description="专业。")
    level: Level = strawberry.field(description="评审层级。")
    conditions: str = strawberry.field(description="申报条件。")
    procedure: str = strawberry.field(description="评审程序。")
    method: str = strawberry.field(description="评审方式。")
    contact_phone: str = strawberry.field(description="咨询电话。")
    acceptance_start: dt.date | None = strawberry.field(description="受理开始日期。")
    acceptance_end: dt.date | None = strawberry.field(description="受理截止日期。")
    material_requirements: str = strawberry.field(description="申报材料要求。")
    status: PlanStatus = strawberry.field(description="方案状态。")
    published_at: dt.datetime | None = strawberry.field(description="发布时间(UTC)。")

    @strawberry.field(description="所属评委会;调用者不可见时为 null。")
    async def committee(self, info: Info) -> CommitteeType | None:
        found = await ctx(info).loaders.committee.load(self.committee_id)
        return CommitteeType.from_model(found) if found else None

    @classmethod
    def from_model(cls, m: AnnualPlan) -> "AnnualPlanType":
        return cls(
            pk=m.pk,
            committee_id=m.committee_id,  # type: ignore[attr-defined]
            year=m.year,
            series=m.series,
            specialty=m.specialty,
            level=m.level,
            conditions=m.conditions,
            procedure=m.procedure,
            method=m.method,
            contact_phone=m.contact_phone,
            acceptance_start=m.acceptance_start,
            acceptance_end=m.acceptance_end,
            material_requirements=m.material_requirements,
            status=m.status,
            published_at=m.published_at,
        )


async def _fetch_institutions(info: Info, pks: Sequence[int]) -> list[Node | None]:
    found = await ctx(info).loaders.institution.load_many(list(pks))
    return [InstitutionType.from_model(f) if f else None for f in found]


async def _fetch_committees(info: Info, pks: Sequence[int]) -> list[Node | None]:
    found = await ctx(info).loaders.committee.load_many(list(pks))
    return [CommitteeType.from_model(f) if f else None for f in found]


async def _fetch_annual_plans(info: Info, pks: Sequence[int]) -> list[Node | None]:
    found = await ctx(info).loaders.annual_plan.load_many(list(pks))
    return [AnnualPlanType.from_model(f) if f else None for f in found]


register_node("Institution", _fetch_institutions)
register_node("Committee", _fetch_committees)
register_node("AnnualPlan", _fetch_annual_plans)


@strawberry.input(description="评审机构列表筛选条件(各条件同时满足)。\nInstitution filter.")
class InstitutionFilter:
    name_contains: str | None = strawberry.field(default=None, description="名称包含该文字。")
    kinds: list[InstitutionKind] | None = strawberry.field(
        default=None, description="机构类别之一。"
    )
    statuses: list[FilingStatus] | None = strawberry.field(
        default=None, description="备案状态之一(公众始终只看到已备案且在有效期内的机构)。"
    )


@strawberry.input(description="评委会列表筛选条件(各条件同时满足)。\nCommittee filter.")
class CommitteeFilter:
    institution_id: strawberry.ID | None = strawberry.field(
        default=None, description="所属评审机构的 ID。"
    )
    name_contains: str | None = strawberry.field(default=None, description="名称包含该文字。")
    series: str | None = strawberry.field(default=None, description="系列(完全一致)。")
    specialty: str | None = strawberry.field(default=None, description="专业(完全一致)。")
    levels: list[Level] | None = strawberry.field(default=None, description="评审层级之一。")
    statuses: list[FilingStatus] | None = strawberry.field(
        default=None, description="备案状态之一。"
    )
    self_evaluation: bool | None = strawberry.field(
        default=None, description="是否为自主评聘评委会。"
    )


@strawberry.input(description="年度实施方案列表筛选条件。\nAnnual plan filter.")
class AnnualPlanFilter:
    committee_id: strawberry.ID | None = strawberry.field(
        default=None, description="所属评委会的 ID。"
    )
    year: int | None = strawberry.field(default=None, description="年度。")
    series: str | None = strawberry.field(default=None, description="系列(完全一致)。")
    levels: list[Level] | None = strawberry.field(default=None, description="评审层级之一。")
    statuses: list[PlanStatus] | None = strawberry.field(
        default=None, description="方案状态之一(公众只看到已发布的方案)。"
    )


def _typed_id(global_id: strawberry.ID, type_name: str) -> int | None:
    parsed = from_global_id(global_id)
    return parsed[1] if parsed is not None and parsed[0] == type_name else None


@strawberry.type(description="评审机构目录查询。")
class InstitutionQuery:
    @strawberry.field(
        description="评审机构列表。公众只看到已备案且在有效期内的机构(R1)。\nInstitutions."
    )
    async def institutions(
        self,
        info: Info,
        filter: Annotated[
            InstitutionFilter | None, strawberry.argument(description="筛选条件。")
        ] = None,
        order_by: Annotated[
            InstitutionOrder, strawberry.argument(description="排序方式。")
        ] = InstitutionOrder.NAME_ASC,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=BEFORE)] = None,
    ) -> Optional[Connection[InstitutionType]]:  # noqa: UP045 - strawberry needs the generic form
        f = filter or InstitutionFilter()
        page = await directory.list_institutions(
            ctx(info).actor,
            filters=directory.InstitutionFilter(
                name_contains=f.name_contains, kinds=f.kinds, statuses=f.statuses
            ),
            order=order_by,
            page=page_args(first, after, last, before),
        )
        return connection(page, InstitutionType.from_model)

    @strawberry.field(description="按 ID 查询一个评审机构;不存在或不可见时为 null。")
    async def institution(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="评审机构的 ID。")],
    ) -> InstitutionType | None:
        pk = _typed_id(id, "Institution")
        found = await ctx(info).loaders.institution.load(pk) if pk else None
        return InstitutionType.from_model(found) if found else None

    @strawberry.field(
        description="评委会列表。公众只看到已备案机构的已备案且在有效期内的评委会。\nCommittees."
    )
    async def committees(
        self,
        info: Info,
        filter: Annotated[
            CommitteeFilter | None, strawberry.argument(description="筛选条件。")
        ] = None,
        order_by: Annotated[
            CommitteeOrder, strawberry.argument(description="排序方式。")
        ] = CommitteeOrder.NAME_ASC,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=BEFORE)] = None,
    ) -> Optional[Connection[CommitteeType]]:  # noqa: UP045
        f = filter or CommitteeFilter()
        page = await directory.list_committees(
            ctx(info).actor,
            filters=directory.CommitteeFilter(
                institution_id=expect_id(f.institution_id, "Institution", "institutionId"),
                name_contains=f.name_contains,
                series=f.series,
                specialty=f.specialty,
                levels=f.levels,
                statuses=f.statuses,
                self_evaluation=f.self_evaluation,
            ),
            order=order_by,
            page=page_args(first, after, last, before),
        )
        return connection(page, CommitteeType.from_model)

    @strawberry.field(description="按 ID 查询一个评委会;不存在或不可见时为 null。")
    async def committee(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="评委会的 ID。")],
    ) -> CommitteeType | None:
        pk = _typed_id(id, "Committee")
        found = await ctx(info).loaders.committee.load(pk) if pk else None
        return CommitteeType.from_model(found) if found else None

    @strawberry.field(
        description="年度职称评审实施方案列表;公众只看到已发布的方案。\nAnnual plans."
    )
    async def annual_plans(
        self,
        info: Info,
        filter: Annotated[
            AnnualPlanFilter | None, strawberry.argument(description="筛选条件。")
        ] = None,
        order_by: Annotated[
            AnnualPlanOrder, strawberry.argument(description="排序方式。")
        ] = AnnualPlanOrder.YEAR_DESC,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=BEFORE)] = None,
    ) -> Optional[Connection[AnnualPlanType]]:  # noqa: UP045
        f = filter or AnnualPlanFilter()
        page = await directory.list_annual_plans(
            ctx(info).actor,
            filters=directory.AnnualPlanFilter(
                committee_id=expect_id(f.committee_id, "Committee", "committeeId"),
                year=f.year,
                series=f.series,
                levels=f.levels,
                statuses=f.statuses,
            ),
            order=order_by,
            page=page_args(first, after, last, before),
        )
        return connection(page, AnnualPlanType.from_model)
