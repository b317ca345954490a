"""Pre-execution limits (issue 4 §5, STACK-NOTES Strawberry): each rejects max+1 and
accepts max before any resolver runs; body size, GET, batching, introspection."""

import dataclasses
import datetime as dt
import json

import httpx
import pytest

import app as app_module
from models.enums import Role
from resolvers import account, throttle
from resolvers.actor import ANONYMOUS, SYSTEM, Actor, Grant
from resolvers.config import Config, configure, get_config
from schema import build_schema
from schema.context import introspection_allowed
from schema.limits import DEFAULT_LIMITS, Limits, limit_rules
from tests import conftest, factories
from tests.conftest import TEST_SECRET
from tests.schema.conftest import BUREAU, codes, count_sql, data, gql
from tests.test_redis import BACKENDS, counters

SMALL = Limits(max_depth=4, max_aliases=3, max_tokens=40, max_cost=150)
AT_SMALL_COST = (
    "{ a: institutions(first: 100) { totalCount } b: institutions(first: 50) { totalCount } }"
)
OVER_SMALL_COST = AT_SMALL_COST.replace("first: 50", "first: 51")


def _aliases(n: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(n)) + " }"


async def test_default_limits_are_the_documented_ones():
    assert (
        DEFAULT_LIMITS.max_depth,
        DEFAULT_LIMITS.max_aliases,
        DEFAULT_LIMITS.max_tokens,
        DEFAULT_LIMITS.max_cost,
        DEFAULT_LIMITS.max_body_bytes,
    ) == (10, 30, 2000, 50_000, 1024 * 1024)


async def test_limit_rule_classes_are_built_once():
    """A new rule class per request would defeat ValidationCache (STACK-NOTES)."""
    assert limit_rules(DEFAULT_LIMITS) is limit_rules(Limits())
    assert build_schema() is build_schema(DEFAULT_LIMITS)


async def test_aliases_max_is_accepted_and_max_plus_one_refused():
    ok = await gql(_aliases(30))
    assert ok.errors is None and len(ok.data) == 30
    refused = await gql(_aliases(31))
    assert (refused.data, codes(refused)) == (None, ["MAX_ALIASES_EXCEEDED"])
    assert "31" in refused.errors[0].message


async def test_aliases_in_fragments_count():
    query = (
        "query { ...F } "
        "fragment F on Query { a: __typename b: __typename c: __typename d: __typename }"
    )
    assert codes(await gql(query, limits=SMALL)) == ["MAX_ALIASES_EXCEEDED"]


def _tokens_query(tokens: int) -> str:
    # { institutions ( filter : { kinds : [ …k… ] } ) { totalCount } } is k + 16 tokens;
    # distinct fields rather than 2,000 equal ones, which validation refuses by itself.
    kinds = " ".join(["ASSOCIATION"] * (tokens - 16))
    return "{ institutions(filter: {kinds: [" + kinds + "]}) { totalCount } }"


async def test_tokens_max_is_accepted_and_max_plus_one_refused():
    ok = await gql(_tokens_query(2000))
    assert ok.errors is None
    refused = await gql(_tokens_query(2001))
    assert (refused.data, codes(refused)) == (None, ["MAX_TOKENS_EXCEEDED"])


DEPTH_4 = "{ committees { edges { node { name } } } }"  # committees > edges > node > name
DEPTH_5 = "{ committees { edges { node { institution { name } } } } }"


async def test_depth_max_is_accepted_and_max_plus_one_refused():
    ok = await gql(DEPTH_4, limits=SMALL)
    assert ok.errors is None
    refused = await gql(DEPTH_5, limits=SMALL)
    assert (refused.data, codes(refused)) == (None, ["MAX_DEPTH_EXCEEDED"])


async def test_depth_through_fragments_counts():
    query = (
        "{ committees { ...E } } "
        "fragment E on CommitteeConnection { edges { node { institution { name } } } }"
    )
    assert codes(await gql(query, limits=SMALL)) == ["MAX_DEPTH_EXCEEDED"]


async def test_production_depth_accepts_the_deepest_real_query():
    query = """{ experts { edges { node { seats { committee { institution { name } } } } } } }"""
    assert (await gql(query, actor=BUREAU)).errors is None


async def test_cost_max_is_accepted_and_max_plus_one_refused():
    ok = await gql(AT_SMALL_COST, limits=SMALL)
    assert ok.errors is None
    refused = await gql(
        OVER_SMALL_COST,
        limits=SMALL,
    )
    assert (refused.data, codes(refused)) == (None, ["MAX_COST_EXCEEDED"])
    assert refused.errors[0].extensions["cost"] == 151


