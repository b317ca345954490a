"""Ed25519 signatures for e-certificates and e-result notices (Art. 6, R18).

The signing key comes from PINGSHEN_CERT_SIGNING_KEY (base64 of a raw 32-byte
Ed25519 private key) when set, otherwise it is derived from the secret key with HKDF,
so a fresh install signs without extra setup. The public key is published at
/.well-known/pingshen-certificate-key (and printed by `pingshen cert-key`), so anyone
can check a certificate offline: verify the signature over the canonical JSON of the
payload. `key_id` (first 16 hex of SHA-256 of the public key) names the key, so old
certificates stay verifiable after a rotation as long as their public key is listed.
"""

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from resolvers.config import get_config


def canonical_payload(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _private_key() -> Ed25519PrivateKey:
    raw_b64 = get_config().extra.get("cert_signing_key", "")
    if raw_b64:
        raw = base64.b64decode(raw_b64)
    else:
        raw = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"pingshen", info=b"cert-sign"
        ).derive(get_config().secret_key.encode())
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_bytes() -> bytes:
    return (
        _private_key()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def public_key_b64() -> str:
    return base64.b64encode(public_key_bytes()).decode()


def key_id(public_raw: bytes | None = None) -> str:
    return hashlib.sha256(public_raw or public_key_bytes()).hexdigest()[:16]


def sign(payload: dict[str, Any]) -> tuple[str, str]:
    """(signature base64url, key_id) over the canonical payload."""
    sig = _private_key().sign(canonical_payload(payload))
    return base64.urlsafe_b64encode(sig).decode().rstrip("="), key_id()


def verify(payload: dict[str, Any], signature: str, public_b64: str) -> bool:
    """True when `signature` is valid for `payload` under the given public key only."""
    try:
        pub = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64))
        sig = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        pub.verify(sig, canonical_payload(payload))
    except (InvalidSignature, ValueError):
        return False
    return True
