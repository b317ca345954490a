"""The committed migration history matches the models, and applies to an empty DB."""

from tortoise import Tortoise
from tortoise.migrations.autodetector import MigrationAutodetector

import app as app_module


async def test_migrations_cover_every_model_change():
    apps_config = app_module.tortoise_config("sqlite://:memory:")["apps"]
    detector = MigrationAutodetector(Tortoise.apps, apps_config)
    writers = await detector.changes()
    pending = [op for w in writers for op in w.operations]
    assert pending == [], "models changed without a migration: run `tortoise makemigrations`"


async def test_migrations_created_every_model_table():
    conn = Tortoise.get_connection("default")
    tables = {m._meta.db_table for m in Tortoise.apps.get_models_iterable()}
    for table in sorted(tables):
        # A query per table: fails loudly if the migration history lacks one.
        await conn.execute_query(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608 - table names come from our models
    assert len(tables) == 38
