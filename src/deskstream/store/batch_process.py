"""Writing a :class:`~deskstream.store.batch.BatchWriter`'s flushes, in the generator's process or in a second one.

A flush is a :class:`Batch`: the rows the generator made, already in their stored form, as the statements that
insert them. :func:`write_batch` writes one inside a transaction. Writing is about a third of a generation's time
(SQLite's inserts and commits), so a large generation hands its batches to a :class:`BatchProcess`, which writes
each in a process of its own while the generator makes the next one on the other core. A thread would not do: the
driver takes the GIL back after every row, and the generating thread holds it for milliseconds at a time.

The batches are written in the order sent, each in one transaction, each holding whole changes only (the
generator flushes between changes). So whenever the generator stops — an error, Ctrl-C, ``kill -9`` — the database
holds the batches written so far and nothing of the one that was not: a batch only partly received is never
written, and the writing process ends its batch before it sees the pipe close.
"""

from __future__ import annotations

import json
import os
import pickle
import queue
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from functools import cache
from multiprocessing import connection as pipes
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from deskstream.store import errors, schema
from deskstream.store.writer import Writer, allocate_ids

#: Batches the writing process may hold unwritten (of about 2,000 rows, a megabyte or two each).
IN_FLIGHT = 8
#: The store's exceptions, by name, as the writing process reports them.
_ERRORS: dict[str, type[errors.StoreError]] = {
    e.__name__: e for e in (errors.StoreError, errors.StoreUnavailable, errors.DuplicateRecord)
}
#: The upserts a flush makes, by table: the key each row replaces.
UPSERT_KEYS = {"tickets": "id", "sla_states": "ticket_id", "kv": "key"}


@dataclass
class Batch:
    """One flush: its statements in order, the changes it logs, and the id blocks to reserve for the generator."""

    #: ``("sql", sql, rows)`` in the driver's own terms, or ``("upsert", table, rows)`` as dicts.
    statements: list[tuple[str, str, list[Any]]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    #: ``(sequence, count)``: ids reserved in the batch's transaction, so the generator need not wait to reserve.
    reserve: list[tuple[str, int]] = field(default_factory=list)


@cache
def _upsert(dialect: str, table: str) -> Any:
    """``INSERT ... ON CONFLICT (key) DO UPDATE`` every other column: SQLite and PostgreSQL spell it alike."""
    t = schema.metadata.tables[table]
    key = UPSERT_KEYS[table]
    stmt = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(t)
    return stmt.on_conflict_do_update(
        index_elements=[key], set_={c.name: stmt.excluded[c.name] for c in t.columns if c.name != key}
    )


def insert_statements(dialect: Any, table: str, rows: list[dict[str, Any]]) -> list[tuple[str, str, list[Any]]]:
    """``executemany`` straight to the driver, one statement per set of columns: SQLAlchemy's per-row parameter
    handling cost more than SQLite."""
    quote, mark = dialect.identifier_preparer.quote, _mark(dialect)
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_columns.setdefault(tuple(row), []).append(row)
    return [
        ("sql", f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) "
                f"VALUES ({', '.join([mark] * len(columns))})", [tuple(r.values()) for r in same])
        for columns, same in by_columns.items()
    ]  # fmt: skip


def update_json_statement(dialect: Any, table: str, rows: list[tuple[bytes, int]]) -> tuple[str, str, list[Any]]:
    """``UPDATE table SET json = ? WHERE id = ?`` for each ``(json, id)``, in the driver's own terms."""
    mark = _mark(dialect)
    return "sql", f"UPDATE {dialect.identifier_preparer.quote(table)} SET json = {mark} WHERE id = {mark}", rows


def _mark(dialect: Any) -> str:
    """A positional parameter as the driver spells it: SQLite's ``?``; psycopg's ``%s``."""
    return "?" if dialect.paramstyle == "qmark" else "%s"


class _ChangeLog(Writer):
    """The batch's changes, numbered and written like any transaction's (:meth:`Writer.log_changes`), through
    the driver like the batch's other rows."""

    def _write_changes(self, rows: list[dict[str, Any]]) -> None:
        for _, sql, params in insert_statements(self.conn.dialect, "changes", rows):
            self.conn.exec_driver_sql(sql, params)


def write_batch(conn: Connection, batch: Batch) -> dict[str, int]:
    """Write ``batch`` in the caller's transaction, its changes last; returns the first id of each reserved block."""
    for kind, target, rows in batch.statements:
        if kind == "upsert":
            conn.execute(_upsert(conn.dialect.name, target), rows)
        else:
            conn.exec_driver_sql(target, rows)
    reserved = {name: allocate_ids(conn, name, count) for name, count in batch.reserve}
    log = _ChangeLog(conn)
    log.changes = batch.changes
    log.log_changes()
    return reserved


