"""The complaint pages over real HTTP (issue 8, R16, Art. 28): the public filing form
with evidence uploads, the status page, the handler queue and case page (screening,
notes, answer, close, review recount and decision), evidence downloads and the
bureau's escalation view; permissions per role, anonymity of the complainant, CSRF."""

import datetime as dt
import hashlib
import html
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from models import AuditEvent, Complaint, ComplaintNote, EvidenceFile, Expert, Institution
from models.enums import (
    ApplicantResult,
    ComplaintKind,
    ComplaintStatus,
    Role,
    TargetType,
    VoteChoice,
)
from resolvers import account
from resolvers import complaint as svc
from resolvers import evidence as ev
from resolvers.actor import ANONYMOUS, SYSTEM
from resolvers.common import fk_id
from resolvers.passwords import verify_password
from tests import factories
from tests.resolvers.test_complaint import sitting
from tests.schema.conftest import count_sql
from views import complaint as view
from views.middleware import SESSION_COOKIE

PASSWORD = "Lantern-orchid-7-Qx!"
ORIGIN = "https://testserver"
FACTS = "2026年5月评审会上,该专家与申报人系同一单位同事却未申请回避。"
C = ComplaintStatus
PDF = b"%PDF-1.7\n" + os.urandom(64) + b"\n%%EOF\n"


# --- helpers -----------------------------------------------------------------------------


