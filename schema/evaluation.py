"""Evaluation sessions (评审会议): types, queries and mutations (Art. 13, 26–30; R10–R15,
R19).

Thin over resolvers.evaluation. The sealed panel (R19) is decided there: the `panel`,
`draws` and `drawBundle` fields ask the resolver and show null (or an empty list) when
it answers NotFound / PermissionDenied, so a caller who may not see the panel cannot
even tell whether one has been drawn. Applicants' ID numbers only ever leave as masks.
"""

import datetime as dt
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Optional, TypeVar

import strawberry
from strawberry.types import Info

import schema.enums  # noqa: F401 - registers the shared GraphQL enums
from models import (
    ConflictDeclaration,
    Draw,
    EvaluationSession,
    PanelMember,
    Recording,
    SessionApplicant,
    SupervisorAssignment,
    Vote,
)
from models.enums import (
    ApplicantResult,
    ConflictKind,
    DeclaredBy,
    DrawStatus,
    Level,
    PanelStatus,
    RecordingKind,
    Seat,
    SessionStatus,
    VoteChoice,
)
from resolvers import evaluation as svc
from resolvers.errors import DomainError, NotFound, PermissionDenied, Unauthenticated
from resolvers.evaluation import SessionOrder
from schema.context import ctx
from schema.errors import UserError
from schema.institution import CommitteeType
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

T = TypeVar("T")
INPUT = "变更的输入。\nThe mutation input."

strawberry.enum(
    SessionStatus,
    description="评审会议状态:计划、已承诺抽取、已抽取、评审中、已确定结果、已取消。\n"
    "Session status.",
)
strawberry.enum(DrawStatus, description="专家抽取状态:已承诺、已抽取、已放弃。\nDraw status.")
strawberry.enum(PanelStatus, description="评审组成员状态:已邀请、已接受、已谢绝。\nPanel status.")
strawberry.enum(
    ConflictKind,
    description="回避事由(第二十六条):亲属、利害关系、同一单位、争议、其他。\nConflict kind.",
)
strawberry.enum(DeclaredBy, description="回避申报人:专家、申报人、工作人员、系统。\nDeclarant.")
strawberry.enum(VoteChoice, description="表决意见:同意、不同意、弃权。\nVote choice.")
strawberry.enum(ApplicantResult, description="评审结果:待定、通过、未通过。\nApplicant result.")
strawberry.enum(RecordingKind, description="录音录像类别:音频或视频。\nRecording kind.")
strawberry.enum(
    SessionOrder,
    name="EvaluationSessionOrderBy",
    description="评审会议列表排序方式(按开始时间)。\nSession ordering.",
)


async def _sealed(call: Callable[[], Awaitable[T]]) -> T | None:
    """What the resolver refuses to show looks absent (R19: not even "forbidden")."""
    try:
        return await call()
    except (NotFound, PermissionDenied, Unauthenticated, DomainError):
        return None


def _fk(obj: object, name: str) -> int | None:
    value = getattr(obj, f"{name}_id", None)
    return int(value) if value is not None else None


@strawberry.type(
    name="SessionApplicant",
    description="申报人:姓名、工作单位、申报层级与评审结果;身份证号仅显示掩码。\nAn applicant.",
)
class SessionApplicantType(Node):
    name: str = strawberry.field(description="申报人姓名。")
    id_number_masked: str = strawberry.field(description="身份证号掩码(不返回完整号码)。")
    unit_id: strawberry.ID = strawberry.field(description="工作单位 ID。")
    series: str = strawberry.field(description="系列。")
    specialty: str = strawberry.field(description="专业。")
    level: Level = strawberry.field(description="申报层级。")
    result: ApplicantResult = strawberry.field(description="评审结果(确定结果前为待定)。")
    votes_for: int = strawberry.field(description="同意票数(确定结果时计入,R14)。")
    votes_against: int = strawberry.field(description="不同意票数。")
    votes_abstain: int = strawberry.field(description="弃权票数。")
    recorded_by_bureau_at: dt.datetime | None = strawberry.field(
        description="市人社局记录评审通过的时间(R18)。"
    )

    @classmethod
    def from_model(cls, m: SessionApplicant) -> "SessionApplicantType":
        return cls(
            pk=m.pk,
            name=m.name,
            id_number_masked=m.id_number_masked,
            unit_id=strawberry.ID(to_global_id("Unit", _fk(m, "unit") or 0)),
            series=m.series,
            specialty=m.specialty,
            level=Level(m.level),
            result=ApplicantResult(m.result),
            votes_for=m.votes_for,
            votes_against=m.votes_against,
            votes_abstain=m.votes_abstain,
            recorded_by_bureau_at=m.recorded_by_bureau_at,
        )


