"""Database targets: ``sqlite:///FILE``, ``postgresql://…`` and ``duckdb:///FILE``, through SQLAlchemy Core.

One table per stream (``id`` primary key, the newest ``version``, ``deleted_at`` for tombstones, the item's JSON in
``data``) and ``_deskstream_state`` for the checkpoints. A page is one transaction: its new and newer rows replace
what the table held for their ids, and the stream's checkpoint is replaced beside them, so the mirror and its
checkpoint never disagree, whatever kills the process. This is the client's own storage; it shares nothing with
the server's ``deskstream.store``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, Text, create_engine, delete, event, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from deskstream.sync.targets.base import Row, Written, newest
from deskstream.sync.upstream import SyncError

STATE = "_deskstream_state"
#: How many ids one look-up of stored versions asks for.
CHUNK = 500
EXTRAS = {"duckdb": "duckdb"}
#: The positional placeholder of each DB-API paramstyle (PEP 249) of the drivers that take rows: sqlite3 and psycopg.
PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}
COLUMNS = ("id", "version", "deleted_at", "digest", "data")
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
        self._lock = threading.Lock()
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
        self,
        stream: str,
        rows: list[Row],
        checkpoint: dict[str, Any],
        before_commit: Callable[[list[Row]], dict[str, Any]] | None = None,
    ) -> Written:
        """The page's new and newer rows and the checkpoint, in one transaction. ``before_commit`` (the file
        targets') writes those rows elsewhere inside it and returns what to add to the checkpoint."""
        table = self.table(stream)
        latest = newest(rows)
        with self._lock, _translated(), self.engine.begin() as conn:
            stored: dict[int, tuple[int, str]] = {}
            ids = [r.id for r in latest]
            for n in range(0, len(ids), CHUNK):
                query = select(table.c.id, table.c.version, table.c.digest).where(table.c.id.in_(ids[n:n + CHUNK]))
                stored.update({row[0]: (row[1], row[2]) for row in conn.execute(query)})
            fresh = [r for r in latest if r.id not in stored or _newer(r, *stored[r.id])]
            if before_commit is not None:
                checkpoint = {**checkpoint, **before_commit(fresh)}
            if fresh:
                replaced = [r.id for r in fresh if r.id in stored]
                for n in range(0, len(replaced), CHUNK):
                    conn.execute(delete(table).where(table.c.id.in_(replaced[n:n + CHUNK])))
                self._insert(conn, stream, [
                    (r.id, r.version, r.deleted_at, r.digest, r.data if self.with_data else None)
                    for r in fresh
                ])  # fmt: skip
            conn.execute(delete(self.state).where(self.state.c.stream == stream))
            conn.execute(self.state.insert(), {"stream": stream, "checkpoint": orjson.dumps(checkpoint).decode()})
        return Written(len(fresh), len(rows) - len(fresh), sum(r.deleted_at is not None for r in fresh))

    @staticmethod
    def _insert(conn: Connection, stream: str, rows: list[tuple[Any, ...]]) -> None:
        """The rows through the driver itself: SQLAlchemy's per-row parameter processing cost more than the insert.
        DuckDB's executemany runs one statement per row (a 10k-ticket mirror took 250 s), so DuckDB gets one
        statement of five lists, unnested into rows."""
        table, columns = conn.dialect.identifier_preparer.quote(stream), ", ".join(COLUMNS)
        if conn.dialect.name == "duckdb":
            lists = ", ".join(f"UNNEST(${n}::{kind}[])" for n, kind in enumerate(DUCKDB_TYPES, 1))
            by_column = tuple(map(list, zip(*rows, strict=True)))
            conn.exec_driver_sql(f"INSERT INTO {table} ({columns}) SELECT {lists}", by_column)
            return
        marks = ", ".join([PLACEHOLDER[conn.dialect.paramstyle]] * len(COLUMNS))
        conn.exec_driver_sql(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)

    def versions(self, stream: str) -> Iterator[tuple[int, int]]:
        table = self.table(stream)
        with _translated(), self.engine.connect() as conn:
            for row in conn.execute(select(table.c.id, table.c.version).order_by(table.c.id)):
                yield int(row[0]), int(row[1])

    def close(self) -> None:
        self.engine.dispose()


def _newer(row: Row, version: int, digest: str) -> bool:
    """A later version, or the same second's version with other content (two changes in one second)."""
    return row.version > version or (row.version == version and row.digest != digest)
