"""Password hashing: argon2id via argon2-cffi, always off the event loop.

Tests configure the CHEAPEST profile (Config.argon2_profile) so that the suite stays
fast; production uses argon2-cffi's RFC 9106 low-memory defaults.
"""

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import CHEAPEST

from resolvers.config import get_config

_hashers: dict[str, PasswordHasher] = {}


def hasher() -> PasswordHasher:
    profile = get_config().argon2_profile
    if profile not in _hashers:
        _hashers[profile] = (
            PasswordHasher.from_parameters(CHEAPEST) if profile == "cheapest" else PasswordHasher()
        )
    return _hashers[profile]


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(hasher().hash, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str, password: str) -> bool:
    """Constant-work verification in a worker thread; False on any mismatch."""
    return await anyio.to_thread.run_sync(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    try:
        return hasher().check_needs_rehash(stored)
    except InvalidHashError:
        return True
