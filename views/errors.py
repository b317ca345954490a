"""Error pages (404, 403, 500 and other HTTP errors) in the site's own style.

The error contract of ARCHITECTURE.md for HTML: a resolver's `NotFound` is a 404
page, `PermissionDenied` a 403 page, `Unauthenticated` a redirect to the login page
that comes back afterwards; anything else is a bug and gets the 500 page. The bug is
logged here under a correlation id that the page shows, with the exception's type and
traceback frames but not its message (it may quote personal data, resolvers/logsafe.py);
views.middleware answers the 500 itself so the server never logs the raw traceback.

An htmx request gets only the page's `error` block (htmx 4 swaps 4xx responses into
the target), and an htmx request that needs a login gets `HX-Redirect` so the whole
browser window goes to the login page instead of a fragment of it.
"""

import logging
from collections.abc import Mapping
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ExceptionHandler

from resolvers.errors import NotFound, PermissionDenied, Unauthenticated
from resolvers.logsafe import log_unexpected
from views.middleware import CONTENT_SECURITY_POLICY, SECURITY_HEADERS
from views.templating import is_htmx, render

log = logging.getLogger("pingshen.views")

TEMPLATE = "errors/error.html"

TITLES: dict[int, str] = {
    400: "请求有误",
    403: "无权访问",
    404: "页面不存在",
    405: "不支持的请求方式",
    413: "提交的内容过大",
    500: "系统出错了",
}
MESSAGES: dict[int, str] = {
    400: "请求的参数有误,请返回上一页检查后重试。",
    403: "您的账号没有办理此事项的权限。如需办理,请联系市人力资源社会保障局授权。",
    404: "您访问的页面或对象不存在,或不在您的查看范围内。",
    405: "该地址不支持这种请求方式。",
    413: "提交的内容超过了此页面允许的大小,未做任何更改。请减少上传文件的大小或数量后重试。",
    500: "服务器处理请求时出错,我们已记录此问题。请稍后重试;如仍无法办理,请联系系统管理员。",
}


def wants_fragment(request: Request) -> bool:
    """An htmx swap (not a history restore, which needs the whole page: htmx 4
    re-fetches the URL on back/forward and swaps it into the body)."""
    return is_htmx(request) and request.headers.get("hx-history-restore-request") != "true"


def error_page(
    request: Request,
    status_code: int,
    *,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    ctx = {
        "status_code": status_code,
        "title": TITLES.get(status_code, "请求未能完成"),
        "message": message or MESSAGES.get(status_code, "请求未能完成,请返回上一页后重试。"),
    }
    block = "error" if wants_fragment(request) else None
    return render(
        request, TEMPLATE, ctx, block, status_code=status_code, headers=dict(headers or {})
    )


def login_redirect(request: Request) -> Response:
    """Send the browser to the login page; a GET comes back to where it was."""
    target = "/login"
    if request.method == "GET":
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += "?" + urlencode({"next": here})
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def not_found(request: Request, exc: Exception) -> Response:
    return error_page(request, 404)


async def forbidden(request: Request, exc: Exception) -> Response:
    return error_page(request, 403)


async def unauthenticated(request: Request, exc: Exception) -> Response:
    return login_redirect(request)


async def http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):
        return await server_error(request, exc)
    if exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    return error_page(request, exc.status_code, headers=exc.headers)


def server_error_response(request: Request, exc: BaseException) -> Response:
    """Log a bug (correlation id, type, frames; no message, no locals) and return the
    500 page naming the id. It may run outside the identity middleware, so it adds the
    security headers itself, and it must not fail in turn: a broken template falls back
    to plain text."""
    endpoint = request.scope.get("endpoint")
    cid = log_unexpected(
        log,
        "HTML unexpected error",
        exc,
        method=request.scope.get("method", ""),
        # The endpoint's name, not the URL: a query string may hold what a user typed.
        endpoint=getattr(endpoint, "__qualname__", "-"),
    )
    message = f"{MESSAGES[500]}(错误编号:{cid})"
    headers = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}
    headers["content-security-policy"] = CONTENT_SECURITY_POLICY
    headers["cache-control"] = "no-store"
    try:
        response: Response = error_page(request, 500, message=message, headers=headers)
    except Exception as page_exc:  # the error page itself must never raise
        log_unexpected(log, "error page failed to render", page_exc, correlationOf=cid)
        response = PlainTextResponse(message, status_code=500, headers=headers)
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    """The 500 page for what escapes the identity middleware (Starlette's outermost
    ServerErrorMiddleware calls this)."""
    return server_error_response(request, exc)


def exception_handlers() -> dict[type[Exception] | int, ExceptionHandler]:
    """For `Starlette(exception_handlers=...)`."""
    return {
        NotFound: not_found,
        PermissionDenied: forbidden,
        Unauthenticated: unauthenticated,
        HTTPException: http_error,
        Exception: server_error,
    }
