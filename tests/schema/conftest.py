"""Helpers for the GraphQL tests: run a query as a given actor, over HTTP or not."""

import contextlib
import itertools
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.types import ExecutionResult

from models import AnnualPlan, Committee, CommitteeSeat, Expert, Institution
from models.enums import FilingStatus, Level, PlanStatus, Role, Seat
from resolvers.actor import ANONYMOUS, Actor, Grant
from resolvers.common import beijing_today
from schema import build_schema, graphql_route
from schema.context import Context
from schema.limits import DEFAULT_LIMITS, Limits

BUREAU = Actor(user_id=1, username="bureau1", grants=(Grant(Role.BUREAU),))


def staff(institution_id: int) -> Actor:
    return Actor(
        user_id=2,
        username="staff1",
        grants=(Grant(Role.INSTITUTION, institution_id=institution_id),),
    )


def employer(unit_id: int) -> Actor:
    """Sees its own experts (EXPERT_VIEW by unit) but not their personal data."""
    return Actor(user_id=3, username="hr1", grants=(Grant(Role.EMPLOYER, unit_id=unit_id),))


async def gql(
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    actor: Actor = ANONYMOUS,
    limits: Limits = DEFAULT_LIMITS,
) -> ExecutionResult:
    """Execute through the real schema (extensions included) as `actor`."""
    return await build_schema(limits).execute(
        query, variable_values=variables, context_value=Context.for_actor(actor)
    )


class AsActor:
    """Stands in for the authentication middleware: sets request.state.actor."""

    def __init__(self, app: ASGIApp, actor: Actor) -> None:
        self.app, self.actor = app, actor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["actor"] = self.actor
        await self.app(scope, receive, send)


def graphql_app(actor: Actor, limits: Limits = DEFAULT_LIMITS) -> ASGIApp:
    return AsActor(Starlette(routes=[graphql_route(limits=limits)]), actor)


@pytest.fixture
def http_as() -> Callable[..., httpx.AsyncClient]:
    """`async with http_as(actor) as c:` — an HTTP client on /graphql acting as actor."""

    def make(actor: Actor, limits: Limits = DEFAULT_LIMITS) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=graphql_app(actor, limits))
        return httpx.AsyncClient(transport=transport, base_url="https://testserver")

    return make


def data(result: ExecutionResult) -> Any:
    assert result.errors is None, [e.formatted for e in result.errors or ()]
    return result.data


def codes(result: ExecutionResult) -> list[str]:
    return [(e.extensions or {}).get("code", "") for e in result.errors or ()]


# --- objects the shared factories do not make yet -----------------------------------

_n = itertools.count(1)


async def committee(institution: Institution, **kw: Any) -> Committee:
    n = next(_n)
    today = beijing_today()
    filed = kw.get("status", FilingStatus.FILED) == FilingStatus.FILED
    return await Committee.create(
        institution=institution,
        name=kw.pop("name", f"工程技术评委会{n}"),
        series=kw.pop("series", "工程技术"),
        specialty=kw.pop("specialty", "电子信息"),
        level=kw.pop("level", Level.SENIOR),
        status=kw.pop("status", FilingStatus.FILED),
        filed_at=kw.pop("filed_at", today if filed else None),
        valid_until=kw.pop("valid_until", today.replace(year=today.year + 3) if filed else None),
        **kw,
    )


async def plan(the_committee: Committee, year: int, **kw: Any) -> AnnualPlan:
    return await AnnualPlan.create(
        committee=the_committee,
        year=year,
        series=the_committee.series,
        specialty=the_committee.specialty,
        level=the_committee.level,
        status=kw.pop("status", PlanStatus.PUBLISHED),
        **kw,
    )


async def seat(the_committee: Committee, expert: Expert, kind: Seat = Seat.MEMBER) -> CommitteeSeat:
    return await CommitteeSeat.create(committee=the_committee, expert=expert, seat=kind)


class SQLCounter(logging.Handler):
    """Counts the SQL statements Tortoise sends (its db_client logger, at DEBUG)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = str(record.msg if not record.args else record.args[0]).lstrip().upper()
        if text.startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.statements.append(text)


@contextlib.contextmanager
def count_sql() -> Iterator[SQLCounter]:
    logger = logging.getLogger("tortoise.db_client")
    counter, level = SQLCounter(), logger.level
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)
