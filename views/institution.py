"""HTML pages for institutions, committees and annual plans (issue 5 item 8, issue 9).

Public: the directory of institutions and committees in force, an institution's
page and the published annual plans. Bureau: the filing queue, the review of an
institution's filing application (file / reject), suspension and revocation, and
recording an assessment. Institution staff: their institution, its filing
application, a committee's roster and its annual plans.

Thin: every read and every change is a call into resolvers/institution.py or
resolvers/directory.py, which decide what the actor may see and do. A view may only
ask the policy table (`require`) at the door of an area that is one role's work
(the bureau's queue, the staff's own pages), so that another role gets 403 instead
of an empty page.

Conventions of every page here:
- lists are GET forms: the same URL renders the whole page, or, for htmx, only the
  results block (`hx-push-url` keeps the address bar bookmarkable);
- every form has a real action and the hidden CSRF field; htmx posts it and swaps
  the form's own block; errors come back next to their input with status 422;
- a successful change redirects (303, or `HX-Redirect` for htmx) to the page that
  shows the result, with `?done=<key>` naming a fixed message (nothing reflected);
- pages with personal data send `Cache-Control: no-store` and say
  `hx-history="false"`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from models import (
    AnnualPlan,
    Committee,
    CommitteeSeat,
    Institution,
)
from models.enums import (
    LEVEL_LABELS,
    ApplicationStatus,
    AssessmentMethod,
    AssessmentResult,
    FilingStatus,
    InstitutionKind,
    Level,
    PlanStatus,
    Role,
    Seat,
)
from resolvers import directory
from resolvers import institution as svc
from resolvers.actor import ANONYMOUS, Actor
from resolvers.common import beijing_today
from resolvers.directory import (
    AnnualPlanFilter,
    AnnualPlanOrder,
    CommitteeFilter,
    CommitteeOrder,
    ExpertFilter,
    InstitutionFilter,
    InstitutionOrder,
    Page,
    PageArgs,
)
from resolvers.errors import DomainError, ErrorCode, NotFound
from resolvers.policy import Perm, allows, require
from views.errors import wants_fragment
from views.forms import Form, shift_index
from views.templating import NAV, NavItem, current_actor, render

# --- labels (zh-CN) ------------------------------------------------------------------

KIND_LABELS: dict[str, str] = {
    InstitutionKind.INDUSTRY_AUTHORITY: "行业主管部门",
    InstitutionKind.DISTRICT_BUREAU: "区人力资源社会保障局",
    InstitutionKind.TALENT_SERVICE: "专业人才服务机构",
    InstitutionKind.ASSOCIATION: "行业协会、学会",
    InstitutionKind.EMPLOYER: "用人单位",
}
FILING_LABELS: dict[str, str] = {
    FilingStatus.DRAFT: "草稿",
    FilingStatus.SUBMITTED: "已提交备案",
    FilingStatus.FILED: "已备案",
    FilingStatus.REJECTED: "未予备案",
    FilingStatus.EXPIRED: "备案已到期",
    FilingStatus.SUSPENDED: "已暂停",
    FilingStatus.REVOKED: "已撤销",
}
APPLICATION_LABELS: dict[str, str] = {
    ApplicationStatus.DRAFT: "草稿",
    ApplicationStatus.SUBMITTED: "已提交,待审核",
    ApplicationStatus.FILED: "已备案",
    ApplicationStatus.REJECTED: "未予备案",
}
SEAT_LABELS: dict[str, str] = {
    Seat.CHAIR: "主任委员",
    Seat.VICE_CHAIR: "副主任委员",
    Seat.MEMBER: "委员",
}
PLAN_LABELS: dict[str, str] = {PlanStatus.DRAFT: "草稿", PlanStatus.PUBLISHED: "已公布"}
METHOD_LABELS: dict[str, str] = {
    AssessmentMethod.ACCEPTANCE: "验收",
    AssessmentMethod.INQUIRY: "质询",
    AssessmentMethod.INTERVIEW: "约谈",
    AssessmentMethod.OBSERVATION: "现场观摩",
    AssessmentMethod.DOCUMENT_REVIEW: "查阅资料",
}
RESULT_LABELS: dict[str, str] = {AssessmentResult.PASS: "合格", AssessmentResult.FAIL: "不合格"}
LEVELS: dict[str, str] = {k.value: v for k, v in LEVEL_LABELS.items()}

LABELS: dict[str, Mapping[str, str]] = {
    "kind": KIND_LABELS,
    "filing": FILING_LABELS,
    "application": APPLICATION_LABELS,
    "seat": SEAT_LABELS,
    "plan": PLAN_LABELS,
    "method": METHOD_LABELS,
    "result": RESULT_LABELS,
    "level": LEVELS,
}


def _options(labels: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(str(k), v) for k, v in labels.items()]


OPTIONS: dict[str, list[tuple[str, str]]] = {
    "kind": _options(KIND_LABELS),
    "level": _options(LEVELS),
    "series": [(s, s) for s in svc.NATIONAL_SERIES],
    "seat": _options(SEAT_LABELS),
    "method": _options(METHOD_LABELS),
    "result": _options(RESULT_LABELS),
}

# `?done=` keys → the message shown once the change went through.
DONE_MESSAGES: dict[str, str] = {
    "filed": "已予备案。",
    "rejected": "已作出不予备案决定,申请单位可修改后重新提交。",
    "suspended": "已暂停该评审机构开展评审工作。",
    "revoked": "已撤销该评审机构的备案。",
    "assessed": "考核结果已记录。",
    "saved": "已保存。",
    "submitted": "已提交市人力资源社会保障局审核。",
    "seat_set": "专家名单已更新。",
    "seat_removed": "已将该专家移出评委会名单。",
    "committee_created": "评委会备案申请已创建,请配置专家名单后提交备案。",
    "published": "年度评审实施方案已公布。",
}

NAV.extend(
    [
        NavItem("备案审核", "/bureau/filings", Perm.INSTITUTION_FILE),
        NavItem("本机构", "/institution", Perm.INSTITUTION_APPLY),
    ]
)

# --- small helpers -------------------------------------------------------------------


def _ctx(request: Request, **values: Any) -> dict[str, Any]:
    done = request.query_params.get("done", "")
    return {
        "labels": LABELS,
        "options": OPTIONS,
        "done": DONE_MESSAGES.get(done, ""),
        "today": beijing_today(),
        **values,
    }


def _page(
    request: Request,
    template: str,
    ctx: dict[str, Any],
    block: str,
    *,
    status_code: int = 200,
    private: bool = False,
) -> Response:
    """The whole page, or only `block` for an htmx swap."""
    headers = {"Cache-Control": "no-store"} if private else None
    return render(
        request,
        template,
        {**ctx, "private": private},
        block if wants_fragment(request) else None,
        status_code=status_code,
        headers=headers,
    )


def _done(request: Request, url: str, key: str) -> Response:
    """After a successful change: show the resulting page (PRG)."""
    target = f"{url}{'&' if '?' in url else '?'}done={key}"
    if wants_fragment(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _status(obj: Institution | Committee) -> str:
    return svc.effective_status(obj).value


def _enum_or_none(enum: type[Any], raw: str | None) -> Any:
    try:
        return enum(raw) if raw else None
    except ValueError:
        return None


def _query(params: Mapping[str, str], **over: str | None) -> str:
    merged = {**params, **over}
    return urlencode({k: v for k, v in merged.items() if v})


@dataclass(frozen=True)
class Pager:
    """Previous/next links of a keyset page, keeping every filter."""

    prev_url: str | None
    next_url: str | None


def _pager(path: str, params: Mapping[str, str], page: Page[Any]) -> Pager:
    base = {k: v for k, v in params.items() if k not in ("after", "before", "done")}
    prev_url = next_url = None
    if page.has_previous_page and page.cursors:
        prev_url = f"{path}?{_query(base, before=page.cursors[0])}"
    if page.has_next_page and page.cursors:
        next_url = f"{path}?{_query(base, after=page.cursors[-1])}"
    return Pager(prev_url, next_url)


def _page_args(params: Mapping[str, str]) -> PageArgs:
    if params.get("before"):
        return PageArgs(last=directory.DEFAULT_PAGE_SIZE, before=params["before"])
    return PageArgs(first=directory.DEFAULT_PAGE_SIZE, after=params.get("after") or None)


def _own_institution_id(request: Request, actor: Actor) -> int:
    """The institution the staff member works for (identity, not permission: the
    resolvers still scope every read to it)."""
    ids = [g.institution_id for g in actor.grants_of(Role.INSTITUTION) if g.institution_id]
    chosen = request.query_params.get("institution", "")
    if chosen.isdigit() and int(chosen) in ids:
        return int(chosen)
    if not ids:
        raise NotFound("未关联评审机构")
    return ids[0]


def _int_param(raw: str | None) -> int:
    if raw is None or not raw.isdigit() or len(raw) > 18:
        raise NotFound()
    return int(raw)


# --- public: the directory -----------------------------------------------------------

DIRECTORY = "institution/directory.html"
SORT_OPTIONS: list[tuple[str, str]] = [
    ("name_asc", "名称升序"),
    ("name_desc", "名称降序"),
    ("created_at_desc", "最近登记在前"),
]


async def directory_page(request: Request) -> Response:
    """Institutions or committees in force (R1), searchable, filterable, paged.

    Listed as the anonymous public whoever asks: this is the public directory, and
    "in force" (filed and unexpired) is exactly the public's scope, whereas a
    privileged actor's scope also holds drafts and lapsed filings.
    """
    params = dict(request.query_params)
    view = "committees" if params.get("view") == "committees" else "institutions"
    q = params.get("q", "").strip()[:100]
    kind = _enum_or_none(InstitutionKind, params.get("kind"))
    level = _enum_or_none(Level, params.get("level"))
    series = params.get("series", "") if params.get("series") in svc.NATIONAL_SERIES else ""
    sort = params.get("sort", "name_asc")
    error = ""
    rows: list[Any] = []
    pager = Pager(None, None)
    institutions: dict[int, Institution] = {}
    try:
        if view == "institutions":
            i_page = await directory.list_institutions(
                ANONYMOUS,
                filters=InstitutionFilter(name_contains=q or None, kinds=[kind] if kind else None),
                order=_enum_or_none(InstitutionOrder, sort) or InstitutionOrder.NAME_ASC,
                page=_page_args(params),
            )
            rows, pager = i_page.items, _pager("/directory", params, i_page)
        else:
            c_page = await directory.list_committees(
                ANONYMOUS,
                filters=CommitteeFilter(
                    name_contains=q or None,
                    series=series or None,
                    levels=[level] if level else None,
                ),
                order=_enum_or_none(CommitteeOrder, sort) or CommitteeOrder.NAME_ASC,
                page=_page_args(params),
            )
            rows, pager = c_page.items, _pager("/directory", params, c_page)
            institutions = await directory.load_institutions(
                ANONYMOUS,
                [r.institution_id for r in rows],  # type: ignore[attr-defined]
            )
    except DomainError as exc:
        error = exc.message
    ctx = _ctx(
        request,
        view=view,
        filters={
            "q": q,
            "kind": kind.value if kind else "",
            "series": series,
            "level": level.value if level else "",
            "sort": sort,
        },
        sort_options=SORT_OPTIONS,
        rows=rows,
        institutions=institutions,
        pager=pager,
        error=error,
        tab_urls={
            "institutions": "/directory?" + _query({"q": q}, view=None),
            "committees": "/directory?" + _query({"q": q}, view="committees"),
        },
    )
    return _page(request, DIRECTORY, ctx, "results", status_code=400 if error else 200)


async def institutions_redirect(request: Request) -> Response:
    """The shell's navigation links /institutions; the directory lives at /directory."""
    query = request.url.query
    return RedirectResponse("/directory" + (f"?{query}" if query else ""), status_code=308)