async def test_cost_uses_variables_and_the_default_page_size():
    query = (
        "query($n: Int) { a: institutions(first: $n) { totalCount } "
        "b: institutions { totalCount } }"
    )
    assert (await gql(query, {"n": 100}, limits=Limits(max_cost=120))).errors is None
    assert codes(await gql(query, {"n": 100}, limits=Limits(max_cost=119))) == ["MAX_COST_EXCEEDED"]


async def test_cost_multiplies_nested_lists():
    """nodes(ids:) counts its ids; connections inside it multiply (GitHub style)."""
    query = 'query { nodes(ids: ["a", "b"]) { ... on Institution { name } } }'
    assert (await gql(query, limits=Limits(max_cost=2))).errors is None
    assert codes(await gql(query, limits=Limits(max_cost=1))) == ["MAX_COST_EXCEEDED"]


async def test_refused_query_runs_no_resolver():
    await factories.institution()
    with count_sql() as counter:
        result = await gql(
            OVER_SMALL_COST,
            limits=SMALL,
        )
    assert (codes(result), counter.statements) == (["MAX_COST_EXCEEDED"], [])


# --- HTTP ----------------------------------------------------------------------------


async def test_body_over_one_megabyte_is_refused_before_parsing(client: httpx.AsyncClient):
    """A 1 MB variables payload is refused with 413 (issue 4 "Done when")."""
    body = json.dumps({"query": "{ __typename }", "variables": {"x": "a" * (1024 * 1024)}})
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "data" not in response.json()


async def test_body_over_limit_without_content_length_is_refused(client: httpx.AsyncClient):
    async def chunks():  # a streamed body carries no Content-Length
        yield b'{"query": "{ __typename }", "variables": {"x": "'
        for _ in range(1100):
            yield b"a" * 1024
        yield b'"}}'

    response = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_body_just_under_limit_is_served(client: httpx.AsyncClient):
    filler = "a" * (1024 * 1024 - 200)
    body = json.dumps({"query": "{ __typename }", "variables": {"x": filler}})
    assert len(body) <= 1024 * 1024
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()) == (200, {"data": {"__typename": "Query"}})


async def test_get_is_refused(client: httpx.AsyncClient):
    response = await client.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code == 405


async def test_batched_requests_are_refused(client: httpx.AsyncClient):
    response = await client.post(
        "/graphql", json=[{"query": "{ __typename }"}, {"query": "{ __typename }"}]
    )
    assert response.status_code == 400


async def test_non_json_bodies_are_refused(client: httpx.AsyncClient):
    form = await client.post("/graphql", data={"query": "{ __typename }"})
    multipart = await client.post(
        "/graphql", files={"operations": (None, '{"query": "{ __typename }"}')}
    )
    text = await client.post(
        "/graphql", content='{"query": "{ __typename }"}', headers={"content-type": "text/plain"}
    )
    assert (form.status_code, multipart.status_code, text.status_code) == (400, 400, 400)


INTROSPECT = "{ __schema { queryType { name } } }"


