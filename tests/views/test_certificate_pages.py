"""Public certificate verification page and the published key (Art. 6, R18)."""

import datetime as dt
import html

from models import (
    AuditEvent,
    Certificate,
    Committee,
    EvaluationSession,
    Institution,
    SessionApplicant,
)
from models.enums import CertificateKind, Level, Role
from resolvers import certificate as svc
from resolvers import certsign
from tests import factories
from tests.views import test_evaluation_pages as ev

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


# --- the printable certificate page (Art. 6, R18) -----------------------------------------


async def _state() -> tuple[object, ...]:
    return (
        await Certificate.all().order_by("id").values_list("revoked_at", "revoke_reason"),
        await AuditEvent.all().count(),
    )


async def test_printable_certificate_for_holder_with_qr_svg(asgi_app):
    """The holder sees the full certificate with an inline SVG QR code that encodes the
    verification URL (code and signature) and no revoke control."""
    cert = await _certificate()
    async with ev._browser(asgi_app) as bc:
        holder = await ev._login(bc, Role.APPLICANT, cert.applicant_id)  # type: ignore[attr-defined]
        page = await holder.get(f"/certificates/{CODE}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "欧阳明远" in page.text and '<svg width="' in page.text
    expected_url = svc.verification_url(CODE, cert.signature, base_url="https://testserver")
    assert html.escape(expected_url) in page.text or expected_url in page.text
    assert "签名验证通过" in page.text
    assert 'id="revoke-form"' not in page.text
    assert "<script" not in page.text.split("</head>")[1]


async def test_printable_certificate_refused_to_others(asgi_app):
    """Another applicant and institution staff get 404; the public is sent to log in."""
    cert = await _certificate()
    other_applicant = await SessionApplicant.create(
        session_id=(await SessionApplicant.get(id=cert.applicant_id)).session_id,  # type: ignore[attr-defined]
        name="其他人",
        id_number_enc="y",
        id_number_hash="h2",
        id_number_masked="110101********9999",
        unit=await factories.unit(),
        series="工程技术",
        specialty="电子信息",
        level=Level.SENIOR,
    )
    async with ev._browser(asgi_app) as a, ev._browser(asgi_app) as b, ev._browser(asgi_app) as c:
        other = await ev._login(a, Role.APPLICANT, other_applicant.id)
        staff = await ev._login(b, Role.INSTITUTION, (await Institution.first()).id)  # type: ignore[union-attr]
        assert (await other.get(f"/certificates/{CODE}")).status_code == 404
        assert (await staff.get(f"/certificates/{CODE}")).status_code == 404
        anonymous = await c.get(f"/certificates/{CODE}")
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/login")


async def test_bureau_revokes_with_reason_and_refusals_change_nothing(asgi_app):
    """R18: the bureau revokes with a reason; a blank reason (REQUIRED), a missing CSRF
    token, the holder (404) and an anonymous caller (404) change nothing."""
    cert = await _certificate()
    async with ev._browser(asgi_app) as a, ev._browser(asgi_app) as b, ev._browser(asgi_app) as c:
        bureau = await ev._login(a, Role.BUREAU)
        holder = await ev._login(b, Role.APPLICANT, cert.applicant_id)  # type: ignore[attr-defined]
        before = await _state()
        blank = await bureau.post(f"/certificates/{CODE}/revoke", {"reason": " "})
        assert blank.status_code == 422
        assert 'data-code="REQUIRED"' in blank.text
        fragment = await bureau.post(
            f"/certificates/{CODE}/revoke", {"reason": ""}, headers={"HX-Request": "true"}
        )
        assert fragment.status_code == 422 and "<html" not in fragment.text
        no_csrf = await bureau.client.post(f"/certificates/{CODE}/revoke", data={"reason": "x"})
        assert no_csrf.status_code == 403
        # The resolver scopes revocation to the bureau: for the holder it is absent.
        assert (
            await holder.post(f"/certificates/{CODE}/revoke", {"reason": "x"})
        ).status_code == 404
        assert (
            await c.post(f"/certificates/{CODE}/revoke", data={"reason": "x"})
        ).status_code == 404
        assert await _state() == before
        done = await bureau.post(f"/certificates/{CODE}/revoke", {"reason": "材料造假"})
        assert done.status_code == 303
        assert done.headers["location"] == f"/certificates/{CODE}?done=revoked"
    revoked = await Certificate.get(id=cert.id)
    assert revoked.revoke_reason == "材料造假" and revoked.revoked_at is not None
