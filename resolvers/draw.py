"""The project's face of the verifiable draw (Art. 13, R10–R12).

The algorithm itself lives in resolvers/drawcore.py, which is stdlib-only because it
is also the standalone verifier published with every bundle. This module gives the
service layer typed inputs (Seat, ExclusionReason) and speaks the error contract:
every drawcore.DrawError becomes a DomainError with a stable ErrorCode.

The database workflow (evaluation.commit_draw / execute_draw / decline_invitation)
is expected to call, in order:

1. ``inputs = build_inputs(...)`` from the frozen roster and exclusions (or
   ``normalize(row.inputs)`` for stored inputs): the canonical form is read-only and
   every later step takes it without validating it again;
2. ``secret, pool_hash, secret_hash = commit(inputs)``; store the secret encrypted,
   publish both hashes;
3. ``result = execute(inputs, secret, entropy)`` once the supervisor enters entropy;
4. ``result = replace(result, declined, inputs, reason=...)`` per decline;
5. ``bundle(inputs, secret, entropy, result)`` is the JSON to publish and store;
   ``verify_bundle`` (or ``python resolvers/drawcore.py bundle.json``) checks it.
"""

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from models.enums import Seat
from resolvers import drawcore, validate
from resolvers.config import get_config
from resolvers.drawcore import DrawInputs, DrawResult, Replacement
from resolvers.errors import DomainError, ErrorCode

__all__ = [
    "ENTROPY_MAX_LENGTH",
    "Candidate",
    "DrawInputs",
    "DrawResult",
    "Excluded",
    "ExclusionReason",
    "Replacement",
    "build_inputs",
    "bundle",
    "check_feasible",
    "commit",
    "draw",
    "execute",
    "normalize",
    "pool_hash",
    "replace",
    "secret_hash",
    "verify_bundle",
]

# The Draw.entropy column is 200 characters wide.
ENTROPY_MAX_LENGTH = 200


class ExclusionReason(StrEnum):
    """Why a roster expert is not in the eligible pool (R10, R11); stored in the bundle."""

    CONFLICT_WITH_APPLICANT = "conflict_with_applicant"
    NOT_TRAINED = "not_trained"
    TERM_ENDED = "term_ended"
    AGREEMENT_MISSING = "agreement_missing"
    LEVEL_NOT_QUALIFIED = "level_not_qualified"
    OVERLAPPING_SESSION = "overlapping_session"
    NOT_IN_POOL = "not_in_pool"


@dataclass(frozen=True)
class Candidate:
    """An eligible roster expert, as far as the draw needs to know them."""

    number: str
    seat: Seat
    unit_credit_code: str


@dataclass(frozen=True)
class Excluded:
    """A roster expert left out of the pool, with the reason published in the bundle."""

    number: str
    reason: ExclusionReason
    detail: str = ""


_CODES: dict[str, ErrorCode] = {
    "not_enough_eligible": ErrorCode.DRAW_NOT_ENOUGH_ELIGIBLE,
    "no_presiding_seat": ErrorCode.DRAW_NO_PRESIDING_SEAT,
    "not_enough_external": ErrorCode.DRAW_NOT_ENOUGH_EXTERNAL,
    "no_replacement": ErrorCode.DRAW_NO_REPLACEMENT,
}


# Value of a member or of its value, without an Enum call per roster expert (the
# StrEnum members hash and compare as their values); anything else goes through the
# Enum, which refuses it as before.
_SEAT_VALUES: dict[Any, str] = {s.value: s.value for s in Seat}
_REASON_VALUES: dict[Any, str] = {r.value: r.value for r in ExclusionReason}


def _value(values: dict[Any, str], enum: type[StrEnum], member: Any) -> str:
    try:
        return values[member]
    except (KeyError, TypeError):
        return enum(member).value


@contextmanager
def _domain_errors() -> Iterator[None]:
    try:
        yield
    except drawcore.DrawError as exc:
        # Codes without a dedicated ErrorCode are malformed input from our own callers.
        code = _CODES.get(exc.code, ErrorCode.INVALID)
        raise DomainError(code, exc.message, exc.field) from exc


