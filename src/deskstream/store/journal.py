"""The request journal's table (``request_journal``, migration 6): the only SQL the journal has.

Entries arrive in batches from each server process's flusher (service/journal.py). A batch is inserted and the
ring is cut back to its newest ``keep`` entries in the same transaction, so the table never holds more than ``keep``
entries. Batches are written one at a time: on PostgreSQL each takes an advisory lock of its own (not the stamp lock:
a journal write stamps nothing an export serves), so ids are taken and committed in one order and two processes'
cuts never interleave; on SQLite the write transaction already holds the database's write lock.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, func, insert, or_, select

from deskstream.store import schema
from deskstream.store.engine import Store

#: The PostgreSQL advisory lock of journal writes ("journal" in ASCII).
_PG_JOURNAL_LOCK = 0x6A6F75726E616C

_J = schema.request_journal


@dataclass(frozen=True)
class JournalRow:
    """One entry as stored: the columns the reads filter on and the entry's JSON (without its id)."""

    at_ms: int
    client: str
    path: str
    status: int
    json: bytes


@dataclass(frozen=True)
class JournalFilter:
    """Which entries a read wants; ``None`` is no condition. ``since_ms``/``until_ms`` are inclusive; ``after_id``:
    the entries written after that one (ids are taken in the order batches are written)."""

    client: str | None = None
    path_prefix: str | None = None
    status: int | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    before: int | None = None
    after_id: int | None = None


def _cut(conn: Connection, keep: int) -> None:
    """Delete every entry older than the newest ``keep`` ids: two index lookups whatever the ring's size (counting
    ``keep`` rows back would read the whole ring on every flush). Ids come one batch at a time, in order, so the
    newest ``keep`` ids are the newest ``keep`` entries; a PostgreSQL insert that failed leaves a gap of unused ids,
    and the ring holds that many fewer until they pass."""
    newest = conn.execute(select(func.max(_J.c.id))).scalar()
    if newest is not None and newest > keep:
        conn.execute(delete(_J).where(_J.c.id <= newest - keep))


class JournalTable:
    """The ``request_journal`` table of one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def append(self, rows: list[JournalRow], keep: int) -> None:
        """Insert ``rows`` (oldest first) and keep the newest ``keep`` entries, in one transaction."""
        with self.store.write(stamped=False) as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_JOURNAL_LOCK})")
            conn.execute(insert(_J), [vars(row) for row in rows])
            _cut(conn, keep)

    def read(self, wanted: JournalFilter, limit: int | None) -> list[tuple[int, bytes]]:
        """(id, JSON) of the entries ``wanted``, the latest arrival first, at most ``limit`` (``None``: all).

        Arrival, not id: a process writes its entries up to a flush interval after another may have written later
        ones. ``before`` is an entry: the entries that arrived before it (in this same order) follow it."""
        query = select(_J.c.id, _J.c.json).order_by(_J.c.at_ms.desc(), _J.c.id.desc())
        if wanted.client is not None:
            query = query.where(_J.c.client == wanted.client)
        if wanted.path_prefix:
            query = query.where(_J.c.path.startswith(wanted.path_prefix, autoescape=True))
        if wanted.status is not None:
            query = query.where(_J.c.status == wanted.status)
        if wanted.since_ms is not None:
            query = query.where(_J.c.at_ms >= wanted.since_ms)
        if wanted.until_ms is not None:
            query = query.where(_J.c.at_ms <= wanted.until_ms)
        if wanted.before is not None:
            at = select(_J.c.at_ms).where(_J.c.id == wanted.before).scalar_subquery()
            query = query.where(or_(_J.c.at_ms < at, and_(_J.c.at_ms == at, _J.c.id < wanted.before)))
        if wanted.after_id is not None:
            query = query.where(_J.c.id > wanted.after_id)
        if limit is not None:
            query = query.limit(limit)
        with self.store.read() as conn:
            return [(row.id, row.json) for row in conn.execute(query)]

    def bounds(self) -> tuple[int | None, int | None]:
        """The oldest and newest entry ids. Entries are written one batch at a time (the write lock, or the
        journal's advisory lock) and cut from the oldest, so these two name the whole set of entries."""
        with self.store.read() as conn:
            row = conn.execute(select(func.min(_J.c.id), func.max(_J.c.id))).one()
        return row[0], row[1]