async def test_introspection_refused_to_anonymous_allowed_to_logged_in():
    refused = await gql(INTROSPECT, actor=ANONYMOUS)
    assert set(codes(refused)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert refused.data is None
    allowed = await gql(INTROSPECT, actor=BUREAU)
    assert data(allowed) == {"__schema": {"queryType": {"name": "Query"}}}
    expert = Actor(user_id=9, username="e", grants=(Grant(Role.EXPERT, expert_id=1),))
    assert (await gql(INTROSPECT, actor=expert)).errors is None


async def test_introspection_over_http_follows_the_actor(client: httpx.AsyncClient, http_as):
    anonymous = await client.post("/graphql", json={"query": INTROSPECT})
    async with http_as(BUREAU) as c:
        bureau = await c.post("/graphql", json={"query": INTROSPECT})
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert bureau.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_field_suggestions_only_when_introspection_is_allowed():
    """clairvoyance rebuilds a schema from "Did you mean" (STACK-NOTES)."""
    query = "{ institutionz { id } }"
    anonymous = await gql(query, actor=ANONYMOUS)
    bureau = await gql(query, actor=BUREAU)
    assert anonymous.errors[0].message == "Cannot query field 'institutionz' on type 'Query'."
    assert "Did you mean" in bureau.errors[0].message


async def test_enum_suggestions_hidden_from_anonymous():
    result = await gql("{ institutions(orderBy: NAME) { totalCount } }", actor=ANONYMOUS)
    assert "Did you mean" not in result.errors[0].message
    assert codes(result) == ["GRAPHQL_VALIDATION_FAILED"]


@pytest.mark.parametrize(
    ("mode", "debug", "anonymous", "logged_in"),
    [
        ("authenticated", False, False, True),
        ("authenticated", True, True, True),
        ("always", False, True, True),
        ("never", True, False, False),
    ],
)
async def test_introspection_is_configurable(mode, debug, anonymous, logged_in):
    configure(Config(secret_key=TEST_SECRET, debug=debug, extra={"graphql_introspection": mode}))
    assert (introspection_allowed(ANONYMOUS), introspection_allowed(BUREAU)) == (
        anonymous,
        logged_in,
    )
    result = await gql(INTROSPECT, actor=ANONYMOUS)
    assert (result.errors is None) is anonymous


# --- cost per minute of a partner token (issue 3 §6), on both counter backends ---------


PASSWORD = "Tiangong-Kaiwu-1637!"
EXPENSIVE = "{ institutions(first: 50) { totalCount } }"  # cost 50
CHEAP = "{ institutions(first: 5) { totalCount } }"  # cost 5


_tokens = iter(range(1, 10_000))


async def _partner_token(name: str) -> str:
    bureau = await account.create_user(
        SYSTEM,
        username=f"bureau-{next(_tokens)}",
        display_name="市人社局",
        password=PASSWORD,
        role=Role.BUREAU,
    )
    plaintext, _ = await account.create_api_token(
        Actor(user_id=bureau.id, username=bureau.username, grants=(Grant(Role.BUREAU),)),
        name=name,
        scopes=["public:read"],
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
    )
    return plaintext


@pytest.mark.parametrize("backend", BACKENDS)
async def test_token_over_its_cost_budget_gets_429_with_retry_after(backend: str):
    """Two expensive queries spend most of a 120-per-minute budget, the third is 429
    with Retry-After and runs nothing; cheap ones still fit; another token and
    anonymous callers are unaffected. (Window turns: tests/test_redis.py.)"""
    await factories.institution()
    async with counters(backend, token_cost_per_minute=120) as prefix:
        settings = dataclasses.replace(
            conftest.test_settings(),
            redis_url=get_config().redis_url,
            redis_prefix=prefix,
            token_cost_per_minute=120,
        )
        transport = httpx.ASGITransport(app=app_module.create_app(settings))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:

            async def ask(query: str, token: str | None) -> httpx.Response:
                auth = {"Authorization": f"Bearer {token}"} if token else {}
                return await c.post("/graphql", json={"query": query}, headers=auth)

            for _ in range(3):  # again with new tokens if the minute turned meanwhile
                first, other = await _partner_token("人才网"), await _partner_token("招聘网")
                start = throttle.window_start(dt.datetime.now(dt.UTC), throttle.TOKEN_WINDOW)
                spent = [(await ask(EXPENSIVE, first)).status_code for _ in range(2)]
                with count_sql() as counter:
                    refused = await ask(EXPENSIVE, first)
                cheap = [(await ask(CHEAP, first)).status_code for _ in range(2)]
                unaffected = (await ask(EXPENSIVE, other)).status_code
                anonymous = [(await ask(EXPENSIVE, None)).status_code for _ in range(3)]
                now = dt.datetime.now(dt.UTC)
                if throttle.window_start(now, throttle.TOKEN_WINDOW) == start:
                    break
    assert (spent, refused.status_code, cheap, unaffected) == ([200, 200], 429, [200, 200], 200)
    assert anonymous == [200, 200, 200]
    body = refused.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["cost"] == 50
    assert error["message"].startswith("该令牌本分钟的查询成本额度(120)已用完")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert error["extensions"]["retryAfter"] == int(refused.headers["retry-after"])
    # Nothing ran: only the token lookup and its counters touched the database.
    assert not any("institution" in s.lower() for s in counter.statements)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_query_costing_more_than_the_whole_budget_is_a_cost_error(backend: str):
    """A query that could never fit the budget is not a 'retry later': MAX_COST_EXCEEDED."""
    async with counters(backend, token_cost_per_minute=40):
        token = await _partner_token("人才网")
        result = await gql(EXPENSIVE, actor=await account.resolve_api_token(token))
        again = await gql(CHEAP, actor=await account.resolve_api_token(token))
    assert (codes(result), result.errors[0].extensions["cost"]) == (["MAX_COST_EXCEEDED"], 50)
    assert "每分钟 40" in result.errors[0].message
    assert again.errors is None  # the refused query was not charged


async def test_operations_without_connections_cost_one():
    configure(Config(secret_key=TEST_SECRET, argon2_profile="cheapest", token_cost_per_minute=2))
    partner = await account.resolve_api_token(await _partner_token("人才网"))
    results = [await gql("{ __typename }", actor=partner) for _ in range(3)]
    assert [codes(r) for r in results] == [[], [], ["RATE_LIMITED"]]
