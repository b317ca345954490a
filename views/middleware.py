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
- Every response gets the security headers; responses to a logged-in actor are not
  cached.
"""

import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resolvers.account import (
    SESSION_COOKIE,
    resolve_api_token,
    resolve_login_session,
    session_cookie_params,
)
from resolvers.actor import ANONYMOUS, Actor
from resolvers.throttle import RateLimited

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_EXEMPT_PATHS = frozenset({"/graphql"})
# Static files need no actor: skip the session lookup (a query per asset).
ANONYMOUS_PREFIXES = ("/static/",)
# A form body is buffered to read its CSRF field; larger bodies must use the header.
MAX_FORM_BODY = 32 * 1024 * 1024

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


async def _read_body(receive: Receive, limit: int) -> tuple[list[Message], bytes] | None:
    """Read the whole request body; None when it exceeds `limit`."""
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, body
        body += message.get("body", b"")
        if len(body) > limit:
            return None
        if not message.get("more_body", False):
            return messages, body


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


class IdentityMiddleware:
    """Sets `scope["state"]["actor"]` (and `login_session`), enforces CSRF, adds headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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
                    read = await _read_body(receive, MAX_FORM_BODY)
                    if read is None:
                        await self._respond(scope, receive, send, _csrf_refused())
                        return
                    messages, _ = read
                    receive = _replay(messages, receive)
                    form = await Request(scope, _replay(messages, _no_more_body)).form()
                    field = form.get(CSRF_FIELD)
                    supplied = field if isinstance(field, str) else None
                    await form.close()
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


async def _no_more_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


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


def _csrf_refused() -> Response:
    return PlainTextResponse("请求未通过跨站请求伪造(CSRF)校验,请刷新页面后重试。", status_code=403)
