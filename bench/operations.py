"""The fixed operations of issue 10 and how each one is run in-process.

GraphQL operations (Q1–Q6) run through the production schema (schema.build_schema())
with a bureau actor, exactly as the view would run them, and are serialised the way
the view serialises (compact UTF-8 JSON). The variables are picked from the loaded
data deterministically, so every run of one data set sends the same requests.

An operation the application cannot serve yet is `pending` with the reason; it is
listed in the report and never measured with a stand-in.
"""

import base64
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLInputObjectType, GraphQLObjectType
from tortoise import connections
from tortoise.expressions import Subquery

from models import CommitteeSeat, ConflictDeclaration, Expert, ExpertUpdate
from models.enums import ExpertStatus, Role, UpdateStatus
from resolvers import draw
from resolvers.actor import Actor, Grant
from resolvers.audit import verify_chain
from resolvers.directory import EXPERT_SORTS, ExpertOrder, encode_cursor
from schema import build_schema
from schema.context import Context

BENCH_USER = "bench-bureau"
BENCH_PASSWORD = "Bench-Harness-Login-2026!"


def bureau_actor(user_id: int) -> Actor:
    """The bureau user the bench logs in as (sees every expert and complaint)."""
    return Actor(user_id=user_id, username=BENCH_USER, grants=(Grant(Role.BUREAU),))


EXPERT_LIST_FIELDS = "id number name titleLevel specialty status"

Q1 = """query Q1($id: ID!) {
  expert(id: $id) { id number name status titleLevel institution { id name status } }
}"""

Q_LIST = (
    "query QL($first: Int!, $after: String, $filter: ExpertFilter) {\n"
    "  experts(first: $first, after: $after, filter: $filter) {\n"
    f"    edges {{ cursor node {{ {EXPERT_LIST_FIELDS} }} }}\n"
    "    pageInfo { hasNextPage endCursor }\n"
    "  }\n"
    "}"
)

Q3 = """query Q3($first: Int!) {
  experts(first: $first) {
    edges { node {
      id number name gender birthDate idNumber phone title titleLevel series specialty status
      unit { name unitType }
      seats { seat }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""

Q6 = """query Q6($statuses: [ComplaintStatus!], $first: Int!) {
  complaints(filter: {statuses: $statuses}, first: $first) { totalCount }
}"""


def global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def dumps(value: Any) -> bytes:
    """The view's encoding (schema/view.py GraphQLView.encode_json)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class Op:
    """One named operation: GraphQL text and variables, or a callable; or pending."""

    name: str
    title: str
    target: str = ""
    query: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    run: Callable[[], Awaitable[Any]] | None = None
    pending: str = ""
    # HTTP: path and body for the uvicorn runs (None: in-process only).
    http: tuple[str, str, bytes, str] | None = None  # (method, path, body, content type)


def _schema_has(type_name: str, field_name: str) -> bool:
    gql = build_schema()._schema
    t = gql.type_map.get(type_name)
    if isinstance(t, GraphQLObjectType | GraphQLInputObjectType):
        return field_name in t.fields
    return False


def name_filter() -> str:
    """Q5a searches by prefix once the schema offers it (an index serves `LIKE 'p%'`),
    by substring until then (no index can serve `LIKE '%p%'`: the plan check says so)."""
    return "namePrefix" if _schema_has("ExpertFilter", "namePrefix") else "nameContains"


def _mutation(name: str) -> bool:
    gql = build_schema()._schema
    return gql.mutation_type is not None and name in gql.mutation_type.fields


async def execute_graphql(query: str, variables: dict[str, Any], actor: Actor) -> bytes:
    """Run one operation on the production schema and encode it as the view does."""
    result = await build_schema().execute(
        query, variable_values=variables, context_value=Context.for_actor(actor)
    )
    if result.errors:
        raise RuntimeError(f"GraphQL errors: {[e.message for e in result.errors]}")
    return dumps({"data": result.data})


@dataclass(frozen=True)
class Picks:
    """Variables picked from the loaded data."""

    expert_id: int
    deep_cursor: str
    deep_offset: int
    series: str
    name_prefix: str
    phone: str
    d1_committee_id: int
    d1_session_id: int
    expert_count: int
    # H1: the first row the expert list page must show for `name=<name_prefix>&status=in_pool`.
    h1_first_number: str


