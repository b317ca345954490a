"""The verifiable random draw (Art. 13, R10; recusal R11; external share R12).

drawcore is pure and stdlib-only, so these tests need no database rows; they check
the published algorithm, its verifier and the project wrapper resolvers/draw.py.
"""

import ast
import hashlib
import hmac
import itertools
import json
import math
import random
import shutil
import subprocess
import sys
from collections import Counter
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from models.enums import Seat
from resolvers import draw as project_draw
from resolvers import drawcore
from resolvers.drawcore import DrawError, DrawResult
from resolvers.errors import DomainError, ErrorCode

ROOT = Path(__file__).resolve().parents[2]
DRAWCORE = ROOT / "resolvers" / "drawcore.py"
HOST = "91110000MA01ABCD1X"
UNITS = [HOST, "91110108MA02EFGH2Y", "12100000400000624D", "91110105MA03IJKL3Z"]
SEATS = ["member", "member", "member", "chair", "vice_chair"]
SHARES = [(1, 3), (0, 1), (1, 2), (2, 3), (1, 1), (2, 5)]
SECRET = bytes(range(32))

# Experts' numbers mix ASCII and Chinese so that UTF-8 handling is exercised.
NUMBERS = st.text(alphabet="0123456789ABXZ评审专家", min_size=1, max_size=6)
PLAIN_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=0, max_size=8
)
ENTROPY = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=20)
SECRETS = st.binary(min_size=32, max_size=32)

# Each example is a pure computation of microseconds; the database fixture around
# each test function is not reset between examples, and need not be.
FAST = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def draw_inputs(draw: st.DrawFn, max_experts: int = 24, feasible: bool = False) -> dict[str, Any]:
    """Random pools; `feasible` repairs seats and units so that a panel exists."""
    numbers = draw(st.lists(NUMBERS, min_size=int(feasible), max_size=max_experts + 4, unique=True))
    split = draw(st.integers(int(feasible), len(numbers)))
    eligible = [
        {
            "number": n,
            "seat": draw(st.sampled_from(SEATS)),
            "unit_credit_code": draw(st.sampled_from(UNITS)),
        }
        for n in numbers[:split]
    ]
    exclusions = [
        {
            "number": n,
            "reason_code": draw(st.sampled_from(drawcore.EXCLUSION_REASONS)),
            "detail": draw(PLAIN_TEXT),
        }
        for n in numbers[split:]
    ]
    self_evaluation = draw(st.booleans())
    numerator, denominator = draw(st.sampled_from(SHARES))
    inputs: dict[str, Any] = {
        "session_id": draw(st.integers(1, 10**6)),
        "committee_id": draw(st.integers(1, 10**6)),
        "k": draw(st.integers(1, len(eligible) if feasible else max(1, len(eligible) + 1))),
        "backup_count": draw(st.integers(0, 5)),
        "self_evaluation": self_evaluation,
        "host_unit_credit_code": HOST if self_evaluation else None,
        "external_share": {"numerator": numerator, "denominator": denominator},
        "eligible": draw(st.permutations(eligible)),
        "exclusions": exclusions,
    }
    if feasible:
        pool: list[dict[str, str]] = inputs["eligible"]
        internal = [e for e in pool if self_evaluation and e["unit_credit_code"] == HOST]
        for expert in internal[: max(0, external_needed(inputs) - (len(pool) - len(internal)))]:
            expert["unit_credit_code"] = UNITS[1]
        if not any(e["seat"] != "member" for e in pool):
            draw(st.sampled_from(pool))["seat"] = "chair"
        # When every seat must be external, the presiding one must be external too.
        external = [e for e in pool if e["unit_credit_code"] != HOST]
        if self_evaluation and external_needed(inputs) == inputs["k"]:
            if not any(e["seat"] != "member" for e in external):
                draw(st.sampled_from(external))["seat"] = "chair"
    return inputs


def external_needed(inputs: dict[str, Any]) -> int:
    """R12, restated independently: ceil(k × share) for self-evaluation committees."""
    if not inputs["self_evaluation"]:
        return 0
    share = inputs["external_share"]
    return math.ceil(inputs["k"] * Fraction(share["numerator"], share["denominator"]))


def quotas_hold(inputs: dict[str, Any], panel: tuple[str, ...] | list[str]) -> bool:
    experts = {e["number"]: e for e in inputs["eligible"]}
    presiding = [n for n in panel if experts[n]["seat"] in ("chair", "vice_chair")]
    external = [n for n in panel if experts[n]["unit_credit_code"] != HOST]
    return len(presiding) >= 1 and len(external) >= external_needed(inputs)


