"""Public certificate verification (Art. 6, R18) and the published signing key."""

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from resolvers import certificate as svc
from resolvers import certsign
from views.templating import render

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


routes = [
    Route("/verify", verify_page, methods=["GET"]),
    Route("/.well-known/pingshen-certificate-key", public_key, methods=["GET"]),
]
