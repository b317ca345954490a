"""Employers (所在单位) and recommending authorities (行业主管部门 / 区人社局)."""

from tortoise import fields

from models.base import Timestamped
from models.enums import AuthorityKind, UnitType


class Authority(Timestamped):
    """A recommending body of Art. 15(一): an industry authority or a district bureau."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    kind = fields.CharEnumField(AuthorityKind, max_length=20, db_index=True)
    district = fields.CharField(max_length=20, default="")

    class Meta:
        table = "authority"


class Unit(Timestamped):
    """An employer, identified by its 统一社会信用代码 (GB 32100 check character)."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200, db_index=True)
    credit_code = fields.CharField(max_length=18, unique=True)
    unit_type = fields.CharEnumField(UnitType, max_length=20, db_index=True)
    district = fields.CharField(max_length=20, default="")
    # The authority responsible for this unit's recommendations (R3), when known.
    authority: fields.ForeignKeyNullableRelation[Authority] = fields.ForeignKeyField(
        "models.Authority", related_name="units", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "unit"
