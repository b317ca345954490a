"""E-certificates and e-result notices (Art. 6, R18): recorded by the bureau for passed
applicants, signed with Ed25519, verifiable by anyone by code, revocable with a reason."""

import datetime as dt
import re
from typing import Any

import pytest
import segno

from models import AuditEvent, Certificate, EvaluationSession, SessionApplicant
from models.enums import ApplicantResult, CertificateKind, Role
from resolvers import certificate as svc
from resolvers import certsign
from resolvers import evaluation as sessions
from resolvers.actor import ANONYMOUS, Grant
from resolvers.errors import DomainError, ErrorCode, NotFound, PermissionDenied
from resolvers.personal import mask_name
from tests.resolvers.test_evaluation import (
    World,
    _actor,
    _applicant,
    _drawn,
    _sit,
    _state,
    _world,
)

CODE_RE = re.compile(
    r"^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}(-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}){3}$"
)


async def _finalised(*, finalise: bool = True) -> tuple[World, EvaluationSession, list[Any]]:
    """A sitting of 3 with two applicants: the first passes 3–0, the second fails 1–2."""
    w = await _world(roster=3, vice_chairs=1)
    session = await _drawn(
        w,
        panel=3,
        backups=0,
        applicants=[await _applicant(name="欧阳小明"), await _applicant(name="张三")],
    )
    present = await _sit(w, session)
    passed, failed = await SessionApplicant.filter(session_id=session.id).order_by("id")
    await sessions.record_paper_ballots(
        w.staff, session.id, passed.id, votes={e.id: "for" for e in present}
    )
    await sessions.record_paper_ballots(
        w.staff,
        session.id,
        failed.id,
        votes={present[0].id: "for", present[1].id: "against", present[2].id: "against"},
    )
    await sessions.attach_recording(
        w.staff, session.id, kind="video", uri="file:///v", size_bytes=1, sha256="c" * 64
    )
    if finalise:
        await sessions.finalise_session(w.staff, session.id)
    return w, await EvaluationSession.get(id=session.id), [passed, failed]


async def test_record_passed_issues_a_signed_certificate_and_result_notice_each_r18():
    w, session, (passed, _failed) = await _finalised()

    issued = await svc.record_passed_applicants(w.bureau, session.id)

    assert [(c.applicant_id, c.kind) for c in issued] == [  # type: ignore[attr-defined]
        (passed.id, CertificateKind.CERTIFICATE),
        (passed.id, CertificateKind.RESULT_NOTICE),
    ]
    today = dt.datetime.now(sessions.BEIJING).date().isoformat()
    for cert in issued:
        assert CODE_RE.fullmatch(cert.code)
        assert cert.payload == {
            "kind": cert.kind,
            "code": cert.code,
            "holder_name": "欧阳小明",
            "id_number_masked": passed.id_number_masked,
            "series": "工程技术",
            "specialty": "电子信息",
            "level": "正高级",
            "committee_name": w.committee.name,
            "institution_name": w.inst.name,
            "session_date": sessions.session_day(session).isoformat(),
            "issued_on": today,
        }
        # The signature verifies with nothing but the published public key.
        assert certsign.verify(cert.payload, cert.signature, certsign.public_key_b64()) is True
        assert cert.key_id == certsign.key_id()
    assert issued[0].code != issued[1].code
    recorded = await SessionApplicant.filter(session_id=session.id).order_by("id")
    assert [(a.result, a.recorded_by_bureau_at is not None) for a in recorded] == [
        (ApplicantResult.PASSED, True),
        (ApplicantResult.FAILED, False),
    ]
    actions = await AuditEvent.filter(seq__gt=0).order_by("seq").values_list("action", flat=True)
    assert list(actions)[-3:] == [
        "applicant.record_passed",
        "certificate.issue",
        "certificate.issue",
    ]
    before = await _state()
    with pytest.raises(DomainError) as e:
        await svc.record_passed_applicants(w.bureau, session.id)
    assert e.value.code == ErrorCode.DUPLICATE
    assert await _state() == before


async def test_record_passed_only_by_the_bureau_and_only_once_finalised_r18():
    w, session, _ = await _finalised(finalise=False)
    before = await _state()
    with pytest.raises(DomainError) as e:
        await svc.record_passed_applicants(w.bureau, session.id)
    assert e.value.code == ErrorCode.INVALID_TRANSITION
    assert await _state() == before
    await sessions.finalise_session(w.staff, session.id)
    before = await _state()
    with pytest.raises(PermissionDenied):
        await svc.record_passed_applicants(w.staff, session.id)
    with pytest.raises(NotFound):
        await svc.record_passed_applicants(ANONYMOUS, session.id)
    assert await _state() == before