@strawberry.type(
    name="SupervisorAssignment",
    description="监督委员指派(第三十条)。\nA supervisor assignment.",
)
class SupervisorAssignmentType(Node):
    user_id: strawberry.ID = strawberry.field(description="监督委员的用户 ID。")
    assigned_at: dt.datetime = strawberry.field(description="指派时间。")

    @classmethod
    def from_model(cls, m: SupervisorAssignment) -> "SupervisorAssignmentType":
        return cls(
            pk=m.pk,
            user_id=strawberry.ID(to_global_id("User", _fk(m, "user") or 0)),
            assigned_at=m.created_at,
        )


@strawberry.type(
    name="Draw",
    description="一次专家抽取(第十三条,R10):抽取前公布承诺(专家库哈希与密钥哈希),"
    "抽取时由监督委员输入公开随机数,抽取后公开密钥。\nA commit–reveal draw.",
)
class DrawType(Node):
    status: DrawStatus = strawberry.field(description="抽取状态。")
    pool_hash: str = strawberry.field(description="冻结的候选专家及排除理由的 SHA-256(承诺)。")
    secret_hash: str = strawberry.field(description="服务器密钥的 SHA-256(承诺)。")
    entropy: str = strawberry.field(description="监督委员输入的公开随机数(抽取前为空)。")
    seed: str = strawberry.field(description="随机数种子 SHA-256(密钥‖随机数‖专家库哈希)。")
    secret_revealed: str = strawberry.field(description="抽取后公开的服务器密钥(十六进制)。")
    committed_at: dt.datetime = strawberry.field(description="公布承诺的时间。")
    executed_at: dt.datetime | None = strawberry.field(description="抽取时间。")
    abandon_reason: str = strawberry.field(description="重新抽取时放弃本次抽取的理由。")

    @classmethod
    def from_model(cls, m: Draw) -> "DrawType":
        return cls(
            pk=m.pk,
            status=DrawStatus(m.status),
            pool_hash=m.pool_hash,
            secret_hash=m.secret_hash,
            entropy=m.entropy,
            seed=m.seed,
            secret_revealed=m.secret_revealed,
            committed_at=m.committed_at,
            executed_at=m.executed_at,
            abandon_reason=m.abandon_reason,
        )


@strawberry.type(
    name="PanelMember",
    description="评审组成员或备选专家(R19:结果确定前仅本机构工作人员、监督委员、"
    "市人社局可见)。\nA drawn panel member.",
)
class PanelMemberType(Node):
    expert_id: strawberry.ID = strawberry.field(description="专家 ID。")
    expert_number: str = strawberry.field(description="专家编号。")
    expert_name: str = strawberry.field(description="专家姓名。")
    rank: int = strawberry.field(description="在随机排序中的名次。")
    seat: Seat = strawberry.field(description="评委会席位。")
    is_backup: bool = strawberry.field(description="是否为备选专家。")
    status: PanelStatus = strawberry.field(description="邀请状态。")
    decline_reason: str = strawberry.field(description="谢绝理由。")
    present: bool | None = strawberry.field(description="是否出席(记录出席前为 null)。")

    @classmethod
    def from_model(cls, m: PanelMember) -> "PanelMemberType":
        return cls(
            pk=m.pk,
            expert_id=strawberry.ID(to_global_id("Expert", m.expert.pk)),
            expert_number=m.expert.number,
            expert_name=m.expert.name,
            rank=m.rank,
            seat=Seat(m.seat),
            is_backup=m.is_backup,
            status=PanelStatus(m.status),
            decline_reason=m.decline_reason,
            present=m.present,
        )


@strawberry.type(
    name="Invitation",
    description="专家本人收到的评审邀请(仅本人可见)。\nAn expert's own invitation.",
)
class InvitationType:
    panel_member_id: strawberry.ID = strawberry.field(description="评审组成员 ID(谢绝邀请时使用)。")
    session_id: strawberry.ID = strawberry.field(description="评审会议 ID。")
    starts_at: dt.datetime | None = strawberry.field(description="评审会议开始时间。")
    ends_at: dt.datetime | None = strawberry.field(description="评审会议结束时间。")
    place: str = strawberry.field(description="评审地点。")
    seat: Seat = strawberry.field(description="评委会席位。")
    is_backup: bool = strawberry.field(description="是否为备选专家。")
    status: PanelStatus = strawberry.field(description="邀请状态。")

    @classmethod
    def from_model(cls, m: PanelMember) -> "InvitationType":
        loaded = getattr(m, "session", None)
        session = loaded if isinstance(loaded, EvaluationSession) else None
        return cls(
            panel_member_id=strawberry.ID(to_global_id("PanelMember", m.pk)),
            session_id=strawberry.ID(to_global_id("EvaluationSession", _fk(m, "session") or 0)),
            starts_at=session.starts_at if session else None,
            ends_at=session.ends_at if session else None,
            place=session.place if session else "",
            seat=Seat(m.seat),
            is_backup=m.is_backup,
            status=PanelStatus(m.status),
        )


