"""The identity middleware's CSRF check of plain forms (last review, issue 3 §4): a
logged-in POST without the X-CSRF-Token header has its body stream-parsed only as far
as the csrf_token field and never beyond the route's form limit (1 MB; the evidence
upload 5 × 20 MB + room for the fields): a larger body is refused 413 with the Chinese
error page, before more of it is read and before anything changes."""

import asyncio
import dataclasses
import hashlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import app as app_module
from models import AuditEvent, Complaint, ComplaintNote, EvidenceFile
from models.enums import Role, TargetType
from resolvers import account
from resolvers import complaint as svc
from resolvers import evidence as ev
from resolvers.actor import ANONYMOUS, SYSTEM
from tests import conftest, factories
from views import complaint as complaint_view
from views import middleware
from views.middleware import SESSION_COOKIE

ORIGIN = "https://testserver"
PASSWORD = "Lantern-orchid-7-Qx!"
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CHUNK = 64 * 1024
TEMPLATES = Path(__file__).resolve().parents[2] / "views" / "templates"


# --- helpers -----------------------------------------------------------------------------


@dataclasses.dataclass
class Handler:
    """A logged-in institution handler of one accepted complaint."""

    client: httpx.AsyncClient
    cookie: str
    token: str
    complaint: Complaint

    @property
    def notes_url(self) -> str:
        return f"/handling/complaints/{self.complaint.id}/notes"


async def _log_in(client: httpx.AsyncClient, username: str, role: Role, scope_id: int) -> str:
    await account.create_user(
        SYSTEM,
        username=username,
        display_name=username,
        password=PASSWORD,
        role=role,
        scope_id=scope_id,
    )
    response = await client.post(
        "/login", data={"username": username, "password": PASSWORD}, headers={"Origin": ORIGIN}
    )
    assert response.status_code == 303, response.text
    resolved = await account.resolve_login_session(client.cookies.get(SESSION_COOKIE) or "")
    assert resolved is not None
    return resolved[1].csrf_token


@pytest.fixture
async def handler(client: httpx.AsyncClient) -> Handler:
    inst = await factories.institution()
    expert = await factories.expert(institution_id=inst.id)
    complaint, _ = await svc.submit_complaint(
        ANONYMOUS,
        kind="complaint",
        target_type=TargetType.EXPERT,
        target_id=expert.id,
        facts="评审会上该专家与申报人系同一单位同事却未申请回避。",
        clues="知情人:评审办工作人员",
        anonymous=True,
    )
    token = await _log_in(client, "staff-a", Role.INSTITUTION, inst.id)
    url = f"/handling/complaints/{complaint.id}/screen"
    accepted = await client.post(url, data={"accept": "1", "csrf_token": token})
    assert accepted.status_code == 303, accepted.text
    return Handler(client, client.cookies.get(SESSION_COOKIE) or "", token, complaint)


async def _state() -> tuple[int, int]:
    return await ComplaintNote.all().count(), await AuditEvent.all().count()


@dataclasses.dataclass
class Answer:
    status: int
    headers: dict[str, str]
    text: str
    reads: int  # body messages the app took from the client


async def _send_raw(
    app: Any,
    path: str,
    cookie: str,
    chunks: Iterable[bytes],
    *,
    content_type: bytes = b"application/x-www-form-urlencoded",
    length: int | None = None,
    progress: dict[str, int] | None = None,
) -> Answer:
    """POST `chunks` one body message each (no Content-Length unless `length`), as a
    chunked browser upload arrives; count how many the app reads (live in
    `progress["reads"]`)."""
    source = list(chunks)
    counted = progress if progress is not None else {}
    counted["reads"] = 0

    async def receive() -> dict[str, Any]:
        reads = counted["reads"]
        if reads < len(source):
            counted["reads"] = reads + 1
            return {
                "type": "http.request",
                "body": source[reads],
                "more_body": reads + 1 < len(source),
            }
        await asyncio.sleep(0)
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [
        (b"host", b"testserver"),
        (b"origin", ORIGIN.encode()),
        (b"content-type", content_type),
        (b"cookie", f"{SESSION_COOKIE}={cookie}".encode()),
    ]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 123),
        "server": ("testserver", 443),
    }
    await app(scope, receive, send)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:]).decode()
    names = {k.decode(): v.decode() for k, v in start["headers"]}
    return Answer(start["status"], names, body, counted["reads"])


