"""Database targets: ``sqlite:///FILE``, ``postgresql://…`` and ``duckdb:///FILE``, through SQLAlchemy Core.

One table per stream (``id`` primary key, the newest ``version``, ``deleted_at`` for tombstones, the item's JSON in
``data``) and ``_deskstream_state`` for the checkpoints. A page's new and newer rows replace what the table held for
their ids, and the stream's checkpoint is replaced beside them in the same transaction (which may hold other pages
too), so the mirror and its checkpoints never disagree, whatever kills the process. This is the client's own
storage; it shares nothing with the server's ``deskstream.store``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any

import orjson
from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, Text, create_engine, delete, event, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from deskstream.sync.targets.base import Pending, Row, Written, newest
from deskstream.sync.upstream import SyncError

STATE = "_deskstream_state"
EXTRAS = {"duckdb": "duckdb"}
#: The positional placeholder of each DB-API paramstyle (PEP 249) of the drivers that take rows: sqlite3 and psycopg.
PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}
COLUMNS = ("id", "version", "deleted_at", "digest", "data")
#: Rows one INSERT statement carries (500 parameters: under every database's limit, SQLite's oldest 999 included).
ROWS_PER_INSERT = 100
DUCKDB_TYPES = ("BIGINT", "BIGINT", "BIGINT", "VARCHAR", "VARCHAR")


@contextmanager
def _translated() -> Iterator[None]:
    """The database's refusals as one line for the user (a table of another shape, a server gone away)."""
    try:
        yield
    except SQLAlchemyError as error:
        cause = getattr(error, "orig", None) or error
        raise SyncError(f"the target failed: {str(cause).strip().splitlines()[0]}") from None


def _engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    try:
        backend = make_url(url).get_backend_name()
        engine = create_engine(url)
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        scheme = url.split(":", 1)[0]
        extra = f" (pip install 'deskstream[{EXTRAS[scheme]}]')" if scheme in EXTRAS else ""
        raise SyncError(f"cannot open the target {url.split('@')[-1]!r}: {error}{extra}") from None
    if backend == "sqlite":
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # A commit survives the process (kill -9) without an fsync of its own; one lost to a power cut is lost
            # with its checkpoint, so the next run reads that page again: never a gap, never a duplicate.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
    return engine


