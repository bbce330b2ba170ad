"""The exports' reads: one range scan of a stream's ``(time, id)`` index per page, and the batched look-ups of the
sideloads. This is the hot path, so nothing is decoded here: rows carry the stored JSON bytes as they are.

Each statement is a :func:`sqlalchemy.text` built once per (target, shape) and cached, so a page costs the driver's
execution and nothing of SQLAlchemy's compiler. The export (``deskstream.export``) decides which rows make a page;
this module only knows how to fetch them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cache

from sqlalchemy import Connection, TextClause, bindparam, text

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


class Scans:
    """The export's reads on one read transaction (every page and its sideloads see one snapshot)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def rows(self, target: ScanTarget, shape: Shape, **params: int) -> Sequence[ScanRow]:
        """The rows of one page shape (see :class:`Shape` for each one's parameters)."""
        return self.conn.execute(statement(target, shape), params).tuples().all()

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
        return self.conn.execute(_AUDITS_WITH_AUTHORS, {"ids": sorted(ticket_ids)}).tuples().all()

    def sla_states(self, ticket_ids: Iterable[int]) -> Sequence[tuple[int, bytes]]:
        """The stored SLA state of each of these tickets that has one."""
        return self.conn.execute(_SLA_STATES, {"ids": sorted(ticket_ids)}).tuples().all()
