"""/healthz for load balancers (issue 12 §4, issue 3 §5): 200 when every dependency
answers; 503 naming the one that does not, with no host, port or driver message.
Redis is probed only when the counters live there (PINGSHEN_REDIS_URL)."""

import dataclasses
import logging
import os
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

import app as app_module
from tests import conftest
from tests.test_redis import NEEDS_REDIS, REDIS_URL


def _closed_port() -> int:
    """A local port nothing listens on: a connection to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def _client(redis_url: str = "") -> AsyncIterator[httpx.AsyncClient]:
    settings = dataclasses.replace(conftest.test_settings(), redis_url=redis_url)
    transport = httpx.ASGITransport(app=app_module.create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c


async def test_healthz_is_ok_when_the_database_answers_and_no_redis_is_configured():
    async with _client() as c:
        response = await c.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert response.headers["cache-control"] == "no-store"


async def test_healthz_names_redis_when_it_is_unreachable(caplog):
    port = _closed_port()
    caplog.set_level(logging.DEBUG)
    async with _client(f"redis://127.0.0.1:{port}/0") as c:
        started = time.monotonic()
        response = await c.get("/healthz")
        head = await c.head("/healthz")
        elapsed = time.monotonic() - started

    assert (response.status_code, response.json()) == (
        503,
        {"status": "unavailable", "down": ["redis"]},
    )
    assert head.status_code == 503
    assert elapsed < 2.5  # a refused connection fails fast: no hanging probe
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "resolvers.health")
    assert logged == "\n".join(["health check: redis unreachable (ConnectionError)"] * 2)
    assert str(port) not in response.text


async def test_healthz_names_redis_when_it_does_not_answer_in_time():
    """A server that accepts the connection but never answers (a hung Redis): 503
    within the probe's short timeout, not a hanging health check."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        async with _client(f"redis://127.0.0.1:{port}/0") as c:
            started = time.monotonic()
            response = await c.get("/healthz")
            elapsed = time.monotonic() - started

    assert (response.status_code, response.json()) == (
        503,
        {"status": "unavailable", "down": ["redis"]},
    )
    assert elapsed < 2.5


@NEEDS_REDIS
async def test_healthz_is_ok_with_the_real_redis():
    async with _client(REDIS_URL) as c:
        response = await c.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_redis_test_url_comes_from_the_environment():
    """The real-Redis case above runs exactly when PINGSHEN_TEST_REDIS_URL is set."""
    assert os.environ.get("PINGSHEN_TEST_REDIS_URL", "") == REDIS_URL
