"""Opening the database: the engine, its SQLite pragmas, write transactions, migrations and id allocation.

Writes on SQLite take the write lock *before* reading the clock (``BEGIN IMMEDIATE``), so commit order equals
timestamp order and an export can never miss a change that commits late (spec/model.md § Integrity).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from deskstream.store import migrations, schema

_WRITE = "deskstream_write"


def _normalize_url(url: str) -> str:
    """Accept the spec's ``postgresql://`` form and use psycopg 3 for it."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        directory = os.path.dirname(os.path.abspath(parsed.database))
        os.makedirs(directory, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself, so writes can ask for IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine


class Store:
    """The database behind one small interface: read and write transactions and id allocation.

    The repositories in this package (``store.tickets``, ``store.users``, ...) take the connection these give.
    """

    def __init__(self, url: str) -> None:
        self.url = _normalize_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(self.url)
        else:
            self.engine = create_engine(self.url, pool_size=10, max_overflow=20, pool_pre_ping=True)
        self._write_engine = self.engine.execution_options(**{_WRITE: True})

    def migrate(self) -> list[int]:
        """Create or upgrade the schema; safe to call from several processes at once."""
        with self.write() as conn:
            return migrations.migrate(conn)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        with self._write_engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read transaction: every query in the block sees the same snapshot."""
        with self.engine.begin() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


#: Built once (every change allocates ids): SQLAlchemy keys its compiled-statement cache per statement object.
_ALLOCATE = (
    update(schema.id_sequences)
    .where(schema.id_sequences.c.name == bindparam("sequence"))
    .values(value=schema.id_sequences.c.value + bindparam("count"))
    .returning(schema.id_sequences.c.value)
)


def allocate_ids(conn: Connection, name: str, count: int = 1) -> int:
    """Reserve ``count`` consecutive ids of the named sequence inside the caller's transaction; returns the first."""
    table = schema.id_sequences
    row = conn.execute(_ALLOCATE, {"sequence": name, "count": count}).first()
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(table).values(name=name, value=count))
            return 1
        except IntegrityError:
            return allocate_ids(conn, name, count)
    return int(row[0]) - count + 1


def kv_get(conn: Connection, key: str) -> str | None:
    return conn.execute(select(schema.kv.c.value).where(schema.kv.c.key == key)).scalar()


def kv_set(conn: Connection, key: str, value: str) -> None:
    table = schema.kv
    if conn.execute(update(table).where(table.c.key == key).values(value=value)).rowcount == 0:
        conn.execute(insert(table).values(key=key, value=value))
