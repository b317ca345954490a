"""A PostgreSQL index for expert name-prefix search (`namePrefix`, bench Q5a).

The default btree on a varchar column serves `LIKE 'x%'` only under the C collation:
`varchar_pattern_ops` makes the prefix search an index range scan in any collation.
SQLite's LIKE is case-insensitive and cannot use such an index, so nothing is done there.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEX = "expert_name_pattern_idx"


async def _forward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(
            f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "expert" ("name" varchar_pattern_ops)'
        )


async def _backward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(f'DROP INDEX IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    dependencies = [("models", "0002_expert_adjustments")]

    initial = False

    operations = [ops.RunPython(_forward, _backward)]