INSTITUTION_PAGE = "institution/institution.html"


async def _institution_context(
    request: Request, institution_id: int, forms: Mapping[str, Form] | None = None
) -> dict[str, Any]:
    actor = current_actor(request)
    inst = await directory.get_institution(actor, institution_id)
    committees = await directory.list_committees(
        actor,
        filters=CommitteeFilter(institution_id=inst.id),
        page=PageArgs(first=directory.MAX_PAGE_SIZE),
    )
    assessments = await svc.list_institution_assessments(actor, inst.id)
    may_suspend = allows(actor, Perm.INSTITUTION_SUSPEND)
    return _ctx(
        request,
        inst=inst,
        status=_status(inst),
        committees=[(c, _status(c)) for c in committees.items],
        assessments=assessments,
        may_suspend=may_suspend,
        may_assess=allows(actor, Perm.INSTITUTION_ASSESS),
        suspend_form=(forms or {}).get("suspend") or Form.empty("suspend"),
        revoke_form=(forms or {}).get("revoke") or Form.empty("revoke"),
    )


async def institution_page(request: Request) -> Response:
    ctx = await _institution_context(request, request.path_params["institution_id"])
    return _page(request, INSTITUTION_PAGE, ctx, "content")


async def _status_change(request: Request, action: str) -> Response:
    actor = current_actor(request)
    institution_id: int = request.path_params["institution_id"]
    form = (await Form.submitted(request, action)).expect(["reason"])
    change = svc.suspend_institution if action == "suspend" else svc.revoke_institution
    try:
        await change(actor, institution_id, reason=form.value("reason"))
    except DomainError as exc:
        ctx = await _institution_context(request, institution_id, {action: form.add(exc)})
        return _page(request, INSTITUTION_PAGE, ctx, f"{action}_form", status_code=422)
    done = "suspended" if action == "suspend" else "revoked"
    return _done(request, f"/directory/institutions/{institution_id}", done)


