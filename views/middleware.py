"""Who is calling, CSRF, and security headers: one pure-ASGI middleware.

Pure ASGI rather than BaseHTTPMiddleware: it neither buffers streaming responses nor
runs the endpoint in another task, and it can replay a form body it had to read.

- The actor (`request.state.actor`) comes from the `pingshen_session` cookie (a
  server-side LoginSession) or an `Authorization: Bearer` partner token; anonymous
  otherwise. A bad, expired or revoked bearer token gets 401, an over-rate one 429
  with Retry-After.
- CSRF: every unsafe request to an HTML route (everything but /graphql, which accepts
  JSON only and so cannot be sent cross-site by a form) must not come from a foreign
  Origin, and, with a login session, must carry the session's token in the
  `X-CSRF-Token` header (htmx) or the `csrf_token` form field (plain forms).
  To find that field the body of a plain form is stream-parsed only as far as the
  field, keeping nothing but the raw chunks it must replay to the endpoint, and never
  beyond the route's form limit (FORM_BODY_LIMIT; LARGE_FORMS for the upload routes):
  a larger body is refused with a 413 page before more of it is read.
- Every response gets the security headers; responses to a logged-in actor are not
  cached.
- A bug (any exception but "the database is unreachable", which app.py answers with
  503) is answered here with the 500 page and logged by views.errors without its
  message; re-raised, the server would log the raw traceback with the message.
"""

import secrets
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, QuerystringParser, parse_options_header
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resolvers import evidence, expert_io
from resolvers.account import (
    SESSION_COOKIE,
    resolve_api_token,
    resolve_login_session,
    session_cookie_params,
)
from resolvers.actor import ANONYMOUS, Actor
from resolvers.health import is_connection_error
from resolvers.throttle import RateLimited

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_EXEMPT_PATHS = frozenset({"/graphql"})
# Static files need no actor: skip the session lookup (a query per asset).
ANONYMOUS_PREFIXES = ("/static/",)
# The most a plain form's body may hold when the middleware must read it for its CSRF
# field (a logged-in POST without the header): text forms are far below 1 MB.
FORM_BODY_LIMIT = 1024 * 1024
# Room for the text fields of an upload form next to its files.
FORM_OVERHEAD = 1024 * 1024
# Complaint filing: MAX_FILES evidence files of MAX_FILE_BYTES (views/complaint.py).
EVIDENCE_UPLOAD_LIMIT = evidence.MAX_FILES * evidence.MAX_FILE_BYTES + FORM_OVERHEAD
# The routes whose forms carry files, by path (every multipart form of the templates;
# tests/views/test_middleware.py checks that none is missing).
LARGE_FORMS: dict[str, int] = {
    "/complaints/new": EVIDENCE_UPLOAD_LIMIT,
    "/institution/experts/import": expert_io.MAX_BYTES + FORM_OVERHEAD,
}
# What a CSRF field may hold (a token is 43 characters) and how long the part headers
# of one multipart part may be before the body is not a browser's form.
_CSRF_VALUE_MAX = 256
_PART_HEADERS_MAX = 16 * 1024

