"""Liveness and dependency reachability for load balancers."""

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from resolvers.health import unavailable_dependencies


async def healthz(request: Request) -> JSONResponse:
    """200 when every dependency answers; 503 naming the ones that do not
    (`{"status": "unavailable", "down": ["redis"]}`), with no hosts, ports or driver
    messages."""
    down = await unavailable_dependencies()
    if not down:
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})
    return JSONResponse(
        {"status": "unavailable", "down": down},
        status_code=503,
        headers={"Cache-Control": "no-store"},
    )


routes = [Route("/healthz", healthz, methods=["GET", "HEAD"])]
