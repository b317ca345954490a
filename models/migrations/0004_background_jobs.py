from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.enums import JobKind, JobStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_expert_name_prefix_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BackgroundJob',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('kind', fields.CharEnumField(description='AUDIT_VERIFY: audit_verify\nEXPERT_IMPORT: expert_import\nPOOL_STATISTICS: pool_statistics', enum_type=JobKind, max_length=30)),
                ('status', fields.CharEnumField(default=JobStatus.RUNNING, description='RUNNING: running\nDONE: done\nFAILED: failed', enum_type=JobStatus, max_length=20)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='jobs', on_delete=OnDelete.CASCADE)),
                ('scope', fields.CharField(default='', max_length=100)),
                ('phase', fields.CharField(default='', max_length=100)),
                ('done', fields.IntField(default=0)),
                ('total', fields.IntField(default=0)),
                ('result', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('error_code', fields.CharField(default='', max_length=50)),
                ('error_message', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=True)),
                ('heartbeat_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'background_job', 'app': 'models', 'indexes': [Index(fields=['user_id', 'kind', 'created_at'])], 'pk_attr': 'id', 'table_description': 'A long operation running in one app process, with its progress and result kept'},
            bases=['Model'],
        ),
    ]
