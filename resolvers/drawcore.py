"""Verifiable random draw of an evaluation panel (随机抽取, Art. 13; SPEC R10, R11, R12).

This file is the single implementation of the draw *and* the published standalone
verifier. It uses the Python standard library only, so anyone can check a published
draw with nothing but Python 3.11+:

    python drawcore.py bundle.json [--pool-hash HEX] [--secret-hash HEX]

Exit status 0 and "验证通过" with the panel when the bundle reproduces; exit status 1
naming the first field that differs otherwise; 2 for a usage error. Pass the
commitment that was published *before* the draw as --pool-hash / --secret-hash to
also check that the bundle is the one committed to.

Algorithm, version 1 (precise enough to reimplement)
====================================================

1. Inputs, frozen before the draw. A JSON object with exactly these keys:

   - ``session_id``, ``committee_id``: integers (the evaluation session and committee).
   - ``k``: panel size, integer >= 1. ``backup_count``: integer >= 0.
   - ``self_evaluation``: boolean (自主评聘 committee, R12).
   - ``host_unit_credit_code``: the 统一社会信用代码 of the host unit (the employer that
     runs the self-evaluation committee), a non-empty string when
     ``self_evaluation`` is true, ``null`` otherwise.
   - ``external_share``: ``{"numerator": n, "denominator": d}``, integers with
     ``0 <= n <= d`` and ``d >= 1`` (default 1/3). Present, and hashed, even when
     unused.
   - ``eligible``: list of ``{"number", "seat", "unit_credit_code"}``: the expert's
     public number (non-empty string, unique in the list), the roster seat
     (``"chair"``, ``"vice_chair"`` or ``"member"``) and the employer's credit code
     (non-empty string), sorted by ``number``.
   - ``exclusions``: list of ``{"number", "reason_code", "detail"}`` (non-empty
     strings, ``detail`` may be empty), sorted by (``number``, ``reason_code``,
     ``detail``). Reason codes in use: see ``EXCLUSION_REASONS``; an expert may be
     excluded for several reasons; no excluded number may also be eligible.

   Sorting compares strings by Unicode code point. All strings must be valid UTF-8.

   Canonical JSON: object keys sorted by code point, no whitespace at all (separators
   "," and ":"), non-ASCII characters written as themselves (not ``\\uXXXX``),
   encoded as UTF-8; integers in plain decimal, ``true``/``false``/``null``.
   Inside strings only ``"``, ``\\``, and the control characters U+0000–U+001F are
   escaped: ``\\b \\f \\n \\r \\t`` in short form, the others as ``\\u00xx`` with
   lowercase hex (exactly what Python's ``json.dumps(obj, sort_keys=True,
   separators=(",", ":"), ensure_ascii=False)`` produces).

   ``pool_hash = hex(SHA-256(canonical_json(inputs)))`` (lowercase hex, 64 chars).

2. Commitment. The server draws a fresh 32-byte secret from the operating system's
   CSPRNG (``secrets.token_bytes``) and publishes ``secret_hash = hex(SHA-256(secret))``
   together with ``pool_hash`` before anyone knows the entropy.

3. Draw. A supervisor supplies public entropy (e.g. dice digits), a non-empty string.

   ``seed = SHA-256(secret ‖ UTF-8(entropy) ‖ ASCII(pool_hash))`` (32 raw bytes; ‖ is
   byte concatenation). The secret (32 bytes) and pool_hash (64 bytes) have fixed
   lengths, so the concatenation is unambiguous.

   Ranking: every eligible expert gets the key ``HMAC-SHA256(key=seed,
   msg=UTF-8(number))``; experts are sorted by key ascending (byte-wise), ties
   (practically impossible) broken by ``number``.

   Quotas on the panel:
   (a) at least one member whose seat is ``chair`` or ``vice_chair`` (a presiding
       seat, R14);
   (b) for self-evaluation committees, at least ``E = ceil(k * n / d)`` members whose
       ``unit_credit_code`` is not equal (exact string comparison) to
       ``host_unit_credit_code`` ("external"); ``E = 0`` otherwise (R12).

   If fewer than k experts are eligible the draw fails with ``not_enough_eligible``;
   if none holds a presiding seat, ``no_presiding_seat``; if fewer than E are
   external, ``not_enough_external``; if the two quotas cannot be met together
   (only possible when E = k and no external expert holds a presiding seat),
   ``no_presiding_seat``.

   Walk the ranking from the top. Take the expert at position i unless, after taking
   it, no choice of the still-missing panel members among positions i+1, i+2, …
   could meet both quotas; in that case skip it. Stop when k are taken. (Feasibility
   for ``s`` open seats, ``p`` in {0, 1} presiding still needed and ``e`` external
   still needed, over the later positions with ``a`` presiding-and-external, ``b``
   presiding-only, ``c`` external-only experts and ``m`` experts in all: ``m >= s``
   and: if p = 0, ``e <= s`` and ``a + c >= e``; if p = 1 and e = 0, ``s >= 1`` and
   ``a + b >= 1``; if p = 1, e > 0 and a > 0, ``e <= s`` and ``a + c >= e``; if
   p = 1, e > 0 and a = 0, ``b >= 1``, ``c >= e`` and ``e + 1 <= s``.) Equivalently,
   the panel is the feasible set whose sorted rank positions are lexicographically
   smallest. ``panel`` lists its numbers in rank order.

   Backups: the ``backup_count`` experts ranked directly after the position at
   which the panel was completed, in rank order (fewer if the ranking ends first).

4. Declines. A panel member who declines (the reason, a string that is not blank,
   is recorded) is replaced by the first
   candidate, in this order: the backups in backup order, then every other expert in
   rank order; skipping anyone who already was on the panel (drawn, declined or an
   earlier replacement) and anyone whose joining would leave the panel without its
   quotas (a) and (b). The replacement takes the declined member's place in the
   current panel. Replacements are recorded in order as ``{"declined",
   "replacement", "reason"}`` and replayed in that order (a replacement may itself
   decline later); no replacement possible: ``no_replacement``. The reason is free
   text: the verifier checks only that it is not blank (its wording is attested by
   the project's audit trail, not by the draw).

5. Bundle, published after the draw (the secret is revealed then)::

       {"version": 1, "inputs": {...}, "pool_hash": hex, "secret_hash": hex,
        "secret": hex (64 lowercase hex chars), "entropy": str, "seed": hex,
        "panel": [numbers in rank order], "backups": [numbers in rank order],
        "replacements": [{"declined", "replacement", "reason"}, ...]}

   The verifier recomputes, in this order, the inputs' validity, pool_hash,
   secret_hash, seed, panel, backups and each replacement, and names the first that
   differs.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, NoReturn, TypedDict, cast

VERSION = 1
SECRET_BYTES = 32
SEATS = ("chair", "vice_chair", "member")
PRESIDING_SEATS = frozenset({"chair", "vice_chair"})
SEAT_LABELS = {"chair": "主任委员", "vice_chair": "副主任委员", "member": "委员"}
EXCLUSION_REASONS = (
    "conflict_with_applicant",
    "not_trained",
    "term_ended",
    "agreement_missing",
    "level_not_qualified",
    "overlapping_session",
    "not_in_pool",
)
DEFAULT_EXTERNAL_SHARE = (1, 3)

_INPUT_KEYS = frozenset(
    {
        "session_id",
        "committee_id",
        "k",
        "backup_count",
        "self_evaluation",
        "host_unit_credit_code",
        "external_share",
        "eligible",
        "exclusions",
    }
)
_BUNDLE_KEYS = frozenset(
    {
        "version",
        "inputs",
        "pool_hash",
        "secret_hash",
        "secret",
        "entropy",
        "seed",
        "panel",
        "backups",
        "replacements",
    }
)
_ELIGIBLE_KEYS = frozenset({"number", "seat", "unit_credit_code"})
_EXCLUSION_KEYS = frozenset({"number", "reason_code", "detail"})
_REPLACEMENT_KEYS = frozenset({"declined", "replacement", "reason"})
_HEX = frozenset("0123456789abcdef")


class ExternalShare(TypedDict):
    numerator: int
    denominator: int


class EligibleExpert(TypedDict):
    number: str
    seat: str
    unit_credit_code: str


class Exclusion(TypedDict):
    number: str
    reason_code: str
    detail: str


class DrawInputs(TypedDict):
    session_id: int
    committee_id: int
    k: int
    backup_count: int
    self_evaluation: bool
    host_unit_credit_code: str | None
    external_share: ExternalShare
    eligible: list[EligibleExpert]
    exclusions: list[Exclusion]


class DrawError(Exception):
    """The draw cannot be made (or replayed) from these inputs; `code` is stable."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"DrawError({self.code!r}, {self.message!r}, field={self.field!r})"


