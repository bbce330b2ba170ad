"""Who is calling: basic ``email:password``, basic ``email/token:API_TOKEN`` and ``Bearer TOKEN``.

Every failure is the same 401, whatever was wrong, so that a caller learns nothing about which part was.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, func, insert, select

from deskstream.exceptions import NotFound, Unauthenticated
from deskstream.service.context import ServiceBase
from deskstream.service.passwords import VerifiedCache, hash_secret, new_token, token_lookup, verify_secret
from deskstream.store import schema
from deskstream.store.engine import allocate_ids


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


#: Every request reads its user (a deleted or suspended user is refused at once); built once, so SQLAlchemy's
#: compiled-statement cache finds it without re-keying a new statement per request.
_LIVE_USER = select(schema.users.c.role, schema.users.c.json).where(
    schema.users.c.id == bindparam("user_id"), schema.users.c.deleted_at.is_(None)
)


class AuthService(ServiceBase):
    def _after_init(self) -> None:
        self.verified = VerifiedCache()

    def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthenticated()
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            return self._bearer(value)
        if scheme.lower() == "basic" and value:
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise Unauthenticated() from None
            login, sep, secret = decoded.partition(":")
            if not sep or not login or not secret:
                raise Unauthenticated()
            if login.endswith("/token"):
                return self._api_token(login[: -len("/token")], secret)
            return self._password(login, secret)
        raise Unauthenticated()

    def _password(self, email: str, password: str) -> Principal:
        digest = self.verified.digest("password", email.lower(), password)
        with self.store.read() as conn:
            cached = self.verified.get(digest)
            if cached is not None:
                return self._principal(conn, cached)
            u = schema.users
            row = conn.execute(
                select(u.c.id, u.c.password_hash).where(func.lower(u.c.email) == email.lower(), u.c.deleted_at.is_(None))
            ).first()
            if not verify_secret(row.password_hash if row else None, password) or row is None:
                raise Unauthenticated()
            self.verified.put(digest, row.id)
            return self._principal(conn, row.id)

    def _api_token(self, email: str, token: str) -> Principal:
        principal = self._bearer(token)
        if (principal.user.get("email") or "").lower() != email.lower():
            raise Unauthenticated()
        return principal

    def _bearer(self, token: str) -> Principal:
        digest = self.verified.digest("token", token)
        with self.store.read() as conn:
            cached = self.verified.get(digest)
            if cached is not None:
                return self._principal(conn, cached)
            t = schema.api_tokens
            rows = conn.execute(
                select(t.c.user_id, t.c.token_hash).where(t.c.lookup == token_lookup(token))
            ).all()
            for row in rows:
                if verify_secret(row.token_hash, token):
                    self.verified.put(digest, row.user_id)
                    return self._principal(conn, row.user_id)
            verify_secret(None, token)
            raise Unauthenticated()

    def _principal(self, conn: Connection, user_id: int) -> Principal:
        row = conn.execute(_LIVE_USER, {"user_id": user_id}).first()
        if row is None:
            raise Unauthenticated()
        user = orjson.loads(row.json)
        if user.get("suspended"):
            raise Unauthenticated()
        return Principal(user_id, row.role, user)

    def create_token(self, email: str, token: str | None = None) -> str:
        """Mint an API token for a user (shown once; only its hash is kept). Works as basic or bearer credential."""
        token = token or new_token()
        with self.store.write() as conn:
            u = schema.users
            user_id = conn.execute(
                select(u.c.id).where(func.lower(u.c.email) == email.lower(), u.c.deleted_at.is_(None))
            ).scalar()
            if user_id is None:
                raise NotFound(f"No user with email {email}")
            conn.execute(
                insert(schema.api_tokens).values(
                    id=allocate_ids(conn, "api_tokens"),
                    user_id=user_id,
                    lookup=token_lookup(token),
                    token_hash=hash_secret(token),
                    created_at=self.clock.now(),
                )
            )
        return token
