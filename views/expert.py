"""HTML pages of the expert pool (Chapter 3, issue 6 item 12).

Institution staff: the review queue of expert applications, an application's page
(review opinion, send back for additions or adjustments), the verification queue of
profile changes, the Excel import and the roster export. Bureau: the approval queue
(approve, reject, send back). Recommenders: the recommendation form and their own
submissions (amend and resubmit what was sent back, Art. 17). Experts: self-service
at /me (profile, pending changes, confidentiality agreement, training, terms,
assessments). Employers: the verification queue. Bureau and institutions: pool
statistics with server-rendered charts (views/charts.py).

Thin: every read and change is a call into resolvers/expert.py or
resolvers/expert_io.py, which decide what the actor may see and do. A view asks the
policy table (`require`) only at the door of a page that is one role's work, so
another role gets 403 instead of an empty page. Conventions as views/institution.py:
GET filter forms that htmx enhances (`hx-get` + `hx-push-url`, the `results` block),
forms with a real action and the hidden CSRF field, errors next to their input
(status 422), PRG with `?done=<key>`; personal-data pages send no-store.
"""

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from models import Expert, ExpertApplication
from models.enums import (
    LEVEL_LABELS,
    AssessmentResult,
    EntryRoute,
    ExpertApplicationStatus,
    ExpertStatus,
    InvitationCategory,
    Level,
    RetirementCategory,
    Role,
    TermStatus,
    UnitType,
    UpdateStatus,
)
from resolvers import directory, expert_io
from resolvers import expert as svc
from resolvers.actor import ANONYMOUS, Actor
from resolvers.common import beijing_today
from resolvers.config import get_config
from resolvers.directory import CommitteeFilter, InstitutionFilter, PageArgs
from resolvers.eligibility import ExpertFacts
from resolvers.errors import DomainError, ErrorCode, NotFound
from resolvers.institution import NATIONAL_SERIES
from resolvers.jobs import Job
from resolvers.policy import Perm, allows, require
from views.charts import bar_chart, share_chart
from views.errors import wants_fragment
from views.forms import Form
from views.templating import NAV, NavItem, current_actor, render

EA = ExpertApplicationStatus

# --- labels (zh-CN) ------------------------------------------------------------------

APPLICATION_LABELS: dict[str, str] = {
    EA.SUBMITTED: "待评审机构审核",
    EA.REVIEWED: "机构已审核,待市人社局审批",
    EA.NEEDS_CHANGES: "已退回补充调整",
    EA.APPROVED: "已批准入库",
    EA.REJECTED: "未通过",
}
EXPERT_LABELS: dict[str, str] = {
    ExpertStatus.APPLIED: "申请中",
    ExpertStatus.REVIEWED: "机构已审核",
    ExpertStatus.IN_POOL: "在库",
    ExpertStatus.SUSPENDED: "暂停",
    ExpertStatus.REJECTED: "未入库",
    ExpertStatus.EXITED: "已退出",
}
ROUTE_LABELS: dict[str, str] = {EntryRoute.RECOMMENDATION: "推荐", EntryRoute.INVITATION: "邀请"}
INVITATION_LABELS: dict[str, str] = {
    InvitationCategory.ACADEMICIAN: "两院院士",
    InvitationCategory.NATIONAL_AWARD: "国家科学技术奖获得者",
    InvitationCategory.BEIJING_AWARD: "北京市科学技术奖获得者",
    InvitationCategory.URGENT_SPECIALTY: "急需紧缺专业",
}
CATEGORY_LABELS: dict[str, str] = {
    RetirementCategory.MALE_60: "男,原退休年龄60周岁",
    RetirementCategory.FEMALE_55: "女,原退休年龄55周岁",
    RetirementCategory.FEMALE_50: "女,原退休年龄50周岁",
}
TERM_LABELS: dict[str, str] = {
    TermStatus.ACTIVE: "在任",
    TermStatus.RENEWED: "已续聘",
    TermStatus.ENDED: "已结束",
}
UPDATE_LABELS: dict[str, str] = {
    UpdateStatus.PENDING: "待核对",
    UpdateStatus.APPLIED: "已生效",
    UpdateStatus.REJECTED: "未通过",
    UpdateStatus.WITHDRAWN: "已撤回",
}
RESULT_LABELS: dict[str, str] = {AssessmentResult.PASS: "合格", AssessmentResult.FAIL: "不合格"}
SIDE_LABELS: dict[str, str] = {
    "employer": "所在单位",
    "institution": "评审机构",
    "bureau": "市人社局",
}
FIELD_LABELS: dict[str, str] = {
    "name": "姓名",
    "phone": "手机号码",
    "email": "电子邮箱",
    "unit_id": "所在单位",
    "title": "现职称",
    "title_level": "职称层级",
    "title_obtained_on": "职称取得日期",
    "series": "系列",
    "specialty": "专业",
    "field": "研究领域",
    "exception_reason": "急需紧缺例外理由",
    "committee_id": "拟入评委会",
}
LEVELS: dict[str, str] = {k.value: v for k, v in LEVEL_LABELS.items()}
UNIT_TYPES: dict[str, str] = {k.value: v for k, v in svc.UNIT_TYPE_LABELS.items()}