class BatchProcess:
    """The generator's handle on the process that writes its batches (see the module docstring).

    :meth:`send` returns once the writing process has the batch (it queues what it has not written yet);
    :meth:`drain` waits until every batch sent is committed, which the generator does before it reads or writes
    the database itself. An error in the writing process is raised here, as the store's own exception, at the next
    call.

    The process is a new interpreter (not a fork: the generating process may run threads) started without
    :mod:`multiprocessing`'s re-import of ``__main__``, so a script that calls the generator needs no
    ``if __name__ == "__main__"``; in a session of its own, so a terminal's Ctrl-C reaches only the generator.
    """

    def __init__(self, url: str, synchronous: str) -> None:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, json.dumps(sys.path), str(theirs.fileno()), f"writer-of={os.getpid()}"],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            self._pipe = pipes.Connection(ours.detach())
        self._sent = self._written = 0
        #: The first failure, raised again by every later call: the one a user should read.
        self._failed: errors.StoreError | None = None
        try:
            self._pipe.send((url, synchronous))  # on the pipe, not the command line, where a password would show
        except OSError:
            self.abort()
            raise self._ended() from None
        #: Blocks reserved by written batches, per sequence: their first ids, oldest first.
        self.reserved: dict[str, list[int]] = {}
        #: Sequences whose block a batch sent and not yet written reserves, and that batch's number.
        self.reserving: dict[str, int] = {}

    def send(self, batch: Batch) -> None:
        """Hand ``batch`` over; first wait while :data:`IN_FLIGHT` batches are still to be written, so a writing
        process slower than the generator (a remote database, ``synchronous=full``) holds few in memory."""
        self.collect(until=self._sent - IN_FLIGHT)
        try:
            self._pipe.send(batch)
        except OSError:
            self.drain()  # the process ended: its own words, if it left any
            raise self._fail(self._ended()) from None
        self._sent += 1
        self.reserving.update((name, self._sent) for name, _ in batch.reserve)

    def take_reserved(self, sequence: str) -> int | None:
        """The first id of the next block reserved for ``sequence``: taken if it is in, waited for if it is on its
        way (a wait for a batch already being written, no longer than reserving the block directly would be)."""
        self.collect(until=self.reserving.get(sequence, 0))
        blocks = self.reserved.get(sequence)
        return blocks.pop(0) if blocks else None

    def to_reserve(self, blocks: dict[str, list[int]], size: int) -> list[tuple[str, int]]:
        """Of the generator's id ``blocks`` (``[next, end]`` per sequence), those a quarter used and with no
        successor reserved or on its way: the next batch reserves one, so the generator rarely waits."""
        return [
            (name, size)
            for name, (first, end) in blocks.items()
            if end - first < size * 3 // 4 and name not in self.reserving and not self.reserved.get(name)
        ]

    def collect(self, until: int = 0) -> None:
        """Take in what the writing process has answered so far, and wait until batch number ``until`` (counted
        from 1) is written."""
        if self._failed is not None:
            raise self._failed
        while self._written < self._sent and (self._written < until or self._pipe.poll()):
            try:
                kind, payload = self._pipe.recv()
            except (EOFError, OSError):
                raise self._fail(self._ended()) from None
            if kind == "error":
                name, message = payload
                raise self._fail(_ERRORS.get(name, errors.StoreError)(message))
            self._written += 1
            for sequence, first in payload.items():
                self.reserved.setdefault(sequence, []).append(first)
                self.reserving.pop(sequence, None)

    def _fail(self, error: errors.StoreError) -> errors.StoreError:
        self._failed = error
        return error

    def _ended(self) -> errors.StoreError:
        code = self._process.wait()
        return errors.StoreUnavailable(f"the process writing the generated batches ended (exit status {code})")

    def drain(self) -> None:
        """Wait until every batch sent is written."""
        self.collect(until=self._sent)

    def close(self) -> None:
        """Wait for every batch sent, then let the process end (at once, if it failed: its error was raised)."""
        try:
            if self._failed is None:
                self.drain()
        finally:
            self.abort()

    def abort(self) -> None:
        """Stop sending: the batch being written, if any, is whole and commits; nothing else is written."""
        self._pipe.close()
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


#: The writing process's program: the parent's import path, then :func:`serve` on the inherited socket (the last
#: argument names the generating process, for ``ps``).
_BOOT = (
    "import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
    "from deskstream.store.batch_process import serve; serve(int(sys.argv[2]))"
)


def serve(fd: int) -> None:
    """The writing process: each batch received in one transaction, answered with its reserved ids; it ends
    when the pipe closes (the generator is done, or gone).

    A thread takes the batches off the pipe as they come, so the generator's ``send`` never waits for a write;
    this thread writes them in order.
    """
    from deskstream.store.engine import Store

    pipe = pipes.Connection(fd)
    received: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    try:
        url, synchronous = pipe.recv()
    except (EOFError, OSError):
        return
    try:
        store = Store(url, synchronous=synchronous)
    except errors.StoreError as error:
        pipe.send(("error", (type(error).__name__, str(error))))
        return
    threading.Thread(target=_receive, args=(pipe, received), daemon=True).start()
    try:
        while (raw := received.get()) is not None:
            try:
                with store.write() as conn:
                    reserved = write_batch(conn, pickle.loads(raw))
            except Exception as error:  # noqa: BLE001 - every failure goes back to the generator, worded once
                name = type(error).__name__ if isinstance(error, errors.StoreError) else "StoreError"
                pipe.send(("error", (name, str(error) or type(error).__name__)))
                return
            pipe.send(("written", reserved))
    except OSError:
        return  # the generator is gone; what was written stays, whole


def _receive(pipe: pipes.Connection, received: queue.SimpleQueue[bytes | None]) -> None:
    """Every whole message on the pipe, in order, then None when it closes (a message cut short is dropped)."""
    try:
        while True:
            received.put(pipe.recv_bytes())
    except (EOFError, OSError):
        received.put(None)
