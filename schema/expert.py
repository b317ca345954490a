"""Experts (专家) and the expert pool (Chapter 3): types, queries and mutations.

Personal data (SPEC "Personal data"): `idNumber` and `phone` are always the masked
values. The clear values come only from `idNumberFull` / `phoneFull`, one expert at
a time, for actors allowed EXPERT_VIEW_PII on that expert; each read is audited.
The pool's own types (applications, terms, updates, training, assessments) carry no
clear personal data at all: a requested phone change shows as its mask.

Mutations are thin (schema/mutation.py): parse the input, call resolvers.expert,
return the changed object or the DomainError as payload `errors`; an eligibility
refusal (R4) becomes one NOT_ELIGIBLE UserError per named reason. Creating mutations
go through `create_once` (Idempotency-Key header).

Relations of the pool types load through DataLoaders built per request (see
`_pool`) over the batch loads of resolvers/expert.py, which scope every read with the
permission the resolvers use for that model: a list shows exactly the rows the policy
table lets the actor see and costs one statement per relation, however long the list.
"""

import datetime as dt
import enum
import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Optional, TypeVar

import strawberry
from graphql.pyutils import Path
from strawberry.dataloader import DataLoader
from strawberry.types import Info
from tortoise.models import Model

import schema.enums  # noqa: F401 - registers the GraphQL enums
from models import (
    AgreementSignature,
    Authority,
    CommitteeSeat,
    Expert,
    ExpertApplication,
    ExpertAssessment,
    ExpertTerm,
    ExpertUpdate,
    TrainingRecord,
    Unit,
)
from models.enums import (
    LEVEL_LABELS,
    AssessmentResult,
    AuthorityKind,
    EntryRoute,
    ExitReason,
    ExpertApplicationStatus,
    ExpertStatus,
    Gender,
    InvitationCategory,
    Level,
    RetirementCategory,
    Seat,
    TermStatus,
    UnitType,
    UpdateStatus,
)
from resolvers import directory
from resolvers import expert as svc
from resolvers.actor import Actor
from resolvers.common import beijing_today
from resolvers.directory import ExpertOrder, Sort, paginate
from resolvers.eligibility import ExpertFacts
from resolvers.errors import NotFound, PermissionDenied
from schema.context import Loaders, by_key, ctx, lists_by_key
from schema.errors import UserError
from schema.institution import VERSION, CommitteeType, InstitutionType, _typed_id
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
    page_args,
    register_node,
    to_global_id,
)

M = TypeVar("M", bound=Model)
T = TypeVar("T")

# Enums only this module exposes (schema/enums.py registers the shared ones).
strawberry.enum(EntryRoute, description="入库渠道(第十五条):推荐或邀请。\nEntry route.")
strawberry.enum(
    InvitationCategory,
    description="邀请类别(第十五条):两院院士、国家科学技术奖、北京市科学技术奖、急需紧缺专业。\n"
    "Invitation category.",
)
strawberry.enum(
    ExpertApplicationStatus,
    description="入库申请状态:已提交、机构已审核、退回补充调整、已批准入库、未通过(第十七条)。\n"
    "Expert application status.",
)
strawberry.enum(
    ExitReason,
    description="退出专家库的原因(第二十二、三十二条):不再从事专业技术工作、身体原因、"
    "超过退休年龄5年、考核不合格、其他。\nExit reason.",
)
strawberry.enum(TermStatus, description="聘期状态:在任、已续聘、已结束(第十九条)。\nTerm status.")
strawberry.enum(
    UpdateStatus,
    name="ExpertUpdateStatus",
    description="信息变更状态:待核对、已生效、未通过、已撤回(R8)。\nExpert update status.",
)
strawberry.enum(
    RetirementCategory,
    description="原法定退休年龄类别(R5):男60周岁、女55周岁、女50周岁。\nRetirement category.",
)
strawberry.enum(
    AuthorityKind,
    description="推荐单位类别(第十五条):行业主管部门或区人力资源社会保障部门。\nAuthority kind.",
)


@strawberry.enum(
    name="VerificationSide",
    description="信息变更的核对方(第十九条,R8):所在单位或评审机构。\nVerification side.",
)
class VerificationSide(enum.StrEnum):
    EMPLOYER = "employer"
    INSTITUTION = "institution"


@strawberry.enum(
    name="ExpertApplicationOrderBy",
    description="入库申请列表排序方式。\nExpert application ordering.",
)
class ExpertApplicationOrder(enum.StrEnum):
    CREATED_AT_ASC = "created_at_asc"
    CREATED_AT_DESC = "created_at_desc"


APPLICATION_SORTS: dict[ExpertApplicationOrder, Sort] = {
    ExpertApplicationOrder.CREATED_AT_ASC: Sort("ea.created", "created_at"),
    ExpertApplicationOrder.CREATED_AT_DESC: Sort("ea.created-", "created_at", descending=True),
}


# --- per-request loaders of the pool's relations ------------------------------------


@dataclass
class PoolLoaders:
    """DataLoaders of the pool's relations for one actor (Context.loaders covers the
    directory's), over the batch loads of resolvers/expert.py, which decide what the
    actor sees. Rebuilt whenever a mutation replaces Context.loaders (`base`)."""

    base: Loaders
    terms_by_expert: DataLoader[int, list[ExpertTerm]]
    term: DataLoader[int, ExpertTerm | None]
    applications_by_expert: DataLoader[int, list[ExpertApplication]]
    application: DataLoader[int, ExpertApplication | None]
    # None (not []) for an expert whose changes the actor may not see.
    pending_updates_by_expert: DataLoader[int, list[ExpertUpdate] | None]
    update: DataLoader[int, ExpertUpdate | None]
    trainings_by_expert: DataLoader[int, list[TrainingRecord]]
    training: DataLoader[int, TrainingRecord | None]
    assessments_by_expert: DataLoader[int, list[ExpertAssessment]]
    assessment: DataLoader[int, ExpertAssessment | None]
    authority: DataLoader[int, Authority | None]

    @classmethod
    def for_actor(cls, actor: Actor, base: Loaders) -> "PoolLoaders":
        def rows(model: type[M]) -> DataLoader[int, M | None]:
            return by_key(actor, functools.partial(_rows, model))

        def per_expert(model: type[M]) -> DataLoader[int, list[M]]:
            return lists_by_key(actor, functools.partial(_rows_by_expert, model))

        return cls(
            base=base,
            terms_by_expert=per_expert(ExpertTerm),
            term=rows(ExpertTerm),
            applications_by_expert=per_expert(ExpertApplication),
            application=rows(ExpertApplication),
            pending_updates_by_expert=by_key(actor, svc.load_pending_updates_by_expert),
            update=by_key(actor, svc.load_updates),
            trainings_by_expert=per_expert(TrainingRecord),
            training=rows(TrainingRecord),
            assessments_by_expert=per_expert(ExpertAssessment),
            assessment=rows(ExpertAssessment),
            authority=by_key(actor, svc.load_authorities),
        )


async def _rows(model: type[M], actor: Actor, ids: Iterable[int]) -> dict[int, M]:
    return await svc.load_pool_rows(actor, model, ids)


async def _rows_by_expert(model: type[M], actor: Actor, ids: Iterable[int]) -> dict[int, list[M]]:
    return await svc.load_pool_rows_by_expert(actor, model, ids)


_POOL_KEY = "expert_pool_loaders"


def _pool(info: Info) -> PoolLoaders:
    context = ctx(info)
    cached = context.extra.get(_POOL_KEY)
    # attempt() swaps Context.loaders after each change; follow it so a field read
    # after a mutation never sees what was cached before it.
    if not isinstance(cached, PoolLoaders) or cached.base is not context.loaders:
        cached = PoolLoaders.for_actor(context.actor, context.loaders)
        context.extra[_POOL_KEY] = cached
    return cached


