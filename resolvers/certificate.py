"""E-certificates (电子职称证书) and e-result notices (电子职称评价结果通知书), Art. 6, R18.

The bureau records the passed applicants of a finalised session; each gets one
certificate and one result notice. A certificate's `payload` is exactly what it
states; it is signed with Ed25519 (resolvers/certsign.py) over its canonical JSON, so
anyone holding the full payload and the published public key can check it offline.
Verification by code is public and shows the payload with the holder's name masked.

Verification codes: 16 characters from an alphabet without look-alikes (no 0/O, 1/I/L),
~79 bits from `secrets`, shown in groups of four ("ABCD-EFGH-JKMN-PQRS"); input is
forgiving about case, blanks and dashes.
"""

import datetime as dt
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

import segno
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import Certificate, EvaluationSession, SessionApplicant
from models.enums import LEVEL_LABELS, ApplicantResult, CertificateKind, Level, SessionStatus
from resolvers import audit, certsign, validate
from resolvers.actor import Actor
from resolvers.errors import DomainError, ErrorCode, NotFound
from resolvers.evaluation import BEIJING, load_session, session_day
from resolvers.personal import mask_name
from resolvers.policy import Perm, require, scoped

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 16
CODE_GROUP = 4
REASON_MAX = 2000
VERIFY_PATH = "/verify"
_CODE_ATTEMPTS = 5


class Validity(StrEnum):
    VALID = "valid"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CertificateCheck:
    """The public answer to "is this code genuine?" (R18).

    `payload` is what the certificate states, holder name masked; `signature_valid`
    is the Ed25519 check of the stored payload against the published public key.
    """

    code: str
    validity: Validity
    kind: CertificateKind | None = None
    payload: dict[str, Any] | None = None
    signature_valid: bool | None = None
    key_id: str = ""
    revoked_at: dt.datetime | None = None


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + CODE_GROUP] for i in range(0, CODE_LENGTH, CODE_GROUP))


def normalize_code(value: str) -> str | None:
    """The stored form of a typed code, or None when it cannot be one of ours."""
    raw = "".join(value.split()).replace("-", "").upper() if isinstance(value, str) else ""
    if len(raw) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in raw):
        return None
    return "-".join(raw[i : i + CODE_GROUP] for i in range(0, CODE_LENGTH, CODE_GROUP))


def _payload(
    kind: CertificateKind,
    code: str,
    applicant: SessionApplicant,
    session: EvaluationSession,
    issued_on: dt.date,
) -> dict[str, Any]:
    return {
        "kind": kind.value,
        "code": code,
        "holder_name": applicant.name,
        "id_number_masked": applicant.id_number_masked,
        "series": applicant.series,
        "specialty": applicant.specialty,
        "level": LEVEL_LABELS[Level(applicant.level)],
        "committee_name": session.committee.name,
        "institution_name": session.institution.name,
        "session_date": session_day(session).isoformat(),
        "issued_on": issued_on.isoformat(),
    }


async def _issue(
    actor: Actor,
    applicant: SessionApplicant,
    session: EvaluationSession,
    kind: CertificateKind,
    now: dt.datetime,
) -> Certificate:
    for _ in range(_CODE_ATTEMPTS):
        code = new_code()
        if not await Certificate.filter(code=code).exists():
            break
    else:  # pragma: no cover - 79 bits; five collisions in a row mean a broken RNG
        raise RuntimeError("could not find a free certificate code")
    payload = _payload(kind, code, applicant, session, now.astimezone(BEIJING).date())
    signature, key = certsign.sign(payload)
    cert = await Certificate.create(
        applicant_id=applicant.id,
        kind=kind,
        code=code,
        payload=payload,
        signature=signature,
        key_id=key,
        issued_at=now,
    )
    await audit.record(
        actor,
        "certificate.issue",
        cert,
        after={"applicant_id": applicant.id, "kind": kind, "code": code, "key_id": key},
    )
    return cert


async def record_passed_applicants(actor: Actor, session_id: int) -> list[Certificate]:
    """The bureau records the passed applicants of a finalised session (Art. 6, R18).

    Side effects, per passed applicant not yet recorded: recorded_by_bureau_at set; a
    signed certificate and a signed result notice, each with its own verification
    code; audit "applicant.record_passed" and "certificate.issue" ×2. Returns the new
    certificates (empty when nobody passed); recording twice is refused.
    """
    session = await load_session(actor, session_id, Perm.CERTIFICATE_ISSUE)
    if session.status != SessionStatus.FINALISED:
        raise DomainError(ErrorCode.INVALID_TRANSITION, "评审结果尚未确定", "sessionId")
    passed = await SessionApplicant.filter(
        session_id=session.id, result=ApplicantResult.PASSED
    ).order_by("id")
    pending = [a for a in passed if a.recorded_by_bureau_at is None]
    if passed and not pending:
        raise DomainError(ErrorCode.DUPLICATE, "本场评审通过人员已记录", "sessionId")
    issued: list[Certificate] = []
    now = dt.datetime.now(dt.UTC)
    try:
        async with in_transaction():
            for applicant in pending:
                updated = await SessionApplicant.filter(
                    id=applicant.id, recorded_by_bureau_at=None
                ).update(recorded_by_bureau_at=now, updated_at=now)
                if updated != 1:
                    raise DomainError(ErrorCode.DUPLICATE, "本场评审通过人员已记录", "sessionId")
                await audit.record(
                    actor,
                    "applicant.record_passed",
                    applicant,
                    after={"recorded_by_bureau_at": now.isoformat()},
                )
                for kind in (CertificateKind.CERTIFICATE, CertificateKind.RESULT_NOTICE):
                    issued.append(await _issue(actor, applicant, session, kind, now))
    except IntegrityError:
        raise DomainError(ErrorCode.DUPLICATE, "本场评审通过人员已记录", "sessionId") from None
    return issued


