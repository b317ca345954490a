"""Bad input tables (issue 11 §1): every string, number, boolean, date, enum and ID
argument of every mutation — input object fields included, enumerated from the built
schema — is sent at least 15 bad values, one argument at a time, over a valid baseline
input, as a role that may run the mutation (so the validation is really reached).

Two kinds of bad value:
- refused: over-long text (max+1 of the longest field, 10×, 1 MB), NUL and control
  characters, bidi overrides, lone surrogates (sent as JSON \\ud800 escapes over HTTP),
  blanks where the field is required, wrong types, null where required, numbers past
  32 bits, floats for ints, unknown enums, malformed / unknown / other-type IDs, bad
  ID numbers (check digit, impossible date, 17/19 characters, full-width digits,
  15-digit legacy) and phones. Each must be a payload UserError or a coded GraphQL
  error, never INTERNAL / "Unexpected error"; the database (row counts of every table
  and a checksum of the audit trail) is unchanged after each mutation's whole loop.
- hostile but storable text (SQL and template injection, HTML/script, path
  traversal, zero-width characters, untrimmed text, 0 and −1, the largest int): the
  app may accept it (it is data, shown escaped); it runs in a transaction that is
  rolled back, and must not crash either.

The number of bad inputs tried is printed (`pytest -s`); the README quotes it.
"""

import base64
import copy
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)
from tortoise import Tortoise
from tortoise.transactions import in_transaction

from models import AuditEvent, Complaint
from models.enums import Role
from resolvers.actor import ANONYMOUS, Actor, Grant
from resolvers.personal import id_check_digit
from schema import build_schema
from schema.relay import from_global_id, to_global_id
from tests import factories
from tests.reliability.conftest import record, record_result
from tests.resolvers.test_certificate import _finalised
from tests.resolvers.test_evaluation import _actor, _session, _world
from tests.schema import test_complaint_api as complaint_api
from tests.schema import test_expert_mutations as expert_matrix
from tests.schema import test_institution_mutations as institution_matrix
from tests.schema import test_root_matrix as root_matrix
from tests.schema.conftest import gql, graphql_app

TRIED: dict[str, int] = {}
LONGEST_FIELD = 5000  # the longest max_length of a text field set through GraphQL


# --- baselines: a valid input and a permitted actor per mutation -----------------------

Baseline = tuple[dict[str, Any], Actor]


async def _institution(name: str) -> Baseline:
    setup, expected = institution_matrix.MATRIX[name]
    w = await institution_matrix._world()
    role = next(r for r, outcome in expected.items() if outcome == "ok")
    return await setup(w), w.actors[role]


async def _expert(name: str) -> Baseline:
    setup, expected = expert_matrix.MATRIX[name]
    w = await expert_matrix.world()
    case = await setup(w, await expert_matrix.pooled(w))
    role = next(r for r, outcome in expected.items() if outcome == "ok")
    actors: dict[str, Callable[[], Awaitable[Actor]]] = {
        "bureau": lambda: _same(w.bureau),
        "own": lambda: _same(w.staff),
        "recommender": lambda: _same(w.recommender),
        "self": lambda: expert_matrix.self_of(case.subject_id),
        "employer": lambda: expert_matrix.employer(w.unit),
    }
    return case.input, await actors[role]()


async def _same(actor: Actor) -> Actor:
    return actor


async def _session_mutation(name: str) -> Baseline:
    setup, _, expected = root_matrix.MATRIX[name]
    case = await setup()
    role = next(r for r, outcome in expected.items() if outcome == "ok")
    return case.input, (await root_matrix._roles(case))[role]


async def _commit_draw() -> Baseline:
    w = await _world(5)
    session = await _session(w)
    return {"sessionId": to_global_id("EvaluationSession", session.id)}, w.staff


async def _assign_supervisor() -> Baseline:
    w = await _world(3)
    session = await _session(w)
    second = await _actor(Grant(Role.SUPERVISOR))
    return {
        "sessionId": to_global_id("EvaluationSession", session.id),
        "userId": to_global_id("User", second.user_id or 0),
    }, w.bureau


