"""R18: certificate signatures verify with the public key alone."""

from resolvers import certsign
from resolvers.config import Config, configure

PAYLOAD = {"code": "BJZC2026ABCDEF", "name": "张*", "series": "工程技术", "level": "正高级"}


def test_signature_verifies_with_only_the_public_key():
    sig, kid = certsign.sign(PAYLOAD)
    public = certsign.public_key_b64()
    assert certsign.verify(dict(PAYLOAD), sig, public) is True
    assert kid == certsign.key_id()


def test_signature_fails_for_any_changed_field():
    sig, _ = certsign.sign(PAYLOAD)
    public = certsign.public_key_b64()
    for key in PAYLOAD:
        forged = {**PAYLOAD, key: PAYLOAD[key] + "x"}
        assert certsign.verify(forged, sig, public) is False


def test_signature_fails_under_another_key():
    sig, _ = certsign.sign(PAYLOAD)
    configure(Config(secret_key="another-secret", argon2_profile="cheapest"))
    other_public = certsign.public_key_b64()
    assert certsign.verify(PAYLOAD, sig, other_public) is False


def test_malformed_signature_is_invalid_not_an_error():
    assert certsign.verify(PAYLOAD, "%%%not-base64", certsign.public_key_b64()) is False
