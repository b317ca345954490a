"""Review requests, complaints and reports (Art. 9(七), 28; R16): the handler queue,
the public status check, intake and handling mutations.

Thin over resolvers.complaint. The complainant's identity is never a plain field: only
`complainantIdentity`, which the resolver allows to the handling institution and the
bureau and audits on every read; a target of the complaint cannot see the case at all.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Annotated, Optional

import strawberry
from strawberry.types import Info

import schema.evaluation  # noqa: F401 - registers ApplicantResult before RecountResult uses it
from models import Complaint, ComplaintNote
from models.enums import (
    ApplicantResult,
    ComplaintChannel,
    ComplaintKind,
    ComplaintStatus,
    NonAcceptanceReason,
    TargetType,
)
from resolvers import complaint as svc
from resolvers.complaint import ComplaintOrder, ComplaintStatusView, RecountResult
from resolvers.errors import NotFound
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
    from_global_id,
    page_args,
    register_node,
)

INPUT = "变更的输入。\nThe mutation input."

strawberry.enum(ComplaintKind, description="事项类别:复查申请、投诉、举报。\nComplaint kind.")
strawberry.enum(
    ComplaintStatus,
    description="办理状态:已收到、已受理、不予受理、办理中、已答复、已办结。\nComplaint status.",
)
strawberry.enum(ComplaintChannel, description="提交渠道:网上、申报人、合作平台。\nIntake channel.")
strawberry.enum(
    NonAcceptanceReason,
    description="不予受理理由(第二十八条):无证据、无可查证线索、无具体对象、无违规事实、"
    "非申报人本人、超出复查范围。\nNon-acceptance reason.",
)
strawberry.enum(
    TargetType,
    description="投诉举报对象类别:评审机构、评委会、专家、评审会议、评审通过人员。\nTarget type.",
)
strawberry.enum(
    ComplaintOrder,
    name="ComplaintOrderBy",
    description="投诉举报列表排序方式(按收到时间)。\nComplaint ordering.",
)


@strawberry.type(
    name="ComplaintNote", description="办理记录(不向投诉人公开)。\nAn investigation note."
)
class ComplaintNoteType(Node):
    body: str = strawberry.field(description="内容。")
    created_at: dt.datetime = strawberry.field(description="记录时间。")

    @classmethod
    def from_model(cls, m: ComplaintNote) -> "ComplaintNoteType":
        return cls(pk=m.pk, body=m.body, created_at=m.created_at)


@strawberry.type(
    name="ComplainantIdentity",
    description="实名投诉人的身份(R16):仅办理机构与市人社局可见,每次查看均记入审计。\n"
    "The complainant's identity.",
)
class ComplainantIdentityType:
    anonymous: bool = strawberry.field(description="是否匿名(匿名时姓名与联系方式为空)。")
    name: str = strawberry.field(description="姓名。")
    contact: str = strawberry.field(description="联系方式。")


@strawberry.type(
    name="Complaint",
    description="复查申请、投诉或举报(办理人可见;不含投诉人身份,R16)。\nA complaint.",
)
class ComplaintType(Node):
    kind: ComplaintKind = strawberry.field(description="事项类别。")
    channel: ComplaintChannel = strawberry.field(description="提交渠道。")
    target_type: TargetType = strawberry.field(description="对象类别。")
    target_id: int | None = strawberry.field(description="对象的内部编号。")
    target_description: str = strawberry.field(description="对象说明。")
    facts: str = strawberry.field(description="事实与理由。")
    clues: str = strawberry.field(description="可查证的线索。")
    anonymous: bool = strawberry.field(description="是否匿名提交。")
    hotline_ticket: str = strawberry.field(description="12345 接诉即办工单号。")
    tracking_code: str = strawberry.field(description="查询码。")
    status: ComplaintStatus = strawberry.field(description="办理状态。")
    non_acceptance_reason: NonAcceptanceReason | None = strawberry.field(
        description="不予受理理由。"
    )
    due_on: dt.date | None = strawberry.field(description="办理时限(按工作日计算)。")
    answer: str = strawberry.field(description="书面答复。")
    answered_at: dt.datetime | None = strawberry.field(description="答复时间。")
    closed_at: dt.datetime | None = strawberry.field(description="办结时间。")
    escalated_at: dt.datetime | None = strawberry.field(description="超时上报市人社局的时间。")
    outcome: str = strawberry.field(description="复查结论(upheld 或 dismissed)。")
    received_at: dt.datetime = strawberry.field(description="收到时间。")
    version: int = strawberry.field(description="版本号(乐观锁)。")

    @strawberry.field(description="办理记录。")
    async def notes(self, info: Info) -> list[ComplaintNoteType]:
        rows = await svc.list_complaint_notes(ctx(info).actor, self.pk)
        return [ComplaintNoteType.from_model(n) for n in rows]

    @strawberry.field(
        description="投诉人身份:仅办理机构与市人社局可查看,每次查看均记入审计;"
        "其他调用者得到 FORBIDDEN 或 NOT_FOUND 错误。"
    )
    async def complainant_identity(self, info: Info) -> ComplainantIdentityType:
        found = await svc.complaint_identity(ctx(info).actor, self.pk)
        return ComplainantIdentityType(
            anonymous=found.anonymous, name=found.name, contact=found.contact
        )

    @classmethod
    def from_model(cls, m: Complaint) -> "ComplaintType":
        return cls(
            pk=m.pk,
            kind=ComplaintKind(m.kind),
            channel=ComplaintChannel(m.channel),
            target_type=TargetType(m.target_type),
            target_id=m.target_id,
            target_description=m.target_description,
            facts=m.facts,
            clues=m.clues,
            anonymous=m.anonymous,
            hotline_ticket=m.hotline_ticket,
            tracking_code=m.tracking_code,
            status=ComplaintStatus(m.status),
            non_acceptance_reason=(
                NonAcceptanceReason(m.non_acceptance_reason) if m.non_acceptance_reason else None
            ),
            due_on=m.due_on,
            answer=m.answer,
            answered_at=m.answered_at,
            closed_at=m.closed_at,
            escalated_at=m.escalated_at,
            outcome=m.outcome,
            received_at=m.created_at,
            version=m.version,
        )


@strawberry.type(
    name="ComplaintStatusView",
    description="投诉人凭查询码和查询密码看到的办理情况(不含办理记录与任何人的身份)。\n"
    "The complainant's status view.",
)
class ComplaintStatusViewType:
    tracking_code: str = strawberry.field(description="查询码。")
    kind: ComplaintKind = strawberry.field(description="事项类别。")
    status: ComplaintStatus = strawberry.field(description="办理状态。")
    status_label: str = strawberry.field(description="办理状态(中文)。")
    received_at: dt.datetime = strawberry.field(description="收到时间。")
    due_on: dt.date | None = strawberry.field(description="办理时限。")
    non_acceptance_reason: NonAcceptanceReason | None = strawberry.field(
        description="不予受理理由。"
    )
    non_acceptance_text: str = strawberry.field(description="不予受理理由的说明。")
    answer: str = strawberry.field(description="书面答复。")
    answered_at: dt.datetime | None = strawberry.field(description="答复时间。")
    closed_at: dt.datetime | None = strawberry.field(description="办结时间。")
    outcome: str = strawberry.field(description="复查结论。")

    @classmethod
    def from_view(cls, v: ComplaintStatusView) -> "ComplaintStatusViewType":
        return cls(
            tracking_code=v.tracking_code,
            kind=v.kind,
            status=v.status,
            status_label=v.status_label,
            received_at=v.received_at,
            due_on=v.due_on,
            non_acceptance_reason=v.non_acceptance_reason,
            non_acceptance_text=v.non_acceptance_text,
            answer=v.answer,
            answered_at=v.answered_at,
            closed_at=v.closed_at,
            outcome=v.outcome,
        )


@strawberry.type(name="ProcedureCheck", description="复查的程序核查项。\nA procedure check.")
class ProcedureCheckType:
    key: str = strawberry.field(description="核查项标识。")
    label: str = strawberry.field(description="核查项名称。")
    ok: bool = strawberry.field(description="是否合规。")
    detail: str = strawberry.field(description="说明。")


@strawberry.type(
    name="RecountResult",
    description="依据存储的选票复核计票的结果(R14,第二十八条)。\nA recount.",
)
class RecountResultType:
    stored_for: int = strawberry.field(description="原记录的同意票数。")
    stored_against: int = strawberry.field(description="原记录的不同意票数。")
    stored_abstain: int = strawberry.field(description="原记录的弃权票数。")
    stored_result: ApplicantResult = strawberry.field(description="原评审结果。")
    counted_for: int = strawberry.field(description="复核的同意票数。")
    counted_against: int = strawberry.field(description="复核的不同意票数。")
    counted_abstain: int = strawberry.field(description="复核的弃权票数。")
    present: int = strawberry.field(description="出席专家人数。")
    counted_result: ApplicantResult = strawberry.field(description="复核得出的结果。")
    miscounted: bool = strawberry.field(description="原计票是否有误。")
    procedure_ok: bool = strawberry.field(description="程序核查是否全部合规。")
    checks: list[ProcedureCheckType] = strawberry.field(description="程序核查项。")

    @classmethod
    def from_result(cls, r: RecountResult) -> "RecountResultType":
        return cls(
            stored_for=r.stored_for,
            stored_against=r.stored_against,
            stored_abstain=r.stored_abstain,
            stored_result=r.stored_result,
            counted_for=r.counted_for,
            counted_against=r.counted_against,
            counted_abstain=r.counted_abstain,
            present=r.present,
            counted_result=r.counted_result,
            miscounted=r.miscounted,
            procedure_ok=r.procedure_ok,
            checks=[
                ProcedureCheckType(key=c.key, label=c.label, ok=c.ok, detail=c.detail)
                for c in r.checks
            ],
        )


async def _fetch_complaints(info: Info, pks: Sequence[int]) -> list[Node | None]:
    out: list[Node | None] = []
    for pk in pks:
        try:
            out.append(ComplaintType.from_model(await svc.get_complaint(ctx(info).actor, pk)))
        except NotFound:
            out.append(None)
    return out


register_node("Complaint", _fetch_complaints)


@strawberry.input(description="投诉举报列表的筛选条件。\nComplaint filter.")
class ComplaintFilter:
    statuses: list[ComplaintStatus] | None = strawberry.field(
        default=None, description="只返回这些状态的事项。"
    )
    kinds: list[ComplaintKind] | None = strawberry.field(
        default=None, description="只返回这些类别的事项。"
    )


@strawberry.type(description="投诉举报查询。")
class ComplaintQuery:
    @strawberry.field(
        description="办理人的投诉举报列表(办理机构与市人社局;被投诉人看不到针对自己的事项);"
        "需登录。\nComplaints."
    )
    async def complaints(
        self,
        info: Info,
        filter: Annotated[
            ComplaintFilter | None, strawberry.argument(description="筛选条件。")
        ] = None,
        order_by: Annotated[
            ComplaintOrder, strawberry.argument(description="排序方式。")
        ] = ComplaintOrder.RECEIVED_DESC,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=BEFORE)] = None,
    ) -> Optional[Connection[ComplaintType]]:  # noqa: UP045 - strawberry needs the generic form
        f = filter or ComplaintFilter()
        page = await svc.list_complaints_page(
            ctx(info).actor,
            statuses=f.statuses,
            kinds=f.kinds,
            order=order_by,
            page=page_args(first, after, last, before),
        )
        return connection(page, ComplaintType.from_model)

    @strawberry.field(description="按 ID 查询一件投诉举报;不存在或不可见时为 null。")
    async def complaint(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="事项的 ID。")],
    ) -> ComplaintType | None:
        parsed = from_global_id(id)
        if parsed is None or parsed[0] != "Complaint":
            return None
        return (await _fetch_complaints(info, [parsed[1]]))[0]  # type: ignore[return-value]

    @strawberry.field(
        description="投诉人凭查询码和查询密码查看办理情况(公开);码或密码错误时返回同样的 "
        "NOT_FOUND 错误。\nComplaint status."
    )
    async def complaint_status(
        self,
        tracking_code: Annotated[str, strawberry.argument(description="查询码。")],
        password: Annotated[str, strawberry.argument(description="提交时获得的查询密码。")],
    ) -> ComplaintStatusViewType:
        view = await svc.complaint_status(tracking_code, password)
        return ComplaintStatusViewType.from_view(view)


# --- inputs and payloads --------------------------------------------------------------


@strawberry.input(description="提交复查申请、投诉或举报的输入。\nSubmit a complaint.")
class SubmitComplaintInput:
    kind: ComplaintKind = strawberry.field(description="事项类别。")
    target_type: TargetType = strawberry.field(description="对象类别。")
    target_id: int | None = strawberry.field(default=None, description="对象的内部编号。")
    target_description: str = strawberry.field(default="", description="对象说明。")
    facts: str = strawberry.field(description="事实与理由。")
    clues: str = strawberry.field(default="", description="可查证的线索。")
    anonymous: bool = strawberry.field(description="是否匿名(匿名时不保存任何身份信息)。")
    complainant_name: str = strawberry.field(default="", description="实名投诉人姓名。")
    complainant_contact: str = strawberry.field(default="", description="实名投诉人联系方式。")
    hotline_ticket: str = strawberry.field(default="", description="12345 接诉即办工单号。")
    applicant_id: strawberry.ID | None = strawberry.field(
        default=None, description="复查申请涉及的申报记录 ID。"
    )


@strawberry.input(description="受理或不予受理的输入(R16)。\nScreen a complaint.")
class ScreenComplaintInput:
    complaint_id: strawberry.ID = strawberry.field(description="事项 ID。")
    accept: bool = strawberry.field(description="是否受理。")
    reason: NonAcceptanceReason | None = strawberry.field(
        default=None, description="不予受理理由(不予受理时必填)。"
    )
    version: int | None = strawberry.field(default=None, description="看到的版本号(乐观锁)。")


@strawberry.input(description="添加办理记录的输入。\nAdd a note.")
class AddComplaintNoteInput:
    complaint_id: strawberry.ID = strawberry.field(description="事项 ID。")
    body: str = strawberry.field(description="内容。")


@strawberry.input(description="书面答复的输入。\nAnswer a complaint.")
class AnswerComplaintInput:
    complaint_id: strawberry.ID = strawberry.field(description="事项 ID。")
    answer: str = strawberry.field(description="答复内容。")
    version: int | None = strawberry.field(default=None, description="看到的版本号(乐观锁)。")


@strawberry.input(description="办结的输入。\nClose a complaint.")
class CloseComplaintInput:
    complaint_id: strawberry.ID = strawberry.field(description="事项 ID。")
    version: int | None = strawberry.field(default=None, description="看到的版本号(乐观锁)。")


@strawberry.input(description="复核计票的输入。\nRecount a review request.")
class RecountReviewRequestInput:
    complaint_id: strawberry.ID = strawberry.field(description="复查申请 ID。")


@strawberry.type(description="提交投诉举报的结果。\nSubmit payload.")
class SubmitComplaintPayload:
    tracking_code: str | None = strawberry.field(description="查询码;失败时为 null。")
    query_password: str | None = strawberry.field(
        description="查询密码:只在首次应答中出现一次(仅存哈希);以同一 Idempotency-Key "
        "重放时为 null。"
    )
    status: ComplaintStatus | None = strawberry.field(description="办理状态。")
    due_on: dt.date | None = strawberry.field(description="受理审查时限。")
    errors: list[UserError] = strawberry.field(description="业务错误;成功时为空列表。")


@strawberry.type(description="投诉举报变更的结果。\nComplaint payload.")
class ComplaintPayload:
    complaint: ComplaintType | None = strawberry.field(description="变更后的事项;失败时为 null。")
    errors: list[UserError] = strawberry.field(description="业务错误;成功时为空列表。")


@strawberry.type(description="添加办理记录的结果。\nNote payload.")
class AddComplaintNotePayload:
    note: ComplaintNoteType | None = strawberry.field(description="办理记录;失败时为 null。")
    errors: list[UserError] = strawberry.field(description="业务错误;成功时为空列表。")


@strawberry.type(description="复核计票的结果。\nRecount payload.")
class RecountReviewRequestPayload:
    recount: RecountResultType | None = strawberry.field(description="复核结果;失败时为 null。")
    errors: list[UserError] = strawberry.field(description="业务错误;成功时为空列表。")


def _complaint_id(global_id: strawberry.ID) -> int:
    return require_id(global_id, "Complaint", "complaintId")


def _complaint(m: Complaint | None) -> ComplaintType | None:
    return ComplaintType.from_model(m) if m else None


@strawberry.type(description="投诉举报的变更。")
class ComplaintMutation:
    @strawberry.mutation(
        description="提交复查申请、投诉或举报(可匿名;复查申请须申报人本人实名)。返回查询码与"
        "一次性查询密码。支持 Idempotency-Key。\nSubmit a complaint."
    )
    async def submit_complaint(
        self,
        info: Info,
        input: Annotated[SubmitComplaintInput, strawberry.argument(description=INPUT)],
    ) -> SubmitComplaintPayload:
        actor = ctx(info).actor
        password: list[str] = []

        async def create() -> Complaint:
            applicant_id = (
                require_id(input.applicant_id, "SessionApplicant", "applicantId")
                if input.applicant_id is not None
                else None
            )
            found, secret = await svc.submit_complaint(
                actor,
                kind=input.kind,
                target_type=input.target_type,
                target_id=input.target_id,
                target_description=input.target_description,
                facts=input.facts,
                clues=input.clues,
                anonymous=input.anonymous,
                complainant_name=input.complainant_name,
                complainant_contact=input.complainant_contact,
                hotline_ticket=input.hotline_ticket,
                applicant_id=applicant_id,
            )
            password.append(secret)
            return found

        async def run() -> Complaint:
            return (await create_once(info, input=input, model=Complaint, create=create)).value

        found, errors = await attempt(info, run)
        if found is None:
            return SubmitComplaintPayload(
                tracking_code=None, query_password=None, status=None, due_on=None, errors=errors
            )
        return SubmitComplaintPayload(
            tracking_code=found.tracking_code,
            query_password=password[0] if password else None,
            status=ComplaintStatus(found.status),
            due_on=found.due_on,
            errors=[],
        )

    @strawberry.mutation(
        description="受理,或以第二十八条所列理由不予受理(理由告知投诉人,R16)。\nScreen a complaint."
    )
    async def screen_complaint(
        self,
        info: Info,
        input: Annotated[ScreenComplaintInput, strawberry.argument(description=INPUT)],
    ) -> ComplaintPayload:
        found, errors = await attempt(
            info,
            lambda: svc.screen_complaint(
                ctx(info).actor,
                _complaint_id(input.complaint_id),
                accept=input.accept,
                reason=input.reason,
                version=input.version,
            ),
        )
        return ComplaintPayload(complaint=_complaint(found), errors=errors)

    @strawberry.mutation(
        description="添加办理记录(不向投诉人公开)。支持 Idempotency-Key。\nAdd a note."
    )
    async def add_complaint_note(
        self,
        info: Info,
        input: Annotated[AddComplaintNoteInput, strawberry.argument(description=INPUT)],
    ) -> AddComplaintNotePayload:
        actor = ctx(info).actor

        async def run() -> ComplaintNote:
            complaint_id = _complaint_id(input.complaint_id)
            outcome = await create_once(
                info,
                input=input,
                model=ComplaintNote,
                create=lambda: svc.add_complaint_note(actor, complaint_id, body=input.body),
            )
            return outcome.value

        note, errors = await attempt(info, run)
        return AddComplaintNotePayload(
            note=ComplaintNoteType.from_model(note) if note else None, errors=errors
        )

    @strawberry.mutation(description="书面答复投诉人。\nAnswer a complaint.")
    async def answer_complaint(
        self,
        info: Info,
        input: Annotated[AnswerComplaintInput, strawberry.argument(description=INPUT)],
    ) -> ComplaintPayload:
        found, errors = await attempt(
            info,
            lambda: svc.answer_complaint(
                ctx(info).actor,
                _complaint_id(input.complaint_id),
                answer=input.answer,
                version=input.version,
            ),
        )
        return ComplaintPayload(complaint=_complaint(found), errors=errors)

    @strawberry.mutation(description="办结已答复或不予受理的事项。\nClose a complaint.")
    async def close_complaint(
        self,
        info: Info,
        input: Annotated[CloseComplaintInput, strawberry.argument(description=INPUT)],
    ) -> ComplaintPayload:
        found, errors = await attempt(
            info,
            lambda: svc.close_complaint(
                ctx(info).actor, _complaint_id(input.complaint_id), version=input.version
            ),
        )
        return ComplaintPayload(complaint=_complaint(found), errors=errors)

    @strawberry.mutation(
        description="依据存储的选票复核复查申请所涉申报人的计票并核查程序。\n"
        "Recount a review request."
    )
    async def recount_review_request(
        self,
        info: Info,
        input: Annotated[RecountReviewRequestInput, strawberry.argument(description=INPUT)],
    ) -> RecountReviewRequestPayload:
        result, errors = await attempt(
            info,
            lambda: svc.recount_review_request(ctx(info).actor, _complaint_id(input.complaint_id)),
        )
        return RecountReviewRequestPayload(
            recount=RecountResultType.from_result(result) if result else None, errors=errors
        )