@strawberry.type(name="Recording", description="评审录音录像(第九条第六项)。\nA recording.")
class RecordingType(Node):
    kind: RecordingKind = strawberry.field(description="类别。")
    uri: str = strawberry.field(description="存储位置。")
    size_bytes: int = strawberry.field(description="文件大小(字节)。")
    sha256: str = strawberry.field(description="文件 SHA-256。")

    @classmethod
    def from_model(cls, m: Recording) -> "RecordingType":
        return cls(
            pk=m.pk,
            kind=RecordingKind(m.kind),
            uri=m.uri,
            size_bytes=m.size_bytes,
            sha256=m.sha256,
        )


@strawberry.type(
    name="Vote",
    description="一张表决票(R14:个人投票仅市人社局可见)。\nA vote.",
)
class VoteType(Node):
    applicant_id: strawberry.ID = strawberry.field(description="申报人 ID。")
    expert_id: strawberry.ID = strawberry.field(description="投票专家 ID。")
    choice: VoteChoice = strawberry.field(description="表决意见。")
    paper_ballot: bool = strawberry.field(description="是否由工作人员根据纸质选票录入。")

    @classmethod
    def from_model(cls, m: Vote) -> "VoteType":
        return cls(
            pk=m.pk,
            applicant_id=strawberry.ID(to_global_id("SessionApplicant", _fk(m, "applicant") or 0)),
            expert_id=strawberry.ID(to_global_id("Expert", _fk(m, "expert") or 0)),
            choice=VoteChoice(m.choice),
            paper_ballot=m.paper_ballot,
        )


@strawberry.type(
    name="ConflictDeclaration",
    description="回避申报(第二十六条,R11)。\nA conflict declaration.",
)
class ConflictDeclarationType(Node):
    kind: ConflictKind = strawberry.field(description="回避事由。")
    declared_by: DeclaredBy = strawberry.field(description="申报人类别。")
    created_at: dt.datetime = strawberry.field(description="申报时间。")

    @classmethod
    def from_model(cls, m: ConflictDeclaration) -> "ConflictDeclarationType":
        return cls(
            pk=m.pk,
            kind=ConflictKind(m.kind),
            declared_by=DeclaredBy(m.declared_by),
            created_at=m.created_at,
        )


@strawberry.type(
    name="EvaluationSession",
    description="评审会议:评委会、时间地点、申报人、监督委员、专家抽取与评审组(R10–R15,R19)。"
    "\nAn evaluation session.",
)
class EvaluationSessionType(Node):
    committee_id: strawberry.Private[int]
    year: int = strawberry.field(description="年度。")
    starts_at: dt.datetime = strawberry.field(description="开始时间。")
    ends_at: dt.datetime = strawberry.field(description="结束时间。")
    place: str = strawberry.field(description="评审地点。")
    panel_size: int = strawberry.field(description="评审组人数(不少于3的单数)。")
    backup_count: int = strawberry.field(description="备选专家人数。")
    status: SessionStatus = strawberry.field(description="评审会议状态。")
    finalised_at: dt.datetime | None = strawberry.field(description="确定结果的时间。")
    version: int = strawberry.field(description="版本号(乐观锁)。")

    @strawberry.field(description="所属评委会;调用者不可见时为 null。")
    async def committee(self, info: Info) -> CommitteeType | None:
        found = await ctx(info).loaders.committee.load(self.committee_id)
        return CommitteeType.from_model(found) if found else None

    @strawberry.field(description="申报人(身份证号仅显示掩码)。")
    async def applicants(self, info: Info) -> list[SessionApplicantType]:
        rows = await _sealed(lambda: svc.list_session_applicants(ctx(info).actor, self.pk))
        return [SessionApplicantType.from_model(a) for a in rows or []]

    @strawberry.field(description="监督委员指派。")
    async def supervisors(self, info: Info) -> list[SupervisorAssignmentType]:
        rows = await _sealed(lambda: svc.list_session_supervisors(ctx(info).actor, self.pk))
        return [SupervisorAssignmentType.from_model(r) for r in rows or []]

    @strawberry.field(
        description="全部专家抽取记录(含已放弃的),公布承诺、随机数与公开的密钥;"
        "无权查看评审组者为空列表(R19)。"
    )
    async def draws(self, info: Info) -> list[DrawType]:
        rows = await _sealed(lambda: svc.list_draws(ctx(info).actor, self.pk))
        return [DrawType.from_model(d) for d in rows or []]

    @strawberry.field(
        description="评审组与备选专家(R19 保密):仅本机构工作人员、本场监督委员与市人社局"
        "可见,其他调用者为 null。"
    )
    async def panel(self, info: Info) -> list[PanelMemberType] | None:
        rows = await _sealed(lambda: svc.session_panel(ctx(info).actor, self.pk))
        return None if rows is None else [PanelMemberType.from_model(m) for m in rows]

    @strawberry.field(
        description="抽取公示包(JSON 文本),可用独立验证程序复算;结果确定前仅能查看"
        "评审组者可见,尚未抽取或不可见时为 null。"
    )
    async def draw_bundle(self, info: Info) -> str | None:
        bundle = await _sealed(lambda: svc.draw_bundle(ctx(info).actor, self.pk))
        if bundle is None:
            return None
        return json.dumps(bundle, ensure_ascii=False, sort_keys=True)

    @strawberry.field(description="录音录像。")
    async def recordings(self, info: Info) -> list[RecordingType]:
        rows = await _sealed(lambda: svc.list_session_recordings(ctx(info).actor, self.pk))
        return [RecordingType.from_model(r) for r in rows or []]

    @strawberry.field(description="个人投票(R14):仅市人社局可见,其他调用者为 null。")
    async def votes(self, info: Info) -> list[VoteType] | None:
        rows = await _sealed(lambda: svc.session_votes(ctx(info).actor, self.pk))
        return None if rows is None else [VoteType.from_model(v) for v in rows]

    @classmethod
    def from_model(cls, m: EvaluationSession) -> "EvaluationSessionType":
        return cls(
            pk=m.pk,
            committee_id=_fk(m, "committee") or 0,
            year=m.year,
            starts_at=m.starts_at,
            ends_at=m.ends_at,
            place=m.place,
            panel_size=m.panel_size,
            backup_count=m.backup_count,
            status=SessionStatus(m.status),
            finalised_at=m.finalised_at,
            version=m.version,
        )