def executed(inputs: dict[str, Any], secret: bytes, entropy: str) -> DrawResult:
    """The draw, or hypothesis discards the example (infeasible pools are tested apart)."""
    try:
        return drawcore.execute(inputs, secret, entropy)
    except DrawError:
        assume(False)
        raise


def good_bundle(
    inputs: dict[str, Any] | None = None, declines: int = 0
) -> tuple[dict[str, Any], DrawResult]:
    inputs = inputs or fixed_inputs()
    result = drawcore.execute(inputs, SECRET, "3-1-4-1-5-9")
    for _ in range(declines):
        result = drawcore.replace(result, result.current_panel[0], inputs, result.seed, "出差")
    return drawcore.make_bundle(inputs, SECRET, "3-1-4-1-5-9", result), result


def fixed_inputs(**changes: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "session_id": 7,
        "committee_id": 3,
        "k": 5,
        "backup_count": 2,
        "self_evaluation": True,
        "host_unit_credit_code": HOST,
        "external_share": {"numerator": 1, "denominator": 3},
        "eligible": [
            {
                "number": f"E{i:03d}",
                "seat": "chair" if i == 0 else "vice_chair" if i in (1, 5) else "member",
                "unit_credit_code": UNITS[i % 4],
            }
            for i in range(12)
        ],
        "exclusions": [
            {
                "number": "E900",
                "reason_code": "conflict_with_applicant",
                "detail": "申报人张三之配偶",
            },
            {"number": "E901", "reason_code": "not_trained", "detail": ""},
        ],
    }
    inputs.update(changes)
    return inputs


# --- the published format ------------------------------------------------------------


def test_canonical_json_is_sorted_compact_utf8() -> None:
    """R10: the commitment is over this exact byte string; the docstring documents it."""
    inputs = {
        "session_id": 1,
        "committee_id": 2,
        "k": 1,
        "backup_count": 0,
        "self_evaluation": False,
        "host_unit_credit_code": None,
        "external_share": {"numerator": 1, "denominator": 3},
        "eligible": [
            {"number": "专家2", "seat": "member", "unit_credit_code": "U2"},
            {"number": "A1", "seat": "chair", "unit_credit_code": "U1"},
        ],
        "exclusions": [{"number": "B", "reason_code": "not_trained", "detail": "无\n"}],
    }

    canonical = drawcore.canonical_json(drawcore.normalize_inputs(inputs))

    expected = (
        '{"backup_count":0,"committee_id":2,'
        '"eligible":[{"number":"A1","seat":"chair","unit_credit_code":"U1"},'
        '{"number":"专家2","seat":"member","unit_credit_code":"U2"}],'
        '"exclusions":[{"detail":"无\\n","number":"B","reason_code":"not_trained"}],'
        '"external_share":{"denominator":3,"numerator":1},'
        '"host_unit_credit_code":null,"k":1,"self_evaluation":false,"session_id":1}'
    ).encode()
    assert canonical == expected
    assert drawcore.pool_hash(inputs) == hashlib.sha256(expected).hexdigest()


def test_seed_and_ranking_follow_the_documented_formulas() -> None:
    """R10: seed = SHA-256(secret ‖ entropy ‖ pool_hash); rank by HMAC-SHA256(seed, number)."""
    inputs = fixed_inputs()
    entropy = "骰子 6-2-3"
    digest = drawcore.pool_hash(inputs)
    seed = hashlib.sha256(SECRET + entropy.encode() + digest.encode()).digest()
    by_hmac = sorted(
        (e["number"] for e in inputs["eligible"]),
        key=lambda n: hmac.new(seed, n.encode(), hashlib.sha256).digest(),
    )

    result = drawcore.execute(inputs, SECRET, entropy)

    assert result.seed == seed.hex()
    assert result.ranking == tuple(by_hmac)


def test_commit_uses_a_fresh_32_byte_secret_each_time() -> None:
    """R10: one commitment, one secret; the hashes are what gets published beforehand."""
    inputs = fixed_inputs()

    first = drawcore.commit(inputs)
    second = drawcore.commit(inputs)

    assert len(first[0]) == 32
    assert first[0] != second[0]
    assert first[1] == second[1] == drawcore.pool_hash(inputs)
    assert first[2] == hashlib.sha256(first[0]).hexdigest()


def test_drawcore_imports_only_the_standard_library() -> None:
    """The published verifier must run with a bare Python; `random` is banned outright."""
    tree = ast.parse(DRAWCORE.read_text(encoding="utf-8"))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            assert node.module is not None
            modules.add(node.module.split(".")[0])

    assert modules
    assert sorted(m for m in modules if m not in sys.stdlib_module_names) == []
    assert "random" not in modules