@asynccontextmanager
async def _browser(asgi_app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as c:
        yield c


async def _login(
    client: httpx.AsyncClient,
    username: str,
    role: Role,
    scope_id: int | None = None,
    *,
    also: tuple[Role, int | None] | None = None,
) -> str:
    """Create a user with `role` (and maybe a second role), log in, return the CSRF token."""
    user = await account.create_user(
        SYSTEM,
        username=username,
        display_name=username,
        password=PASSWORD,
        role=role,
        scope_id=scope_id,
    )
    if also is not None:
        await account.grant_role(SYSTEM, user.id, role=also[0], scope_id=also[1])
    response = await client.post(
        "/login", data={"username": username, "password": PASSWORD}, headers={"Origin": ORIGIN}
    )
    assert response.status_code == 303, response.text
    resolved = await account.resolve_login_session(client.cookies.get(SESSION_COOKIE) or "")
    assert resolved is not None
    return resolved[1].csrf_token


def _field_error(page: str, name: str, prefix: str = "complaint") -> tuple[str, str] | None:
    element_id = f"{prefix}-{name}-error"
    m = re.search(
        r'<p class="field-error" id="'
        + re.escape(element_id)
        + r'" data-code="([A-Z_]+)">(.*?)</p>',
        page,
    )
    return (m.group(1), html.unescape(m.group(2))) if m else None


def _general_error(page: str) -> tuple[str, str] | None:
    m = re.search(
        r'<div class="form-error" role="alert">\s*<p data-code="([A-Z_]+)">(.*?)</p>', page
    )
    return (m.group(1), html.unescape(m.group(2))) if m else None


def _code(page: str, testid: str) -> str:
    m = re.search(r'data-testid="' + testid + r'">([^<]+)</code>', page)
    assert m, page
    return m.group(1)


async def _file_complaint(
    target: Expert | Institution,
    *,
    anonymous: bool = True,
    name: str = "",
    kind: ComplaintKind = ComplaintKind.COMPLAINT,
) -> tuple[Complaint, str]:
    target_type = TargetType.EXPERT if isinstance(target, Expert) else TargetType.INSTITUTION
    return await svc.submit_complaint(
        ANONYMOUS,
        kind=kind,
        target_type=target_type,
        target_id=target.id,
        facts=FACTS,
        clues="知情人:评审办工作人员",
        anonymous=anonymous,
        complainant_name=name,
        complainant_contact="13900001111" if name else "",
    )


async def _snapshot(complaint: Complaint) -> tuple[Any, ...]:
    fresh = await Complaint.get(id=complaint.id)
    return (
        fresh.status,
        fresh.version,
        fresh.answer,
        await ComplaintNote.filter(complaint_id=complaint.id).count(),
        await AuditEvent.all().count(),
    )


def _form_data(**over: str) -> dict[str, str]:
    return {
        "kind": "complaint",
        "targetType": "expert",
        "targetId": "",
        "targetDescription": "评审专家王某",
        "facts": FACTS,
        "clues": "知情人:评审办工作人员",
        "anonymous": "1",
        "complainantName": "",
        "complainantContact": "",
        "hotlineTicket": "",
        **over,
    }


@dataclass
class World:
    inst_a: Institution
    inst_b: Institution
    expert: Expert  # of institution A: the target of complaints below


@pytest.fixture
async def world() -> World:
    inst_a = await factories.institution()
    inst_b = await factories.institution()
    expert = await factories.expert(institution_id=inst_a.id)
    return World(inst_a, inst_b, expert)


async def _client_for(client: httpx.AsyncClient, who: str, world: World) -> str:
    """Log `client` in as one of the roles used across these tests; "" = anonymous."""
    if who == "staff_a":
        return await _login(client, "staff-a", Role.INSTITUTION, world.inst_a.id)
    if who == "staff_b":
        return await _login(client, "staff-b", Role.INSTITUTION, world.inst_b.id)
    if who == "bureau":
        return await _login(client, "bureau-1", Role.BUREAU)
    if who == "expert":
        other = await factories.expert(institution_id=world.inst_a.id)
        return await _login(client, "expert-1", Role.EXPERT, other.id)
    return ""


# --- public: the filing form ------------------------------------------------------------


async def test_new_form_is_public_private_and_multipart(client):
    response = await client.get("/complaints/new")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert 'enctype="multipart/form-data"' in page
    assert 'hx-history="false"' in page
    assert 'name="csrf_token"' in page
    for name in ("kind", "targetType", "targetId", "facts", "clues", "anonymous", "file"):
        assert f'name="{name}"' in page
    assert "复查申请" in page and "投诉" in page and "举报" in page


async def test_anonymous_filing_with_evidence_shows_code_and_password_once_R16(client, world):
    data = _form_data(targetId=str(world.expert.id))

    response = await client.post(
        "/complaints/new", data=data, files=[("file", ("证据.pdf", PDF, "application/pdf"))]
    )

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    code, password = _code(response.text, "tracking-code"), _code(response.text, "query-password")
    complaint = await Complaint.get(tracking_code=code)
    assert (
        complaint.anonymous,
        complaint.complainant_name_enc,
        fk_id(complaint, "submitted_by"),
    ) == (
        True,
        "",
        None,
    )
    assert fk_id(complaint, "institution") == world.inst_a.id
    assert await verify_password(complaint.query_password_hash, password)
    files = await EvidenceFile.filter(complaint_id=complaint.id)
    assert [(f.filename, f.content_type, f.sha256) for f in files] == [
        ("证据.pdf", "application/pdf", hashlib.sha256(PDF).hexdigest())
    ]
    assert ev.evidence_path(files[0].sha256).read_bytes() == PDF
    # The password is never shown again: the status page does not print it.
    status = await client.post(
        "/complaints/status", data={"trackingCode": code, "password": password}
    )
    assert password not in status.text


async def test_real_name_filing_keeps_identity_encrypted(client, world):
    data = _form_data(targetId=str(world.expert.id), anonymous="0", complainantName="李四")

    response = await client.post("/complaints/new", data=data)

    assert response.status_code == 200, response.text
    complaint = await Complaint.get(tracking_code=_code(response.text, "tracking-code"))
    assert complaint.anonymous is False
    assert "李四" not in complaint.complainant_name_enc
    assert await EvidenceFile.all().count() == 0


async def test_filing_errors_are_shown_next_to_fields_with_values_kept(client, world):
    data = _form_data(targetId=str(world.expert.id), facts="  ", targetDescription="王某某")

    response = await client.post("/complaints/new", data=data)

    assert response.status_code == 422
    assert _field_error(response.text, "facts") == ("REQUIRED", "此项为必填项")
    assert 'value="王某某"' in response.text
    assert await Complaint.all().count() == 0


async def test_real_name_without_name_is_refused_next_to_the_name(client, world):
    data = _form_data(targetId=str(world.expert.id), anonymous="0")

    response = await client.post("/complaints/new", data=data)

    assert response.status_code == 422
    error = _field_error(response.text, "complainantName")
    assert error is not None and error[0] == "REQUIRED"
    assert await Complaint.all().count() == 0


async def test_review_request_by_anonymous_visitor_is_refused_R16(client, world):
    data = _form_data(kind="review_request", anonymous="0", complainantName="张三")

    response = await client.post("/complaints/new", data=data)

    assert response.status_code == 422
    assert _field_error(response.text, "kind") == ("INVALID", "复查申请须由申报人本人登录后提出")
    assert await Complaint.all().count() == 0


ELF = b"\x7fELF\x02\x01\x01\x00" + os.urandom(200)


def _pdf() -> bytes:
    """A PDF no other test stores (the evidence directory outlives each test)."""
    return b"%PDF-1.7\n" + os.urandom(64) + b"\n%%EOF\n"


@pytest.mark.parametrize(
    ("files", "code", "message"),
    [
        pytest.param(
            [("大文件.pdf", b"%PDF-1.7\n" + b"0" * ev.MAX_FILE_BYTES)],
            "FILE_TOO_LARGE",
            "单个文件不能超过20MB",
            id="oversize",
        ),
        pytest.param(
            [("扫描件.pdf", ELF)],
            "FILE_TYPE_NOT_ALLOWED",
            "只能上传PDF、JPEG、PNG、MP3、MP4或DOCX文件(按文件内容判断)",
            id="elf-named-pdf",
        ),
        pytest.param(
            [("../../etc/cron.d/evil.pdf", _pdf())],
            "INVALID",
            "文件名不能包含路径",
            id="path-traversal",
        ),
        pytest.param(
            [(f"证据{i}.pdf", _pdf()) for i in range(ev.MAX_FILES + 1)],
            "TOO_MANY_FILES",
            "每件事项最多上传5个文件",
            id="sixth-file",
        ),
    ],
)
async def test_refused_upload_stores_nothing(client, world, files, code, message):
    data = _form_data(targetId=str(world.expert.id), targetDescription="专家王某")
    before = await AuditEvent.all().count()

    response = await client.post(
        "/complaints/new",
        data=data,
        files=[("file", (name, content, "application/pdf")) for name, content in files],
    )

    assert response.status_code == 422, response.text[:500]
    assert _field_error(response.text, "file") == (code, message)
    assert 'value="专家王某"' in response.text  # the rest of the form is kept
    assert await Complaint.all().count() == 0
    assert await EvidenceFile.all().count() == 0
    assert await AuditEvent.all().count() == before
    for _, content in files:
        assert not ev.evidence_path(hashlib.sha256(content).hexdigest()).exists()


async def test_seventh_file_stops_the_parser_with_a_chinese_message(client, world):
    files = [("file", (f"f{i}.pdf", PDF + bytes([i]), "application/pdf")) for i in range(7)]

    response = await client.post(
        "/complaints/new", data=_form_data(targetId=str(world.expert.id)), files=files
    )

    assert response.status_code == 400
    assert _general_error(response.text) == (
        "INVALID",
        "提交的内容无法处理:文件不能超过5个,各栏文字不能过长,请重新填写",
    )
    assert await Complaint.all().count() == 0


async def test_declared_oversize_body_is_refused_before_it_is_read(asgi_app):
    """Content-Length beyond 5 × 20 MB: 413 without a single read of the body."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body must not be read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/complaints/new",
        "raw_path": b"/complaints/new",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"multipart/form-data; boundary=xyz"),
            (b"content-length", str(view.UPLOAD_LIMIT + 1).encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 443),
    }

    await asgi_app(scope, receive, send)

    assert sent[0]["status"] == 413
    body = b"".join(m.get("body", b"") for m in sent[1:]).decode()
    assert "上传内容过大" in body
    assert await Complaint.all().count() == 0


async def test_public_form_refuses_a_foreign_origin(client, world):
    response = await client.post(
        "/complaints/new",
        data=_form_data(targetId=str(world.expert.id)),
        headers={"Origin": "https://evil.example"},
    )

    assert response.status_code == 403
    assert await Complaint.all().count() == 0


async def test_logged_in_filing_without_csrf_token_is_refused(client, world):
    await _client_for(client, "staff_b", world)

    response = await client.post("/complaints/new", data=_form_data(targetId=str(world.expert.id)))

    assert response.status_code == 403
    assert await Complaint.all().count() == 0


async def test_applicant_files_a_review_request_about_own_result_R16(client):
    s = await sitting(
        [VoteChoice.FOR, VoteChoice.AGAINST, VoteChoice.AGAINST],
        stored=(1, 2, 0),
        result=ApplicantResult.FAILED,
    )
    token = await _login(client, "applicant-1", Role.APPLICANT, s.applicant.id)

    form = await client.get("/complaints/new?kind=review_request")
    response = await client.post(
        "/complaints/new",
        data={
            **_form_data(kind="review_request", targetType="", anonymous="0"),
            "complainantName": s.applicant.name,
            "applicantId": str(s.applicant.id),
            "csrf_token": token,
        },
    )

    assert f'<option value="{s.applicant.id}">' in form.text
    assert response.status_code == 200, response.text
    complaint = await Complaint.get(tracking_code=_code(response.text, "tracking-code"))
    assert (complaint.kind, fk_id(complaint, "applicant"), complaint.target_type) == (
        ComplaintKind.REVIEW_REQUEST,
        s.applicant.id,
        TargetType.APPLICANT,
    )
    assert fk_id(complaint, "submitted_by") is not None


# --- public: the status page ------------------------------------------------------------


async def test_status_page_shows_status_and_reason_R16(client, world):
    complaint, password = await _file_complaint(world.expert)
    await svc.screen_complaint(SYSTEM, complaint.id, accept=False, reason="no_evidence")

    response = await client.post(
        "/complaints/status",
        data={"trackingCode": complaint.tracking_code.lower(), "password": password},
    )

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert 'data-testid="status">不予受理<' in response.text
    assert svc.REASON_TEXTS[svc.R.NO_EVIDENCE] in response.text


async def test_status_page_wrong_password_gives_the_same_answer_as_unknown_code(client, world):
    complaint, _ = await _file_complaint(world.expert)

    wrong = await client.post(
        "/complaints/status",
        data={"trackingCode": complaint.tracking_code, "password": "guess-1234"},
    )
    unknown = await client.post(
        "/complaints/status", data={"trackingCode": "ABCDEFGHJKMN", "password": "guess-1234"}
    )

    assert (wrong.status_code, unknown.status_code) == (422, 422)
    assert _general_error(wrong.text) == _general_error(unknown.text)
    assert _general_error(wrong.text) == ("INVALID_CREDENTIALS", "查询码或查询密码不正确")
    assert "guess-1234" not in wrong.text


async def test_status_page_is_throttled_after_repeated_failures(client, world):
    complaint, password = await _file_complaint(world.expert)
    for i in range(svc.STATUS_MAX_FAILURES):
        await client.post(
            "/complaints/status",
            data={"trackingCode": complaint.tracking_code, "password": f"wrong-{i}"},
        )

    response = await client.post(
        "/complaints/status", data={"trackingCode": complaint.tracking_code, "password": password}
    )

    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    error = _general_error(response.text)
    assert error is not None and error[0] == "THROTTLED" and "查询失败次数过多" in error[1]


# --- handlers: the queue ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status", "listed"),
    [
        ("staff_a", 200, True),
        ("bureau", 200, True),
        ("staff_b", 200, False),
        ("expert", 403, False),
    ],
)
async def test_queue_by_role(client, world, who, status, listed):
    complaint, _ = await _file_complaint(world.expert)
    await _client_for(client, who, world)

    response = await client.get("/handling/complaints")

    assert response.status_code == status
    assert (complaint.tracking_code in response.text) is listed
    if status == 200:
        assert response.headers["cache-control"] == "no-store"


async def test_queue_anonymous_is_sent_to_login(client, world):
    response = await client.get("/handling/complaints")

    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


async def test_queue_filters_marks_overdue_red_and_pages(client, world):
    late, _ = await _file_complaint(world.expert)
    await Complaint.filter(id=late.id).update(due_on=dt.date(2020, 1, 6))
    report, _ = await _file_complaint(world.expert, kind=ComplaintKind.REPORT)
    for _ in range(20):
        await _file_complaint(world.expert)
    await _client_for(client, "staff_a", world)

    overdue = await client.get("/handling/complaints?overdue=1")
    reports = await client.get("/handling/complaints?kind=report")
    first = await client.get("/handling/complaints")
    fragment = await client.get("/handling/complaints?overdue=1", headers={"HX-Request": "true"})

    assert re.findall(r'<tr class="overdue">\s*<td><a href="[^"]+">(\w+)</a>', overdue.text) == [
        late.tracking_code
    ]
    assert "已逾期" in overdue.text
    assert report.tracking_code in reports.text and late.tracking_code not in reports.text
    next_link = re.search(r'<a href="(/handling/complaints\?after=[^"]+)" rel="next"', first.text)
    assert next_link is not None
    second = await client.get(html.unescape(next_link.group(1)))
    assert second.status_code == 200 and 'rel="prev"' in second.text
    assert fragment.text.lstrip().startswith('<section id="complaint-results"')


async def _queue_statements(client: httpx.AsyncClient) -> tuple[int, int]:
    with count_sql() as counter:
        response = await client.get("/handling/complaints")
    assert response.status_code == 200
    return len(counter.statements), response.text.count('<a href="/handling/complaints/')


async def test_queue_statement_count_is_flat_from_2_to_20_cases(client, world):
    """N+1 guard: target and handler names are loaded per page, not per row."""
    await _client_for(client, "bureau", world)
    await _file_complaint(world.expert)
    await _file_complaint(world.inst_b)
    few = await _queue_statements(client)
    for _ in range(9):
        await _file_complaint(world.expert)
        await _file_complaint(world.inst_b)

    many = await _queue_statements(client)

    assert (few[1], many[1]) == (2, 20)
    assert many[0] == few[0]


# --- handlers: the case page and its actions -------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [("staff_a", 200), ("bureau", 200), ("staff_b", 404), ("expert", 403), ("", 303)],
)
async def test_case_page_by_role(client, world, who, status):
    complaint, _ = await _file_complaint(world.expert, anonymous=False, name="李四")
    await _client_for(client, who, world)

    response = await client.get(f"/handling/complaints/{complaint.id}")

    assert response.status_code == status
    assert "李四" not in response.text  # identity only on demand
    if status == 200:
        assert FACTS in response.text
        assert response.headers["cache-control"] == "no-store"


async def test_identity_is_shown_on_demand_and_audited_R16(client, world):
    complaint, _ = await _file_complaint(world.expert, anonymous=False, name="李四")
    await _client_for(client, "staff_a", world)

    response = await client.get(f"/handling/complaints/{complaint.id}?identity=1")

    assert 'data-testid="identity">李四,13900001111<' in response.text
    assert await AuditEvent.filter(action="complaint.view_identity").count() == 1


async def test_target_with_staff_rights_sees_neither_case_nor_identity_R16(client, world):
    """Expert X is also institution staff of the handling institution: the named
    complaint against X is absent on every page X can reach."""
    against_x, _ = await _file_complaint(world.expert, anonymous=False, name="李四")
    other_expert = await factories.expert(institution_id=world.inst_a.id)
    other, _ = await _file_complaint(other_expert)
    evidence = await ev.store_evidence(SYSTEM, against_x.id, filename="a.pdf", data=PDF)
    token = await _login(
        client, "expert-x", Role.EXPERT, world.expert.id, also=(Role.INSTITUTION, world.inst_a.id)
    )
    before = await _snapshot(against_x)

    queue = await client.get("/handling/complaints")
    case = await client.get(f"/handling/complaints/{against_x.id}")
    identity = await client.get(f"/handling/complaints/{against_x.id}?identity=1")
    download = await client.get(f"/handling/evidence/{evidence.id}")
    screen = await client.post(
        f"/handling/complaints/{against_x.id}/screen", data={"accept": "1", "csrf_token": token}
    )
    escalated = await client.get("/bureau/complaints/escalated")

    assert other.tracking_code in queue.text  # X does handle the institution's cases
    assert against_x.tracking_code not in queue.text
    assert [case.status_code, identity.status_code, download.status_code] == [404, 404, 404]
    assert screen.status_code == 404
    assert escalated.status_code == 403
    for page in (queue, case, identity, download, screen, escalated):
        assert "李四" not in page.text and against_x.tracking_code not in page.text
    assert await _snapshot(against_x) == before


@pytest.mark.parametrize(
    ("who", "status"), [("staff_a", 303), ("bureau", 303), ("staff_b", 404), ("expert", 403)]
)
async def test_screen_accept_by_role(client, world, who, status):
    complaint, _ = await _file_complaint(world.expert)
    token = await _client_for(client, who, world)
    before = await _snapshot(complaint)

    response = await client.post(
        f"/handling/complaints/{complaint.id}/screen",
        data={"accept": "1", "version": str(complaint.version), "csrf_token": token},
    )

    assert response.status_code == status
    fresh = await Complaint.get(id=complaint.id)
    if status == 303:
        assert response.headers["location"] == f"/handling/complaints/{complaint.id}?done=accepted"
        assert fresh.status == C.ACCEPTED
        assert await AuditEvent.filter(action="complaint.screen").count() == 1
    else:
        assert await _snapshot(complaint) == before


async def test_screen_anonymous_is_sent_to_login_and_nothing_changes(client, world):
    complaint, _ = await _file_complaint(world.expert)
    before = await _snapshot(complaint)

    response = await client.post(
        f"/handling/complaints/{complaint.id}/screen", data={"accept": "1"}
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert await _snapshot(complaint) == before


@pytest.mark.parametrize("action", ["screen", "notes", "answer", "close", "recount", "decide"])
async def test_case_actions_without_csrf_token_are_refused(client, world, action):
    complaint, _ = await _file_complaint(world.expert)
    await _client_for(client, "staff_a", world)
    before = await _snapshot(complaint)

    response = await client.post(
        f"/handling/complaints/{complaint.id}/{action}",
        data={"accept": "1", "body": "记录", "answer": "答复", "upheld": "0"},
    )

    assert response.status_code == 403
    assert "CSRF" in response.text
    assert await _snapshot(complaint) == before


async def test_not_accepting_needs_a_reason_next_to_the_field_R16(client, world):
    complaint, _ = await _file_complaint(world.expert)
    token = await _client_for(client, "staff_a", world)

    missing = await client.post(
        f"/handling/complaints/{complaint.id}/screen", data={"accept": "0", "csrf_token": token}
    )
    wrong_kind = await client.post(
        f"/handling/complaints/{complaint.id}/screen",
        data={"accept": "0", "reason": "not_applicant", "csrf_token": token},
    )

    assert missing.status_code == 422
    assert _field_error(missing.text, "reason", "screen") == ("REQUIRED", "不予受理须说明理由")
    assert _field_error(wrong_kind.text, "reason", "screen") == (
        "INVALID",
        "该理由不适用于此类事项",
    )
    assert (await Complaint.get(id=complaint.id)).status == C.RECEIVED


@pytest.mark.parametrize("reason", ["no_evidence", "no_clue", "no_target", "no_facts"])
async def test_each_non_acceptance_reason_reaches_the_complainant_R16(
    client, asgi_app, world, reason
):
    complaint, password = await _file_complaint(world.expert)
    token = await _client_for(client, "staff_a", world)

    response = await client.post(
        f"/handling/complaints/{complaint.id}/screen",
        data={"accept": "0", "reason": reason, "csrf_token": token},
    )
    async with _browser(asgi_app) as citizen:
        status = await citizen.post(
            "/complaints/status",
            data={"trackingCode": complaint.tracking_code, "password": password},
        )

    assert response.status_code == 303
    assert svc.REASON_TEXTS[svc.R(reason)] in status.text


async def test_handling_note_answer_close_and_the_citizen_sees_the_answer(client, asgi_app, world):
    complaint, password = await _file_complaint(world.expert)
    token = await _client_for(client, "staff_a", world)
    url = f"/handling/complaints/{complaint.id}"

    accepted = await client.post(f"{url}/screen", data={"accept": "1", "csrf_token": token})
    note = await client.post(f"{url}/notes", data={"body": "已调取会议录像。", "csrf_token": token})
    empty_answer = await client.post(f"{url}/answer", data={"answer": " ", "csrf_token": token})
    answered = await client.post(
        f"{url}/answer", data={"answer": "经核查,专家已被暂停参评。", "csrf_token": token}
    )
    closed = await client.post(f"{url}/close", data={"csrf_token": token})
    page = await client.get(url)
    async with _browser(asgi_app) as citizen:
        status = await citizen.post(
            "/complaints/status",
            data={"trackingCode": complaint.tracking_code, "password": password},
        )

    assert [accepted.status_code, note.status_code, answered.status_code, closed.status_code] == [
        303,
        303,
        303,
        303,
    ]
    assert empty_answer.status_code == 422
    assert _field_error(empty_answer.text, "answer", "answer") is not None
    assert 'data-testid="case-status">已办结<' in page.text
    assert "已调取会议录像。" in page.text
    assert 'data-testid="answer">经核查,专家已被暂停参评。<' in status.text
    assert "已调取会议录像" not in status.text  # notes never reach the complainant


async def test_htmx_form_error_returns_only_the_form_block(client, world):
    complaint, _ = await _file_complaint(world.expert)
    token = await _client_for(client, "staff_a", world)

    response = await client.post(
        f"/handling/complaints/{complaint.id}/screen",
        data={"accept": "0"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )

    assert response.status_code == 422
    assert response.text.lstrip().startswith('<form method="post"')
    assert "<html" not in response.text


async def test_review_request_recount_finds_a_miscount_and_upholds_it_R16(client, world):
    s = await sitting(
        [VoteChoice.FOR, VoteChoice.FOR, VoteChoice.FOR],
        stored=(1, 2, 0),
        result=ApplicantResult.FAILED,
        inst=world.inst_a,
    )
    applicant_user = await account.create_user(
        SYSTEM,
        username="applicant-9",
        display_name="申报人",
        password=PASSWORD,
        role=Role.APPLICANT,
        scope_id=s.applicant.id,
    )
    applicant_actor = await account.load_actor(applicant_user)
    complaint, _ = await svc.submit_complaint(
        applicant_actor,
        kind=ComplaintKind.REVIEW_REQUEST,
        target_type=TargetType.APPLICANT,
        target_id=None,
        facts="计票结果与现场唱票不一致。",
        anonymous=False,
        complainant_name=s.applicant.name,
        applicant_id=s.applicant.id,
    )
    token = await _client_for(client, "staff_a", world)
    url = f"/handling/complaints/{complaint.id}"

    await client.post(f"{url}/screen", data={"accept": "1", "csrf_token": token})
    recount = await client.post(f"{url}/recount", data={"csrf_token": token})
    dismissed = await client.post(
        f"{url}/decide", data={"upheld": "0", "answer": "维持原结果。", "csrf_token": token}
    )
    upheld = await client.post(
        f"{url}/decide", data={"upheld": "1", "answer": "复查更正为通过。", "csrf_token": token}
    )

    assert recount.status_code == 200
    assert "计票与原记录不符" in recount.text
    assert "全程录音录像" in recount.text
    assert dismissed.status_code == 422
    assert _field_error(dismissed.text, "upheld", "decide") == (
        "RECOUNT_MISMATCH",
        "复查发现计票与记录不符,不能驳回复查申请",
    )
    assert upheld.status_code == 303
    await s.applicant.refresh_from_db()
    assert (s.applicant.votes_for, s.applicant.result) == (3, ApplicantResult.PASSED)
    assert (await Complaint.get(id=complaint.id)).outcome == svc.OUTCOME_UPHELD


# --- evidence downloads -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [("staff_a", 200), ("bureau", 200), ("staff_b", 404), ("expert", 404), ("", 303)],
)
async def test_evidence_download_by_role(client, world, who, status):
    complaint, _ = await _file_complaint(world.expert)
    row = await ev.store_evidence(SYSTEM, complaint.id, filename="会议照片.pdf", data=PDF)
    await _client_for(client, who, world)
    opened_before = await AuditEvent.filter(action="evidence.open").count()

    response = await client.get(f"/handling/evidence/{row.id}")

    assert response.status_code == status
    opened = await AuditEvent.filter(action="evidence.open").count() - opened_before
    if status == 200:
        assert response.content == PDF
        assert response.headers["content-disposition"].startswith("attachment;")
        assert "filename*=UTF-8''%E4%BC%9A%E8%AE%AE" in response.headers["content-disposition"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-type"] == "application/pdf"
        assert opened == 1
    else:
        assert PDF not in response.content
        assert opened == 0


# --- the bureau's escalation view -------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"), [("bureau", 200), ("staff_a", 403), ("expert", 403), ("", 303)]
)
async def test_escalation_view_by_role(client, world, who, status):
    late, _ = await _file_complaint(world.inst_b)  # against an institution: the bureau's
    on_time, _ = await _file_complaint(world.expert)
    await Complaint.filter(id=late.id).update(due_on=dt.date(2020, 1, 6))
    await svc.escalate_overdue()
    await _client_for(client, who, world)

    response = await client.get("/bureau/complaints/escalated")

    assert response.status_code == status
    if status == 200:
        assert late.tracking_code in response.text
        assert on_time.tracking_code not in response.text
        assert "已督办" in response.text and 'class="overdue"' in response.text
    else:
        assert late.tracking_code not in response.text


# --- navigation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "handling"), [("", False), ("staff_a", True), ("bureau", True), ("expert", False)]
)
async def test_navigation_links_follow_permissions(client, world, who, handling):
    await _client_for(client, who, world)

    page = (await client.get("/complaints/new")).text

    assert '<a href="/complaints/new"' in page and '<a href="/complaints/status"' in page
    assert ('<a href="/handling/complaints"' in page) is handling
    assert ('<a href="/bureau/complaints/escalated"' in page) is (who == "bureau")
