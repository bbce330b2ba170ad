"""Secrets at rest: passwords and API tokens are stored only as argon2 hashes.

argon2 verification is deliberately slow, so verified credentials are remembered in process for a short time,
keyed by an HMAC of the credential under a per-process random key (never the credential itself). Comparisons of
that key are dictionary lookups of a keyed digest; argon2's own verify is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Interactive-login strength (RFC 9106's second recommendation scaled down for a 2-core server).
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
_cache_key = secrets.token_bytes(32)
_CACHE_SECONDS = 60.0


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(hashed: str | None, secret: str) -> bool:
    if not hashed:
        # Spend the same time as a real check so that unknown users cannot be told from wrong passwords.
        _dummy_verify(secret)
        return False
    try:
        return _hasher.verify(hashed, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_lookup(token: str) -> str:
    """A short, non-secret prefix of the token's SHA-256, used to find candidate rows for a bearer token."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def new_token() -> str:
    return secrets.token_urlsafe(30)


_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


def _dummy_verify(secret: str) -> None:
    try:
        _hasher.verify(_DUMMY, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        pass


class VerifiedCache:
    """Remembers (credential digest → user id) for a minute so that argon2 runs once per client, not per request."""

    def __init__(self) -> None:
        self._entries: dict[bytes, tuple[int, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def digest(*parts: str) -> bytes:
        return hmac.new(_cache_key, "\x00".join(parts).encode(), hashlib.sha256).digest()

    def get(self, digest: bytes) -> int | None:
        entry = self._entries.get(digest)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, digest: bytes, user_id: int) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[digest] = (user_id, time.monotonic() + _CACHE_SECONDS)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
