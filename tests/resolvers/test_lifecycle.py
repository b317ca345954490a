"""Every lifecycle transition table, walked pair by pair (SPEC.md lifecycles)."""

import itertools

import pytest

from models.enums import (
    ComplaintStatus,
    ExpertStatus,
    FilingStatus,
    SessionStatus,
)
from resolvers.errors import DomainError, ErrorCode
from resolvers.lifecycle import TRANSITIONS, can_transition, check_transition

ALL_PAIRS = [
    (enum_cls, a, b)
    for enum_cls in TRANSITIONS
    for a, b in itertools.product(list(enum_cls), repeat=2)
]


def test_transition_tables_cover_every_status():
    for enum_cls, table in TRANSITIONS.items():
        assert set(table) == set(enum_cls), enum_cls.__name__
        for targets in table.values():
            assert targets <= set(enum_cls)


@pytest.mark.parametrize(
    ("enum_cls", "current", "target"),
    ALL_PAIRS,
    ids=[f"{c.__name__}:{a.value}->{b.value}" for c, a, b in ALL_PAIRS],
)
def test_check_transition_matches_table(enum_cls, current, target):
    allowed = target in TRANSITIONS[enum_cls][current]
    if allowed:
        check_transition(current, target)
    else:
        with pytest.raises(DomainError) as exc:
            check_transition(current, target)
        assert exc.value.code == ErrorCode.INVALID_TRANSITION


def test_filing_lifecycle_follows_the_regulation():
    """Art. 12, 31: draft → submitted → filed | rejected; filed → expired | suspended |
    revoked; revoked is final."""
    assert TRANSITIONS[FilingStatus][FilingStatus.DRAFT] == {FilingStatus.SUBMITTED}
    assert TRANSITIONS[FilingStatus][FilingStatus.SUBMITTED] == {
        FilingStatus.FILED,
        FilingStatus.REJECTED,
    }
    assert TRANSITIONS[FilingStatus][FilingStatus.FILED] == {
        FilingStatus.EXPIRED,
        FilingStatus.SUSPENDED,
        FilingStatus.REVOKED,
    }
    assert TRANSITIONS[FilingStatus][FilingStatus.REVOKED] == frozenset()


def test_exited_expert_is_final():
    """Art. 22: exited experts keep their history and never come back."""
    assert TRANSITIONS[ExpertStatus][ExpertStatus.EXITED] == frozenset()
    assert not can_transition(ExpertStatus.EXITED, ExpertStatus.IN_POOL)


def test_finalised_session_is_immutable():
    """R14/R15: a finalised session cannot change state."""
    assert TRANSITIONS[SessionStatus][SessionStatus.FINALISED] == frozenset()


def test_complaint_lifecycle_follows_r16():
    assert TRANSITIONS[ComplaintStatus][ComplaintStatus.RECEIVED] == {
        ComplaintStatus.ACCEPTED,
        ComplaintStatus.NOT_ACCEPTED,
    }
    assert TRANSITIONS[ComplaintStatus][ComplaintStatus.CLOSED] == frozenset()
