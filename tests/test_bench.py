"""Smoke test of the benchmark harness (issue 10): a 200-expert data set, every
operation run once, and the B-raw / B-gql baselines answering byte for byte what the
GraphQL API answers. No timing assertions: timings belong to `python -m bench`."""

import functools

from bench import generate
from bench.baselines import PlainGraphQL, Raw, supported_by_plain
from bench.measure import count_statements
from bench.operations import (
    BENCH_PASSWORD,
    BENCH_USER,
    execute_graphql,
    graphql_ops,
    pick,
    run_a1,
    run_d1,
)
from bench.run import bench_user, correctness
from models import AuditEvent, Expert
from resolvers import account


async def _loaded(experts: int = 200) -> dict:
    ds = generate.build(7, experts)
    counts = await generate.load(ds)
    return {
        "counts": counts,
        "phones": ds.phones[::10],
        "d1_committee_id": ds.d1_committee_id,
        "d1_session_id": ds.d1_session_id,
    }


def test_generator_is_deterministic_from_the_seed() -> None:
    first, second = generate.build(7, 200), generate.build(7, 200)
    # Ciphertexts use fresh nonces by design; everything else repeats exactly.
    plain = lambda rows: [{k: v for k, v in r.items() if not k.endswith("_enc")} for r in rows]  # noqa: E731
    assert {m: plain(r) for m, r in first.rows.items()} == {
        m: plain(r) for m, r in second.rows.items()
    }
    assert first.audit_targets == second.audit_targets
    assert len(first.rows[Expert]) == 200


async def test_bench_operations_match_their_baselines_and_run_once() -> None:
    facts = await _loaded()
    actor = await bench_user()
    picks = await pick(facts)
    ops = graphql_ops(picks)
    bodies: dict[str, bytes] = {}

    checks = await correctness(ops, actor, Raw(), PlainGraphQL(), bodies)

    live = [op.name for op in ops if not op.pending]
    assert sorted(checks) == sorted(live)
    # B-gql wires the expert queries only; other ops (Q6 once it exists) compare
    # against B-raw alone.
    plain = {op.name for op in ops if not op.pending and supported_by_plain(op.query or "")}
    assert {name: c["raw_equal"] for name, c in checks.items()} == dict.fromkeys(live, True)
    assert {name: checks[name]["plain_equal"] for name in plain} == dict.fromkeys(plain, True)
    # Every page returned rows, so the equality above compared real data.
    assert all(b'"edges":[]' not in body for body in bodies.values())
    assert b'"expert":null' not in bodies["Q1"]


async def test_bench_q3_statements_constant_in_page_size() -> None:
    """Issue 10 target: SQL statements per request constant in page size (Q3 <= 3)."""
    facts = await _loaded()
    actor = await bench_user()
    ops = {op.name: op for op in graphql_ops(await pick(facts))}

    counts = {}
    for name in ("Q3", "Q3/1"):
        op = ops[name]
        assert op.query is not None
        counts[name], _ = await count_statements(
            functools.partial(execute_graphql, op.query, op.variables, actor)
        )

    assert counts == {"Q3": 3, "Q3/1": 3}


async def test_bench_d1_a1_l1_run_once() -> None:
    facts = await _loaded()
    await bench_user()

    result = await run_d1(facts["d1_committee_id"], facts["d1_session_id"])
    user = await account.authenticate(BENCH_USER, BENCH_PASSWORD, "127.0.0.1")
    cookie, _ = await account.start_login_session(user, "127.0.0.1")
    verified = await run_a1(facts["counts"]["audit_event"])

    assert len(result.panel) == 9
    assert len(set(result.panel)) == 9
    assert cookie
    assert verified == await AuditEvent.all().count()
