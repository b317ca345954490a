"""How long other requests wait while an Excel import is written (issue 9 item 5).

    python -m bench.import_wait --rows 5000 [--db sqlite|postgres] [--pg-url URL]

Builds a workbook of `--rows` valid candidates, starts the import as a background job
(resolvers/expert_io.start_import) on a fresh database, and polls the job's row every
250 ms as a progress page would, timing each read. Prints the import's total time,
the worst and median read wait, and the rows imported. On SQLite the import is written
50 rows to a transaction so the reads get in between; on PostgreSQL it is one
transaction on its own connection.
"""

import argparse
import asyncio
import datetime as dt
import io
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from openpyxl import Workbook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _workbook(rows: int, credit_code: str) -> bytes:
    from resolvers.expert_io import COLUMNS
    from tests.factories import make_id_number

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([h for h, _, _ in COLUMNS])
    for n in range(rows):
        values = {
            "name": f"导入{n}",
            "id_number": make_id_number(
                dt.date(1972, 1, 1) + dt.timedelta(days=n % 3000), 1 + n // 3000
            ),
            "phone": f"135{n:08d}",
            "unit_credit_code": credit_code,
            "title": "研究员",
            "title_level": "正高级",
            "title_obtained_on": "2012-06-01",
            "series": "工程技术",
            "specialty": "电子信息",
            "retirement_category": "男60",
        }
        sheet.append([values.get(key, "") for _, key, _ in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _run(rows: int) -> int:
    from app import Settings, migrate_db, orm
    from models import Expert, User
    from models.enums import AuthorityKind, Role, UnitType
    from resolvers import expert_io, jobs
    from resolvers.actor import Actor, Grant
    from resolvers.config import Config, configure
    from tests import factories

    settings = Settings.from_env()
    await migrate_db(settings)
    async with orm(settings):
        configure(Config(secret_key="bench-import-wait-" + "x" * 24, argon2_profile="cheapest"))
        authority = await factories.authority(AuthorityKind.INDUSTRY)
        unit = await factories.unit(UnitType.MUNICIPAL, authority=authority)
        inst = await factories.institution()
        user = await User.create(username="bench", display_name="bench", password_hash="x")  # noqa: S106 -- never logs in
        actor = Actor(
            user_id=user.id,
            username=user.username,
            grants=(Grant(Role.INSTITUTION, institution_id=inst.id),),
        )
        content = _workbook(rows, unit.credit_code)
        start = time.perf_counter()
        job = await expert_io.start_import(actor, inst.id, content, mode="all_or_nothing")
        waits: list[float] = []
        while True:
            t = time.perf_counter()
            seen = await jobs.get_job(actor, job.id, job.kind)
            waits.append(time.perf_counter() - t)
            if not seen.running:
                break
            await asyncio.sleep(0.25)
        total = time.perf_counter() - start
        imported = await Expert.all().count()
        print(
            f"rows={rows} status={seen.status} imported={imported} total={total:.2f}s "
            f"reads={len(waits)} worst_wait={max(waits):.3f}s "
            f"median_wait={statistics.median(waits):.3f}s"
        )
        return 0 if imported == rows else 1


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.import_wait")
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    os.environ.setdefault("PINGSHEN_SECRET_KEY", "bench-import-wait-secret-0123456789")
    if args.db == "sqlite":
        tmp = tempfile.mkdtemp(prefix="pingshen-import-")
        os.environ["PINGSHEN_DATABASE_URL"] = f"sqlite://{tmp}/bench.sqlite3"
        return asyncio.run(_run(args.rows))
    name = "bench_import_" + uuid.uuid4().hex[:8]
    return asyncio.run(_with_pg_database(args.pg_url, name, args.rows))


async def _with_pg_database(url: str, name: str, rows: int) -> int:
    import asyncpg

    admin = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        os.environ["PINGSHEN_DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + name
        return await _run(rows)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    raise SystemExit(main())