# --- directory types ----------------------------------------------------------------


@strawberry.type(name="Unit", description="专家所在单位。\nAn employer.")
class UnitNode:
    pk: strawberry.Private[int]
    name: str = strawberry.field(description="单位名称。")
    unit_type: UnitType = strawberry.field(description="单位类型(决定推荐渠道,R3)。")

    @strawberry.field(
        description="单位的全局 ID(用于 recommendExpert、inviteExpert、requestExpertUpdate "
        "的 unitId)。\nUnit ID."
    )
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Unit", self.pk))

    @classmethod
    def from_model(cls, m: Unit) -> "UnitNode":
        return cls(pk=m.pk, name=m.name, unit_type=m.unit_type)


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


async def _institution(info: Info, pk: int | None) -> InstitutionType | None:
    if pk is None:
        return None
    found = await ctx(info).loaders.institution.load(pk)
    return InstitutionType.from_model(found) if found else None


async def _expert(info: Info, pk: int) -> "ExpertType | None":
    found = await ctx(info).loaders.expert.load(pk)
    return ExpertType.from_model(found) if found else None


# --- the pool's types ---------------------------------------------------------------


@strawberry.type(
    name="RecommendingAuthority",
    description="推荐单位:行业主管部门或区人力资源社会保障部门(第十五条)。\n"
    "A recommending authority.",
)
class AuthorityType:
    name: str = strawberry.field(description="推荐单位名称。")
    kind: AuthorityKind = strawberry.field(description="推荐单位类别。")


@strawberry.type(
    name="ExpertTerm",
    description="专家聘期(第十九条,R7):每届3年,考核合格自动续聘,第四届起须市人社局批准例外。\n"
    "An expert's term.",
)
class ExpertTermType(Node):
    number: int = strawberry.field(description="第几届聘期(从1开始)。")
    start_on: dt.date = strawberry.field(description="聘期开始日。")
    end_on: dt.date = strawberry.field(description="聘期最后一日。")
    status: TermStatus = strawberry.field(description="聘期状态。")
    exception_reason: str = strawberry.field(
        description="市人社局批准超过3届续聘的理由;没有时为空字符串。"
    )

    @classmethod
    def from_model(cls, m: ExpertTerm) -> "ExpertTermType":
        return cls(
            pk=m.pk,
            number=m.number,
            start_on=m.start_on,
            end_on=m.end_on,
            status=m.status,
            exception_reason=m.exception_reason,
        )


def _current_term(terms: Sequence[ExpertTerm], today: dt.date) -> ExpertTerm | None:
    # The predicate of resolvers.expert.current_term, applied to the already loaded
    # terms so a list of experts needs no statement per expert (a test keeps them equal).
    running = [
        t
        for t in terms
        if t.start_on <= today <= t.end_on and t.status in (TermStatus.ACTIVE, TermStatus.RENEWED)
    ]
    return max(running, key=lambda t: t.number, default=None)


@strawberry.type(
    description="一次退回补充调整(第十七条):谁要求、理由、何时重新提交、改了哪些项。\n"
    "One round of requested additions or adjustments."
)
class ExpertApplicationChangeRound:
    side: str = strawberry.field(
        description="提出要求的一方:institution(评审机构)或 bureau(市人社局)。"
    )
    reason: str = strawberry.field(description="要求补充或调整的内容与理由。")
    requested_at: dt.datetime = strawberry.field(description="退回时间(UTC)。")
    resubmitted_at: dt.datetime | None = strawberry.field(
        description="重新提交的时间(UTC);尚未重新提交时为 null。"
    )
    response: str = strawberry.field(description="提交方的说明。")
    changed_fields: list[str] = strawberry.field(
        description="重新提交时修改的项(snake_case 字段名)。"
    )

    @classmethod
    def from_entry(cls, e: Mapping[str, Any]) -> "ExpertApplicationChangeRound":
        resubmitted = e.get("resubmittedAt")
        return cls(
            side=str(e.get("side", "")),
            reason=str(e.get("reason", "")),
            requested_at=dt.datetime.fromisoformat(e["requestedAt"]),
            resubmitted_at=dt.datetime.fromisoformat(resubmitted) if resubmitted else None,
            response=str(e.get("response", "")),
            changed_fields=[str(f) for f in e.get("changedFields", [])],
        )


@strawberry.type(
    name="ExpertApplication",
    description="入库申请(第十五至十七条):推荐或邀请、评审机构审核意见、市人社局决定。"
    "不含个人信息;专家档案中的个人信息为脱敏值。\nAn application into the pool.",
)
class ExpertApplicationType(Node):
    expert_id: strawberry.Private[int]
    institution_id: strawberry.Private[int]
    committee_id: strawberry.Private[int | None]
    authority_id: strawberry.Private[int | None]
    route: EntryRoute = strawberry.field(description="入库渠道。")
    invitation_category: InvitationCategory | None = strawberry.field(
        description="邀请类别;推荐入库时为 null。"
    )
    status: ExpertApplicationStatus = strawberry.field(description="申请状态。")
    exception_reason: str = strawberry.field(
        description="急需紧缺专业例外条件的理由(第十六条);没有时为空字符串。"
    )
    exception_approved: bool = strawberry.field(description="市人社局是否已批准该例外条件。")
    institution_opinion: str = strawberry.field(description="评审机构的审核意见。")
    reviewed_at: dt.datetime | None = strawberry.field(description="评审机构审核时间(UTC)。")
    decided_at: dt.datetime | None = strawberry.field(description="作出决定的时间(UTC)。")
    decision_reason: str = strawberry.field(description="未通过的理由。")
    change_request: str = strawberry.field(
        description="待补充或调整的要求(退回时填写,重新提交后为空字符串,第十七条)。"
    )
    change_requested_at: dt.datetime | None = strawberry.field(
        description="最近一次退回补充调整的时间(UTC)。"
    )
    change_history: list["ExpertApplicationChangeRound"] = strawberry.field(
        description="历次退回补充调整及重新提交的记录,按时间先后。"
    )
    submitted_at: dt.datetime = strawberry.field(description="提交时间(UTC)。")
    version: int = strawberry.field(description="版本号(乐观锁)。")

    @strawberry.field(description="申请入库的专家(个人信息为脱敏值);调用者不可见时为 null。")
    async def expert(self, info: Info) -> Optional["ExpertType"]:
        return await _expert(info, self.expert_id)

    @strawberry.field(description="负责审核的评审机构;调用者不可见时为 null。")
    async def institution(self, info: Info) -> InstitutionType | None:
        return await _institution(info, self.institution_id)

    @strawberry.field(description="拟入的评委会;未指定或调用者不可见时为 null。")
    async def committee(self, info: Info) -> CommitteeType | None:
        if self.committee_id is None:
            return None
        found = await ctx(info).loaders.committee.load(self.committee_id)
        return CommitteeType.from_model(found) if found else None

    @strawberry.field(description="推荐单位;邀请入库时为 null。")
    async def recommender(self, info: Info) -> AuthorityType | None:
        if self.authority_id is None:
            return None
        found = await _pool(info).authority.load(self.authority_id)
        return AuthorityType(name=found.name, kind=found.kind) if found else None

    @classmethod
    def from_model(cls, m: ExpertApplication) -> "ExpertApplicationType":
        return cls(
            pk=m.pk,
            expert_id=m.expert_id,  # type: ignore[attr-defined]
            institution_id=m.institution_id,  # type: ignore[attr-defined]
            committee_id=m.committee_id,  # type: ignore[attr-defined]
            authority_id=m.authority_id,  # type: ignore[attr-defined]
            route=m.route,
            invitation_category=m.invitation_category,
            status=m.status,
            exception_reason=m.exception_reason,
            exception_approved=m.exception_approved,
            institution_opinion=m.institution_opinion,
            reviewed_at=m.reviewed_at,
            decided_at=m.decided_at,
            decision_reason=m.decision_reason,
            change_request=m.change_request,
            change_requested_at=m.change_requested_at,
            change_history=[
                ExpertApplicationChangeRound.from_entry(e) for e in m.change_history or []
            ],
            submitted_at=m.created_at,
            version=m.version,
        )


