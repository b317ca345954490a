"""HTML pages for evaluation sessions (issue 7 item 10): the institution's session
workspace (applicants, training, conflicts, the commit–reveal draw, panel, attendance,
votes, recordings, finalisation, results), the bureau's supervisor assignment and
certificate issuing, the supervisor's view (entropy, progress), the expert's own
invitations and ballot (/me/...), and the fairness statistics.

Thin: every read and change calls resolvers/evaluation.py or resolvers/certificate.py,
which decide visibility. R19 (sealed panel): the workspace is reachable only through
`get_evaluation_session` (staff, supervisors, bureau); an expert sees only the own
invitation and ballot; applicants and the public reach none of these pages.

Conventions as in views/institution.py: GET lists work as plain links and htmx swaps;
every form posts to a real action with the CSRF field; success redirects (303, or
`HX-Redirect`) with `?done=<key>`; errors re-render the section with status 422.
"""

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from models import EvaluationSession
from models.enums import (
    LEVEL_LABELS,
    ApplicantResult,
    CertificateKind,
    ConflictKind,
    DrawStatus,
    FilingStatus,
    PanelStatus,
    RecordingKind,
    Role,
    Seat,
    SessionStatus,
    VoteChoice,
)
from resolvers import account, directory
from resolvers import certificate as certs
from resolvers import evaluation as svc
from resolvers.actor import Actor
from resolvers.common import beijing_today
from resolvers.directory import CommitteeFilter, Page, PageArgs
from resolvers.draw import ExclusionReason
from resolvers.errors import DomainError, ErrorCode, NotFound, PermissionDenied, Unauthenticated
from resolvers.policy import Perm, require
from views.errors import wants_fragment
from views.forms import Form
from views.templating import NAV, NavItem, current_actor, render

S = SessionStatus

STATUS_LABELS: dict[str, str] = {
    S.PLANNED: "筹备中",
    S.COMMITTED: "已公布抽取承诺",
    S.DRAWN: "已抽取专家",
    S.SITTING: "评审会议进行中",
    S.FINALISED: "结果已确定",
    S.CANCELLED: "已取消",
}
DRAW_LABELS: dict[str, str] = {
    DrawStatus.COMMITTED: "已承诺,待抽取",
    DrawStatus.EXECUTED: "已抽取",
    DrawStatus.ABANDONED: "已放弃(重新抽取)",
}
PANEL_LABELS: dict[str, str] = {
    PanelStatus.INVITED: "已邀请",
    PanelStatus.ACCEPTED: "已接受",
    PanelStatus.DECLINED: "已谢绝",
}
SEAT_LABELS: dict[str, str] = {
    Seat.CHAIR: "主任委员",
    Seat.VICE_CHAIR: "副主任委员",
    Seat.MEMBER: "委员",
}
CONFLICT_LABELS: dict[str, str] = {
    ConflictKind.RELATIVE: "近亲属",
    ConflictKind.INTEREST: "利害关系",
    ConflictKind.SAME_EMPLOYER: "同一单位",
    ConflictKind.DISPUTE: "争议",
    ConflictKind.OTHER: "其他",
}
DECLARED_BY_LABELS: dict[str, str] = {"expert": "专家", "applicant": "申报人", "staff": "工作人员"}
VOTE_LABELS: dict[str, str] = {
    VoteChoice.FOR: "赞成",
    VoteChoice.AGAINST: "反对",
    VoteChoice.ABSTAIN: "弃权",
}
RESULT_LABELS: dict[str, str] = {
    ApplicantResult.PENDING: "待定",
    ApplicantResult.PASSED: "通过",
    ApplicantResult.FAILED: "未通过",
}
RECORDING_LABELS: dict[str, str] = {RecordingKind.AUDIO: "录音", RecordingKind.VIDEO: "录像"}
EXCLUSION_LABELS: dict[str, str] = {
    ExclusionReason.CONFLICT_WITH_APPLICANT: "与申报人存在回避关系",
    ExclusionReason.NOT_TRAINED: "未参加评前培训",
    ExclusionReason.TERM_ENDED: "不在聘期内",
    ExclusionReason.AGREEMENT_MISSING: "未签署最新保密协议",
    ExclusionReason.LEVEL_NOT_QUALIFIED: "不符合分级使用条件",
    ExclusionReason.OVERLAPPING_SESSION: "已入选时间重叠的评审会议",
    ExclusionReason.NOT_IN_POOL: "不在专家库中",
}
CERT_LABELS: dict[str, str] = {
    CertificateKind.CERTIFICATE: "电子职称证书",
    CertificateKind.RESULT_NOTICE: "电子职称评价结果通知书",
}
LEVELS: dict[str, str] = {k.value: v for k, v in LEVEL_LABELS.items()}
LABELS: dict[str, Mapping[str, str]] = {
    "status": STATUS_LABELS,
    "draw": DRAW_LABELS,
    "panel": PANEL_LABELS,
    "seat": SEAT_LABELS,
    "conflict": CONFLICT_LABELS,
    "declared_by": DECLARED_BY_LABELS,
    "vote": VOTE_LABELS,
    "result": RESULT_LABELS,
    "recording": RECORDING_LABELS,
    "exclusion": EXCLUSION_LABELS,
    "level": LEVELS,
}

