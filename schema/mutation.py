"""The Mutation root and what every mutation field shares.

Each domain module defines one `XMutation` class (a `@strawberry.type` whose fields
are `@strawberry.mutation`s) and adds it to `MUTATIONS` in schema/__init__.py;
`mutation_root()` merges them into the single `Mutation` type.

A mutation field is thin (ARCHITECTURE.md "Error contract"):

    async def suspend_institution(self, info, input) -> SuspendInstitutionPayload:
        obj, errors = await attempt(info, lambda: svc.suspend_institution(
            ctx(info).actor, require_id(input.institution_id, "Institution", "institutionId"),
            reason=input.reason))
        return SuspendInstitutionPayload(institution=..., errors=errors)

`attempt` turns a DomainError (raised while parsing the input or by the resolver)
into the payload's `errors`; NotFound / PermissionDenied / Unauthenticated propagate
and become top-level errors with `extensions.code`.
"""

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from strawberry.types import Info

from resolvers.errors import DomainError, ErrorCode
from schema.context import Loaders, ctx
from schema.errors import UserError, user_errors
from schema.relay import expect_id

T = TypeVar("T")

DESCRIPTION = (
    "变更入口:各业务领域的写操作。每个变更接受 input,返回含 errors 的 payload;"
    "业务规则不满足时 errors 非空且未做任何更改。\nMutations."
)


def mutation_root(*parts: type) -> type:
    """One `Mutation` type with the fields of every domain's mutation class."""
    if not parts:
        raise ValueError("mutation_root() needs at least one mutation class")
    seen: dict[str, str] = {}
    for part in parts:
        for field in part.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            if field.name in seen:
                # A silent override would drop one domain's mutation from the contract.
                raise ValueError(
                    f"mutation {field.name} defined by both {seen[field.name]} and {part.__name__}"
                )
            seen[field.name] = part.__name__
    return strawberry.type(type("Mutation", parts, {}), name="Mutation", description=DESCRIPTION)


def require_id(global_id: strawberry.ID, type_name: str, field: str) -> int:
    """The pk inside a required ID input; a malformed or foreign ID is a UserError."""
    pk = expect_id(global_id, type_name, field)
    if pk is None:
        raise DomainError(ErrorCode.REQUIRED, "此项为必填项", field)
    return pk


async def attempt(info: Info, call: Callable[[], Awaitable[T]]) -> tuple[T | None, list[UserError]]:
    """Run one mutation's resolver call: (result, []) or (None, the DomainError as
    UserErrors). Input parsing belongs inside `call` so its errors land in the payload.

    After a successful change the request's DataLoaders are replaced: a later field
    or mutation of the same document must not read the state cached before it.
    """
    try:
        result = await call()
    except DomainError as exc:
        return None, user_errors(exc)
    context = ctx(info)
    context.loaders = Loaders.for_actor(context.actor)
    return result, []
