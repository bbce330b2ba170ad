"""Signed console sessions: what a browser holds after signing in to the console (``/_deskstream/console``).

A session is ``<user id>.<issued at, ms>.<HMAC-SHA256>`` (the two numbers in the clear, the signature over both,
URL-safe base64). The key is made once per database, at random, and kept in its ``kv`` table, so every worker
process and every server on that database accepts the sessions any of them issued, and a restart signs nobody out.
It is read once per process and never printed or logged. A session lasts :data:`SESSION_SECONDS` of wall time (not the
simulated clock's, which a test moves by days), and it only ever names a user: whether that user is still a live,
unsuspended admin is checked on every request (:meth:`deskstream.service.auth.AuthService.principal_of`).

Signing out must end the session, not only clear the browser's cookie: a copy of the cookie (a shared machine, a
proxy's log) would otherwise stay good for the rest of the day. A signed value cannot be taken back, so the
database keeps, per user, the moment they last signed out (``kv``: ``console.signed_out.<user id>``), and a session
issued before it is refused, in every process on the database. Signing out so ends every console session of that
user, in every browser.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time

from deskstream.store.engine import Store

#: The ``kv`` key of the signing key.
SECRET_KEY = "console.session_key"
#: The ``kv`` key of the moment (ms) a user last signed out, before the user's id.
SIGNED_OUT = "console.signed_out."
#: How long a session is good for: a working day.
SESSION_SECONDS = 12 * 3600
#: How far another server's wall clock may be ahead of this one's (a session it issued is not from the future).
CLOCK_SKEW = 300


class ConsoleSessions:
    """Issue and check session values with the database's signing key."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def _signing_key(self) -> bytes:
        """The database's key, made by the first process that needs one: read and made in one write transaction
        that holds the write lock (SQLite's, or PostgreSQL's stamp lock), so two processes never make two."""
        with self._lock:
            if self._key is None:
                with self.store.writing() as w:
                    stored = w.kv_get(SECRET_KEY)
                    if stored is None:
                        stored = secrets.token_urlsafe(32)
                        w.kv_set(SECRET_KEY, stored)
                self._key = stored.encode()
            return self._key

    def _signature(self, payload: str) -> str:
        digest = hmac.new(self._signing_key(), payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, user_id: int, now: float | None = None) -> str:
        payload = f"{user_id}.{int((time.time() if now is None else now) * 1000)}"
        return f"{payload}.{self._signature(payload)}"

    def sign_out(self, value: str | None, now: float | None = None) -> None:
        """End every session of the user ``value`` names (nothing, if it names nobody)."""
        user_id = self.user_of(value, now)
        if user_id is not None:
            self.store.kv_set(f"{SIGNED_OUT}{user_id}", str(int((time.time() if now is None else now) * 1000)))

    def user_of(self, value: str | None, now: float | None = None) -> int | None:
        """The user a session value names, if it is well formed, signed with this database's key, not expired and
        issued after that user last signed out."""
        if not value or len(value) > 200:
            return None
        user, _, rest = value.partition(".")
        issued, _, signature = rest.partition(".")
        if not (user.isascii() and user.isdigit() and issued.isascii() and issued.isdigit()):
            return None
        if not hmac.compare_digest(self._signature(f"{user}.{issued}").encode(), signature.encode("utf-8", "replace")):
            return None
        age = (time.time() if now is None else now) - int(issued) / 1000
        if not -CLOCK_SKEW <= age < SESSION_SECONDS:
            return None
        signed_out = self.store.kv_get(f"{SIGNED_OUT}{int(user)}")
        return int(user) if signed_out is None or int(issued) > int(signed_out) else None
