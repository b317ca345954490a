"""Password hashing: argon2id via argon2-cffi, always off the event loop.

Tests configure the CHEAPEST profile (Config.argon2_profile) so that the suite stays
fast; production uses argon2-cffi's RFC 9106 low-memory defaults.

Hashing runs on a small dedicated pool (one thread per 4 cores, at least one) whose
threads lower their own scheduling priority (nice +10, Linux: per thread, inherited
by the lanes argon2 starts). One argon2 call with p=4 lanes already keeps every core
of a small machine busy, so more concurrent hashes only queue CPU work in front of
the event loop: a burst of logins then stalled every other request (issue 10,
"login burst"). With the pool, logins wait for one another, and the event loop,
at normal priority, takes the CPU back whenever a request is ready.
"""

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import CHEAPEST

from resolvers.config import get_config

HASH_THREAD_NICE = 10
T = TypeVar("T")
_hashers: dict[str, PasswordHasher] = {}


def _lower_priority() -> None:
    # On Linux, nice is per thread; elsewhere (or if refused) hashing keeps the
    # normal priority and only the pool's size bounds it.
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICE)
    except (AttributeError, OSError):
        pass


_pool = ThreadPoolExecutor(
    max_workers=max(1, (os.cpu_count() or 1) // 4),
    thread_name_prefix="argon2",
    initializer=_lower_priority,
)


def hasher() -> PasswordHasher:
    profile = get_config().argon2_profile
    if profile not in _hashers:
        _hashers[profile] = (
            PasswordHasher.from_parameters(CHEAPEST) if profile == "cheapest" else PasswordHasher()
        )
    return _hashers[profile]


async def _off_loop(fn: Callable[..., T], *args: str) -> T:
    return await asyncio.get_running_loop().run_in_executor(_pool, fn, *args)


async def hash_password(password: str) -> str:
    return await _off_loop(hasher().hash, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return hasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str, password: str) -> bool:
    """Constant-work verification on the hashing pool; False on any mismatch."""
    return await _off_loop(_verify, stored, password)


def needs_rehash(stored: str) -> bool:
    try:
        return hasher().check_needs_rehash(stored)
    except InvalidHashError:
        return True
