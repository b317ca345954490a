"""Same-run baselines (issue 10):

- B-raw: hand-written SQL and hand-built JSON returning byte-for-byte the response
  the GraphQL API returns for Q1–Q6 (checked before anything is timed). It is the
  floor: what the data costs without an ORM, an executor or loaders.
- B-gql: plain graphql-core executing the committed SDL (schema/schema.graphql) with
  the same resolvers/directory.py functions behind equivalent DataLoaders. Strawberry
  over B-gql is the cost of the Strawberry layer alone.
- B-http: a constant JSON route in a bench-only Starlette app (bench/server.py), the
  ceiling of one uvicorn worker on this machine.

All three see the bureau's scope, which is every row, so the SQL needs no scope filter.
"""

import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLSchema,
    GraphQLSyntaxError,
    build_schema,
    execute,
    parse,
    validate,
)
from graphql.pyutils import is_awaitable
from strawberry.dataloader import DataLoader
from tortoise import connections

from bench.operations import Q1, Q3, Q6, Q_LIST, dumps
from models import Expert
from resolvers import directory
from resolvers.actor import Actor
from resolvers.directory import (
    EXPERT_SORTS,
    ExpertFilter,
    ExpertOrder,
    PageArgs,
    decode_cursor,
)
from resolvers.personal import keyed_hash

SDL_PATH = Path(__file__).resolve().parent.parent / "schema" / "schema.graphql"
_EXPERT_SORT = EXPERT_SORTS[ExpertOrder.NUMBER_ASC]


# --- B-raw ------------------------------------------------------------------------------


def _enum(value: str | None) -> str | None:
    # GraphQL enum member names are the upper-cased values (schema/enums.py).
    return None if value is None else value.upper()


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value[:10]
    return value.isoformat()


