"""Institutions (评审机构), committees (评委会) and annual plans: types, queries and
mutations (filing, rosters, annual plans, assessment; Art. 9–12, 29–31).

Mutations are thin (schema/mutation.py): parse the input, call resolvers.institution,
return the changed object or the DomainError as payload `errors`. Creating mutations
go through `create_once` (Idempotency-Key header).
"""

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Optional

import strawberry
from strawberry.types import Info

import schema.enums  # noqa: F401 - registers the GraphQL enums
from models import (
    AnnualPlan,
    Committee,
    CommitteeSeat,
    Institution,
    InstitutionApplication,
    InstitutionAssessment,
)
from models.enums import (
    ApplicationStatus,
    AssessmentMethod,
    AssessmentResult,
    FilingStatus,
    InstitutionKind,
    Level,
    PlanStatus,
    Seat,
)
from resolvers import directory
from resolvers import institution as svc
from resolvers.directory import AnnualPlanOrder, CommitteeOrder, InstitutionOrder
from resolvers.errors import DomainError, ErrorCode, NotFound
from schema.context import ctx
from schema.errors import UserError
from schema.mutation import attempt, require_id
from schema.payload import create_once
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
    to_global_id,
)

if TYPE_CHECKING:
    from schema.expert import ExpertType

# Enums only this module exposes (schema/enums.py registers the shared ones).
strawberry.enum(
    ApplicationStatus,
    description="备案申请状态:草稿、已提交、已备案、未予备案(可修改后重新提交)。\n"
    "Filing application status.",
)
strawberry.enum(
    AssessmentMethod,
    description="考核方式(第三十条):验收、质询、约谈、现场观摩、查阅资料。\nAssessment method.",
)
strawberry.enum(AssessmentResult, description="考核结果:合格或不合格。\nAssessment result.")


@strawberry.enum(name="FilingKind", description="备案对象类别:评审机构或评委会。\nFiling kind.")
class FilingKind(enum.StrEnum):
    INSTITUTION = "institution"
    COMMITTEE = "committee"


@strawberry.type(
    name="ComplaintFigures",
    description="评审机构的投诉举报办理情况(第三十一条“接诉即办”),由投诉数据计算。\n"
    "Complaint handling figures.",
)
class ComplaintFiguresType:
    received: int = strawberry.field(description="收到的件数。")
    answered_on_time: int = strawberry.field(
        description="在答复期限内(北京时间当日结束前)答复的件数。"
    )
    overdue: int = strawberry.field(description="逾期件数:逾期答复的,或已过期限仍未办结的。")
    open: int = strawberry.field(description="尚未办结的件数。")

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> "ComplaintFiguresType":
        return cls(
            received=int(m.get("received", 0)),
            answered_on_time=int(m.get("answered_on_time", 0)),
            overdue=int(m.get("overdue", 0)),
            open=int(m.get("open", 0)),
        )


@strawberry.type(
    name="InstitutionAssessment",
    description="市人社局对评审机构的一次考核(第二十九至三十一条);不合格即暂停其评审工作(R17)。\n"
    "An institution assessment.",
)
class InstitutionAssessmentType:
    method: AssessmentMethod = strawberry.field(description="考核方式。")
    assessed_on: dt.date = strawberry.field(description="考核日期。")
    findings: str = strawberry.field(description="考核发现。")
    result: AssessmentResult = strawberry.field(description="考核结果。")
    complaint_figures: ComplaintFiguresType = strawberry.field(
        description="考核当日的投诉举报办理情况。"
    )
    recorded_at: dt.datetime = strawberry.field(description="录入时间(UTC)。")

    @classmethod
    def from_model(cls, m: InstitutionAssessment) -> "InstitutionAssessmentType":
        return cls(
            method=m.method,
            assessed_on=m.assessed_on,
            findings=m.findings,
            result=m.result,
            complaint_figures=ComplaintFiguresType.from_mapping(m.complaint_figures or {}),
            recorded_at=m.created_at,
        )


@strawberry.type(
    name="CommitteeRosterSeat",
    description="评委会专家名单中的一个席位:专家编号、姓名与席位(个人信息不在此显示)。\n"
    "A roster seat.",
)
class CommitteeRosterSeatType:
    expert_id: strawberry.Private[int]
    seat: Seat = strawberry.field(description="席位:主任委员、副主任委员或委员。")
    expert_number: str = strawberry.field(description="专家编号。")
    expert_name: str = strawberry.field(description="专家姓名。")

    @strawberry.field(
        description="专家档案(身份证号码、手机号码均为脱敏值);调用者不可见该专家时为 null。"
    )
    async def expert(
        self, info: Info
    ) -> Annotated["ExpertType", strawberry.lazy("schema.expert")] | None:
        from schema.expert import ExpertType

        found = await ctx(info).loaders.expert.load(self.expert_id)
        return ExpertType.from_model(found) if found else None