def test_draw_wrapper_does_not_use_random() -> None:
    tree = ast.parse((ROOT / "resolvers" / "draw.py").read_text(encoding="utf-8"))
    names = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "random" not in names


# --- properties of the draw ------------------------------------------------------------


@FAST
@given(inputs=draw_inputs(feasible=True), secret=SECRETS, entropy=ENTROPY)
def test_draw_meets_quotas_and_never_draws_an_excluded_expert(
    inputs: dict[str, Any], secret: bytes, entropy: str
) -> None:
    """R10, R11, R12: panel of k with a presiding seat and the external share; no exclusion."""
    result = executed(inputs, secret, entropy)

    eligible = {e["number"] for e in inputs["eligible"]}
    excluded = {x["number"] for x in inputs["exclusions"]}
    drawn = set(result.panel) | set(result.backups)
    assert len(result.panel) == len(set(result.panel)) == inputs["k"]
    assert quotas_hold(inputs, result.panel)
    assert drawn <= eligible
    assert drawn & excluded == set()
    assert set(result.panel) & set(result.backups) == set()
    assert list(result.panel) == sorted(result.panel, key=result.ranking.index)
    last = result.ranking.index(result.panel[-1])
    expected_backups = result.ranking[last + 1 : last + 1 + inputs["backup_count"]]
    assert result.backups == expected_backups
    assert len(result.backups) == min(inputs["backup_count"], len(eligible) - last - 1)


@FAST
@given(inputs=draw_inputs(max_experts=8), seed=SECRETS)
def test_draw_takes_the_first_feasible_panel_in_rank_order(
    inputs: dict[str, Any], seed: bytes
) -> None:
    """R10's greedy walk equals the brute force: the rank-lexicographically first feasible set."""
    ranking = drawcore.rank(inputs, seed)
    first = next(
        (c for c in itertools.combinations(ranking, inputs["k"]) if quotas_hold(inputs, c)),
        None,
    )

    if first is None:
        with pytest.raises(DrawError) as failure:
            drawcore.draw(inputs, seed)
        assert failure.value.code in {
            "not_enough_eligible",
            "no_presiding_seat",
            "not_enough_external",
        }
    else:
        assert drawcore.draw(inputs, seed).panel == first


@FAST
@given(inputs=draw_inputs(feasible=True), secret=SECRETS, entropy=ENTROPY)
def test_verifier_reproduces_every_draw(
    inputs: dict[str, Any], secret: bytes, entropy: str
) -> None:
    """R10: anyone holding the bundle recomputes the same panel and backups."""
    result = executed(inputs, secret, entropy)
    published = json.loads(json.dumps(drawcore.make_bundle(inputs, secret, entropy, result)))

    assert drawcore.verify_bundle(published) == (True, "验证通过")
    assert drawcore.replay(published) == result


@FAST
@given(inputs=draw_inputs(feasible=True), secret=SECRETS, entropy=ENTROPY)
def test_draw_is_deterministic_and_ignores_list_order(
    inputs: dict[str, Any], secret: bytes, entropy: str
) -> None:
    result = executed(inputs, secret, entropy)
    shuffled = {
        **inputs,
        "eligible": list(reversed(inputs["eligible"])),
        "exclusions": list(reversed(inputs["exclusions"])),
    }

    assert drawcore.execute(inputs, secret, entropy) == result
    assert drawcore.execute(shuffled, secret, entropy) == result
    assert drawcore.pool_hash(shuffled) == drawcore.pool_hash(inputs)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        return [leaf for key in sorted(value) for leaf in _leaves(value[key], (*path, key))]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in _leaves(item, (*path, i))]
    return [(path, value)]