async def _finalise() -> Baseline:
    w, session, _ = await _finalised(finalise=False)
    return {"sessionId": to_global_id("EvaluationSession", session.id)}, w.staff


async def _submit_complaint() -> Baseline:
    # Real-name, so that the complainant's name and contact are validated too (an
    # anonymous intake discards them unread).
    inst = await factories.institution()
    expert = await factories.expert(institution=inst)
    real_name = {"anonymous": False, "complainantName": "张三", "complainantContact": "13800138000"}
    return complaint_api._input(expert, **real_name), ANONYMOUS


async def _handler(name: str) -> Baseline:
    _, _, submitted = await complaint_api._case()
    complaint_id = await complaint_api._complaint_id(submitted["trackingCode"])
    _, make = complaint_api.HANDLER_MUTATIONS[name]
    return make(complaint_id), await _actor(Grant(Role.BUREAU))


async def _login() -> Baseline:
    return {"username": "bureau", "password": "Lantern-orchid-7-Qx!"}, ANONYMOUS


BASELINES: dict[str, Callable[[], Awaitable[Baseline]]] = {
    **{n: functools.partial(_institution, n) for n in institution_matrix.MATRIX},
    **{n: functools.partial(_expert, n) for n in expert_matrix.MATRIX},
    **{n: functools.partial(_session_mutation, n) for n in root_matrix.MATRIX},
    **{n: functools.partial(_handler, n) for n in complaint_api.HANDLER_MUTATIONS},
    "commitDraw": _commit_draw,
    "assignSupervisor": _assign_supervisor,
    "finaliseSession": _finalise,
    "submitComplaint": _submit_complaint,
    "login": _login,
}
# Mutations whose baseline is refused by a rule of state, not of input: the bad
# values are still sent (and must be refused), but other fields are not all reached.
STATE_REFUSED = {
    "login": "no such account: every login here fails (and is throttled)",
    "answerComplaint": "a fresh complaint is not yet accepted",
    "closeComplaint": "a fresh complaint is not yet answered",
    "recountReviewRequest": "a fresh complaint is not a review request",
}
# Login failures are counted by design (throttle counters, audit "login.failure").
NO_DB_CHECK = {"login"}
# Bugs found by this table in code outside this suite's ownership (reported with a
# reproduction). Their values run in a rolled-back transaction so that the rest of
# the table still runs on an unchanged database; the test fails once a bug is fixed,
# so that its entry is removed here.
KNOWN_BUGS: dict[tuple[str, str], str] = {}
# Inputs whose baseline leaves a field unread: set it so that it is validated.
OVERRIDES: dict[str, dict[str, Any]] = {
    # An approval ignores `reason`; a rejection must validate it.
    "verifyExpertUpdate": {"approve": False, "reason": "与单位记录不符"},
}


# --- the schema's leaves -----------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    path: tuple[str | int, ...]
    type_name: str  # String, ID, Int, Float, Boolean, Date, DateTime or an enum name
    required: bool  # non-null without a default
    is_enum: bool


def _leaves(fields: dict[str, Any], prefix: tuple[str | int, ...]) -> Iterator[Leaf]:
    for name, field in fields.items():
        gtype, required = field.type, False
        if isinstance(gtype, GraphQLNonNull):
            gtype, required = (
                gtype.of_type,
                field.default_value is None or (str(field.default_value) == "Undefined"),
            )
        path: tuple[str | int, ...] = (*prefix, name)
        if isinstance(gtype, GraphQLList):
            gtype = gtype.of_type
            if isinstance(gtype, GraphQLNonNull):
                gtype = gtype.of_type
            path = (*path, 0)
        if isinstance(gtype, GraphQLInputObjectType):
            yield from _leaves(gtype.fields, path)
        elif isinstance(gtype, GraphQLEnumType | GraphQLScalarType):
            yield Leaf(path, gtype.name, required, isinstance(gtype, GraphQLEnumType))


