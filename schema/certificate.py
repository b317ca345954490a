"""E-certificates (电子职称证书, Art. 6, R18): public verification by code, recording
the passed applicants, revocation. Thin over resolvers.certificate; the holder's name
only ever leaves masked."""

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from models import Certificate
from models.enums import CertificateKind
from resolvers import certificate as svc
from resolvers.certificate import CertificateCheck, Validity
from schema.context import ctx
from schema.errors import UserError
from schema.mutation import attempt, require_id

INPUT = "变更的输入。\nThe mutation input."

strawberry.enum(
    CertificateKind,
    description="电子证书类别:电子职称证书或电子职称评价结果通知书。\nCertificate kind.",
)
strawberry.enum(
    Validity,
    name="CertificateValidity",
    description="证书核验结论:有效、已撤销、查无此证。\nVerification result.",
)


@strawberry.type(
    name="CertificateVerification",
    description="按核验码核验电子证书的结果(公开;持证人姓名已掩码,R18)。\n"
    "A certificate verification.",
)
class CertificateVerificationType:
    code: str = strawberry.field(description="规范化的核验码;无法识别时为空。")
    validity: Validity = strawberry.field(description="核验结论。")
    kind: CertificateKind | None = strawberry.field(description="证书类别。")
    holder_name_masked: str | None = strawberry.field(description="持证人姓名(掩码)。")
    series: str | None = strawberry.field(description="系列。")
    specialty: str | None = strawberry.field(description="专业。")
    level: str | None = strawberry.field(description="职称层级。")
    committee_name: str | None = strawberry.field(description="评委会名称。")
    institution_name: str | None = strawberry.field(description="评审机构名称。")
    session_date: dt.date | None = strawberry.field(description="评审日期。")
    issued_on: dt.date | None = strawberry.field(description="发证日期。")
    signature_valid: bool | None = strawberry.field(
        description="Ed25519 签名是否与公布的公钥相符;查无此证时为 null。"
    )
    key_id: str = strawberry.field(description="签名密钥标识。")
    revoked_at: dt.datetime | None = strawberry.field(description="撤销时间。")

    @classmethod
    def from_check(cls, c: CertificateCheck) -> "CertificateVerificationType":
        p: dict[str, Any] = c.payload or {}

        def day(key: str) -> dt.date | None:
            return dt.date.fromisoformat(p[key]) if p.get(key) else None

        return cls(
            code=c.code,
            validity=c.validity,
            kind=c.kind,
            holder_name_masked=p.get("holder_name"),
            series=p.get("series"),
            specialty=p.get("specialty"),
            level=p.get("level"),
            committee_name=p.get("committee_name"),
            institution_name=p.get("institution_name"),
            session_date=day("session_date"),
            issued_on=day("issued_on"),
            signature_valid=c.signature_valid,
            key_id=c.key_id,
            revoked_at=c.revoked_at,
        )


@strawberry.type(
    name="IssuedCertificate",
    description="新签发的电子证书或结果通知书(市人社局可见其核验码)。\nAn issued certificate.",
)
class IssuedCertificateType:
    code: str = strawberry.field(description="核验码。")
    kind: CertificateKind = strawberry.field(description="证书类别。")
    issued_at: dt.datetime = strawberry.field(description="签发时间。")
    revoked_at: dt.datetime | None = strawberry.field(description="撤销时间。")

    @classmethod
    def from_model(cls, m: Certificate) -> "IssuedCertificateType":
        return cls(
            code=m.code,
            kind=CertificateKind(m.kind),
            issued_at=m.issued_at,
            revoked_at=m.revoked_at,
        )


@strawberry.type(description="电子证书查询。")
class CertificateQuery:
    @strawberry.field(
        description="按核验码核验电子证书(公开):有效性、系列、层级、评委会、日期、"
        "掩码后的持证人姓名与签名核验结果。\nVerify a certificate."
    )
    async def verify_certificate(
        self,
        code: Annotated[str, strawberry.argument(description="证书上的核验码(不区分大小写)。")],
    ) -> CertificateVerificationType:
        return CertificateVerificationType.from_check(await svc.verify_certificate(code))


@strawberry.input(description="记录评审通过人员的输入。\nRecord passed applicants.")
class RecordPassedApplicantsInput:
    session_id: strawberry.ID = strawberry.field(description="已确定结果的评审会议 ID。")


@strawberry.input(description="撤销电子证书的输入。\nRevoke a certificate.")
class RevokeCertificateInput:
    code: str = strawberry.field(description="核验码。")
    reason: str = strawberry.field(description="撤销理由。")


@strawberry.type(description="记录评审通过人员的结果。\nRecord passed payload.")
class RecordPassedApplicantsPayload:
    certificates: list[IssuedCertificateType] | None = strawberry.field(
        description="新签发的证书与结果通知书;失败时为 null。"
    )
    errors: list[UserError] = strawberry.field(description="业务错误;成功时为空列表。")


@strawberry.type(description="撤销电子证书的结果。\nRevoke payload.")
class RevokeCertificatePayload:
    certificate: IssuedCertificateType | None = strawberry.field(
        description="已撤销的证书;失败时为 null。"
    )
    errors: list[UserError] = strawberry.field(description="业务错误;成功时为空列表。")


@strawberry.type(description="电子证书的变更。")
class CertificateMutation:
    @strawberry.mutation(
        description="市人社局记录已确定结果的评审会议的通过人员,为每人签发电子证书与结果"
        "通知书(R18);重复记录被拒绝。\nRecord passed applicants."
    )
    async def record_passed_applicants(
        self,
        info: Info,
        input: Annotated[RecordPassedApplicantsInput, strawberry.argument(description=INPUT)],
    ) -> RecordPassedApplicantsPayload:
        rows, errors = await attempt(
            info,
            lambda: svc.record_passed_applicants(
                ctx(info).actor, require_id(input.session_id, "EvaluationSession", "sessionId")
            ),
        )
        return RecordPassedApplicantsPayload(
            certificates=(
                None if rows is None else [IssuedCertificateType.from_model(c) for c in rows]
            ),
            errors=errors,
        )

    @strawberry.mutation(
        description="市人社局说明理由撤销电子证书;此后核验显示已撤销。\nRevoke a certificate."
    )
    async def revoke_certificate(
        self,
        info: Info,
        input: Annotated[RevokeCertificateInput, strawberry.argument(description=INPUT)],
    ) -> RevokeCertificatePayload:
        row, errors = await attempt(
            info,
            lambda: svc.revoke_certificate(ctx(info).actor, input.code, reason=input.reason),
        )
        return RevokeCertificatePayload(
            certificate=IssuedCertificateType.from_model(row) if row else None, errors=errors
        )