async def _fetch_sessions(info: Info, pks: Sequence[int]) -> list[Node | None]:
    out: list[Node | None] = []
    for pk in pks:
        found = await _sealed(lambda pk=pk: svc.get_evaluation_session(ctx(info).actor, pk))  # type: ignore[misc]
        out.append(EvaluationSessionType.from_model(found) if found else None)
    return out


register_node("EvaluationSession", _fetch_sessions)


@strawberry.input(description="评审会议列表的筛选条件。\nSession filter.")
class EvaluationSessionFilter:
    statuses: list[SessionStatus] | None = strawberry.field(
        default=None, description="只返回这些状态的评审会议。"
    )
    committee_id: strawberry.ID | None = strawberry.field(
        default=None, description="只返回该评委会的评审会议。"
    )
    year: int | None = strawberry.field(default=None, description="只返回该年度的评审会议。")


@strawberry.type(description="评审会议查询。")
class EvaluationQuery:
    @strawberry.field(
        description="评审会议列表:市人社局、本机构工作人员与本场监督委员可见;需登录。\n"
        "Evaluation sessions."
    )
    async def evaluation_sessions(
        self,
        info: Info,
        filter: Annotated[
            EvaluationSessionFilter | None, strawberry.argument(description="筛选条件。")
        ] = None,
        order_by: Annotated[
            SessionOrder, strawberry.argument(description="排序方式。")
        ] = SessionOrder.STARTS_AT_ASC,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=BEFORE)] = None,
    ) -> Optional[Connection[EvaluationSessionType]]:  # noqa: UP045 - strawberry needs the generic form
        f = filter or EvaluationSessionFilter()
        page = await svc.list_evaluation_sessions(
            ctx(info).actor,
            filters=svc.SessionFilter(
                statuses=f.statuses,
                committee_id=expect_id(f.committee_id, "Committee", "committeeId"),
                year=f.year,
            ),
            order=order_by,
            page=page_args(first, after, last, before),
        )
        return connection(page, EvaluationSessionType.from_model)

    @strawberry.field(description="按 ID 查询一场评审会议;不存在或不可见时为 null。")
    async def evaluation_session(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="评审会议的 ID。")],
    ) -> EvaluationSessionType | None:
        parsed = from_global_id(id)
        if parsed is None or parsed[0] != "EvaluationSession":
            return None
        found = await _sealed(lambda: svc.get_evaluation_session(ctx(info).actor, parsed[1]))
        return EvaluationSessionType.from_model(found) if found else None

    @strawberry.field(description="专家本人收到的评审邀请,最新的在前;非专家为空列表。")
    async def my_invitations(self, info: Info) -> list[InvitationType]:
        rows = await svc.my_invitations(ctx(info).actor)
        return [InvitationType.from_model(m) for m in rows]


# --- inputs and payloads --------------------------------------------------------------


@strawberry.input(description="创建评审会议的输入。\nCreate a session.")
class CreateEvaluationSessionInput:
    committee_id: strawberry.ID = strawberry.field(description="已备案评委会的 ID。")
    starts_at: dt.datetime = strawberry.field(description="开始时间(须带时区)。")
    ends_at: dt.datetime = strawberry.field(description="结束时间(须带时区)。")
    place: str = strawberry.field(description="评审地点。")
    panel_size: int = strawberry.field(description="评审组人数(不少于3的单数)。")
    backup_count: int = strawberry.field(default=2, description="备选专家人数(0–20)。")


