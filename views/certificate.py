"""Public certificate verification (Art. 6, R18) and the published signing key."""

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from resolvers import certificate as svc
from resolvers import certsign
from resolvers.errors import DomainError, Unauthenticated
from resolvers.policy import Perm, allows
from views.errors import wants_fragment
from views.forms import Form
from views.templating import current_actor, render

KIND_LABELS = {"certificate": "电子职称证书", "result_notice": "电子职称评价结果通知书"}


async def verify_page(request: Request) -> Response:
    """GET /verify?code=…: anyone may check a code and see only what it states."""
    code = request.query_params.get("code", "").strip()[:64]
    check = await svc.verify_certificate(code) if code else None
    return render(
        request,
        "certificate/verify.html",
        {"code": code, "check": check, "kind_labels": KIND_LABELS},
        block="result" if request.headers.get("hx-request") else None,
    )


async def public_key(request: Request) -> Response:
    """The Ed25519 public key (base64, raw 32 bytes) that verifies every certificate."""
    body = f"key_id: {certsign.key_id()}\ned25519: {certsign.public_key_b64()}\n"
    return PlainTextResponse(body, headers={"Cache-Control": "public, max-age=3600"})


PRINT = "certificate/certificate.html"


async def _certificate_page(request: Request, form: Form | None = None) -> Response:
    actor = current_actor(request)
    if actor.is_anonymous:
        raise Unauthenticated()
    cert = await svc.get_certificate(actor, request.path_params["code"])
    check = await svc.verify_certificate(cert.code)
    base = f"{request.url.scheme}://{request.url.netloc}"
    ctx = {
        "cert": cert,
        "p": cert.payload,
        "check": check,
        "qr_svg": await svc.certificate_qr_svg(cert.code, base_url=base),
        "verify_url": svc.verification_url(cert.code, cert.signature, base_url=base),
        "kind_labels": KIND_LABELS,
        "key_id": certsign.key_id(),
        "can_revoke": allows(actor, Perm.CERTIFICATE_REVOKE),
        "form": form or Form.empty("revoke").expect(["reason"]),
        "done": "证书已撤销。" if request.query_params.get("done") == "revoked" else "",
    }
    return render(
        request,
        PRINT,
        ctx,
        "revoke" if form is not None and wants_fragment(request) else None,
        status_code=422 if form is not None else 200,
        headers={"Cache-Control": "no-store"},
    )


async def certificate_page(request: Request) -> Response:
    """GET /certificates/{code}: the printable certificate with its QR code, for the
    holder and the bureau (Art. 6, R18); anyone else verifies the code on /verify."""
    return await _certificate_page(request)


async def revoke(request: Request) -> Response:
    """POST /certificates/{code}/revoke: the bureau revokes with a reason (R18)."""
    actor = current_actor(request)
    form = (await Form.submitted(request, "revoke")).expect(["reason"])
    try:
        cert = await svc.revoke_certificate(
            actor, request.path_params["code"], reason=form.value("reason")
        )
    except DomainError as exc:
        return await _certificate_page(request, form.add(exc))
    target = f"/certificates/{cert.code}?done=revoked"
    if wants_fragment(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


routes = [
    Route("/certificates/{code}", certificate_page, methods=["GET"]),
    Route("/certificates/{code}/revoke", revoke, methods=["POST"]),
    Route("/verify", verify_page, methods=["GET"]),
    Route("/.well-known/pingshen-certificate-key", public_key, methods=["GET"]),
]
