"""The report: one row per operation with absolute figures and ratios to the
same-run baselines, then the issue's targets marked met / NOT MET / pending.

`targets(results)` evaluates the targets from the result dict (also stored in the
JSON); `render(results)` is the text table printed at the end of a run.
"""

import math
from typing import Any

A1_TARGET_EVENTS = 200_000
A1_TARGET_S = 30.0
D1_TARGET_MS = 200.0


def _f(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return None
    return a / b


def _median(results: dict[str, Any], key: str) -> float | None:
    t = results["in_process"]["timings"].get(key)
    return None if t is None else float(t["median_ms"])


def _target(
    name: str, measured: float | None, limit: float, unit: str, note: str = "", lower: bool = True
) -> dict[str, Any]:
    if measured is None:
        status = "pending"
    else:
        status = "met" if (measured <= limit if lower else measured >= limit) else "NOT MET"
    return {
        "target": name,
        "measured": measured,
        "limit": limit,
        "unit": unit,
        "status": status,
        "note": note,
    }


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    ip = results["in_process"]
    st = ip["statements"]
    http = results.get("http", {})
    out: list[dict[str, Any]] = []

    q3, q3_1 = st.get("Q3", {}).get("graphql"), st.get("Q3/1", {}).get("graphql")
    out.append(
        _target(
            STATEMENTS_TARGET,
            float(q3) if q3 is not None and q3 == q3_1 else (None if q3 is None else 99.0),
            3,
            "statements",
            f"Q3 first:100 = {q3}, first:1 = {q3_1}",
        )
    )
    out.append(
        _target(
            "Executor overhead vs B-gql <= 1.10x on Q3",
            _ratio(_median(results, "Q3"), _median(results, "Q3:b_gql")),
            1.10,
            "x",
            "in-process medians, Strawberry / graphql-core",
        )
    )
    out.append(
        _target(
            "Q3 <= 5x B-raw",
            _ratio(_median(results, "Q3"), _median(results, "Q3:b_raw")),
            5.0,
            "x",
            "in-process medians",
        )
    )
    out.append(
        _target(
            "Q4 (deep page) <= 1.5x page 1",
            _ratio(_median(results, "Q4"), _median(results, "Q4/p1")),
            1.5,
            "x",
            f"after row {ip['picks']['deep_offset']:,} of {ip['picks']['expert_count']:,}",
        )
    )
    runs = http.get("ops", {}) if isinstance(http, dict) else {}
    worst_tail = None
    worst_op = ""
    worst_max75 = None
    for name, r in runs.items():
        half = r.get("at_50")
        if half and half.get("p50_ms"):
            ratio = half["p99_ms"] / half["p50_ms"]
            if worst_tail is None or ratio > worst_tail:
                worst_tail, worst_op = ratio, name
        q = r.get("at_75")
        if q and q.get("max_ms") is not None:
            worst_max75 = max(worst_max75 or 0.0, q["max_ms"])
    out.append(
        _target("p99 <= 3x p50 at 50% of saturation", worst_tail, 3.0, "x", f"worst op: {worst_op}")
    )
    out.append(
        _target(
            "no request over 1 s at 75% of saturation",
            worst_max75,
            1000.0,
            "ms",
            "max over all ops",
        )
    )
    rss = http.get("rss", {}) if isinstance(http, dict) else {}
    out.append(
        _target(
            "RSS after 10k requests <= 1.2x after warm-up",
            _ratio(rss.get("after_10k_kb"), rss.get("after_warmup_kb")),
            1.2,
            "x",
            f"{rss.get('after_warmup_kb', '-')} kB -> {rss.get('after_10k_kb', '-')} kB "
            f"over {rss.get('requests', '-')} requests",
        )
    )
    burst = http.get("login_burst", {}) if isinstance(http, dict) else {}
    out.append(
        _target(
            "Q1 p99 during a login burst <= 2x without",
            _ratio(burst.get("with_p99_ms"), burst.get("without_p99_ms")),
            2.0,
            "x",
            f"Q1 at {burst.get('rate', '-')} req/s; "
            f"{burst.get('logins', '-')} logins during the burst",
        )
    )
    d1 = _median(results, "D1")
    size = results["size"]
    out.append(
        _target(
            "D1 < 200 ms at 200k experts",
            d1 if size >= A1_TARGET_EVENTS else None,
            D1_TARGET_MS,
            "ms",
            f"measured {_f(d1)} ms at {size:,} experts (roster {ip['d1']['eligible']:,} eligible); "
            + ("" if size >= A1_TARGET_EVENTS else "the target applies at 200k"),
        )
    )
    a1 = _median(results, "A1")
    events = ip["a1_events"]
    projected = None if a1 is None else a1 / 1000 * A1_TARGET_EVENTS / max(events, 1)
    out.append(
        _target(
            "A1 verifies 200k events < 30 s",
            projected,
            A1_TARGET_S,
            "s",
            f"{events:,} events in {_f(None if a1 is None else a1 / 1000)} s; "
            "projected linearly to 200k",
        )
    )
    if results["db"] == "postgres":
        # Exact: with seq scans disabled, a Seq Scan means no index serves the statement.
        forced = {op: s for op, s in ip.get("plans_indexed", ip["plans"]).items() if s}
        chosen = {op: s for op, s in ip["plans"].items() if s}
        out.append(
            _target(
                PLAN_TARGET,
                float(len(forced)),
                0,
                "ops with seq scans",
                f"no usable index: {_scans(forced)}; planner's choice at this size: "
                f"{_scans(chosen)}",
            )
        )
    return out


PLAN_TARGET = "PostgreSQL: no Seq Scan on expert, complaint, audit_event"
STATEMENTS_TARGET = "SQL statements constant in page size; Q3 <= 3"


def _scans(plans: dict[str, list[dict[str, str]]]) -> str:
    return (
        ", ".join(f"{op} ({'/'.join(sorted({x['table'] for x in s}))})" for op, s in plans.items())
        or "none"
    )


def exact_failures(results: dict[str, Any]) -> list[str]:
    """The targets that do not depend on timing, each failure as one line.

    GraphQL == B-raw byte for byte is checked while the run goes (a difference stops
    it) and so is every HTTP body; here: B-gql equality where B-gql wires the query,
    the statement counts and, on PostgreSQL, that an index serves every statement.
    `python -m bench` exits 1 when this list is not empty (the CI smoke run).
    """
    ip = results["in_process"]
    out = [
        f"{name}: B-gql answered differently ({c.get('plain_error', 'other JSON')})"
        for name, c in ip["checks"].items()
        if c.get("plain_supported") and not c.get("plain_equal")
    ]
    out += [
        f"{name}: B-raw answered differently"
        for name, c in ip["checks"].items()
        if not c.get("raw_equal")
    ]
    for t in results["targets"]:
        if t["target"] in (STATEMENTS_TARGET, PLAN_TARGET) and t["status"] != "met":
            out.append(f"{t['target']}: {_f(t['measured'])} {t['unit']} - {t['note']}")
    return out


def render(results: dict[str, Any]) -> str:
    ip = results["in_process"]
    http = results.get("http", {})
    runs = http.get("ops", {}) if isinstance(http, dict) else {}
    const = (http.get("baseline", {}) or {}).get("B-http", {}) if isinstance(http, dict) else {}
    const_rps = const.get("rps")
    lines = [
        f"pingshen bench - {results['db']}, {results['size']:,} experts, seed {results['seed']}"
        f"{' (smoke)' if results.get('smoke') else ' (quick)' if results['quick'] else ''}"
        f" - {results['when']}",
        f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, "
        f"Python {results['machine']['python']}, commit {results['machine']['commit']}",
        "data: " + ", ".join(f"{k} {v:,}" for k, v in results["data"]["counts"].items()),
        "",
        "op     | SQL gql/raw/plain | median ms | p90 ms | x B-raw | x B-gql | "
        "HTTP req/s | x B-http | p50/p99 ms @50% | bytes",
        "-------+-------------------+-----------+--------+---------+---------+"
        "------------+----------+-----------------+------",
    ]
    pending: list[str] = []
    for op in ip["ops"]:
        name = op["name"]
        if op["pending"]:
            pending.append(f"{name:6} PENDING - {op['title']}: {op['pending']}")
            continue
        st = ip["statements"].get(name, {})
        t = ip["timings"].get(name, {})
        med = t.get("median_ms")
        run = runs.get(name, {})
        half = run.get("at_50") or {}
        sql = f"{st.get('graphql', '-')}/{st.get('b_raw', '-')}/{st.get('b_gql', '-')}"
        lines.append(
            f"{name:6} | {sql:17} | {_f(med):>9} | {_f(t.get('p90_ms')):>6} | "
            f"{_f(_ratio(med, _median(results, name + ':b_raw'))):>7} | "
            f"{_f(_ratio(med, _median(results, name + ':b_gql'))):>7} | "
            f"{_f(run.get('rps'), 0):>10} | {_f(_ratio(run.get('rps'), const_rps), 3):>8} | "
            f"{_f(half.get('p50_ms'))}/{_f(half.get('p99_ms')):>6} | "
            f"{ip['checks'].get(name, {}).get('bytes', '-')}"
        )
    for name in ("D1", "A1", "L1"):
        t = ip["timings"].get(name, {})
        st = ip["statements"].get(name, {})
        run = runs.get(name, {})
        half = run.get("at_50") or {}
        lines.append(
            f"{name:6} | {st.get('graphql', '-')!s:17} | {_f(t.get('median_ms')):>9} | "
            f"{_f(t.get('p90_ms')):>6} | {'-':>7} | {'-':>7} | {_f(run.get('rps'), 0):>10} | "
            f"{_f(_ratio(run.get('rps'), const_rps), 3):>8} | "
            f"{_f(half.get('p50_ms'))}/{_f(half.get('p99_ms')):>6} |"
        )
    h1 = runs.get("H1")
    if h1:
        half = h1.get("at_50") or {}
        lines.append(
            f"{'H1':6} | {'-':17} | {'-':>9} | {'-':>6} | {'-':>7} | {'-':>7} | "
            f"{_f(h1.get('rps'), 0):>10} | {_f(_ratio(h1.get('rps'), const_rps), 3):>8} | "
            f"{_f(half.get('p50_ms'))}/{_f(half.get('p99_ms')):>6} |"
        )
    elif isinstance(http, dict) and "H1" in http.get("checked", []):
        lines.append(
            f"{'H1':6} | checked over HTTP only in smoke: GET {http.get('h1_path')} -> 200"
        )
    base = (http.get("baseline", {}) if isinstance(http, dict) else {}) or {}
    for name, b in base.items():
        half = b.get("at_50") or {}
        lines.append(
            f"{name:6} | {'-':17} | {'-':>9} | {'-':>6} | {'-':>7} | {'-':>7} | "
            f"{_f(b.get('rps'), 0):>10} | {_f(_ratio(b.get('rps'), const_rps), 3):>8} | "
            f"{_f(half.get('p50_ms'))}/{_f(half.get('p99_ms')):>6} |"
        )
    for name, run in runs.items():
        raw = base.get(f"B-raw {name}", {}).get("rps")
        if raw:
            lines.append(
                f"HTTP {name}: {_f(run.get('rps'), 0)} req/s = "
                f"{_f(_ratio(run.get('rps'), raw), 3)} x B-raw over HTTP ({_f(raw, 0)} req/s)"
            )
    m1, replay = _median(results, "M1"), _median(results, "M1/r")
    if m1 and replay:
        lines.append(
            f"M1/r: replaying a used Idempotency-Key = {_f(_ratio(replay, m1), 3)} x M1 "
            "(M1 includes the argon2 hash of the query password)"
        )
    lines += pending
    for note in http.get("notes", []) if isinstance(http, dict) else []:
        lines.append(f"note: {note}")
    if isinstance(http, dict) and http.get("skipped"):
        lines.append(f"HTTP runs skipped: {http['skipped']}")
    for name, prof in ip.get("profiles", {}).items():
        lines += ["", f"profile of {name} (own time, 5 executions):", *(f"  {ln}" for ln in prof)]
    lines += ["", "targets (each a ratio to its same-run baseline):"]
    for t in results["targets"]:
        measured = t["measured"]
        lines.append(
            f"  [{t['status']:7}] {t['target']}: {_f(measured)} {t['unit']} "
            f"(limit {_f(float(t['limit']))}) - {t['note']}"
        )
    return "\n".join(lines)