@strawberry.input(description="一名申报人。\nAn applicant.")
class SessionApplicantInput:
    name: str = strawberry.field(description="姓名。")
    id_number: str = strawberry.field(description="身份证号(加密存储,仅返回掩码)。")
    unit_id: strawberry.ID = strawberry.field(description="工作单位 ID。")
    series: str = strawberry.field(description="系列。")
    specialty: str = strawberry.field(description="专业。")
    level: Level = strawberry.field(description="申报层级(须与评委会层级一致)。")


@strawberry.input(description="录入申报人的输入。\nAdd applicants.")
class AddSessionApplicantsInput:
    session_id: strawberry.ID = strawberry.field(description="评审会议 ID。")
    applicants: list[SessionApplicantInput] = strawberry.field(description="申报人列表。")


@strawberry.input(description="回避申报的输入(第二十六条)。\nDeclare a conflict.")
class DeclareConflictInput:
    session_id: strawberry.ID = strawberry.field(description="评审会议 ID。")
    kind: ConflictKind = strawberry.field(description="回避事由。")
    applicant_id: strawberry.ID | None = strawberry.field(
        default=None, description="相关申报人 ID(按亲属姓名和单位申报时可空)。"
    )
    detail: str = strawberry.field(default="", description="说明(争议、利害关系、其他时必填)。")
    expert_id: strawberry.ID | None = strawberry.field(
        default=None, description="应回避的专家 ID(专家本人申报时可空)。"
    )
    staff_user_id: strawberry.ID | None = strawberry.field(
        default=None, description="应回避的工作人员用户 ID。"
    )
    relative_name: str = strawberry.field(default="", description="亲属姓名。")
    relative_unit_id: strawberry.ID | None = strawberry.field(
        default=None, description="亲属所在单位 ID。"
    )


@strawberry.input(description="指派监督委员的输入(第三十条)。\nAssign a supervisor.")
class AssignSupervisorInput:
    session_id: strawberry.ID = strawberry.field(description="评审会议 ID。")
    user_id: strawberry.ID = strawberry.field(description="监督委员的用户 ID。")


@strawberry.input(description="只需指明评审会议的输入。\nA session reference.")
class SessionRefInput:
    session_id: strawberry.ID = strawberry.field(description="评审会议 ID。")


@strawberry.input(description="执行抽取的输入(R10)。\nExecute the draw.")
class ExecuteDrawInput:
    session_id: strawberry.ID = strawberry.field(description="评审会议 ID。")
    entropy: str = strawberry.field(description="监督委员现场输入的公开随机数(如骰子点数)。")


@strawberry.input(description="谢绝邀请的输入。\nDecline an invitation.")
class DeclineInvitationInput:
    panel_member_id: strawberry.ID = strawberry.field(description="评审组成员 ID。")
    reason: str = strawberry.field(description="谢绝理由。")


@strawberry.input(description="重新抽取的输入。\nRedraw.")
class RedrawInput:
    session_id: strawberry.ID = strawberry.field(description="评审会议 ID。")
    reason: str = strawberry.field(description="重新抽取的理由。")


@strawberry.input(description="记录出席情况的输入(R14)。\nRecord attendance.")
class RecordAttendanceInput:
    session_id: strawberry.ID = strawberry.field(description="评审会议 ID。")
    present_expert_ids: list[strawberry.ID] = strawberry.field(description="出席专家 ID。")
    presiding_expert_id: strawberry.ID = strawberry.field(
        description="主持会议的主任委员或副主任委员专家 ID。"
    )


@strawberry.input(description="专家本人投票的输入(R14)。\nCast a vote.")
class CastVoteInput:
    session_id: strawberry.ID = strawberry.field(description="评审会议 ID。")
    applicant_id: strawberry.ID = strawberry.field(description="申报人 ID。")
    choice: VoteChoice = strawberry.field(description="表决意见。")


@strawberry.input(description="一张纸质选票。\nA paper ballot.")
class PaperBallotInput:
    expert_id: strawberry.ID = strawberry.field(description="投票专家 ID。")
    choice: VoteChoice = strawberry.field(description="表决意见。")


@strawberry.input(description="录入纸质选票的输入。\nRecord paper ballots.")
class RecordPaperBallotsInput:
    session_id: strawberry.ID = strawberry.field(description="评审会议 ID。")
    applicant_id: strawberry.ID = strawberry.field(description="申报人 ID。")
    ballots: list[PaperBallotInput] = strawberry.field(description="选票。")


@strawberry.input(description="附加录音录像的输入。\nAttach a recording.")
class AttachRecordingInput:
    session_id: strawberry.ID = strawberry.field(description="评审会议 ID。")
    kind: RecordingKind = strawberry.field(description="类别。")
    uri: str = strawberry.field(description="存储位置。")
    size_bytes: int = strawberry.field(description="文件大小(字节)。")
    sha256: str = strawberry.field(description="文件 SHA-256(64位十六进制)。")


