"""Shared by the reliability suite (issue 11 §7 "Leaks"): every error response body
produced by a test in tests/reliability is recorded, and scanned for tracebacks, SQL,
file paths and the secret key, both by tests/reliability/test_leaks.py and once more
when the session ends (a leak found then fails the run).

Responses are recorded at the edge: the httpx ASGI transport every test client uses
(the response is passed on unchanged) and, for tests that execute the schema
in-process, `record_result()`.
"""

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_SECRET

# Every error body (HTTP status ≥ 400, or a GraphQL answer with "errors").
CAPTURED: list[str] = []

LEAK_PATTERNS: dict[str, re.Pattern[str]] = {
    "traceback": re.compile(r"Traceback|File \""),
    "sql": re.compile(r"SELECT |INSERT INTO|sqlite3|asyncpg", re.IGNORECASE),
    "path": re.compile(r"/work/|site-packages"),
    "secret": re.compile(re.escape(TEST_SECRET)),
}


def leaks(body: str) -> list[str]:
    """The names of the leak patterns found in `body`."""
    return [name for name, pattern in LEAK_PATTERNS.items() if pattern.search(body)]


def record(body: str) -> None:
    CAPTURED.append(body)


def record_result(result: Any) -> None:
    """Record an in-process ExecutionResult that carries errors, as the client sees it."""
    if result.errors:
        record(
            json.dumps(
                {"data": result.data, "errors": [e.formatted for e in result.errors]},
                ensure_ascii=False,
            )
        )


@pytest.fixture(autouse=True)
def capture_error_responses(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Record the body of every error answer an ASGI test client receives."""
    original = httpx.ASGITransport.handle_async_request

    async def recording(self: httpx.ASGITransport, request: httpx.Request) -> httpx.Response:
        response = await original(self, request)
        body = (await response.aread()).decode("utf-8", "replace")
        if response.status_code >= 400 or '"errors"' in body:
            record(body)
        return response

    monkeypatch.setattr(httpx.ASGITransport, "handle_async_request", recording)
    yield


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    found = [(leaks(body), body[:300]) for body in CAPTURED if leaks(body)]
    if found:
        print(f"\nLEAKS in {len(found)} of {len(CAPTURED)} error responses:")
        for names, excerpt in found[:20]:
            print(f"  {names}: {excerpt!r}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