async def suspend_institution(request: Request) -> Response:
    return await _status_change(request, "suspend")


async def revoke_institution(request: Request) -> Response:
    return await _status_change(request, "revoke")


# --- public: annual plans ------------------------------------------------------------

PLANS = "institution/plans.html"


async def plans_page(request: Request) -> Response:
    """Published annual plans (Art. 9(二)); drafts never appear here, whoever asks."""
    actor = current_actor(request)
    params = dict(request.query_params)
    year_raw = params.get("year", "").strip()
    year = int(year_raw) if year_raw.isdigit() and len(year_raw) == 4 else None
    level = _enum_or_none(Level, params.get("level"))
    series = params.get("series", "") if params.get("series") in svc.NATIONAL_SERIES else ""
    sort = _enum_or_none(AnnualPlanOrder, params.get("sort")) or AnnualPlanOrder.YEAR_DESC
    error = ""
    rows: list[AnnualPlan] = []
    committees: dict[int, Committee] = {}
    institutions: dict[int, Institution] = {}
    pager = Pager(None, None)
    try:
        page = await directory.list_annual_plans(
            actor,
            filters=AnnualPlanFilter(
                year=year,
                series=series or None,
                levels=[level] if level else None,
                statuses=[PlanStatus.PUBLISHED],
            ),
            order=sort,
            page=_page_args(params),
        )
        rows, pager = page.items, _pager("/plans", params, page)
        committees = await directory.load_committees(
            actor,
            [p.committee_id for p in rows],  # type: ignore[attr-defined]
        )
        institutions = await directory.load_institutions(
            actor,
            [c.institution_id for c in committees.values()],  # type: ignore[attr-defined]
        )
    except DomainError as exc:
        error = exc.message
    ctx = _ctx(
        request,
        filters={
            "year": str(year or ""),
            "series": series,
            "level": level.value if level else "",
            "sort": sort.value,
        },
        sort_options=[("year_desc", "年度从新到旧"), ("year_asc", "年度从旧到新")],
        rows=rows,
        committees=committees,
        institutions=institutions,
        pager=pager,
        error=error,
    )
    return _page(request, PLANS, ctx, "results", status_code=400 if error else 200)