@strawberry.type(description="评审会议变更的结果。\nSession payload.")
class EvaluationSessionPayload:
    evaluation_session: EvaluationSessionType | None = strawberry.field(
        description="变更后的评审会议;失败时为 null。"
    )
    errors: list[UserError] = strawberry.field(description="业务错误;成功时为空列表。")


@strawberry.type(description="录入申报人的结果。\nAdd applicants payload.")
class AddSessionApplicantsPayload:
    applicants: list[SessionApplicantType] | None = strawberry.field(
        description="新录入的申报人;失败时为 null。"
    )
    errors: list[UserError] = strawberry.field(description="业务错误;成功时为空列表。")


@strawberry.type(description="回避申报的结果。\nDeclare conflict payload.")
class DeclareConflictPayload:
    conflict: ConflictDeclarationType | None = strawberry.field(
        description="回避申报;失败时为 null。"
    )
    errors: list[UserError] = strawberry.field(description="业务错误;成功时为空列表。")


@strawberry.type(description="指派监督委员的结果。\nAssign supervisor payload.")
class AssignSupervisorPayload:
    supervisor: SupervisorAssignmentType | None = strawberry.field(
        description="指派记录;失败时为 null。"
    )
    errors: list[UserError] = strawberry.field(description="业务错误;成功时为空列表。")


@strawberry.type(description="专家抽取变更的结果。\nDraw payload.")
class DrawPayload:
    draw: DrawType | None = strawberry.field(description="抽取记录;失败时为 null。")
    errors: list[UserError] = strawberry.field(description="业务错误;成功时为空列表。")


@strawberry.type(description="谢绝邀请的结果。\nDecline payload.")
class DeclineInvitationPayload:
    invitation: InvitationType | None = strawberry.field(description="已谢绝的邀请;失败时为 null。")
    errors: list[UserError] = strawberry.field(description="业务错误;成功时为空列表。")


@strawberry.type(description="投票的结果。\nVote payload.")
class CastVotePayload:
    vote: VoteType | None = strawberry.field(description="本人的选票;失败时为 null。")
    errors: list[UserError] = strawberry.field(description="业务错误;成功时为空列表。")


@strawberry.type(description="录入纸质选票的结果。\nPaper ballots payload.")
class RecordPaperBallotsPayload:
    votes: list[VoteType] | None = strawberry.field(description="录入的选票;失败时为 null。")
    errors: list[UserError] = strawberry.field(description="业务错误;成功时为空列表。")


@strawberry.type(description="附加录音录像的结果。\nRecording payload.")
class AttachRecordingPayload:
    recording: RecordingType | None = strawberry.field(description="录音录像;失败时为 null。")
    errors: list[UserError] = strawberry.field(description="业务错误;成功时为空列表。")


def _session_id(global_id: strawberry.ID) -> int:
    return require_id(global_id, "EvaluationSession", "sessionId")


def _opt(global_id: strawberry.ID | None, type_name: str, field: str) -> int | None:
    return expect_id(global_id, type_name, field)


def _session(m: EvaluationSession | None) -> EvaluationSessionType | None:
    return EvaluationSessionType.from_model(m) if m else None


def _draw(m: Draw | None) -> DrawType | None:
    return DrawType.from_model(m) if m else None