class SqlTarget:
    """A mirror in a database; ``with_data=False`` keeps only the index (the file targets' sidecar)."""

    def __init__(self, url: str, with_data: bool = True) -> None:
        self.url = url
        self.with_data = with_data
        self.engine = _engine(url)
        self.metadata = MetaData()
        self.state = Table(STATE, self.metadata, Column("stream", String(64), primary_key=True),
                           Column("checkpoint", Text, nullable=False))  # fmt: skip
        self._tables: dict[str, Table] = {}
        with _translated():
            self.metadata.create_all(self.engine)

    def table(self, stream: str) -> Table:
        if stream not in self._tables:
            self._tables[stream] = Table(
                stream, self.metadata,
                Column("id", BigInteger, primary_key=True, autoincrement=False),
                Column("version", BigInteger, nullable=False),
                Column("deleted_at", BigInteger, nullable=True),
                Column("digest", String(32), nullable=False),
                Column("data", Text, nullable=True),
            )  # fmt: skip
            with _translated():
                self._tables[stream].create(self.engine, checkfirst=True)
        return self._tables[stream]

    def checkpoint(self, stream: str) -> dict[str, Any] | None:
        with _translated(), self.engine.connect() as conn:
            raw = conn.execute(select(self.state.c.checkpoint).where(self.state.c.stream == stream)).scalar()
        return orjson.loads(raw) if raw else None

    def write(
        self, pages: list[Pending], before_commit: Callable[[str, list[Row]], dict[str, Any]] | None = None
    ) -> list[Written]:
        """Every page's new and newer rows and each stream's last checkpoint, in one transaction: the pages of all
        the streams that the writer found waiting, so that one commit serves them all. ``before_commit`` (the file
        targets') writes a page's fresh rows elsewhere inside it and returns what to add to its checkpoint."""
        written: list[Written] = []
        checkpoints: dict[str, dict[str, Any]] = {}
        for page in pages:
            self.table(page.stream)  # created before the transaction: DDL on a connection of its own would wait on it
        with _translated(), self.engine.begin() as conn:
            for page in pages:
                fresh = self._store(conn, page.stream, newest(page.rows))
                extra = before_commit(page.stream, fresh) if before_commit is not None else {}
                checkpoints[page.stream] = {**page.checkpoint, **extra}
                written.append(Written(len(fresh), len(page.rows) - len(fresh),
                                       sum(r.deleted_at is not None for r in fresh)))  # fmt: skip
            for stream, checkpoint in checkpoints.items():
                conn.execute(delete(self.state).where(self.state.c.stream == stream))
                conn.execute(self.state.insert(), {"stream": stream, "checkpoint": orjson.dumps(checkpoint).decode()})
        return written

    def _store(self, conn: Connection, stream: str, rows: list[Row]) -> list[Row]:
        """Store the rows the table has no version of, or an older one, in place of what it held for their ids;
        return them. Only ids up to the table's largest can be there: a first sync's pages, and an event log's
        (whose ids grow with time), look up only the few that the page before already held."""
        quoted = conn.dialect.identifier_preparer.quote(stream)
        largest = conn.exec_driver_sql(f"SELECT max(id) FROM {quoted}").scalar()
        known = [r.id for r in rows if r.id <= largest] if largest is not None else []
        if not known:
            fresh = rows
        else:
            among, ids = _among(conn, known)
            query = f"SELECT id, version, digest FROM {quoted} WHERE {among}"
            stored = {row[0]: (row[1], row[2]) for row in conn.exec_driver_sql(query, (ids,))}
            fresh = [r for r in rows if r.id not in stored or _newer(r, *stored[r.id])]
            if replaced := [r.id for r in fresh if r.id in stored]:
                among, ids = _among(conn, replaced)
                conn.exec_driver_sql(f"DELETE FROM {quoted} WHERE {among}", (ids,))
        if fresh:
            self._insert(conn, quoted, fresh if self.with_data else [(*r[:-1], None) for r in fresh])
        return fresh

    @staticmethod
    def _insert(conn: Connection, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """The rows through the driver itself: SQLAlchemy's per-row parameter processing cost more than the insert.
        :data:`ROWS_PER_INSERT` rows a statement: sqlite3 lets go of the GIL for every statement it steps, and
        while the streams decode pages, taking it back cost the writer more than the insert (a row a statement, a
        page took 25 ms). DuckDB's executemany runs one statement per row (a 10k-ticket mirror took 250 s), so
        DuckDB gets one statement of five lists, unnested into rows."""
        columns = ", ".join(COLUMNS)
        if conn.dialect.name == "duckdb":
            lists = ", ".join(f"UNNEST(${n}::{kind}[])" for n, kind in enumerate(DUCKDB_TYPES, 1))
            by_column = tuple(map(list, zip(*rows, strict=True)))
            conn.exec_driver_sql(f"INSERT INTO {table} ({columns}) SELECT {lists}", by_column)
            return
        row = "(" + ", ".join([PLACEHOLDER[conn.dialect.paramstyle]] * len(COLUMNS)) + ")"
        whole, rest = divmod(len(rows), ROWS_PER_INSERT)
        if whole:
            flat = [tuple(chain.from_iterable(rows[n:n + ROWS_PER_INSERT]))
                    for n in range(0, whole * ROWS_PER_INSERT, ROWS_PER_INSERT)]  # fmt: skip
            conn.exec_driver_sql(f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * ROWS_PER_INSERT)}", flat)
        if rest:
            conn.exec_driver_sql(f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * rest)}",
                                 tuple(chain.from_iterable(rows[-rest:])))  # fmt: skip

    def versions(self, stream: str) -> Iterator[tuple[int, int]]:
        table = self.table(stream)
        with _translated(), self.engine.connect() as conn:
            for row in conn.execute(select(table.c.id, table.c.version).order_by(table.c.id)):
                yield int(row[0]), int(row[1])

    def close(self) -> None:
        self.engine.dispose()


def _among(conn: Connection, ids: list[int]) -> tuple[str, Any]:
    """``id`` among ``ids`` as a condition with one parameter, and that parameter: a JSON array in SQLite, an array
    elsewhere. A placeholder per id cost SQLAlchemy more than the query cost the database."""
    if conn.dialect.name == "sqlite":
        return "id IN (SELECT value FROM json_each(?))", orjson.dumps(ids).decode()
    if conn.dialect.name == "duckdb":
        return "id IN (SELECT UNNEST($1::BIGINT[]))", ids
    return "id = ANY(%s)", ids


def _newer(row: Row, version: int, digest: str) -> bool:
    """A later version, or the same second's version with other content (two changes in one second)."""
    return row.version > version or (row.version == version and row.digest != digest)