async def pick(facts: dict[str, Any]) -> Picks:
    count = await Expert.all().count()
    middle = (
        await Expert.filter(status=ExpertStatus.IN_POOL, institution_id__isnull=False)
        .order_by("number")
        .offset(count // 2)
        .first()
    )
    assert middle is not None
    # "A page past row 190,000" at 200k: the same relative depth at any size.
    deep_offset = int(count * 0.95)
    deep = await Expert.all().order_by("number", "id").offset(deep_offset - 1).first()
    assert deep is not None
    h1_first = (
        await Expert.filter(name__startswith=middle.name[:2], status=ExpertStatus.IN_POOL)
        .order_by("number", "id")
        .first()
    )
    assert h1_first is not None
    return Picks(
        expert_id=middle.pk,
        deep_cursor=encode_cursor(EXPERT_SORTS[ExpertOrder.NUMBER_ASC], deep),
        deep_offset=deep_offset,
        series=middle.series,
        # A typed prefix: surname and first given character of a real expert.
        name_prefix=middle.name[:2],
        phone=facts["phones"][len(facts["phones"]) // 2],
        d1_committee_id=int(facts["d1_committee_id"]),
        d1_session_id=int(facts["d1_session_id"]),
        expert_count=count,
        h1_first_number=h1_first.number,
    )


def _graphql_http(query: str, variables: dict[str, Any]) -> tuple[str, str, bytes, str]:
    body = dumps({"query": query, "variables": variables})
    return ("POST", "/graphql", body, "application/json")


def graphql_ops(p: Picks) -> list[Op]:
    """Q1–Q6 as GraphQL operations (pending where the schema lacks the field)."""
    ops = [
        Op(
            "Q1",
            "expert(id) with institution",
            query=Q1,
            variables={"id": global_id("Expert", p.expert_id)},
        ),
        Op(
            "Q2",
            "experts(first: 20, filter: series + status), indexed",
            query=Q_LIST,
            variables={"first": 20, "filter": {"series": p.series, "statuses": ["IN_POOL"]}},
        ),
        Op("Q3", "experts(first: 100), 12 fields, unit, seats", query=Q3, variables={"first": 100}),
        Op("Q3/1", "Q3 with first: 1 (statement constancy)", query=Q3, variables={"first": 1}),
        Op("Q4/p1", "experts(first: 20), page 1", query=Q_LIST, variables={"first": 20}),
        Op(
            "Q4",
            f"experts(first: 20) after row {p.deep_offset:,} (keyset cursor)",
            query=Q_LIST,
            variables={"first": 20, "after": p.deep_cursor},
        ),
        Op(
            "Q5a",
            f"experts(filter: {name_filter()} {p.name_prefix!r}): name prefix search",
            query=Q_LIST,
            variables={"first": 20, "filter": {name_filter(): p.name_prefix}},
        ),
    ]
    if _schema_has("ExpertFilter", "phone"):
        ops.append(
            Op(
                "Q5b",
                "experts(filter: phone) exact, keyed hash",
                query=Q_LIST,
                variables={"first": 20, "filter": {"phone": p.phone}},
            )
        )
    else:
        ops.append(
            Op(
                "Q5b",
                "experts by exact phone (keyed hash)",
                pending="ExpertFilter has no phone field (schema/expert.py); "
                "the phone_hash index exists in models/expert.py",
            )
        )
    if _schema_has("Query", "complaints") and _schema_has("ComplaintFilter", "statuses"):
        ops.append(
            Op(
                "Q6",
                "complaints(status, first: 50) { totalCount }",
                query=Q6,
                variables={"statuses": ["RECEIVED"], "first": 50},
            )
        )
    else:
        ops.append(
            Op(
                "Q6",
                "complaints(status, first: 50) { totalCount }",
                pending="no complaints query with filter.statuses in the schema yet (issue 8)",
            )
        )
    for op in ops:
        if op.query is not None:
            op.http = _graphql_http(op.query, op.variables)
    return ops


# --- non-GraphQL operations -----------------------------------------------------------------


async def run_d1(committee_id: int, session_id: int) -> draw.DrawResult:
    """D1: freeze the roster (pooled seats minus declared conflicts), commit, draw.

    resolvers/evaluation.py (the DB workflow) needs trained, signed, termed experts
    per session; until the bench data carries those, D1 measures the same two reads
    and the drawcore commit + execute that the workflow performs.
    """
    seats = await CommitteeSeat.filter(
        committee_id=committee_id, expert__status=ExpertStatus.IN_POOL
    ).values_list("seat", "expert__number", "expert__unit__credit_code")
    conflicts = await ConflictDeclaration.filter(
        session_id=session_id, expert_id__isnull=False
    ).values_list("expert__number", "kind")
    excluded = {(str(number), str(kind)) for number, kind in conflicts}
    excluded_numbers = {n for n, _ in excluded}
    inputs = draw.build_inputs(
        session_id=session_id,
        committee_id=committee_id,
        k=9,
        backup_count=3,
        self_evaluation=False,
        host_unit_credit_code=None,
        eligible=[
            draw.Candidate(number=str(n), seat=seat, unit_credit_code=str(code))
            for seat, n, code in seats
            if n not in excluded_numbers
        ],
        exclusions=[
            draw.Excluded(number=n, reason=draw.ExclusionReason.CONFLICT_WITH_APPLICANT, detail=k)
            for n, k in sorted(excluded)
        ],
    )
    secret, _, _ = draw.commit(inputs)
    return draw.execute(inputs, secret, "3141592653")


async def run_a1(expected: int) -> int:
    report = await verify_chain()
    if not report.ok or report.count < expected:
        raise RuntimeError(f"audit chain: {report}")
    return report.count


async def sql_dialect() -> str:
    return str(connections.get("default").capabilities.dialect)


M1 = """mutation M1($input: SubmitComplaintInput!) {
  submitComplaint(input: $input) { trackingCode status dueOn errors { code field message } }
}"""

M2 = """mutation M2($input: RequestExpertUpdateInput!) {
  requestExpertUpdate(input: $input) { update { id status } errors { code field message } }
}"""


async def execute_mutation(
    query: str, variables: dict[str, Any], actor: Actor, *, key: str | None = None
) -> bytes:
    """A mutation on the production schema with the Idempotency-Key the view would read
    from the header; a UserError in the payload is a failure, like a GraphQL error."""
    context = Context.for_actor(actor)
    context.idempotency_key = key
    result = await build_schema().execute(query, variable_values=variables, context_value=context)
    if result.errors:
        raise RuntimeError(f"GraphQL errors: {[e.message for e in result.errors]}")
    assert result.data is not None
    (payload,) = result.data.values()
    if payload["errors"]:
        raise RuntimeError(f"{query.split()[1]} user errors: {payload['errors']}")
    return dumps({"data": result.data})


class Mutations:
    """M1 and M2 as callables: every call is a new request with its own state.

    M1 submits an anonymous complaint about an expert under a fresh Idempotency-Key
    each call (claim + complaint + argon2 hash of the query password + audit append);
    `M1/replay` repeats one key already used, which must answer from the stored claim.
    M2: no expert mutation takes a `version` (schema/schema.graphql: every `version`
    argument is on institution/committee/plan/complaint inputs), so M2 measures
    `requestExpertUpdate`, the expert's own change request (R8) guarded instead by
    "one pending update at a time"; each call is a different in-pool expert without a
    pending update, acting as that expert.
    """

    def __init__(self, actor: Actor, expert_id: int, fresh_experts: list[int]) -> None:
        self.actor = actor
        self.m1_input = {
            "kind": "REPORT",
            "targetType": "EXPERT",
            "targetId": expert_id,
            "facts": "评审会议期间专家私下接触申报人(基准测试数据)。",
            "anonymous": True,
        }
        self.replay_key = f"bench-replay-{uuid.uuid4().hex}"
        self.fresh = list(fresh_experts)
        self.calls = 0

    async def m1(self) -> bytes:
        key = f"bench-{uuid.uuid4().hex}"
        return await execute_mutation(M1, {"input": self.m1_input}, self.actor, key=key)

    async def m1_replay(self) -> bytes:
        variables = {"input": self.m1_input}
        return await execute_mutation(M1, variables, self.actor, key=self.replay_key)

    async def m2(self) -> bytes:
        if not self.fresh:
            raise RuntimeError("M2: no in-pool expert without a pending update left")
        expert_id = self.fresh.pop()
        self.calls += 1
        actor = Actor(
            user_id=self.actor.user_id,
            username=self.actor.username,
            grants=(Grant(Role.EXPERT, expert_id=expert_id),),
        )
        variables = {
            "input": {
                "expertId": global_id("Expert", expert_id),
                "email": f"bench{self.calls}.{uuid.uuid4().hex[:8]}@example.cn",
            }
        }
        return await execute_mutation(M2, variables, actor)

    def ops(self) -> list[Op]:
        return [
            Op("M1", "submitComplaint, fresh Idempotency-Key + audit append", run=self.m1),
            Op("M1/r", "submitComplaint replay of a used Idempotency-Key", run=self.m1_replay),
            Op(
                "M2",
                "requestExpertUpdate (no expert mutation takes a version) + audit",
                run=self.m2,
            ),
        ]


async def fresh_experts(limit: int) -> list[int]:
    """In-pool experts without a pending update (earlier runs on this data used some)."""
    busy = ExpertUpdate.filter(status=UpdateStatus.PENDING).values_list("expert_id", flat=True)
    ids = await (
        Expert.filter(status=ExpertStatus.IN_POOL)
        .exclude(id__in=Subquery(busy))
        .order_by("-number")
        .limit(limit)
        .values_list("id", flat=True)
    )
    return [int(i) for i in ids]  # type: ignore[call-overload]