def _refused_too_large(answer: Answer) -> None:
    assert answer.status == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert '<h1 id="error-heading">提交的内容过大</h1>' in answer.text
    assert "未做任何更改" in answer.text


def _multipart(parts: Sequence[tuple[str, str | None, bytes]], boundary: str = "b0undary") -> bytes:
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename:
            out += b"Content-Type: application/pdf\r\n"
        out += b"\r\n" + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


# --- oversize bodies are refused before they are read ---------------------------------------


async def test_declared_oversize_form_is_refused_413_without_reading_the_body(asgi_app, handler):
    before = await _state()

    answer = await _send_raw(
        asgi_app,
        handler.notes_url,
        handler.cookie,
        [b"body=x"],
        length=middleware.FORM_BODY_LIMIT + 1,
    )

    _refused_too_large(answer)
    assert answer.reads == 0
    assert await _state() == before


async def test_chunked_oversize_form_is_refused_once_past_the_limit(asgi_app, handler):
    """No Content-Length (chunked): reading stops at the first chunk past 1 MB, not at
    the 32 MB the middleware used to buffer."""
    before = await _state()
    chunks = [b"body=" + b"x" * (CHUNK - 5)] + [b"x" * CHUNK] * 40  # 2.6 MB, no token

    answer = await _send_raw(asgi_app, handler.notes_url, handler.cookie, chunks)

    _refused_too_large(answer)
    assert answer.reads == middleware.FORM_BODY_LIMIT // CHUNK + 1
    assert await _state() == before


async def test_token_first_then_oversize_rest_is_refused_while_the_endpoint_reads(
    asgi_app, handler
):
    """The token is found in the first chunk; the rest of the body is still bounded
    by the route's limit as the endpoint reads it: 413 and no note."""
    before = await _state()
    first = f"csrf_token={handler.token}&body=".encode()
    # Fields the endpoint's own parser accepts one by one (each under its 64 KB).
    chunks = [first] + [f"&f{i}=".encode() + b"y" * (CHUNK - 10) for i in range(25)]

    answer = await _send_raw(asgi_app, handler.notes_url, handler.cookie, chunks)

    _refused_too_large(answer)
    read = sum(len(c) for c in chunks[: answer.reads])
    assert middleware.FORM_BODY_LIMIT < read <= middleware.FORM_BODY_LIMIT + CHUNK
    assert await _state() == before


async def test_declared_oversize_upload_is_refused_413_for_a_logged_in_filer(asgi_app, handler):
    before = (await Complaint.all().count(), await AuditEvent.all().count())

    answer = await _send_raw(
        asgi_app,
        "/complaints/new",
        handler.cookie,
        [b""],
        content_type=b"multipart/form-data; boundary=b0undary",
        length=middleware.EVIDENCE_UPLOAD_LIMIT + 1,
    )

    _refused_too_large(answer)
    assert answer.reads == 0
    assert (await Complaint.all().count(), await AuditEvent.all().count()) == before


# --- forms within their limit still work ---------------------------------------------------


async def test_plain_form_with_the_token_field_adds_the_note(handler):
    response = await handler.client.post(
        handler.notes_url, data={"body": "已调取会议录像。", "csrf_token": handler.token}
    )

    assert response.status_code == 303, response.text
    assert await ComplaintNote.all().values_list("body", flat=True) == ["已调取会议录像。"]


