"""Public certificate verification page and the published key (Art. 6, R18)."""

import datetime as dt

from models import Certificate, Committee, EvaluationSession, SessionApplicant
from models.enums import CertificateKind, Level
from resolvers import certsign
from tests import factories

CODE = "ABCD-EFGH-JKMN-PQRS"


async def _certificate(*, revoked: bool = False) -> Certificate:
    inst = await factories.institution()
    committee = await Committee.create(
        institution=inst,
        name="工程技术正高级评委会",
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
    )
    now = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)
    session = await EvaluationSession.create(
        committee=committee,
        institution=inst,
        year=2026,
        starts_at=now,
        ends_at=now,
        place="北京",
        panel_size=5,
    )
    unit = await factories.unit()
    applicant = await SessionApplicant.create(
        session=session,
        name="欧阳明远",
        id_number_enc="x",
        id_number_hash="h",
        id_number_masked="110101********1234",
        unit=unit,
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
    )
    payload = {
        "kind": "certificate",
        "code": CODE,
        "holder_name": "欧阳明远",
        "id_number_masked": "110101********1234",
        "series": "工程技术",
        "specialty": "电子信息",
        "level": "正高级",
        "committee_name": committee.name,
        "institution_name": inst.name,
        "session_date": "2026-06-01",
        "issued_on": "2026-06-20",
    }
    signature, key_id = certsign.sign(payload)
    return await Certificate.create(
        applicant=applicant,
        kind=CertificateKind.CERTIFICATE,
        code=CODE,
        payload=payload,
        signature=signature,
        key_id=key_id,
        issued_at=now,
        revoked_at=now if revoked else None,
        revoke_reason="材料造假" if revoked else "",
    )


async def test_verify_page_valid_code_shows_masked_holder_and_signature_ok(client):
    await _certificate()
    page = await client.get("/verify", params={"code": CODE.lower().replace("-", " ")})
    assert page.status_code == 200
    assert "电子职称证书有效,电子签名验证通过" in page.text
    assert "欧***" in page.text
    assert "欧阳明远" not in page.text
    assert "正高级" in page.text


async def test_verify_page_revoked_and_unknown_codes(client):
    await _certificate(revoked=True)
    revoked = await client.get("/verify", params={"code": CODE})
    unknown = await client.get("/verify", params={"code": "ZZZZ-ZZZZ-ZZZZ-ZZZZ"})
    assert "已被撤销(2026-06-01)" in revoked.text
    assert "未找到该核验码对应的证书" in unknown.text
    assert "欧阳明远" not in revoked.text + unknown.text


async def test_verify_page_htmx_gets_only_the_result_block(client):
    await _certificate()
    page = await client.get("/verify", params={"code": CODE}, headers={"HX-Request": "true"})
    assert page.text.lstrip().startswith('<section id="verify-result"')
    assert "<html" not in page.text


async def test_published_key_verifies_a_certificate_alone(client):
    cert = await _certificate()
    body = (await client.get("/.well-known/pingshen-certificate-key")).text
    public = body.split("ed25519: ")[1].strip()
    assert certsign.verify(cert.payload, cert.signature, public) is True
    assert certsign.verify({**cert.payload, "level": "副高级"}, cert.signature, public) is False
