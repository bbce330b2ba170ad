"""Group commit: the write transactions that one process's threads start together share one SQLite transaction.

SQLite runs one write transaction at a time anyway, and each costs a ``BEGIN IMMEDIATE`` and a commit (with
``--synchronous full`` an fsync). So while a batch is open, the next writers of this process join it instead of
queueing for the lock: their blocks run one after another on the batch's connection, each after the first inside a
savepoint (a block that fails takes back its own writes only), and the last one out commits them all. Every
block's caller returns only after that commit, so an acknowledged write is a committed one, as before. A writer
alone opens a batch of one and commits it at once: nothing changes for a lone client.

Order is kept: blocks run in turn under the batch's write lock and read the clock inside it, so their stamps and
their change-log ``seq`` still follow commit order, and a reader that waits for the write in flight
(``Store.scanning``) waits for the whole batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

#: The most blocks one batch takes; later writers open the next batch, so one batch cannot hold its first
#: writer's answer back for long under a steady stream of writes.
MAX_BATCH = 64


class _Batch:
    """One shared transaction: its connection, who is in it, and how its commit went."""

    def __init__(self) -> None:
        self.turn = threading.Lock()  # one block at a time on the connection
        self.conn: Any = None
        self.transaction: AbstractContextManager[Any] | None = None
        self.members = 1  # joined and not yet left
        self.joined = 1
        self.accepting = True
        self.committed = threading.Event()
        self.error: BaseException | None = None


class GroupCommit:
    """Batches one process's concurrent write transactions (see the module docstring).

    ``begin`` opens a write transaction and yields its connection (``Store.write``); ``in_flight`` is held by a
    batch from its ``BEGIN`` to its commit, so the process's readers that must wait for the write in flight, and
    the next batch, wait on it rather than poll SQLite's lock.
    """

    def __init__(self, begin: Callable[[], AbstractContextManager[Any]]) -> None:
        self._begin = begin
        self._state = threading.Lock()
        self._open: _Batch | None = None
        self._inside = threading.local()
        self.in_flight = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A block of writes on the batch's connection; returns (or raises the commit's error) once the batch that
        holds it has committed.

        The first block of a transaction begins it and runs without a savepoint (nothing else has run in it yet:
        if it fails, the transaction is rolled back and the next block begins another), so a lone writer runs the
        statements it ran before group commit; each later block runs in its own savepoint.
        """
        if getattr(self._inside, "active", False):
            raise RuntimeError("a write transaction inside another one of the same thread would wait for itself")
        batch = self._join()
        failed = False
        try:
            with batch.turn:
                first = batch.transaction is None
                if first:
                    self._start(batch)
                self._inside.active = True
                try:
                    if first:
                        yield from self._first_block(batch)
                    else:
                        with batch.conn.begin_nested():
                            yield batch.conn
                finally:
                    self._inside.active = False
        except BaseException:
            failed = True
            raise
        finally:
            self._leave(batch, failed)

    def _first_block(self, batch: _Batch) -> Iterator[Any]:
        try:
            yield batch.conn
        except BaseException as error:
            transaction, batch.transaction, batch.conn = batch.transaction, None, None
            try:
                if transaction is not None:
                    transaction.__exit__(type(error), error, error.__traceback__)  # rolls back
            finally:
                self.in_flight.release()
            raise

    def _join(self) -> _Batch:
        with self._state:
            batch = self._open
            if batch is not None and batch.accepting:
                batch.members += 1
                batch.joined += 1
                if batch.joined >= MAX_BATCH:
                    batch.accepting = False
                    self._open = None
                return batch
            self._open = _Batch()
            return self._open

    def _start(self, batch: _Batch) -> None:
        """Begin the batch's transaction (once the process's batch before it has committed)."""
        self.in_flight.acquire()
        try:
            transaction = self._begin()
            batch.conn = transaction.__enter__()
            batch.transaction = transaction
        except BaseException:
            self.in_flight.release()
            raise

    def _leave(self, batch: _Batch, failed: bool) -> None:
        """The last block out commits for all; the others wait for that commit, unless their own block failed."""
        with self._state:
            batch.members -= 1
            last = batch.members == 0
            if last:
                batch.accepting = False
                if self._open is batch:
                    self._open = None
        if last:
            self._commit(batch)
        elif not failed:
            batch.committed.wait()
        if not failed and batch.error is not None:
            raise batch.error

    def _commit(self, batch: _Batch) -> None:
        try:
            if batch.transaction is not None:
                batch.transaction.__exit__(None, None, None)
        except BaseException as error:
            batch.error = error
        finally:
            if batch.transaction is not None:
                self.in_flight.release()
            batch.committed.set()
