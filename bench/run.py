"""`python -m bench`: generate (or reuse) the data set, check and measure every
operation against its baselines, print the table and write bench/results/<db>-<size>.json.

Order of a run: correctness first (GraphQL == B-raw byte for byte, and B-gql), then
SQL statement counts and PostgreSQL plans, then in-process timing in interleaved
rounds, then the HTTP runs against one uvicorn worker (bench/http.py).
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tortoise import Tortoise

from bench import db, measure
from bench.baselines import PlainGraphQL, Raw, supported_by_plain
from bench.operations import (
    BENCH_PASSWORD,
    BENCH_USER,
    Mutations,
    Op,
    bureau_actor,
    execute_graphql,
    fresh_experts,
    graphql_ops,
    pick,
    run_a1,
    run_d1,
)
from bench.report import exact_failures, render, targets
from models import User
from models.enums import Role
from resolvers import account
from resolvers.actor import SYSTEM, Actor

RESULTS = Path(__file__).resolve().parent / "results"
CLIENT_ADDR = "127.0.0.1"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--size", "--experts", dest="size", type=int, default=20000)
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument(
        "--quick", action="store_true", help="CI smoke run: fewer rounds, short HTTP runs"
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help="CI check: every operation once or twice, HTTP status and bodies checked "
        "without load; exit 1 when an exact target fails (JSON equality with the "
        "baselines, SQL statement counts, PostgreSQL plans)",
    )
    p.add_argument(
        "--reuse",
        action="store_true",
        help="reuse a database generated with the same size and seed",
    )
    p.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    p.add_argument("--no-http", action="store_true", help="in-process measures only")
    p.add_argument(
        "--generate-only", action="store_true", help="build and load the data set, then stop"
    )
    p.add_argument("--out", type=Path, default=None, help="JSON output path")
    args = p.parse_args(argv)
    args.quick = args.quick or args.smoke
    return args


async def bench_user() -> Actor:
    user = await User.get_or_none(username=BENCH_USER)
    if user is None:
        user = await account.create_user(
            SYSTEM,
            username=BENCH_USER,
            display_name="基准测试(市人社局)",
            password=BENCH_PASSWORD,
            role=Role.BUREAU,
        )
    return bureau_actor(user.id)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = ""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - read-only
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parent.parent,
        ).stdout.strip()
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit,
    }


async def correctness(
    ops: list[Op], actor: Actor, raw: Raw, plain: PlainGraphQL, bodies: dict[str, bytes]
) -> dict[str, dict[str, Any]]:
    """GraphQL vs B-raw (must be identical: a difference aborts the run) and vs B-gql."""
    out: dict[str, dict[str, Any]] = {}
    for op in ops:
        if op.pending or op.query is None:
            continue
        got = await execute_graphql(op.query, op.variables, actor)
        expected = await raw.for_query(op.query)(op.variables)
        if got != expected:
            raise SystemExit(
                f"{op.name}: B-raw JSON differs from the GraphQL response\n"
                f"graphql: {got[:600]!r}\nb-raw:   {expected[:600]!r}"
            )
        bodies[op.name] = got
        entry: dict[str, Any] = {
            "bytes": len(got),
            "raw_equal": True,
            "plain_supported": supported_by_plain(op.query),
        }
        try:
            entry["plain_equal"] = await plain.run(op.query, op.variables, actor) == got
        except (RuntimeError, KeyError) as exc:
            entry["plain_equal"] = False
            entry["plain_error"] = str(exc)[:200]
        out[op.name] = entry
    return out


async def in_process(args: argparse.Namespace, facts: dict[str, Any]) -> dict[str, Any]:
    actor = await bench_user()
    picks = await pick(facts)
    ops = graphql_ops(picks)
    raw, plain = Raw(), PlainGraphQL()
    bodies: dict[str, bytes] = {}
    checks = await correctness(ops, actor, raw, plain, bodies)
    live = [op for op in ops if not op.pending]

    def gql(op: Op) -> Any:
        assert op.query is not None
        return lambda: execute_graphql(op.query, op.variables, actor)  # type: ignore[arg-type]

    def b_raw(op: Op) -> Any:
        assert op.query is not None
        fn = raw.for_query(op.query)
        return lambda: fn(op.variables)

    def b_gql(op: Op) -> Any:
        assert op.query is not None
        return lambda: plain.run(op.query, op.variables, actor)  # type: ignore[arg-type]

    d1 = lambda: run_d1(picks.d1_committee_id, picks.d1_session_id)  # noqa: E731
    expected_events = int(facts["counts"]["audit_event"])
    a1 = lambda: run_a1(expected_events)  # noqa: E731

    async def l1() -> None:
        user = await account.authenticate(BENCH_USER, BENCH_PASSWORD, CLIENT_ADDR)
        await account.start_login_session(user, CLIENT_ADDR)

    # Statements (exact) and PostgreSQL plans.
    # PostgreSQL plans twice: as the planner chooses for this data ("plans"), and with
    # sequential scans disabled ("plans_indexed": what is left has no usable index,
    # the exact check, independent of the data set's size).
    statements: dict[str, dict[str, Any]] = {}
    plans: dict[str, list[dict[str, str]]] = {}
    plans_indexed: dict[str, list[dict[str, str]]] = {}
    pg = raw.pg

    async def explain(name: str, sts: list[measure.Statement]) -> None:
        if pg:
            plans[name] = await measure.seq_scans(sts)
            plans_indexed[name] = await measure.seq_scans(sts, forced=True)

    for op in live:
        n, sts = await measure.count_statements(gql(op))
        statements[op.name] = {"graphql": n, "sql": [s.sql for s in sts]}
        statements[op.name]["b_raw"] = (await measure.count_statements(b_raw(op)))[0]
        if checks[op.name].get("plain_equal"):
            statements[op.name]["b_gql"] = (await measure.count_statements(b_gql(op)))[0]
        await explain(op.name, sts)
    # M1/M2 change state: statements of one call, then timed on their own below.
    rounds, warmup = (2, 1) if args.smoke else (10, 3) if args.quick else (60, 3)
    mutations = Mutations(actor, picks.expert_id, await fresh_experts(rounds + warmup + 2))
    mutation_ops = mutations.ops()
    await mutations.m1_replay()  # claims the replay key: later calls replay it
    for op in mutation_ops:
        assert op.run is not None
        n, sts = await measure.count_statements(op.run)
        statements[op.name] = {"graphql": n, "sql": [s.sql for s in sts]}
        await explain(op.name, sts)
    for name, fn in (("D1", d1), ("L1", l1)):
        n, sts = await measure.count_statements(fn)
        statements[name] = {"graphql": n, "sql": [s.sql for s in sts]}
        await explain(name, sts)
    # A1 reads the whole chain by design: only its first statement is explained.
    n, sts = await measure.count_statements(a1)
    statements["A1"] = {"graphql": n, "sql": [s.sql for s in sts[:2]]}
    if pg:
        plans["A1"] = await measure.seq_scans(sts[:1])

    # Timing: interleaved rounds over every variant of every live op.
    timed: dict[str, Any] = {}
    for op in live:
        timed[f"{op.name}"] = gql(op)
        timed[f"{op.name}:b_raw"] = b_raw(op)
        if checks[op.name].get("plain_equal"):
            timed[f"{op.name}:b_gql"] = b_gql(op)
    timings = await measure.interleaved(timed, rounds=rounds, warmup=warmup)
    timings.update(
        await measure.interleaved(
            {op.name: op.run for op in mutation_ops if op.run}, rounds=rounds, warmup=warmup
        )
    )
    few = 1 if args.smoke else 0
    slow = await measure.interleaved({"D1": d1}, rounds=few or (5 if args.quick else 20), warmup=1)
    a1_t = await measure.interleaved({"A1": a1}, rounds=1 if args.quick else 3, warmup=0)
    l1_t = await measure.interleaved({"L1": l1}, rounds=few or (3 if args.quick else 10), warmup=1)
    d1_result = await d1()
    # M1 added complaints (Q6 counts them): the HTTP runs compare against fresh bodies.
    checks = await correctness(ops, actor, raw, plain, bodies)
    profiles = {}
    q3 = next((op for op in live if op.name == "Q3"), None)
    if q3 is not None and not args.smoke:
        profiles["Q3"] = await measure.profile(gql(q3), repeat=5)
    return {
        "actor_user_id": actor.user_id,
        "picks": {
            "expert_id": picks.expert_id,
            "deep_offset": picks.deep_offset,
            "expert_count": picks.expert_count,
        },
        "ops": [
            {"name": op.name, "title": op.title, "pending": op.pending, "variables": op.variables}
            for op in ops + mutation_ops
        ],
        "checks": checks,
        "statements": statements,
        "plans": plans,
        "plans_indexed": plans_indexed,
        "timings": {k: v.as_dict() for k, v in {**timings, **slow, **a1_t, **l1_t}.items()},
        "d1": {
            "eligible": len(d1_result.ranking),
            "panel": list(d1_result.panel),
        },
        "a1_events": expected_events,
        "profiles": profiles,
        "_ops": ops,
        "_h1": (urlencode({"name": picks.name_prefix, "status": "in_pool"}), picks.h1_first_number),
        "_bodies": bodies,
    }


async def main_async(args: argparse.Namespace) -> int:
    t = db.target(args.db, args.size, args.seed)
    started = time.perf_counter()
    facts = await db.prepare(t, args.size, args.seed, reuse=args.reuse)
    how = (
        "reused"
        if facts["reused"]
        else f"generated in {facts['generate_s']} s, loaded in {facts['load_s']} s"
    )
    print(f"data: {args.db}, {args.size:,} experts, seed {args.seed}: {how}", flush=True)
    if args.generate_only:
        await Tortoise.close_connections()
        return 0
    results: dict[str, Any] = {
        "db": args.db,
        "size": args.size,
        "seed": args.seed,
        "quick": args.quick,
        "smoke": args.smoke,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "data": {k: facts[k] for k in ("counts", "generate_s", "load_s", "reused")},
    }
    results["in_process"] = await in_process(args, facts)
    ops: list[Op] = results["in_process"].pop("_ops")
    h1: tuple[str, str] = results["in_process"].pop("_h1")
    bodies: dict[str, bytes] = results["in_process"].pop("_bodies")
    await Tortoise.close_connections()
    mode = "-smoke" if args.smoke else "-quick" if args.quick else ""
    out = args.out or RESULTS / f"{args.db}-{args.size}{mode}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    # The in-process half is kept even if the HTTP runs fail.
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str) + "\n")
    if not args.no_http:
        from bench import http

        results["http"] = await http.run_all(
            t, ops, quick=args.quick, smoke=args.smoke, expected=bodies, h1=h1
        )
    else:
        results["http"] = {"skipped": "--no-http"}
    results["targets"] = targets(results)
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str) + "\n")
    print(render(results))
    print(f"\nJSON: {out}  ({results['elapsed_s']} s)")
    if not args.keep and not args.reuse:
        await db.drop(t)
    failures = exact_failures(results)
    for failure in failures:
        print(f"EXACT TARGET FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
