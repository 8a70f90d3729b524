"""Password hashing with Argon2id at OWASP's recommended parameters.

OWASP Password Storage Cheat Sheet: Argon2id, m=19 MiB, t=2, p=1. Hashing costs tens of
milliseconds of CPU, so callers run these functions in a thread pool, never on the event loop.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

OWASP_MEMORY_KIB = 19 * 1024
OWASP_TIME_COST = 2
OWASP_PARALLELISM = 1

_hasher = PasswordHasher(
    time_cost=OWASP_TIME_COST,
    memory_cost=OWASP_MEMORY_KIB,
    parallelism=OWASP_PARALLELISM,
    hash_len=32,
    salt_len=16,
    type=Type.ID,
)

# Verified against when the account does not exist, so a failed login costs the same time
# whether or not the username is known (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash("streamhub-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; with no hash, spends the same work and answers False."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
