"""The draw's published outputs are pinned (R10, R11, R12): the speed-ups of issue 10
(inputs normalised once, pool_hash and ranking kept with the canonical inputs, HMAC
from precomputed states, feasibility checked before ranking) must not change one byte
of a bundle.

The literals below were computed with drawcore as it was before those changes
(2026-11-27) on two synthetic pools; the standalone verifier must still accept them.
"""

import copy
import hashlib
import hmac
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from resolvers import drawcore
from resolvers.drawcore import DrawError

ROOT = Path(__file__).resolve().parents[2]
DRAWCORE = ROOT / "resolvers" / "drawcore.py"
HOST = "91110000MA01ABCD1X"
SECRET = bytes(range(32))
ENTROPY = "骰子 3-1-4"


def synthetic_pool(size: int, self_evaluation: bool) -> dict[str, Any]:
    """A deterministic pool: Chinese and ASCII numbers, about 8 % presiding seats,
    about 60 % from the host unit, one exclusion per ten experts; lists unsorted."""
    eligible = []
    for i in range(size):
        h = hashlib.sha256(f"expert-{i}".encode()).digest()
        eligible.append(
            {
                "number": f"BJ{(i * 7919) % 1000003:07d}" if i % 11 else f"专家{i:05d}",
                "seat": "chair" if h[0] < 6 else "vice_chair" if h[0] < 16 else "member",
                "unit_credit_code": HOST if h[1] < 160 else f"9111{h[2]:014d}",
            }
        )
    exclusions = [
        {
            "number": f"X{i:05d}",
            "reason_code": drawcore.EXCLUSION_REASONS[i % 7],
            "detail": f"申报人#{i}:same_employer" if i % 3 else "",
        }
        for i in range(size // 10)
    ]
    return {
        "session_id": 41,
        "committee_id": 17,
        "k": 7,
        "backup_count": 3,
        "self_evaluation": self_evaluation,
        "host_unit_credit_code": HOST if self_evaluation else None,
        "external_share": {"numerator": 1, "denominator": 3},
        "eligible": eligible[::-1],
        "exclusions": exclusions[::-1],
    }


PINNED: dict[tuple[int, bool], dict[str, Any]] = {
    (300, True): {
        "pool_hash": "1430001678e0ab52adc40b8207ca0161099ed793883e09d55ac1774cd3a1179a",
        "secret_hash": "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd",
        "seed": "ac6f2dc9ee23c11ca3e91e697e60c8db49956f4ff7b27ad5ae871b97424c5432",
        "ranking": "dc422d7a565999dd652f92c880f1c5ef8d640d430f488d23dc749cc312aeba1b",
        "panel": [
            "专家00253",
            "BJ0277165",
            "BJ0320261",
            "BJ0256909",
            "BJ0296504",
            "专家00176",
            "专家00264",
        ],
        "backups": ["BJ0134623", "BJ0118785", "BJ0403869"],
        "replacements": [
            {"declined": "专家00253", "replacement": "BJ0134623", "reason": "出差"},
            {"declined": "BJ0134623", "replacement": "BJ0118785", "reason": "出差"},
        ],
        "bundle": "479b15afca7262909c98e33f1326ee33e23cc2d720f6dafa07f4e389cc077b69",
    },
    (5000, False): {
        "pool_hash": "f4daed04f6f64e0794cad3f3d25dd2e29dd25b0e6e8ade828be16317e57ee968",
        "secret_hash": "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd",
        "seed": "4ab1b31556ed1de117f4ffa252c1cdaf5ed845483fbc334c8602ff24066a1e32",
        "ranking": "a538673b155106e54e388f18eb802b12c201aedc52c2a227a6be571626d3f01e",
        "panel": [
            "BJ0531865",
            "BJ0815115",
            "BJ0617682",
            "BJ0563749",
            "BJ0716586",
            "BJ0144959",
            "BJ0027091",
        ],
        "backups": ["BJ0449924", "BJ0170008", "BJ0431335"],
        "replacements": [
            {"declined": "BJ0531865", "replacement": "BJ0449924", "reason": "出差"},
            {"declined": "BJ0449924", "replacement": "BJ0170008", "reason": "出差"},
        ],
        "bundle": "fcfd07d67ff7e58ae71ffc47c5d3b8a4656f85a2b57527d932eb681df9f4225c",
    },
}


def pinned_bundle(size: int, self_evaluation: bool) -> tuple[dict[str, Any], drawcore.DrawResult]:
    inputs = synthetic_pool(size, self_evaluation)
    result = drawcore.execute(inputs, SECRET, ENTROPY)
    for _ in range(2):
        result = drawcore.replace(result, result.current_panel[0], inputs, result.seed, "出差")
    return drawcore.make_bundle(inputs, SECRET, ENTROPY, result), result


@pytest.mark.parametrize(("size", "self_evaluation"), list(PINNED))
def test_bundle_of_a_known_pool_is_byte_identical_to_the_pinned_one_r10(
    size: int, self_evaluation: bool
) -> None:
    """R10 (R12 for the self-evaluation pool): pool_hash, seed, ranking, panel, backups,
    replacements and the whole canonical bundle equal what the first implementation
    published for the same inputs, secret and entropy."""
    expected = PINNED[(size, self_evaluation)]

    published, result = pinned_bundle(size, self_evaluation)

    assert {
        "pool_hash": published["pool_hash"],
        "secret_hash": published["secret_hash"],
        "seed": published["seed"],
        "ranking": hashlib.sha256("\n".join(result.ranking).encode()).hexdigest(),
        "panel": published["panel"],
        "backups": published["backups"],
        "replacements": published["replacements"],
        "bundle": hashlib.sha256(drawcore.canonical_json(published)).hexdigest(),
    } == expected


def test_the_same_inputs_give_the_same_outputs_whichever_entry_point_r10() -> None:
    """Raw dicts, canonical inputs and a JSON round trip of them draw alike; the
    commitment and the bundle's pool_hash are the pinned one every time."""
    raw = synthetic_pool(300, True)
    canonical = drawcore.normalize_inputs(raw)
    replayed = json.loads(drawcore.canonical_json(canonical))

    outcomes = {
        (drawcore.pool_hash(x), drawcore.execute(x, SECRET, ENTROPY).panel)
        for x in (raw, canonical, replayed, copy.deepcopy(canonical))
    }

    assert outcomes == {(PINNED[(300, True)]["pool_hash"], tuple(PINNED[(300, True)]["panel"]))}
    assert drawcore.commit(canonical)[1] == PINNED[(300, True)]["pool_hash"]


def test_pinned_bundle_verifies_with_the_standalone_verifier(tmp_path: Path) -> None:
    """R10: the published verifier, copied alone and run in isolated mode, accepts the
    pinned bundle (a bundle published before the speed-ups verifies unchanged)."""
    published, result = pinned_bundle(300, True)
    bundle_path = tmp_path / "bundle.json"
    bundle_path.write_bytes(drawcore.canonical_json(published))
    assert hashlib.sha256(bundle_path.read_bytes()).hexdigest() == PINNED[(300, True)]["bundle"]
    script = tmp_path / "drawcore.py"
    shutil.copyfile(DRAWCORE, script)

    completed = subprocess.run(  # noqa: S603 - fixed argv, our own interpreter and file
        [
            sys.executable,
            "-I",
            str(script),
            str(bundle_path),
            "--pool-hash",
            PINNED[(300, True)]["pool_hash"],
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        cwd=tmp_path,
    )

    assert (completed.returncode, completed.stderr) == (0, "")
    assert completed.stdout.splitlines()[0] == "验证通过"
    assert completed.stdout.splitlines()[-1] == "当前评审组：" + "、".join(result.current_panel)


def test_canonical_inputs_are_read_only_and_their_copies_are_validated_again() -> None:
    """Canonical inputs are passed on without a second validation, so they cannot be
    edited in place; a copy is a plain dict and an edited copy is checked in full."""
    canonical = drawcore.normalize_inputs(synthetic_pool(30, True))
    edits = [
        lambda c: c.__setitem__("k", 1),
        lambda c: c.update(k=1),
        lambda c: c.pop("k"),
        lambda c: c["eligible"].append(dict(c["eligible"][0])),
        lambda c: c["eligible"].sort(key=lambda e: e["seat"]),
        lambda c: c["exclusions"].__setitem__(0, {}),
        lambda c: c["eligible"][0].__setitem__("seat", "boss"),
        lambda c: c["external_share"].update(numerator=3),
    ]

    refused = 0
    for edit in edits:
        with pytest.raises(TypeError):
            edit(canonical)
        refused += 1
    copied = copy.deepcopy(canonical)
    copied["eligible"][0]["seat"] = "boss"
    unpickled = pickle.loads(pickle.dumps(canonical))  # noqa: S301 - our own bytes

    assert refused == len(edits)
    assert canonical == drawcore.normalize_inputs(synthetic_pool(30, True))
    assert type(copied) is dict and type(copied["eligible"][0]) is dict
    assert unpickled == canonical and type(unpickled) is dict
    with pytest.raises(DrawError) as failure:
        drawcore.normalize_inputs(copied)
    assert (failure.value.code, failure.value.field) == ("invalid_inputs", "eligible")


def test_the_first_bad_entry_in_list_order_is_reported_r10() -> None:
    """The quick check of well-formed entries falls back to the entry-by-entry check, so
    the error names the first bad entry, as before: here a lone surrogate in entry 2
    comes before an unknown seat in entry 4 and a missing key in entry 6."""
    inputs = synthetic_pool(10, False)
    inputs["eligible"][2]["number"] = "BJ\ud800"
    inputs["eligible"][4]["seat"] = "boss"
    del inputs["eligible"][6]["unit_credit_code"]

    with pytest.raises(DrawError) as failure:
        drawcore.normalize_inputs(inputs)
    inputs["eligible"][2]["number"] = "BJ2"
    with pytest.raises(DrawError) as second:
        drawcore.normalize_inputs(inputs)

    assert (failure.value.field, failure.value.message) == (
        "eligible.number",
        "eligible.number 不是有效的 UTF-8 文本",
    )
    assert (second.value.field, second.value.message) == ("eligible", "未知的席位 'boss'")


@pytest.mark.parametrize("key_length", [0, 1, 32, 63, 64, 65, 100, 200])
def test_ranking_is_hmac_sha256_for_any_key_length(key_length: int) -> None:
    """R10: the ranking key is HMAC-SHA256(seed, UTF-8(number)); the precomputed-state
    HMAC equals the standard library's for keys shorter than, equal to and longer than
    the 64-byte block (the seed is 32 bytes; a caller may pass any bytes to draw)."""
    inputs = synthetic_pool(200, False)
    seed = bytes((7 * i + 3) % 256 for i in range(key_length))
    expected = tuple(
        sorted(
            (e["number"] for e in inputs["eligible"]),
            key=lambda n: (hmac.new(seed, n.encode("utf-8"), hashlib.sha256).digest(), n),
        )
    )

    assert drawcore.rank(inputs, seed) == expected


def _no_presiding(inputs: dict[str, Any]) -> None:
    inputs["eligible"] = [{**e, "seat": "member"} for e in inputs["eligible"]]


def _all_external_no_presiding_external(inputs: dict[str, Any]) -> None:
    inputs["external_share"] = {"numerator": 1, "denominator": 1}
    inputs["eligible"] = [
        {**e, "seat": "member"} if e["unit_credit_code"] != HOST else e for e in inputs["eligible"]
    ]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda i: i.update(k=400), "not_enough_eligible"),
        (_no_presiding, "no_presiding_seat"),
        (
            lambda i: i.update(external_share={"numerator": 1, "denominator": 1}, k=200),
            "not_enough_external",
        ),
        (_all_external_no_presiding_external, "no_presiding_seat"),
        (lambda i: i.update(external_share={"numerator": 1, "denominator": 1}), None),
        (lambda i: None, None),
    ],
)
def test_check_feasible_raises_exactly_what_the_draw_raises_r12(
    change: Any, code: str | None
) -> None:
    """R10, R12, R14: commit_draw refuses an infeasible pool before publishing; the
    seed-free check gives the same code, field and message as a draw."""
    inputs = synthetic_pool(300, True)
    change(inputs)

    def outcome(fn: Any) -> tuple[str, str, str | None] | None:
        try:
            fn()
        except DrawError as exc:
            return (exc.code, exc.message, exc.field)
        return None

    checked = outcome(lambda: drawcore.check_feasible(inputs))
    drawn = outcome(lambda: drawcore.execute(inputs, SECRET, ENTROPY))

    assert checked == drawn
    assert (checked or (None,))[0] == code