@dataclass(frozen=True)
class Replacement:
    declined: str
    replacement: str
    reason: str


@dataclass(frozen=True)
class DrawResult:
    """The outcome of one draw: `panel` and `backups` in rank order, declines in order."""

    seed: str
    ranking: tuple[str, ...]
    panel: tuple[str, ...]
    backups: tuple[str, ...]
    replacements: tuple[Replacement, ...] = field(default=())

    @property
    def current_panel(self) -> tuple[str, ...]:
        """The panel after the declines: each replacement sits in its decliner's place."""
        current = list(self.panel)
        for r in self.replacements:
            current[current.index(r.declined)] = r.replacement
        return tuple(current)


# --- inputs ------------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _invalid(message: str, field: str) -> DrawError:
    return DrawError("invalid_inputs", message, field)


def _is_int(value: Any) -> bool:
    # bool is an int subclass; true/false must not pass for a count or an id.
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any, field: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not value and not allow_empty):
        raise _invalid(f"{field} 必须是非空字符串", field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid(f"{field} 不是有效的 UTF-8 文本", field) from None
    return value


def _mapping(value: Any, keys: frozenset[str], field: str) -> Mapping[str, Any]:
    # `type(...) is dict` first: the Mapping ABC check is slow over a 5,000-expert pool.
    if not (type(value) is dict or isinstance(value, Mapping)) or value.keys() != keys:
        raise _invalid(f"{field} 必须恰好包含字段 {', '.join(sorted(keys))}", field)
    return value


class _Frozen(dict):  # type: ignore[type-arg]
    """A read-only dict: the entries of canonical inputs.

    Copies (copy, deepcopy, pickle) are plain dicts, so a copy can be edited and is
    validated again like any other input.
    """

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("规范化后的抽取输入是只读的")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (dict, (dict(self),))


class _FrozenList(list):  # type: ignore[type-arg]
    """A read-only list (the eligible and exclusions lists of canonical inputs)."""

    __slots__ = ()

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("规范化后的抽取输入是只读的")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = clear = extend = insert = pop = remove = reverse = sort = _read_only

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (list, (list(self),))


class _Canonical(_Frozen):
    """What normalize_inputs returns: validated, sorted and read-only all the way down,
    so that passing it on (commit, execute, replace, make_bundle) costs nothing: it is
    not validated again, and its pool_hash and last ranking are kept with it."""

    __slots__ = ("_digest", "_ranked")
    _digest: str
    _ranked: tuple[bytes, tuple[str, ...]]


def normalize_inputs(raw: Mapping[str, Any]) -> DrawInputs:
    """Validate the inputs and return their canonical form (lists sorted).

    The canonical form is read-only and returned as is when passed in again.
    """
    if type(raw) is _Canonical:
        return cast(DrawInputs, raw)
    return _normalize(raw)


def _normalize(raw: Mapping[str, Any]) -> DrawInputs:
    """normalize_inputs without the shortcut: the verifier trusts nothing it is given."""
    raw = _mapping(raw, _INPUT_KEYS, "inputs")
    for name in ("session_id", "committee_id", "k", "backup_count"):
        if not _is_int(raw[name]):
            raise _invalid(f"{name} 必须是整数", name)
    if raw["k"] < 1:
        raise _invalid("评审组人数 k 至少为 1", "k")
    if raw["backup_count"] < 0:
        raise _invalid("备选人数不能为负数", "backup_count")
    if not isinstance(raw["self_evaluation"], bool):
        raise _invalid("self_evaluation 必须是布尔值", "self_evaluation")
    host = raw["host_unit_credit_code"]
    if raw["self_evaluation"]:
        host = _text(host, "host_unit_credit_code")
    elif host is not None:
        raise _invalid("非自主评聘评委会不应填写本单位信用代码", "host_unit_credit_code")
    share = _mapping(
        raw["external_share"], frozenset({"numerator", "denominator"}), "external_share"
    )
    num, den = share["numerator"], share["denominator"]
    if not (_is_int(num) and _is_int(den) and den >= 1 and 0 <= num <= den):
        raise _invalid("单位外专家比例必须是 0 到 1 之间的分数", "external_share")

    if not isinstance(raw["eligible"], Sequence) or isinstance(raw["eligible"], str):
        raise _invalid("eligible 必须是列表", "eligible")
    eligible = _plain_entries(raw["eligible"], _ELIGIBLE_FIELDS)
    if eligible is None:
        eligible = _checked_eligible(raw["eligible"])
    eligible.sort(key=_BY_NUMBER)
    for before, after in itertools.pairwise(eligible):
        if before["number"] == after["number"]:
            raise _invalid(f"专家编号 {after['number']} 重复", "eligible")

    if not isinstance(raw["exclusions"], Sequence) or isinstance(raw["exclusions"], str):
        raise _invalid("exclusions 必须是列表", "exclusions")
    exclusions = _plain_entries(raw["exclusions"], _EXCLUSION_FIELDS)
    if exclusions is None:
        exclusions = _checked_exclusions(raw["exclusions"])
    exclusions.sort(key=_EXCLUSION_ORDER)
    both = {e["number"] for e in eligible} & {x["number"] for x in exclusions}
    if both:
        raise _invalid(f"专家 {', '.join(sorted(both))} 既在可抽取名单又在排除名单中", "exclusions")

    return cast(
        DrawInputs,
        _Canonical(
            session_id=raw["session_id"],
            committee_id=raw["committee_id"],
            k=raw["k"],
            backup_count=raw["backup_count"],
            self_evaluation=raw["self_evaluation"],
            host_unit_credit_code=host,
            external_share=_Frozen(numerator=num, denominator=den),
            eligible=_FrozenList(eligible),
            exclusions=_FrozenList(exclusions),
        ),
    )


# Key order of the canonical entries, and whether a field may be empty.
_ELIGIBLE_FIELDS = (("number", False), ("seat", False), ("unit_credit_code", False))
_EXCLUSION_FIELDS = (("number", False), ("reason_code", False), ("detail", True))
_BY_NUMBER = itemgetter("number")
_EXCLUSION_ORDER = itemgetter("number", "reason_code", "detail")


def _plain_entries(items: Any, names: tuple[tuple[str, bool], ...]) -> list[Any] | None:
    """The common case in one quick pass: plain dicts with exactly these keys and plain
    str values that are non-empty where required, valid UTF-8 and, for eligible
    entries, a known seat. None when anything else is seen: the caller then runs the
    entry-by-entry check, which raises the same error, for the same entry, as ever."""
    keys = frozenset(name for name, _ in names)
    (a, a_empty), (b, b_empty), (c, c_empty) = names
    seats = frozenset(SEATS) if b == "seat" else None
    out: list[Any] = []
    other_text: list[str] = []
    for item in items:
        if type(item) is not dict or item.keys() != keys:
            return None
        x, y, z = item[a], item[b], item[c]
        if type(x) is not str or type(y) is not str or type(z) is not str:
            return None
        if not (x or a_empty) or not (y or b_empty) or not (z or c_empty):
            return None
        if seats is not None and y not in seats:
            return None
        # Pure-ASCII text is valid UTF-8; the rest is checked below in one go.
        if not (x.isascii() and y.isascii() and z.isascii()):
            other_text += (x, y, z)
        out.append(_Frozen({a: x, b: y, c: z}))
    try:
        "".join(other_text).encode("utf-8")
    except UnicodeEncodeError:
        return None
    return out


def _checked_eligible(items: Any) -> list[Any]:
    eligible: list[Any] = []
    for item in items:
        item = _mapping(item, _ELIGIBLE_KEYS, "eligible")
        seat = item["seat"]
        if seat not in SEATS:
            raise _invalid(f"未知的席位 {seat!r}", "eligible")
        eligible.append(
            _Frozen(
                number=_text(item["number"], "eligible.number"),
                seat=seat,
                unit_credit_code=_text(item["unit_credit_code"], "eligible.unit_credit_code"),
            )
        )
    return eligible


def _checked_exclusions(items: Any) -> list[Any]:
    exclusions: list[Any] = []
    for item in items:
        item = _mapping(item, _EXCLUSION_KEYS, "exclusions")
        exclusions.append(
            _Frozen(
                number=_text(item["number"], "exclusions.number"),
                reason_code=_text(item["reason_code"], "exclusions.reason_code"),
                detail=_text(item["detail"], "exclusions.detail", allow_empty=True),
            )
        )
    return exclusions


def pool_hash(inputs: Mapping[str, Any]) -> str:
    return _pool_hash(normalize_inputs(inputs))


def _pool_hash(canonical: DrawInputs) -> str:
    """hex(SHA-256(canonical JSON)), computed once per canonical inputs object."""
    digest = getattr(canonical, "_digest", None)
    if digest is None:
        digest = hashlib.sha256(canonical_json(canonical)).hexdigest()
        if type(canonical) is _Canonical:
            canonical._digest = digest
    return digest


def external_required(inputs: DrawInputs) -> int:
    """E = ceil(k × share) for self-evaluation committees (R12), else 0."""
    if not inputs["self_evaluation"]:
        return 0
    share = inputs["external_share"]
    return -(-inputs["k"] * share["numerator"] // share["denominator"])


# --- commitment and seed -----------------------------------------------------------


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def secret_hash(secret: bytes) -> str:
    return hashlib.sha256(secret).hexdigest()


def commit(inputs: Mapping[str, Any]) -> tuple[bytes, str, str]:
    """A fresh secret and the commitment to publish: (secret, pool_hash, secret_hash)."""
    digest = pool_hash(inputs)
    secret = new_secret()
    return secret, digest, secret_hash(secret)


def derive_seed(secret: bytes, entropy: str, pool_digest: str) -> bytes:
    if len(secret) != SECRET_BYTES:
        raise DrawError("invalid_secret", f"服务器密钥必须是 {SECRET_BYTES} 字节", "secret")
    if not isinstance(entropy, str) or not entropy:
        raise DrawError("invalid_entropy", "公开随机数不能为空", "entropy")
    try:
        entropy_bytes = entropy.encode("utf-8")
    except UnicodeEncodeError:
        raise DrawError("invalid_entropy", "公开随机数不是有效的 UTF-8 文本", "entropy") from None
    return hashlib.sha256(secret + entropy_bytes + pool_digest.encode("ascii")).digest()


def _seed_bytes(seed: bytes | str) -> bytes:
    if isinstance(seed, bytes):
        return seed
    if len(seed) != 64 or not set(seed) <= _HEX:
        raise DrawError("invalid_seed", "种子必须是 64 位小写十六进制", "seed")
    return bytes.fromhex(seed)


# --- the draw ----------------------------------------------------------------------


def rank(inputs: Mapping[str, Any], seed: bytes | str) -> tuple[str, ...]:
    return _rank(normalize_inputs(inputs), _seed_bytes(seed))


def _rank(canonical: DrawInputs, key: bytes) -> tuple[str, ...]:
    """Numbers by (HMAC-SHA256(key, UTF-8(number)), number); kept with canonical inputs
    for the last key, since replace() recomputes the ranking to check a result."""
    ranked = getattr(canonical, "_ranked", None)
    if ranked is not None and ranked[0] == key:
        return cast(tuple[str, ...], ranked[1])
    # HMAC (RFC 2104) from two precomputed SHA-256 states, copied per number: the same
    # digests as hmac.digest(key, msg, "sha256"), about half the cost over 5,000 numbers.
    block = hashlib.sha256(key).digest() if len(key) > _BLOCK else key
    block = block.ljust(_BLOCK, b"\0")
    inner, outer = hashlib.sha256(block.translate(_IPAD)), hashlib.sha256(block.translate(_OPAD))
    keyed = []
    for e in canonical["eligible"]:
        number = e["number"]
        h = inner.copy()
        h.update(number.encode("utf-8"))
        o = outer.copy()
        o.update(h.digest())
        keyed.append((o.digest(), number))
    keyed.sort()
    ranking = tuple(number for _, number in keyed)
    if type(canonical) is _Canonical:
        canonical._ranked = (key, ranking)
    return ranking


_BLOCK = 64  # SHA-256's block size in bytes
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


@dataclass(frozen=True)
class _Quota:
    """Which experts count for which quota, and how many the panel needs."""

    presiding: frozenset[str]
    external: frozenset[str]
    external_needed: int

    @classmethod
    def of(cls, inputs: DrawInputs) -> _Quota:
        host = inputs["host_unit_credit_code"]
        return cls(
            presiding=frozenset(
                e["number"] for e in inputs["eligible"] if e["seat"] in PRESIDING_SEATS
            ),
            external=frozenset(
                e["number"]
                for e in inputs["eligible"]
                if inputs["self_evaluation"] and e["unit_credit_code"] != host
            ),
            external_needed=external_required(inputs),
        )

    def met(self, panel: Sequence[str]) -> bool:
        return bool(self.presiding.intersection(panel)) and (
            len(self.external.intersection(panel)) >= self.external_needed
        )

    def totals(self) -> tuple[int, int, int]:
        """(a, b, c) of step 3 over the whole pool: presiding and external, presiding
        only, external only."""
        both = len(self.presiding & self.external)
        return both, len(self.presiding) - both, len(self.external) - both

    @staticmethod
    def feasible(
        need_presiding: bool,
        need_external: int,
        slots: int,
        later: int,
        counts: tuple[int, int, int],
    ) -> bool:
        """Can `slots` more experts among `later` ones (of `counts`) meet what is needed?"""
        if slots < 0 or later < slots:
            return False
        a, b, c = counts
        if not need_presiding:
            return need_external <= slots and a + c >= need_external
        if need_external == 0:
            return slots >= 1 and a + b >= 1
        if a > 0:
            return need_external <= slots and a + c >= need_external
        return b >= 1 and c >= need_external and need_external + 1 <= slots


def draw(inputs: Mapping[str, Any], seed: bytes | str) -> DrawResult:
    """Rank, walk and take the panel and backups (step 3 of the module docstring)."""
    return _draw(normalize_inputs(inputs), _seed_bytes(seed))


def check_feasible(inputs: Mapping[str, Any]) -> None:
    """Raise the DrawError a draw of these inputs would raise, whatever the seed: the
    quotas of step 3 depend on who is in the pool, never on the ranking."""
    canonical = normalize_inputs(inputs)
    _feasible_counts(canonical, _Quota.of(canonical), len(canonical["eligible"]))


def _feasible_counts(canonical: DrawInputs, quota: _Quota, size: int) -> tuple[int, int, int]:
    """The seed-free refusals of step 3; returns the pool's (a, b, c) for the walk."""
    k = canonical["k"]
    if size < k:
        raise DrawError("not_enough_eligible", f"可抽取专家 {size} 人，少于评审组人数 {k} 人", "k")
    if not quota.presiding:
        raise DrawError("no_presiding_seat", "可抽取专家中没有主任委员或副主任委员", "eligible")
    if len(quota.external) < quota.external_needed:
        raise DrawError(
            "not_enough_external",
            f"本单位以外的可抽取专家 {len(quota.external)} 人，"
            f"少于规定的 {quota.external_needed} 人",
            "eligible",
        )
    totals = quota.totals()
    if not quota.feasible(True, quota.external_needed, k, size, totals):
        raise DrawError(
            "no_presiding_seat",
            "评审组须全部来自本单位以外，但本单位以外的可抽取专家中没有主任委员或副主任委员",
            "eligible",
        )
    return totals


def _draw(canonical: DrawInputs, key: bytes) -> DrawResult:
    quota = _Quota.of(canonical)
    # Refuse before ranking: infeasibility does not depend on the seed.
    total_a, total_b, total_c = _feasible_counts(canonical, quota, len(canonical["eligible"]))
    ranking = _rank(canonical, key)
    k = canonical["k"]
    # The walk of step 3, O(position reached): what the panel still needs is kept as it
    # grows, and the later positions' (a, b, c) are the pool's totals minus those of
    # the positions walked so far, so no step rescans the ranking and the walk stops
    # reading it once the panel is complete.
    presiding, external, feasible = quota.presiding, quota.external, quota.feasible
    panel: list[str] = []
    need_presiding, need_external = True, quota.external_needed
    a = b = c = 0
    position = -1
    for position, number in enumerate(ranking):
        p, x = number in presiding, number in external
        a += p and x
        b += p and not x
        c += x and not p
        still_presiding = need_presiding and not p
        still_external = need_external - (need_external > 0 and x)
        later = len(ranking) - position - 1
        slots = k - len(panel) - 1
        if feasible(
            still_presiding, still_external, slots, later, (total_a - a, total_b - b, total_c - c)
        ):
            panel.append(number)
            need_presiding, need_external = still_presiding, still_external
            if len(panel) == k:
                break
    backups = ranking[position + 1 : position + 1 + canonical["backup_count"]]
    return DrawResult(seed=key.hex(), ranking=ranking, panel=tuple(panel), backups=backups)


def execute(inputs: Mapping[str, Any], secret: bytes, entropy: str) -> DrawResult:
    """The draw proper: seed from the committed secret, the entropy and the pool."""
    canonical = normalize_inputs(inputs)
    return _draw(canonical, derive_seed(secret, entropy, _pool_hash(canonical)))


def replace(
    result: DrawResult,
    declined: str,
    inputs: Mapping[str, Any],
    seed: bytes | str,
    reason: str,
) -> DrawResult:
    """Record that `declined` declines and who replaces them (step 4)."""
    canonical = normalize_inputs(inputs)
    key = _seed_bytes(seed)
    ranking = _rank(canonical, key)
    if key.hex() != result.seed or ranking != result.ranking:
        raise DrawError("invalid_seed", "抽取结果与种子不符", "seed")
    if not isinstance(reason, str) or not reason.strip():
        raise DrawError("invalid_reason", "谢绝须说明理由", "reason")
    current = result.current_panel
    if declined not in current:
        raise DrawError("not_on_panel", f"专家 {declined} 不在当前评审组中", "declined")
    used = set(result.panel) | {r.replacement for r in result.replacements}
    order = [*result.backups, *(n for n in ranking if n not in result.backups)]
    rest = [n for n in current if n != declined]
    quota = _Quota.of(canonical)
    for candidate in order:
        if candidate not in used and quota.met([*rest, candidate]):
            return DrawResult(
                seed=result.seed,
                ranking=result.ranking,
                panel=result.panel,
                backups=result.backups,
                replacements=(*result.replacements, Replacement(declined, candidate, reason)),
            )
    raise DrawError("no_replacement", f"没有可以替换专家 {declined} 的候选人", "declined")


# --- the bundle and its verifier ---------------------------------------------------


def make_bundle(
    inputs: Mapping[str, Any], secret: bytes, entropy: str, result: DrawResult
) -> dict[str, Any]:
    """The published record of a draw (step 5): every input, the secret, the outcome."""
    canonical = normalize_inputs(inputs)
    return {
        "version": VERSION,
        "inputs": canonical,
        "pool_hash": _pool_hash(canonical),
        "secret_hash": secret_hash(secret),
        "secret": secret.hex(),
        "entropy": entropy,
        "seed": result.seed,
        "panel": list(result.panel),
        "backups": list(result.backups),
        "replacements": [
            {"declined": r.declined, "replacement": r.replacement, "reason": r.reason}
            for r in result.replacements
        ],
    }


def _differs(name: str, published: Any, recomputed: Any) -> tuple[bool, str]:
    return False, f"{name} 不一致：发布值 {published!r}，重新计算值 {recomputed!r}"


def replay(bundle: Mapping[str, Any]) -> DrawResult:
    """Recompute the draw a bundle describes; DrawError names the first mismatch."""
    ok, message, result = _replay(bundle, None, None)
    if not ok or result is None:
        raise DrawError("mismatch", message)
    return result


def verify_bundle(
    bundle: Any,
    *,
    expected_pool_hash: str | None = None,
    expected_secret_hash: str | None = None,
) -> tuple[bool, str]:
    """(True, "验证通过") when every recorded value recomputes; else (False, what differs).

    `expected_*` are the commitment published before the draw, when the caller has it.
    """
    ok, message, _ = _replay(bundle, expected_pool_hash, expected_secret_hash)
    return ok, message


def _replay(
    bundle: Any, expected_pool_hash: str | None, expected_secret_hash: str | None
) -> tuple[bool, str, DrawResult | None]:
    if not isinstance(bundle, Mapping) or set(bundle) != _BUNDLE_KEYS:
        return False, f"bundle 必须恰好包含字段 {', '.join(sorted(_BUNDLE_KEYS))}", None
    if bundle["version"] != VERSION or isinstance(bundle["version"], bool):
        return False, f"version 不受支持：{bundle['version']!r}（本验证器支持 {VERSION}）", None
    try:
        inputs = _normalize(bundle["inputs"])  # never the shortcut: check everything
    except DrawError as exc:
        return False, f"inputs 无效：{exc.message}", None

    digest = _pool_hash(inputs)
    if bundle["pool_hash"] != digest:
        return (*_differs("pool_hash", bundle["pool_hash"], digest), None)
    if expected_pool_hash is not None and expected_pool_hash != digest:
        return (*_differs("pool_hash（与事先公布的承诺）", expected_pool_hash, digest), None)

    secret_hex = bundle["secret"]
    if not (
        isinstance(secret_hex, str)
        and len(secret_hex) == 2 * SECRET_BYTES
        and set(secret_hex) <= _HEX
    ):
        return False, "secret 必须是 64 位小写十六进制", None
    secret = bytes.fromhex(secret_hex)
    committed = secret_hash(secret)
    if bundle["secret_hash"] != committed:
        return (*_differs("secret_hash", bundle["secret_hash"], committed), None)
    if expected_secret_hash is not None and expected_secret_hash != committed:
        return (*_differs("secret_hash（与事先公布的承诺）", expected_secret_hash, committed), None)

    try:
        seed = derive_seed(secret, bundle["entropy"], digest)
    except DrawError as exc:
        return False, f"entropy 无效：{exc.message}", None
    if bundle["seed"] != seed.hex():
        return (*_differs("seed", bundle["seed"], seed.hex()), None)

    try:
        result = draw(inputs, seed)
    except DrawError as exc:
        return False, f"无法按这些输入抽取：{exc.message}", None
    if bundle["panel"] != list(result.panel):
        return (*_differs("panel", bundle["panel"], list(result.panel)), None)
    if bundle["backups"] != list(result.backups):
        return (*_differs("backups", bundle["backups"], list(result.backups)), None)

    replacements = bundle["replacements"]
    if not isinstance(replacements, list):
        return False, "replacements 必须是列表", None
    for index, record in enumerate(replacements):
        name = f"replacements[{index}]"
        if not isinstance(record, Mapping) or set(record) != _REPLACEMENT_KEYS:
            return False, f"{name} 必须恰好包含字段 declined, reason, replacement", None
        try:
            result = replace(result, record["declined"], inputs, seed, record["reason"])
        except DrawError as exc:
            return False, f"{name} 无法重放：{exc.message}", None
        expected = result.replacements[-1].replacement
        if record["replacement"] != expected:
            return (*_differs(f"{name}.replacement", record["replacement"], expected), None)
    return True, "验证通过", result


def describe(bundle: Mapping[str, Any], result: DrawResult) -> str:
    """The human-readable panel of a verified bundle (for the command line)."""
    seats = {e["number"]: e for e in bundle["inputs"]["eligible"]}

    def label(number: str) -> str:
        expert = seats[number]
        return f"{number}（{SEAT_LABELS[expert['seat']]}，单位 {expert['unit_credit_code']}）"

    lines = ["抽取结果（按排名）："]
    lines += [f"  {i}. {label(n)}" for i, n in enumerate(result.panel, 1)]
    lines.append("备选：" if result.backups else "备选：无")
    lines += [f"  {i}. {label(n)}" for i, n in enumerate(result.backups, 1)]
    for r in result.replacements:
        lines.append(f"替换：{r.declined} → {r.replacement}（理由：{r.reason}）")
    if result.replacements:
        lines.append("当前评审组：" + "、".join(result.current_panel))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="drawcore.py", description="验证职称评审专家随机抽取结果（bundle.json）"
    )
    parser.add_argument("bundle", type=Path, help="发布的抽取记录 JSON 文件")
    parser.add_argument("--pool-hash", help="抽取前公布的 pool_hash（可选）")
    parser.add_argument("--secret-hash", help="抽取前公布的 secret_hash（可选）")
    args = parser.parse_args(argv)
    try:
        bundle = json.loads(args.bundle.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        print(f"验证失败：无法读取 {args.bundle}：{exc}")
        return 1
    ok, message, result = _replay(bundle, args.pool_hash, args.secret_hash)
    if not ok or result is None:
        print(f"验证失败：{message}")
        return 1
    print(message)
    print(describe(bundle, result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
