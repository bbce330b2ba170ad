"""The HTTP layer's reads: the exports' range scans, the sideloads' look-ups, list pages and single records.

An export page is one range scan of a stream's ``(time, id)`` index; that is the hot path, so nothing is decoded
here: rows carry the stored JSON bytes as they are. Each export statement is SQL text built once per (target,
shape) and cached, and run on the driver's own cursor, so a page costs the driver's execution and fetch and nothing
of SQLAlchemy's compiler or result rows. The
export (``deskstream.export``) and the list framing (``deskstream.api.listing``) decide which rows make a page;
this module only knows how to fetch them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, Result, Select, TextClause, bindparam, func, select, text, true

from deskstream.store import schema
from deskstream.store.errors import StoreError, StoreUnavailable

#: ``(time, id, json)`` of one stored item, in stream order.
ScanRow = tuple[int, int, bytes]


@dataclass(frozen=True)
class ScanTarget:
    """Which table and time column a stream is scanned on, and which rows and JSON form a request reads."""

    table: str
    time_column: str
    #: Only rows without ``deleted_at`` (``exclude_deleted=true`` on tickets).
    live_only: bool = False
    #: The ``json_comments`` form where there is one (``include=comment_events`` on ticket events).
    with_comments: bool = False


class Shape(Enum):
    """The statements a page may run; each selects ``(time, id, json)`` in stream order."""

    #: ``time >= :start AND time <= :until``, the first ``:limit`` rows (time-based pages).
    FROM_TIME = "from_time"
    #: ``(time, id) > (:time, :id) AND time <= :until``, the first ``:limit`` rows (cursor pages).
    AFTER = "after"
    #: ``(time, id) < (:time, :id) AND time >= :start``, the last ``:limit`` rows, newest first (``page[before]``).
    BEFORE = "before"
    #: The rest of one second: ``time = :time AND id > :id`` (a time-based page extended over a tie).
    REST_OF_SECOND = "rest_of_second"
    #: The first visible second after ``:time``, if any (extending a page; ``end_of_stream`` of an extended page).
    NEXT_SECOND = "next_second"


@cache
def statement(target: ScanTarget, shape: Shape) -> TextClause:
    t = target.time_column
    body = "COALESCE(json_comments, json)" if target.with_comments else "json"
    extra = " AND deleted_at IS NULL" if target.live_only else ""
    head = f"SELECT {t}, id, {body} FROM {target.table} WHERE "
    order = f" ORDER BY {t}, id"
    sql = {
        Shape.FROM_TIME: f"{head}{t} >= :start AND {t} <= :until{extra}{order} LIMIT :limit",
        Shape.AFTER: f"{head}({t}, id) > (:time, :id) AND {t} <= :until{extra}{order} LIMIT :limit",
        Shape.BEFORE: f"{head}({t}, id) < (:time, :id) AND {t} >= :start{extra}"
        f" ORDER BY {t} DESC, id DESC LIMIT :limit",
        Shape.REST_OF_SECOND: f"{head}{t} = :time AND id > :id{extra} ORDER BY id",
        Shape.NEXT_SECOND: f"SELECT {t} FROM {target.table} WHERE {t} > :time AND {t} <= :until{extra}{order} LIMIT 1",
    }[shape]
    return text(sql)


@cache
def _driver_sql(target: ScanTarget, shape: Shape, dialect: str) -> str:
    """A scan statement as its driver takes it: ``:name`` for sqlite3, ``%(name)s`` for psycopg."""
    sql = statement(target, shape).text
    return sql if dialect == "sqlite" else re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)


@cache
def _by_ids(table: str) -> TextClause:
    return text(f"SELECT json FROM {table} WHERE id IN :ids ORDER BY id").bindparams(bindparam("ids", expanding=True))


#: Every audit of the page's tickets with its comment's author and that author's role (NULL without a comment).
_AUDITS_WITH_AUTHORS = text(
    "SELECT e.ticket_id, e.json, c.author_id, u.role FROM ticket_events e"
    " LEFT JOIN comments c ON c.ticket_id = e.ticket_id AND c.audit_id = e.id"
    " LEFT JOIN users u ON u.id = c.author_id"
    " WHERE e.ticket_id IN :ids ORDER BY e.ticket_id, e.id"
).bindparams(bindparam("ids", expanding=True))
_SLA_STATES = text("SELECT ticket_id, json FROM sla_states WHERE ticket_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)


@dataclass(frozen=True)
class ListQuery:
    """The rows of one list endpoint, in id order: a table's stored JSON (or another JSON column of it)."""

    table: str
    column: str = "json"
    #: Only rows without ``deleted_at``.
    live_only: bool = False
    #: Column → value the rows must have (a ticket's audits: ``ticket_id``; an end user's tickets: ``requester_id``).
    equals: tuple[tuple[str, int], ...] = ()
    #: Only public rows (an end user reading a ticket's comments).
    public_only: bool = False

    def where(self) -> ColumnElement[bool]:
        t = schema.metadata.tables[self.table]
        condition: ColumnElement[bool] = true()
        if self.live_only:
            condition = condition & t.c.deleted_at.is_(None)
        for name, value in self.equals:
            condition = condition & (t.c[name] == value)
        if self.public_only:
            condition = condition & t.c.public.is_(True)
        return condition


@dataclass(frozen=True)
class StoredJson:
    """One record's stored JSON with what access checks read: its ``deleted_at``, and a ticket's requester."""

    json: bytes
    deleted_at: int | None
    requester_id: int | None = None


@dataclass(frozen=True)
class UserSearch:
    """The users a search finds: live ones, with this email (case-insensitive) and updated in this window."""

    email: str | None = None
    updated_after: int | None = None
    updated_before: int | None = None


