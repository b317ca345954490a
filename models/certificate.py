"""E-certificates and e-result notices for passed applicants (Art. 6, R18)."""

from typing import Any

from tortoise import fields

from models.base import Timestamped
from models.enums import CertificateKind


class Certificate(Timestamped):
    """A signed 电子职称证书 or 电子职称评价结果通知书.

    `payload` is exactly what the certificate states (and what verification shows);
    `signature` is Ed25519 over its canonical JSON.
    """

    id = fields.IntField(primary_key=True)
    applicant: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.SessionApplicant", related_name="certificates", on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(CertificateKind, max_length=20)
    code = fields.CharField(max_length=32, unique=True)
    payload: Any = fields.JSONField()
    signature = fields.CharField(max_length=128)
    key_id = fields.CharField(max_length=32, default="")
    issued_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    revoke_reason = fields.TextField(default="")

    class Meta:
        table = "certificate"
        unique_together = (("applicant", "kind"),)
