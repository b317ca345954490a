"""Form plumbing shared by every HTML form: submitted values and per-field errors.

A form's input names are the field names the resolvers put in `DomainError.field`
(the GraphQL camelCase names, e.g. `personInCharge`, `proposedCommittees[0].name`),
so an error lands next to its input without a translation table, and the page shows
the same stable code a GraphQL client gets in `UserError.code`.

Parsing helpers here only turn text into Python values (an integer, a date); every
rule about what a value may be stays in resolvers/.
"""

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from starlette.datastructures import FormData
from starlette.requests import Request

from resolvers.errors import DomainError, ErrorCode

CSRF_FIELD = "csrf_token"
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class FieldError:
    """One message shown next to an input, with the code GraphQL clients also see."""

    code: str
    message: str


@dataclass
class Form:
    """The values a user submitted (kept on error) and the errors to show.

    `prefix` keeps element ids unique when one page holds several forms.
    """

    prefix: str
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, FieldError] = field(default_factory=dict)
    # Errors that belong to no input (field None or unknown to this form).
    general: list[FieldError] = field(default_factory=list)
    fields: frozenset[str] | None = None

    @classmethod
    def empty(cls, prefix: str, values: Mapping[str, object] | None = None) -> "Form":
        """A fresh form, optionally pre-filled (e.g. with the stored object's values)."""
        return cls(prefix, {k: _text(v) for k, v in (values or {}).items()})

    @classmethod
    async def submitted(cls, request: Request, prefix: str) -> "Form":
        data: FormData = await request.form()
        values = {k: v for k, v in data.items() if isinstance(v, str) and k != CSRF_FIELD}
        return cls(prefix, values)

    # --- reading values -------------------------------------------------------------

    def value(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    def text(self, name: str) -> str:
        return self.value(name).strip()

    def checked(self, name: str) -> bool:
        return self.value(name) in ("1", "on", "true", "yes")

    def integer(self, name: str, *, message: str = "请填写整数") -> int | None:
        """The integer typed into `name`; None when left blank."""
        raw = self.text(name)
        if not raw:
            return None
        if not re.fullmatch(r"[+-]?\d{1,18}", raw):
            raise DomainError(ErrorCode.INVALID, message, name)
        return int(raw)

    def date(self, name: str) -> dt.date | None:
        """The date typed into `name` (YYYY-MM-DD, what `<input type=date>` sends)."""
        raw = self.text(name)
        if not raw:
            return None
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            message = "日期格式应为 年-月-日,如 2026-03-01"
            raise DomainError(ErrorCode.INVALID, message, name) from None

    # --- errors ---------------------------------------------------------------------

    def add(self, exc: DomainError, *, rename: Callable[[str], str] | None = None) -> "Form":
        """Attach a resolver's error to its input (or to the form as a whole)."""
        name = exc.field
        if name is not None and rename is not None:
            name = rename(name)
        error = FieldError(exc.code.value, exc.message)
        known = name is not None and (self.fields is None or name in self.fields)
        if known and name is not None and name not in self.errors:
            self.errors[name] = error
        elif not known:
            self.general.append(error)
        return self

    def expect(self, names: Iterable[str]) -> "Form":
        """Declare the inputs this form shows; errors on other fields go to the top."""
        self.fields = frozenset(names)
        return self

    @property
    def has_errors(self) -> bool:
        return bool(self.errors or self.general)

    def error(self, name: str) -> FieldError | None:
        return self.errors.get(name)

    def id(self, name: str) -> str:
        """A valid, unique element id for input `name`."""
        return f"{self.prefix}-{_ID_UNSAFE.sub('-', name).strip('-')}"

    def error_id(self, name: str) -> str:
        return self.id(name) + "-error"


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def shift_index(prefix: str, positions: list[int]) -> Callable[[str], str]:
    """Map `prefix[k].x` errors back to the row the user typed in.

    Blank rows of a repeated group are not sent to the resolver, so its k-th item is
    the form's `positions[k]`-th row.
    """
    pattern = re.compile(re.escape(prefix) + r"\[(\d+)\]")

    def rename(name: str) -> str:
        def sub(m: re.Match[str]) -> str:
            k = int(m.group(1))
            row = positions[k] if k < len(positions) else k
            return f"{prefix}[{row}]"

        return pattern.sub(sub, name, count=1)

    return rename
