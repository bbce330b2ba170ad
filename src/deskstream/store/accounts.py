"""Sign-in, rate-limit counters and the key-value table, on one transaction's connection.

These reads and writes keep no help-desk record: they are the account's bookkeeping (who may sign in, how many
requests a window has counted, the simulated clock). :class:`~deskstream.store.writer.Writer` inherits them, so a
service reaches everything of one transaction through one object.
"""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, bindparam, case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from deskstream.store import schema
from deskstream.store.records import LiveUser, UserCredentials

#: Every request reads its user (a deleted or suspended user is refused at once).
_LIVE_USER = select(schema.users.c.role, schema.users.c.json).where(
    schema.users.c.id == bindparam("user_id"), schema.users.c.deleted_at.is_(None)
)


class Accounts:
    """The account's bookkeeping on one transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # accounts (service/auth.py) ------------------------------------------------------------------------------------
    def credentials_by_email(self, email: str) -> UserCredentials | None:
        """The live user with this email (case-insensitive) and its password hash."""
        u = schema.users
        row = self.conn.execute(
            select(u.c.id, u.c.password_hash).where(func.lower(u.c.email) == email.lower(), u.c.deleted_at.is_(None))
        ).first()
        return None if row is None else UserCredentials(row.id, row.password_hash)

    def token_holders(self, lookup: str) -> list[tuple[int, str]]:
        """(user id, token hash) of every API token filed under ``lookup`` (a short digest; hashes decide)."""
        t = schema.api_tokens
        rows = self.conn.execute(select(t.c.user_id, t.c.token_hash).where(t.c.lookup == lookup))
        return [(row.user_id, row.token_hash) for row in rows]

    def live_user(self, user_id: int) -> LiveUser | None:
        row = self.conn.execute(_LIVE_USER, {"user_id": user_id}).first()
        return None if row is None else LiveUser(user_id, row.role, orjson.loads(row.json))

    def lock_live_admins(self) -> list[LiveUser]:
        """The live (not deleted) admins, in id order, their rows locked until this transaction ends.

        On PostgreSQL this is ``SELECT ... FOR UPDATE``: a second transaction asking for them waits for the first to
        commit, then sees the admins as that commit left them (read committed re-checks a locked row against the
        ``WHERE``), so two concurrent demotions of the last two admins cannot both count two. On SQLite the write
        transaction already holds the database's one write lock (``BEGIN IMMEDIATE``).
        """
        u = schema.users
        query = (
            select(u.c.id, u.c.role, u.c.json)
            .where(u.c.role == "admin", u.c.deleted_at.is_(None))
            .order_by(u.c.id)
            .with_for_update()
        )
        return [LiveUser(row.id, row.role, orjson.loads(row.json)) for row in self.conn.execute(query)]

    def add_api_token(self, token_id: int, user_id: int, lookup: str, token_hash: str, created_at: int) -> None:
        self.conn.execute(
            insert(schema.api_tokens).values(
                id=token_id, user_id=user_id, lookup=lookup, token_hash=token_hash, created_at=created_at
            )
        )

    # rate limits (api/ratelimit.py) ------------------------------------------------------------------------------
    def count_hit(self, key: str, window_start: int) -> int:
        """Count one request in counter ``key``'s window starting at ``window_start`` (a passed window restarts at
        1); returns the count. One statement: the row lock (PostgreSQL) or the write lock (SQLite's ``BEGIN
        IMMEDIATE``) makes concurrent requests count one after another."""
        t = schema.rate_limit_counters
        bump = (
            update(t)
            .where(t.c.key == key)
            .values(count=case((t.c.window_start == window_start, t.c.count + 1), else_=1), window_start=window_start)
            .returning(t.c.count)
        )
        used = self.conn.execute(bump).scalar()
        if used is not None:
            return int(used)
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(t).values(key=key, window_start=window_start, count=1))
            return 1
        except IntegrityError:  # another process created the row first
            return int(self.conn.execute(bump).scalar_one())

    def hit_counts(self, keys: list[str], window_start: int) -> list[int]:
        """Each counter's count in the window starting at ``window_start`` (0 for one not counted in that window)."""
        t = schema.rate_limit_counters
        rows = self.conn.execute(
            select(t.c.key, t.c.count).where(t.c.key.in_(keys), t.c.window_start == window_start)
        )
        counted = {str(key): int(count) for key, count in rows}  # (a Row's .count is tuple.count)
        return [counted.get(key, 0) for key in keys]

    def take_back_hit(self, key: str, window_start: int) -> None:
        """Undo one :meth:`count_hit` of this window (a sign-in counted before its password was checked, and right);
        nothing once the window has passed."""
        t = schema.rate_limit_counters
        self.conn.execute(
            update(t)
            .where(t.c.key == key, t.c.window_start == window_start, t.c.count > 0)
            .values(count=t.c.count - 1)
        )

    # the key-value table (the simulated clock, the demo's mark) ---------------------------------------------------
    def kv_get(self, key: str) -> str | None:
        return self.conn.execute(select(schema.kv.c.value).where(schema.kv.c.key == key)).scalar()

    def kv_set(self, key: str, value: str) -> None:
        table = schema.kv
        if self.conn.execute(update(table).where(table.c.key == key).values(value=value)).rowcount == 0:
            self.conn.execute(insert(table).values(key=key, value=value))

    def kv_delete(self, key: str) -> None:
        self.conn.execute(delete(schema.kv).where(schema.kv.c.key == key))