# --- bureau: filing queue and review -------------------------------------------------

FILINGS = "institution/filings.html"
REVIEW = "institution/review.html"
COMMITTEE_REVIEW = "institution/committee_review.html"


async def filings_page(request: Request) -> Response:
    """The bureau's queue: submitted institution applications and committees, and
    filings that end within 90 days."""
    actor = current_actor(request)
    require(actor, Perm.INSTITUTION_FILE)
    applications = await svc.list_institution_applications(
        actor, status=ApplicationStatus.SUBMITTED
    )
    committees = await directory.list_committees(
        actor,
        filters=CommitteeFilter(statuses=[FilingStatus.SUBMITTED]),
        order=CommitteeOrder.CREATED_AT_DESC,
        page=PageArgs(first=directory.MAX_PAGE_SIZE),
    )
    ids = [a.institution_id for a in applications]  # type: ignore[attr-defined]
    ids += [c.institution_id for c in committees.items]  # type: ignore[attr-defined]
    institutions = await directory.load_institutions(actor, ids)
    expiring = await svc.expiring_filings(actor)
    ctx = _ctx(
        request,
        applications=applications,
        committees=committees.items,
        institutions=institutions,
        expiring=expiring,
    )
    return _page(request, FILINGS, ctx, "content", private=True)


async def _review_context(
    request: Request, application_id: int, forms: Mapping[str, Form] | None = None
) -> dict[str, Any]:
    actor = current_actor(request)
    require(actor, Perm.INSTITUTION_FILE)
    app = await svc.get_institution_application(actor, application_id)
    inst = await svc.get_institution(actor, app.institution_id)  # type: ignore[attr-defined]
    limit = svc.add_years(beijing_today(), svc.FILING_YEARS)
    return _ctx(
        request,
        app=app,
        inst=inst,
        inst_status=_status(inst),
        content=app.content,
        proposed=app.proposed_committees,
        limit=limit,
        file_form=(forms or {}).get("file") or Form.empty("file"),
        reject_form=(forms or {}).get("reject") or Form.empty("reject"),
    )


async def review_page(request: Request) -> Response:
    ctx = await _review_context(request, request.path_params["application_id"])
    return _page(request, REVIEW, ctx, "content", private=True)


async def file_application(request: Request) -> Response:
    actor = current_actor(request)
    application_id: int = request.path_params["application_id"]
    form = (await Form.submitted(request, "file")).expect(["validUntil"])
    try:
        await svc.file_institution(actor, application_id, valid_until=form.date("validUntil"))
    except DomainError as exc:
        ctx = await _review_context(request, application_id, {"file": form.add(exc)})
        return _page(request, REVIEW, ctx, "decision", status_code=422, private=True)
    return _done(request, f"/bureau/filings/institutions/{application_id}", "filed")


async def reject_application(request: Request) -> Response:
    actor = current_actor(request)
    application_id: int = request.path_params["application_id"]
    form = (await Form.submitted(request, "reject")).expect(["reason"])
    try:
        await svc.reject_institution_application(actor, application_id, reason=form.value("reason"))
    except DomainError as exc:
        ctx = await _review_context(request, application_id, {"reject": form.add(exc)})
        return _page(request, REVIEW, ctx, "decision", status_code=422, private=True)
    return _done(request, f"/bureau/filings/institutions/{application_id}", "rejected")


async def _roster(actor: Actor, committee_id: int) -> list[CommitteeSeat]:
    """The roster, which only the bureau and the committee's own institution see:
    for anyone else the resolver raises NotFound, so the page is a 404."""
    seats = await svc.list_committee_seats(actor, committee_id)
    # The resolver has decided the roster is visible; who holds each seat (number and
    # name) is part of it, fetched in one query.
    await CommitteeSeat.fetch_for_list(seats, "expert")
    return seats


async def _committee_review_context(
    request: Request, committee_id: int, forms: Mapping[str, Form] | None = None
) -> dict[str, Any]:
    actor = current_actor(request)
    require(actor, Perm.COMMITTEE_FILE)
    committee = await svc.get_committee(actor, committee_id)
    inst = await svc.get_institution(actor, committee.institution_id)  # type: ignore[attr-defined]
    limit = svc.add_years(beijing_today(), svc.FILING_YEARS)
    return _ctx(
        request,
        committee=committee,
        status=_status(committee),
        inst=inst,
        inst_status=_status(inst),
        seats=await _roster(actor, committee.id),
        limit=limit,
        file_form=(forms or {}).get("file") or Form.empty("cfile"),
        reject_form=(forms or {}).get("reject") or Form.empty("creject"),
    )


