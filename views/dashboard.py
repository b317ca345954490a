"""The home page: one dashboard section per role the actor holds (issue 9 item 2),
and the bureau's audit-chain verification page (item 5: a long operation that shows
progress and never blocks the page). Thin: resolvers/dashboard.py counts, scoped;
resolvers/audit.py verifies."""

from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from models.enums import LEVEL_LABELS, Role
from resolvers import audit
from resolvers import dashboard as svc
from resolvers.account import current_user
from resolvers.audit import ChainReport
from resolvers.common import beijing_today
from resolvers.jobs import Job
from resolvers.policy import Perm, require
from views.charts import bar_chart, share_chart
from views.expert import APPLICATION_LABELS
from views.institution import FILING_LABELS
from views.templating import NAV, NavItem, current_actor, is_htmx, render

NAV.append(NavItem("审计核验", "/bureau/audit", Perm.AUDIT_VIEW))

UNIT_TYPE_LABELS = {
    "municipal": "市属单位",
    "district": "区属单位",
    "central": "中央在京单位",
    "non_public": "非公单位",
}
PRIVATE = {"Cache-Control": "no-store"}


def _charts(board: svc.BureauDashboard) -> dict[str, Markup]:
    """Youth share (R13: against the configured floor) and pool composition, as SVG."""
    from resolvers.config import get_config

    pool = board.pool
    floor = float(get_config().youth_floor_percent)
    # The pool, then only the committees under the floor (the ones to act on); the
    # statistics page has every committee.
    youth_rows: list[tuple[str, float | None]] = [("全库", pool.youth.percent)]
    youth_rows += [
        (board.committee_names.get(cid, f"评委会 {cid}"), share.percent)
        for cid, share in sorted(pool.youth_by_committee.items())
        if share.below_floor
    ]
    return {
        "youth": share_chart(
            youth_rows, title="45岁以下专家占比(全库及低于下限的评委会)", floor=floor
        ),
        "unit_type": bar_chart(
            [(UNIT_TYPE_LABELS.get(k, k), v) for k, v in pool.by_unit_type.items()],
            title="在库专家构成(按单位类型)",
            unit="人",
        ),
        "level": bar_chart(
            [(LEVEL_LABELS.get(k, k), v) for k, v in pool.by_level.items()],  # type: ignore[call-overload]
            title="在库专家构成(按职称层级)",
            unit="人",
        ),
    }


async def home(request: Request) -> Response:
    actor = current_actor(request)
    board = await svc.dashboard(actor)
    order = list(Role)
    roles = sorted({g.role for g in actor.grants}, key=order.index)
    user = await current_user(actor)
    ctx: dict[str, Any] = {
        "board": board,
        "roles": roles,
        "display_name": user.display_name if user else "",
        "charts": _charts(board.bureau) if board.bureau else {},
        "status_labels": APPLICATION_LABELS,
        "level_labels": LEVEL_LABELS,
        "FILING_LABELS": FILING_LABELS,
        "today": beijing_today(),
    }
    # A dashboard shows personal and internal figures: never cached, never in history.
    headers = None if actor.is_anonymous else PRIVATE
    return render(request, "dashboard/home.html", ctx, headers=headers)


async def audit_page(request: Request) -> Response:
    """GET /bureau/audit[?job=…]: start form, or the progress of one verification.
    htmx polls the progress block every second; without JS the page refreshes
    itself (a <noscript> meta refresh) until the walk is done."""
    actor = current_actor(request)
    job_id = request.query_params.get("job", "")
    require(actor, Perm.AUDIT_VIEW)
    job, report = await audit.chain_verification(actor, job_id) if job_id else (None, None)
    return _audit(request, job, report)


def _audit(
    request: Request, job: Job | None, report: ChainReport | None, **headers: str
) -> Response:
    return render(
        request,
        "dashboard/audit.html",
        {"job": job, "report": report},
        block="progress" if job is not None and is_htmx(request) else None,
        headers={**PRIVATE, **headers},
    )


async def start_audit(request: Request) -> Response:
    """POST /bureau/audit/verify: start the walk and go to its progress page at once."""
    job = await audit.start_chain_verification(current_actor(request))
    target = f"/bureau/audit?job={job.id}"
    if is_htmx(request):
        return _audit(request, job, None, **{"HX-Push-Url": target})
    return RedirectResponse(target, status_code=303)


routes: list[BaseRoute] = [
    Route("/", home, methods=["GET"], name="home"),
    Route("/bureau/audit", audit_page, methods=["GET"], name="audit"),
    Route("/bureau/audit/verify", start_audit, methods=["POST"]),
]