def _mask_email(value: str) -> str:
    # The pool never shows an expert's e-mail address in clear either.
    local, at, domain = value.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else "*" * len(value)


@strawberry.type(
    name="ExpertChanges",
    description="一次信息变更中申请修改的内容;未申请修改的项为 null。手机号码与电子邮箱"
    "均为脱敏值。\nRequested changes (personal data masked).",
)
class ExpertChangesType:
    unit_id: strawberry.Private[int | None]
    phone: str | None = strawberry.field(description="新手机号码(脱敏,如 139****1234)。")
    email: str | None = strawberry.field(description="新电子邮箱(脱敏,如 z***@example.cn)。")
    title: str | None = strawberry.field(description="新职称。")
    title_level: Level | None = strawberry.field(description="新职称层级。")
    title_obtained_on: dt.date | None = strawberry.field(description="新职称的取得日期。")
    specialty: str | None = strawberry.field(description="新专业。")
    field: str | None = strawberry.field(description="新研究领域。")

    @strawberry.field(description="新所在单位;未申请修改时为 null。")
    async def unit(self, info: Info) -> UnitNode | None:
        if self.unit_id is None:
            return None
        found = await ctx(info).loaders.unit.load(self.unit_id)
        return UnitNode.from_model(found) if found else None

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> "ExpertChangesType":
        shown = svc.display_changes(stored)
        obtained = shown.get("title_obtained_on")
        level = shown.get("title_level")
        email = shown.get("email")
        return cls(
            unit_id=shown.get("unit_id"),
            phone=shown.get("phone"),
            email=_mask_email(email) if email else email,
            title=shown.get("title"),
            title_level=Level(level) if level else None,
            title_obtained_on=dt.date.fromisoformat(obtained) if obtained else None,
            specialty=shown.get("specialty"),
            field=shown.get("field"),
        )


@strawberry.type(
    name="ExpertUpdate",
    description="专家自助提交的信息变更(第十九条,R8):所在单位与评审机构均核对通过后才生效,"
    "此前现有信息不变。仅专家本人及两个核对方可见。\nA profile update awaiting verification.",
)
class ExpertUpdateType(Node):
    expert_id: strawberry.Private[int]
    status: UpdateStatus = strawberry.field(description="变更状态。")
    changes: ExpertChangesType = strawberry.field(description="申请修改的内容(个人信息脱敏)。")
    awaiting: list[VerificationSide] = strawberry.field(
        description="尚未核对的一方(所在单位、评审机构);待核对时非空。"
    )
    employer_verified_at: dt.datetime | None = strawberry.field(
        description="所在单位核对时间(UTC)。"
    )
    institution_verified_at: dt.datetime | None = strawberry.field(
        description="评审机构核对时间(UTC)。"
    )
    rejection_reason: str = strawberry.field(description="核对未通过的理由。")
    requested_at: dt.datetime = strawberry.field(description="提交时间(UTC)。")
    version: int = strawberry.field(description="版本号(乐观锁)。")

    @strawberry.field(description="提交变更的专家(现有信息,个人信息脱敏);不可见时为 null。")
    async def expert(self, info: Info) -> Optional["ExpertType"]:
        return await _expert(info, self.expert_id)

    @classmethod
    def from_model(cls, m: ExpertUpdate) -> "ExpertUpdateType":
        pending = m.status == UpdateStatus.PENDING
        return cls(
            pk=m.pk,
            expert_id=m.expert_id,  # type: ignore[attr-defined]
            status=m.status,
            changes=ExpertChangesType.from_stored(m.changes),
            awaiting=[
                side
                for side in VerificationSide
                if pending and getattr(m, f"{side.value}_verified_at") is None
            ],
            employer_verified_at=m.employer_verified_at,
            institution_verified_at=m.institution_verified_at,
            rejection_reason=m.rejection_reason,
            requested_at=m.created_at,
            version=m.version,
        )


@strawberry.type(
    name="TrainingRecord",
    description="评前培训记录(第九条(四)、第二十五条,R19):针对一次评审会议或一个年度。\n"
    "A training record.",
)
class TrainingRecordType(Node):
    expert_id: strawberry.Private[int]
    session_pk: strawberry.Private[int | None]
    year: int | None = strawberry.field(description="培训所属年度;针对评审会议时为 null。")
    trained_on: dt.date = strawberry.field(description="培训日期。")
    topic: str = strawberry.field(description="培训内容。")
    recorded_at: dt.datetime = strawberry.field(description="录入时间(UTC)。")

    @strawberry.field(description="培训针对的评审会议的全局 ID;按年度培训时为 null。")
    def session_id(self) -> strawberry.ID | None:
        if self.session_pk is None:
            return None
        return strawberry.ID(to_global_id("EvaluationSession", self.session_pk))

    @strawberry.field(description="参加培训的专家;不可见时为 null。")
    async def expert(self, info: Info) -> Optional["ExpertType"]:
        return await _expert(info, self.expert_id)

    @classmethod
    def from_model(cls, m: TrainingRecord) -> "TrainingRecordType":
        return cls(
            pk=m.pk,
            expert_id=m.expert_id,  # type: ignore[attr-defined]
            session_pk=m.session_id,  # type: ignore[attr-defined]
            year=m.year,
            trained_on=m.trained_on,
            topic=m.topic,
            recorded_at=m.created_at,
        )


@strawberry.type(
    name="ExpertAssessment",
    description="评审机构对专家一个聘期的考核(第三十二条):评审质量、履职情况、监督结果;"
    "不合格即退出专家库(R17)。\nAn expert assessment.",
)
class ExpertAssessmentType(Node):
    expert_id: strawberry.Private[int]
    term_pk: strawberry.Private[int | None]
    institution_id: strawberry.Private[int]
    assessed_on: dt.date = strawberry.field(description="考核日期。")
    quality: str = strawberry.field(description="评审质量。")
    duties: str = strawberry.field(description="履职情况。")
    supervision: str = strawberry.field(description="监督结果。")
    result: AssessmentResult = strawberry.field(description="考核结果。")

    @strawberry.field(description="考核的聘期;不可见时为 null。")
    async def term(self, info: Info) -> ExpertTermType | None:
        if self.term_pk is None:
            return None
        found = await _pool(info).term.load(self.term_pk)
        return ExpertTermType.from_model(found) if found else None

    @strawberry.field(description="作出考核的评审机构;不可见时为 null。")
    async def institution(self, info: Info) -> InstitutionType | None:
        return await _institution(info, self.institution_id)

    @strawberry.field(description="被考核的专家;不可见时为 null。")
    async def expert(self, info: Info) -> Optional["ExpertType"]:
        return await _expert(info, self.expert_id)

    @classmethod
    def from_model(cls, m: ExpertAssessment) -> "ExpertAssessmentType":
        return cls(
            pk=m.pk,
            expert_id=m.expert_id,  # type: ignore[attr-defined]
            term_pk=m.term_id,  # type: ignore[attr-defined]
            institution_id=m.institution_id,  # type: ignore[attr-defined]
            assessed_on=m.assessed_on,
            quality=m.quality,
            duties=m.duties,
            supervision=m.supervision,
            result=m.result,
        )


