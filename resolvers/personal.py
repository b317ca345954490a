"""Personal data (SPEC.md "Personal data"): validation, encryption, keyed hashes, masks.

Resident ID numbers and phone numbers are validated (GB 11643 check digit, embedded
birth date; mainland mobile numbers), stored AES-256-GCM encrypted with a key derived
from the secret key, looked up through an HMAC-SHA256 keyed hash, and shown masked.
Ciphertexts carry a key id prefix ("v1:") so the key can be rotated.
"""

import base64
import datetime as dt
import hashlib
import hmac
import os
import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from resolvers.common import beijing_today
from resolvers.errors import DomainError, ErrorCode

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
# GB 32100-2015 统一社会信用代码 alphabet (no I, O, Z, S, V).
_CC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CC_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")

KEY_ID = "v1"

_keys: dict[str, bytes] = {}


def reset_keys() -> None:
    """Forget derived keys (after configure() installs another secret)."""
    _keys.clear()


def _key(purpose: str) -> bytes:
    if purpose not in _keys:
        from resolvers.config import get_config

        secret = get_config().secret_key.encode()
        _keys[purpose] = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"pingshen", info=purpose.encode()
        ).derive(secret)
    return _keys[purpose]


# --- validation -------------------------------------------------------------------


def id_check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def normalize_id_number(value: str, *, field: str = "idNumber") -> str:
    """Validate a resident ID number and return it in canonical form.

    Only surrounding blanks are forgiven; lowercase x, full-width digits, the legacy
    15-digit form, a wrong check digit or an impossible birth date are refused.
    """
    value = value.strip()
    if not _ID_RE.fullmatch(value):
        raise DomainError(
            ErrorCode.INVALID_ID_NUMBER, "身份证号码应为18位数字(末位可为大写X)", field
        )
    if id_check_digit(value[:17]) != value[17]:
        raise DomainError(ErrorCode.INVALID_ID_NUMBER, "身份证号码校验位不正确", field)
    try:
        birth = birth_date_from_id(value)
    except ValueError:
        raise DomainError(
            ErrorCode.INVALID_ID_NUMBER, "身份证号码中的出生日期不存在", field
        ) from None
    if birth.year < 1900 or birth > beijing_today():
        raise DomainError(ErrorCode.INVALID_ID_NUMBER, "身份证号码中的出生日期不合理", field)
    return value


def birth_date_from_id(id_number: str) -> dt.date:
    return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def gender_from_id(id_number: str) -> str:
    """'male' or 'female' from the sequence digit (odd = male)."""
    return "male" if int(id_number[16]) % 2 else "female"


def normalize_phone(value: str, *, field: str = "phone") -> str:
    value = value.strip()
    if not _PHONE_RE.fullmatch(value):
        raise DomainError(ErrorCode.INVALID_PHONE, "手机号码应为11位、以1开头的大陆手机号", field)
    return value


def credit_code_check(first17: str) -> str:
    total = sum(_CC_ALPHABET.index(c) * w for c, w in zip(first17, _CC_WEIGHTS, strict=True))
    return _CC_ALPHABET[(31 - total % 31) % 31]


def normalize_credit_code(value: str, *, field: str = "creditCode") -> str:
    value = value.strip()
    if not _CC_RE.fullmatch(value) or credit_code_check(value[:17]) != value[17]:
        raise DomainError(
            ErrorCode.INVALID_CREDIT_CODE, "统一社会信用代码格式或校验位不正确", field
        )
    return value


# --- protection ---------------------------------------------------------------------


def encrypt(plaintext: str) -> str:
    """AES-256-GCM with a fresh 96-bit nonce; output 'v1:' + base64(nonce ‖ ct)."""
    if plaintext == "":
        return ""
    nonce = os.urandom(12)
    ct = AESGCM(_key("pii-enc")).encrypt(nonce, plaintext.encode(), KEY_ID.encode())
    return f"{KEY_ID}:" + base64.b64encode(nonce + ct).decode()


def decrypt(token: str) -> str:
    if token == "":
        return ""
    key_id, _, body = token.partition(":")
    if key_id != KEY_ID:
        raise ValueError(f"unknown personal-data key id {key_id!r}")
    raw = base64.b64decode(body)
    return AESGCM(_key("pii-enc")).decrypt(raw[:12], raw[12:], key_id.encode()).decode()


def keyed_hash(value: str) -> str:
    """HMAC-SHA256 under a derived key: equal inputs match, a dump reveals nothing."""
    return hmac.new(_key("pii-hash"), value.encode(), hashlib.sha256).hexdigest()


def mask_id_number(value: str) -> str:
    return value[:6] + "*" * 8 + value[-4:] if len(value) == 18 else "*" * len(value)


def mask_phone(value: str) -> str:
    return value[:3] + "****" + value[-4:] if len(value) == 11 else "*" * len(value)


def mask_name(value: str) -> str:
    """张三 → 张*, 欧阳小明 → 欧***: what a public certificate check shows."""
    return value[:1] + "*" * max(len(value) - 1, 1) if value else ""


def protect_id_number(value: str) -> dict[str, str]:
    """Field values for a validated ID number: encrypted, keyed hash and mask."""
    return {
        "id_number_enc": encrypt(value),
        "id_number_hash": keyed_hash(value),
        "id_number_masked": mask_id_number(value),
    }


def protect_phone(value: str) -> dict[str, str]:
    return {
        "phone_enc": encrypt(value),
        "phone_hash": keyed_hash(value),
        "phone_masked": mask_phone(value),
    }


_SENSITIVE_KEYS = {"id_number", "phone", "complainant_name", "complainant_contact"}


def mask_for_audit(data: dict | None) -> dict | None:
    """Audit before/after snapshots never hold personal data in clear or ciphertext."""
    if data is None:
        return None
    out: dict = {}
    for k, v in data.items():
        if k.endswith(("_enc", "_hash")) or k == "password_hash":
            continue
        if k in _SENSITIVE_KEYS and isinstance(v, str):
            out[k] = mask_id_number(v) if k == "id_number" else mask_phone(v)
        else:
            out[k] = v
    return out