def _gid(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def _pk(global_id: str, type_name: str) -> int | None:
    name, _, raw = base64.b64decode(global_id).decode().partition(":")
    return int(raw) if name == type_name else None


def _cursor(number: str, pk: int) -> str:
    raw = json.dumps([_EXPERT_SORT.name, number, pk], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


class Raw:
    """Hand-written SQL over the default connection's driver (one dialect per run)."""

    def __init__(self) -> None:
        self.conn = connections.get("default")
        self.pg = self.conn.capabilities.dialect == "postgres"

    def sql(self, text: str) -> str:
        if not self.pg:
            return text
        parts = text.split("?")
        return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))

    async def rows(self, text: str, values: Sequence[Any] = ()) -> list[Any]:
        _, rows = await self.conn.execute_query(self.sql(text), list(values))
        return list(rows)

    # -- Q1 ---------------------------------------------------------------------------

    async def q1(self, v: dict[str, Any]) -> bytes:
        pk = _pk(v["id"], "Expert")
        rows = await self.rows(
            "SELECT e.id, e.number, e.name, e.status, e.title_level, i.id, i.name, i.status "
            "FROM expert e LEFT JOIN institution i ON i.id = e.institution_id WHERE e.id = ?",
            [pk],
        )
        if not rows:
            return dumps({"data": {"expert": None}})
        r = rows[0]
        inst = None
        if r[5] is not None:
            inst = {"id": _gid("Institution", r[5]), "name": r[6], "status": _enum(r[7])}
        expert = {
            "id": _gid("Expert", r[0]),
            "number": r[1],
            "name": r[2],
            "status": _enum(r[3]),
            "titleLevel": _enum(r[4]),
            "institution": inst,
        }
        return dumps({"data": {"expert": expert}})

    # -- Q2, Q4, Q5: one expert page --------------------------------------------------

    async def expert_page(self, v: dict[str, Any]) -> bytes:
        first: int = v["first"]
        f = v.get("filter") or {}
        where: list[str] = []
        values: list[Any] = []
        if f.get("series"):
            where.append("series = ?")
            values.append(f["series"])
        if f.get("statuses") is not None:
            where.append(f"status IN ({', '.join('?' for _ in f['statuses'])})")
            values.extend(s.lower() for s in f["statuses"])
        if f.get("nameContains"):
            where.append("name LIKE ?")
            values.append(f"%{f['nameContains']}%")
        if f.get("namePrefix"):
            where.append("name LIKE ?")
            values.append(f"{f['namePrefix']}%")
        if f.get("phone"):
            where.append("phone_hash = ?")
            values.append(keyed_hash(f["phone"]))
        if v.get("after"):
            number, pk = decode_cursor(Expert, _EXPERT_SORT, v["after"], "after")
            where.append("number >= ? AND (number > ? OR (number = ? AND id > ?))")
            values.extend([number, number, number, pk])
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = await self.rows(
            "SELECT id, number, name, title_level, specialty, status FROM expert "  # noqa: S608 - fixed fragments
            f"{clause}ORDER BY number, id LIMIT ?",
            [*values, first + 1],
        )
        page = rows[:first]
        edges = [
            {
                "cursor": _cursor(r[1], r[0]),
                "node": {
                    "id": _gid("Expert", r[0]),
                    "number": r[1],
                    "name": r[2],
                    "titleLevel": _enum(r[3]),
                    "specialty": r[4],
                    "status": _enum(r[5]),
                },
            }
            for r in page
        ]
        info = {
            "hasNextPage": len(rows) > first,
            "endCursor": edges[-1]["cursor"] if edges else None,
        }
        return dumps({"data": {"experts": {"edges": edges, "pageInfo": info}}})

    # -- Q3 ---------------------------------------------------------------------------

    async def q3(self, v: dict[str, Any]) -> bytes:
        first: int = v["first"]
        rows = await self.rows(
            "SELECT e.id, e.number, e.name, e.gender, e.birth_date, e.id_number_masked, "
            "e.phone_masked, e.title, e.title_level, e.series, e.specialty, e.status, "
            "u.name, u.unit_type FROM expert e JOIN unit u ON u.id = e.unit_id "
            "ORDER BY e.number, e.id LIMIT ?",
            [first + 1],
        )
        page = rows[:first]
        seats: dict[int, list[dict[str, Any]]] = {r[0]: [] for r in page}
        if page:
            marks = ", ".join("?" for _ in page)
            for s in await self.rows(
                f"SELECT expert_id, seat FROM committee_seat WHERE expert_id IN ({marks}) "  # noqa: S608 - placeholders only
                "ORDER BY committee_id, id",
                [r[0] for r in page],
            ):
                seats[s[0]].append({"seat": _enum(s[1])})
        edges = [
            {
                "node": {
                    "id": _gid("Expert", r[0]),
                    "number": r[1],
                    "name": r[2],
                    "gender": _enum(r[3]),
                    "birthDate": _iso(r[4]),
                    "idNumber": r[5],
                    "phone": r[6],
                    "title": r[7],
                    "titleLevel": _enum(r[8]),
                    "series": r[9],
                    "specialty": r[10],
                    "status": _enum(r[11]),
                    "unit": {"name": r[12], "unitType": _enum(r[13])},
                    "seats": seats[r[0]],
                }
            }
            for r in page
        ]
        info = {
            "hasNextPage": len(rows) > first,
            "endCursor": _cursor(page[-1][1], page[-1][0]) if page else None,
        }
        return dumps({"data": {"experts": {"edges": edges, "pageInfo": info}}})

    # -- Q6 ---------------------------------------------------------------------------

    async def q6(self, v: dict[str, Any]) -> bytes:
        statuses = [s.lower() for s in v["statuses"]]
        rows = await self.rows(
            f"SELECT COUNT(*) FROM complaint WHERE status IN ({', '.join('?' for _ in statuses)})",  # noqa: S608
            statuses,
        )
        return dumps({"data": {"complaints": {"totalCount": int(rows[0][0])}}})

    def for_query(self, query: str) -> Callable[[dict[str, Any]], Awaitable[bytes]]:
        return {Q1: self.q1, Q_LIST: self.expert_page, Q3: self.q3, Q6: self.q6}[query]


# --- B-gql --------------------------------------------------------------------------------


def _expert(m: Expert) -> dict[str, Any]:
    return {
        "id": _gid("Expert", m.pk),
        "number": m.number,
        "name": m.name,
        "gender": _enum(m.gender),
        "birthDate": m.birth_date.isoformat(),
        "idNumber": m.id_number_masked,
        "phone": m.phone_masked,
        "title": m.title,
        "titleLevel": _enum(m.title_level),
        "titleObtainedOn": m.title_obtained_on.isoformat(),
        "series": m.series,
        "specialty": m.specialty,
        "status": _enum(m.status),
        "_unit_id": m.unit_id,  # type: ignore[attr-defined]
        "_institution_id": m.institution_id,  # type: ignore[attr-defined]
        "_pk": m.pk,
    }