def mutation_leaves(name: str) -> tuple[str, list[Leaf]]:
    """The input type of mutation `name` and every leaf argument under it."""
    field = build_schema()._schema.mutation_type.fields[name]  # type: ignore[union-attr]
    arg = field.args["input"]
    itype = arg.type.of_type if isinstance(arg.type, GraphQLNonNull) else arg.type
    return str(arg.type), list(_leaves(itype.fields, ()))


def _all_mutations() -> list[str]:
    return sorted(build_schema()._schema.mutation_type.fields)  # type: ignore[union-attr]


# --- bad values --------------------------------------------------------------------------

MB = "x" * 1_048_576
LONE_SURROGATE = "\ud800"  # only sendable as a JSON escape: goes over HTTP


def _id_number(birth: str, seq: str = "123") -> str:
    first17 = f"110101{birth}{seq}"
    return first17 + id_check_digit(first17)


VALID_ID = _id_number("19850304")
_X_ID = next(n for s in range(100, 999) if (n := _id_number("19850304", str(s))).endswith("X"))
BAD_ID_NUMBERS = [
    VALID_ID[:-1] + ("0" if VALID_ID[-1] != "0" else "1"),  # wrong check digit
    _id_number("19850230"),  # 30 February
    _id_number("20991231"),  # born in the future
    VALID_ID[:17],
    VALID_ID + "1",
    VALID_ID.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    "110101850304123",  # the 15-digit legacy form
]
BAD_PHONES = ["1380013800", "138001380000", "23800138000", "1380013800a", "１３８００１３８０００"]

STRING_REFUSED: list[Any] = [
    "x" * (LONGEST_FIELD + 1),
    "x" * (LONGEST_FIELD * 10),
    MB,
    "a\x00b",
    "a\x01b",
    "a\x1bb",
    "\u202eabc",
    "a\u202db",
    LONE_SURROGATE,
    "x" + LONE_SURROGATE + "y",
    12345,
    ["a"],
    {"a": 1},
]
STRING_REQUIRED_REFUSED: list[Any] = ["", "   ", "\t\n", None]
STRING_STORABLE: list[Any] = [
    "'; DROP TABLE expert; --",
    "1' OR '1'='1",
    "{{7*7}}${7*7}<%= 7*7 %>",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "../../../../etc/passwd",
    "\u200b",
    "a\u200bb\u200d",
    "  前后有空格  ",
]
STRING_OPTIONAL_STORABLE: list[Any] = ["", "   ", None]
INT_REFUSED: list[Any] = [2**31, 2**63, -(2**31) - 1, 1.5, "12", [1], {"n": 1}, True]
INT_STORABLE: list[Any] = [0, -1, 2**31 - 1]
BOOL_REFUSED: list[Any] = ["true", 1, [True]]
ENUM_REFUSED: list[Any] = ["NOPE", "", "for", 1, ["A"], "__typename"]
DATE_REFUSED: list[Any] = ["2026-02-30", "yesterday", "2026-13-01", 20260101, ["2026-01-01"]]
DATE_STORABLE: list[Any] = ["0001-01-01", "9999-12-31"]
DATETIME_REFUSED: list[Any] = ["2026-02-30T09:00:00+08:00", "not a time", 1, "25:00"]
DATETIME_STORABLE: list[Any] = ["2026-01-01T09:00:00", "9999-12-31T23:59:59+00:00"]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _id_values(baseline: Any) -> list[Any]:
    parsed = from_global_id(baseline) if isinstance(baseline, str) else None
    type_name = parsed[0] if parsed else "Expert"
    return [
        "",
        "   ",
        "!!!",
        "1",
        "null",
        "not base64 ~~~",
        "' OR 1=1 --",
        "a\x00b",
        _b64(f"{type_name}:"),
        _b64(f"{type_name}:abc"),
        _b64(f"{type_name}:1:2"),
        _b64(":1"),
        to_global_id(type_name, 999_999_999),  # unknown
        to_global_id("AuditEvent", 1),  # another type's ID
        to_global_id(type_name, -1),
        to_global_id(type_name, 2**63),
        MB,
        LONE_SURROGATE,
        ["x"],
        {"id": 1},
    ]


