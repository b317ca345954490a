"""ASGI factories that bench/http.py serves with one uvicorn worker each:

- `real_app`: the production app (app.create_app) on the bench database.
- `baseline_app`: a bench-only Starlette app with B-http (`GET /const`, a constant
  JSON body) and B-raw over HTTP (`POST /raw`, the same body as the GraphQL request,
  answered by bench.baselines.Raw's hand-written SQL).
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tortoise.contrib.starlette import RegisterTortoise

from app import Settings, create_app, tortoise_config
from resolvers.config import configure

CONST_BODY = json.dumps({"data": {"ok": True, "service": "pingshen-bench"}}).encode()


def real_app() -> Starlette:
    return create_app(Settings.from_env())


def baseline_app() -> Starlette:
    settings = Settings.from_env()
    configure(settings.config())
    raw_holder: dict[str, object] = {}

    async def const(request: Request) -> Response:
        return Response(CONST_BODY, media_type="application/json")

    async def raw(request: Request) -> Response:
        from bench.baselines import Raw

        if "raw" not in raw_holder:
            raw_holder["raw"] = Raw()
        r = raw_holder["raw"]
        assert isinstance(r, Raw)
        body = json.loads(await request.body())
        return Response(
            await r.for_query(body["query"])(body["variables"]), media_type="application/json"
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with RegisterTortoise(
            app, config=tortoise_config(settings.database_url), _enable_global_fallback=True
        ):
            yield

    return Starlette(
        routes=[Route("/const", const, methods=["GET"]), Route("/raw", raw, methods=["POST"])],
        lifespan=lifespan,
    )
