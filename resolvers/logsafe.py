"""Logging an unexpected exception (a bug) without the personal data it may carry.

An exception's message is built from whatever the failing code held: a `str(exc)` of
a driver error quotes the row (an ID number, a phone), a ValueError quotes its input.
The log line of a bug therefore carries a correlation id (shown to the caller so the
two can be matched), the exception's type and its traceback frames (file, line,
function and the source line, which is code) for every exception of the chain, but
never a message and never a local value. Used by both transports (schema/errors.py
and views/errors.py), which do not import each other.
"""

import logging
import traceback
import uuid

_CHAIN_MAX = 8
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"


def exception_type(exc: BaseException) -> str:
    """`module.QualName` of the exception's class (builtins without a module)."""
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _one(exc: BaseException, depth: int) -> str:
    frames = "".join(traceback.StackSummary.extract(traceback.walk_tb(exc.__traceback__)).format())
    text = f"Traceback (most recent call last):\n{frames}{exception_type(exc)} (message withheld)\n"
    parts = getattr(exc, "exceptions", None)
    if isinstance(exc, BaseExceptionGroup) and parts and depth < _CHAIN_MAX:
        for number, sub in enumerate(parts, start=1):
            inner = safe_traceback(sub, depth + 1)
            text += f"+-- sub-exception {number}:\n" + inner
    return text


def safe_traceback(exc: BaseException, depth: int = 0) -> str:
    """The traceback Python would print for `exc` and its chain (oldest first), with
    each message replaced by "(message withheld)"; locals are never captured."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen and len(chain) < _CHAIN_MAX:
        seen.add(id(current))
        chain.append((current, link))  # `link`: how `current` led to the one before
        if current.__cause__ is not None:
            current, link = current.__cause__, _CAUSE
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, _CONTEXT
        else:
            current = None
    # Printed oldest first, as Python does, each followed by how it led to the next.
    return "".join(_one(item, depth) + link for item, link in reversed(chain))


def log_unexpected(logger: logging.Logger, what: str, exc: BaseException, **context: object) -> str:
    """Log a bug once at ERROR under a new correlation id and return the id.

    `context` values must be safe to log (a GraphQL path, an endpoint name): never
    a value the user sent. The record carries `correlation_id` and `exception_type`
    attributes for structured handlers, and no `exc_info` (a handler would print the
    message with it).
    """
    cid = uuid.uuid4().hex
    kind = exception_type(exc)
    details = "".join(f" {name}={value}" for name, value in context.items())
    logger.error(
        "%s correlationId=%s type=%s%s\n%s",
        what,
        cid,
        kind,
        details,
        safe_traceback(exc).rstrip("\n"),
        extra={"correlation_id": cid, "exception_type": kind},
        stacklevel=2,  # the record names the transport that logged, not this helper
    )
    return cid
