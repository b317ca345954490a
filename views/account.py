"""Login and logout (zh-CN; the home page is views/dashboard.py). Thin: resolvers decide."""

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from resolvers.account import (
    authenticate,
    end_login_session,
    start_login_session,
)
from resolvers.errors import DomainError, ErrorCode
from views.middleware import client_addr, delete_session_cookie, set_session_cookie
from views.templating import current_actor, is_htmx, render

LOGIN_TEMPLATE = "account/login.html"


def safe_next(value: str | None) -> str:
    """Where to go after login: a path on this site only (never `//host` or a URL),
    so the `next` parameter cannot become an open redirect."""
    value = value or ""
    if (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(ch) < 32 for ch in value)
        or len(value) > 2000
    ):
        return ""
    return value


def _login_page(
    request: Request,
    *,
    username: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    next_url: str = "",
) -> Response:
    return render(
        request,
        LOGIN_TEMPLATE,
        {"username": username, "errors": errors or {}, "next": next_url},
        block="login_form" if is_htmx(request) else None,
        status_code=status_code,
    )


async def login_form(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    if not current_actor(request).is_anonymous:
        return RedirectResponse(next_url or "/", status_code=303)
    return _login_page(request, next_url=next_url)


async def login(request: Request) -> Response:
    """Check the credentials; on success replace any current login session by a new
    one (a fresh cookie value at every login defeats session fixation)."""
    form = await request.form()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    next_url = safe_next(str(form.get("next") or ""))
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "请填写用户名"
    if not password:
        errors["password"] = "请填写密码"
    if errors:
        return _login_page(
            request, username=username, errors=errors, status_code=422, next_url=next_url
        )
    addr = client_addr(request.scope)
    try:
        user = await authenticate(username, password, addr)
    except DomainError as exc:
        status = 429 if exc.code == ErrorCode.THROTTLED else 422
        return _login_page(
            request,
            username=username,
            errors={exc.field or "form": exc.message},
            status_code=status,
            next_url=next_url,
        )
    previous = request.state.login_session
    if previous is not None:
        await end_login_session(current_actor(request), previous)
    cookie_value, _ = await start_login_session(user, addr)
    response = RedirectResponse(next_url or "/", status_code=303)
    set_session_cookie(response, request, cookie_value)
    return response


async def logout(request: Request) -> Response:
    session = request.state.login_session
    if session is not None:
        await end_login_session(current_actor(request), session)
    response = RedirectResponse("/login?flash=logged_out", status_code=303)
    delete_session_cookie(response, request)
    return response


routes: list[BaseRoute] = [
    Route("/login", login_form, methods=["GET"], name="login_form"),
    Route("/login", login, methods=["POST"], name="login"),
    Route("/logout", logout, methods=["POST"], name="logout"),
]
