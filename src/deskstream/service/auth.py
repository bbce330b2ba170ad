"""Who is calling: basic ``email:password``, basic ``email/token:API_TOKEN`` and ``Bearer TOKEN``.

Every failure is the same 401, whatever was wrong, so that a caller learns nothing about which part was. Wrong
passwords are throttled per (email, client address) and per client address (:mod:`deskstream.service.throttle`):
over either budget a password attempt is 429, whether it is right or not; API tokens are never throttled.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from dataclasses import dataclass
from typing import Any

from deskstream.clock import Clock
from deskstream.exceptions import NotFound, Unauthenticated
from deskstream.service.context import ServiceBase
from deskstream.service.passwords import VerifiedCache, hash_secret, new_token, token_lookup, verify_secret
from deskstream.service.throttle import SignInThrottle
from deskstream.store.engine import Store
from deskstream.store.writer import Writer


@dataclass(frozen=True)
class Principal:
    """An authenticated user."""

    user_id: int
    role: str
    user: dict[str, Any]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_agent(self) -> bool:
        return self.role in ("admin", "agent")


def _clean_secret(text: str) -> bool:
    """A password or token deskstream can compare: no NUL (PostgreSQL's text refuses it; no secret holds one)."""
    return "\x00" not in text


def _clean_login(text: str) -> bool:
    """An email that can be looked up: no control character (NUL, newline, ...) and no lone surrogate."""
    return not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text)


class AuthService(ServiceBase):
    def __init__(self, store: Store, clock: Clock) -> None:
        super().__init__(store, clock)
        self.verified = VerifiedCache()
        self.throttle = SignInThrottle(store, clock)

    def authenticate(self, authorization: str | None, client: str | None = None) -> Principal:
        """The caller of ``authorization`` (the header's value) from client address ``client``.

        Any credential that is not well-formed text (not base64, not UTF-8, a NUL anywhere, a control character in
        the email) is the same 401 as a wrong one, before anything reaches the database. Password attempts spend
        the failed sign-in budgets of :mod:`deskstream.service.throttle` (429 once spent); tokens never do.
        """
        if not authorization:
            raise Unauthenticated()
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            if not _clean_secret(value):
                raise Unauthenticated()
            return self._bearer(value)
        if scheme.lower() == "basic" and value:
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise Unauthenticated() from None
            login, sep, secret = decoded.partition(":")
            if not sep or not login or not secret or not _clean_login(login) or not _clean_secret(secret):
                raise Unauthenticated()
            if login.endswith("/token"):
                return self._api_token(login[: -len("/token")], secret)
            return self._password(login, secret, client)
        raise Unauthenticated()

    def sign_in(self, email: str, password: str, client: str | None = None) -> Principal:
        """A sign-in form's email and password (the console's): the same check and the same throttle as basic
        ``email:password``, every failure the same 401, whether the email exists or not."""
        if not email or not password or not _clean_login(email) or not _clean_secret(password):
            raise Unauthenticated()
        return self._password(email, password, client)

    def principal_of(self, user_id: int) -> Principal:
        """The user a signed session names, as long as it is live and not suspended (401 otherwise)."""
        with self.store.reading() as r:
            return self._principal(r, user_id)

    def _password(self, email: str, password: str, client: str | None) -> Principal:
        digest = self.verified.digest("password", email.lower(), password)
        with self.store.reading() as r:
            self.throttle.check(r, email, client)  # before the cache too: a cached right guess must not answer 200
            cached = self.verified.get(digest)
            if cached is not None:
                return self._principal(r, cached)
        reservation = self.throttle.reserve(email, client)
        with self.store.reading() as r:
            found = r.credentials_by_email(email)
            right = verify_secret(found.password_hash if found else None, password) and found is not None
            principal = self._live_principal(r, found.user_id) if right and found is not None else None
        if principal is None:  # wrong, unknown, deleted or suspended: it stays counted
            self.throttle.failed(reservation, client)
            raise Unauthenticated()
        self.throttle.release(reservation)
        self.verified.put(digest, principal.user_id)
        return principal

    def _api_token(self, email: str, token: str) -> Principal:
        principal = self._bearer(token)
        if (principal.user.get("email") or "").lower() != email.lower():
            raise Unauthenticated()
        return principal

    def _bearer(self, token: str) -> Principal:
        digest = self.verified.digest("token", token)
        with self.store.reading() as r:
            cached = self.verified.get(digest)
            if cached is not None:
                return self._principal(r, cached)
            for user_id, token_hash in r.token_holders(token_lookup(token)):
                if verify_secret(token_hash, token):
                    self.verified.put(digest, user_id)
                    return self._principal(r, user_id)
            verify_secret(None, token)
            raise Unauthenticated()

    @staticmethod
    def _principal(r: Writer, user_id: int) -> Principal:
        user = r.live_user(user_id)
        if user is None or user.item.get("suspended"):
            raise Unauthenticated()
        return Principal(user_id, user.role, user.item)

    @staticmethod
    def _live_principal(r: Writer, user_id: int) -> Principal | None:
        try:
            return AuthService._principal(r, user_id)
        except Unauthenticated:
            return None

    def create_token(self, email: str, token: str | None = None) -> str:
        """Mint an API token for a user (shown once; only its hash is kept). Works as basic or bearer credential."""
        token = token or new_token()
        with self.store.writing() as w:
            found = w.credentials_by_email(email)
            if found is None:
                raise NotFound(f"No user with email {email}")
            token_id = w.allocate("api_tokens")
            w.add_api_token(token_id, found.user_id, token_lookup(token), hash_secret(token), self.clock.now())
        return token
