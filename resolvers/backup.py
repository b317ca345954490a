"""Backup and restore of the whole database (`pingshen backup PATH` / `pingshen restore PATH`).

- SQLite: the sqlite3 online backup API copies a consistent snapshot while the server
  keeps running; restore copies the file back the same way (page by page, in one go).
- PostgreSQL: `pg_dump -Fc` (custom format) and `pg_restore --clean --if-exists
  --no-owner --single-transaction`; the client tools must be installed and should
  match the server's major version (`check_pg_tools`).

Restore refuses to overwrite a database that holds any row unless `force=True`.
`summary()` gives the row count and a SHA-256 of the rows of every table, so a round
trip can be checked (the CLI prints it after both commands).

Neither command writes an audit event: a restore replaces the audit chain itself with
the one in the backup, and `pingshen audit verify` checks it afterwards.
"""

import asyncio
import hashlib
import os
import shutil
import sqlite3
import subprocess
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from resolvers.errors import DomainError, ErrorCode

# Tables the ORM's migration tool owns: never counted as "data" when deciding emptiness.
_BOOKKEEPING = ("tortoise_migrations", "aerich")


@dataclass(frozen=True)
class TableSummary:
    name: str
    rows: int
    sha256: str


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite://")


def _sqlite_path(url: str) -> Path:
    return Path(url[len("sqlite://") :].split("?", 1)[0])


def _libpq_url(url: str) -> str:
    """Tortoise's `postgres://…?maxsize=…` as a libpq URI (its own options dropped)."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(("postgresql", parts.netloc, parts.path, "", ""))


def _digest(rows: list[tuple[object, ...]]) -> str:
    h = hashlib.sha256()
    for row in rows:
        h.update(repr(tuple(row)).encode())
        h.update(b"\n")
    return h.hexdigest()


# --- summary: rows and checksums per table ---------------------------------------------


def _sqlite_summary(path: Path) -> list[TableSummary]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        out = []
        for name in names:
            # Names come from the database's own catalogue, quoted.
            rows = conn.execute(f'SELECT * FROM "{name}" ORDER BY 1').fetchall()  # noqa: S608
            out.append(TableSummary(name, len(rows), _digest(rows)))
        return out
    finally:
        conn.close()


async def _pg_summary(url: str) -> list[TableSummary]:
    import asyncpg

    conn = await asyncpg.connect(_libpq_url(url))
    try:
        names = [
            r[0]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        out = []
        for name in names:
            rows = await conn.fetch(f'SELECT * FROM "{name}" ORDER BY 1')  # noqa: S608
            out.append(TableSummary(name, len(rows), _digest([tuple(r) for r in rows])))
        return out
    finally:
        await conn.close()


async def summary(url: str) -> list[TableSummary]:
    """Row count and SHA-256 of the rows (ordered by the first column) of every table."""
    if _is_sqlite(url):
        path = _sqlite_path(url)
        if not path.exists():
            return []
        return await asyncio.to_thread(_sqlite_summary, path)
    return await _pg_summary(url)


def has_data(tables: list[TableSummary]) -> bool:
    return any(t.rows for t in tables if t.name not in _BOOKKEEPING)


# --- PostgreSQL client tools -------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise DomainError(
            ErrorCode.INVALID, f"找不到 {name}:请安装 PostgreSQL 客户端工具", "database"
        )
    return found


async def _server_major(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(_libpq_url(url))
    try:
        return int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()


def _client_major(tool: str) -> int:
    out = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True)  # noqa: S603
    # "pg_dump (PostgreSQL) 15.20 (Debian …)"
    return int(out.stdout.split(")", 1)[1].strip().split(".", 1)[0])


async def check_pg_tools(url: str, tool_name: str) -> str:
    """The tool's path; refused when its major version is older than the server's
    (pg_dump cannot dump a newer server). A newer client works and is accepted."""
    tool = _tool(tool_name)
    client, server = _client_major(tool), await _server_major(url)
    if client < server:
        raise DomainError(
            ErrorCode.INVALID,
            f"{tool_name} 版本 {client} 低于数据库服务器版本 {server},请安装匹配的客户端",
            "database",
        )
    return tool


def _run_tool(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        # The tools' own message, without the connection string (it may hold a password).
        message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
        raise DomainError(
            ErrorCode.INVALID, f"{Path(argv[0]).name} 失败:{message}"[:500], "database"
        )


# --- backup and restore ------------------------------------------------------------------


def _sqlite_copy(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        dst.close()
        src.close()


async def backup(url: str, path: Path) -> list[TableSummary]:
    """Write a consistent copy of the database to `path` (not overwritten if it exists).
    Returns the summary of what was copied."""
    if await asyncio.to_thread(path.exists):
        raise DomainError(ErrorCode.DUPLICATE, f"备份文件已存在:{path}", "path")
    path.parent.mkdir(parents=True, exist_ok=True)
    if _is_sqlite(url):
        source = _sqlite_path(url)
        if not source.exists():
            raise DomainError(ErrorCode.INVALID, f"数据库文件不存在:{source}", "database")
        partial = path.with_name(path.name + ".partial")
        partial.unlink(missing_ok=True)
        await asyncio.to_thread(_sqlite_copy, source, partial)
        os.replace(partial, path)
        return await asyncio.to_thread(_sqlite_summary, path)
    tool = await check_pg_tools(url, "pg_dump")
    partial = path.with_name(path.name + ".partial")
    await asyncio.to_thread(
        _run_tool, [tool, "-Fc", "--no-owner", "-f", str(partial), _libpq_url(url)]
    )
    os.replace(partial, path)
    return await summary(url)


async def restore(url: str, path: Path, *, force: bool = False) -> list[TableSummary]:
    """Replace the database's content with the backup at `path`; refused when the
    database holds data unless `force`. Returns the summary after the restore."""
    if not await asyncio.to_thread(path.is_file):
        raise DomainError(ErrorCode.INVALID, f"备份文件不存在:{path}", "path")
    if not force and has_data(await summary(url)):
        raise DomainError(
            ErrorCode.INVALID,
            "目标数据库中已有数据;确需覆盖请加 --force",
            "database",
        )
    if _is_sqlite(url):
        target = _sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(_sqlite_copy, path, target)
        return await summary(url)
    tool = await check_pg_tools(url, "pg_restore")
    await asyncio.to_thread(
        _run_tool,
        [
            tool,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "-d",
            _libpq_url(url),
            str(path),
        ],
    )
    return await summary(url)