@strawberry.type(
    name="AgreementSignature",
    description="专家对保密协议某一版本的签署(第二十五条,R19):签署时间与所签文本的哈希。\n"
    "A confidentiality agreement signature.",
)
class AgreementSignatureType:
    expert_id: strawberry.Private[int]
    agreement_version: str = strawberry.field(description="所签保密协议的版本。")
    signed_at: dt.datetime = strawberry.field(description="签署时间(UTC)。")
    content_hash: str = strawberry.field(description="所签协议文本的 SHA-256(十六进制)。")

    @strawberry.field(description="签署的专家;不可见时为 null。")
    async def expert(self, info: Info) -> Optional["ExpertType"]:
        return await _expert(info, self.expert_id)


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
    field: str = strawberry.field(description="研究领域。")
    status: ExpertStatus = strawberry.field(description="专家状态。")
    statutory_retirement_date: dt.date = strawberry.field(
        description="法定退休日期(R5):按性别、出生日期与原退休年龄类别,依2025年起实施的"
        "渐进式延迟退休办法计算。\nStatutory retirement date."
    )

    @strawberry.field(description="所在单位。")
    async def unit(self, info: Info) -> UnitNode | None:
        found = await ctx(info).loaders.unit.load(self.unit_id)
        return UnitNode.from_model(found) if found else None

    @strawberry.field(description="所属评审机构;没有或调用者不可见时为 null。")
    async def institution(self, info: Info) -> InstitutionType | None:
        return await _institution(info, self.institution_id)

    @strawberry.field(description="在调用者可见的评委会中的席位。")
    async def seats(self, info: Info) -> list[CommitteeSeatType]:
        found = await ctx(info).loaders.seats_by_expert.load(self.pk)
        return [CommitteeSeatType.from_model(s) for s in found]

    @strawberry.field(
        description="全部聘期,按届次排列(R7);仅市人社局、所属评审机构与本人可见,"
        "其他调用者为空列表。"
    )
    async def terms(self, info: Info) -> list[ExpertTermType]:
        found = await _pool(info).terms_by_expert.load(self.pk)
        return [ExpertTermType.from_model(t) for t in found]

    @strawberry.field(
        description="今天所在的聘期(在任或已续聘且覆盖今天);没有或调用者不可见聘期时为 null。"
    )
    async def current_term(self, info: Info) -> ExpertTermType | None:
        found = _current_term(await _pool(info).terms_by_expert.load(self.pk), beijing_today())
        return ExpertTermType.from_model(found) if found else None

    @strawberry.field(
        description="待核对的信息变更(R8),附尚需核对的一方;仅专家本人与核对方(所在单位、"
        "评审机构)可见,其他调用者为 null。变更生效前,本对象的各字段仍为现有信息。"
    )
    async def pending_changes(self, info: Info) -> list[ExpertUpdateType] | None:
        found = await _pool(info).pending_updates_by_expert.load(self.pk)
        return None if found is None else [ExpertUpdateType.from_model(u) for u in found]

    @strawberry.field(
        description="入库申请(含被退回后再次申请),按提交先后排列;仅市人社局、评审机构、"
        "推荐单位与本人可见,其他调用者为空列表。"
    )
    async def applications(self, info: Info) -> list[ExpertApplicationType]:
        found = await _pool(info).applications_by_expert.load(self.pk)
        return [ExpertApplicationType.from_model(a) for a in found]

    @strawberry.field(
        description="评前培训记录(R19);仅市人社局、所属评审机构与本人可见,其他调用者为空列表。"
    )
    async def trainings(self, info: Info) -> list[TrainingRecordType]:
        found = await _pool(info).trainings_by_expert.load(self.pk)
        return [TrainingRecordType.from_model(t) for t in found]

    @strawberry.field(
        description="聘期考核记录(第三十二条);仅市人社局、评审机构与本人可见,其他调用者为空列表。"
    )
    async def assessments(self, info: Info) -> list[ExpertAssessmentType]:
        found = await _pool(info).assessments_by_expert.load(self.pk)
        return [ExpertAssessmentType.from_model(a) for a in found]

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
            field=m.field,
            status=m.status,
            statutory_retirement_date=ExpertFacts.from_model(m).retirement_date,
        )


def _fetcher(
    pick: Callable[[PoolLoaders], DataLoader[int, Any]], convert: Callable[[Any], Node]
) -> Callable[[Info, Sequence[int]], Awaitable[list[Node | None]]]:
    async def fetch(info: Info, pks: Sequence[int]) -> list[Node | None]:
        found = await pick(_pool(info)).load_many(list(pks))
        return [convert(f) if f else None for f in found]

    return fetch


async def _fetch_experts(info: Info, pks: Sequence[int]) -> list[Node | None]:
    found = await ctx(info).loaders.expert.load_many(list(pks))
    return [ExpertType.from_model(f) if f else None for f in found]


register_node("Expert", _fetch_experts)
register_node("ExpertTerm", _fetcher(lambda p: p.term, ExpertTermType.from_model))
register_node(
    "ExpertApplication", _fetcher(lambda p: p.application, ExpertApplicationType.from_model)
)
register_node("ExpertUpdate", _fetcher(lambda p: p.update, ExpertUpdateType.from_model))
register_node("TrainingRecord", _fetcher(lambda p: p.training, TrainingRecordType.from_model))
register_node("ExpertAssessment", _fetcher(lambda p: p.assessment, ExpertAssessmentType.from_model))


# --- pool statistics (Art. 14, R13) ---------------------------------------------------


@strawberry.type(name="CountEntry", description="一项分组计数。\nA group count.")
class CountEntry:
    key: str = strawberry.field(description="分组的取值(系列、专业名称,或层级、单位类型的代码)。")
    label: str = strawberry.field(description="分组的中文名称。")
    count: int = strawberry.field(description="专家人数。")


def _counts(counts: Mapping[str, int], labels: Mapping[str, str] | None = None) -> list[CountEntry]:
    return [CountEntry(key=k, label=(labels or {}).get(k, k), count=n) for k, n in counts.items()]


@strawberry.type(
    name="YouthShare",
    description="45周岁以下青年专家占比(第十四条,R13),低于配置的下限时 belowFloor 为 true。\n"
    "Share of experts under 45.",
)
class YouthShareType:
    total: int = strawberry.field(description="专家总数。")
    under_45: int = strawberry.field(name="under45", description="45周岁以下的专家人数。")
    percent: float | None = strawberry.field(
        description="占比(百分数,保留1位小数);总数为0时为 null。"
    )
    below_floor: bool = strawberry.field(description="是否低于配置的青年专家比例下限(预警)。")

    @classmethod
    def from_value(cls, v: svc.YouthShare) -> "YouthShareType":
        return cls(total=v.total, under_45=v.under_45, percent=v.percent, below_floor=v.below_floor)


@strawberry.type(
    name="CommitteeYouthShare",
    description="一个评委会专家名单中的青年专家占比(R13)。\nYouth share of one committee.",
)
class CommitteeYouthShareType:
    committee_id: strawberry.Private[int]
    youth: YouthShareType = strawberry.field(description="该评委会的青年专家占比。")

    @strawberry.field(description="评委会;调用者不可见时为 null。")
    async def committee(self, info: Info) -> CommitteeType | None:
        found = await ctx(info).loaders.committee.load(self.committee_id)
        return CommitteeType.from_model(found) if found else None


