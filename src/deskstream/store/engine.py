"""Opening the database: the engine, its SQLite pragmas, read and write transactions, migrations.

Writes on SQLite take the write lock *before* reading the clock (``BEGIN IMMEDIATE``), so commit order equals
timestamp order; an export scan takes the same lock and lets it go before it reads, so it never serves a position a
write in flight (in any process) could land behind, and never misses a change that commits late (spec/model.md §
Integrity).
Failures of the database or its driver leave :class:`Store` as :mod:`deskstream.store.errors` (one choke point).

On PostgreSQL the same order is made with an advisory lock (:data:`STAMP_LOCK`): every write transaction that may
stamp an exported item takes it before the service reads the clock and holds it until commit, so stamps are taken in
commit order; an export scan first waits for the write in flight, if any, so it never serves a position that a
later commit could land behind, however long that commit takes (docs/architecture.md § Commit order).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)

from deskstream.store import changes, migrations
from deskstream.store.changes import ChangeLog
from deskstream.store.errors import DuplicateRecord, StoreError, StoreUnavailable
from deskstream.store.group_commit import GroupCommit
from deskstream.store.scans import Scans
from deskstream.store.url_bases import UrlBases
from deskstream.store.writer import Dumps, Writer

_WRITE = "deskstream_write"

#: Connections one process keeps to PostgreSQL, and how many more it may open at a peak. Requests beyond that wait
#: for a connection rather than open one: PostgreSQL's default ``max_connections`` is 100, and two servers of
#: ``--workers 2`` at 12 each leave room for others (at 30 each, four processes refused clients under load).
POOL_SIZE, POOL_OVERFLOW = 8, 4

#: The PostgreSQL advisory lock of the stamp order (any constant of deskstream's own: "desk" in ASCII).
STAMP_LOCK = 0x6465736B


def _normalize_url(url: str) -> str:
    """Accept the spec's ``postgresql://`` form and use psycopg 3 for it."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


#: SQLite's ``synchronous`` modes deskstream offers (``serve --synchronous``). In WAL mode ``normal`` loses no
#: committed transaction when a process dies (kill -9: the WAL is in the operating system's hands), but a power loss
#: or an operating-system crash may lose the last ones; ``full`` fsyncs the WAL on every commit, so a 2xx survives
#: that too, for one fsync per write. PostgreSQL's own default (``synchronous_commit=on``) is already ``full``.
SYNCHRONOUS = ("normal", "full")


def _set_wal(cursor: Any) -> None:
    """``journal_mode=WAL`` may meet "database is locked" while another process creates the same file; retry."""
    for _ in range(100):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
            time.sleep(0.05)
    cursor.execute("PRAGMA journal_mode=WAL")


def _sqlite_engine(url: str, synchronous: str) -> Engine:
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
        _set_wal(cursor)
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

    return engine


def masked(url: str) -> str:
    """The URL as it may be shown: its password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@", 1)[-1] if "@" in url else url


def _first_line(error: BaseException | None) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


@contextmanager
def _translated() -> Iterator[None]:
    """SQLAlchemy's and the drivers' exceptions as the store's own (:mod:`deskstream.store.errors`)."""
    try:
        yield
    except IntegrityError as error:
        raise DuplicateRecord(_first_line(error.orig)) from error
    except OperationalError as error:
        raise StoreUnavailable(_first_line(error.orig)) from error
    except DBAPIError as error:
        raise StoreError(_first_line(error.orig)) from error
    except SQLAlchemyError as error:  # a pool that timed out, a connection that was closed under us
        raise StoreUnavailable(_first_line(error)) from error


@contextmanager
def _translated_block(block: AbstractContextManager[Connection]) -> Iterator[Connection]:
    with _translated(), block as conn:
        yield conn