LABELS: dict[str, Mapping[str, str]] = {
    "application": APPLICATION_LABELS,
    "expert": EXPERT_LABELS,
    "route": ROUTE_LABELS,
    "invitation": INVITATION_LABELS,
    "category": CATEGORY_LABELS,
    "term": TERM_LABELS,
    "update": UPDATE_LABELS,
    "result": RESULT_LABELS,
    "side": SIDE_LABELS,
    "field": FIELD_LABELS,
    "level": LEVELS,
    "unit_type": UNIT_TYPES,
}
OPTIONS: dict[str, list[tuple[str, str]]] = {
    "level": list(LEVELS.items()),
    "series": [(s, s) for s in NATIONAL_SERIES],
    "category": [(str(k), v) for k, v in CATEGORY_LABELS.items()],
}

DONE_MESSAGES: dict[str, str] = {
    "reviewed": "审核意见已提交。",
    "approved": "已批准入库并备案,第一届聘期已开始。",
    "rejected": "已作出不予入库决定。",
    "sent_back": "已退回提交方补充调整。",
    "resubmitted": "已重新提交,等待评审机构审核。",
    "recommended": "推荐已提交,等待评审机构审核。",
    "update_requested": "变更申请已提交;所在单位和评审机构均核对通过后生效。",
    "signed": "已签署保密协议。",
    "verified": "核对结果已记录。",
}

NAV.extend(
    [
        NavItem("专家入库审核", "/institution/experts/applications", Perm.EXPERT_REVIEW),
        NavItem(
            "专家信息核对", "/institution/experts/updates", Perm.EXPERT_UPDATE_VERIFY_INSTITUTION
        ),
        NavItem("专家名单导入导出", "/institution/experts/import", Perm.EXPERT_REVIEW),
        NavItem("专家入库审批", "/bureau/experts/applications", Perm.EXPERT_APPROVE),
        NavItem("推荐专家", "/recommender/experts", Perm.EXPERT_RECOMMEND),
        NavItem("我的专家信息", "/me", Perm.EXPERT_UPDATE_REQUEST),
        NavItem("专家信息核对", "/employer/updates", Perm.EXPERT_UPDATE_VERIFY_EMPLOYER),
        NavItem("专家库统计", "/experts/statistics", Perm.EXPERT_STATS),
        NavItem("专家库", "/experts", Perm.EXPERT_VIEW),
    ]
)

PAGE_SIZE = 20
NO_STORE = {"Cache-Control": "no-store"}

# --- small helpers -------------------------------------------------------------------


def _ctx(request: Request, **values: Any) -> dict[str, Any]:
    return {
        "labels": LABELS,
        "options": OPTIONS,
        "done": DONE_MESSAGES.get(request.query_params.get("done", ""), ""),
        "today": beijing_today(),
        **values,
    }


def _page(
    request: Request, template: str, ctx: dict[str, Any], block: str, *, status_code: int = 200
) -> Response:
    """The whole page or, for an htmx swap, only `block`. Every page here shows
    personal data or decisions about people: never stored by caches."""
    return render(
        request,
        template,
        ctx,
        block if wants_fragment(request) else None,
        status_code=status_code,
        headers=NO_STORE,
    )