def bad_values(leaf: Leaf, baseline: Any) -> tuple[list[Any], list[Any]]:
    """(values that must be refused, hostile values that may be stored)."""
    name = str(leaf.path[-1] if isinstance(leaf.path[-1], str) else leaf.path[-2]).lower()
    refused: list[Any]
    storable: list[Any] = []
    if leaf.is_enum:
        refused = list(ENUM_REFUSED)
    elif leaf.type_name == "ID":
        refused = _id_values(baseline)
    elif leaf.type_name in ("Int", "Float"):
        refused = list(INT_REFUSED) if leaf.type_name == "Int" else ["1.5", [1.5], True]
        storable = list(INT_STORABLE)
    elif leaf.type_name == "Boolean":
        refused = list(BOOL_REFUSED)
    elif leaf.type_name == "Date":
        refused, storable = list(DATE_REFUSED), list(DATE_STORABLE)
    elif leaf.type_name == "DateTime":
        refused, storable = list(DATETIME_REFUSED), list(DATETIME_STORABLE)
    else:
        refused, storable = list(STRING_REFUSED), list(STRING_STORABLE)
        if leaf.required:
            refused += STRING_REQUIRED_REFUSED
        else:
            storable += STRING_OPTIONAL_STORABLE
        if "idnumber" in name:
            refused += BAD_ID_NUMBERS
            storable.append(_X_ID.lower())
        if "phone" in name or "mobile" in name:
            refused += BAD_PHONES
    if leaf.required and None not in refused:
        refused.append(None)
    return refused, storable