async def _roster(info: Info, committee_id: int) -> list[CommitteeRosterSeatType]:
    try:
        rows = await svc.list_committee_seats(ctx(info).actor, committee_id)
    except NotFound:
        return []
    # The resolver has decided the roster is visible; who holds each seat (number and
    # name, no personal data) is part of the roster, fetched in one query.
    await CommitteeSeat.fetch_for_list(rows, "expert")
    return [
        CommitteeRosterSeatType(
            expert_id=r.expert.id,
            seat=r.seat,
            expert_number=r.expert.number,
            expert_name=r.expert.name,
        )
        for r in rows
    ]


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
    status_reason: str = strawberry.field(
        description="状态原因(未予备案、暂停、撤销、到期的理由)。"
    )
    version: int = strawberry.field(description="版本号(乐观锁)。")

    @strawberry.field(
        description="备案申请(首次备案与重新备案),新的在前;仅市人社局与本机构可见,"
        "其他调用者为空列表。"
    )
    async def applications(self, info: Info) -> list["InstitutionApplicationType"]:
        rows = await svc.list_institution_applications(ctx(info).actor, institution_id=self.pk)
        return [InstitutionApplicationType.from_model(r) for r in rows]

    @strawberry.field(
        description="市人社局的考核记录,新的在前;仅市人社局与本机构可见,其他调用者为空列表。"
    )
    async def assessments(self, info: Info) -> list[InstitutionAssessmentType]:
        rows = await svc.list_institution_assessments(ctx(info).actor, self.pk)
        return [InstitutionAssessmentType.from_model(r) for r in rows]

    @strawberry.field(
        description="截至今日的投诉举报办理情况;仅市人社局与本机构可见,其他调用者为 null。"
    )
    async def complaint_figures(self, info: Info) -> ComplaintFiguresType | None:
        try:
            figures = await svc.complaint_figures(ctx(info).actor, self.pk)
        except NotFound:
            return None
        return ComplaintFiguresType.from_mapping(figures)

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
            status_reason=m.status_reason,
            version=m.version,
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
    status_reason: str = strawberry.field(
        description="状态原因(未予备案、暂停、撤销、到期的理由)。"
    )
    version: int = strawberry.field(description="版本号(乐观锁);调整专家名单也会使其加一。")

    @strawberry.field(description="所属评审机构;调用者不可见时为 null。")
    async def institution(self, info: Info) -> InstitutionType | None:
        found = await ctx(info).loaders.institution.load(self.institution_id)
        return InstitutionType.from_model(found) if found else None

    @strawberry.field(
        description="专家名单(第十八条):编号、姓名与席位。名单不属于 R19 保密的评审组,"
        "但仅市人社局与本机构可见,其他调用者为空列表。"
    )
    async def seats(self, info: Info) -> list[CommitteeRosterSeatType]:
        return await _roster(info, self.pk)

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
            status_reason=m.status_reason,
            version=m.version,
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
    version: int = strawberry.field(description="版本号(乐观锁)。")

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
            version=m.version,
        )


@strawberry.type(
    name="ProposedCommittee",
    description="备案申请中拟开展评审工作的评委会(第十条、第十一条)。\nA proposed committee.",
)
class ProposedCommitteeType:
    name: str = strawberry.field(description="评委会名称。")
    series: str = strawberry.field(description="系列。")
    specialty: str = strawberry.field(description="专业。")
    level: Level = strawberry.field(description="评审层级。")
    applicant_scope: str = strawberry.field(description="评审范围(申报人范围)。")
    quantitative_standard: str = strawberry.field(description="量化评价标准。")
    procedure: str = strawberry.field(description="评审程序。")
    self_evaluation: bool = strawberry.field(description="是否为自主评聘评委会。")

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> "ProposedCommitteeType":
        return cls(
            name=m["name"],
            series=m["series"],
            specialty=m["specialty"],
            level=Level(m["level"]),
            applicant_scope=m["applicant_scope"],
            quantitative_standard=m["quantitative_standard"],
            procedure=m["procedure"],
            self_evaluation=bool(m.get("self_evaluation", False)),
        )


@strawberry.type(
    name="InstitutionApplication",
    description="评审机构的一轮备案申请(首次备案,或重大变更、到期后的重新备案;第十条、第十二条)。"
    "仅本机构工作人员与市人社局可见。\nA filing application.",
)
class InstitutionApplicationType(Node):
    institution_id: strawberry.Private[int]
    status: ApplicationStatus = strawberry.field(description="申请状态。")
    kind: InstitutionKind = strawberry.field(description="机构类别。")
    introduction: str = strawberry.field(description="机构简介。")
    person_in_charge: str = strawberry.field(description="负责人。")
    professional_scope: str = strawberry.field(description="专业范围。")
    purpose: str = strawberry.field(description="宗旨。")
    office_address: str = strawberry.field(description="办公地址。")
    phone: str = strawberry.field(description="机构联系电话。")
    full_time_staff: int = strawberry.field(description="专职工作人员数。")
    facilities: str = strawberry.field(description="办公设施条件。")
    strengths: str = strawberry.field(description="优势与服务。")
    proposed_committees: list[ProposedCommitteeType] = strawberry.field(
        description="拟开展评审工作的评委会。"
    )
    submitted_at: dt.datetime | None = strawberry.field(description="最近一次提交时间(UTC)。")
    decided_at: dt.datetime | None = strawberry.field(description="市人社局作出决定的时间(UTC)。")
    decision_reason: str = strawberry.field(description="未予备案的理由。")
    version: int = strawberry.field(description="版本号(乐观锁)。")

    @strawberry.field(description="申请备案的评审机构;调用者不可见时为 null。")
    async def institution(self, info: Info) -> InstitutionType | None:
        found = await ctx(info).loaders.institution.load(self.institution_id)
        return InstitutionType.from_model(found) if found else None

    @classmethod
    def from_model(cls, m: InstitutionApplication) -> "InstitutionApplicationType":
        c: Mapping[str, Any] = m.content or {}
        return cls(
            pk=m.pk,
            institution_id=m.institution_id,  # type: ignore[attr-defined]
            status=m.status,
            kind=InstitutionKind(c["kind"]),
            introduction=c["introduction"],
            person_in_charge=c["person_in_charge"],
            professional_scope=c["professional_scope"],
            purpose=c["purpose"],
            office_address=c["office_address"],
            phone=c["phone"],
            full_time_staff=c["full_time_staff"],
            facilities=c["facilities"],
            strengths=c["strengths"],
            proposed_committees=[
                ProposedCommitteeType.from_mapping(p) for p in m.proposed_committees or []
            ],
            submitted_at=m.submitted_at,
            decided_at=m.decided_at,
            decision_reason=m.decision_reason,
            version=m.version,
        )


