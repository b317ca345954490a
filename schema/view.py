"""The HTTP endpoint: POST /graphql, JSON only, with GraphQL-over-HTTP responses.

- POST only (the route refuses GET with 405): no queries via GET, no multipart
  uploads (CVE-2024-47082), no GraphiQL (it loads from a CDN). JSON-only POST is
  the CSRF defence for cookie sessions.
- A body over Limits.max_body_bytes is refused with 413 before it is parsed.
- Batched (array) requests are refused with 400.
- `Accept: application/graphql-response+json` gets that content type, 400 for
  request errors (parse, validation, limits, variables) and no `data` key then;
  plain `application/json` keeps the legacy "always 200" behaviour.
- A database outage answers 503 (errors coded UNAVAILABLE), a partner token past its
  cost budget 429 (RATE_LIMITED), both with Retry-After, whatever the Accept header.
- The actor comes from `request.state.actor` (set by the authentication
  middleware); without one the caller is anonymous.
"""

import json

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema import BaseSchema
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from resolvers.actor import ANONYMOUS, Actor
from schema.context import Context
from schema.errors import RATE_LIMITED, UNAVAILABLE, UNAVAILABLE_RETRY_AFTER
from schema.limits import DEFAULT_LIMITS

JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


def negotiate(accept: str) -> str:
    """The response media type for an Accept header (graphql-response+json if asked)."""
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media.lower() != GRAPHQL_RESPONSE_JSON:
            continue
        q = next((p[2:] for p in params if p.replace(" ", "").startswith("q=")), "1")
        try:
            if float(q) > 0:
                return GRAPHQL_RESPONSE_JSON
        except ValueError:
            continue
    return JSON


def is_request_error(result: ExecutionResult) -> bool:
    """Failed before execution: parse, validation, limits or variable coercion."""
    if isinstance(result, PreExecutionError):
        return True
    return (
        result.data is None
        and bool(result.errors)
        and all(e.path is None for e in result.errors or ())
    )


def _retry_status(result: ExecutionResult) -> tuple[int, int] | None:
    """(503, seconds) when the database was unreachable, (429, seconds) when a token's
    cost budget is spent; None otherwise."""
    codes: dict[str, int] = {}
    for error in result.errors or ():
        ext = error.extensions or {}
        code, seconds = ext.get("code"), ext.get("retryAfter")
        if code in (UNAVAILABLE, RATE_LIMITED):
            codes[code] = int(seconds) if isinstance(seconds, int) else UNAVAILABLE_RETRY_AFTER
    if UNAVAILABLE in codes:
        return 503, codes[UNAVAILABLE]
    if RATE_LIMITED in codes:
        return 429, codes[RATE_LIMITED]
    return None


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's ASGI view, hardened and made GraphQL-over-HTTP compliant."""

    def __init__(self, schema: BaseSchema, *, max_body_bytes: int = DEFAULT_LIMITS.max_body_bytes):
        super().__init__(
            schema,
            graphql_ide=None,
            allow_queries_via_get=False,
            multipart_uploads_enabled=False,
        )
        self.max_body_bytes = max_body_bytes

    def encode_json(self, data: object) -> str:
        # Chinese messages as UTF-8, not \u escapes: a third of the bytes.
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    def _plain_error(self, request: Request, status: int, message: str) -> Response:
        media = negotiate(request.headers.get("accept", ""))
        body = self.encode_json({"errors": [{"message": message}]})
        return Response(body, status_code=status, media_type=media)

    async def _read_body(self, request: Request) -> bytes | None:
        """The whole body, or None as soon as it exceeds the limit (not buffered)."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return None
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self.max_body_bytes:
                return None
        return bytes(body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no subscriptions: the route only serves HTTP
        request = Request(scope, receive=receive)
        if request.method == "POST":
            body = await self._read_body(request)
            if body is None:
                limit = self.max_body_bytes
                response = self._plain_error(request, 413, f"请求体超过 {limit} 字节的上限")
                await response(scope, receive, send)
                return
            request._body = body  # Starlette's cache: later request.body() returns it
        try:
            response = await self.run(request)
        except HTTPException as exc:
            response = self._plain_error(request, exc.status_code, exc.reason)
        await response(scope, receive, send)

    async def get_sub_response(self, request: Request) -> Response:  # type: ignore[override]
        sub = await super().get_sub_response(request)
        sub.media_type = negotiate(request.headers.get("accept", ""))
        request.state.graphql_sub_response = sub
        return sub

    async def get_context(  # type: ignore[override]
        self, request: Request, response: Response
    ) -> Context:
        actor = getattr(request.state, "actor", None)
        return Context.for_actor(
            actor if isinstance(actor, Actor) else ANONYMOUS, request=request, response=response
        )

    async def process_result(  # type: ignore[override]
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        data = await super().process_result(request, result)
        sub: Response = request.state.graphql_sub_response
        if sub.media_type == GRAPHQL_RESPONSE_JSON and is_request_error(result):
            data.pop("data", None)
            sub.status_code = 400
        retry = _retry_status(result)
        if retry is not None:
            sub.status_code, seconds = retry
            sub.headers["retry-after"] = str(seconds)
            sub.headers["cache-control"] = "no-store"
        return data

    def create_response(  # type: ignore[override]
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media = sub_response.media_type or JSON
        response.headers["content-type"] = media
        response.media_type = media
        return response