def _set(tree: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    tree = copy.deepcopy(tree)
    node: Any = tree
    for i, key in enumerate(path[:-1]):
        nxt = path[i + 1]
        if isinstance(key, int):
            while len(node) <= key:
                node.append({} if isinstance(nxt, str) else [])
            node = node[key]
        else:
            if key not in node or node[key] is None or node[key] == []:
                node[key] = [] if isinstance(nxt, int) else {}
            node = node[key]
    last = path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value
    return tree


def _get(tree: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        try:
            tree = tree[key]
        except (KeyError, IndexError, TypeError):
            return None
    return tree


# --- running and judging -----------------------------------------------------------------


def _document(name: str, input_type: str) -> str:
    return (
        f"mutation($input: {input_type}) {{ {name}(input: $input) "
        f"{{ __typename errors {{ field code message }} }} }}"
    )


@dataclass
class Answer:
    status: int
    codes: list[str]
    messages: list[str]
    payload_errors: list[dict[str, Any]] | None


def _contains_surrogate(value: Any) -> bool:
    return LONE_SURROGATE in json.dumps(value, ensure_ascii=False) if value else False


async def _call(name: str, document: str, input: dict[str, Any], actor: Actor) -> Answer:
    if _has_lone_surrogate(input):
        # JSON can carry "\ud800"; only the HTTP path meets it as the client sends it.
        body = json.dumps({"query": document, "variables": {"input": input}})
        transport = httpx.ASGITransport(app=graphql_app(actor))
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            response = await c.post(
                "/graphql", content=body, headers={"Content-Type": "application/json"}
            )
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        errors = answer.get("errors") or []
        payload = (answer.get("data") or {}).get(name)
        return Answer(
            response.status_code,
            [(e.get("extensions") or {}).get("code", "") for e in errors],
            [e.get("message", "") for e in errors],
            payload["errors"] if payload else None,
        )
    result = await gql(document, {"input": input}, actor=actor)
    record_result(result)
    payload = (result.data or {}).get(name)
    if payload and payload["errors"]:
        record(json.dumps(payload, ensure_ascii=False))
    return Answer(
        200,
        [(e.extensions or {}).get("code", "") for e in result.errors or ()],
        [e.message for e in result.errors or ()],
        payload["errors"] if payload else None,
    )


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _crashed(answer: Answer) -> bool:
    return (
        answer.status >= 500
        or "INTERNAL" in answer.codes
        or "INTERNAL_SERVER_ERROR" in answer.codes
        or any("Unexpected error" in m for m in answer.messages)
    )


def _refused(answer: Answer) -> bool:
    """A coded top-level error (validation included) or a payload UserError."""
    if answer.codes:
        return all(answer.codes) or answer.status == 400
    return bool(answer.payload_errors)


class _Rollback(Exception):
    pass


async def _rolled_back(run: Callable[[], Awaitable[Answer]]) -> Answer:
    answer: Answer | None = None
    try:
        async with in_transaction():
            answer = await run()
            raise _Rollback
    except _Rollback:
        pass
    assert answer is not None
    return answer


BOOKKEEPING = frozenset({"RateCounter"})


async def _database() -> tuple[dict[str, int], str]:
    """Row counts of every table and a checksum of the whole audit trail."""
    counts = {
        n: await m.all().count()
        for n, m in sorted(Tortoise.apps["models"].items())
        if n not in BOOKKEEPING
    }
    rows = await AuditEvent.all().order_by("seq").values_list("seq", "action", "target_id")
    return counts, hashlib.sha256(repr(rows).encode()).hexdigest()


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 60 else f"{text[:40]}…({len(text)} chars)"


@pytest.fixture(scope="module", autouse=True)
def report_count() -> Iterator[None]:
    yield
    print(f"\nbad inputs tried: {sum(TRIED.values())} over {len(TRIED)} mutations")


def test_every_mutation_with_arguments_has_a_baseline():
    with_args = [n for n in _all_mutations() if mutation_leaves_or_none(n)]
    assert sorted(BASELINES) == with_args


def mutation_leaves_or_none(name: str) -> list[Leaf] | None:
    field = build_schema()._schema.mutation_type.fields[name]  # type: ignore[union-attr]
    return mutation_leaves(name)[1] if "input" in field.args else None


@pytest.mark.parametrize("name", sorted(BASELINES))
async def test_bad_input_is_refused_and_changes_nothing(name: str):
    input_type, leaves = mutation_leaves(name)
    document = _document(name, input_type)
    baseline, actor = await BASELINES[name]()
    baseline = {**baseline, **OVERRIDES.get(name, {})}

    valid = await _rolled_back(lambda: _call(name, document, baseline, actor))
    if name not in STATE_REFUSED:
        assert (valid.codes, valid.payload_errors) == ([], []), "the baseline must be valid"
    before = await _database()

    problems: list[str] = []
    known: set[str] = set()
    few: list[str] = []
    for leaf in leaves:
        field = ".".join(map(str, leaf.path))
        is_known = (name, str(leaf.path[-1])) in KNOWN_BUGS
        refused, storable = bad_values(leaf, _get(baseline, leaf.path))
        for value, must_refuse in [(v, True) for v in refused] + [(v, False) for v in storable]:
            bad = _set(baseline, leaf.path, value)
            if must_refuse and not is_known:
                answer = await _call(name, document, bad, actor)
            else:
                answer = await _rolled_back(functools.partial(_call, name, document, bad, actor))
            if _crashed(answer) or (must_refuse and not _refused(answer)):
                if is_known:
                    known.add(str(leaf.path[-1]))
                else:
                    problems.append(f"{field}={_show(value)}: {answer}")
        tried = len(refused) + len(storable)
        TRIED[name] = TRIED.get(name, 0) + tried
        if leaf.type_name in ("String", "ID") and tried < 15:
            few.append(field)

    print(f"{name}: {TRIED.get(name, 0)} bad inputs over {len(leaves)} arguments")
    assert problems == []
    assert few == []  # at least 15 bad values for every text and ID argument
    assert known == {f for (m, f) in KNOWN_BUGS if m == name}, "fixed? drop it from KNOWN_BUGS"
    if name not in NO_DB_CHECK:
        assert await _database() == before


async def test_the_complaint_intake_rolls_back_when_told_to():
    """The harness itself: a storable value accepted inside _rolled_back leaves no row."""
    baseline, actor = await _submit_complaint()
    input_type, _ = mutation_leaves("submitComplaint")
    document = _document("submitComplaint", input_type)

    answer = await _rolled_back(lambda: _call("submitComplaint", document, baseline, actor))

    assert answer.payload_errors == []
    assert await Complaint.all().count() == 0
    assert dt.date.today().year >= 2026