@strawberry.type(
    name="ExpiringFiling",
    description="备案有效期即将届满的评审机构或评委会(工作台提醒,第十二条)。\nAn expiring filing.",
)
class ExpiringFilingType:
    institution_id: strawberry.Private[int]
    kind: FilingKind = strawberry.field(description="备案对象类别。")
    filing_id: strawberry.ID = strawberry.field(description="备案对象(评审机构或评委会)的全局 ID。")
    name: str = strawberry.field(description="名称。")
    valid_until: dt.date = strawberry.field(description="备案有效期截止日。")
    days_left: int = strawberry.field(description="距截止日的天数(0 表示今天届满)。")

    @strawberry.field(description="所属评审机构;调用者不可见时为 null。")
    async def institution(self, info: Info) -> InstitutionType | None:
        found = await ctx(info).loaders.institution.load(self.institution_id)
        return InstitutionType.from_model(found) if found else None

    @classmethod
    def from_value(cls, f: svc.ExpiringFiling) -> "ExpiringFilingType":
        type_name = "Institution" if f.kind == "institution" else "Committee"
        return cls(
            institution_id=f.institution_id,
            kind=FilingKind(f.kind),
            filing_id=strawberry.ID(to_global_id(type_name, f.id)),
            name=f.name,
            valid_until=f.valid_until,
            days_left=f.days_left,
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


async def _fetch_applications(info: Info, pks: Sequence[int]) -> list[Node | None]:
    out: list[Node | None] = []
    for pk in pks:
        try:
            found = await svc.get_institution_application(ctx(info).actor, pk)
        except NotFound:
            out.append(None)
        else:
            out.append(InstitutionApplicationType.from_model(found))
    return out


register_node("InstitutionApplication", _fetch_applications)


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


# A dashboard looks a season ahead, not years: bounds the work of one request.
MAX_NOTICE_DAYS = 366


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

    @strawberry.field(
        description="备案有效期在 days 天内届满的评审机构与评委会(工作台提醒),按截止日排序:"
        "市人社局看到全部,机构工作人员只看到本机构的;需要登录。\nExpiring filings."
    )
    async def expiring_filings(
        self,
        info: Info,
        days: Annotated[
            int, strawberry.argument(description=f"提前提醒的天数(0–{MAX_NOTICE_DAYS},默认 90)。")
        ] = svc.NOTICE_DAYS,
    ) -> list[ExpiringFilingType]:
        if not 0 <= days <= MAX_NOTICE_DAYS:
            raise DomainError(ErrorCode.INVALID, f"days 应在 0 至 {MAX_NOTICE_DAYS} 之间", "days")
        rows = await svc.expiring_filings(ctx(info).actor, days=days)
        return [ExpiringFilingType.from_value(r) for r in rows]


# --- mutations: inputs ------------------------------------------------------------

VERSION = "调用者看到的版本号;数据已被他人修改时返回 VERSION_CONFLICT,不做任何更改。"
VERSION_OPTIONAL = VERSION + "省略则不检查。"


@strawberry.input(description="新建评审机构(草稿)的输入。\nCreateInstitution input.")
class CreateInstitutionInput:
    name: str = strawberry.field(description="机构名称(唯一)。")
    kind: InstitutionKind = strawberry.field(description="机构类别。")


@strawberry.input(description="拟开展评审工作的评委会(第十一条)。\nA proposed committee.")
class ProposedCommitteeInput:
    name: str = strawberry.field(description="评委会名称。")
    series: str = strawberry.field(description="系列(国家规定的职称系列之一)。")
    specialty: str = strawberry.field(description="专业。")
    level: Level = strawberry.field(description="评审层级。")
    applicant_scope: str = strawberry.field(description="评审范围(申报人范围)。")
    quantitative_standard: str = strawberry.field(description="量化评价标准。")
    procedure: str = strawberry.field(description="评审程序。")
    self_evaluation: bool = strawberry.field(default=False, description="是否为自主评聘评委会。")


def _proposed(items: list[ProposedCommitteeInput] | None) -> list[dict[str, Any]] | None:
    if items is None:
        return None
    return [
        {
            "name": i.name,
            "series": i.series,
            "specialty": i.specialty,
            "level": i.level,
            "applicant_scope": i.applicant_scope,
            "quantitative_standard": i.quantitative_standard,
            "procedure": i.procedure,
            "self_evaluation": i.self_evaluation,
        }
        for i in items
    ]


@strawberry.input(
    description="准备备案申请(第十条各项与拟开展的评委会)的输入。\n"
    "CreateInstitutionApplication input."
)
class CreateInstitutionApplicationInput:
    institution_id: strawberry.ID = strawberry.field(description="申请备案的评审机构的 ID。")
    kind: InstitutionKind = strawberry.field(description="机构类别。")
    introduction: str = strawberry.field(description="机构简介。")
    person_in_charge: str = strawberry.field(description="负责人。")
    professional_scope: str = strawberry.field(description="专业范围。")
    purpose: str = strawberry.field(description="宗旨。")
    office_address: str = strawberry.field(description="办公地址。")
    phone: str = strawberry.field(description="联系电话(手机或带区号的固定电话)。")
    full_time_staff: int = strawberry.field(description="专职工作人员数(至少 1)。")
    facilities: str = strawberry.field(description="办公设施条件。")
    strengths: str = strawberry.field(description="优势与服务。")
    proposed_committees: list[ProposedCommitteeInput] = strawberry.field(
        description="拟开展评审工作的评委会(至少一个)。"
    )


@strawberry.input(
    description="修改草稿或未予备案的备案申请;省略(null)的项保持不变。\n"
    "UpdateInstitutionApplication input."
)
class UpdateInstitutionApplicationInput:
    application_id: strawberry.ID = strawberry.field(description="备案申请的 ID。")
    version: int = strawberry.field(description=VERSION)
    kind: InstitutionKind | None = strawberry.field(default=None, description="机构类别。")
    introduction: str | None = strawberry.field(default=None, description="机构简介。")
    person_in_charge: str | None = strawberry.field(default=None, description="负责人。")
    professional_scope: str | None = strawberry.field(default=None, description="专业范围。")
    purpose: str | None = strawberry.field(default=None, description="宗旨。")
    office_address: str | None = strawberry.field(default=None, description="办公地址。")
    phone: str | None = strawberry.field(default=None, description="联系电话。")
    full_time_staff: int | None = strawberry.field(default=None, description="专职工作人员数。")
    facilities: str | None = strawberry.field(default=None, description="办公设施条件。")
    strengths: str | None = strawberry.field(default=None, description="优势与服务。")
    proposed_committees: list[ProposedCommitteeInput] | None = strawberry.field(
        default=None, description="拟开展评审工作的评委会(给出时整体替换)。"
    )


@strawberry.input(
    description="向市人社局提交备案申请(未予备案的可修改后重新提交)。\n"
    "SubmitInstitutionApplication input."
)
class SubmitInstitutionApplicationInput:
    application_id: strawberry.ID = strawberry.field(description="备案申请的 ID。")
    version: int | None = strawberry.field(default=None, description=VERSION_OPTIONAL)


@strawberry.input(description="市人社局予以备案(第十二条,R1)。\nFileInstitution input.")
class FileInstitutionInput:
    application_id: strawberry.ID = strawberry.field(description="已提交的备案申请的 ID。")
    valid_until: dt.date | None = strawberry.field(
        default=None, description="备案有效期截止日,至多为备案之日起3年;省略则为整3年。"
    )


@strawberry.input(description="市人社局不予备案并说明理由。\nRejectInstitutionApplication input.")
class RejectInstitutionApplicationInput:
    application_id: strawberry.ID = strawberry.field(description="已提交的备案申请的 ID。")
    reason: str = strawberry.field(description="不予备案的理由(申请人可见)。")


@strawberry.input(description="市人社局暂停或撤销评审机构的输入。\nSuspend/revoke input.")
class InstitutionStatusInput:
    institution_id: strawberry.ID = strawberry.field(description="评审机构的 ID。")
    reason: str = strawberry.field(description="理由。")


@strawberry.input(description="准备评委会备案(第十一条)的输入。\nCreateCommitteeApplication input.")
class CreateCommitteeApplicationInput:
    institution_id: strawberry.ID = strawberry.field(description="所属评审机构的 ID。")
    name: str = strawberry.field(description="评委会名称(唯一)。")
    series: str = strawberry.field(description="系列(国家规定的职称系列之一)。")
    specialty: str = strawberry.field(description="专业。")
    level: Level = strawberry.field(description="评审层级。")
    applicant_scope: str = strawberry.field(description="评审范围(申报人范围)。")
    quantitative_standard: str = strawberry.field(description="量化评价标准。")
    procedure: str = strawberry.field(description="评审程序。")
    self_evaluation: bool = strawberry.field(default=False, description="是否为自主评聘评委会。")


@strawberry.input(
    description="修改草稿、未予备案或已到期的评委会;省略(null)的项保持不变。\n"
    "UpdateCommitteeApplication input."
)
class UpdateCommitteeApplicationInput:
    committee_id: strawberry.ID = strawberry.field(description="评委会的 ID。")
    version: int = strawberry.field(description=VERSION)
    name: str | None = strawberry.field(default=None, description="评委会名称。")
    series: str | None = strawberry.field(default=None, description="系列。")
    specialty: str | None = strawberry.field(default=None, description="专业。")
    level: Level | None = strawberry.field(default=None, description="评审层级。")
    applicant_scope: str | None = strawberry.field(default=None, description="评审范围。")
    quantitative_standard: str | None = strawberry.field(default=None, description="量化评价标准。")
    procedure: str | None = strawberry.field(default=None, description="评审程序。")
    self_evaluation: bool | None = strawberry.field(
        default=None, description="是否为自主评聘评委会。"
    )


@strawberry.input(
    description="向市人社局提交评委会备案;提交后专家名单冻结。\nSubmitCommittee input."
)
class SubmitCommitteeInput:
    committee_id: strawberry.ID = strawberry.field(description="评委会的 ID。")
    version: int | None = strawberry.field(default=None, description=VERSION_OPTIONAL)


@strawberry.input(
    description="市人社局予以评委会备案(或为到期、暂停的评委会重新备案)。\nFileCommittee input."
)
class FileCommitteeInput:
    committee_id: strawberry.ID = strawberry.field(description="评委会的 ID。")
    valid_until: dt.date | None = strawberry.field(
        default=None, description="备案有效期截止日,至多为备案之日起3年;省略则为整3年。"
    )


@strawberry.input(description="市人社局不予评委会备案并说明理由。\nRejectCommittee input.")
class RejectCommitteeInput:
    committee_id: strawberry.ID = strawberry.field(description="已提交备案的评委会的 ID。")
    reason: str = strawberry.field(description="不予备案的理由。")


@strawberry.input(
    description="设置评委会专家名单中的席位:新增、改变或(seat 为 null)移除。\n"
    "SetCommitteeSeat input."
)
class SetCommitteeSeatInput:
    committee_id: strawberry.ID = strawberry.field(description="评委会的 ID。")
    expert_id: strawberry.ID = strawberry.field(description="在库专家的 ID。")
    seat: Seat | None = strawberry.field(
        description="席位(主任委员只能一名);null 表示将该专家移出名单。"
    )


@strawberry.input(
    description="新建或修改某评委会某年度的实施方案草稿(第九条第二项);完整性在公布时检查。\n"
    "SaveAnnualPlan input."
)
class SaveAnnualPlanInput:
    committee_id: strawberry.ID = strawberry.field(description="评委会的 ID。")
    year: int = strawberry.field(description="年度。")
    version: int | None = strawberry.field(
        default=None,
        description="修改已有草稿时必填,为调用者看到的版本号;新建时省略。",
    )
    series: str | None = strawberry.field(default=None, description="系列;省略则取评委会的。")
    specialty: str | None = strawberry.field(default=None, description="专业;省略则取评委会的。")
    level: Level | None = strawberry.field(default=None, description="评审层级;省略则取评委会的。")
    conditions: str = strawberry.field(default="", description="申报条件。")
    procedure: str = strawberry.field(default="", description="评审程序。")
    method: str = strawberry.field(default="", description="评审方式。")
    contact_phone: str = strawberry.field(default="", description="咨询电话。")
    acceptance_start: dt.date | None = strawberry.field(default=None, description="受理开始日期。")
    acceptance_end: dt.date | None = strawberry.field(default=None, description="受理截止日期。")
    material_requirements: str = strawberry.field(default="", description="申报材料要求。")


@strawberry.input(
    description="公布年度实施方案:须各项完整且评委会在备案有效期内(R2);公布后公开且不可修改。\n"
    "PublishAnnualPlan input."
)
class PublishAnnualPlanInput:
    plan_id: strawberry.ID = strawberry.field(description="年度实施方案的 ID。")
    version: int | None = strawberry.field(default=None, description=VERSION_OPTIONAL)


@strawberry.input(
    description="市人社局录入对评审机构的考核(第二十九至三十一条);不合格即暂停其评审工作(R17)。\n"
    "RecordInstitutionAssessment input."
)
class RecordInstitutionAssessmentInput:
    institution_id: strawberry.ID = strawberry.field(description="评审机构的 ID。")
    method: AssessmentMethod = strawberry.field(description="考核方式。")
    assessed_on: dt.date = strawberry.field(description="考核日期(不晚于今天)。")
    findings: str = strawberry.field(description="考核发现。")
    result: AssessmentResult = strawberry.field(description="考核结果。")


# --- mutations: payloads ----------------------------------------------------------

ERRORS = "业务规则不满足或输入有误时的错误;非空时未做任何更改。"
INPUT = "变更的输入。"


@strawberry.type(description="新建评审机构的结果。\nCreateInstitution payload.")
class CreateInstitutionPayload:
    institution: InstitutionType | None = strawberry.field(description="新建的评审机构(草稿)。")
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="备案申请变更的结果。\nInstitution application payload.")
class InstitutionApplicationPayload:
    application: InstitutionApplicationType | None = strawberry.field(
        description="变更后的备案申请。"
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="评审机构状态变更的结果。\nInstitution payload.")
class InstitutionPayload:
    institution: InstitutionType | None = strawberry.field(description="变更后的评审机构。")
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="评委会变更的结果。\nCommittee payload.")
class CommitteePayload:
    committee: CommitteeType | None = strawberry.field(description="变更后的评委会。")
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="年度实施方案变更的结果。\nAnnual plan payload.")
class AnnualPlanPayload:
    annual_plan: AnnualPlanType | None = strawberry.field(description="变更后的年度实施方案。")
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="录入考核的结果。\nRecordInstitutionAssessment payload.")
class RecordInstitutionAssessmentPayload:
    assessment: InstitutionAssessmentType | None = strawberry.field(description="录入的考核。")
    institution: InstitutionType | None = strawberry.field(
        description="考核后的评审机构(不合格时已暂停,合格时可能已恢复)。"
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


def _institution(m: Institution | None) -> InstitutionType | None:
    return InstitutionType.from_model(m) if m else None


def _application(m: InstitutionApplication | None) -> InstitutionApplicationType | None:
    return InstitutionApplicationType.from_model(m) if m else None


def _committee(m: Committee | None) -> CommitteeType | None:
    return CommitteeType.from_model(m) if m else None


def _plan(m: AnnualPlan | None) -> AnnualPlanType | None:
    return AnnualPlanType.from_model(m) if m else None


@strawberry.type(description="评审机构、评委会与年度实施方案的变更。")
class InstitutionMutation:
    @strawberry.mutation(
        description="市人社局登记申请备案的单位为评审机构草稿,其工作人员随后准备备案申请。"
        "支持 Idempotency-Key。\nCreate a draft institution (bureau)."
    )
    async def create_institution(
        self,
        info: Info,
        input: Annotated[CreateInstitutionInput, strawberry.argument(description=INPUT)],
    ) -> CreateInstitutionPayload:
        actor = ctx(info).actor

        async def run() -> Institution:
            outcome = await create_once(
                info,
                input=input,
                model=Institution,
                create=lambda: svc.create_institution(actor, name=input.name, kind=input.kind),
            )
            return outcome.value

        inst, errors = await attempt(info, run)
        return CreateInstitutionPayload(institution=_institution(inst), errors=errors)

    @strawberry.mutation(
        description="评审机构工作人员准备备案申请(首次备案,或重大变更、到期后的重新备案;"
        "第十条)。每个机构同时只能有一份未办结的申请;重新备案期间现有备案继续有效。"
        "支持 Idempotency-Key。\nPrepare a filing application."
    )
    async def create_institution_application(
        self,
        info: Info,
        input: Annotated[CreateInstitutionApplicationInput, strawberry.argument(description=INPUT)],
    ) -> InstitutionApplicationPayload:
        actor = ctx(info).actor

        async def run() -> InstitutionApplication:
            institution_id = require_id(input.institution_id, "Institution", "institutionId")
            outcome = await create_once(
                info,
                input=input,
                model=InstitutionApplication,
                create=lambda: svc.create_institution_application(
                    actor,
                    institution_id,
                    kind=input.kind,
                    introduction=input.introduction,
                    person_in_charge=input.person_in_charge,
                    professional_scope=input.professional_scope,
                    purpose=input.purpose,
                    office_address=input.office_address,
                    phone=input.phone,
                    full_time_staff=input.full_time_staff,
                    facilities=input.facilities,
                    strengths=input.strengths,
                    proposed_committees=_proposed(input.proposed_committees) or [],
                ),
            )
            return outcome.value

        app, errors = await attempt(info, run)
        return InstitutionApplicationPayload(application=_application(app), errors=errors)

    @strawberry.mutation(
        description="修改草稿或未予备案的备案申请(需提供看到的版本号)。\nEdit a filing application."
    )
    async def update_institution_application(
        self,
        info: Info,
        input: Annotated[UpdateInstitutionApplicationInput, strawberry.argument(description=INPUT)],
    ) -> InstitutionApplicationPayload:
        app, errors = await attempt(
            info,
            lambda: svc.update_institution_application(
                ctx(info).actor,
                require_id(input.application_id, "InstitutionApplication", "applicationId"),
                version=input.version,
                kind=input.kind,
                introduction=input.introduction,
                person_in_charge=input.person_in_charge,
                professional_scope=input.professional_scope,
                purpose=input.purpose,
                office_address=input.office_address,
                phone=input.phone,
                full_time_staff=input.full_time_staff,
                facilities=input.facilities,
                strengths=input.strengths,
                proposed_committees=_proposed(input.proposed_committees),
            ),
        )
        return InstitutionApplicationPayload(application=_application(app), errors=errors)

    @strawberry.mutation(
        description="向市人社局提交备案申请;未予备案的申请可修改后重新提交。\n"
        "Submit a filing application."
    )
    async def submit_institution_application(
        self,
        info: Info,
        input: Annotated[SubmitInstitutionApplicationInput, strawberry.argument(description=INPUT)],
    ) -> InstitutionApplicationPayload:
        app, errors = await attempt(
            info,
            lambda: svc.submit_institution_application(
                ctx(info).actor,
                require_id(input.application_id, "InstitutionApplication", "applicationId"),
                version=input.version,
            ),
        )
        return InstitutionApplicationPayload(application=_application(app), errors=errors)

    @strawberry.mutation(
        description="市人社局对已提交的申请予以备案:备案日期为今天,有效期至多3年(R1);"
        "申请内容成为机构的备案信息。\nFile an institution (bureau)."
    )
    async def file_institution(
        self,
        info: Info,
        input: Annotated[FileInstitutionInput, strawberry.argument(description=INPUT)],
    ) -> InstitutionPayload:
        inst, errors = await attempt(
            info,
            lambda: svc.file_institution(
                ctx(info).actor,
                require_id(input.application_id, "InstitutionApplication", "applicationId"),
                valid_until=input.valid_until,
            ),
        )
        return InstitutionPayload(institution=_institution(inst), errors=errors)

    @strawberry.mutation(
        description="市人社局不予备案并说明理由;申请人可修改后重新提交。重新备案被拒时现有备案不受影响。\n"
        "Reject a filing application (bureau)."
    )
    async def reject_institution_application(
        self,
        info: Info,
        input: Annotated[RejectInstitutionApplicationInput, strawberry.argument(description=INPUT)],
    ) -> InstitutionApplicationPayload:
        app, errors = await attempt(
            info,
            lambda: svc.reject_institution_application(
                ctx(info).actor,
                require_id(input.application_id, "InstitutionApplication", "applicationId"),
                reason=input.reason,
            ),
        )
        return InstitutionApplicationPayload(application=_application(app), errors=errors)

    @strawberry.mutation(
        description="市人社局暂停已备案的评审机构(此后不能开展评审工作,R2)。\n"
        "Suspend an institution (bureau)."
    )
    async def suspend_institution(
        self,
        info: Info,
        input: Annotated[InstitutionStatusInput, strawberry.argument(description=INPUT)],
    ) -> InstitutionPayload:
        inst, errors = await attempt(
            info,
            lambda: svc.suspend_institution(
                ctx(info).actor,
                require_id(input.institution_id, "Institution", "institutionId"),
                reason=input.reason,
            ),
        )
        return InstitutionPayload(institution=_institution(inst), errors=errors)

    @strawberry.mutation(
        description="市人社局撤销评审机构备案(终局,不可恢复)。\nRevoke an institution (bureau)."
    )
    async def revoke_institution(
        self,
        info: Info,
        input: Annotated[InstitutionStatusInput, strawberry.argument(description=INPUT)],
    ) -> InstitutionPayload:
        inst, errors = await attempt(
            info,
            lambda: svc.revoke_institution(
                ctx(info).actor,
                require_id(input.institution_id, "Institution", "institutionId"),
                reason=input.reason,
            ),
        )
        return InstitutionPayload(institution=_institution(inst), errors=errors)

    @strawberry.mutation(
        description="评审机构工作人员准备评委会备案(第十一条),评委会为草稿。"
        "支持 Idempotency-Key。\nPrepare a committee filing."
    )
    async def create_committee_application(
        self,
        info: Info,
        input: Annotated[CreateCommitteeApplicationInput, strawberry.argument(description=INPUT)],
    ) -> CommitteePayload:
        actor = ctx(info).actor

        async def run() -> Committee:
            institution_id = require_id(input.institution_id, "Institution", "institutionId")
            outcome = await create_once(
                info,
                input=input,
                model=Committee,
                create=lambda: svc.create_committee_application(
                    actor,
                    institution_id,
                    name=input.name,
                    series=input.series,
                    specialty=input.specialty,
                    level=input.level,
                    applicant_scope=input.applicant_scope,
                    quantitative_standard=input.quantitative_standard,
                    procedure=input.procedure,
                    self_evaluation=input.self_evaluation,
                ),
            )
            return outcome.value

        committee, errors = await attempt(info, run)
        return CommitteePayload(committee=_committee(committee), errors=errors)

    @strawberry.mutation(
        description="修改草稿、未予备案或已到期的评委会(需提供看到的版本号)。\n"
        "Edit a committee filing."
    )
    async def update_committee_application(
        self,
        info: Info,
        input: Annotated[UpdateCommitteeApplicationInput, strawberry.argument(description=INPUT)],
    ) -> CommitteePayload:
        committee, errors = await attempt(
            info,
            lambda: svc.update_committee_application(
                ctx(info).actor,
                require_id(input.committee_id, "Committee", "committeeId"),
                version=input.version,
                name=input.name,
                series=input.series,
                specialty=input.specialty,
                level=input.level,
                applicant_scope=input.applicant_scope,
                quantitative_standard=input.quantitative_standard,
                procedure=input.procedure,
                self_evaluation=input.self_evaluation,
            ),
        )
        return CommitteePayload(committee=_committee(committee), errors=errors)

    @strawberry.mutation(
        description="向市人社局提交评委会备案:名单须为不少于规定人数的奇数名在库专家且有一名主任委员。\n"
        "Submit a committee filing."
    )
    async def submit_committee(
        self,
        info: Info,
        input: Annotated[SubmitCommitteeInput, strawberry.argument(description=INPUT)],
    ) -> CommitteePayload:
        committee, errors = await attempt(
            info,
            lambda: svc.submit_committee(
                ctx(info).actor,
                require_id(input.committee_id, "Committee", "committeeId"),
                version=input.version,
            ),
        )
        return CommitteePayload(committee=_committee(committee), errors=errors)

    @strawberry.mutation(
        description="市人社局予以评委会备案:所属机构须在备案有效期内,有效期至多3年(R1)。\n"
        "File a committee (bureau)."
    )
    async def file_committee(
        self,
        info: Info,
        input: Annotated[FileCommitteeInput, strawberry.argument(description=INPUT)],
    ) -> CommitteePayload:
        committee, errors = await attempt(
            info,
            lambda: svc.file_committee(
                ctx(info).actor,
                require_id(input.committee_id, "Committee", "committeeId"),
                valid_until=input.valid_until,
            ),
        )
        return CommitteePayload(committee=_committee(committee), errors=errors)

    @strawberry.mutation(
        description="市人社局不予评委会备案并说明理由;可修改后重新提交。\n"
        "Reject a committee filing (bureau)."
    )
    async def reject_committee(
        self,
        info: Info,
        input: Annotated[RejectCommitteeInput, strawberry.argument(description=INPUT)],
    ) -> CommitteePayload:
        committee, errors = await attempt(
            info,
            lambda: svc.reject_committee(
                ctx(info).actor,
                require_id(input.committee_id, "Committee", "committeeId"),
                reason=input.reason,
            ),
        )
        return CommitteePayload(committee=_committee(committee), errors=errors)

    @strawberry.mutation(
        description="设置评委会专家名单中的席位(仅在库专家;主任委员只能一名;审核期间名单冻结)。\n"
        "Set, change or remove a committee seat."
    )
    async def set_committee_seat(
        self,
        info: Info,
        input: Annotated[SetCommitteeSeatInput, strawberry.argument(description=INPUT)],
    ) -> CommitteePayload:
        committee, errors = await attempt(
            info,
            lambda: svc.set_committee_seat(
                ctx(info).actor,
                require_id(input.committee_id, "Committee", "committeeId"),
                require_id(input.expert_id, "Expert", "expertId"),
                input.seat,
            ),
        )
        return CommitteePayload(committee=_committee(committee), errors=errors)

    @strawberry.mutation(
        description="新建或修改年度实施方案草稿(第九条第二项)。新建时支持 Idempotency-Key。\n"
        "Create or edit a draft annual plan."
    )
    async def save_annual_plan(
        self,
        info: Info,
        input: Annotated[SaveAnnualPlanInput, strawberry.argument(description=INPUT)],
    ) -> AnnualPlanPayload:
        actor = ctx(info).actor

        async def run() -> AnnualPlan:
            committee_id = require_id(input.committee_id, "Committee", "committeeId")
            outcome = await create_once(
                info,
                input=input,
                model=AnnualPlan,
                create=lambda: svc.save_annual_plan(
                    actor,
                    committee_id,
                    input.year,
                    version=input.version,
                    series=input.series,
                    specialty=input.specialty,
                    level=input.level,
                    conditions=input.conditions,
                    procedure=input.procedure,
                    method=input.method,
                    contact_phone=input.contact_phone,
                    acceptance_start=input.acceptance_start,
                    acceptance_end=input.acceptance_end,
                    material_requirements=input.material_requirements,
                ),
            )
            return outcome.value

        plan, errors = await attempt(info, run)
        return AnnualPlanPayload(annual_plan=_plan(plan), errors=errors)

    @strawberry.mutation(
        description="公布年度实施方案;公布后向公众公开且不可修改。\nPublish an annual plan."
    )
    async def publish_annual_plan(
        self,
        info: Info,
        input: Annotated[PublishAnnualPlanInput, strawberry.argument(description=INPUT)],
    ) -> AnnualPlanPayload:
        plan, errors = await attempt(
            info,
            lambda: svc.publish_annual_plan(
                ctx(info).actor,
                require_id(input.plan_id, "AnnualPlan", "planId"),
                version=input.version,
            ),
        )
        return AnnualPlanPayload(annual_plan=_plan(plan), errors=errors)

    @strawberry.mutation(
        description="市人社局录入对评审机构的考核,附当日投诉举报办理情况;不合格即暂停该机构,"
        "此后考核合格可恢复(R17)。支持 Idempotency-Key。\n"
        "Record an institution assessment (bureau)."
    )
    async def record_institution_assessment(
        self,
        info: Info,
        input: Annotated[RecordInstitutionAssessmentInput, strawberry.argument(description=INPUT)],
    ) -> RecordInstitutionAssessmentPayload:
        actor = ctx(info).actor

        async def run() -> tuple[InstitutionAssessment, Institution]:
            institution_id = require_id(input.institution_id, "Institution", "institutionId")
            outcome = await create_once(
                info,
                input=input,
                model=InstitutionAssessment,
                create=lambda: svc.record_institution_assessment(
                    actor,
                    institution_id,
                    method=input.method,
                    assessed_on=input.assessed_on,
                    findings=input.findings,
                    result=input.result,
                ),
            )
            # The assessment may have suspended or reinstated the institution.
            return outcome.value, await svc.get_institution(actor, institution_id)

        done, errors = await attempt(info, run)
        return RecordInstitutionAssessmentPayload(
            assessment=InstitutionAssessmentType.from_model(done[0]) if done else None,
            institution=_institution(done[1]) if done else None,
            errors=errors,
        )
