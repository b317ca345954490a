"""The bureau's page for the confidentiality agreement (保密协议, Art. 9(四), 25; R19):
every published version (the current one marked, its SHA-256, when published, how
many experts signed it) and the form to publish a new version.

Thin: resolvers/expert.py decides (publish_agreement_text, list_agreement_versions;
both the bureau's). The form posts to a real action; htmx swaps the section in place
(the list with the new version and an empty form), a plain post redirects (303) with
`?done=published`; errors re-render the section with status 422, values kept.
"""

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from resolvers import expert as svc
from resolvers.errors import DomainError
from resolvers.policy import Perm, require
from views.errors import wants_fragment
from views.forms import Form
from views.templating import NAV, NavItem, current_actor, render

PAGE = "agreement/agreement.html"
BLOCK = "agreement"
FIELDS = ["version", "content"]
PATH = "/bureau/agreement"
DONE_MESSAGES: dict[str, str] = {
    "published": "新版保密协议已发布;专家须签署新版本后才能进入抽取范围。",
}

BEIJING = ZoneInfo("Asia/Shanghai")

NAV.append(NavItem("保密协议", PATH, Perm.EXPERT_APPROVE))


def _local(value: dt.datetime) -> str:
    """A stored UTC time as Beijing wall-clock time."""
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


async def _render(
    request: Request, form: Form, *, done: str = "", status_code: int = 200
) -> Response:
    actor = current_actor(request)
    ctx: dict[str, Any] = {
        "versions": await svc.list_agreement_versions(actor),
        "form": form,
        "local": _local,
        "done": done or DONE_MESSAGES.get(request.query_params.get("done", ""), ""),
    }
    return render(
        request,
        PAGE,
        ctx,
        BLOCK if wants_fragment(request) else None,
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


async def agreement_page(request: Request) -> Response:
    require(current_actor(request), Perm.EXPERT_APPROVE)
    return await _render(request, Form.empty("agreement").expect(FIELDS))


async def publish_agreement(request: Request) -> Response:
    actor = current_actor(request)
    require(actor, Perm.EXPERT_APPROVE)
    form = (await Form.submitted(request, "agreement")).expect(FIELDS)
    try:
        await svc.publish_agreement_text(
            actor, version=form.value("version"), content=form.value("content")
        )
    except DomainError as exc:
        return await _render(request, form.add(exc), status_code=422)
    if wants_fragment(request):
        fresh = Form.empty("agreement").expect(FIELDS)
        return await _render(request, fresh, done=DONE_MESSAGES["published"])
    return RedirectResponse(f"{PATH}?done=published", status_code=303)


routes: list[BaseRoute] = [
    Route(PATH, agreement_page, methods=["GET"]),
    Route(PATH, publish_agreement, methods=["POST"]),
]
