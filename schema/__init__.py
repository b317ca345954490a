"""Strawberry GraphQL: types, inputs, payloads, loaders. Thin: it calls resolvers/.

`build_schema()` is the schema, `export_sdl()` its committed contract
(schema/schema.graphql, checked by tests/schema/test_contract.py) and
`graphql_route()` the Starlette route for POST /graphql.

Conventions every domain module follows (see schema/institution.py):
- Types implement `Node` (schema/relay.py) and register a fetcher for node(id:).
- Lists are `Connection[T]` fields with `filter`, `orderBy`, first/after/last/before
  over a resolvers Page (keyset pagination).
- Relations resolve through the request's DataLoaders (schema/context.py).
- Mutations take `input: XInput!`, return `XPayload { <object>, errors: [UserError!]! }`
  (catch DomainError, return `schema.errors.user_errors(exc)`); creating ones call
  the resolver through `schema.payload.create_once(info, input=..., model=...,
  create=...)`, which applies the request's `Idempotency-Key` header.
"""

import dataclasses
import functools
from collections.abc import Iterable
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from starlette.routing import Route
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition
from strawberry.types import ExecutionResult
from strawberry.types.execution import ExecutionContext
from strawberry.types.graphql import OperationType

from schema.account import AccountMutation, AccountQuery
from schema.certificate import CertificateMutation, CertificateQuery
from schema.complaint import ComplaintMutation, ComplaintQuery
from schema.errors import ErrorMasking, UserError, log_errors, present_all, suggestions_allowed
from schema.evaluation import EvaluationMutation, EvaluationQuery
from schema.expert import ExpertMutation, ExpertQuery
from schema.institution import InstitutionMutation, InstitutionQuery
from schema.limits import DEFAULT_LIMITS, Limits, RequestLimits
from schema.mutation import mutation_root
from schema.relay import Node, resolve_nodes

__all__ = ["Limits", "build_schema", "export_sdl", "graphql_route", "new_schema"]

_CACHE_SIZE = 512


@strawberry.type(description="全局对象查询(Relay)。")
class NodeQuery:
    @strawberry.field(
        description="按全局 ID 取任意对象;不存在、ID 无效或调用者不可见时为 null。\nFetch by ID."
    )
    async def node(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="对象的全局 ID。")],
    ) -> Node | None:
        return (await resolve_nodes(info, [id]))[0]

    @strawberry.field(
        description="按全局 ID 批量取对象(至多 100 个),顺序与 ids 一致;不可见的为 null。"
    )
    async def nodes(
        self,
        info: strawberry.Info,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="对象的全局 ID 列表。")
        ],
    ) -> list[Node | None]:
        return await resolve_nodes(info, ids)


@strawberry.type(
    description="查询入口:公开目录(评审机构、评委会、年度方案)与需登录的专家库等。\nQueries."
)
class Query(
    InstitutionQuery,
    ExpertQuery,
    AccountQuery,
    EvaluationQuery,
    CertificateQuery,
    ComplaintQuery,
    NodeQuery,
):
    pass


# Every domain's mutation class, in one place (schema/mutation.py merges them).
Mutation = mutation_root(
    AccountMutation,
    InstitutionMutation,
    ExpertMutation,
    EvaluationMutation,
    CertificateMutation,
    ComplaintMutation,
)


class PingshenSchema(strawberry.Schema):
    """Logs expected errors without tracebacks and masks on every path out."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_errors(errors)

    async def execute(  # type: ignore[override]
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        result = await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types,
            operation_extensions,
        )
        # An exception escaping an extension hook skips MaskErrors: mask it here.
        if result.errors:
            result.errors = present_all(
                result.errors, suggestions=suggestions_allowed(context_value)
            )
        return result


_SCALARS = {
    DateDefinition.origin: dataclasses.replace(
        DateDefinition, description="日期,ISO 8601 格式 YYYY-MM-DD。\nDate (isoformat)."
    ),
    DateTimeDefinition.origin: dataclasses.replace(
        DateTimeDefinition,
        description="带时区的日期时间,ISO 8601 格式(UTC)。\nDate with time (isoformat).",
    ),
}


def build_schema(limits: Limits = DEFAULT_LIMITS) -> PingshenSchema:
    """The schema (one per Limits value, built once)."""
    return _build_schema(limits)


@functools.cache
def _build_schema(limits: Limits) -> PingshenSchema:
    return new_schema(Query, Mutation, limits=limits)


def new_schema(
    query: type,
    mutation: type | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    types: Iterable[type] = (),
) -> PingshenSchema:
    """A schema with our extensions, limits, errors and scalars (tests build small ones)."""
    return PingshenSchema(
        query=query,
        mutation=mutation,
        types=[UserError, *types],
        extensions=[
            lambda: RequestLimits(limits),
            ErrorMasking,
            lambda: ParserCache(maxsize=_CACHE_SIZE),
            lambda: ValidationCache(maxsize=_CACHE_SIZE),
        ],
        config=StrawberryConfig(),
        scalar_overrides=_SCALARS,  # type: ignore[arg-type]
    )


def export_sdl() -> str:
    """The schema contract as committed in schema/schema.graphql."""
    return build_schema().as_str().rstrip("\n") + "\n"


def graphql_route(
    schema: strawberry.Schema | None = None, *, limits: Limits | None = None
) -> Route:
    """POST /graphql (GET answers 405)."""
    from schema.view import GraphQLView

    limits = limits or DEFAULT_LIMITS
    view = GraphQLView(schema or build_schema(limits), max_body_bytes=limits.max_body_bytes)
    return Route("/graphql", endpoint=view, methods=["POST"], name="graphql")
