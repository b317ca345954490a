"""HTML pages for review requests, complaints and reports (issue 8, R16, Art. 28).

Public: the filing form (/complaints/new, anonymous or real name, evidence files as
multipart) and the status page (/complaints/status, tracking code + query password).
Handlers (the handling institution, the bureau): the queue, the case page with
screening, notes, the written answer, closing, and for a review request the recount
and the decision; evidence downloads. Bureau: the escalation view of overdue cases.

Thin: every read and change is a call into resolvers/complaint.py or
resolvers/evidence.py, which decide scope (a case against the actor looks absent,
R16), permissions and rules. Conventions as in views/institution.py: GET filter forms
with htmx enhancement and plain links, forms with a real action and the hidden CSRF
field, errors next to their input with status 422, PRG with `?done=<key>` after a
change, `Cache-Control: no-store` and `hx-history="false"` on every page here (they
all hold personal data or a one-time secret).

Uploads: the whole request is refused (413) before its body is read when its
Content-Length is beyond MAX_FILES × MAX_FILE_BYTES plus room for the text fields,
and the body is cut off at that size when no length was sent (chunked). Starlette
spools each file part to disk beyond 1 MB, so a file is only read into memory after
its size was checked. The case and its files are filed all or nothing
(resolvers.evidence.submit_with_evidence): a refused file, or a failure writing a file
or a row, leaves neither a case nor a file nor an audit event behind.
"""

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive

from models.enums import ComplaintKind, ComplaintStatus, NonAcceptanceReason, TargetType
from resolvers import complaint as svc
from resolvers import directory
from resolvers import evidence as ev
from resolvers.directory import Page, PageArgs
from resolvers.errors import DomainError, ErrorCode, NotFound
from resolvers.policy import Perm, require
from resolvers.throttle import RateLimited
from views.errors import wants_fragment
from views.forms import CSRF_FIELD, Form
from views.middleware import EVIDENCE_UPLOAD_LIMIT, client_addr
from views.templating import NAV, NavItem, current_actor, render

K, C, R = ComplaintKind, ComplaintStatus, NonAcceptanceReason

NAV.extend(
    [
        NavItem("投诉举报", "/complaints/new", Perm.COMPLAINT_SUBMIT),
        NavItem("办理查询", "/complaints/status", Perm.COMPLAINT_SUBMIT),
        NavItem("投诉举报办理", "/handling/complaints", Perm.COMPLAINT_HANDLE),
        # No complaint perm is the bureau's alone; the on-time figures of this view feed
        # the institution assessment, so the assessing perm shows the link (the resolver
        # still decides who may open the page).
        NavItem("逾期督办", "/bureau/complaints/escalated", Perm.INSTITUTION_ASSESS),
    ]
)

REASON_LABELS: dict[str, str] = {
    R.NO_EVIDENCE: "未提供证据材料",
    R.NO_CLUE: "未提供可查证的线索",
    R.NO_TARGET: "没有具体的投诉举报对象",
    R.NO_FACTS: "未说明违规事实",
    R.NOT_APPLICANT: "复查申请非申报人本人提出",
    R.OUT_OF_SCOPE: "不属于复查范围",
}
COMPLAINT_REASONS = [R.NO_EVIDENCE, R.NO_CLUE, R.NO_TARGET, R.NO_FACTS]
OUTCOME_LABELS = {svc.OUTCOME_UPHELD: "复查申请成立", svc.OUTCOME_DISMISSED: "复查申请不成立"}
RESULT_LABELS = {"passed": "通过", "failed": "未通过", "pending": "未产生"}

LABELS: dict[str, Mapping[str, str]] = {
    "kind": {str(k): v for k, v in svc.KIND_LABELS.items()},
    "status": {str(k): v for k, v in svc.STATUS_LABELS.items()},
    "target": {str(k): v for k, v in svc.TARGET_LABELS.items()},
    "reason": REASON_LABELS,
    "outcome": OUTCOME_LABELS,
    "result": RESULT_LABELS,
}
OPTIONS: dict[str, list[tuple[str, str]]] = {
    "kind": [(str(k), v) for k, v in svc.KIND_LABELS.items()],
    "status": [(str(k), v) for k, v in svc.STATUS_LABELS.items()],
    "target": [(str(k), v) for k, v in svc.TARGET_LABELS.items()],
}

