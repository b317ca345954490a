"""Scratch databases for the bench: a SQLite file under /tmp or the PostgreSQL
database `pingshen_bench`, created, migrated and filled by bench.generate.

A sidecar JSON file records what a database holds (size, seed, row counts), so that
`--reuse` can skip regenerating an identical data set between runs.
"""

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from tortoise import Tortoise

from app import Settings, migrate_db, tortoise_config
from bench import generate
from resolvers.config import Config, configure

PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "pingshen_bench"
WORK_DIR = Path(tempfile.gettempdir()) / "pingshen-bench"
# Fixed so that keyed hashes and ciphertexts agree between the loader, the in-process
# runs and the uvicorn worker (a bench-only key, never a production secret).
BENCH_SECRET = "pingshen-bench-only-secret-key-not-for-production-0001"


@dataclass(frozen=True)
class Target:
    """Which database a run uses and its Tortoise URL."""

    kind: str  # "sqlite" | "postgres"
    url: str
    sidecar: Path

    def settings(self) -> Settings:
        return Settings(
            database_url=self.url, secret_key=BENCH_SECRET, debug=False, var_dir=WORK_DIR
        )

    def env(self) -> dict[str, str]:
        """Environment for a uvicorn worker serving this database."""
        return {
            "PINGSHEN_DATABASE_URL": self.url,
            "PINGSHEN_SECRET_KEY": BENCH_SECRET,
            "PINGSHEN_VAR_DIR": str(WORK_DIR),
        }


def target(kind: str, size: int, seed: int, *, name: str = "") -> Target:
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    tag = name or f"{size}-{seed}"
    if kind == "sqlite":
        path = WORK_DIR / f"bench-{tag}.sqlite3"
        return Target("sqlite", f"sqlite://{path}", WORK_DIR / f"bench-{tag}.sqlite3.json")
    if kind == "postgres":
        db = f"{PG_DATABASE}_{tag}".replace("-", "_")  # one database per size and seed
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + db
        return Target("postgres", url, WORK_DIR / f"{db}.json")
    raise ValueError(f"unknown database kind {kind!r}")


def configure_bench() -> None:
    configure(Config(secret_key=BENCH_SECRET))


async def _recreate_pg(url: str) -> None:
    db = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{db}"')
    finally:
        await conn.close()


def _remove_files(t: Target) -> None:
    t.sidecar.unlink(missing_ok=True)
    if t.kind == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(t.url[len("sqlite://") :] + suffix).unlink(missing_ok=True)


async def drop(t: Target) -> None:
    """Remove the scratch database and its sidecar."""
    _remove_files(t)
    if t.kind == "sqlite":
        return
    db = t.url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    finally:
        await conn.close()


async def prepare(t: Target, size: int, seed: int, *, reuse: bool) -> dict[str, Any]:
    """Create, migrate and fill the database (or reuse a matching one).

    Leaves Tortoise initialised on it. Returns the sidecar facts: counts, seed, the
    D1 ids, a sample of phone numbers and the generation time.
    """
    configure_bench()
    wanted = {"size": size, "seed": seed, "kind": t.kind}
    if reuse and t.sidecar.exists():
        facts = json.loads(t.sidecar.read_text())
        if {k: facts.get(k) for k in wanted} == wanted:
            await Tortoise.init(config=tortoise_config(t.url))
            facts["reused"] = True
            return dict(facts)
    await drop(t)
    if t.kind == "postgres":
        await _recreate_pg(t.url)
    await migrate_db(t.settings())
    await Tortoise.init(config=tortoise_config(t.url))
    started = time.perf_counter()
    ds = generate.build(seed, size)
    built = time.perf_counter()
    counts = await generate.load(ds)
    loaded = time.perf_counter()
    facts = {
        **wanted,
        "counts": counts,
        "d1_committee_id": ds.d1_committee_id,
        "d1_session_id": ds.d1_session_id,
        "phones": ds.phones[:: max(1, len(ds.phones) // 50)][:50],
        "generate_s": round(built - started, 2),
        "load_s": round(loaded - built, 2),
    }
    t.sidecar.write_text(json.dumps(facts, ensure_ascii=False, indent=1))
    facts["reused"] = False
    return facts