@strawberry.type(
    name="PoolStatistics",
    description="专家库统计(第十四条,R13):在库专家按系列、专业、层级、单位类型的人数,"
    "青年专家占比(全库与各评委会)及非公单位专家占比。\nPool statistics.",
)
class PoolStatisticsType:
    today: dt.date = strawberry.field(description="统计日期(年龄按该日计算)。")
    total: int = strawberry.field(description="在库专家总数。")
    by_series: list[CountEntry] = strawberry.field(description="按系列的人数。")
    by_specialty: list[CountEntry] = strawberry.field(description="按专业的人数。")
    by_level: list[CountEntry] = strawberry.field(description="按职称层级的人数。")
    by_unit_type: list[CountEntry] = strawberry.field(description="按所在单位类型的人数。")
    youth: YouthShareType = strawberry.field(description="全部统计范围内的青年专家占比。")
    youth_by_committee: list[CommitteeYouthShareType] = strawberry.field(
        description="各评委会的青年专家占比。"
    )
    non_public: int = strawberry.field(description="非公单位的专家人数。")
    non_public_percent: float | None = strawberry.field(
        description="非公单位专家占比(百分数);总数为0时为 null。"
    )

    @classmethod
    def from_value(cls, s: svc.PoolStatistics) -> "PoolStatisticsType":
        return cls(
            today=s.today,
            total=s.total,
            by_series=_counts(s.by_series),
            by_specialty=_counts(s.by_specialty),
            by_level=_counts(s.by_level, {k.value: v for k, v in LEVEL_LABELS.items()}),
            by_unit_type=_counts(
                s.by_unit_type, {k.value: v for k, v in svc.UNIT_TYPE_LABELS.items()}
            ),
            youth=YouthShareType.from_value(s.youth),
            youth_by_committee=[
                CommitteeYouthShareType(committee_id=cid, youth=YouthShareType.from_value(y))
                for cid, y in sorted(s.youth_by_committee.items())
            ],
            non_public=s.non_public,
            non_public_percent=s.non_public_percent,
        )


# --- queries ------------------------------------------------------------------------


@strawberry.input(description="专家列表筛选条件(各条件同时满足)。\nExpert filter.")
class ExpertFilter:
    name_contains: str | None = strawberry.field(default=None, description="姓名包含该文字。")
    name_prefix: str | None = strawberry.field(
        default=None, description="姓名以该文字开头(可走索引,大名单上比 nameContains 快)。"
    )
    number: str | None = strawberry.field(default=None, description="专家编号(完全一致)。")
    phone: str | None = strawberry.field(
        default=None, description="手机号(完全一致,按加密哈希查找)。"
    )
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


@strawberry.input(description="入库申请列表筛选条件(各条件同时满足)。\nExpert application filter.")
class ExpertApplicationFilter:
    statuses: list[ExpertApplicationStatus] | None = strawberry.field(
        default=None,
        description="申请状态之一(如评审机构审核队列用 SUBMITTED,市人社局审批队列用 REVIEWED)。",
    )
    routes: list[EntryRoute] | None = strawberry.field(default=None, description="入库渠道之一。")
    institution_id: strawberry.ID | None = strawberry.field(
        default=None, description="负责审核的评审机构的 ID。"
    )
    committee_id: strawberry.ID | None = strawberry.field(
        default=None, description="拟入评委会的 ID。"
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
                name_prefix=f.name_prefix,
                number=f.number,
                phone=f.phone,
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

    @strawberry.field(
        description="入库申请列表(第十七条):市人社局看全部,评审机构看本机构的,推荐单位看"
        "本单位推荐的,专家看本人的;需要登录。\nExpert applications (login required)."
    )
    async def expert_applications(
        self,
        info: Info,
        filter: Annotated[
            ExpertApplicationFilter | None, strawberry.argument(description="筛选条件。")
        ] = None,
        order_by: Annotated[
            ExpertApplicationOrder, strawberry.argument(description="排序方式。")
        ] = ExpertApplicationOrder.CREATED_AT_ASC,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=BEFORE)] = None,
    ) -> Optional[Connection[ExpertApplicationType]]:  # noqa: UP045 - strawberry generic
        f = filter or ExpertApplicationFilter()
        qs = svc.expert_applications_query(
            ctx(info).actor,
            statuses=f.statuses,
            routes=f.routes,
            institution_id=expect_id(f.institution_id, "Institution", "institutionId"),
            committee_id=expect_id(f.committee_id, "Committee", "committeeId"),
        )
        page = await paginate(
            qs, APPLICATION_SORTS[order_by], page_args(first, after, last, before)
        )
        return connection(page, ExpertApplicationType.from_model)

    @strawberry.field(
        description="调用者待核对的专家信息变更(R8):所在单位看本单位专家的,评审机构看本机构"
        "专家的;已由本人核对过一方的变更不再列出。\nMy verification queue."
    )
    async def pending_expert_updates(self, info: Info) -> list[ExpertUpdateType]:
        rows = await svc.pending_updates_for(ctx(info).actor)
        return [ExpertUpdateType.from_model(u) for u in rows]

    @strawberry.field(
        description="专家库统计(第十四条,R13):市人社局为全库,评审机构为本机构专家;"
        "给出 committeeId 时只统计该评委会名单;评委会不存在或不可见时为 null。\n"
        "Pool statistics."
    )
    async def pool_statistics(
        self,
        info: Info,
        committee_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="只统计该评委会的专家名单。")
        ] = None,
    ) -> PoolStatisticsType | None:
        pk = None
        if committee_id is not None:
            pk = _typed_id(committee_id, "Committee")
            if pk is None:
                return None
        try:
            stats = await svc.pool_statistics(ctx(info).actor, committee_id=pk)
        except NotFound:
            return None
        return PoolStatisticsType.from_value(stats)


# --- mutations: inputs --------------------------------------------------------------


@strawberry.input(description="候选专家的个人与专业信息(第十五、十六条)。")
class _CandidateFields:
    institution_id: strawberry.ID = strawberry.field(
        description="负责审核的评审机构的 ID(须已备案且在有效期内)。"
    )
    name: str = strawberry.field(description="姓名。")
    id_number: str = strawberry.field(
        description="居民身份证号码(校验 GB 11643;性别、出生日期由此得出;加密保存)。"
    )
    phone: str = strawberry.field(description="手机号码(加密保存,只显示脱敏值)。")
    unit_id: strawberry.ID = strawberry.field(description="所在单位的 ID。")
    title: str = strawberry.field(description="现任职称。")
    title_level: Level = strawberry.field(description="职称层级。")
    title_obtained_on: dt.date = strawberry.field(description="取得现职称的日期。")
    series: str = strawberry.field(description="系列(国家规定的27个职称系列之一)。")
    specialty: str = strawberry.field(description="专业。")
    retirement_category: RetirementCategory = strawberry.field(
        description="原法定退休年龄类别(R5),须与身份证号码显示的性别一致。"
    )
    committee_id: strawberry.ID | None = strawberry.field(
        default=None, description="拟入评委会的 ID(须属于该评审机构)。"
    )
    email: str = strawberry.field(default="", description="电子邮箱。")
    field: str = strawberry.field(default="", description="研究领域。")
    exception_reason: str = strawberry.field(
        default="",
        description="急需紧缺专业例外条件的理由(第十六条(四));填写后职称条件留待市人社局批准。",
    )


@strawberry.input(description="推荐专家入库的输入。\nRecommendExpert input.")
class RecommendExpertInput(_CandidateFields):
    pass


@strawberry.input(description="市人社局邀请专家入库的输入。\nInviteExpert input.")
class InviteExpertInput(_CandidateFields):
    category: InvitationCategory = strawberry.field(description="邀请类别。")


@strawberry.input(description="评审机构审核入库申请的输入。\nReviewExpertApplication input.")
class ReviewExpertApplicationInput:
    application_id: strawberry.ID = strawberry.field(description="入库申请的 ID。")
    opinion: str = strawberry.field(description="审核意见。")
    recommend: bool = strawberry.field(
        description="true:审核通过,报市人社局审批;false:不予通过,申请即告未通过。"
    )


@strawberry.input(description="市人社局批准专家入库的输入。\nApproveExpert input.")
class ApproveExpertInput:
    application_id: strawberry.ID = strawberry.field(description="入库申请的 ID(须已经机构审核)。")
    approve_exception: bool = strawberry.field(
        default=False,
        description="同时批准申请中记录的急需紧缺专业例外条件(不符合一般条件时需要)。",
    )


