"""Shared input checks: every domain refuses the same bad text the same way."""

import pytest

from models.enums import Level
from resolvers.errors import DomainError, ErrorCode
from resolvers.validate import enum_value, text

BAD_TEXT = [
    (None, ErrorCode.REQUIRED),
    ("", ErrorCode.REQUIRED),
    ("   \u3000 ", ErrorCode.REQUIRED),
    ("x" * 11, ErrorCode.TOO_LONG),
    ("a\x00b", ErrorCode.INVALID),
    ("a\x1bb", ErrorCode.INVALID),
    ("abc\u202edcba", ErrorCode.INVALID),
    ("\ud800", ErrorCode.INVALID),
    (12, ErrorCode.INVALID),
    (["x"], ErrorCode.INVALID),
]


@pytest.mark.parametrize(("value", "code"), BAD_TEXT)
def test_text_refuses_bad_values_with_a_code(value, code):
    with pytest.raises(DomainError) as exc:
        text(value, "name", max_length=10)
    assert (exc.value.code, exc.value.field) == (code, "name")


def test_text_cleans_and_keeps_newlines_only_where_allowed():
    assert text("  北京\n海淀 ", "f", max_length=10) == "北京\n海淀"
    assert text("", "f", max_length=10, required=False) == ""
    with pytest.raises(DomainError):
        text("北京\n海淀", "f", max_length=10, multiline=False)
    # NFC: a decomposed é counts as one character.
    assert text("e\u0301", "f", max_length=1) == "\u00e9"


def test_enum_value_refuses_unknown_values():
    assert enum_value(Level, "senior", "level") is Level.SENIOR
    with pytest.raises(DomainError) as exc:
        enum_value(Level, "emperor", "level")
    assert (exc.value.code, exc.value.field) == (ErrorCode.INVALID, "level")