def _set(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _changed(value: Any, data: st.DataObject) -> Any:
    """The same value with exactly one character, digit or flag different."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + data.draw(st.sampled_from([-1, 1]))
    if value is None:
        return HOST
    assert isinstance(value, str)
    if not value:
        return "x"
    index = data.draw(st.integers(0, len(value) - 1))
    alphabet = "0123456789abcdef" if set(value) <= set("0123456789abcdef") else "0Aa专-"
    new = data.draw(st.sampled_from([c for c in alphabet if c != value[index]]))
    return value[:index] + new + value[index + 1 :]


@FAST
@given(
    inputs=draw_inputs(max_experts=10, feasible=True),
    secret=SECRETS,
    entropy=ENTROPY,
    declines=st.integers(0, 2),
    data=st.data(),
)
def test_changing_any_recorded_value_fails_verification(
    inputs: dict[str, Any],
    secret: bytes,
    entropy: str,
    declines: int,
    data: st.DataObject,
) -> None:
    """R10: any change to an input, the entropy, the secret or an outcome is detected."""
    result = executed(inputs, secret, entropy)
    for _ in range(declines):
        try:
            result = drawcore.replace(result, result.current_panel[-1], inputs, result.seed, "病假")
        except DrawError:
            break
    published = drawcore.make_bundle(inputs, secret, entropy, result)
    # A decline's reason is free text given after the draw: nothing can recompute it,
    # so the audit trail (R20), not the bundle, is what makes its wording tamper-evident.
    recorded = [(path, value) for path, value in _leaves(published) if path[-1] != "reason"]
    path, value = data.draw(st.sampled_from(recorded))

    tampered = json.loads(json.dumps(published))
    _set(tampered, path, _changed(value, data))

    ok, message = drawcore.verify_bundle(tampered)
    assert ok is False
    assert message != "验证通过"


@FAST
@given(
    inputs=draw_inputs(max_experts=10, feasible=True),
    secret=SECRETS,
    entropy=PLAIN_TEXT.filter(bool),
    data=st.data(),
)
def test_changing_any_byte_of_the_published_file_fails_verification(
    inputs: dict[str, Any], secret: bytes, entropy: str, data: st.DataObject
) -> None:
    """R10: flip one byte anywhere in the compact bundle file; it no longer verifies."""
    result = executed(inputs, secret, entropy)
    raw = drawcore.canonical_json(drawcore.make_bundle(inputs, secret, entropy, result))
    # No control characters anywhere: they would be written as \\u00xx escapes, and
    # the case of those hex digits does not change the value.
    assert "\\u00" not in raw.decode()
    position = data.draw(st.integers(0, len(raw) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
    tampered = raw[:position] + bytes([byte]) + raw[position + 1 :]

    try:
        bundle = json.loads(tampered.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return  # the CLI refuses an unreadable file (exit 1); see the subprocess test
    assert drawcore.verify_bundle(bundle)[0] is False


@FAST
@given(inputs=draw_inputs(feasible=True), secret=SECRETS, entropy=ENTROPY, data=st.data())
def test_declines_are_replaced_by_the_next_rank_within_quotas(
    inputs: dict[str, Any], secret: bytes, entropy: str, data: st.DataObject
) -> None:
    """R10: a decline takes the first unused backup, then rank, that keeps R12 and R14 quotas."""
    result = executed(inputs, secret, entropy)
    excluded = {x["number"] for x in inputs["exclusions"]}

    for _ in range(data.draw(st.integers(1, 6))):
        declined = data.draw(st.sampled_from(result.current_panel))
        used = set(result.panel) | {r.replacement for r in result.replacements}
        order = [*result.backups, *(n for n in result.ranking if n not in result.backups)]
        rest = [n for n in result.current_panel if n != declined]
        fitting = [n for n in order if n not in used and quotas_hold(inputs, [*rest, n])]
        try:
            after = drawcore.replace(result, declined, inputs, result.seed, "时间冲突")
        except DrawError as failure:
            assert failure.code == "no_replacement"
            assert fitting == []
            break
        record = after.replacements[-1]
        assert (record.declined, record.reason) == (declined, "时间冲突")
        assert record.replacement == fitting[0]
        assert record.replacement not in excluded
        assert len(set(after.current_panel)) == inputs["k"]
        assert quotas_hold(inputs, after.current_panel)
        assert after.current_panel == tuple(
            record.replacement if n == declined else n for n in result.current_panel
        )
        result = after

    published = drawcore.make_bundle(inputs, secret, entropy, result)
    assert drawcore.verify_bundle(published) == (True, "验证通过")


def test_panel_membership_is_uniform_over_many_entropies() -> None:
    """R10 fairness smoke test: 20 interchangeable experts, 2,000 draws with different entropy.

    The first rank is a uniform multinomial over 20 experts; panel membership is less
    dispersed than multinomial, so the same bound is conservative for it. 63.68 is the
    χ²(19) value exceeded with probability 1e-6; the draws are deterministic anyway.
    """
    inputs = fixed_inputs(
        self_evaluation=False,
        host_unit_credit_code=None,
        eligible=[
            {"number": f"E{i:02d}", "seat": "vice_chair", "unit_credit_code": UNITS[i % 4]}
            for i in range(20)
        ],
    )
    draws = 2000
    top: Counter[str] = Counter()
    member: Counter[str] = Counter()
    for i in range(draws):
        result = drawcore.execute(inputs, SECRET, f"dice-{i}")
        top[result.ranking[0]] += 1
        member.update(result.panel)

    def chi_square(counts: Counter[str], expected: float) -> float:
        return sum((counts[f"E{i:02d}"] - expected) ** 2 / expected for i in range(20))

    assert chi_square(top, draws / 20) < 63.68
    assert chi_square(member, draws * inputs["k"] / 20) < 63.68
    assert sorted(member) == [f"E{i:02d}" for i in range(20)]


# --- failures, with their codes ----------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"k": 13}, "not_enough_eligible"),
        (
            {
                "eligible": [
                    {"number": f"M{i}", "seat": "member", "unit_credit_code": UNITS[1]}
                    for i in range(9)
                ]
            },
            "no_presiding_seat",
        ),
        (
            {
                "eligible": [
                    {"number": "C", "seat": "chair", "unit_credit_code": UNITS[1]},
                    *(
                        {"number": f"M{i}", "seat": "member", "unit_credit_code": HOST}
                        for i in range(8)
                    ),
                ]
            },
            "not_enough_external",
        ),
        (
            {
                "k": 3,
                "external_share": {"numerator": 1, "denominator": 1},
                "eligible": [
                    {"number": "C", "seat": "chair", "unit_credit_code": HOST},
                    *(
                        {"number": f"M{i}", "seat": "member", "unit_credit_code": UNITS[2]}
                        for i in range(5)
                    ),
                ],
            },
            "no_presiding_seat",
        ),
    ],
    ids=["fewer-than-k", "no-chair-or-vice", "too-few-external-r12", "all-external-no-presiding"],
)
def test_draw_fails_with_a_code_when_quotas_cannot_be_met(
    changes: dict[str, Any], code: str
) -> None:
    with pytest.raises(DrawError) as failure:
        drawcore.execute(fixed_inputs(**changes), SECRET, "42")

    assert failure.value.code == code


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"k": 0}, "k"),
        ({"k": True}, "k"),
        ({"backup_count": -1}, "backup_count"),
        ({"host_unit_credit_code": None}, "host_unit_credit_code"),
        ({"self_evaluation": False}, "host_unit_credit_code"),
        ({"external_share": {"numerator": 4, "denominator": 3}}, "external_share"),
        (
            {
                "eligible": [
                    {"number": "E1", "seat": "chair", "unit_credit_code": HOST},
                    {"number": "E1", "seat": "member", "unit_credit_code": HOST},
                ]
            },
            "eligible",
        ),
        (
            {"eligible": [{"number": "E1", "seat": "secretary", "unit_credit_code": HOST}]},
            "eligible",
        ),
        (
            {
                "exclusions": [
                    {"number": "E000", "reason_code": "not_trained", "detail": ""},
                ]
            },
            "exclusions",
        ),
    ],
    ids=[
        "k-zero",
        "k-bool",
        "negative-backups",
        "self-evaluation-without-host",
        "host-without-self-evaluation",
        "share-above-one",
        "duplicate-number",
        "unknown-seat",
        "excluded-and-eligible",
    ],
)
def test_invalid_inputs_are_refused(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(DrawError) as failure:
        drawcore.pool_hash(fixed_inputs(**changes))

    assert (failure.value.code, failure.value.field) == ("invalid_inputs", field)


def test_replace_refuses_someone_not_on_the_panel() -> None:
    _, result = good_bundle()

    with pytest.raises(DrawError) as failure:
        drawcore.replace(result, result.backups[0], fixed_inputs(), result.seed, "出差")

    assert failure.value.code == "not_on_panel"


def test_replace_refuses_when_no_candidate_keeps_the_quota() -> None:
    """R14: the only presiding expert declines and no other chair or vice chair is left."""
    inputs = fixed_inputs(
        self_evaluation=False,
        host_unit_credit_code=None,
        k=2,
        eligible=[
            {"number": "C", "seat": "chair", "unit_credit_code": HOST},
            *({"number": f"M{i}", "seat": "member", "unit_credit_code": HOST} for i in range(4)),
        ],
    )
    result = drawcore.execute(inputs, SECRET, "1")

    with pytest.raises(DrawError) as failure:
        drawcore.replace(result, "C", inputs, result.seed, "回避")

    assert failure.value.code == "no_replacement"


def test_verifier_checks_the_commitment_published_before_the_draw() -> None:
    """R10: a bundle rebuilt around other inputs is caught against the earlier commitment."""
    published, _ = good_bundle()
    forged_inputs = fixed_inputs(k=3)
    forged_result = drawcore.execute(forged_inputs, SECRET, "3-1-4-1-5-9")
    forged = drawcore.make_bundle(forged_inputs, SECRET, "3-1-4-1-5-9", forged_result)

    assert drawcore.verify_bundle(forged) == (True, "验证通过")
    ok, message = drawcore.verify_bundle(
        forged,
        expected_pool_hash=published["pool_hash"],
        expected_secret_hash=published["secret_hash"],
    )
    assert ok is False
    assert message.startswith("pool_hash（与事先公布的承诺） 不一致")


def test_verifier_names_the_first_field_that_differs() -> None:
    published, result = good_bundle()
    published["backups"] = list(reversed(published["backups"]))

    ok, message = drawcore.verify_bundle(published)

    assert ok is False
    assert message == (
        f"backups 不一致：发布值 {published['backups']!r}，重新计算值 {list(result.backups)!r}"
    )


# --- the command-line verifier -------------------------------------------------------


def _run(script: Path, bundle_path: Path) -> subprocess.CompletedProcess[str]:
    # -I: isolated mode, so nothing from the project can be imported by accident.
    return subprocess.run(  # noqa: S603 — fixed argv, our own interpreter and file
        [sys.executable, "-I", str(script), str(bundle_path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        cwd=script.parent,
    )


def test_cli_accepts_a_good_bundle_standalone(tmp_path: Path) -> None:
    """R10: the verifier copied alone into an empty folder verifies a published bundle."""
    published, result = good_bundle(declines=1)
    bundle_path = tmp_path / "bundle.json"
    bundle_path.write_text(json.dumps(published, ensure_ascii=False, indent=2), encoding="utf-8")
    script = tmp_path / "drawcore.py"
    shutil.copyfile(DRAWCORE, script)

    completed = _run(script, bundle_path)

    assert (completed.returncode, completed.stderr) == (0, "")
    lines = completed.stdout.splitlines()
    assert lines[0] == "验证通过"
    assert lines[1] == "抽取结果（按排名）："
    assert [line.split(". ")[1].split("（")[0] for line in lines[2 : 2 + 5]] == list(result.panel)
    replacement = result.replacements[0]
    assert f"替换：{replacement.declined} → {replacement.replacement}（理由：出差）" in lines
    assert lines[-1] == "当前评审组：" + "、".join(result.current_panel)


def test_cli_rejects_a_tampered_bundle(tmp_path: Path) -> None:
    published, _ = good_bundle()
    published["entropy"] = "3-1-4-1-5-8"
    bundle_path = tmp_path / "bundle.json"
    bundle_path.write_text(json.dumps(published, ensure_ascii=False), encoding="utf-8")

    completed = _run(DRAWCORE, bundle_path)

    assert completed.returncode == 1
    assert completed.stdout.startswith("验证失败：seed 不一致")


def test_cli_rejects_an_unreadable_bundle(tmp_path: Path) -> None:
    bundle_path = tmp_path / "bundle.json"
    bundle_path.write_text("{not json", encoding="utf-8")

    completed = _run(DRAWCORE, bundle_path)

    assert completed.returncode == 1
    assert completed.stdout.startswith("验证失败：无法读取")


# --- the project wrapper (resolvers/draw.py) ----------------------------------------------


def _candidates(count: int, seat: Seat = Seat.MEMBER) -> list[project_draw.Candidate]:
    return [project_draw.Candidate(f"E{i:02d}", seat, UNITS[i % 4]) for i in range(count)]


def test_wrapper_build_inputs_uses_the_configured_external_share() -> None:
    """R12: the share defaults to Config.external_share (1/3)."""
    inputs = project_draw.build_inputs(
        session_id=1,
        committee_id=2,
        k=3,
        backup_count=1,
        self_evaluation=True,
        host_unit_credit_code=HOST,
        eligible=_candidates(5, Seat.VICE_CHAIR),
        exclusions=[
            project_draw.Excluded("X1", project_draw.ExclusionReason.TERM_ENDED, "聘期已满")
        ],
    )

    assert inputs["external_share"] == {"numerator": 1, "denominator": 3}
    assert inputs["exclusions"] == [
        {"number": "X1", "reason_code": "term_ended", "detail": "聘期已满"}
    ]
    assert [e["seat"] for e in inputs["eligible"]] == ["vice_chair"] * 5


def test_wrapper_exclusion_reasons_match_the_published_codes() -> None:
    assert tuple(project_draw.ExclusionReason) == drawcore.EXCLUSION_REASONS


def test_wrapper_round_trip_commit_execute_replace_bundle() -> None:
    inputs = project_draw.build_inputs(
        session_id=1,
        committee_id=2,
        k=3,
        backup_count=2,
        self_evaluation=False,
        host_unit_credit_code=None,
        eligible=[*_candidates(6), project_draw.Candidate("C1", Seat.CHAIR, HOST)],
        exclusions=[],
    )
    secret, digest, commitment = project_draw.commit(inputs)
    result = project_draw.execute(inputs, secret, "2-5-1")
    declined = next(n for n in result.panel if n != "C1")
    result = project_draw.replace(result, declined, inputs, reason="出国")

    published = project_draw.bundle(inputs, secret, "2-5-1", result)

    assert (published["pool_hash"], published["secret_hash"]) == (digest, commitment)
    assert published["replacements"][0]["declined"] == declined
    assert project_draw.verify_bundle(
        published, expected_pool_hash=digest, expected_secret_hash=commitment
    ) == (True, "验证通过")


@pytest.mark.parametrize(
    ("k", "seat", "code"),
    [
        (7, Seat.CHAIR, ErrorCode.DRAW_NOT_ENOUGH_ELIGIBLE),
        (3, Seat.MEMBER, ErrorCode.DRAW_NO_PRESIDING_SEAT),
    ],
)
def test_wrapper_translates_draw_errors_into_domain_errors(
    k: int, seat: Seat, code: ErrorCode
) -> None:
    inputs = project_draw.build_inputs(
        session_id=1,
        committee_id=2,
        k=k,
        backup_count=0,
        self_evaluation=False,
        host_unit_credit_code=None,
        eligible=_candidates(6, seat),
        exclusions=[],
    )

    with pytest.raises(DomainError) as failure:
        project_draw.execute(inputs, SECRET, "1")

    assert (failure.value.code, failure.value.field) == (code, "k" if k == 7 else "eligible")


def test_wrapper_reports_too_few_external_experts_r12() -> None:
    inputs = project_draw.build_inputs(
        session_id=1,
        committee_id=2,
        k=3,
        backup_count=0,
        self_evaluation=True,
        host_unit_credit_code=HOST,
        eligible=[project_draw.Candidate(f"H{i}", Seat.CHAIR, HOST) for i in range(5)],
        exclusions=[],
    )

    with pytest.raises(DomainError) as failure:
        project_draw.execute(inputs, SECRET, "1")

    assert failure.value.code == ErrorCode.DRAW_NOT_ENOUGH_EXTERNAL


def test_wrapper_reports_no_replacement() -> None:
    inputs = project_draw.build_inputs(
        session_id=1,
        committee_id=2,
        k=2,
        backup_count=0,
        self_evaluation=False,
        host_unit_credit_code=None,
        eligible=[*_candidates(3), project_draw.Candidate("C1", Seat.CHAIR, HOST)],
        exclusions=[],
    )
    result = project_draw.execute(inputs, SECRET, "1")

    with pytest.raises(DomainError) as failure:
        project_draw.replace(result, "C1", inputs, reason="回避")

    assert (failure.value.code, failure.value.field) == (ErrorCode.DRAW_NO_REPLACEMENT, "declined")


@pytest.mark.parametrize(
    ("entropy", "code"),
    [("   ", ErrorCode.REQUIRED), ("6" * 201, ErrorCode.TOO_LONG)],
)
def test_wrapper_refuses_blank_or_overlong_entropy(entropy: str, code: ErrorCode) -> None:
    inputs = project_draw.build_inputs(
        session_id=1,
        committee_id=2,
        k=1,
        backup_count=0,
        self_evaluation=False,
        host_unit_credit_code=None,
        eligible=[project_draw.Candidate("C1", Seat.CHAIR, HOST)],
        exclusions=[],
    )

    with pytest.raises(DomainError) as failure:
        project_draw.execute(inputs, SECRET, entropy)

    assert (failure.value.code, failure.value.field) == (code, "entropy")


def test_wrapper_refuses_invalid_inputs_as_invalid() -> None:
    with pytest.raises(DomainError) as failure:
        project_draw.build_inputs(
            session_id=1,
            committee_id=2,
            k=0,
            backup_count=0,
            self_evaluation=False,
            host_unit_credit_code=None,
            eligible=[],
            exclusions=[],
        )

    assert (failure.value.code, failure.value.field) == (ErrorCode.INVALID, "k")


# --- the linear walk equals the original quadratic one --------------------------------


def reference_draw(inputs: dict[str, Any], seed: bytes) -> tuple[tuple[str, ...], ...]:
    """The draw as first written (kept verbatim in spirit): at each position the quota
    feasibility check recounts every later expert, O(n²). drawcore now keeps suffix
    counts instead (O(n)); R10 requires both to draw the same panel and backups.
    Returns (ranking, panel, backups) or raises DrawError with the same code."""
    canonical = drawcore.normalize_inputs(inputs)
    ranking = tuple(
        sorted(
            (e["number"] for e in canonical["eligible"]),
            key=lambda n: (hmac.new(seed, n.encode("utf-8"), hashlib.sha256).digest(), n),
        )
    )
    k = canonical["k"]
    host = canonical["host_unit_credit_code"]
    presiding = frozenset(
        e["number"] for e in canonical["eligible"] if e["seat"] in ("chair", "vice_chair")
    )
    external = frozenset(
        e["number"]
        for e in canonical["eligible"]
        if canonical["self_evaluation"] and e["unit_credit_code"] != host
    )
    needed = drawcore.external_required(canonical)

    def feasible(taken: list[str], slots: int, remaining: tuple[str, ...]) -> bool:
        if slots < 0 or len(remaining) < slots:
            return False
        need_presiding = not presiding.intersection(taken)
        need_external = max(0, needed - len(external.intersection(taken)))
        a = b = c = 0
        for n in remaining:
            p, x = n in presiding, n in external
            a += p and x
            b += p and not x
            c += x and not p
        if not need_presiding:
            return need_external <= slots and a + c >= need_external
        if need_external == 0:
            return slots >= 1 and a + b >= 1
        if a > 0:
            return need_external <= slots and a + c >= need_external
        return b >= 1 and c >= need_external and need_external + 1 <= slots

    if len(ranking) < k:
        raise DrawError("not_enough_eligible", "", "k")
    if not presiding:
        raise DrawError("no_presiding_seat", "", "eligible")
    if len(external) < needed:
        raise DrawError("not_enough_external", "", "eligible")
    if not feasible([], k, ranking):
        raise DrawError("no_presiding_seat", "", "eligible")
    panel: list[str] = []
    position = -1
    for position, number in enumerate(ranking):
        candidate = [*panel, number]
        if feasible(candidate, k - len(candidate), ranking[position + 1 :]):
            panel = candidate
            if len(panel) == k:
                break
    backups = ranking[position + 1 : position + 1 + canonical["backup_count"]]
    return ranking, tuple(panel), backups


def outcome(fn: Any, inputs: dict[str, Any], seed: bytes) -> tuple[Any, ...]:
    try:
        return fn(inputs, seed)
    except DrawError as exc:
        return ("error", exc.code)


def current_draw(inputs: dict[str, Any], seed: bytes) -> tuple[tuple[str, ...], ...]:
    result = drawcore.draw(inputs, seed)
    return result.ranking, result.panel, result.backups


@FAST
@given(inputs=draw_inputs(), seed=SECRETS)
def test_linear_walk_draws_what_the_quadratic_walk_drew(
    inputs: dict[str, Any], seed: bytes
) -> None:
    """R10: the O(n) feasibility check changes no panel, backup or failure code."""
    assert outcome(current_draw, inputs, seed) == outcome(reference_draw, inputs, seed)


def test_linear_walk_matches_the_quadratic_walk_on_large_tight_pools() -> None:
    """R10, R12, R14: 600 seeded pools of up to 400 experts where the presiding seats
    and the external experts are just enough, one short or plenty, so that the walk
    must skip experts; every outcome (panel, backups or failure code) is identical."""
    rng = random.Random(20261127)  # noqa: S311 - reproducible test pools, not a draw
    differences = []
    codes: Counter[str] = Counter()
    for case in range(600):
        size = rng.randint(1, 400)
        k = rng.randint(1, min(size + 1, 25))
        self_evaluation = rng.random() < 0.8
        numerator, denominator = rng.choice(SHARES)
        needed = -(-k * numerator // denominator) if self_evaluation else 0
        n_external = min(size, max(0, rng.choice([needed - 1, needed, needed + 1, size // 2])))
        n_presiding = min(size, rng.choice([0, 1, 1, 2, 3, size // 10]))
        external = set(rng.sample(range(size), n_external))
        presiding = set(rng.sample(range(size), n_presiding))
        inputs = {
            "session_id": case + 1,
            "committee_id": 1,
            "k": k,
            "backup_count": rng.randint(0, 5),
            "self_evaluation": self_evaluation,
            "host_unit_credit_code": HOST if self_evaluation else None,
            "external_share": {"numerator": numerator, "denominator": denominator},
            "eligible": [
                {
                    "number": f"E{i:05d}",
                    "seat": rng.choice(["chair", "vice_chair"]) if i in presiding else "member",
                    "unit_credit_code": rng.choice(UNITS[1:]) if i in external else HOST,
                }
                for i in range(size)
            ],
            "exclusions": [],
        }
        seed = rng.randbytes(32)
        got = outcome(current_draw, inputs, seed)
        codes[str(got[1]) if got[0] == "error" else "drawn"] += 1
        if got != outcome(reference_draw, inputs, seed):
            differences.append(case)
    assert differences == []
    # Most pools draw, so panels are really compared; every failure code occurs.
    assert codes["drawn"] >= 300, codes
    assert len(codes) == 4, codes
