"""How errors reach a GraphQL client (ARCHITECTURE.md "Error contract").

- DomainError in a mutation: payload `errors: [UserError!]!` (see `user_errors`).
- NotFound / PermissionDenied / Unauthenticated: top-level error with
  `extensions.code` NOT_FOUND / FORBIDDEN / UNAUTHENTICATED.
- DomainError in a query (a bad cursor, a page size out of range): top-level
  BAD_USER_INPUT with `extensions.reason` (the ErrorCode) and `extensions.field`.
- Parse, validation and variable errors and our limits: shown as they are, with a
  code (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, BAD_USER_INPUT, MAX_*).
- The database (or the Redis counter store) unreachable: "系统暂时无法连接数据库..."
  with `extensions.code` UNAVAILABLE and `retryAfter`, the same body the app's
  503 middleware sends; the view answers 503 with Retry-After. Not a bug: no
  correlation id, no traceback, no driver message (it names hosts and ports).
- A partner token over its cost budget: RATE_LIMITED with `retryAfter` (429).
- Anything else is a bug: "Unexpected error" with `extensions.correlationId`; the
  traceback is logged under that id and never sent (no SQL, no file paths). The log
  line holds the exception's type and frames but not its message, which may quote
  personal data (resolvers/logsafe.py).
"""

import logging
import re
from collections.abc import Iterable

import strawberry
from graphql import GraphQLError
from graphql.error import GraphQLSyntaxError
from strawberry.extensions import MaskErrors

from resolvers.errors import DomainError, ErrorCode, NotFound, PermissionDenied, Unauthenticated
from resolvers.health import is_connection_error
from resolvers.logsafe import log_unexpected

log = logging.getLogger("pingshen.graphql")

MASKED_MESSAGE = "Unexpected error"
_CID_ATTR = "_pingshen_correlation_id"
_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)

UNAVAILABLE = "UNAVAILABLE"
UNAVAILABLE_MESSAGE = "系统暂时无法连接数据库,请稍后重试。"
UNAVAILABLE_RETRY_AFTER = 5
RATE_LIMITED = "RATE_LIMITED"

# Errors raised by our limits carry their own code in `extensions` already.
LIMIT_CODES = frozenset(
    {
        "MAX_DEPTH_EXCEEDED",
        "MAX_ALIASES_EXCEEDED",
        "MAX_TOKENS_EXCEEDED",
        "MAX_COST_EXCEEDED",
        RATE_LIMITED,
    }
)

UserErrorCode = strawberry.enum(
    ErrorCode,
    name="UserErrorCode",
    description="用户错误代码:客户端据此分支处理,值稳定不变。\nStable codes of UserError.",
)


@strawberry.type(description="用户错误:业务规则不满足或输入有误,未做任何更改。\nA rule broken.")
class UserError:
    field: str | None = strawberry.field(
        description="出错的输入字段名(camelCase),与整个请求有关时为 null。"
    )
    code: ErrorCode = strawberry.field(description="稳定的错误代码。")
    message: str = strawberry.field(description="给人看的中文说明。")


def user_errors(exc: DomainError) -> list[UserError]:
    """The payload `errors` of a mutation for one DomainError."""
    return [UserError(field=exc.field, code=exc.code, message=exc.message)]


def unavailable_error(error: GraphQLError | None = None) -> GraphQLError:
    """The database (or counter store) could not be reached: retry later (503)."""
    return GraphQLError(
        UNAVAILABLE_MESSAGE,
        nodes=error.nodes if error else None,
        source=error.source if error else None,
        positions=error.positions if error else None,
        path=error.path if error else None,
        extensions={"code": UNAVAILABLE, "retryAfter": UNAVAILABLE_RETRY_AFTER},
    )


def is_unavailable(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and is_connection_error(original)


def should_mask_error(error: GraphQLError) -> bool:
    """Only our own domain exceptions and GraphQL's request errors are shown."""
    original = error.original_error
    if original is None:
        return False
    if isinstance(original, NotFound | PermissionDenied | Unauthenticated | DomainError):
        return False
    if is_connection_error(original):
        return False
    # Variable coercion wraps a scalar's parse failure: the client sent a bad value.
    return not (error.path is None and error.message.startswith("Variable '$"))


def correlation_id(error: GraphQLError) -> str:
    """The id under which a masked error was logged (logged once, with traceback)."""
    cid: str | None = getattr(error, _CID_ATTR, None)
    if cid is None:
        original = error.original_error or error
        # The path is field names and list indices: never a value the client sent.
        cid = log_unexpected(log, "GraphQL unexpected error", original, path=error.path)
        setattr(error, _CID_ATTR, cid)
    return cid


def _code(error: GraphQLError) -> dict[str, object]:
    original = error.original_error
    if isinstance(original, NotFound | PermissionDenied | Unauthenticated):
        return {"code": original.code}
    if isinstance(original, DomainError):
        return {"code": "BAD_USER_INPUT", "reason": original.code.value, "field": original.field}
    existing = (error.extensions or {}).get("code")
    if existing:
        return {}
    if isinstance(error, GraphQLSyntaxError) or error.message.startswith("Syntax Error"):
        if "contains more than" in error.message:
            return {"code": "MAX_TOKENS_EXCEEDED"}
        return {"code": "GRAPHQL_PARSE_FAILED"}
    if error.path is None and error.message.startswith("Variable '$"):
        return {"code": "BAD_USER_INPUT"}
    if error.path is None:
        return {"code": "GRAPHQL_VALIDATION_FAILED"}
    return {"code": "BAD_USER_INPUT"}


def present(error: GraphQLError, *, suggestions: bool) -> GraphQLError:
    """A new error fit for the client (the original may sit in a validation cache)."""
    if is_unavailable(error):
        return unavailable_error(error)
    if should_mask_error(error):
        return GraphQLError(
            MASKED_MESSAGE,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "correlationId": correlation_id(error)},
        )
    message = error.message if suggestions else _SUGGESTION.sub("", error.message)
    if getattr(error, "_pingshen_presented", False) and message == error.message:
        return error
    presented = GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), **_code(error)},
    )
    presented._pingshen_presented = True  # type: ignore[attr-defined]
    return presented


def present_all(errors: Iterable[GraphQLError], *, suggestions: bool) -> list[GraphQLError]:
    return [present(e, suggestions=suggestions) for e in errors]


def suggestions_allowed(context: object) -> bool:
    # "Did you mean" would rebuild the schema for a caller denied introspection.
    return bool(getattr(context, "introspection_allowed", False))


class ErrorMasking(MaskErrors):
    """MaskErrors that shows domain and request errors with a code, masks the rest."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask_error, error_message=MASKED_MESSAGE)

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        context = self.execution_context.context
        return present_all(errors, suggestions=suggestions_allowed(context))


def log_errors(errors: Iterable[GraphQLError]) -> None:
    """Expected errors: one debug line, no traceback. Bugs: logged with traceback."""
    for error in errors:
        if is_unavailable(error):
            original = error.original_error
            log.warning("GraphQL: database unavailable (%s)", type(original).__name__)
        elif should_mask_error(error):
            correlation_id(error)
        else:
            # The code, not the message: a coercion or validation message quotes the
            # value the client sent ("got invalid value '1101...'").
            code = _code(error).get("code") or (error.extensions or {}).get("code")
            log.debug("GraphQL request error code=%s path=%s", code, error.path)
