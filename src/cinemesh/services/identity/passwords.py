"""Password rules and argon2id hashing (hashing runs off the event loop)."""

from __future__ import annotations

import asyncio
import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane (bench/identity_bench.py reports the
# sign-ins per second this allows). Hashes made with other parameters are redone at sign-in.
TIME_COST, MEMORY_COST_KIB, PARALLELISM = 2, 19 * 1024, 1
ARGON2_PARAMS = {"time_cost": TIME_COST, "memory_cost": MEMORY_COST_KIB, "parallelism": PARALLELISM}
MIN_LENGTH = 10
MAX_LENGTH = 256

_hasher = PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_COST_KIB, parallelism=PARALLELISM)
# Verifying against this keeps a sign-in for an unknown email as slow as for a known one.
_DUMMY_HASH = _hasher.hash("cinemesh-timing-equaliser")


def weakness(password: str, *, email: str) -> str | None:
    """The rule a password breaks, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password may have at most {MAX_LENGTH} characters"
    if not re.search(r"[A-Za-z]", password) or not re.search(r"[^A-Za-z]", password):
        return "a password needs letters and at least one digit or symbol"
    if len(set(password)) < 5:
        return "a password needs at least 5 different characters"
    local = email.split("@", 1)[0].lower()
    if len(local) >= 4 and local in password.lower():
        return "a password must not contain your email address"
    return None


def needs_rehash(stored_hash: str) -> bool:
    """True when a hash was made with other cost parameters than today's."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)
