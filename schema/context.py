"""The per-request GraphQL context: who is asking and that request's DataLoaders.

DataLoaders are created per request, never at module level: they cache what one
actor may see and would leak it to the next caller otherwise (STACK-NOTES).
"""

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from models import AnnualPlan, Committee, CommitteeSeat, Expert, Institution, Unit
from resolvers import directory
from resolvers.actor import ANONYMOUS, Actor
from resolvers.config import get_config

V = TypeVar("V")


def introspection_allowed(actor: Actor) -> bool:
    """Introspection for logged-in callers and in debug; `graphql_introspection`
    in Config.extra overrides ("always", "never", "authenticated")."""
    config = get_config()
    mode = config.extra.get("graphql_introspection", "authenticated")
    if mode == "never":
        return False
    if mode == "always" or config.debug:
        return True
    return not actor.is_anonymous


def by_key(
    actor: Actor, fetch: Callable[[Actor, Iterable[int]], Awaitable[Mapping[int, V]]]
) -> DataLoader[int, V | None]:
    async def load(keys: list[int]) -> list[V | None]:
        found = await fetch(actor, keys)
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)


def lists_by_key(
    actor: Actor, fetch: Callable[[Actor, Iterable[int]], Awaitable[Mapping[int, list[V]]]]
) -> DataLoader[int, list[V]]:
    async def load(keys: list[int]) -> list[list[V]]:
        found = await fetch(actor, keys)
        return [found.get(k, []) for k in keys]

    return DataLoader(load_fn=load)


@dataclass
class Loaders:
    """One DataLoader per relation a type exposes; all scoped to the actor."""

    institution: DataLoader[int, Institution | None]
    committee: DataLoader[int, Committee | None]
    annual_plan: DataLoader[int, AnnualPlan | None]
    expert: DataLoader[int, Expert | None]
    unit: DataLoader[int, Unit | None]
    seats_by_expert: DataLoader[int, list[CommitteeSeat]]

    @classmethod
    def for_actor(cls, actor: Actor) -> "Loaders":
        return cls(
            institution=by_key(actor, directory.load_institutions),
            committee=by_key(actor, directory.load_committees),
            annual_plan=by_key(actor, directory.load_annual_plans),
            expert=by_key(actor, directory.load_experts),
            unit=by_key(actor, directory.load_units),
            seats_by_expert=lists_by_key(actor, directory.load_seats_by_expert),
        )


@dataclass
class Context:
    """What every resolver gets as `info.context`."""

    actor: Actor
    loaders: Loaders
    introspection_allowed: bool
    request: Request | None = None
    response: Response | None = None
    idempotency_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_actor(
        cls,
        actor: Actor = ANONYMOUS,
        *,
        request: Request | None = None,
        response: Response | None = None,
        introspection: bool | None = None,
    ) -> "Context":
        return cls(
            actor=actor,
            loaders=Loaders.for_actor(actor),
            introspection_allowed=(
                introspection_allowed(actor) if introspection is None else introspection
            ),
            request=request,
            response=response,
            idempotency_key=request.headers.get("idempotency-key") if request else None,
        )


def ctx(info: Info) -> Context:
    context = info.context
    assert isinstance(context, Context)  # noqa: S101 - the view always builds a Context
    return context