def _tuples(result: Result[Any]) -> Sequence[Any]:
    """The result's rows as they are: a row is a tuple (``Result.tuples()``, which said so to the type checker, is
    deprecated in SQLAlchemy 2.1, and a connector's suite that turns warnings into errors got a 500 from it)."""
    return result.all()


class Scans:
    """The HTTP layer's reads on one read transaction (a page and its sideloads see one snapshot)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def rows(self, target: ScanTarget, shape: Shape, **params: int) -> Sequence[ScanRow]:
        """The rows of one page shape (see :class:`Shape` for each one's parameters).

        Read through the driver's own cursor, on this transaction's connection: SQLAlchemy's result rows cost about
        as much again as the fetch itself (a page of 1000 tickets: 0.9 ms fetched, 1.6 ms through ``Result``), and
        these statements need nothing of it (no types to process, the stored bytes are served as they are).
        """
        driver = self.conn.connection.driver_connection
        dbapi = self.conn.dialect.loaded_dbapi
        cursor = driver.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(_driver_sql(target, shape, self.conn.dialect.name), params)
            return cursor.fetchall()  # type: ignore[no-any-return]
        except dbapi.OperationalError as error:
            raise StoreUnavailable(str(error).strip().splitlines()[0]) from error
        except dbapi.Error as error:
            raise StoreError(str(error).strip().splitlines()[0]) from error
        finally:
            cursor.close()

    def next_second(self, target: ScanTarget, second: int, until: int) -> int | None:
        """The first second after ``second`` (up to ``until``) that holds a row, if any."""
        found = self.conn.execute(statement(target, Shape.NEXT_SECOND), {"time": second, "until": until}).scalar()
        return None if found is None else int(found)

    def json_by_ids(self, table: str, ids: Iterable[int | None]) -> list[bytes]:
        """The stored JSON of the records with these ids (a sideload's records), in id order."""
        wanted = sorted({i for i in ids if isinstance(i, int)})
        if not wanted:
            return []
        return [row[0] for row in self.conn.execute(_by_ids(table), {"ids": wanted})]

    def audits_with_authors(self, ticket_ids: Iterable[int]) -> Sequence[tuple[int, bytes, int | None, str | None]]:
        """Every audit of these tickets, in order, with its comment's author id and role (None without one)."""
        return _tuples(self.conn.execute(_AUDITS_WITH_AUTHORS, {"ids": sorted(ticket_ids)}))

    def sla_states(self, ticket_ids: Iterable[int]) -> Sequence[tuple[int, bytes]]:
        """The stored SLA state of each of these tickets that has one."""
        return _tuples(self.conn.execute(_SLA_STATES, {"ids": sorted(ticket_ids)}))

    # lists ------------------------------------------------------------------------------------------------------
    def _list(self, query: ListQuery, *columns: Any) -> Select[Any]:
        t = schema.metadata.tables[query.table]
        return select(*columns).select_from(t).where(query.where())

    def list_after(self, query: ListQuery, after_id: int | None, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` rows with ids after ``after_id`` (cursor pages): (id, stored JSON)."""
        t = schema.metadata.tables[query.table]
        statement = self._list(query, t.c.id, t.c[query.column])
        if after_id is not None:
            statement = statement.where(t.c.id > after_id)
        rows = self.conn.execute(statement.order_by(t.c.id).limit(limit))
        return [(int(row[0]), bytes(row[1])) for row in rows]

    def list_offset(self, query: ListQuery, offset: int, limit: int) -> list[bytes]:
        """Up to ``limit`` rows' stored JSON after skipping ``offset`` (offset pages)."""
        t = schema.metadata.tables[query.table]
        statement = self._list(query, t.c[query.column]).order_by(t.c.id).limit(limit).offset(offset)
        return [bytes(row[0]) for row in self.conn.execute(statement)]

    def list_count(self, query: ListQuery) -> int:
        return int(self.conn.execute(self._list(query, func.count())).scalar_one())

    # single records, tags, search, job statuses -------------------------------------------------------------------
    def record(self, table: str, record_id: int) -> StoredJson | None:
        t = schema.metadata.tables[table]
        columns = [t.c.json, t.c.deleted_at] + ([t.c.requester_id] if table == "tickets" else [])
        row = self.conn.execute(select(*columns).where(t.c.id == record_id)).first()
        return None if row is None else StoredJson(bytes(row[0]), row[1], row[2] if table == "tickets" else None)

    def live_tickets_since(self, since: int) -> Iterator[bytes]:
        """The stored JSON of every live ticket changed at or after ``since`` (on the export index)."""
        t = schema.tickets
        rows = self.conn.execute(select(t.c.json).where(t.c.generated_timestamp >= since, t.c.deleted_at.is_(None)))
        return (bytes(row[0]) for row in rows)

    def users_found(self, search: UserSearch, limit: int) -> list[bytes]:
        """The stored JSON of the live users a search finds, in id order, at most ``limit``."""
        u = schema.users
        condition: ColumnElement[bool] = u.c.deleted_at.is_(None)
        if search.email is not None:
            condition = condition & (func.lower(u.c.email) == search.email.lower())
        if search.updated_after is not None:
            condition = condition & (u.c.updated_at > search.updated_after)
        if search.updated_before is not None:
            condition = condition & (u.c.updated_at < search.updated_before)
        rows = self.conn.execute(select(u.c.json).where(condition).order_by(u.c.id).limit(limit))
        return [bytes(row[0]) for row in rows]

    def job_status(self, job_id: str) -> bytes | None:
        t = schema.job_statuses
        found = self.conn.execute(select(t.c.json).where(t.c.id == job_id)).scalar()
        return None if found is None else bytes(found)