async def test_verify_shows_what_the_certificate_states_with_the_name_masked_r18():
    w, session, (passed, _) = await _finalised()
    cert, _notice = await svc.record_passed_applicants(w.bureau, session.id)
    typed = cert.code.replace("-", "").lower()[:8] + " " + cert.code.replace("-", "").lower()[8:]

    check = await svc.verify_certificate(typed)

    assert check == svc.CertificateCheck(
        code=cert.code,
        validity=svc.Validity.VALID,
        kind=CertificateKind.CERTIFICATE,
        payload={**cert.payload, "holder_name": "欧***"},
        signature_valid=True,
        key_id=certsign.key_id(),
        revoked_at=None,
    )
    assert mask_name(passed.name) == "欧***"
    assert await svc.verify_certificate("2345-6789-ABCD-EFGH") == svc.CertificateCheck(
        code="2345-6789-ABCD-EFGH", validity=svc.Validity.UNKNOWN
    )
    assert await svc.verify_certificate("not a code") == svc.CertificateCheck(
        code="", validity=svc.Validity.UNKNOWN
    )


async def test_tampered_payload_fails_the_signature_check_r18():
    w, session, _ = await _finalised()
    cert, _notice = await svc.record_passed_applicants(w.bureau, session.id)
    await Certificate.filter(id=cert.id).update(payload={**cert.payload, "level": "中级"})
    check = await svc.verify_certificate(cert.code)
    assert (check.validity, check.signature_valid) == (svc.Validity.VALID, False)


async def test_revoke_with_a_reason_then_verification_says_revoked_r18():
    w, session, _ = await _finalised()
    cert, notice = await svc.record_passed_applicants(w.bureau, session.id)
    applicant = await _actor(Grant(Role.APPLICANT, applicant_id=cert.applicant_id))  # type: ignore[attr-defined]
    before = await _state()
    with pytest.raises(NotFound):
        await svc.revoke_certificate(w.staff, cert.code, reason="材料造假")
    with pytest.raises(NotFound):
        await svc.revoke_certificate(applicant, cert.code, reason="材料造假")
    with pytest.raises(DomainError) as e:
        await svc.revoke_certificate(w.bureau, cert.code, reason="  ")
    assert (e.value.code, e.value.field) == (ErrorCode.REQUIRED, "reason")
    assert await _state() == before

    revoked = await svc.revoke_certificate(w.bureau, cert.code, reason="申报材料造假")

    check = await svc.verify_certificate(cert.code)
    assert (check.validity, check.signature_valid, check.revoked_at) == (
        svc.Validity.REVOKED,
        True,
        revoked.revoked_at,
    )
    assert (await svc.verify_certificate(notice.code)).validity == svc.Validity.VALID
    stored = await Certificate.get(id=cert.id)
    assert (stored.revoke_reason, stored.revoked_at is not None) == ("申报材料造假", True)
    last = await AuditEvent.all().order_by("-seq").first()
    assert last is not None and (last.action, last.after["reason"]) == (
        "certificate.revoke",
        "申报材料造假",
    )
    with pytest.raises(DomainError) as e:
        await svc.revoke_certificate(w.bureau, cert.code, reason="再次撤销")
    assert e.value.code == ErrorCode.CERTIFICATE_REVOKED


async def test_qr_code_encodes_the_verification_path_code_and_signature_r18():
    w, session, _ = await _finalised()
    cert, _notice = await svc.record_passed_applicants(w.bureau, session.id)
    url = svc.verification_url(cert.code, cert.signature)
    assert url == f"/verify?code={cert.code}&sig={cert.signature}"

    svg = await svc.certificate_qr_svg(cert.code)

    assert svg == segno.make(url, error="m").svg_inline(scale=4)
    assert svg.startswith("<svg")
    with pytest.raises(NotFound):
        await svc.certificate_qr_svg("2345-6789-ABCD-EFGH")


def test_codes_use_the_unambiguous_alphabet_and_normalise():
    codes = {svc.new_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(CODE_RE.fullmatch(c) for c in codes)
    assert svc.normalize_code(" abcd efgh-jkmn PQRS ") == "ABCD-EFGH-JKMN-PQRS"
    assert [svc.normalize_code(c) for c in ("ABCD-EFGH-JKMN-PQR0", "ABCD-EFGH-JKMN-PQ", "")] == [
        None,
        None,
        None,
    ]