async def verify_certificate(code: str) -> CertificateCheck:
    """Public verification by code (R18): valid / revoked / unknown, what the
    certificate states with the holder's name masked, and the signature check."""
    normalized = normalize_code(code)
    cert = None if normalized is None else await Certificate.filter(code=normalized).first()
    if cert is None:
        return CertificateCheck(code=normalized or "", validity=Validity.UNKNOWN)
    shown = {**cert.payload, "holder_name": mask_name(cert.payload["holder_name"])}
    return CertificateCheck(
        code=cert.code,
        validity=Validity.REVOKED if cert.revoked_at else Validity.VALID,
        kind=CertificateKind(cert.kind),
        payload=shown,
        signature_valid=certsign.verify(cert.payload, cert.signature, certsign.public_key_b64()),
        key_id=cert.key_id,
        revoked_at=cert.revoked_at,
    )


async def revoke_certificate(actor: Actor, code: str, *, reason: str) -> Certificate:
    """The bureau revokes a certificate with a reason; verification then says revoked.
    Side effects: revoked_at and revoke_reason set, audit "certificate.revoke"."""
    normalized = normalize_code(code) or ""
    cert = await scoped(actor, Perm.CERTIFICATE_REVOKE, Certificate.filter(code=normalized)).first()
    if cert is None:
        raise NotFound("证书不存在")
    require(actor, Perm.CERTIFICATE_REVOKE, cert)
    reason = validate.text(reason, "reason", max_length=REASON_MAX)
    if cert.revoked_at is not None:
        raise DomainError(ErrorCode.CERTIFICATE_REVOKED, "该证书已撤销", "code")
    now = dt.datetime.now(dt.UTC)
    async with in_transaction():
        updated = await Certificate.filter(id=cert.id, revoked_at=None).update(
            revoked_at=now, revoke_reason=reason, updated_at=now
        )
        if updated != 1:
            raise DomainError(ErrorCode.CERTIFICATE_REVOKED, "该证书已撤销", "code")
        await audit.record(
            actor,
            "certificate.revoke",
            cert,
            before={"revoked_at": None},
            after={"revoked_at": now.isoformat(), "reason": reason},
        )
    cert.revoked_at, cert.revoke_reason = now, reason
    return cert


def verification_url(code: str, signature: str, *, base_url: str = "") -> str:
    """What the QR code encodes: the verification page for the code, with the
    signature so an offline checker holding the certificate can verify it too."""
    return f"{base_url.rstrip('/')}{VERIFY_PATH}?{urlencode({'code': code, 'sig': signature})}"


async def certificate_qr_svg(code: str, *, base_url: str = "") -> str:
    """An inline SVG QR code for the printable certificate page (public: it carries
    only the code and the signature that the printed certificate already shows)."""
    normalized = normalize_code(code)
    cert = None if normalized is None else await Certificate.filter(code=normalized).first()
    if cert is None:
        raise NotFound("证书不存在")
    qr = segno.make(verification_url(cert.code, cert.signature, base_url=base_url), error="m")
    return str(qr.svg_inline(scale=4))


async def list_session_certificates(actor: Actor, session_id: int) -> list[Certificate]:
    """Certificates and notices issued for the session's applicants: the bureau (R18)."""
    session = await load_session(actor, session_id, Perm.CERTIFICATE_ISSUE)
    return (
        await Certificate.filter(applicant__session_id=session.id)
        .select_related("applicant")
        .order_by("applicant_id", "kind")
    )


async def get_certificate(actor: Actor, code: str) -> Certificate:
    """The full certificate for its printable page: the holder (own application) and
    the bureau; everyone else verifies the code publicly (masked) instead."""
    normalized = normalize_code(code) or ""
    cert = await scoped(actor, Perm.RESULT_VIEW, Certificate.filter(code=normalized)).first()
    if cert is None:
        raise NotFound("证书不存在")
    require(actor, Perm.RESULT_VIEW, cert)
    return cert