async def committee_review_page(request: Request) -> Response:
    ctx = await _committee_review_context(request, request.path_params["committee_id"])
    return _page(request, COMMITTEE_REVIEW, ctx, "content", private=True)


async def file_committee(request: Request) -> Response:
    actor = current_actor(request)
    committee_id: int = request.path_params["committee_id"]
    form = (await Form.submitted(request, "cfile")).expect(["validUntil"])
    try:
        await svc.file_committee(actor, committee_id, valid_until=form.date("validUntil"))
    except DomainError as exc:
        ctx = await _committee_review_context(request, committee_id, {"file": form.add(exc)})
        return _page(request, COMMITTEE_REVIEW, ctx, "decision", status_code=422, private=True)
    return _done(request, f"/bureau/filings/committees/{committee_id}", "filed")


async def reject_committee(request: Request) -> Response:
    actor = current_actor(request)
    committee_id: int = request.path_params["committee_id"]
    form = (await Form.submitted(request, "creject")).expect(["reason"])
    try:
        await svc.reject_committee(actor, committee_id, reason=form.value("reason"))
    except DomainError as exc:
        ctx = await _committee_review_context(request, committee_id, {"reject": form.add(exc)})
        return _page(request, COMMITTEE_REVIEW, ctx, "decision", status_code=422, private=True)
    return _done(request, f"/bureau/filings/committees/{committee_id}", "rejected")


# --- bureau: assessment --------------------------------------------------------------

ASSESSMENT = "institution/assessment.html"
ASSESSMENT_FIELDS = ("method", "assessedOn", "findings", "result")


async def _assessment_context(
    request: Request, institution_id: int, form: Form | None = None
) -> dict[str, Any]:
    actor = current_actor(request)
    require(actor, Perm.INSTITUTION_ASSESS)
    inst = await svc.get_institution(actor, institution_id)
    figures = await svc.complaint_figures(actor, inst.id)
    return _ctx(
        request,
        inst=inst,
        status=_status(inst),
        figures=figures,
        form=form or Form.empty("assess", {"assessedOn": beijing_today()}),
    )


async def assessment_form(request: Request) -> Response:
    institution_id = _int_param(request.query_params.get("institution"))
    ctx = await _assessment_context(request, institution_id)
    return _page(request, ASSESSMENT, ctx, "content", private=True)


async def record_assessment(request: Request) -> Response:
    actor = current_actor(request)
    form = (await Form.submitted(request, "assess")).expect(ASSESSMENT_FIELDS)
    institution_id = _int_param(form.value("institution"))
    try:
        assessed_on = form.date("assessedOn")
        if assessed_on is None:
            raise DomainError(ErrorCode.REQUIRED, "此项为必填项", "assessedOn")
        await svc.record_institution_assessment(
            actor,
            institution_id,
            method=form.value("method"),
            assessed_on=assessed_on,
            findings=form.value("findings"),
            result=form.value("result"),
        )
    except DomainError as exc:
        ctx = await _assessment_context(request, institution_id, form.add(exc))
        return _page(request, ASSESSMENT, ctx, "assessment_form", status_code=422, private=True)
    return _done(request, f"/directory/institutions/{institution_id}", "assessed")


# --- institution staff: own institution ----------------------------------------------

OWN = "institution/own.html"


async def own_page(request: Request) -> Response:
    """The staff's institution: status, validity, committees; filings ending within
    90 days are highlighted."""
    actor = current_actor(request)
    require(actor, Perm.INSTITUTION_APPLY)
    inst = await svc.get_institution(actor, _own_institution_id(request, actor))
    committees = await svc.list_committees(actor, institution_id=inst.id)
    expiring = {(f.kind, f.id): f for f in await svc.expiring_filings(actor)}
    applications = await svc.list_institution_applications(actor, institution_id=inst.id)
    ctx = _ctx(
        request,
        inst=inst,
        status=_status(inst),
        inst_expiring=expiring.get(("institution", inst.id)),
        committees=[(c, _status(c), expiring.get(("committee", c.id))) for c in committees],
        applications=applications,
        year=beijing_today().year,
    )
    return _page(request, OWN, ctx, "content", private=True)


# --- institution staff: the filing application (Art. 10) ------------------------------

APPLICATION = "institution/application.html"
CONTENT_FIELDS: dict[str, str] = {
    # form/error field name → stored content key
    "kind": "kind",
    "introduction": "introduction",
    "personInCharge": "person_in_charge",
    "professionalScope": "professional_scope",
    "purpose": "purpose",
    "officeAddress": "office_address",
    "phone": "phone",
    "fullTimeStaff": "full_time_staff",
    "facilities": "facilities",
    "strengths": "strengths",
}
PROPOSED_FIELDS: dict[str, str] = {
    "name": "name",
    "series": "series",
    "specialty": "specialty",
    "level": "level",
    "applicantScope": "applicant_scope",
    "quantitativeStandard": "quantitative_standard",
    "procedure": "procedure",
    "selfEvaluation": "self_evaluation",
}
MAX_PROPOSED_ROWS = 30


def _row_name(i: int, name: str) -> str:
    return f"proposedCommittees[{i}].{name}"