@strawberry.input(
    description="退回入库申请要求补充或调整的输入。\nRequestExpertApplicationChanges input."
)
class RequestExpertApplicationChangesInput:
    application_id: strawberry.ID = strawberry.field(description="入库申请的 ID。")
    reason: str = strawberry.field(description="需要补充或调整的内容与理由(必填)。")


@strawberry.input(
    description="补充调整后重新提交入库申请的输入:只填需要修改的项,其余保持不变。"
    "身份证号码和所在单位不能修改。\nResubmitExpertApplication input."
)
class ResubmitExpertApplicationInput:
    application_id: strawberry.ID = strawberry.field(description="入库申请的 ID。")
    version: int = strawberry.field(description=VERSION)
    response: str = strawberry.field(default="", description="对补充调整要求的说明。")
    name: str | None = strawberry.field(default=None, description="更正后的姓名。")
    phone: str | None = strawberry.field(default=None, description="手机号码。")
    email: str | None = strawberry.field(default=None, description="电子邮箱。")
    title: str | None = strawberry.field(default=None, description="现职称名称。")
    title_level: Level | None = strawberry.field(default=None, description="职称层级。")
    title_obtained_on: dt.date | None = strawberry.field(
        default=None, description="取得现职称的日期。"
    )
    series: str | None = strawberry.field(default=None, description="系列。")
    specialty: str | None = strawberry.field(default=None, description="专业。")
    field: str | None = strawberry.field(default=None, description="研究领域。")
    exception_reason: str | None = strawberry.field(
        default=None, description="急需紧缺专业例外条件的理由;空字符串表示撤销。"
    )
    committee_id: strawberry.ID | None = strawberry.field(
        default=None, description="拟入评委会的 ID(须属于该评审机构)。"
    )


@strawberry.input(description="市人社局不予入库的输入。\nRejectExpert input.")
class RejectExpertInput:
    application_id: strawberry.ID = strawberry.field(description="入库申请的 ID。")
    reason: str = strawberry.field(description="不予入库的理由。")


@strawberry.input(
    description="专家申请修改本人信息的输入:只填需要修改的项(至少一项)。\n"
    "RequestExpertUpdate input."
)
class RequestExpertUpdateInput:
    expert_id: strawberry.ID = strawberry.field(description="专家(本人)的 ID。")
    phone: str | None = strawberry.field(default=None, description="新手机号码。")
    email: str | None = strawberry.field(default=None, description="新电子邮箱。")
    unit_id: strawberry.ID | None = strawberry.field(default=None, description="新所在单位的 ID。")
    title: str | None = strawberry.field(default=None, description="新职称。")
    title_level: Level | None = strawberry.field(default=None, description="新职称层级。")
    title_obtained_on: dt.date | None = strawberry.field(
        default=None, description="新职称的取得日期(不晚于今天)。"
    )
    specialty: str | None = strawberry.field(default=None, description="新专业。")
    field: str | None = strawberry.field(default=None, description="新研究领域。")


@strawberry.input(description="核对专家信息变更的输入。\nVerifyExpertUpdate input.")
class VerifyExpertUpdateInput:
    update_id: strawberry.ID = strawberry.field(description="信息变更的 ID。")
    approve: bool = strawberry.field(description="true:核对通过;false:不予通过(变更即告终止)。")
    reason: str = strawberry.field(
        default="", description="不予通过的理由(approve 为 false 时必填)。"
    )


@strawberry.input(description="专家签署保密协议的输入。\nSignConfidentialityAgreement input.")
class SignConfidentialityAgreementInput:
    expert_id: strawberry.ID = strawberry.field(description="专家(本人)的 ID。")
    version: str = strawberry.field(description="所签保密协议的版本。")


@strawberry.input(description="录入评前培训的输入:评审会议与年度二选一。\nRecordTraining input.")
class RecordTrainingInput:
    expert_id: strawberry.ID = strawberry.field(description="专家的 ID。")
    trained_on: dt.date = strawberry.field(description="培训日期(不晚于今天)。")
    topic: str = strawberry.field(description="培训内容。")
    session_id: strawberry.ID | None = strawberry.field(
        default=None, description="培训针对的本机构评审会议的 ID。"
    )
    year: int | None = strawberry.field(default=None, description="培训所属年度。")


@strawberry.input(description="录入专家聘期考核的输入。\nRecordExpertAssessment input.")
class RecordExpertAssessmentInput:
    expert_id: strawberry.ID = strawberry.field(description="专家的 ID。")
    term_id: strawberry.ID = strawberry.field(description="考核的聘期的 ID(须在任)。")
    quality: str = strawberry.field(description="评审质量。")
    duties: str = strawberry.field(description="履职情况。")
    supervision: str = strawberry.field(description="监督结果。")
    result: AssessmentResult = strawberry.field(description="考核结果;不合格即退出专家库(R17)。")


@strawberry.input(description="专家退出专家库的输入。\nExitExpert input.")
class ExitExpertInput:
    expert_id: strawberry.ID = strawberry.field(description="专家的 ID。")
    reason: ExitReason = strawberry.field(
        description="退出原因;超过退休年龄5年与考核不合格须属实。"
    )
    note: str = strawberry.field(description="说明。")


@strawberry.input(description="批准超过3届续聘的输入。\nGrantTermException input.")
class GrantTermExceptionInput:
    expert_id: strawberry.ID = strawberry.field(description="专家的 ID(须在第3届或以后的聘期)。")
    reason: str = strawberry.field(description="批准例外的理由。")


# --- mutations: payloads ------------------------------------------------------------

ERRORS = (
    "业务规则不满足或输入有误时的错误;非空时未做任何更改。"
    "不符合入库条件时每条原因一项(NOT_ELIGIBLE)。"
)
INPUT = "变更的输入。"


@strawberry.type(description="推荐专家入库的结果。\nRecommendExpert payload.")
class RecommendExpertPayload:
    application: ExpertApplicationType | None = strawberry.field(description="新提交的入库申请。")
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="邀请专家入库的结果。\nInviteExpert payload.")
class InviteExpertPayload:
    application: ExpertApplicationType | None = strawberry.field(description="新提交的入库申请。")
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="审核入库申请的结果。\nReviewExpertApplication payload.")
class ReviewExpertApplicationPayload:
    application: ExpertApplicationType | None = strawberry.field(description="审核后的入库申请。")
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="批准专家入库的结果。\nApproveExpert payload.")
class ApproveExpertPayload:
    application: ExpertApplicationType | None = strawberry.field(
        description="已批准的入库申请(专家已在库,并有第一届聘期)。"
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="不予入库的结果。\nRejectExpert payload.")
class RejectExpertPayload:
    application: ExpertApplicationType | None = strawberry.field(description="未通过的入库申请。")
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="退回补充调整的结果。\nRequestExpertApplicationChanges payload.")
class RequestExpertApplicationChangesPayload:
    application: ExpertApplicationType | None = strawberry.field(
        description="已退回补充调整的入库申请。"
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="重新提交入库申请的结果。\nResubmitExpertApplication payload.")
class ResubmitExpertApplicationPayload:
    application: ExpertApplicationType | None = strawberry.field(
        description="重新提交、等待评审机构再次审核的入库申请。"
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="申请修改本人信息的结果。\nRequestExpertUpdate payload.")
class RequestExpertUpdatePayload:
    update: ExpertUpdateType | None = strawberry.field(
        description="待核对的信息变更(核对通过前现有信息不变,R8)。"
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="核对信息变更的结果。\nVerifyExpertUpdate payload.")
class VerifyExpertUpdatePayload:
    update: ExpertUpdateType | None = strawberry.field(
        description="核对后的信息变更(两方均通过时已生效)。"
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="签署保密协议的结果。\nSignConfidentialityAgreement payload.")
class SignConfidentialityAgreementPayload:
    signature: AgreementSignatureType | None = strawberry.field(
        description="签署记录(已签署过该版本时为原记录)。"
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="录入评前培训的结果。\nRecordTraining payload.")
class RecordTrainingPayload:
    training: TrainingRecordType | None = strawberry.field(description="新录入的培训记录。")
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="录入专家考核的结果。\nRecordExpertAssessment payload.")
class RecordExpertAssessmentPayload:
    assessment: ExpertAssessmentType | None = strawberry.field(description="新录入的考核。")
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="专家退出专家库的结果。\nExitExpert payload.")
class ExitExpertPayload:
    expert: ExpertType | None = strawberry.field(
        description="已退出的专家(历史记录保留,不再参加抽取)。"
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="批准超过3届续聘的结果。\nGrantTermException payload.")
class GrantTermExceptionPayload:
    term: ExpertTermType | None = strawberry.field(description="记录了例外理由的在任聘期。")
    errors: list[UserError] = strawberry.field(description=ERRORS)