DONE_MESSAGES: dict[str, str] = {
    "created": "评审会议已创建,请录入申报人。",
    "applicant": "申报人已录入。",
    "training": "评前培训已记录。",
    "conflict": "回避声明已记录。",
    "supervisor": "监督委员已指派。",
    "committed": "抽取承诺已公布:奖池哈希与密钥哈希已固定,请监督委员输入公开随机数。",
    "executed": "专家已抽取,服务器密钥已公开,可下载抽取记录核验。",
    "redrawn": "原抽取已放弃并留档,新的抽取承诺已公布。",
    "attendance": "出席情况已记录,评审会议开始。",
    "ballots": "纸质选票已录入。",
    "recording": "录音录像已登记。",
    "finalised": "评审结果已确定,不可再修改。",
    "recorded": "通过人员已记录,电子证书和结果通知书已签发。",
    "revoked": "证书已撤销。",
    "accepted": "已接受邀请。",
    "declined": "已谢绝邀请,系统已按同一随机序列递补。",
    "declined_for": "已代专家谢绝邀请,系统已按同一随机序列递补。",
    "voted": "投票已提交。",
}

NAV.extend(
    [
        NavItem("评审会议", "/institution/sessions", Perm.SESSION_MANAGE),
        NavItem("评审会议监督", "/supervisor/sessions", Perm.SESSION_SUPERVISE),
        NavItem("评审会议管理", "/bureau/sessions", Perm.CERTIFICATE_ISSUE),
        # Expert-only perm: the invitations are an expert's own (staff also hold VOTE_CAST).
        NavItem("评审邀请", "/me/invitations", Perm.EXPERT_UPDATE_REQUEST),
    ]
)

WORKSPACE = "evaluation/session.html"
LIST = "evaluation/sessions.html"
NEW = "evaluation/session_new.html"
INVITATIONS = "evaluation/invitations.html"
BALLOT = "evaluation/ballot.html"
FAIRNESS = "evaluation/fairness.html"
PRIVATE = {"Cache-Control": "no-store"}

# Each area is one role's work: the door says 403 to other roles (the resolvers still
# decide per object); the bureau's list is guarded by its certificate work.
AREAS: dict[str, tuple[Perm, str]] = {
    "institution": (Perm.SESSION_MANAGE, "本机构评审会议"),
    "supervisor": (Perm.SESSION_SUPERVISE, "我监督的评审会议"),
    "bureau": (Perm.CERTIFICATE_ISSUE, "全市评审会议"),
}


# --- helpers ---------------------------------------------------------------------------


def _ctx(request: Request, **values: Any) -> dict[str, Any]:
    done = request.query_params.get("done", "")
    return {"labels": LABELS, "done": DONE_MESSAGES.get(done, ""), "local": _when, **values}


def _when(value: dt.datetime | None) -> str:
    """A stored UTC time as Beijing wall-clock time."""
    return value.astimezone(svc.BEIJING).strftime("%Y-%m-%d %H:%M") if value else "—"


def _page(
    request: Request, template: str, ctx: dict[str, Any], block: str, *, status_code: int = 200
) -> Response:
    """The whole page, or `block` for an htmx swap; always private (names, ID masks)."""
    return render(
        request,
        template,
        ctx,
        block if wants_fragment(request) else None,
        status_code=status_code,
        headers=PRIVATE,
    )


