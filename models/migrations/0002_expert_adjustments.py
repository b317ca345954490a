from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.enums import ExpertApplicationStatus
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='ExpertApplication',
            name='status',
            field=fields.CharEnumField(default=ExpertApplicationStatus.SUBMITTED, db_index=True, description='SUBMITTED: submitted\nREVIEWED: reviewed\nNEEDS_CHANGES: needs_changes\nAPPROVED: approved\nREJECTED: rejected', enum_type=ExpertApplicationStatus, max_length=20),
        ),
        ops.AddField(
            model_name='ExpertApplication',
            name='change_history',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='ExpertApplication',
            name='change_request',
            field=fields.TextField(default='', db_default='', unique=False),
        ),
        ops.AddField(
            model_name='ExpertApplication',
            name='change_requested_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