def _application_values(
    content: Mapping[str, Any], proposed: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    values: dict[str, Any] = {f: content.get(k, "") for f, k in CONTENT_FIELDS.items()}
    for i, row in enumerate(proposed):
        for f, k in PROPOSED_FIELDS.items():
            values[_row_name(i, f)] = row.get(k, "")
    return values


def _row_count(form: Form) -> int:
    count = 0
    while count < MAX_PROPOSED_ROWS and any(
        _row_name(count, f) in form.values for f in PROPOSED_FIELDS
    ):
        count += 1
    return count


def _application_fields(rows: int) -> list[str]:
    names = [*CONTENT_FIELDS, "proposedCommittees"]
    names += [_row_name(i, f) for i in range(rows) for f in PROPOSED_FIELDS]
    return names


async def _application_context(request: Request, form: Form | None = None) -> dict[str, Any]:
    actor = current_actor(request)
    require(actor, Perm.INSTITUTION_APPLY)
    inst = await svc.get_institution(actor, _own_institution_id(request, actor))
    rounds = await svc.list_institution_applications(actor, institution_id=inst.id)
    current = rounds[0] if rounds else None
    is_open = current is not None and current.status != ApplicationStatus.FILED
    editable = current is None or current.status in (
        ApplicationStatus.DRAFT,
        ApplicationStatus.REJECTED,
        ApplicationStatus.FILED,
    )
    if form is None:
        if current is not None:
            values = _application_values(current.content, current.proposed_committees)
        else:
            values = _application_values(
                {k: getattr(inst, k) for k in CONTENT_FIELDS.values()}
                | {"full_time_staff": inst.full_time_staff or ""},
                [],
            )
        form = Form.empty("app", values)
    rows = _row_count(form) + 1  # one blank row to add a committee without JavaScript
    form.expect(_application_fields(rows))
    return _ctx(
        request,
        inst=inst,
        status=_status(inst),
        current=current if is_open else None,
        editable=editable,
        form=form,
        rows=rows,
        row_name=_row_name,
        history=rounds,
    )


def _proposed_rows(form: Form) -> tuple[list[dict[str, Any]], list[int]]:
    """The committee rows the user filled in, and which form row each came from."""
    rows: list[dict[str, Any]] = []
    positions: list[int] = []
    for i in range(_row_count(form)):
        raw: dict[str, Any] = {k: form.text(_row_name(i, f)) for f, k in PROPOSED_FIELDS.items()}
        raw["self_evaluation"] = form.checked(_row_name(i, "selfEvaluation"))
        if not any(v for k, v in raw.items() if k != "self_evaluation"):
            continue
        rows.append(raw)
        positions.append(i)
    return rows, positions


async def application_page(request: Request) -> Response:
    ctx = await _application_context(request)
    return _page(request, APPLICATION, ctx, "content", private=True)


async def save_application(request: Request) -> Response:
    """Create the application, or update the open draft/rejected one (version seen)."""
    actor = current_actor(request)
    require(actor, Perm.INSTITUTION_APPLY)
    form = await Form.submitted(request, "app")
    rows, positions = _proposed_rows(form)
    try:
        staff = form.integer("fullTimeStaff", message="专职工作人员应至少1人")
        content: dict[str, Any] = {k: form.value(f) for f, k in CONTENT_FIELDS.items()}
        content["full_time_staff"] = 0 if staff is None else staff
        application_id = form.value("application")
        if application_id:
            await svc.update_institution_application(
                actor,
                _int_param(application_id),
                version=form.integer("version") or 0,
                proposed_committees=rows,
                **content,
            )
        else:
            await svc.create_institution_application(
                actor,
                _own_institution_id(request, actor),
                proposed_committees=rows,
                **content,
            )
    except DomainError as exc:
        form.add(exc, rename=shift_index("proposedCommittees", positions))
        ctx = await _application_context(request, form)
        return _page(request, APPLICATION, ctx, "application", status_code=422, private=True)
    return _done(request, "/institution/application", "saved")


async def submit_application(request: Request) -> Response:
    actor = current_actor(request)
    form = await Form.submitted(request, "app")
    try:
        await svc.submit_institution_application(
            actor,
            _int_param(form.value("application")),
            version=form.integer("version"),
        )
    except DomainError as exc:
        ctx = await _application_context(request)
        ctx["form"].add(exc)
        return _page(request, APPLICATION, ctx, "application", status_code=422, private=True)
    return _done(request, "/institution/application", "submitted")


# --- institution staff: committees ---------------------------------------------------

COMMITTEE = "institution/committee.html"
COMMITTEE_NEW = "institution/committee_new.html"
COMMITTEE_FIELDS: dict[str, str] = {
    "name": "name",
    "series": "series",
    "specialty": "specialty",
    "level": "level",
    "applicantScope": "applicant_scope",
    "quantitativeStandard": "quantitative_standard",
    "procedure": "procedure",
}


async def new_committee_page(request: Request, form: Form | None = None) -> Response:
    actor = current_actor(request)
    require(actor, Perm.COMMITTEE_MANAGE)
    inst = await svc.get_institution(actor, _own_institution_id(request, actor))
    ctx = _ctx(
        request,
        inst=inst,
        form=form or Form.empty("committee").expect([*COMMITTEE_FIELDS, "selfEvaluation"]),
    )
    status_code = 422 if form is not None else 200
    return _page(request, COMMITTEE_NEW, ctx, "committee_form", status_code=status_code)


async def create_committee(request: Request) -> Response:
    actor = current_actor(request)
    require(actor, Perm.COMMITTEE_MANAGE)
    form = (await Form.submitted(request, "committee")).expect(
        [*COMMITTEE_FIELDS, "selfEvaluation"]
    )
    try:
        committee = await svc.create_committee_application(
            actor,
            _own_institution_id(request, actor),
            **{k: form.value(f) for f, k in COMMITTEE_FIELDS.items()},
            self_evaluation=form.checked("selfEvaluation"),
        )
    except DomainError as exc:
        return await new_committee_page(request, form.add(exc))
    return _done(request, f"/institution/committees/{committee.id}", "committee_created")


async def _committee_context(
    request: Request, committee_id: int, forms: Mapping[str, Form] | None = None
) -> dict[str, Any]:
    actor = current_actor(request)
    require(actor, Perm.COMMITTEE_MANAGE)
    committee = await svc.get_committee(actor, committee_id)
    seats = await _roster(actor, committee.id)
    year = beijing_today().year
    return _ctx(
        request,
        committee=committee,
        status=_status(committee),
        seats=seats,
        seat_form=(forms or {}).get("seat")
        or Form.empty("seat", {"seat": Seat.MEMBER}).expect(["expertNumber", "seat"]),
        submit_form=(forms or {}).get("submit") or Form.empty("csubmit").expect([]),
        plan_years=[year, year + 1],
    )


async def committee_page(request: Request) -> Response:
    ctx = await _committee_context(request, request.path_params["committee_id"])
    return _page(request, COMMITTEE, ctx, "content", private=True)


async def set_seat(request: Request) -> Response:
    actor = current_actor(request)
    committee_id: int = request.path_params["committee_id"]
    form = (await Form.submitted(request, "seat")).expect(["expertNumber", "seat"])
    try:
        number = form.text("expertNumber")
        if not number:
            raise DomainError(ErrorCode.REQUIRED, "请填写专家编号", "expertNumber")
        found = await directory.list_experts(
            actor, filters=ExpertFilter(number=number[:16]), page=PageArgs(first=1)
        )
        if not found.items:
            raise DomainError(ErrorCode.INVALID, "未找到该编号的专家", "expertNumber")
        await svc.set_committee_seat(actor, committee_id, found.items[0].id, form.value("seat"))
    except DomainError as exc:
        form.add(exc, rename=lambda f: "expertNumber" if f == "expertId" else f)
        ctx = await _committee_context(request, committee_id, {"seat": form})
        return _page(request, COMMITTEE, ctx, "roster", status_code=422, private=True)
    return _done(request, f"/institution/committees/{committee_id}", "seat_set")


async def remove_seat(request: Request) -> Response:
    actor = current_actor(request)
    committee_id: int = request.path_params["committee_id"]
    try:
        await svc.set_committee_seat(actor, committee_id, request.path_params["expert_id"], None)
    except DomainError as exc:
        form = Form.empty("seat", {"seat": Seat.MEMBER}).expect(["expertNumber", "seat"])
        ctx = await _committee_context(request, committee_id, {"seat": form.add(exc)})
        return _page(request, COMMITTEE, ctx, "roster", status_code=422, private=True)
    return _done(request, f"/institution/committees/{committee_id}", "seat_removed")


async def submit_committee(request: Request) -> Response:
    actor = current_actor(request)
    committee_id: int = request.path_params["committee_id"]
    form = (await Form.submitted(request, "csubmit")).expect([])
    try:
        await svc.submit_committee(actor, committee_id, version=form.integer("version"))
    except DomainError as exc:
        ctx = await _committee_context(request, committee_id, {"submit": form.add(exc)})
        return _page(request, COMMITTEE, ctx, "submit_form", status_code=422, private=True)
    return _done(request, f"/institution/committees/{committee_id}", "submitted")


# --- institution staff: annual plans (Art. 9(二)) ---------------------------------------

PLAN = "institution/plan.html"
PLAN_FIELDS: dict[str, str] = {
    "series": "series",
    "specialty": "specialty",
    "level": "level",
    "conditions": "conditions",
    "procedure": "procedure",
    "method": "method",
    "contactPhone": "contact_phone",
    "acceptanceStart": "acceptance_start",
    "acceptanceEnd": "acceptance_end",
    "materialRequirements": "material_requirements",
}


async def _plan_context(
    request: Request, form: Form | None = None, publish_form: Form | None = None
) -> dict[str, Any]:
    actor = current_actor(request)
    require(actor, Perm.PLAN_MANAGE)
    committee = await svc.get_committee(actor, request.path_params["committee_id"])
    # Only the committee's own institution (and the bureau) see its roster; asking for
    # it makes another institution's committee a 404 here, as the resolver decides.
    await svc.list_committee_seats(actor, committee.id)
    year: int = request.path_params["year"]
    plans = await svc.list_annual_plans(actor, committee_id=committee.id, year=year)
    plan = plans[0] if plans else None
    if form is None:
        source: Mapping[str, Any] = (
            {f: getattr(plan, k) for f, k in PLAN_FIELDS.items()}
            if plan is not None
            else {
                "series": committee.series,
                "specialty": committee.specialty,
                "level": committee.level,
            }
        )
        form = Form.empty("plan", source)
        if plan is not None:
            form.values["version"] = str(plan.version)
    form.expect(PLAN_FIELDS)
    return _ctx(
        request,
        committee=committee,
        committee_status=_status(committee),
        year=year,
        plan=plan,
        form=form,
        publish_form=publish_form or Form.empty("publish").expect([]),
    )


def _plan_url(committee_id: int, year: int) -> str:
    return f"/institution/plans/{committee_id}/{year}"


async def plan_page(request: Request) -> Response:
    ctx = await _plan_context(request)
    return _page(request, PLAN, ctx, "content", private=True)


async def save_plan(request: Request) -> Response:
    actor = current_actor(request)
    committee_id: int = request.path_params["committee_id"]
    year: int = request.path_params["year"]
    form = (await Form.submitted(request, "plan")).expect(PLAN_FIELDS)
    try:
        await svc.save_annual_plan(
            actor,
            committee_id,
            year,
            version=form.integer("version"),
            series=form.text("series") or None,
            specialty=form.text("specialty") or None,
            level=form.text("level") or None,
            conditions=form.value("conditions"),
            procedure=form.value("procedure"),
            method=form.value("method"),
            contact_phone=form.value("contactPhone"),
            acceptance_start=form.date("acceptanceStart"),
            acceptance_end=form.date("acceptanceEnd"),
            material_requirements=form.value("materialRequirements"),
        )
    except DomainError as exc:
        ctx = await _plan_context(request, form.add(exc))
        return _page(request, PLAN, ctx, "plan_form", status_code=422, private=True)
    return _done(request, _plan_url(committee_id, year), "saved")


async def publish_plan(request: Request) -> Response:
    actor = current_actor(request)
    committee_id: int = request.path_params["committee_id"]
    year: int = request.path_params["year"]
    form = (await Form.submitted(request, "publish")).expect([])
    try:
        plan_id = _int_param(form.value("plan"))
        await svc.publish_annual_plan(actor, plan_id, version=form.integer("version"))
    except DomainError as exc:
        ctx = await _plan_context(request, publish_form=form.add(exc))
        # The missing item is an input of the plan form: show it there too.
        if exc.field in PLAN_FIELDS:
            ctx["form"].add(exc)
        return _page(request, PLAN, ctx, "plan_blocks", status_code=422, private=True)
    return _done(request, _plan_url(committee_id, year), "published")


routes: list[BaseRoute] = [
    Route("/directory", directory_page, methods=["GET"], name="directory"),
    Route("/institutions", institutions_redirect, methods=["GET"]),
    Route("/directory/institutions/{institution_id:int}", institution_page, methods=["GET"]),
    Route("/plans", plans_page, methods=["GET"], name="plans"),
    Route("/bureau/filings", filings_page, methods=["GET"], name="filings"),
    Route("/bureau/filings/institutions/{application_id:int}", review_page, methods=["GET"]),
    Route(
        "/bureau/filings/institutions/{application_id:int}/file",
        file_application,
        methods=["POST"],
    ),
    Route(
        "/bureau/filings/institutions/{application_id:int}/reject",
        reject_application,
        methods=["POST"],
    ),
    Route("/bureau/filings/committees/{committee_id:int}", committee_review_page, methods=["GET"]),
    Route("/bureau/filings/committees/{committee_id:int}/file", file_committee, methods=["POST"]),
    Route(
        "/bureau/filings/committees/{committee_id:int}/reject", reject_committee, methods=["POST"]
    ),
    Route(
        "/bureau/institutions/{institution_id:int}/suspend", suspend_institution, methods=["POST"]
    ),
    Route("/bureau/institutions/{institution_id:int}/revoke", revoke_institution, methods=["POST"]),
    Route("/bureau/assessments/new", assessment_form, methods=["GET"]),
    Route("/bureau/assessments", record_assessment, methods=["POST"]),
    Route("/institution", own_page, methods=["GET"], name="own_institution"),
    Route("/institution/application", application_page, methods=["GET"]),
    Route("/institution/application", save_application, methods=["POST"]),
    Route("/institution/application/submit", submit_application, methods=["POST"]),
    Route("/institution/committees/new", new_committee_page, methods=["GET"]),
    Route("/institution/committees", create_committee, methods=["POST"]),
    Route("/institution/committees/{committee_id:int}", committee_page, methods=["GET"]),
    Route("/institution/committees/{committee_id:int}/seats", set_seat, methods=["POST"]),
    Route(
        "/institution/committees/{committee_id:int}/seats/{expert_id:int}/remove",
        remove_seat,
        methods=["POST"],
    ),
    Route("/institution/committees/{committee_id:int}/submit", submit_committee, methods=["POST"]),
    Route("/institution/plans/{committee_id:int}/{year:int}", plan_page, methods=["GET"]),
    Route("/institution/plans/{committee_id:int}/{year:int}", save_plan, methods=["POST"]),
    Route(
        "/institution/plans/{committee_id:int}/{year:int}/publish",
        publish_plan,
        methods=["POST"],
    ),
]
