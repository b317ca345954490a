"""Test harness: one real database per pytest process, migrated with the real history.

SQLite by default (a file in a temporary folder); PostgreSQL when
PINGSHEN_TEST_DATABASE_URL names a server (a fresh database is created for the run
and dropped afterwards). Never both in one process (STACK-NOTES: cached dialect SQL).
Every test starts from empty tables.
"""

import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tortoise import Tortoise
from tortoise.contrib.test import _topological_sort_models, truncate_all_models

import app as app_module
from resolvers import jobs
from resolvers.config import Config, configure

TEST_SECRET = "test-secret-key-not-for-production-0123456789"


def _database_url() -> str:
    base = os.environ.get("PINGSHEN_TEST_DATABASE_URL", "")
    if base:
        base = app_module.normalize_db_url(base).rstrip("/")
        server = base.rsplit("/", 1)[0] if base.count("/") > 2 else base
        return f"{server}/pingshen_test_{uuid.uuid4().hex[:10]}"
    folder = Path(tempfile.mkdtemp(prefix="pingshen-test-"))
    return f"sqlite://{folder / 'test.sqlite3'}"


DATABASE_URL = _database_url()
IS_POSTGRES = DATABASE_URL.startswith("postgres")


def test_settings() -> app_module.Settings:
    return app_module.Settings(
        database_url=DATABASE_URL,
        secret_key=TEST_SECRET,
        debug=False,
        var_dir=Path(tempfile.gettempdir()) / "pingshen-test-var",
    )


async def _admin_execute(sql: str) -> None:
    import asyncpg

    server = DATABASE_URL.rsplit("/", 1)[0]
    conn = await asyncpg.connect(server.replace("postgres://", "postgresql://") + "/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session", autouse=True)
async def database() -> AsyncIterator[str]:
    """Create and migrate the test database once per process."""
    configure(Config(secret_key=TEST_SECRET, argon2_profile="cheapest"))
    name = DATABASE_URL.rsplit("/", 1)[1]
    if IS_POSTGRES:
        await _admin_execute(f'CREATE DATABASE "{name}"')
    settings = test_settings()
    await app_module.migrate_db(settings)
    await Tortoise.init(
        config=app_module.tortoise_config(DATABASE_URL), _enable_global_fallback=True
    )
    yield DATABASE_URL
    await Tortoise.close_connections()
    if IS_POSTGRES:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(autouse=True)
async def clean_tables(database: str) -> AsyncIterator[None]:
    """Each test starts from empty tables (and so from an empty audit chain)."""
    configure(Config(secret_key=TEST_SECRET, argon2_profile="cheapest"))
    yield
    await jobs.drain(cancel=True)  # no background job outlives its test
    await _empty_all_tables()


_DELETE_SCRIPT: str | None = None


async def _empty_all_tables() -> None:
    """Empty every table. On PostgreSQL one script of DELETEs (children first) is ~50x
    faster than TRUNCATE of 37 tables, which rewrites every table file."""
    global _DELETE_SCRIPT
    if not IS_POSTGRES:
        await truncate_all_models()
        return
    if _DELETE_SCRIPT is None:
        ordered = _topological_sort_models(list(Tortoise.apps.get_models_iterable()))
        # Table names come from our own models, never from input.
        _DELETE_SCRIPT = "".join(f'DELETE FROM "{m._meta.db_table}";' for m in ordered)  # noqa: S608
    await Tortoise.get_connection("default").execute_script(_DELETE_SCRIPT)


@pytest.fixture
def asgi_app():  # type: ignore[no-untyped-def]
    """The real application (routes, middleware); the ORM is the test database."""
    return app_module.create_app(test_settings())


@pytest.fixture
async def client(asgi_app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        yield c