DONE_MESSAGES: dict[str, str] = {
    "accepted": "已受理。办理期限已按工作日重新计算。",
    "not_accepted": "已作出不予受理决定,理由将告知投诉人。",
    "noted": "调查记录已添加。",
    "answered": "书面答复已发送,投诉人可凭查询码查看。",
    "decided": "复查结论已作出并答复申请人。",
    "closed": "已办结。",
}

NO_STORE = {"Cache-Control": "no-store"}
# MAX_FILES × MAX_FILE_BYTES and room for the text fields: the same limit as the CSRF
# middleware applies to this route.
UPLOAD_LIMIT = EVIDENCE_UPLOAD_LIMIT
MAX_FIELDS = 30
MAX_FIELD_BYTES = 64 * 1024

NEW = "complaint/new.html"
STATUS = "complaint/status.html"
QUEUE = "complaint/queue.html"
CASE = "complaint/case.html"
ESCALATED = "complaint/escalated.html"

NEW_FIELDS = (
    "kind",
    "targetType",
    "targetId",
    "targetDescription",
    "facts",
    "clues",
    "anonymous",
    "complainantName",
    "complainantContact",
    "hotlineTicket",
    "applicantId",
    "file",
)


# --- helpers -------------------------------------------------------------------------


def _today() -> dt.date:
    return svc.local_date(dt.datetime.now(dt.UTC))


def _ctx(request: Request, **values: Any) -> dict[str, Any]:
    return {
        "labels": LABELS,
        "options": OPTIONS,
        "done": DONE_MESSAGES.get(request.query_params.get("done", ""), ""),
        "today": _today(),
        "is_overdue": svc.is_overdue,
        "max_files": ev.MAX_FILES,
        "max_mb": ev.MAX_FILE_BYTES // (1024 * 1024),
        **values,
    }


def _page(
    request: Request, template: str, ctx: dict[str, Any], block: str, *, status_code: int = 200
) -> Response:
    """The whole page, or only `block` for an htmx swap; never cached."""
    return render(
        request,
        template,
        ctx,
        block if wants_fragment(request) else None,
        status_code=status_code,
        headers=NO_STORE,
    )