def build_inputs(
    *,
    session_id: int,
    committee_id: int,
    k: int,
    backup_count: int,
    self_evaluation: bool,
    host_unit_credit_code: str | None,
    eligible: Iterable[Candidate],
    exclusions: Iterable[Excluded],
    external_share: tuple[int, int] | None = None,
) -> DrawInputs:
    """The canonical, validated inputs that `pool_hash` commits to.

    `external_share` defaults to the configured R12 share (Config.external_share).
    """
    numerator, denominator = external_share or get_config().external_share
    raw: dict[str, Any] = {
        "session_id": session_id,
        "committee_id": committee_id,
        "k": k,
        "backup_count": backup_count,
        "self_evaluation": self_evaluation,
        "host_unit_credit_code": host_unit_credit_code if self_evaluation else None,
        "external_share": {"numerator": numerator, "denominator": denominator},
        "eligible": [
            {
                "number": c.number,
                "seat": _value(_SEAT_VALUES, Seat, c.seat),
                "unit_credit_code": c.unit_credit_code,
            }
            for c in eligible
        ],
        "exclusions": [
            {
                "number": x.number,
                "reason_code": _value(_REASON_VALUES, ExclusionReason, x.reason),
                "detail": x.detail,
            }
            for x in exclusions
        ],
    }
    with _domain_errors():
        return drawcore.normalize_inputs(raw)


def normalize(inputs: Mapping[str, Any]) -> DrawInputs:
    """The canonical, read-only form of stored inputs (e.g. Draw.inputs read back).

    Normalise once and pass the result on: commit, execute, replace and bundle take
    it as is (no second validation of a 5,000-expert pool) and reuse its pool_hash.
    `build_inputs` already returns this form.
    """
    with _domain_errors():
        return drawcore.normalize_inputs(inputs)


def check_feasible(inputs: Mapping[str, Any]) -> None:
    """Raise the DomainError `execute` would raise for a pool that cannot give a panel
    (too few eligible, no presiding seat, R12 external share), whatever the seed."""
    with _domain_errors():
        drawcore.check_feasible(inputs)


def pool_hash(inputs: Mapping[str, Any]) -> str:
    with _domain_errors():
        return drawcore.pool_hash(inputs)


def secret_hash(secret: bytes) -> str:
    return drawcore.secret_hash(secret)


def commit(inputs: Mapping[str, Any]) -> tuple[bytes, str, str]:
    """A fresh 32-byte secret and the commitment (secret, pool_hash, secret_hash)."""
    with _domain_errors():
        return drawcore.commit(inputs)


def execute(inputs: Mapping[str, Any], secret: bytes, entropy: str) -> DrawResult:
    """Draw the panel and backups; `entropy` is used exactly as given (store it so)."""
    if not entropy.strip():
        raise DomainError(ErrorCode.REQUIRED, "请输入公开随机数（如骰子点数）", "entropy")
    if len(entropy) > ENTROPY_MAX_LENGTH:
        raise DomainError(
            ErrorCode.TOO_LONG, f"公开随机数不能超过 {ENTROPY_MAX_LENGTH} 个字符", "entropy"
        )
    # Checked, never altered: the verifier must hash exactly what was typed.
    if validate.text(entropy, "entropy", max_length=ENTROPY_MAX_LENGTH) != entropy.strip():
        raise DomainError(ErrorCode.INVALID, "公开随机数包含无效字符", "entropy")
    with _domain_errors():
        return drawcore.execute(inputs, secret, entropy)


def draw(inputs: Mapping[str, Any], seed: bytes | str) -> DrawResult:
    with _domain_errors():
        return drawcore.draw(inputs, seed)


def replace(
    result: DrawResult, declined: str, inputs: Mapping[str, Any], *, reason: str
) -> DrawResult:
    """Replace a declining panel member by the next eligible rank (R10)."""
    with _domain_errors():
        return drawcore.replace(result, declined, inputs, result.seed, reason)


def bundle(
    inputs: Mapping[str, Any], secret: bytes, entropy: str, result: DrawResult
) -> dict[str, Any]:
    """The JSON-ready record to publish once the secret is revealed."""
    with _domain_errors():
        return drawcore.make_bundle(inputs, secret, entropy, result)


def verify_bundle(
    published: Any,
    *,
    expected_pool_hash: str | None = None,
    expected_secret_hash: str | None = None,
) -> tuple[bool, str]:
    return drawcore.verify_bundle(
        published,
        expected_pool_hash=expected_pool_hash,
        expected_secret_hash=expected_secret_hash,
    )
