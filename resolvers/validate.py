"""Input checks shared by every service module: text fields and enum values.

One definition so that the GraphQL API, the HTML forms and every domain refuse the
same bad input with the same codes: wrong type, blank when required, over length,
lone surrogates, control characters (newline, carriage return and tab are allowed in
multi-line fields) and bidirectional overrides (a classic way to disguise text).
"""

import unicodedata
from enum import Enum
from typing import Any, TypeVar

from resolvers.errors import DomainError, ErrorCode

E = TypeVar("E", bound=Enum)

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MULTILINE_OK = frozenset("\n\r\t")


def text(
    value: Any,
    field: str,
    *,
    max_length: int,
    required: bool = True,
    multiline: bool = True,
) -> str:
    """The cleaned text (NFC, stripped) or a DomainError naming `field`."""
    if value is not None and not isinstance(value, str):
        raise DomainError(ErrorCode.INVALID, "应为文本", field)
    try:
        (value or "").encode("utf-8")
    except UnicodeEncodeError:
        raise DomainError(ErrorCode.INVALID, "包含无效字符", field) from None
    value = unicodedata.normalize("NFC", value or "").strip()
    if required and not value:
        raise DomainError(ErrorCode.REQUIRED, "此项为必填项", field)
    if len(value) > max_length:
        raise DomainError(ErrorCode.TOO_LONG, f"不能超过{max_length}个字符", field)
    allowed = MULTILINE_OK if multiline else frozenset()
    for ch in value:
        if ch in BIDI_CONTROLS or (unicodedata.category(ch) == "Cc" and ch not in allowed):
            raise DomainError(ErrorCode.INVALID, "不能包含控制字符", field)
    return value


def enum_value(enum: type[E], value: Any, field: str) -> E:
    """`enum(value)`, or INVALID naming `field`."""
    try:
        return enum(value)
    except ValueError:
        raise DomainError(ErrorCode.INVALID, "取值无效", field) from None