def _done(request: Request, url: str, key: str) -> Response:
    target = f"{url}{'&' if '?' in url else '?'}done={key}"
    if wants_fragment(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _logged_in(actor: Actor) -> None:
    if actor.is_anonymous:
        raise Unauthenticated()


def _query(params: Mapping[str, str], **over: str | None) -> str:
    merged = {**params, **over}
    return urlencode({k: v for k, v in merged.items() if v})


def _pager(path: str, params: Mapping[str, str], page: Page[Any]) -> dict[str, str | None]:
    base = {k: v for k, v in params.items() if k not in ("after", "before", "done")}
    prev_url = next_url = None
    if page.has_previous_page and page.cursors:
        prev_url = f"{path}?{_query(base, before=page.cursors[0])}"
    if page.has_next_page and page.cursors:
        next_url = f"{path}?{_query(base, after=page.cursors[-1])}"
    return {"prev_url": prev_url, "next_url": next_url}


def _page_args(params: Mapping[str, str]) -> PageArgs:
    if params.get("before"):
        return PageArgs(last=directory.DEFAULT_PAGE_SIZE, before=params["before"])
    return PageArgs(first=directory.DEFAULT_PAGE_SIZE, after=params.get("after") or None)


def _local(raw: str, field: str) -> dt.datetime | None:
    """A `datetime-local` value, read as Beijing time."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise DomainError(ErrorCode.INVALID, "时间格式应为 年-月-日 时:分", field) from None
    return value.replace(tzinfo=svc.BEIJING) if value.tzinfo is None else value


def _required_int(form: Form, name: str, message: str) -> int:
    value = form.integer(name)
    if value is None:
        raise DomainError(ErrorCode.REQUIRED, message, name)
    return value


async def _may(actor: Actor, perm: Perm, session: EvaluationSession) -> bool:
    """Whether to show the controls of `perm` (presentation only: resolvers decide)."""
    try:
        require(actor, perm, session, supervised=await account.supervised_sessions(actor))
    except (PermissionDenied, Unauthenticated):
        return False
    return True


# --- session lists ---------------------------------------------------------------------


async def _sessions_page(request: Request, area: str) -> Response:
    actor = current_actor(request)
    perm, title = AREAS[area]
    require(actor, perm)
    params = dict(request.query_params)
    status = params.get("status", "")
    year = params.get("year", "")
    path = f"/{area}/sessions"
    filters = svc.SessionFilter(
        statuses=[SessionStatus(status)] if status in STATUS_LABELS else None,
        year=int(year) if year.isdigit() and len(year) == 4 else None,
    )
    error = ""
    rows: list[EvaluationSession] = []
    pager: dict[str, str | None] = {"prev_url": None, "next_url": None}
    try:
        page = await svc.list_evaluation_sessions(
            actor,
            filters=filters,
            order=svc.SessionOrder.STARTS_AT_DESC,
            page=_page_args(params),
        )
        rows, pager = page.items, _pager(path, params, page)
    except DomainError as exc:
        error = exc.message
    committees = await directory.load_committees(
        actor,
        [r.committee_id for r in rows],  # type: ignore[attr-defined]
    )
    ctx = _ctx(
        request,
        area=area,
        title=title,
        path=path,
        rows=rows,
        committees=committees,
        pager=pager,
        error=error,
        filters={"status": status if status in STATUS_LABELS else "", "year": year},
    )
    return _page(request, LIST, ctx, "results")


async def institution_sessions(request: Request) -> Response:
    return await _sessions_page(request, "institution")


async def supervisor_sessions(request: Request) -> Response:
    return await _sessions_page(request, "supervisor")


async def bureau_sessions(request: Request) -> Response:
    return await _sessions_page(request, "bureau")


# --- create a session --------------------------------------------------------------------

NEW_FIELDS = ["committeeId", "startsAt", "endsAt", "place", "panelSize", "backupCount"]


async def new_session_page(request: Request, form: Form | None = None) -> Response:
    actor = current_actor(request)
    require(actor, Perm.SESSION_MANAGE)
    own = [g.institution_id for g in actor.grants_of(Role.INSTITUTION) if g.institution_id]
    committees = []
    for institution_id in own:
        page = await directory.list_committees(
            actor,
            filters=CommitteeFilter(institution_id=institution_id, statuses=[FilingStatus.FILED]),
            page=PageArgs(first=directory.MAX_PAGE_SIZE),
        )
        committees.extend(page.items)
    ctx = _ctx(
        request,
        committees=committees,
        form=form or Form.empty("session", {"panelSize": 7, "backupCount": 2}).expect(NEW_FIELDS),
    )
    return _page(request, NEW, ctx, "session_form", status_code=422 if form else 200)


async def create_session(request: Request) -> Response:
    actor = current_actor(request)
    require(actor, Perm.SESSION_MANAGE)
    form = (await Form.submitted(request, "session")).expect(NEW_FIELDS)
    try:
        starts_at = _local(form.value("startsAt"), "startsAt")
        ends_at = _local(form.value("endsAt"), "endsAt")
        if starts_at is None:
            raise DomainError(ErrorCode.REQUIRED, "请填写开始时间", "startsAt")
        if ends_at is None:
            raise DomainError(ErrorCode.REQUIRED, "请填写结束时间", "endsAt")
        session = await svc.create_evaluation_session(
            actor,
            _required_int(form, "committeeId", "请选择评委会"),
            starts_at=starts_at,
            ends_at=ends_at,
            place=form.value("place"),
            panel_size=_required_int(form, "panelSize", "请填写评审组人数"),
            backup_count=form.integer("backupCount") or 0,
        )
    except NotFound:
        form.add(DomainError(ErrorCode.INVALID, "请选择本机构已备案的评委会", "committeeId"))
        return await new_session_page(request, form)
    except DomainError as exc:
        return await new_session_page(request, form.add(exc))
    return _done(request, f"/sessions/{session.id}", "created")


# --- the workspace ---------------------------------------------------------------------

FORM_FIELDS: dict[str, list[str]] = {
    "applicant": ["name", "idNumber", "creditCode", "specialty"],
    "training": ["expertIds", "trainedOn", "topic"],
    "conflict": ["expertNumber", "applicantId", "kind", "detail", "relativeName"],
    "supervisor": ["userId"],
    "commit": [],
    "execute": ["entropy"],
    "redraw": ["reason"],
    "attendance": ["presentExpertIds", "presidingExpertId"],
    "ballots": ["votes"],
    "recording": ["kind", "uri", "sizeBytes", "sha256"],
    "finalise": [],
    "passed": [],
}


async def _workspace(
    request: Request, session_id: int, forms: Mapping[str, Form] | None = None
) -> dict[str, Any]:
    actor = current_actor(request)
    _logged_in(actor)
    session = await svc.get_evaluation_session(actor, session_id)
    can = {
        "manage": await _may(actor, Perm.SESSION_MANAGE, session),
        "supervise": await _may(actor, Perm.SESSION_SUPERVISE, session),
        "assign": await _may(actor, Perm.SESSION_ASSIGN_SUPERVISOR, session),
        "issue": await _may(actor, Perm.CERTIFICATE_ISSUE, session),
    }
    draws = await svc.list_draws(actor, session.id)
    panel = await svc.session_panel(actor, session.id)
    roster = await svc.session_roster(actor, session.id) if can["manage"] else []
    names = {s.expert.number: s.expert.name for s in roster}
    names.update({m.expert.number: m.expert.name for m in panel})
    current = [m for m in panel if not m.is_backup and m.status != PanelStatus.DECLINED]
    status = SessionStatus(session.status)
    progress = (
        await svc.vote_progress(actor, session.id) if status in (S.SITTING, S.FINALISED) else None
    )
    applicants = await svc.list_session_applicants(actor, session.id)
    supervisors = await svc.list_session_supervisors(actor, session.id)
    candidates = await svc.supervisor_candidates(actor) if can["assign"] else []
    paper: dict[int, int] = {}
    for (applicant_id, _), is_paper in (progress.cast if progress else {}).items():
        paper[applicant_id] = paper.get(applicant_id, 0) + int(is_paper)
    all_forms = {key: Form.empty(key).expect(fields) for key, fields in FORM_FIELDS.items()} | dict(
        forms or {}
    )
    # Staff decline for an expert who phoned in (R10 step 4): one form per seated member.
    decline_forms: dict[int, Form] = {}
    if can["manage"] and status == S.DRAWN:
        for m in current:
            key = f"decline-{m.id}"
            decline_forms[m.id] = all_forms.get(key) or Form.empty(key).expect(DECLINE_FIELDS)
    votes = await svc.finalised_votes(actor, session)
    return _ctx(
        request,
        session=session,
        committee=session.committee,
        status=status,
        can=can,
        applicants=applicants,
        units=await directory.load_units(actor, {a.unit_id for a in applicants}),  # type: ignore[attr-defined]
        supervisors=supervisors,
        roster_options=[(s.expert.number, f"{s.expert.name}({s.expert.number})") for s in roster],
        applicant_options=[(str(a.id), f"{a.name}(#{a.id})") for a in applicants],
        candidate_options=[(str(u.id), f"{u.display_name}({u.username})") for u in candidates],
        presiding_options=[
            (str(m.expert.id), f"{m.expert.name}({SEAT_LABELS[m.seat]})")
            for m in current
            if m.seat in (Seat.CHAIR, Seat.VICE_CHAIR)
        ],
        paper_counts=paper,
        cert_labels=CERT_LABELS,
        conflicts=await svc.list_session_conflicts(actor, session.id),
        recordings=await svc.list_session_recordings(actor, session.id),
        draws=draws,
        panel=panel,
        current=current,
        roster=roster,
        names=names,
        progress=progress,
        checklist=await svc.finalise_checklist(actor, session.id),
        decline_forms=decline_forms,
        votes=votes,
        voters={m.expert.id: m.expert for m in panel},
        applicant_names={a.id: a.name for a in applicants},
        certificates=(
            await certs.list_session_certificates(actor, session.id)
            if can["issue"] and status == S.FINALISED
            else []
        ),
        forms=all_forms,
        kinds=list(CONFLICT_LABELS.items()),
        today=beijing_today().isoformat(),
    )


DECLINE_FIELDS = ["reason"]


async def session_page(request: Request) -> Response:
    ctx = await _workspace(request, request.path_params["session_id"])
    return _page(request, WORKSPACE, ctx, "workspace")


async def _act(request: Request, key: str, action: Any) -> Response:
    """Run `action(actor, session_id, form)`; on a rule broken re-render the workspace
    with the form's errors (422), else redirect to the session with `done`."""
    actor = current_actor(request)
    _logged_in(actor)
    session_id: int = request.path_params["session_id"]
    form = (await Form.submitted(request, key)).expect(FORM_FIELDS[key])
    try:
        done = await action(actor, session_id, form)
    except DomainError as exc:
        ctx = await _workspace(request, session_id, {key: form.add(exc)})
        return _page(request, WORKSPACE, ctx, "workspace", status_code=422)
    return _done(request, f"/sessions/{session_id}", done or key)


async def add_applicant(request: Request) -> Response:
    async def action(actor: Actor, session_id: int, form: Form) -> str:
        session = await svc.get_evaluation_session(actor, session_id)
        unit = await svc.unit_by_credit_code(form.text("creditCode"))
        if unit is None and form.text("creditCode"):
            raise DomainError(ErrorCode.INVALID, "未找到该统一社会信用代码的单位", "creditCode")
        if unit is None:
            raise DomainError(ErrorCode.REQUIRED, "请填写所在单位统一社会信用代码", "creditCode")
        await svc.add_session_applicants(
            actor,
            session_id,
            applicants=[
                {
                    "name": form.value("name"),
                    "id_number": form.value("idNumber"),
                    "unit_id": unit.id,
                    "series": session.committee.series,
                    "specialty": form.value("specialty"),
                    "level": session.committee.level,
                }
            ],
        )
        return "applicant"

    def rename(name: str) -> str:
        return name.split(".", 1)[1] if name.startswith("applicants[0].") else name

    actor = current_actor(request)
    _logged_in(actor)
    session_id: int = request.path_params["session_id"]
    form = (await Form.submitted(request, "applicant")).expect(FORM_FIELDS["applicant"])
    try:
        await action(actor, session_id, form)
    except DomainError as exc:
        form.add(exc, rename=rename)
        ctx = await _workspace(request, session_id, {"applicant": form})
        return _page(request, WORKSPACE, ctx, "workspace", status_code=422)
    return _done(request, f"/sessions/{session_id}", "applicant")


async def record_training(request: Request) -> Response:
    async def action(actor: Actor, session_id: int, form: Form) -> None:
        data = await request.form()
        ids = [int(v) for v in data.getlist("expertIds") if isinstance(v, str) and v.isdigit()]
        trained_on = form.date("trainedOn")
        if trained_on is None:
            raise DomainError(ErrorCode.REQUIRED, "请填写培训日期", "trainedOn")
        await svc.record_session_training(
            actor, session_id, expert_ids=ids, trained_on=trained_on, topic=form.value("topic")
        )

    return await _act(request, "training", action)


async def declare_conflict(request: Request) -> Response:
    async def action(actor: Actor, session_id: int, form: Form) -> None:
        roster = await svc.session_roster(actor, session_id)
        number = form.text("expertNumber")
        expert = next((s.expert for s in roster if s.expert.number == number), None)
        if expert is None:
            raise DomainError(ErrorCode.INVALID, "请选择本评委会的专家", "expertNumber")
        await svc.declare_conflict(
            actor,
            session_id,
            applicant_id=form.integer("applicantId"),
            kind=form.value("kind"),
            detail=form.value("detail"),
            expert_id=expert.id,
            relative_name=form.value("relativeName"),
        )

    return await _act(request, "conflict", action)


async def assign_supervisor(request: Request) -> Response:
    async def action(actor: Actor, session_id: int, form: Form) -> None:
        user_id = _required_int(form, "userId", "请选择监督委员")
        await svc.assign_supervisor(actor, session_id, user_id)

    return await _act(request, "supervisor", action)


async def commit_draw(request: Request) -> Response:
    async def action(actor: Actor, session_id: int, form: Form) -> str:
        await svc.commit_draw(actor, session_id)
        return "committed"

    return await _act(request, "commit", action)


async def execute_draw(request: Request) -> Response:
    async def action(actor: Actor, session_id: int, form: Form) -> str:
        entropy = form.text("entropy")
        if not entropy:
            raise DomainError(ErrorCode.REQUIRED, "请输入公开随机数(如现场掷骰结果)", "entropy")
        await svc.execute_draw(actor, session_id, entropy=entropy)
        return "executed"

    return await _act(request, "execute", action)


async def redraw(request: Request) -> Response:
    async def action(actor: Actor, session_id: int, form: Form) -> str:
        await svc.redraw(actor, session_id, reason=form.value("reason"))
        return "redrawn"

    return await _act(request, "redraw", action)


async def decline_for_expert(request: Request) -> Response:
    """Staff decline a drawn expert's invitation on the expert's behalf (the expert
    phoned in); the resolver decides who may and replaces the expert (R10 step 4)."""
    actor = current_actor(request)
    _logged_in(actor)
    session_id: int = request.path_params["session_id"]
    member_id: int = request.path_params["member_id"]
    key = f"decline-{member_id}"
    form = (await Form.submitted(request, key)).expect(DECLINE_FIELDS)
    if member_id not in {m.id for m in await svc.session_panel(actor, session_id)}:
        raise NotFound("邀请不存在")
    try:
        await svc.decline_invitation(actor, member_id, reason=form.value("reason"))
    except DomainError as exc:
        ctx = await _workspace(request, session_id, {key: form.add(exc)})
        return _page(request, WORKSPACE, ctx, "workspace", status_code=422)
    return _done(request, f"/sessions/{session_id}", "declined_for")


async def record_attendance(request: Request) -> Response:
    async def action(actor: Actor, session_id: int, form: Form) -> None:
        data = await request.form()
        present = [
            int(v) for v in data.getlist("presentExpertIds") if isinstance(v, str) and v.isdigit()
        ]
        presiding = _required_int(form, "presidingExpertId", "请选择主持评审的主任委员或副主任委员")
        await svc.record_attendance(
            actor, session_id, present_expert_ids=present, presiding_expert_id=presiding
        )

    return await _act(request, "attendance", action)


async def record_ballots(request: Request) -> Response:
    async def action(actor: Actor, session_id: int, form: Form) -> None:
        applicant_id = _required_int(form, "applicantId", "请选择申报人")
        votes = {
            int(k.removeprefix("votes.")): v
            for k, v in form.values.items()
            if k.startswith("votes.") and k.removeprefix("votes.").isdigit() and v
        }
        await svc.record_paper_ballots(actor, session_id, applicant_id, votes=votes)

    return await _act(request, "ballots", action)


async def attach_recording(request: Request) -> Response:
    async def action(actor: Actor, session_id: int, form: Form) -> None:
        size = _required_int(form, "sizeBytes", "请填写文件大小(字节)")
        await svc.attach_recording(
            actor,
            session_id,
            kind=form.value("kind"),
            uri=form.value("uri"),
            size_bytes=size,
            sha256=form.value("sha256"),
        )

    return await _act(request, "recording", action)


async def finalise(request: Request) -> Response:
    async def action(actor: Actor, session_id: int, form: Form) -> str:
        await svc.finalise_session(actor, session_id)
        return "finalised"

    return await _act(request, "finalise", action)


async def record_passed(request: Request) -> Response:
    async def action(actor: Actor, session_id: int, form: Form) -> str:
        await certs.record_passed_applicants(actor, session_id)
        return "recorded"

    return await _act(request, "passed", action)


async def draw_bundle(request: Request) -> Response:
    """The published JSON bundle of the executed draw (R10), for `pingshen verify-draw`."""
    actor = current_actor(request)
    session_id: int = request.path_params["session_id"]
    bundle = await svc.draw_bundle(actor, session_id)
    body = json.dumps(bundle, ensure_ascii=False, indent=2, sort_keys=True)
    return Response(
        body,
        media_type="application/json",
        headers={
            **PRIVATE,
            "Content-Disposition": f'attachment; filename="draw-session-{session_id}.json"',
        },
    )


# --- the expert's own invitations and ballot (/me/...) -------------------------------------


async def _invitations_ctx(request: Request, forms: Mapping[str, Form] | None = None) -> Any:
    actor = current_actor(request)
    _logged_in(actor)
    require(actor, Perm.EXPERT_UPDATE_REQUEST)
    rows = await svc.my_invitation_rows(actor)
    ballots = {}
    for m in rows:
        if m.status != PanelStatus.DECLINED:
            ballots[m.id] = (await svc.my_ballot(actor, m.session.id)).applicants
    return _ctx(
        request,
        rows=rows,
        ballots=ballots,
        forms=dict(forms or {}),
        kinds=list(CONFLICT_LABELS.items()),
        empty=Form.empty("x"),
    )


async def invitations_page(request: Request) -> Response:
    return _page(request, INVITATIONS, await _invitations_ctx(request), "invitations")


async def _invitation_act(request: Request, key: str, action: Any, done: str) -> Response:
    actor = current_actor(request)
    _logged_in(actor)
    member_id: int = request.path_params["member_id"]
    prefix = f"{key}-{member_id}"
    form = await Form.submitted(request, prefix)
    try:
        await action(actor, member_id, form)
    except DomainError as exc:
        ctx = await _invitations_ctx(request, {prefix: form.add(exc)})
        return _page(request, INVITATIONS, ctx, "invitations", status_code=422)
    return _done(request, "/me/invitations", done)


async def accept_invitation(request: Request) -> Response:
    async def action(actor: Actor, member_id: int, form: Form) -> None:
        await svc.accept_invitation(actor, member_id)

    return await _invitation_act(request, "accept", action, "accepted")


async def decline_invitation(request: Request) -> Response:
    async def action(actor: Actor, member_id: int, form: Form) -> None:
        await svc.decline_invitation(actor, member_id, reason=form.value("reason"))

    return await _invitation_act(request, "decline", action, "declined")


async def declare_own_conflict(request: Request) -> Response:
    async def action(actor: Actor, member_id: int, form: Form) -> None:
        member = next((m for m in await svc.my_invitation_rows(actor) if m.id == member_id), None)
        if member is None:
            raise NotFound("邀请不存在")
        await svc.declare_conflict(
            actor,
            member.session.id,
            applicant_id=form.integer("applicantId"),
            kind=form.value("kind"),
            detail=form.value("detail"),
            expert_id=member.expert_id,  # type: ignore[attr-defined]
        )

    return await _invitation_act(request, "conflict", action, "conflict")


async def _ballot_ctx(request: Request, form: Form | None = None) -> dict[str, Any]:
    actor = current_actor(request)
    _logged_in(actor)
    ballot = await svc.my_ballot(actor, request.path_params["session_id"])
    return _ctx(
        request,
        ballot=ballot,
        session=ballot.session,
        form=form or Form.empty("vote").expect(["applicantId", "choice"]),
        choices=list(VOTE_LABELS.items()),
    )


async def ballot_page(request: Request) -> Response:
    return _page(request, BALLOT, await _ballot_ctx(request), "ballot")


async def cast_vote(request: Request) -> Response:
    actor = current_actor(request)
    _logged_in(actor)
    session_id: int = request.path_params["session_id"]
    form = (await Form.submitted(request, "vote")).expect(["applicantId", "choice"])
    try:
        applicant_id = _required_int(form, "applicantId", "请选择申报人")
        await svc.cast_vote(actor, session_id, applicant_id, choice=form.value("choice"))
    except DomainError as exc:
        ctx = await _ballot_ctx(request, form.add(exc))
        return _page(request, BALLOT, ctx, "ballot", status_code=422)
    return _done(request, f"/me/sessions/{session_id}/vote", "voted")


# --- fairness statistics -----------------------------------------------------------------


async def fairness_page(request: Request) -> Response:
    """Per roster expert: drawn vs the uniform expectation, outliers flagged (item 9)."""
    actor = current_actor(request)
    _logged_in(actor)
    require(actor, Perm.EXPERT_STATS)
    committee_id: int = request.path_params["committee_id"]
    committee = await directory.get_committee(actor, committee_id)
    rows = await svc.draw_fairness(actor, committee_id)
    ctx = _ctx(
        request,
        committee=committee,
        rows=rows,
        outliers=sum(1 for r in rows if r.outlier),
        draws=max((r.draws_eligible for r in rows), default=0),
    )
    return _page(request, FAIRNESS, ctx, "fairness")


P = "/sessions/{session_id:int}"
routes: list[BaseRoute] = [
    Route("/institution/sessions", institution_sessions, methods=["GET"]),
    Route("/institution/sessions", create_session, methods=["POST"]),
    Route("/institution/sessions/new", new_session_page, methods=["GET"]),
    Route("/supervisor/sessions", supervisor_sessions, methods=["GET"]),
    Route("/bureau/sessions", bureau_sessions, methods=["GET"]),
    Route(P, session_page, methods=["GET"]),
    Route(P + "/applicants", add_applicant, methods=["POST"]),
    Route(P + "/training", record_training, methods=["POST"]),
    Route(P + "/conflicts", declare_conflict, methods=["POST"]),
    Route(P + "/supervisors", assign_supervisor, methods=["POST"]),
    Route(P + "/draw/commit", commit_draw, methods=["POST"]),
    Route(P + "/draw/execute", execute_draw, methods=["POST"]),
    Route(P + "/draw/redraw", redraw, methods=["POST"]),
    Route(P + "/draw.json", draw_bundle, methods=["GET"]),
    Route(P + "/panel/{member_id:int}/decline", decline_for_expert, methods=["POST"]),
    Route(P + "/attendance", record_attendance, methods=["POST"]),
    Route(P + "/ballots", record_ballots, methods=["POST"]),
    Route(P + "/recordings", attach_recording, methods=["POST"]),
    Route(P + "/finalise", finalise, methods=["POST"]),
    Route(P + "/passed", record_passed, methods=["POST"]),
    Route("/me/invitations", invitations_page, methods=["GET"]),
    Route("/me/invitations/{member_id:int}/accept", accept_invitation, methods=["POST"]),
    Route("/me/invitations/{member_id:int}/decline", decline_invitation, methods=["POST"]),
    Route("/me/invitations/{member_id:int}/conflict", declare_own_conflict, methods=["POST"]),
    Route("/me/sessions/{session_id:int}/vote", ballot_page, methods=["GET"]),
    Route("/me/sessions/{session_id:int}/vote", cast_vote, methods=["POST"]),
    Route("/fairness/committees/{committee_id:int}", fairness_page, methods=["GET"]),
]