@strawberry.type(description="评审会议的变更。")
class EvaluationMutation:
    @strawberry.mutation(
        description="评审机构工作人员创建已备案评委会的一场评审会议(R2)。支持 Idempotency-Key。"
        "\nCreate an evaluation session."
    )
    async def create_evaluation_session(
        self,
        info: Info,
        input: Annotated[CreateEvaluationSessionInput, strawberry.argument(description=INPUT)],
    ) -> EvaluationSessionPayload:
        actor = ctx(info).actor

        async def run() -> EvaluationSession:
            committee_id = require_id(input.committee_id, "Committee", "committeeId")
            outcome = await create_once(
                info,
                input=input,
                model=EvaluationSession,
                create=lambda: svc.create_evaluation_session(
                    actor,
                    committee_id,
                    starts_at=input.starts_at,
                    ends_at=input.ends_at,
                    place=input.place,
                    panel_size=input.panel_size,
                    backup_count=input.backup_count,
                ),
            )
            return outcome.value

        session, errors = await attempt(info, run)
        return EvaluationSessionPayload(evaluation_session=_session(session), errors=errors)

    @strawberry.mutation(
        description="录入申报人(抽取承诺前);身份证号校验后加密存储,仅返回掩码(R11)。\n"
        "Add applicants."
    )
    async def add_session_applicants(
        self,
        info: Info,
        input: Annotated[AddSessionApplicantsInput, strawberry.argument(description=INPUT)],
    ) -> AddSessionApplicantsPayload:
        async def run() -> list[SessionApplicant]:
            rows = [
                {
                    "name": a.name,
                    "id_number": a.id_number,
                    "unit_id": require_id(a.unit_id, "Unit", f"applicants.{i}.unitId"),
                    "series": a.series,
                    "specialty": a.specialty,
                    "level": a.level,
                }
                for i, a in enumerate(input.applicants)
            ]
            return await svc.add_session_applicants(
                ctx(info).actor, _session_id(input.session_id), applicants=rows
            )

        rows, errors = await attempt(info, run)
        return AddSessionApplicantsPayload(
            applicants=None if rows is None else [SessionApplicantType.from_model(a) for a in rows],
            errors=errors,
        )

    @strawberry.mutation(
        description="申报回避事由(专家本人、申报人本人或本机构工作人员;R11)。"
        "支持 Idempotency-Key。\nDeclare a conflict."
    )
    async def declare_conflict(
        self,
        info: Info,
        input: Annotated[DeclareConflictInput, strawberry.argument(description=INPUT)],
    ) -> DeclareConflictPayload:
        actor = ctx(info).actor

        async def run() -> ConflictDeclaration:
            session_id = _session_id(input.session_id)
            applicant_id = _opt(input.applicant_id, "SessionApplicant", "applicantId")
            expert_id = _opt(input.expert_id, "Expert", "expertId")
            staff_id = _opt(input.staff_user_id, "User", "staffUserId")
            unit_id = _opt(input.relative_unit_id, "Unit", "relativeUnitId")
            outcome = await create_once(
                info,
                input=input,
                model=ConflictDeclaration,
                create=lambda: svc.declare_conflict(
                    actor,
                    session_id,
                    applicant_id=applicant_id,
                    kind=input.kind,
                    detail=input.detail,
                    expert_id=expert_id,
                    staff_user_id=staff_id,
                    relative_name=input.relative_name,
                    relative_unit_id=unit_id,
                ),
            )
            return outcome.value

        row, errors = await attempt(info, run)
        return DeclareConflictPayload(
            conflict=ConflictDeclarationType.from_model(row) if row else None, errors=errors
        )

    @strawberry.mutation(
        description="市人社局或推荐单位为评审会议指派监督委员(第三十条)。支持 Idempotency-Key。"
        "\nAssign a supervisor."
    )
    async def assign_supervisor(
        self,
        info: Info,
        input: Annotated[AssignSupervisorInput, strawberry.argument(description=INPUT)],
    ) -> AssignSupervisorPayload:
        actor = ctx(info).actor

        async def run() -> SupervisorAssignment:
            session_id = _session_id(input.session_id)
            user_id = require_id(input.user_id, "User", "userId")
            outcome = await create_once(
                info,
                input=input,
                model=SupervisorAssignment,
                create=lambda: svc.assign_supervisor(actor, session_id, user_id),
            )
            return outcome.value

        row, errors = await attempt(info, run)
        return AssignSupervisorPayload(
            supervisor=SupervisorAssignmentType.from_model(row) if row else None, errors=errors
        )

    @strawberry.mutation(
        description="冻结候选专家并公布抽取承诺(R10)。支持 Idempotency-Key。\nCommit the draw."
    )
    async def commit_draw(
        self, info: Info, input: Annotated[SessionRefInput, strawberry.argument(description=INPUT)]
    ) -> DrawPayload:
        actor = ctx(info).actor

        async def run() -> Draw:
            session_id = _session_id(input.session_id)
            outcome = await create_once(
                info, input=input, model=Draw, create=lambda: svc.commit_draw(actor, session_id)
            )
            return outcome.value

        row, errors = await attempt(info, run)
        return DrawPayload(draw=_draw(row), errors=errors)

    @strawberry.mutation(
        description="本场监督委员输入公开随机数执行抽取,随后公开密钥(R10)。\nExecute the draw."
    )
    async def execute_draw(
        self, info: Info, input: Annotated[ExecuteDrawInput, strawberry.argument(description=INPUT)]
    ) -> DrawPayload:
        row, errors = await attempt(
            info,
            lambda: svc.execute_draw(
                ctx(info).actor, _session_id(input.session_id), entropy=input.entropy
            ),
        )
        return DrawPayload(draw=_draw(row), errors=errors)

    @strawberry.mutation(
        description=(
            "被抽中的专家本人,或本次会议的评审机构工作人员代专家(如专家电话告知),"
            "说明理由谢绝邀请,由下一名次递补(R10);代为谢绝时审计记录操作人。\n"
            "Decline an invitation (the expert, or the session's staff on the expert's behalf)."
        )
    )
    async def decline_invitation(
        self,
        info: Info,
        input: Annotated[DeclineInvitationInput, strawberry.argument(description=INPUT)],
    ) -> DeclineInvitationPayload:
        row, errors = await attempt(
            info,
            lambda: svc.decline_invitation(
                ctx(info).actor,
                require_id(input.panel_member_id, "PanelMember", "panelMemberId"),
                reason=input.reason,
            ),
        )
        return DeclineInvitationPayload(
            invitation=InvitationType.from_model(row) if row else None, errors=errors
        )

    @strawberry.mutation(
        description="本场监督委员说明理由并确认,放弃当前抽取(留档,记录确认人)"
        "并重新公布承诺(R10)。支持 Idempotency-Key。\nRedraw."
    )
    async def redraw(
        self, info: Info, input: Annotated[RedrawInput, strawberry.argument(description=INPUT)]
    ) -> DrawPayload:
        actor = ctx(info).actor

        async def run() -> Draw:
            session_id = _session_id(input.session_id)
            outcome = await create_once(
                info,
                input=input,
                model=Draw,
                create=lambda: svc.redraw(actor, session_id, reason=input.reason),
            )
            return outcome.value

        row, errors = await attempt(info, run)
        return DrawPayload(draw=_draw(row), errors=errors)

    @strawberry.mutation(
        description="记录出席专家与主持人,评审会议开始(R14:出席不少于评审组的2/3)。\n"
        "Record attendance."
    )
    async def record_attendance(
        self,
        info: Info,
        input: Annotated[RecordAttendanceInput, strawberry.argument(description=INPUT)],
    ) -> EvaluationSessionPayload:
        async def run() -> EvaluationSession:
            present = [
                require_id(e, "Expert", "presentExpertIds") for e in input.present_expert_ids
            ]
            return await svc.record_attendance(
                ctx(info).actor,
                _session_id(input.session_id),
                present_expert_ids=present,
                presiding_expert_id=require_id(
                    input.presiding_expert_id, "Expert", "presidingExpertId"
                ),
            )

        session, errors = await attempt(info, run)
        return EvaluationSessionPayload(evaluation_session=_session(session), errors=errors)

    @strawberry.mutation(
        description="出席的评审组专家本人对一名申报人投票(R14),每人每名申报人一票。"
        "支持 Idempotency-Key。\nCast a vote."
    )
    async def cast_vote(
        self, info: Info, input: Annotated[CastVoteInput, strawberry.argument(description=INPUT)]
    ) -> CastVotePayload:
        actor = ctx(info).actor

        async def run() -> Vote:
            session_id = _session_id(input.session_id)
            applicant_id = require_id(input.applicant_id, "SessionApplicant", "applicantId")
            outcome = await create_once(
                info,
                input=input,
                model=Vote,
                create=lambda: svc.cast_vote(actor, session_id, applicant_id, choice=input.choice),
            )
            return outcome.value

        row, errors = await attempt(info, run)
        return CastVotePayload(vote=VoteType.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        description="工作人员录入出席专家的纸质选票(标记为纸质选票,R14)。\nRecord paper ballots."
    )
    async def record_paper_ballots(
        self,
        info: Info,
        input: Annotated[RecordPaperBallotsInput, strawberry.argument(description=INPUT)],
    ) -> RecordPaperBallotsPayload:
        async def run() -> list[Vote]:
            votes = {require_id(b.expert_id, "Expert", "ballots"): b.choice for b in input.ballots}
            return await svc.record_paper_ballots(
                ctx(info).actor,
                _session_id(input.session_id),
                require_id(input.applicant_id, "SessionApplicant", "applicantId"),
                votes=votes,
            )

        rows, errors = await attempt(info, run)
        return RecordPaperBallotsPayload(
            votes=None if rows is None else [VoteType.from_model(v) for v in rows], errors=errors
        )

    @strawberry.mutation(
        description="附加评审录音录像(大小与 SHA-256;第九条第六项)。支持 Idempotency-Key。\n"
        "Attach a recording."
    )
    async def attach_recording(
        self,
        info: Info,
        input: Annotated[AttachRecordingInput, strawberry.argument(description=INPUT)],
    ) -> AttachRecordingPayload:
        actor = ctx(info).actor

        async def run() -> Recording:
            session_id = _session_id(input.session_id)
            outcome = await create_once(
                info,
                input=input,
                model=Recording,
                create=lambda: svc.attach_recording(
                    actor,
                    session_id,
                    kind=input.kind,
                    uri=input.uri,
                    size_bytes=input.size_bytes,
                    sha256=input.sha256,
                ),
            )
            return outcome.value

        row, errors = await attempt(info, run)
        return AttachRecordingPayload(
            recording=RecordingType.from_model(row) if row else None, errors=errors
        )

    @strawberry.mutation(
        description="确定评审结果(R15:须达法定人数、有主持人、录音录像、监督委员且票已投齐);"
        "此后不可更改。\nFinalise the session."
    )
    async def finalise_session(
        self, info: Info, input: Annotated[SessionRefInput, strawberry.argument(description=INPUT)]
    ) -> EvaluationSessionPayload:
        session, errors = await attempt(
            info, lambda: svc.finalise_session(ctx(info).actor, _session_id(input.session_id))
        )
        return EvaluationSessionPayload(evaluation_session=_session(session), errors=errors)