async def test_multipart_form_with_the_token_last_adds_the_note(asgi_app, handler):
    body = _multipart(
        [("body", None, "已调取会议录像。".encode()), ("csrf_token", None, handler.token.encode())]
    )
    chunks = [body[i : i + 7] for i in range(0, len(body), 7)]  # the token split over chunks

    answer = await _send_raw(
        asgi_app,
        handler.notes_url,
        handler.cookie,
        chunks,
        content_type=b"multipart/form-data; boundary=b0undary",
    )

    assert answer.status == 303, answer.text
    assert await ComplaintNote.all().values_list("body", flat=True) == ["已调取会议录像。"]


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("wrong", id="wrong"),
        pytest.param("", id="empty"),
        pytest.param(None, id="absent"),
    ],
)
async def test_form_without_the_right_token_is_refused_403_and_nothing_changes(
    asgi_app, handler, token
):
    before = await _state()
    fields = [("body", None, "记录".encode())]
    if token is not None:
        fields.insert(0, ("csrf_token", None, token.encode()))

    answer = await _send_raw(
        asgi_app,
        handler.notes_url,
        handler.cookie,
        [_multipart(fields)],
        content_type=b"multipart/form-data; boundary=b0undary",
    )

    assert answer.status == 403
    assert await _state() == before


async def test_endpoint_reads_the_body_streamed_after_the_token_not_buffered(asgi_app, handler):
    """The middleware stops reading at the token: the endpoint starts after one body
    message and still gets the whole, intact form (replayed, then streamed)."""
    seen: dict[str, Any] = {}
    progress: dict[str, int] = {}

    async def probe(request: Request) -> JSONResponse:
        seen["reads_at_entry"] = progress["reads"]
        form = await request.form()
        seen["a"] = form["a"]
        return JSONResponse({})

    asgi_app.router.routes.append(Route("/probe", probe, methods=["POST"]))
    chunks = [f"csrf_token={handler.token}&a=".encode(), b"x" * 1000, b"y" * 1000]

    answer = await _send_raw(asgi_app, "/probe", handler.cookie, chunks, progress=progress)

    assert answer.status == 200, answer.text
    assert (seen["reads_at_entry"], seen["a"], answer.reads) == (1, "x" * 1000 + "y" * 1000, 3)


async def test_logged_in_evidence_upload_without_header_over_1mb_works(tmp_path: Path):
    """The upload route has its own limit: a 1.5 MB file with the token in the form
    (no header, as the plain form sends it) is filed with the case."""
    settings = dataclasses.replace(conftest.test_settings(), var_dir=tmp_path)
    transport = httpx.ASGITransport(app=app_module.create_app(settings))
    inst = await factories.institution()
    expert = await factories.expert(institution_id=inst.id)
    other = await factories.institution()
    big = PDF + b"0" * (1536 * 1024)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as c:
        token = await _log_in(c, "staff-b", Role.INSTITUTION, other.id)
        response = await c.post(
            "/complaints/new",
            data={
                "csrf_token": token,
                "kind": "complaint",
                "targetType": "expert",
                "targetId": str(expert.id),
                "facts": "评审会上该专家与申报人系同一单位同事却未申请回避。",
                "anonymous": "1",
            },
            files=[("file", ("现场录像截图.pdf", big, "application/pdf"))],
        )

    assert response.status_code == 200, response.text[:500]
    (row,) = await EvidenceFile.all()
    assert (row.filename, row.size_bytes) == ("现场录像截图.pdf", len(big))
    assert ev.evidence_path(row.sha256, tmp_path).read_bytes() == big
    assert row.sha256 == hashlib.sha256(big).hexdigest()


# --- the limits ------------------------------------------------------------------------------


def test_every_multipart_form_has_its_route_limit():
    """A file form missing from LARGE_FORMS would be refused at 1 MB."""
    actions = sorted(
        m.group(1)
        for path in TEMPLATES.rglob("*.html")
        for m in re.finditer(
            r'<form[^>]*action="([^"]+)"[^>]*enctype="multipart/form-data"', path.read_text()
        )
    )

    assert actions == sorted(middleware.LARGE_FORMS)
    assert middleware.form_body_limit("/complaints/new") == complaint_view.UPLOAD_LIMIT
    assert complaint_view.UPLOAD_LIMIT == ev.MAX_FILES * ev.MAX_FILE_BYTES + 1024 * 1024
    assert middleware.form_body_limit("/logout") == 1024 * 1024
