"""`pingshen backup` / `pingshen restore` (issue 11 §8): a round trip keeps every row
(equal row counts and SHA-256 per table) and the audit chain verifies (R20).

Runs on the database of the pytest process: SQLite uses the online backup API,
PostgreSQL `pg_dump -Fc` and `pg_restore` into a fresh database.
"""

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise.transactions import in_transaction

from resolvers import audit, backup
from resolvers.actor import SYSTEM
from resolvers.errors import DomainError
from tests import factories
from tests.conftest import DATABASE_URL, IS_POSTGRES, _admin_execute

ROOT = Path(__file__).resolve().parent.parent


async def _populate() -> None:
    """Real rows in several tables and an audit chain of 12 events."""
    for _ in range(3):
        inst = await factories.institution()
        async with in_transaction():
            await audit.record(SYSTEM, "institution.create", inst, after={"name": inst.name})
    for _ in range(9):
        expert = await factories.expert()
        async with in_transaction():
            await audit.record(SYSTEM, "expert.create", expert, after={"number": expert.number})


async def _raw_execute(url: str, sql: str) -> None:
    if not IS_POSTGRES:
        conn = sqlite3.connect(url[len("sqlite://") :])
        with conn:
            conn.execute(sql)
        conn.close()
        return
    import asyncpg

    pg = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await pg.execute(sql)
    finally:
        await pg.close()


@pytest.fixture
async def fresh_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the same kind as the test database."""
    if not IS_POSTGRES:
        yield f"sqlite://{tmp_path / 'restored.sqlite3'}"
        return
    name = f"pingshen_restore_{uuid.uuid4().hex[:10]}"
    await _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{DATABASE_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cli(*args: str, url: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PINGSHEN_DATABASE_URL": url,
        "PINGSHEN_SECRET_KEY": "backup-test-secret",
        "PINGSHEN_VAR_DIR": str(tmp),
    }
    return subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, str(ROOT / "app.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,
        timeout=180,
        check=False,
    )


async def test_round_trip_keeps_every_row_and_the_audit_chain(tmp_path, fresh_url):
    """R20: after backup → restore into an empty database, every table has the same
    row count and checksum, and `pingshen audit verify` passes on the copy."""
    await _populate()
    before = await backup.summary(DATABASE_URL)
    assert {t.name: t.rows for t in before}["audit_event"] == 12
    assert {t.name: t.rows for t in before}["expert"] == 9

    copied = await backup.backup(DATABASE_URL, tmp_path / "pingshen.backup")
    assert copied == before
    restored = await backup.restore(fresh_url, tmp_path / "pingshen.backup")

    assert [(t.name, t.rows) for t in restored] == [(t.name, t.rows) for t in before]
    assert restored == before  # equal SHA-256 of the rows of every table
    verified = cli("audit", "verify", url=fresh_url, tmp=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert "审计链完整:共 12 个事件" in verified.stdout


async def test_cli_backup_and_restore_round_trip(tmp_path, fresh_url):
    await _populate()
    target = tmp_path / "cli.backup"
    made = cli("backup", str(target), url=DATABASE_URL, tmp=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "已备份到" in made.stdout and target.is_file()

    again = cli("backup", str(target), url=DATABASE_URL, tmp=tmp_path)
    assert again.returncode == 2 and "备份文件已存在" in again.stderr

    done = cli("restore", str(target), url=fresh_url, tmp=tmp_path)
    assert done.returncode == 0, done.stderr
    assert await backup.summary(fresh_url) == await backup.summary(DATABASE_URL)
    assert cli("audit", "verify", url=fresh_url, tmp=tmp_path).returncode == 0


async def test_restore_refuses_a_database_with_data_unless_forced(tmp_path):
    await _populate()
    saved = tmp_path / "saved.backup"
    await backup.backup(DATABASE_URL, saved)
    await factories.institution()  # the live database moves on after the backup
    moved_on = await backup.summary(DATABASE_URL)

    with pytest.raises(DomainError) as caught:
        await backup.restore(DATABASE_URL, saved)
    assert "--force" in caught.value.message
    assert await backup.summary(DATABASE_URL) == moved_on  # nothing changed

    refused = cli("restore", str(saved), url=DATABASE_URL, tmp=tmp_path)
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert await backup.summary(DATABASE_URL) == moved_on


async def test_forced_restore_brings_back_the_backed_up_state(tmp_path, fresh_url):
    await _populate()
    saved = tmp_path / "saved.backup"
    await backup.backup(DATABASE_URL, saved)
    await backup.restore(fresh_url, saved)
    at_backup = await backup.summary(fresh_url)

    # The copy moves on (an edit outside the app), then is forced back to the backup.
    await _raw_execute(fresh_url, "UPDATE institution SET name = name || '-changed'")
    assert await backup.summary(fresh_url) != at_backup
    await backup.restore(fresh_url, saved, force=True)
    assert await backup.summary(fresh_url) == at_backup


async def test_restore_of_a_missing_file_is_refused(tmp_path, fresh_url):
    with pytest.raises(DomainError) as caught:
        await backup.restore(fresh_url, tmp_path / "nope.backup")
    assert "备份文件不存在" in caught.value.message
    assert not backup.has_data(await backup.summary(fresh_url))