class _Loaders:
    def __init__(self, actor: Actor) -> None:
        def loader(fetch: Callable[..., Awaitable[dict[int, Any]]], empty: Any) -> DataLoader:
            async def load(keys: list[int]) -> list[Any]:
                found = await fetch(actor, keys)
                return [found.get(k, empty) for k in keys]

            return DataLoader(load_fn=load)

        self.unit = loader(directory.load_units, None)
        self.institution = loader(directory.load_institutions, None)
        self.seats = loader(directory.load_seats_by_expert, [])


async def _r_expert(_: Any, info: Any, id: str) -> dict[str, Any] | None:
    pk = _pk(id, "Expert")
    found = (await directory.load_experts(info.context["actor"], [pk])) if pk else {}
    m = found.get(pk) if pk else None
    return _expert(m) if m else None


async def _r_experts(
    _: Any,
    info: Any,
    first: int | None = None,
    after: str | None = None,
    filter: dict[str, Any] | None = None,
    **_kw: Any,
) -> dict[str, Any]:
    f = filter or {}
    page = await directory.list_experts(
        info.context["actor"],
        filters=ExpertFilter(
            name_contains=f.get("nameContains"),
            name_prefix=f.get("namePrefix"),
            phone=f.get("phone"),
            series=f.get("series"),
            statuses=[s.lower() for s in f["statuses"]] if f.get("statuses") else None,  # type: ignore[misc]
        ),
        order=ExpertOrder.NUMBER_ASC,
        page=PageArgs(first=first, after=after),
    )
    edges = [
        {"cursor": c, "node": _expert(o)} for o, c in zip(page.items, page.cursors, strict=True)
    ]
    return {
        "edges": edges,
        "nodes": [e["node"] for e in edges],
        "pageInfo": {
            "hasNextPage": page.has_next_page,
            "hasPreviousPage": page.has_previous_page,
            "startCursor": page.cursors[0] if page.cursors else None,
            "endCursor": page.cursors[-1] if page.cursors else None,
        },
    }


async def _r_unit(src: dict[str, Any], info: Any) -> dict[str, Any] | None:
    u = await info.context["loaders"].unit.load(src["_unit_id"])
    return {"name": u.name, "unitType": _enum(u.unit_type)} if u else None


async def _r_institution(src: dict[str, Any], info: Any) -> dict[str, Any] | None:
    if src["_institution_id"] is None:
        return None
    i = await info.context["loaders"].institution.load(src["_institution_id"])
    return (
        {"id": _gid("Institution", i.pk), "name": i.name, "status": _enum(i.status)} if i else None
    )


async def _r_seats(src: dict[str, Any], info: Any) -> list[dict[str, Any]]:
    seats = await info.context["loaders"].seats.load(src["_pk"])
    return [{"seat": _enum(s.seat)} for s in seats]


def _plain_schema() -> GraphQLSchema:
    schema = build_schema(SDL_PATH.read_text(encoding="utf-8"))
    query = schema.query_type
    assert query is not None
    query.fields["expert"].resolve = _r_expert
    query.fields["experts"].resolve = _r_experts
    expert = schema.type_map["Expert"]
    expert.fields["unit"].resolve = _r_unit  # type: ignore[attr-defined]
    expert.fields["institution"].resolve = _r_institution  # type: ignore[attr-defined]
    expert.fields["seats"].resolve = _r_seats  # type: ignore[attr-defined]
    return schema


class PlainGraphQL:
    """B-gql: graphql-core over the committed SDL; documents parsed and validated once
    (what Strawberry's ParserCache and ValidationCache give the production schema)."""

    def __init__(self) -> None:
        self.schema = _plain_schema()
        self.documents: dict[str, DocumentNode] = {}

    def document(self, query: str) -> DocumentNode:
        if query not in self.documents:
            try:
                doc = parse(query)
            except GraphQLSyntaxError as exc:
                raise RuntimeError(str(exc)) from exc
            errors = validate(self.schema, doc)
            if errors:
                raise RuntimeError(f"B-gql validation: {errors}")
            self.documents[query] = doc
        return self.documents[query]

    async def run(self, query: str, variables: dict[str, Any], actor: Actor) -> bytes:
        result = execute(
            self.schema,
            self.document(query),
            variable_values=variables,
            context_value={"actor": actor, "loaders": _Loaders(actor)},
        )
        if is_awaitable(result):
            result = await result  # type: ignore[misc]
        assert isinstance(result, ExecutionResult)
        if result.errors:
            raise RuntimeError(f"B-gql errors: {[e.message for e in result.errors]}")
        return dumps({"data": result.data})


def supported_by_plain(query: str) -> bool:
    return query in (Q1, Q_LIST, Q3)