# htmx 4 writes an empty style attribute while swapping; the one hash allowed below is
# SHA-256 of the empty string, so no actual inline style can ever apply.
EMPTY_STYLE = "'unsafe-hashes' 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
CONTENT_SECURITY_POLICY = (
    f"default-src 'self'; script-src 'self'; style-src 'self' {EMPTY_STYLE}; "
    "img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)


def client_addr(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def set_session_cookie(response: Response, request: Request, value: str) -> None:
    """Set the login cookie with resolvers.account.session_cookie_params."""
    response.set_cookie(
        SESSION_COOKIE, value, **session_cookie_params(debug=request.app.state.settings.debug)
    )


def delete_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=not request.app.state.settings.debug,
    )


def _own_origin(scope: Scope, headers: Headers) -> str:
    scheme = scope.get("scheme", "http")
    host = headers.get("host", "")
    return f"{scheme}://{host}".lower()


def _foreign_origin(scope: Scope, headers: Headers) -> bool:
    """True when the request names an origin other than this site's.

    Browsers send Origin on every cross-site POST; when it is missing (older
    browsers, privacy settings) the Referer's origin is checked instead.
    """
    origin = headers.get("origin")
    if origin is None:
        referer = headers.get("referer")
        if not referer:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin.lower() != _own_origin(scope, headers)


def _is_form(headers: Headers) -> bool:
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    return ctype in ("application/x-www-form-urlencoded", "multipart/form-data")


def form_body_limit(path: str) -> int:
    """The largest form body the route at `path` accepts."""
    return LARGE_FORMS.get(path, FORM_BODY_LIMIT)


class _Unreadable(Exception):
    """The body is not a form a browser sends (no boundary, broken framing)."""


class _FormTooLarge(Exception):
    """The form body went past its route's limit while the endpoint was reading it."""


class _CsrfFieldReader:
    """Finds the `csrf_token` field in a form body fed chunk by chunk.

    Only the field's own value is kept (at most _CSRF_VALUE_MAX bytes); file parts and
    other fields are skipped as they stream by, so nothing is spooled or buffered here.
    """

    def __init__(self, headers: Headers) -> None:
        self.token: str | None = None
        self._name = bytearray()
        self._value = bytearray()
        self._wanted = False
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._header_bytes = 0
        self._disposition = b""
        ctype, params = parse_options_header(headers.get("content-type", ""))
        self._parser: MultipartParser | QuerystringParser
        if ctype == b"multipart/form-data":
            boundary = params.get(b"boundary")
            if not boundary:
                raise _Unreadable()
            self._parser = MultipartParser(
                boundary,
                {
                    "on_part_begin": self._part_begin,
                    "on_header_field": self._header_field,
                    "on_header_value": self._header_value_data,
                    "on_header_end": self._header_end,
                    "on_headers_finished": self._headers_finished,
                    "on_part_data": self._data,
                    "on_part_end": self._part_end,
                },
            )
        else:
            self._parser = QuerystringParser(
                {
                    "on_field_start": self._field_start,
                    "on_field_name": self._field_name,
                    "on_field_data": self._data,
                    "on_field_end": self._field_end,
                }
            )

    def feed(self, chunk: bytes) -> str | None:
        """Parse one more chunk; the token once its field is complete."""
        try:
            if chunk:
                self._parser.write(chunk)
        except FormParserError as exc:
            raise _Unreadable() from exc
        return self.token

    def end(self) -> str | None:
        """The body is complete (a urlencoded field ends only with the body)."""
        try:
            self._parser.finalize()
        except FormParserError as exc:
            raise _Unreadable() from exc
        return self.token

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._wanted:
            self._value += data[start:end]
            if len(self._value) > _CSRF_VALUE_MAX:
                self._wanted = False  # not a token: the check fails for lack of one

    def _found(self, raw: str) -> None:
        if self.token is None:
            self.token = raw

    # multipart/form-data
    def _part_begin(self) -> None:
        self._wanted = False
        self._value = bytearray()
        self._disposition = b""
        self._header_bytes = 0

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._header_value += data[start:end]

    def _count_header(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > _PART_HEADERS_MAX:
            raise _Unreadable()

    def _header_end(self) -> None:
        if bytes(self._header_name).lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_name, self._header_value = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        self._wanted = options.get(b"name") == CSRF_FIELD.encode() and b"filename" not in options

    def _part_end(self) -> None:
        if self._wanted:
            self._found(self._value.decode("utf-8", "replace"))
        self._wanted = False

    # application/x-www-form-urlencoded
    def _field_start(self) -> None:
        self._name, self._value, self._wanted = bytearray(), bytearray(), False

    def _field_name(self, data: bytes, start: int, end: int) -> None:
        room = len(CSRF_FIELD) * 3 + 1 - len(self._name)  # a %-encoded name, one more
        self._name += data[start : start + max(0, min(room, end - start))]
        self._wanted = unquote_plus(self._name.decode("latin-1")) == CSRF_FIELD

    def _field_end(self) -> None:
        if self._wanted:
            self._found(unquote_plus(self._value.decode("latin-1")))
        self._wanted = False


async def _read_csrf_field(
    receive: Receive, headers: Headers, limit: int
) -> tuple[str | None, Receive] | None:
    """Read the body only as far as its CSRF field; None when the body goes past `limit`
    (declared or read) before that. Returns the field's value (None when it is absent
    or the body is no form) and the receive the endpoint reads the whole body from:
    the chunks read here, then the rest, still bounded by `limit`."""
    length = headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        return None
    read: list[Message] = []
    seen = 0
    try:
        reader = _CsrfFieldReader(headers)
        while True:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":
                token = None
                break
            seen += len(message.get("body", b""))
            if seen > limit:
                return None
            token = reader.feed(message.get("body", b""))
            if token is not None:
                break
            if not message.get("more_body", False):
                token = reader.end()
                break
    except _Unreadable:
        token = None
    return token, _bounded(read, receive, limit, seen)


def _bounded(read: list[Message], receive: Receive, limit: int, seen: int) -> Receive:
    """Replay `read`, then pass the rest of the body on, raising _FormTooLarge past
    `limit` (a body sent without Content-Length)."""
    pending = deque(read)
    total = seen

    async def bounded() -> Message:
        nonlocal total
        if pending:
            return pending.popleft()
        message = await receive()
        if message["type"] == "http.request":
            total += len(message.get("body", b""))
            if total > limit:
                raise _FormTooLarge()
        return message

    return bounded


class IdentityMiddleware:
    """Sets `scope["state"]["actor"]` (and `login_session`), enforces CSRF, adds headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._handle(scope, receive, tracking_send)
        except _FormTooLarge:
            if not started:
                await self._respond(scope, receive, send, _too_large(scope))
        except Exception as exc:
            debug = bool(getattr(scope.get("app"), "debug", False))
            # The database down is app.py's 503; debug mode shows Starlette's traceback.
            if debug or is_connection_error(exc):
                raise
            from views.errors import server_error_response  # views.errors imports us

            response = server_error_response(Request(scope), exc)
            if not started:
                await response(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        state["actor"] = ANONYMOUS
        state["login_session"] = None
        headers = Headers(scope=scope)
        path: str = scope.get("path", "")
        actor: Actor = ANONYMOUS
        stale_cookie = False

        if not path.startswith(ANONYMOUS_PREFIXES):
            authorization = headers.get("authorization")
            if authorization is not None:
                scheme, _, credentials = authorization.partition(" ")
                try:
                    token_actor = (
                        await resolve_api_token(credentials.strip(), client_addr=client_addr(scope))
                        if scheme.lower() == "bearer"
                        else None
                    )
                except RateLimited as exc:
                    await self._respond(scope, receive, send, _too_many(exc.retry_after))
                    return
                if token_actor is None:
                    await self._respond(scope, receive, send, _bad_token())
                    return
                actor = token_actor
            else:
                cookie = Request(scope).cookies.get(SESSION_COOKIE)
                if cookie:
                    resolved = await resolve_login_session(cookie, client_addr=client_addr(scope))
                    if resolved is None:
                        stale_cookie = True
                    else:
                        actor, state["login_session"] = resolved
        state["actor"] = actor

        method = scope.get("method", "GET").upper()
        if method not in SAFE_METHODS and path not in CSRF_EXEMPT_PATHS:
            if _foreign_origin(scope, headers):
                await self._respond(scope, receive, send, _csrf_refused())
                return
            session = state["login_session"]
            if session is not None:
                supplied = headers.get(CSRF_HEADER)
                if supplied is None and _is_form(headers):
                    found = await _read_csrf_field(receive, headers, form_body_limit(path))
                    if found is None:
                        await self._respond(scope, receive, send, _too_large(scope))
                        return
                    supplied, receive = found
                if supplied is None or not secrets.compare_digest(
                    supplied.encode(), session.csrf_token.encode()
                ):
                    await self._respond(scope, receive, send, _csrf_refused())
                    return

        await self.app(scope, receive, self._wrap_send(send, actor, stale_cookie, scope))

    async def _respond(
        self, scope: Scope, receive: Receive, send: Send, response: Response
    ) -> None:
        await response(scope, receive, self._wrap_send(send, ANONYMOUS, False, scope))

    def _wrap_send(
        self, send: Send, actor: Actor, stale_cookie: bool, scope: Scope
    ) -> Callable[[Message], Awaitable[None]]:
        logged_in = not actor.is_anonymous

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                names = {name.lower() for name, _ in raw}
                if b"content-security-policy" not in names:
                    raw.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                raw.extend(h for h in SECURITY_HEADERS if h[0] not in names)
                if logged_in:
                    raw = [(n, v) for n, v in raw if n.lower() != b"cache-control"]
                    raw.append((b"cache-control", b"no-store"))
                if stale_cookie and not any(
                    n.lower() == b"set-cookie" and v.startswith(SESSION_COOKIE.encode())
                    for n, v in raw
                ):
                    raw.append((b"set-cookie", _expired_cookie(scope)))
                message = {**message, "headers": raw}
            await send(message)

        return wrapped


def _expired_cookie(scope: Scope) -> bytes:
    # Tell the browser to drop a cookie whose session is gone (expired or logged out).
    app = scope.get("app")
    debug = bool(getattr(getattr(getattr(app, "state", None), "settings", None), "debug", False))
    secure = "" if debug else "; Secure"
    return (
        f'{SESSION_COOKIE}=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; '
        f"HttpOnly; SameSite=lax{secure}"
    ).encode()


def _too_many(retry_after: int) -> Response:
    return JSONResponse(
        {"error": "rate_limited", "message": "请求过于频繁,请稍后再试", "retryAfter": retry_after},
        status_code=429,
        headers={"Retry-After": str(retry_after)},
    )


def _bad_token() -> Response:
    return JSONResponse(
        {"error": "invalid_token", "message": "API 令牌无效、已过期或已吊销"},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def _too_large(scope: Scope) -> Response:
    """413, the site's Chinese error page; nothing of the request was acted on."""
    from views.errors import error_page  # views.errors imports this module

    return error_page(Request(scope), 413, headers={"Connection": "close"})


def _csrf_refused() -> Response:
    return PlainTextResponse("请求未通过跨站请求伪造(CSRF)校验,请刷新页面后重试。", status_code=403)
