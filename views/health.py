"""Liveness and database reachability for load balancers."""

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from resolvers.health import database_ok


async def healthz(request: Request) -> JSONResponse:
    """200 when the database answers, 503 otherwise (no details leak)."""
    if await database_ok():
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "unavailable"}, status_code=503)


routes = [Route("/healthz", healthz, methods=["GET", "HEAD"])]