def eligibility_errors(exc: svc.EligibilityError) -> list[UserError]:
    """R4: one NOT_ELIGIBLE UserError per named reason, its message the reason's text.

    A lead sentence the resolver puts before the reasons (approval needs the urgently
    needed specialty exception) comes first, on the `approveException` field.
    """
    errors: list[UserError] = []
    lead = exc.message.removesuffix("".join(r.message for r in exc.reasons))
    if lead:
        errors.append(UserError(field="approveException", code=exc.code, message=lead))
    errors.extend(UserError(field=None, code=exc.code, message=r.message) for r in exc.reasons)
    return errors


async def _attempt(
    info: Info, call: Callable[[], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    """schema.mutation.attempt, with an eligibility refusal split into its reasons."""
    refused: list[svc.EligibilityError] = []

    async def guarded() -> T:
        try:
            return await call()
        except svc.EligibilityError as exc:
            refused.append(exc)
            raise

    result, errors = await attempt(info, guarded)
    if refused:
        return None, eligibility_errors(refused[0])
    return result, errors


def _candidate(input: _CandidateFields) -> dict[str, Any]:
    return {
        "institution_id": require_id(input.institution_id, "Institution", "institutionId"),
        "committee_id": expect_id(input.committee_id, "Committee", "committeeId"),
        "name": input.name,
        "id_number": input.id_number,
        "phone": input.phone,
        "email": input.email,
        "unit_id": require_id(input.unit_id, "Unit", "unitId"),
        "title": input.title,
        "title_level": input.title_level,
        "title_obtained_on": input.title_obtained_on,
        "series": input.series,
        "specialty": input.specialty,
        "field": input.field,
        "retirement_category": input.retirement_category,
        "exception_reason": input.exception_reason,
    }


def _changes(input: RequestExpertUpdateInput) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in ("phone", "email", "title", "title_level", "specialty", "field"):
        value = getattr(input, name)
        if value is not None:
            changes[name] = value
    if input.unit_id is not None:
        changes["unit_id"] = require_id(input.unit_id, "Unit", "unitId")
    if input.title_obtained_on is not None:
        changes["title_obtained_on"] = input.title_obtained_on
    return changes


def _application(m: ExpertApplication | None) -> ExpertApplicationType | None:
    return ExpertApplicationType.from_model(m) if m else None


def _update(m: ExpertUpdate | None) -> ExpertUpdateType | None:
    return ExpertUpdateType.from_model(m) if m else None


def _expert_id(value: strawberry.ID) -> int:
    return require_id(value, "Expert", "expertId")


def _application_id(value: strawberry.ID) -> int:
    return require_id(value, "ExpertApplication", "applicationId")


@strawberry.type(
    description="专家库的变更:入库、审核、信息变更、保密协议、培训、考核、退出与聘期。"
)
class ExpertMutation:
    @strawberry.mutation(
        description="推荐单位推荐专家入库(第十五条(一),R3):市属单位由行业主管部门推荐,区属、"
        "中央在京和非公单位由所在区人社局推荐,其他推荐单位一律拒绝(WRONG_RECOMMENDER);"
        "同时检查入库条件(R4),不符合时逐条说明原因(NOT_ELIGIBLE)。支持 Idempotency-Key。\n"
        "Recommend an expert."
    )
    async def recommend_expert(
        self,
        info: Info,
        input: Annotated[RecommendExpertInput, strawberry.argument(description=INPUT)],
    ) -> RecommendExpertPayload:
        actor = ctx(info).actor

        async def run() -> ExpertApplication:
            fields = _candidate(input)
            outcome = await create_once(
                info,
                input=input,
                model=ExpertApplication,
                create=lambda: svc.recommend_expert(actor, **fields),
            )
            return outcome.value

        app, errors = await _attempt(info, run)
        return RecommendExpertPayload(application=_application(app), errors=errors)

    @strawberry.mutation(
        description="市人社局邀请专家入库(第十五条(二)),注明邀请类别;受邀专家可超过法定退休"
        "年龄,但不得超过退休年龄5年(R4、R6)。支持 Idempotency-Key。\nInvite an expert."
    )
    async def invite_expert(
        self,
        info: Info,
        input: Annotated[InviteExpertInput, strawberry.argument(description=INPUT)],
    ) -> InviteExpertPayload:
        actor = ctx(info).actor

        async def run() -> ExpertApplication:
            fields = _candidate(input)
            outcome = await create_once(
                info,
                input=input,
                model=ExpertApplication,
                create=lambda: svc.invite_expert(actor, category=input.category, **fields),
            )
            return outcome.value

        app, errors = await _attempt(info, run)
        return InviteExpertPayload(application=_application(app), errors=errors)

    @strawberry.mutation(
        description="评审机构对入库申请进行资格审核并提出意见(第十七条)。\n"
        "Review an expert application."
    )
    async def review_expert_application(
        self,
        info: Info,
        input: Annotated[ReviewExpertApplicationInput, strawberry.argument(description=INPUT)],
    ) -> ReviewExpertApplicationPayload:
        app, errors = await _attempt(
            info,
            lambda: svc.review_expert_application(
                ctx(info).actor,
                _application_id(input.application_id),
                opinion=input.opinion,
                recommend=input.recommend,
            ),
        )
        return ReviewExpertApplicationPayload(application=_application(app), errors=errors)

    @strawberry.mutation(
        description="市人社局批准专家入库并备案(第十七条):当日重新检查入库条件(R4),"
        "专家进入专家库并开始第一届3年聘期(R7)。\nApprove an expert into the pool."
    )
    async def approve_expert(
        self,
        info: Info,
        input: Annotated[ApproveExpertInput, strawberry.argument(description=INPUT)],
    ) -> ApproveExpertPayload:
        app, errors = await _attempt(
            info,
            lambda: svc.approve_expert(
                ctx(info).actor,
                _application_id(input.application_id),
                approve_exception=input.approve_exception,
            ),
        )
        return ApproveExpertPayload(application=_application(app), errors=errors)

    @strawberry.mutation(
        description="市人社局不予入库(已提交或已审核的申请),须说明理由。\n"
        "Reject an expert application."
    )
    async def reject_expert(
        self,
        info: Info,
        input: Annotated[RejectExpertInput, strawberry.argument(description=INPUT)],
    ) -> RejectExpertPayload:
        app, errors = await _attempt(
            info,
            lambda: svc.reject_expert(
                ctx(info).actor, _application_id(input.application_id), reason=input.reason
            ),
        )
        return RejectExpertPayload(application=_application(app), errors=errors)

    @strawberry.mutation(
        description="退回入库申请,要求推荐单位(邀请入库时为市人社局)补充或调整(第十七条):"
        "评审机构在审核时、市人社局在决定前均可退回,须说明理由。\n"
        "Request additions or adjustments to an expert application."
    )
    async def request_expert_application_changes(
        self,
        info: Info,
        input: Annotated[
            RequestExpertApplicationChangesInput, strawberry.argument(description=INPUT)
        ],
    ) -> RequestExpertApplicationChangesPayload:
        app, errors = await _attempt(
            info,
            lambda: svc.request_expert_application_changes(
                ctx(info).actor, _application_id(input.application_id), reason=input.reason
            ),
        )
        return RequestExpertApplicationChangesPayload(application=_application(app), errors=errors)

    @strawberry.mutation(
        description="提交方补充调整后重新提交被退回的入库申请(第十七条):重新检查入库条件"
        "(R4),申请回到评审机构审核。\nResubmit an expert application after changes."
    )
    async def resubmit_expert_application(
        self,
        info: Info,
        input: Annotated[ResubmitExpertApplicationInput, strawberry.argument(description=INPUT)],
    ) -> ResubmitExpertApplicationPayload:
        actor = ctx(info).actor

        async def run() -> ExpertApplication:
            return await svc.resubmit_expert_application(
                actor,
                _application_id(input.application_id),
                version=input.version,
                response=input.response,
                name=input.name,
                phone=input.phone,
                email=input.email,
                title=input.title,
                title_level=input.title_level,
                title_obtained_on=input.title_obtained_on,
                series=input.series,
                specialty=input.specialty,
                field=input.field,
                exception_reason=input.exception_reason,
                committee_id=expect_id(input.committee_id, "Committee", "committeeId"),
            )

        app, errors = await _attempt(info, run)
        return ResubmitExpertApplicationPayload(application=_application(app), errors=errors)

    @strawberry.mutation(
        description="专家申请修改本人信息(第十九、二十一条,R8):所在单位与评审机构均核对通过后"
        "才生效,此前任何人看到的仍是现有信息;同时只能有一项待核对的变更。"
        "支持 Idempotency-Key。\nRequest a profile update."
    )
    async def request_expert_update(
        self,
        info: Info,
        input: Annotated[RequestExpertUpdateInput, strawberry.argument(description=INPUT)],
    ) -> RequestExpertUpdatePayload:
        actor = ctx(info).actor

        async def run() -> ExpertUpdate:
            expert_id, changes = _expert_id(input.expert_id), _changes(input)
            outcome = await create_once(
                info,
                input=input,
                model=ExpertUpdate,
                create=lambda: svc.request_expert_update(actor, expert_id, changes=changes),
            )
            return outcome.value

        update, errors = await _attempt(info, run)
        return RequestExpertUpdatePayload(update=_update(update), errors=errors)

    @strawberry.mutation(
        description="所在单位或评审机构核对专家的信息变更(R8):两方均通过时变更生效;任一方不予"
        "通过即终止。同一人只能核对一方。\nVerify a profile update."
    )
    async def verify_expert_update(
        self,
        info: Info,
        input: Annotated[VerifyExpertUpdateInput, strawberry.argument(description=INPUT)],
    ) -> VerifyExpertUpdatePayload:
        update, errors = await _attempt(
            info,
            lambda: svc.verify_expert_update(
                ctx(info).actor,
                require_id(input.update_id, "ExpertUpdate", "updateId"),
                approve=input.approve,
                reason=input.reason,
            ),
        )
        return VerifyExpertUpdatePayload(update=_update(update), errors=errors)

    @strawberry.mutation(
        description="专家签署保密协议(第二十五条,R19),记录签署时间与所签文本的哈希;"
        "重复签署同一版本返回原记录。\nSign the confidentiality agreement."
    )
    async def sign_confidentiality_agreement(
        self,
        info: Info,
        input: Annotated[SignConfidentialityAgreementInput, strawberry.argument(description=INPUT)],
    ) -> SignConfidentialityAgreementPayload:
        signature, errors = await _attempt(
            info,
            lambda: svc.sign_confidentiality_agreement(
                ctx(info).actor, _expert_id(input.expert_id), version=input.version
            ),
        )
        return SignConfidentialityAgreementPayload(
            signature=_signature(signature, input.version), errors=errors
        )

    @strawberry.mutation(
        description="评审机构录入评前培训(第九条(四),R19),针对本机构的一次评审会议或一个年度。"
        "支持 Idempotency-Key。\nRecord training."
    )
    async def record_training(
        self,
        info: Info,
        input: Annotated[RecordTrainingInput, strawberry.argument(description=INPUT)],
    ) -> RecordTrainingPayload:
        actor = ctx(info).actor

        async def run() -> TrainingRecord:
            expert_id = _expert_id(input.expert_id)
            session_id = expect_id(input.session_id, "EvaluationSession", "sessionId")
            outcome = await create_once(
                info,
                input=input,
                model=TrainingRecord,
                create=lambda: svc.record_training(
                    actor,
                    expert_id,
                    session_id=session_id,
                    year=input.year,
                    trained_on=input.trained_on,
                    topic=input.topic,
                ),
            )
            return outcome.value

        row, errors = await _attempt(info, run)
        return RecordTrainingPayload(
            training=TrainingRecordType.from_model(row) if row else None, errors=errors
        )

    @strawberry.mutation(
        description="评审机构录入专家一个聘期的考核(第三十二条):合格且在聘期最后一年的,"
        "次日自动续聘(R7);不合格的,专家当即退出专家库(R17)。支持 Idempotency-Key。\n"
        "Record an expert assessment."
    )
    async def record_expert_assessment(
        self,
        info: Info,
        input: Annotated[RecordExpertAssessmentInput, strawberry.argument(description=INPUT)],
    ) -> RecordExpertAssessmentPayload:
        actor = ctx(info).actor

        async def run() -> ExpertAssessment:
            expert_id = _expert_id(input.expert_id)
            term_id = require_id(input.term_id, "ExpertTerm", "termId")
            outcome = await create_once(
                info,
                input=input,
                model=ExpertAssessment,
                create=lambda: svc.record_expert_assessment(
                    actor,
                    expert_id,
                    term_id=term_id,
                    quality=input.quality,
                    duties=input.duties,
                    supervision=input.supervision,
                    result=input.result,
                ),
            )
            return outcome.value

        row, errors = await _attempt(info, run)
        return RecordExpertAssessmentPayload(
            assessment=ExpertAssessmentType.from_model(row) if row else None, errors=errors
        )

    @strawberry.mutation(
        description="市人社局或所属评审机构使专家退出专家库(第二十二条,R6),注明原因;"
        "历史记录保留,在任聘期结束,待核对的变更撤回。\nExit an expert from the pool."
    )
    async def exit_expert(
        self,
        info: Info,
        input: Annotated[ExitExpertInput, strawberry.argument(description=INPUT)],
    ) -> ExitExpertPayload:
        expert, errors = await _attempt(
            info,
            lambda: svc.exit_expert(
                ctx(info).actor, _expert_id(input.expert_id), reason=input.reason, note=input.note
            ),
        )
        return ExitExpertPayload(
            expert=ExpertType.from_model(expert) if expert else None, errors=errors
        )

    @strawberry.mutation(
        description="市人社局批准专家超过3届续聘的例外(第十九条,R7),记录在第3届或以后的"
        "在任聘期上。\nGrant a term exception."
    )
    async def grant_term_exception(
        self,
        info: Info,
        input: Annotated[GrantTermExceptionInput, strawberry.argument(description=INPUT)],
    ) -> GrantTermExceptionPayload:
        term, errors = await _attempt(
            info,
            lambda: svc.grant_term_exception(
                ctx(info).actor, _expert_id(input.expert_id), reason=input.reason
            ),
        )
        return GrantTermExceptionPayload(
            term=ExpertTermType.from_model(term) if term else None, errors=errors
        )


def _signature(m: AgreementSignature | None, version: str) -> AgreementSignatureType | None:
    if m is None:
        return None
    # The resolver found the signature by exactly this version: it is the one signed.
    return AgreementSignatureType(
        expert_id=m.expert_id,  # type: ignore[attr-defined]
        agreement_version=version,
        signed_at=m.signed_at,
        content_hash=m.content_hash,
    )