def _done(request: Request, url: str, key: str) -> Response:
    target = f"{url}?done={key}"
    if wants_fragment(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


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


def _enum_or_none(enum: type[Any], raw: str | None) -> Any:
    try:
        return enum(raw) if raw else None
    except ValueError:
        return None


def _form(data: FormData, prefix: str) -> Form:
    values = {k: v for k, v in data.items() if isinstance(v, str) and k != CSRF_FIELD}
    return Form(prefix, values)


def _version(form: Form) -> int | None:
    return form.integer("version")


# --- public: the filing form ---------------------------------------------------------


class _BodyTooLarge(Exception):
    pass


def _limited(receive: Receive, limit: int) -> Receive:
    """A receive that stops a body (e.g. chunked, without Content-Length) at `limit`."""
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _BodyTooLarge()
        return message

    return limited


def _files(data: FormData) -> list[UploadFile]:
    # A file input left empty still sends one part, with no name and no content.
    return [
        f
        for f in data.getlist("file")
        if isinstance(f, UploadFile) and (f.filename or (f.size or 0) > 0)
    ]


def _read(upload: UploadFile) -> bytes:
    upload.file.seek(0)
    return upload.file.read()


def _contents(uploads: list[UploadFile]) -> Iterator[tuple[str, bytes]]:
    """Each file's name and content, read one at a time after its size was checked."""
    for upload in uploads:
        if upload.size is not None and upload.size > ev.MAX_FILE_BYTES:
            raise ev.too_large()
        yield upload.filename or "", _read(upload)


async def _new_context(request: Request, form: Form) -> dict[str, Any]:
    actor = current_actor(request)
    results = await svc.reviewable_results(actor)
    return _ctx(
        request,
        form=form.expect(NEW_FIELDS),
        receipt=None,
        own_results=[
            (
                str(a.id),
                f"{a.name} · {a.series}/{a.specialty} · 评审结果:{RESULT_LABELS[a.result]}",
            )
            for a in results
        ],
    )


async def new_page(request: Request) -> Response:
    form = Form.empty("complaint", {"anonymous": "0"})
    kind = request.query_params.get("kind", "")
    if kind in LABELS["kind"]:
        form.values["kind"] = kind
    return _page(request, NEW, await _new_context(request, form), "submit_area")


async def _refuse(request: Request, form: Form, status_code: int) -> Response:
    ctx = await _new_context(request, form)
    return _page(request, NEW, ctx, "submit_area", status_code=status_code)


async def submit(request: Request) -> Response:
    """File a case with its evidence; on success show the tracking code and the query
    password once (the response is never cached and the password is not in a URL)."""
    actor = current_actor(request)
    too_large = DomainError(
        ErrorCode.FILE_TOO_LARGE,
        f"上传内容过大:每个文件不超过{ev.MAX_FILE_BYTES // (1024 * 1024)}MB,"
        f"最多{ev.MAX_FILES}个文件",
        "file",
    )
    length = request.headers.get("content-length", "")
    if length and (not length.isdigit() or int(length) > UPLOAD_LIMIT):
        return await _refuse(request, Form("complaint").add(too_large), 413)
    limited = Request(request.scope, _limited(request.receive, UPLOAD_LIMIT))
    try:
        # One more file than allowed is parsed so that a sixth file is answered next
        # to the form with the values kept; beyond that the parser stops.
        data = await limited.form(
            max_files=ev.MAX_FILES + 1, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES
        )
    except _BodyTooLarge:
        return await _refuse(request, Form("complaint").add(too_large), 413)
    except HTTPException:
        bad = DomainError(
            ErrorCode.INVALID,
            f"提交的内容无法处理:文件不能超过{ev.MAX_FILES}个,各栏文字不能过长,请重新填写",
            None,
        )
        return await _refuse(request, Form("complaint").add(bad), 400)
    try:
        form = _form(data, "complaint").expect(NEW_FIELDS)
        uploads = _files(data)
        try:
            kind = form.text("kind")
            is_review = kind == K.REVIEW_REQUEST
            applicant_id = form.integer("applicantId") if is_review else None
            target_type = form.text("targetType") or (TargetType.APPLICANT if is_review else "")
            # The case and its files together or not at all (resolvers/evidence.py).
            complaint, password, stored = await ev.submit_with_evidence(
                actor,
                _contents(uploads),
                kind=kind,
                target_type=target_type,
                target_id=form.integer("targetId", message="对象编号应为数字"),
                target_description=form.value("targetDescription"),
                facts=form.value("facts"),
                clues=form.value("clues"),
                anonymous=form.value("anonymous", "0") == "1",
                complainant_name=form.value("complainantName"),
                complainant_contact=form.value("complainantContact"),
                hotline_ticket=form.value("hotlineTicket"),
                applicant_id=applicant_id,
            )
        except DomainError as exc:
            field = "file" if exc.field == "filename" else exc.field
            form.add(DomainError(exc.code, exc.message, field))
            return await _refuse(request, form, 422)
    finally:
        await data.close()
    receipt: dict[str, Any] = {
        "tracking_code": complaint.tracking_code,
        "password": password,
        "due_on": complaint.due_on,
        "kind": LABELS["kind"][complaint.kind],
        "files": len(stored),  # all or nothing: no file is refused once the case exists
    }
    ctx = _ctx(request, form=Form("complaint"), receipt=receipt, own_results=[])
    return _page(request, NEW, ctx, "submit_area")


# --- public: the status page -----------------------------------------------------------


async def status_page(request: Request) -> Response:
    ctx = _ctx(request, form=Form("status").expect(["trackingCode", "password"]), view=None)
    return _page(request, STATUS, ctx, "status_area")


async def status_lookup(request: Request) -> Response:
    """The password travels in the POST body, never in a URL (history, logs)."""
    data = await request.form(max_files=0, max_fields=5, max_part_size=4096)
    form = _form(data, "status").expect(["trackingCode", "password"])
    form.values.pop("password", None)  # never echoed back into the page
    try:
        view = await svc.lookup_complaint_status(
            form.value("trackingCode"),
            str(data.get("password") or ""),
            client_addr=client_addr(request.scope),
        )
    except NotFound as exc:
        form.add(DomainError(ErrorCode.INVALID_CREDENTIALS, exc.message, None))
        ctx = _ctx(request, form=form, view=None)
        return _page(request, STATUS, ctx, "status_area", status_code=422)
    except RateLimited as exc:
        message = f"查询失败次数过多,请{(exc.retry_after + 59) // 60}分钟后再试"
        form.add(DomainError(ErrorCode.THROTTLED, message, None))
        ctx = _ctx(request, form=form, view=None)
        response = _page(request, STATUS, ctx, "status_area", status_code=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    ctx = _ctx(request, form=Form("status").expect(["trackingCode", "password"]), view=view)
    return _page(request, STATUS, ctx, "status_area")


# --- handlers: the queue ---------------------------------------------------------------


async def queue_page(request: Request) -> Response:
    actor = current_actor(request)
    require(actor, Perm.COMPLAINT_VIEW)
    params = dict(request.query_params)
    status = _enum_or_none(ComplaintStatus, params.get("status"))
    kind = _enum_or_none(ComplaintKind, params.get("kind"))
    overdue = params.get("overdue") == "1"
    error = ""
    try:
        page = await svc.list_complaints_page(
            actor,
            statuses=[status] if status else None,
            kinds=[kind] if kind else None,
            overdue=overdue,
            page=_page_args(params),
        )
        rows, pager = page.items, _pager("/handling/complaints", params, page)
    except DomainError as exc:  # a stale or forged cursor
        error, rows, pager = exc.message, [], {"prev_url": None, "next_url": None}
    ctx = _ctx(
        request,
        rows=rows,
        pager=pager,
        error=error,
        filters={
            "status": status.value if status else "",
            "kind": kind.value if kind else "",
            "overdue": overdue,
        },
        targets=await svc.target_names(rows),
        handlers=await svc.handler_names(rows),
        escalations=svc.supervises_escalations(actor),
    )
    return _page(request, QUEUE, ctx, "results", status_code=400 if error else 200)


async def escalated_page(request: Request) -> Response:
    actor = current_actor(request)
    params = dict(request.query_params)
    try:
        page = await svc.list_escalated_page(actor, page=_page_args(params))
        rows, pager = page.items, _pager("/bureau/complaints/escalated", params, page)
        error = ""
    except DomainError as exc:
        error, rows, pager = exc.message, [], {"prev_url": None, "next_url": None}
    ctx = _ctx(
        request,
        rows=rows,
        pager=pager,
        error=error,
        targets=await svc.target_names(rows),
        handlers=await svc.handler_names(rows),
    )
    return _page(request, ESCALATED, ctx, "results", status_code=400 if error else 200)


# --- handlers: the case page -----------------------------------------------------------

CASE_FORMS = ("screen", "note", "answer", "decide", "close")


def _case_id(request: Request) -> int:
    return int(request.path_params["complaint_id"])


async def _case_context(
    request: Request,
    complaint_id: int,
    forms: Mapping[str, Form] | None = None,
    *,
    recount: svc.RecountResult | None = None,
) -> dict[str, Any]:
    actor = current_actor(request)
    require(actor, Perm.COMPLAINT_VIEW)
    complaint = await svc.get_complaint(actor, complaint_id)
    notes = await svc.list_complaint_notes(actor, complaint.id)
    files = await ev.list_evidence(actor, complaint.id)
    identity = None
    if request.query_params.get("identity") == "1" and not complaint.anonymous:
        identity = await svc.complaint_identity(actor, complaint.id)
    given = dict(forms or {})
    all_forms = {name: given.get(name) or Form.empty(name) for name in CASE_FORMS}
    all_forms["screen"].expect(["accept", "reason"])
    all_forms["note"].expect(["body"])
    all_forms["answer"].expect(["answer"])
    all_forms["decide"].expect(["upheld", "answer"])
    all_forms["close"].expect([])
    is_review = complaint.kind == K.REVIEW_REQUEST
    reasons = list(R) if is_review else COMPLAINT_REASONS
    return _ctx(
        request,
        c=complaint,
        notes=notes,
        files=files,
        identity=identity,
        target_name=(await svc.target_names([complaint]))[complaint.id],
        handler_name=(await svc.handler_names([complaint]))[complaint.id],
        forms=all_forms,
        is_review=is_review,
        reason_options=[(r.value, REASON_LABELS[r]) for r in reasons],
        recount=recount,
        open_statuses=svc.OPEN_STATUSES,
    )


async def case_page(request: Request) -> Response:
    ctx = await _case_context(request, _case_id(request))
    return _page(request, CASE, ctx, "content")


async def _case_action(request: Request, name: str) -> tuple[int, Form]:
    complaint_id = _case_id(request)
    # The door of the handlers' area: another role gets 403, not a form error.
    require(current_actor(request), Perm.COMPLAINT_HANDLE)
    data = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=MAX_FIELD_BYTES)
    return complaint_id, _form(data, name)


async def _case_error(request: Request, complaint_id: int, name: str, form: Form) -> Response:
    ctx = await _case_context(request, complaint_id, {name: form})
    return _page(request, CASE, ctx, f"{name}_form", status_code=422)


async def screen(request: Request) -> Response:
    complaint_id, form = await _case_action(request, "screen")
    actor = current_actor(request)
    choice = form.text("accept")
    try:
        if choice not in ("1", "0"):
            raise DomainError(ErrorCode.REQUIRED, "请选择受理或不予受理", "accept")
        accept = choice == "1"
        await svc.screen_complaint(
            actor,
            complaint_id,
            accept=accept,
            reason=None if accept else form.text("reason") or None,
            version=_version(form),
        )
    except DomainError as exc:
        return await _case_error(request, complaint_id, "screen", form.add(exc))
    url = f"/handling/complaints/{complaint_id}"
    return _done(request, url, "accepted" if accept else "not_accepted")


async def add_note(request: Request) -> Response:
    complaint_id, form = await _case_action(request, "note")
    try:
        await svc.add_complaint_note(current_actor(request), complaint_id, body=form.value("body"))
    except DomainError as exc:
        return await _case_error(request, complaint_id, "note", form.add(exc))
    return _done(request, f"/handling/complaints/{complaint_id}", "noted")


async def answer(request: Request) -> Response:
    complaint_id, form = await _case_action(request, "answer")
    try:
        await svc.answer_complaint(
            current_actor(request),
            complaint_id,
            answer=form.value("answer"),
            version=_version(form),
        )
    except DomainError as exc:
        return await _case_error(request, complaint_id, "answer", form.add(exc))
    return _done(request, f"/handling/complaints/{complaint_id}", "answered")


async def close(request: Request) -> Response:
    complaint_id, form = await _case_action(request, "close")
    try:
        await svc.close_complaint(current_actor(request), complaint_id, version=_version(form))
    except DomainError as exc:
        return await _case_error(request, complaint_id, "close", form.add(exc))
    return _done(request, f"/handling/complaints/{complaint_id}", "closed")


async def recount(request: Request) -> Response:
    """Recount from the stored votes and show it with the procedure checklist (an
    audited read: it is a POST because it is recorded and starts the handling)."""
    complaint_id, form = await _case_action(request, "decide")
    try:
        result = await svc.recount_review_request(current_actor(request), complaint_id)
    except DomainError as exc:
        return await _case_error(request, complaint_id, "decide", form.add(exc))
    ctx = await _case_context(request, complaint_id, recount=result)
    return _page(request, CASE, ctx, "content")


async def decide(request: Request) -> Response:
    complaint_id, form = await _case_action(request, "decide")
    choice = form.text("upheld")
    try:
        if choice not in ("1", "0"):
            raise DomainError(ErrorCode.REQUIRED, "请选择复查结论", "upheld")
        await svc.decide_review_request(
            current_actor(request),
            complaint_id,
            upheld=choice == "1",
            answer=form.value("answer"),
            version=_version(form),
        )
    except DomainError as exc:
        return await _case_error(request, complaint_id, "decide", form.add(exc))
    return _done(request, f"/handling/complaints/{complaint_id}", "decided")


async def download_evidence(request: Request) -> Response:
    """The file as an attachment, never rendered inline by the browser."""
    row, data = await ev.open_evidence(current_actor(request), int(request.path_params["file_id"]))
    ascii_name = "".join(
        ch if (ch.isascii() and ch.isalnum()) or ch in "._-" else "_" for ch in row.filename
    )
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(row.filename)}"
    return Response(
        data,
        media_type=row.content_type,
        headers={
            "Content-Disposition": disposition,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


routes: list[BaseRoute] = [
    Route("/complaints/new", new_page, methods=["GET"]),
    Route("/complaints/new", submit, methods=["POST"]),
    Route("/complaints/status", status_page, methods=["GET"]),
    Route("/complaints/status", status_lookup, methods=["POST"]),
    Route("/handling/complaints", queue_page, methods=["GET"]),
    Route("/handling/complaints/{complaint_id:int}", case_page, methods=["GET"]),
    Route("/handling/complaints/{complaint_id:int}/screen", screen, methods=["POST"]),
    Route("/handling/complaints/{complaint_id:int}/notes", add_note, methods=["POST"]),
    Route("/handling/complaints/{complaint_id:int}/answer", answer, methods=["POST"]),
    Route("/handling/complaints/{complaint_id:int}/close", close, methods=["POST"]),
    Route("/handling/complaints/{complaint_id:int}/recount", recount, methods=["POST"]),
    Route("/handling/complaints/{complaint_id:int}/decide", decide, methods=["POST"]),
    Route("/handling/evidence/{file_id:int}", download_evidence, methods=["GET"]),
    Route("/bureau/complaints/escalated", escalated_page, methods=["GET"]),
]
