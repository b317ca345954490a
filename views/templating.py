"""The Jinja2 environment and `render()`, shared by every HTML view.

One template per page; an htmx request asks for a named block of it
(jinja2-fragments), a normal request gets the whole page. Every page receives the
actor, the login session's CSRF token (for `<body hx-headers:inherited>` and each
form's hidden field) and the navigation the actor's permissions allow.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2_fragments import render_block
from starlette.requests import Request
from starlette.responses import HTMLResponse

from models.enums import Role
from resolvers.actor import ANONYMOUS, Actor
from resolvers.policy import Perm, allows

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    # A misspelt variable must fail the test that renders it, not print nothing.
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

ROLE_LABELS: dict[Role, str] = {
    Role.BUREAU: "市人力资源社会保障局",
    Role.RECOMMENDER: "推荐单位(行业主管部门/区人社局)",
    Role.INSTITUTION: "评审机构工作人员",
    Role.EXPERT: "评审专家",
    Role.EMPLOYER: "专家所在单位",
    Role.SUPERVISOR: "监督委员",
    Role.APPLICANT: "申报人",
    Role.PARTNER: "合作方",
}
env.globals["ROLE_LABELS"] = ROLE_LABELS


@dataclass(frozen=True)
class NavItem:
    """A navigation link, shown when the actor could hold `perm` on something.

    Hiding a link is presentation only; the resolver behind the page decides.
    """

    label: str
    href: str
    perm: Perm | None = None


# Other pages append their entry here (import order does not matter: rendered lazily).
NAV: list[NavItem] = [
    NavItem("首页", "/"),
    NavItem("评审机构", "/directory", Perm.INSTITUTION_VIEW),
    NavItem("年度评审方案", "/plans", Perm.PLAN_VIEW),
    NavItem("证书核验", "/verify", Perm.CERTIFICATE_VERIFY),
]
# Only pages that exist are listed; each domain's views module appends its own entries.


def current_actor(request: Request) -> Actor:
    actor = getattr(request.state, "actor", None)
    return actor if isinstance(actor, Actor) else ANONYMOUS


def csrf_token(request: Request) -> str:
    """The login session's CSRF token ("" when nobody is logged in)."""
    session = getattr(request.state, "login_session", None)
    return str(getattr(session, "csrf_token", "") or "")


def nav_for(actor: Actor) -> list[NavItem]:
    return [item for item in NAV if item.perm is None or allows(actor, item.perm)]


# Navigation groups, by the first path segment of an entry (the role whose work it
# is); other entries are the public services. Order = order shown.
NAV_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("市人社局", ("/bureau",)),
    ("评审机构", ("/institution",)),
    ("评审专家", ("/me",)),
    ("评审监督", ("/supervisor",)),
    ("所在单位", ("/employer",)),
    ("推荐单位", ("/recommender",)),
    ("投诉处理", ("/handling",)),
    ("专家库", ("/experts",)),
)
PUBLIC_GROUP = "公共服务"


@dataclass(frozen=True)
class NavGroup:
    label: str
    items: list[NavItem]


def nav_groups(items: list[NavItem]) -> list[NavGroup]:
    """The visible entries grouped per role's work ("公共服务" first; empty groups
    dropped), so a user holding several roles finds each role's pages together."""
    groups: dict[str, list[NavItem]] = {PUBLIC_GROUP: []}
    groups.update({label: [] for label, _ in NAV_GROUPS})
    for item in items:
        path = item.href.split("?", 1)[0]
        label = next(
            (
                g
                for g, prefixes in NAV_GROUPS
                if any(path == p or path.startswith(p + "/") for p in prefixes)
            ),
            PUBLIC_GROUP,
        )
        groups[label].append(item)
    return [NavGroup(label, entries) for label, entries in groups.items() if entries]


# `?flash=<key>` after a redirect shows one fixed message (never text from the URL).
# Modules add their own keys at import time.
FLASH_MESSAGES: dict[str, str] = {
    "logged_out": "您已安全退出登录。",
    "logged_in": "登录成功。",
}


def flash_message(request: Request) -> str:
    return FLASH_MESSAGES.get(request.query_params.get("flash", ""), "")


def is_htmx(request: Request) -> bool:
    """An htmx request that wants a fragment (boosted requests get whole pages)."""
    return (
        request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"
    )


def page_context(request: Request, ctx: dict[str, Any] | None = None) -> dict[str, Any]:
    actor = current_actor(request)
    return {
        "request": request,
        "actor": actor,
        "csrf_token": csrf_token(request),
        "nav": nav_for(actor),
        "nav_groups": nav_groups(nav_for(actor)),
        "flash": flash_message(request),
        "current_path": request.url.path,
        **(ctx or {}),
    }


def render(
    request: Request,
    name: str,
    ctx: dict[str, Any] | None = None,
    block: str | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render template `name` (or only its `block`) with the page context."""
    context = page_context(request, ctx)
    if block is None:
        html = env.get_template(name).render(context)
    else:
        html = render_block(env, name, block, context)
    return HTMLResponse(html, status_code=status_code, headers=headers)