def _done(request: Request, url: str, key: str) -> Response:
    target = f"{url}{'&' if '?' in url else '?'}done={key}"
    if wants_fragment(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and 0 < len(raw) < 6 else 1


def _grant_id(actor: Actor, role: Role, attr: str) -> int:
    """The object the actor's grant is for (identity, not permission)."""
    ids = [getattr(g, attr) for g in actor.grants_of(role) if getattr(g, attr)]
    if not ids:
        raise NotFound()
    return int(ids[0])


def _blank_none(form: Form, name: str) -> str | None:
    value = form.text(name)
    return value or None


# --- queues: institution review, bureau approval, recommender's own ------------------

QUEUE = "expert/queue.html"
QUEUE_STATUSES = [
    ("submitted", APPLICATION_LABELS[EA.SUBMITTED]),
    ("needs_changes", APPLICATION_LABELS[EA.NEEDS_CHANGES]),
    ("reviewed", APPLICATION_LABELS[EA.REVIEWED]),
    ("approved", APPLICATION_LABELS[EA.APPROVED]),
    ("rejected", APPLICATION_LABELS[EA.REJECTED]),
    ("all", "全部"),
]


async def _queue(request: Request, *, perm: Perm, path: str, title: str, default: str) -> Response:
    actor = current_actor(request)
    require(actor, perm)
    params = dict(request.query_params)
    status = params.get("status", default)
    if status not in {s for s, _ in QUEUE_STATUSES}:
        status = default
    page = _page_number(params.get("page"))
    rows, has_next = await svc.page_expert_applications(
        actor,
        statuses=[] if status == "all" else [EA(status)],
        page=page,
        page_size=PAGE_SIZE,
    )

    def link(n: int) -> str:
        return f"{path}?{urlencode({'status': status, 'page': n})}"

    ctx = _ctx(
        request,
        title=title,
        path=path,
        status=status,
        statuses=QUEUE_STATUSES,
        rows=rows,
        prev_url=link(page - 1) if page > 1 else None,
        next_url=link(page + 1) if has_next else None,
        may_recommend=allows(actor, Perm.EXPERT_RECOMMEND),
    )
    return _page(request, QUEUE, ctx, "results")


async def institution_queue(request: Request) -> Response:
    """Applications to review (Art. 17): the institution's own only (scoped)."""
    return await _queue(
        request,
        perm=Perm.EXPERT_REVIEW,
        path="/institution/experts/applications",
        title="专家入库审核",
        default="submitted",
    )


async def bureau_queue(request: Request) -> Response:
    """Applications the institutions reviewed, awaiting the bureau's decision."""
    return await _queue(
        request,
        perm=Perm.EXPERT_APPROVE,
        path="/bureau/experts/applications",
        title="专家入库审批",
        default="reviewed",
    )


async def recommender_queue(request: Request) -> Response:
    """The recommender's own submissions (its authority's), sent-back ones first to act on."""
    return await _queue(
        request,
        perm=Perm.EXPERT_RECOMMEND,
        path="/recommender/experts",
        title="本单位推荐的专家",
        default="all",
    )


# --- one application -----------------------------------------------------------------

APPLICATION = "expert/application.html"
APPLICATION_FORMS = ("review", "approve", "reject", "changes", "resubmit")


def _amend_values(expert: Expert, app: ExpertApplication) -> dict[str, Any]:
    return {
        "name": expert.name,
        "email": expert.email,
        "title": expert.title,
        "titleLevel": expert.title_level,
        "titleObtainedOn": expert.title_obtained_on,
        "series": expert.series,
        "specialty": expert.specialty,
        "field": expert.field,
        "exceptionReason": app.exception_reason,
    }


async def _application_context(
    request: Request, application_id: int, forms: Mapping[str, Form] | None = None
) -> dict[str, Any]:
    actor = current_actor(request)
    require(actor, Perm.EXPERT_VIEW)  # anonymous: log in; roles without the pool: 403
    app = await svc.get_expert_application(actor, application_id)
    expert = await svc.get_expert(actor, app.expert_id)  # type: ignore[attr-defined]
    status = EA(app.status)
    invited = app.route == EntryRoute.INVITATION
    may_review = allows(actor, Perm.EXPERT_REVIEW) and status == EA.SUBMITTED
    may_decide = allows(actor, Perm.EXPERT_APPROVE) and status in (EA.SUBMITTED, EA.REVIEWED)
    submitter = Perm.EXPERT_INVITE if invited else Perm.EXPERT_RECOMMEND
    forms = dict(forms or {})
    defaults = {
        "review": Form.empty("review", {"recommend": "1"}),
        "resubmit": Form.empty("resubmit", _amend_values(expert, app)),
    }
    return _ctx(
        request,
        app=app,
        expert=expert,
        history=list(app.change_history or []),
        may_review=may_review,
        may_approve=may_decide and status == EA.REVIEWED,
        may_reject=may_decide,
        may_send_back=may_review or may_decide,
        may_resubmit=allows(actor, submitter) and status == EA.NEEDS_CHANGES,
        forms={n: forms.get(n) or defaults.get(n) or Form.empty(n) for n in APPLICATION_FORMS},
    )


async def application_page(request: Request) -> Response:
    ctx = await _application_context(request, request.path_params["application_id"])
    return _page(request, APPLICATION, ctx, "content")


async def _application_action(request: Request, name: str, fields: list[str]) -> Response:
    actor = current_actor(request)
    application_id: int = request.path_params["application_id"]
    form = (await Form.submitted(request, name)).expect(fields)
    try:
        if name == "review":
            await svc.review_expert_application(
                actor,
                application_id,
                opinion=form.value("opinion"),
                recommend=form.checked("recommend"),
            )
            done = "reviewed"
        elif name == "approve":
            await svc.approve_expert(
                actor, application_id, approve_exception=form.checked("approveException")
            )
            done = "approved"
        elif name == "reject":
            await svc.reject_expert(actor, application_id, reason=form.value("reason"))
            done = "rejected"
        elif name == "changes":
            await svc.request_expert_application_changes(
                actor, application_id, reason=form.value("reason")
            )
            done = "sent_back"
        else:
            await svc.resubmit_expert_application(
                actor,
                application_id,
                version=form.integer("version") or 0,  # missing: stale, refused
                response=form.value("response"),
                name=form.value("name"),
                phone=_blank_none(form, "phone"),
                email=form.value("email"),
                title=form.value("title"),
                title_level=form.value("titleLevel"),
                title_obtained_on=form.date("titleObtainedOn"),
                series=form.value("series"),
                specialty=form.value("specialty"),
                field=form.value("field"),
                exception_reason=form.value("exceptionReason"),
            )
            done = "resubmitted"
    except DomainError as exc:
        ctx = await _application_context(request, application_id, {name: form.add(exc)})
        return _page(request, APPLICATION, ctx, f"{name}_form", status_code=422)
    return _done(request, f"/experts/applications/{application_id}", done)


async def review_application(request: Request) -> Response:
    return await _application_action(request, "review", ["opinion", "recommend"])


async def approve_application(request: Request) -> Response:
    return await _application_action(request, "approve", ["approveException"])


async def reject_application(request: Request) -> Response:
    return await _application_action(request, "reject", ["reason"])


async def send_back_application(request: Request) -> Response:
    return await _application_action(request, "changes", ["reason"])


RESUBMIT_FIELDS = [
    "response",
    "name",
    "phone",
    "email",
    "title",
    "titleLevel",
    "titleObtainedOn",
    "series",
    "specialty",
    "field",
    "exceptionReason",
]


async def resubmit_application(request: Request) -> Response:
    return await _application_action(request, "resubmit", RESUBMIT_FIELDS)


# --- recommender: recommend an expert -----------------------------------------------

RECOMMEND = "expert/recommend.html"
RECOMMEND_FIELDS = [
    "institutionId",
    "unitId",
    "name",
    "idNumber",
    "phone",
    "email",
    "title",
    "titleLevel",
    "titleObtainedOn",
    "series",
    "specialty",
    "field",
    "retirementCategory",
    "exceptionReason",
]


async def _recommend_page(request: Request, form: Form, status_code: int = 200) -> Response:
    actor = current_actor(request)
    units = await svc.recommendable_units(actor)
    institutions = await directory.list_institutions(
        ANONYMOUS, filters=InstitutionFilter(), page=PageArgs(first=directory.MAX_PAGE_SIZE)
    )
    ctx = _ctx(
        request,
        form=form,
        unit_options=[
            (str(u.id), f"{u.name}({UNIT_TYPES.get(str(u.unit_type), '')})") for u in units
        ],
        institution_options=[(str(i.id), i.name) for i in institutions.items],
    )
    return _page(request, RECOMMEND, ctx, "recommend_form", status_code=status_code)


async def recommend_page(request: Request) -> Response:
    require(current_actor(request), Perm.EXPERT_RECOMMEND)
    return await _recommend_page(request, Form.empty("recommend"))


def _form_id(form: Form, name: str) -> int:
    value = form.integer(name, message="请选择")
    if value is None:
        raise DomainError(ErrorCode.REQUIRED, "请选择", name)
    return value


async def recommend_submit(request: Request) -> Response:
    actor = current_actor(request)
    require(actor, Perm.EXPERT_RECOMMEND)
    form = (await Form.submitted(request, "recommend")).expect(RECOMMEND_FIELDS)
    try:
        app = await svc.recommend_expert(
            actor,
            institution_id=_form_id(form, "institutionId"),
            unit_id=_form_id(form, "unitId"),
            name=form.value("name"),
            id_number=form.value("idNumber"),
            phone=form.value("phone"),
            email=form.value("email"),
            title=form.value("title"),
            title_level=form.value("titleLevel"),
            title_obtained_on=form.date("titleObtainedOn"),  # type: ignore[arg-type]
            series=form.value("series"),
            specialty=form.value("specialty"),
            field=form.value("field"),
            retirement_category=form.value("retirementCategory"),
            exception_reason=form.value("exceptionReason"),
        )
    except DomainError as exc:
        return await _recommend_page(request, form.add(exc), status_code=422)
    return _done(request, f"/experts/applications/{app.id}", "recommended")


# --- expert self-service -------------------------------------------------------------

ME = "expert/me.html"
UPDATE_FIELDS = ["phone", "email", "title", "titleLevel", "titleObtainedOn", "specialty", "field"]
_UPDATE_KEYS = {
    "phone": "phone",
    "email": "email",
    "title": "title",
    "titleLevel": "title_level",
    "titleObtainedOn": "title_obtained_on",
    "specialty": "specialty",
    "field": "field",
}


async def _me_context(request: Request, forms: Mapping[str, Form] | None = None) -> dict[str, Any]:
    actor = current_actor(request)
    require(actor, Perm.EXPERT_UPDATE_REQUEST)
    expert_id = _grant_id(actor, Role.EXPERT, "expert_id")
    expert = await svc.get_expert(actor, expert_id)
    record = await svc.expert_record(actor, expert.id)
    agreement = await svc.current_agreement()
    signed = agreement is not None and any(
        s.agreement_id == agreement.id  # type: ignore[attr-defined]
        for s in record.signatures
    )
    return _ctx(
        request,
        expert=expert,
        record=record,
        pending=await svc.list_pending_changes(actor, expert.id),
        agreement=agreement,
        signed=signed,
        retirement_date=ExpertFacts.from_model(expert).retirement_date,
        update_form=(forms or {}).get("update") or Form.empty("update"),
        sign_form=(forms or {}).get("sign") or Form.empty("sign"),
    )


async def me_page(request: Request) -> Response:
    return _page(request, ME, await _me_context(request), "content")


async def me_request_update(request: Request) -> Response:
    actor = current_actor(request)
    require(actor, Perm.EXPERT_UPDATE_REQUEST)
    expert_id = _grant_id(actor, Role.EXPERT, "expert_id")
    form = (await Form.submitted(request, "update")).expect(UPDATE_FIELDS)
    changes = {key: form.text(name) for name, key in _UPDATE_KEYS.items() if form.text(name)}
    try:
        await svc.request_expert_update(actor, expert_id, changes=changes)
    except DomainError as exc:
        ctx = await _me_context(request, {"update": form.add(exc)})
        return _page(request, ME, ctx, "update_form", status_code=422)
    return _done(request, "/me", "update_requested")


async def me_sign_agreement(request: Request) -> Response:
    actor = current_actor(request)
    require(actor, Perm.EXPERT_SIGN_AGREEMENT)
    expert_id = _grant_id(actor, Role.EXPERT, "expert_id")
    form = (await Form.submitted(request, "sign")).expect(["version"])
    try:
        if not form.checked("confirm"):
            raise DomainError(ErrorCode.REQUIRED, "请确认已阅读并同意保密协议全文", "version")
        await svc.sign_confidentiality_agreement(actor, expert_id, version=form.value("version"))
    except DomainError as exc:
        ctx = await _me_context(request, {"sign": form.add(exc)})
        return _page(request, ME, ctx, "sign_form", status_code=422)
    return _done(request, "/me", "signed")


# --- verification of profile changes (R8) --------------------------------------------

UPDATES = "expert/updates.html"
VERIFY_QUEUES = {
    "employer": ("/employer/updates", Perm.EXPERT_UPDATE_VERIFY_EMPLOYER),
    "institution": ("/institution/experts/updates", Perm.EXPERT_UPDATE_VERIFY_INSTITUTION),
}


async def _updates_page(
    request: Request,
    side: str,
    forms: Mapping[int, Form] | None = None,
    status_code: int = 200,
    done: str | None = None,
) -> Response:
    """The queue of one verifying side; an htmx request gets only the queue block
    (the verified card gone, `done` shown above the rest)."""
    actor = current_actor(request)
    path, perm = VERIFY_QUEUES[side]
    require(actor, perm)
    updates = await svc.pending_updates_for(actor)
    experts = await directory.load_experts(actor, [u.expert_id for u in updates])  # type: ignore[attr-defined]
    units = await directory.load_units(
        actor,
        [int(u.changes["unit_id"]) for u in updates if "unit_id" in u.changes]
        + [e.unit_id for e in experts.values()],  # type: ignore[attr-defined]
    )
    rows = [
        {
            "item": u,
            "expert": experts.get(u.expert_id),  # type: ignore[attr-defined]
            "changes": svc.display_changes(u.changes),
            "awaiting": [
                s for s in ("employer", "institution") if getattr(u, f"{s}_verified_at") is None
            ],
            "form": (forms or {}).get(u.id) or Form.empty(f"verify{u.id}"),
        }
        for u in updates
    ]
    ctx = _ctx(request, side=side, path=path, rows=rows, units=units)
    if done is not None:
        ctx["done"] = done
    return _page(request, UPDATES, ctx, "queue", status_code=status_code)


async def employer_updates(request: Request) -> Response:
    return await _updates_page(request, "employer")


async def institution_updates(request: Request) -> Response:
    return await _updates_page(request, "institution")


async def verify_update(request: Request) -> Response:
    actor = current_actor(request)
    update_id: int = request.path_params["update_id"]
    form = (await Form.submitted(request, f"verify{update_id}")).expect(["reason"])
    side = form.value("side") if form.value("side") in VERIFY_QUEUES else "employer"
    try:
        await svc.verify_expert_update(
            actor,
            update_id,
            approve=form.value("decision") != "reject",
            reason=form.value("reason"),
        )
    except DomainError as exc:
        return await _updates_page(request, side, {update_id: form.add(exc)}, status_code=422)
    if wants_fragment(request):
        # In place: the queue is re-read (the card leaves it) with the notice on top;
        # the plain form keeps the redirect-after-post below.
        return await _updates_page(request, side, done=DONE_MESSAGES["verified"])
    return _done(request, VERIFY_QUEUES[side][0], "verified")


# --- statistics (Art. 14, R13) -------------------------------------------------------

STATISTICS = "expert/statistics.html"


STATISTICS_FRESH = dt.timedelta(minutes=10)


async def _statistics_charts(actor: Actor, stats: svc.PoolStatistics) -> dict[str, Any]:
    floor = float(get_config().youth_floor_percent)
    committees = await directory.load_committees(actor, stats.youth_by_committee)
    youth_rows = [
        (committees[cid].name if cid in committees else f"评委会 {cid}", share.percent)
        for cid, share in stats.youth_by_committee.items()
    ]
    warnings = [
        committees[cid].name if cid in committees else f"评委会 {cid}"
        for cid, share in stats.youth_by_committee.items()
        if share.below_floor
    ]
    charts = {
        "series": bar_chart(
            list(stats.by_series.items()), title="按系列统计的在库专家人数", unit="人"
        ),
        "level": bar_chart(
            [(LEVELS.get(k, k), v) for k, v in stats.by_level.items()],
            title="按职称层级统计的在库专家人数",
            unit="人",
        ),
        "unit_type": bar_chart(
            [(UNIT_TYPES.get(k, k), v) for k, v in stats.by_unit_type.items()],
            title="按所在单位类型统计的在库专家人数",
            unit="人",
        ),
        "youth": share_chart(
            [("全库", stats.youth.percent), *youth_rows],
            title=f"45周岁以下专家占比(下限 {floor:g}%)",
            floor=floor,
        ),
        "non_public": share_chart(
            [(UNIT_TYPES[UnitType.NON_PUBLIC.value] + "单位", stats.non_public_percent)],
            title="来自非公单位的专家占比",
        ),
    }
    return {"stats": stats, "charts": charts, "floor": floor, "warnings": warnings}


async def statistics_page(request: Request) -> Response:
    """GET /experts/statistics[?job=…]: the whole pool is counted in a background job
    (issue 9 item 5). Without a job id the user's result of the last 10 minutes is
    shown, or a new count is started; the page polls (htmx) or refreshes (no JS)
    until it is done."""
    actor = current_actor(request)
    job_id = request.query_params.get("job")
    job, stats = await expert_io.pool_statistics_job(actor, job_id, fresh_for=STATISTICS_FRESH)
    if job is None:
        job = await expert_io.start_pool_statistics(actor)
    return await _statistics(request, job, stats)


async def _statistics(
    request: Request, job: Job, stats: svc.PoolStatistics | None, **headers: str
) -> Response:
    actor = current_actor(request)
    ctx = _ctx(request, job=job, stats=stats)
    if stats is not None:
        ctx.update(await _statistics_charts(actor, stats))
    response = _page(request, STATISTICS, ctx, "job")
    response.headers.update(headers)
    return response


async def statistics_restart(request: Request) -> Response:
    """POST /experts/statistics: count again now."""
    job = await expert_io.start_pool_statistics(current_actor(request))
    target = f"/experts/statistics?job={job.id}"
    if wants_fragment(request):
        return await _statistics(request, job, None, **{"HX-Push-Url": target})
    return RedirectResponse(target, status_code=303)


# --- Excel import and roster export (institution staff) ------------------------------

IMPORT = "expert/import.html"


async def _import_context(request: Request, **values: Any) -> dict[str, Any]:
    actor = current_actor(request)
    require(actor, Perm.EXPERT_REVIEW)
    inst_id = _grant_id(actor, Role.INSTITUTION, "institution_id")
    committees = await directory.list_committees(
        actor,
        filters=CommitteeFilter(institution_id=inst_id),
        page=PageArgs(first=directory.MAX_PAGE_SIZE),
    )
    return _ctx(
        request,
        institution_id=inst_id,
        committees=committees.items,
        report=None,
        job=None,
        form=Form.empty("import", {"mode": "all_or_nothing"}),
        **values,
    )


async def import_page(request: Request) -> Response:
    """GET /institution/experts/import[?job=…]: the upload form, and the progress or
    report of one import job (polled by htmx, refreshed without JS)."""
    actor = current_actor(request)
    ctx = await _import_context(request)
    job_id = request.query_params.get("job")
    if job_id is not None:
        job, report = await expert_io.import_job(actor, job_id)
        form = ctx["form"]
        if job.failed and job.error_code not in (ErrorCode.JOB_FAILED, ErrorCode.JOB_INTERRUPTED):
            # The file itself was refused (unreadable, empty, too many rows).
            form = form.add(DomainError(ErrorCode(job.error_code), job.error_message, "file"))
        ctx.update(job=job, report=report, form=form)
    return _page(request, IMPORT, ctx, "job")


async def import_submit(request: Request) -> Response:
    """POST: start the import in the background and go to its progress at once."""
    actor = current_actor(request)
    ctx = await _import_context(request)
    data = await request.form()
    mode = data.get("mode")
    upload = data.get("file")
    form = Form("import", {"mode": mode if isinstance(mode, str) else ""}).expect(["file", "mode"])
    try:
        chosen = isinstance(upload, UploadFile) and upload.filename
        content = await upload.read(expert_io.MAX_BYTES + 1) if chosen else b""  # type: ignore[union-attr]
        job = await expert_io.start_import(
            actor,
            ctx["institution_id"],
            content,
            mode="good_rows" if form.value("mode") == "good_rows" else "all_or_nothing",
        )
    except DomainError as exc:
        ctx.update(form=form.add(exc))
        return _page(request, IMPORT, ctx, "content", status_code=422)
    finally:
        await data.close()
    return RedirectResponse(f"/institution/experts/import?job={job.id}", status_code=303)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(content: bytes, filename: str) -> Response:
    return Response(
        content,
        media_type=XLSX,
        headers={
            **NO_STORE,
            # ASCII name (no quoting issues); the workbook itself is in Chinese.
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


async def import_template(request: Request) -> Response:
    require(current_actor(request), Perm.EXPERT_REVIEW)
    return _xlsx(expert_io.candidate_template(), "expert-candidates-template.xlsx")


async def export_roster(request: Request) -> Response:
    actor = current_actor(request)
    require(actor, Perm.EXPERT_REVIEW)
    raw = request.query_params.get("committee", "")
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound("评委会不存在")
    content = await expert_io.export_roster(actor, int(raw))
    return _xlsx(content, f"committee-{int(raw)}-roster.xlsx")


# --- the expert pool: searchable, filterable, keyset-paged list -----------------------

EXPERT_LIST = "expert/experts.html"
EXPERT_SORT_OPTIONS: list[tuple[str, str]] = [
    (directory.ExpertOrder.NUMBER_ASC.value, "专家编号升序"),
    (directory.ExpertOrder.NUMBER_DESC.value, "专家编号降序"),
    (directory.ExpertOrder.NAME_ASC.value, "姓名升序"),
    (directory.ExpertOrder.BIRTH_DATE_ASC.value, "出生日期升序"),
]
EXPERT_LIST_PARAMS = (
    "name", "number", "series", "level", "status", "unit_type", "sort", "after", "before"
)  # fmt: skip


def _choice(enum: type[Any], raw: str | None) -> Any:
    try:
        return enum(raw) if raw else None
    except ValueError:
        return None


def _list_query(params: Mapping[str, str], **over: str | None) -> str:
    merged = {**params, **over}
    return urlencode({k: v for k, v in merged.items() if v})


async def experts_page(request: Request) -> Response:
    """The expert pool (Art. 14-16, R5): bureau sees all, institution staff their own
    institution's experts, others what EXPERT_VIEW scopes them to (resolver decides).
    No ID number or phone is listed (SPEC "Personal data")."""
    actor = current_actor(request)
    require(actor, Perm.EXPERT_VIEW)
    raw = {k: request.query_params.get(k, "").strip() for k in EXPERT_LIST_PARAMS}
    level = _choice(Level, raw["level"])
    status = _choice(ExpertStatus, raw["status"])
    unit_type = _choice(UnitType, raw["unit_type"])
    order = _choice(directory.ExpertOrder, raw["sort"]) or directory.ExpertOrder.NUMBER_ASC
    filters = {
        "name": raw["name"][:50],
        "number": raw["number"][:16],
        "series": raw["series"][:50],
        "level": level.value if level else "",
        "status": status.value if status else "",
        "unit_type": unit_type.value if unit_type else "",
        "sort": order.value,
    }
    if raw["before"]:
        args = PageArgs(last=PAGE_SIZE, before=raw["before"])
    else:
        args = PageArgs(first=PAGE_SIZE, after=raw["after"] or None)
    error = ""
    rows: list[Expert] = []
    units: dict[int, Any] = {}
    term_ends: dict[int, dt.date] = {}
    prev_url = next_url = None
    try:
        page = await directory.list_experts(
            actor,
            filters=directory.ExpertFilter(
                name_prefix=filters["name"] or None,
                number=filters["number"] or None,
                series=filters["series"] or None,
                title_levels=[level] if level else None,
                statuses=[status] if status else None,
                unit_types=[unit_type] if unit_type else None,
            ),
            order=order,
            page=args,
        )
    except DomainError as exc:
        error = exc.message
    else:
        rows = page.items
        units = await directory.load_units(actor, {e.unit_id for e in rows})  # type: ignore[attr-defined]
        term_ends = await svc.current_term_ends(rows, beijing_today())
        if page.has_previous_page and page.cursors:
            prev_url = f"/experts?{_list_query(filters, before=page.cursors[0])}"
        if page.has_next_page and page.cursors:
            next_url = f"/experts?{_list_query(filters, after=page.cursors[-1])}"
    ctx = _ctx(
        request,
        filters=filters,
        sort_options=EXPERT_SORT_OPTIONS,
        status_options=list(EXPERT_LABELS.items()),
        unit_type_options=list(UNIT_TYPES.items()),
        rows=rows,
        units=units,
        term_ends=term_ends,
        prev_url=prev_url,
        next_url=next_url,
        error=error,
    )
    return _page(request, EXPERT_LIST, ctx, "results", status_code=400 if error else 200)


routes: list[BaseRoute] = [
    Route("/experts", experts_page),
    Route("/institution/experts/applications", institution_queue),
    Route("/bureau/experts/applications", bureau_queue),
    Route("/recommender/experts", recommender_queue),
    Route("/recommender/experts/new", recommend_page),
    Route("/recommender/experts/new", recommend_submit, methods=["POST"]),
    Route("/experts/applications/{application_id:int}", application_page),
    Route(
        "/experts/applications/{application_id:int}/review", review_application, methods=["POST"]
    ),
    Route(
        "/experts/applications/{application_id:int}/approve", approve_application, methods=["POST"]
    ),
    Route(
        "/experts/applications/{application_id:int}/reject", reject_application, methods=["POST"]
    ),
    Route(
        "/experts/applications/{application_id:int}/request-changes",
        send_back_application,
        methods=["POST"],
    ),
    Route(
        "/experts/applications/{application_id:int}/resubmit",
        resubmit_application,
        methods=["POST"],
    ),
    Route("/me", me_page),
    Route("/me/updates", me_request_update, methods=["POST"]),
    Route("/me/agreement", me_sign_agreement, methods=["POST"]),
    Route("/employer/updates", employer_updates),
    Route("/institution/experts/updates", institution_updates),
    Route("/expert-updates/{update_id:int}/verify", verify_update, methods=["POST"]),
    Route("/experts/statistics", statistics_page),
    Route("/experts/statistics", statistics_restart, methods=["POST"]),
    Route("/institution/experts/import", import_page),
    Route("/institution/experts/import", import_submit, methods=["POST"]),
    Route("/institution/experts/import/template.xlsx", import_template),
    Route("/institution/experts/export", export_roster),
]