class Store:
    """The database behind one small interface: read and write transactions, each as a :class:`Writer` (the
    store's records in and out) or, inside ``store/`` and ``export/``'s scans, as a connection."""

    def __init__(self, url: str, synchronous: str = "normal", public_url: str | None = None) -> None:
        #: The base URL the stored items name, and how this process stores a record (``serve --public-url``).
        self.url_bases = UrlBases(public_url)
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS}")
        self.url = _normalize_url(url)
        #: SQLite's ``synchronous`` mode, kept so a second process opening the same database opens it alike.
        self.synchronous = synchronous
        try:
            self.dialect = make_url(self.url).get_backend_name()
            #: Whether another process can open this database (not a SQLite database in memory).
            database = make_url(self.url).database or ""
            self.shared = self.dialect != "sqlite" or not (database in ("", ":memory:") or "memory" in self.url)
            if self.dialect == "sqlite":
                self.engine = _sqlite_engine(self.url, synchronous)
            else:
                self.engine = create_engine(
                    self.url, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW, pool_timeout=60, pool_pre_ping=True
                )
        except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as error:
            raise StoreUnavailable(f"not a database URL deskstream can open: {masked(url)} ({error})") from error
        except OSError as error:
            raise StoreUnavailable(f"cannot open {masked(url)}: {error}") from error
        self._write_engine = self.engine.execution_options(**{_WRITE: True})
        #: SQLite's writers of this process share transactions (PostgreSQL's run side by side, row-locked).
        self._group = GroupCommit(self.write) if self.dialect == "sqlite" else None

    def migrate(self) -> list[int]:
        """Create or upgrade the schema; safe to call from several processes at once."""
        with self.write() as conn:
            applied = migrations.migrate(conn)
            self.url_bases.load(conn, fresh=migrations.MIGRATIONS[0].version in applied)
        return applied

    @contextmanager
    def write(self, stamped: bool = True) -> Iterator[Connection]:
        """One write transaction: committed when the block ends, rolled back if it raises.

        ``stamped`` (the default): it may stamp exported items, so on PostgreSQL it takes the stamp lock first.
        """
        with _translated(), self._write_engine.begin() as conn:
            if stamped and self.dialect == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({STAMP_LOCK})")
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One read transaction: every query in the block sees the same snapshot."""
        with _translated(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def writing(self, stamped: bool = True) -> Iterator[Writer]:
        """A write transaction as a :class:`Writer` (which locks the tickets it loads); ``stamped=False`` for a
        write that stamps nothing an export serves (a rate-limit counter)."""
        with self._transaction(stamped) as conn:
            writer = Writer(conn, locking=True, dumps=self.dumps(conn))
            yield writer
            writer.log_changes()

    def _transaction(self, stamped: bool) -> AbstractContextManager[Connection]:
        """A service's write transaction: on SQLite a part of this process's group commit
        (:mod:`deskstream.store.group_commit`), on PostgreSQL a transaction of its own."""
        if self._group is None:
            return self.write(stamped)
        return _translated_block(self._group.transaction())

    def dumps(self, conn: Connection) -> Dumps:
        """How a write transaction stores a record: the first one of the process (unless :meth:`migrate` ran)
        learns the database's URL bases, so no item is written naming a base the database does not list."""
        if not self.url_bases.loaded:
            self.url_bases.load(conn)
        return self.url_bases.dumps

    @contextmanager
    def reading(self) -> Iterator[Writer]:
        """A read transaction, through the :class:`Writer`'s reads (one snapshot for all of them)."""
        with self.read() as conn:
            yield Writer(conn)

    @contextmanager
    def scanning(self) -> Iterator[Scans]:
        """A read transaction for an export page and its sideloads.

        It first waits for the write in flight to commit: on SQLite by taking the write lock and letting it go, on
        PostgreSQL by taking the stamp lock shared and letting it go. The caller has read the clock before, so every
        write stamped up to then has committed, and a later one stamps later. On SQLite the snapshot is then taken
        at the first read; on PostgreSQL each statement sees what had committed when it began (read committed).
        """
        if self._group is not None:
            # This process's batch in flight first (its lock wakes us at its commit), then any other process's:
            # BEGIN IMMEDIATE waits for the write in flight, then lets the lock go at once.
            with self._group.in_flight, _translated(), self._write_engine.begin():
                pass
        with self.read() as conn:
            if self.dialect == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_lock_shared({STAMP_LOCK})")
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock_shared({STAMP_LOCK})")
            yield Scans(conn)

    @contextmanager
    def change_log(self) -> Iterator[ChangeLog]:
        """A read transaction on the change log (no wait for a write in flight: ``seq`` is allocated in commit
        order, so the last one visible has every earlier one committed before it)."""
        with self.read() as conn:
            yield ChangeLog(conn)

    def prune_changes(self, before: int) -> int:
        """Drop the change log's changes that entered it before ``before`` (the retention window), a batch per
        transaction so that writers wait for one batch at most; returns how many."""
        pruned = 0
        while True:
            # Under the stamp lock: no write commits between reading where to stop and deleting up to there.
            with self.write() as conn:
                batch = changes.prune(conn, before, limit=changes.PRUNE_BATCH)
            pruned += batch
            if batch < changes.PRUNE_BATCH:
                return pruned

    def kv_get(self, key: str) -> str | None:
        with self.reading() as r:
            return r.kv_get(key)

    def kv_set(self, key: str, value: str) -> None:
        with self.writing() as w:
            w.kv_set(key, value)

    def dispose(self) -> None:
        self.engine.dispose()
