"""A :class:`~deskstream.store.writer.Writer` that batches: the generator's way to write fast through the services.

It is a store: the generator hands it to the services in place of the live writer, behind the same interface.

The services do exactly what they do for the API (same rules, same audits, same JSON); only the storage is batched:

- current tickets and people live in memory between flushes, so a ticket's next change does not read the database;
- ids come from the shared sequences in blocks, so ids still increase per resource;
- the append-only inserts (``ticket_versions``, ``ticket_events``, ``comments``, ``ticket_metric_events``), new
  users/organizations/groups and the *final* row of each changed ticket are buffered and written with
  ``executemany`` in one large transaction per flush.

A flush commits. Whatever reads the database directly (``ticket_ids_referring_to``, a service that opens its own
transaction) is preceded by a flush, so it sees everything written so far.
"""

from __future__ import annotations

import heapq
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from typing import Any

import orjson
from sqlalchemy import Connection, select

from deskstream.store import schema
from deskstream.store.batch_process import (
    Batch,
    BatchProcess,
    insert_statements,
    update_json_statement,
    write_batch,
)
from deskstream.store.engine import Store
from deskstream.store.errors import StoreError
from deskstream.store.records import AuditRecord, StoredRecord, StoredTicket, TicketVersion
from deskstream.store.writer import (
    BATCH_WRITER_KEY,
    Writer,
    allocate_ids,
    audit_rows,
    dumps,
    metric_event_rows,
    ticket_row,
    version_row,
)

#: Ids reserved per trip to ``id_sequences``; unused ones at the end are a gap, as Zendesk's ids have gaps.
ID_BLOCK = 10_000
#: Rows buffered before a flush. Written here, a large batch costs fewer commits; written by another process, a
#: small one keeps that process busy and leaves little to wait for when the generator must read the database
#: (a rename reads which tickets show the renamed customer): 1.2-1.3x faster than 50,000 there (docs/benchmarks.md).
FLUSH_EVERY, FLUSH_EVERY_WRITER_PROCESS = 50_000, 2_000
#: Tickets kept in memory after a flush; past this the cache is dropped and reloaded on demand.
MAX_CACHED_TICKETS = 200_000


class BatchWriter(Writer):
    """Buffers a generator's writes and flushes them in large transactions (see the module docstring)."""

    def __init__(self, store: Store, flush_every: int | None = None, writer_process: bool = False) -> None:
        """``writer_process``: write the batches in a process of their own (:mod:`deskstream.store.batch_process`)."""
        self.store = store
        if flush_every is None:
            flush_every = FLUSH_EVERY_WRITER_PROCESS if writer_process else FLUSH_EVERY
        self.flush_every = flush_every
        self._closed = False
        self._marked = False
        self._lowest_ticket: int | None = None
        self._tx = ExitStack()
        self._conn: Connection | None = None
        self._process: BatchProcess | None = None
        self._ids: dict[str, list[int]] = {}
        self._tickets: dict[int, StoredTicket] = {}
        self._current_rows: dict[int, dict[str, Any]] = {}
        self._sla: dict[int, dict[str, Any]] = {}
        self._sla_rows: dict[int, tuple[dict[str, Any], int | None]] = {}
        self._deadlines: dict[int, int | None] = {}
        self._due: list[tuple[int, int]] = []
        #: Breaches, for undoing one (:meth:`mark_breach_deleted`): buffered rows, and those flushed (json, time).
        self._metric_rows: dict[int, dict[str, Any]] = {}
        self._breaches_written: dict[int, tuple[bytes, int]] = {}
        self._breaches_undone: list[tuple[bytes, int]] = []
        self._policies: list[dict[str, Any]] | None = None
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self._records: dict[tuple[str, int], StoredRecord] = {}
        self._pending = 0
        #: What was written: tickets, versions, audits, child_events, comments, metric_events, system_updates.
        self.counts: Counter[str] = Counter()
        super().__init__(self._begin(), dumps=store.dumps(self.conn))
        # Deadlines of SLA states written before this run join this run's, so the due heap sees them all.
        s = schema.sla_states
        for ticket_id, deadline in self.conn.execute(select(s.c.ticket_id, s.c.next_deadline)):
            self._deadlines[ticket_id] = deadline
            if deadline is not None:
                self._due.append((deadline, ticket_id))
        heapq.heapify(self._due)
        if writer_process:
            self._end()  # the writing process writes next; this one opens a transaction only when it must read
            self._process = BatchProcess(store.url, store.synchronous)

    # transactions -----------------------------------------------------------------------------------------------
    @property
    def conn(self) -> Connection:
        """This process's transaction; opened on first use once every batch sent to the writing process is in."""
        if self._conn is None:
            return self._begin()
        return self._conn

    @conn.setter
    def conn(self, value: Connection) -> None:
        self._conn = value

    def _begin(self) -> Connection:
        if self._process is not None:
            self._process.drain()
        self._conn = self._tx.enter_context(self.store.write())
        return self._conn

    def _end(self) -> None:
        self._tx.close()
        self._conn = None

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, kind: object, error: BaseException | None, _tb: object) -> None:
        """Commit what is buffered, or, if the block raised, drop it (see :meth:`abort`)."""
        if error is None:
            self.close()
        else:
            self.abort()

    def flush(self, reopen: bool = True) -> None:
        """Write everything buffered and commit; then open the next transaction unless told not to (or unless the
        writing process writes: then this process opens one only when it must read)."""
        if self._closed:
            raise RuntimeError("this batch writer was closed")
        batch = Batch(self._statements(), self.changes)
        self.changes = []
        self._breaches_written.update((k, (row["json"], row["time"])) for k, row in self._metric_rows.items())
        self._metric_rows.clear()
        self._pending = 0
        if self._process is None:
            write_batch(self.conn, batch)
            self._end()
        else:
            if self._conn is not None:
                self._end()  # its reads and reserved ids commit before the batch's own transaction
            batch.reserve = self._process.to_reserve(self._ids, ID_BLOCK)
            if batch.statements or batch.changes or batch.reserve:
                self._process.send(batch)
        if len(self._tickets) > MAX_CACHED_TICKETS:
            self._tickets.clear()
            self._sla.clear()
            self._breaches_written.clear()  # one undone later is read back from the database
        if reopen and self._process is None:
            self._begin()

    def _statements(self) -> list[tuple[str, str, list[Any]]]:
        """The buffered rows as the batch's statements (emptying the buffers): new people first, then the current
        tickets and SLA states, then the append-only history."""
        dialect = self.store.engine.dialect
        statements = []
        for table in ("users", "organizations", "groups"):
            statements += insert_statements(dialect, table, self._rows.pop(table, []))
        if self._current_rows:
            statements.append(("upsert", "tickets", list(self._current_rows.values())))
        if self._sla_rows:
            rows = [{"ticket_id": k, "next_deadline": d, "json": dumps(j)} for k, (j, d) in self._sla_rows.items()]
            statements.append(("upsert", "sla_states", rows))
        self._current_rows.clear()
        self._sla_rows.clear()
        for table in ("ticket_versions", "ticket_events", "comments", "ticket_metric_events"):
            statements += insert_statements(dialect, table, self._rows.pop(table, []))
        if self._breaches_undone:
            statements.append(update_json_statement(dialect, "ticket_metric_events", self._breaches_undone))
            self._breaches_undone = []
        if statements and self._lowest_ticket is not None:  # the SLA scheduler's fence, fresh with each batch
            mark = f"{int(time.time())} {self._lowest_ticket}"  # (BATCH_WRITER_KEY)
            statements.append(("upsert", "kv", [{"key": BATCH_WRITER_KEY, "value": mark}]))
            self._marked = True
        return statements

    def close(self) -> None:
        """Write what is buffered and end the transaction (and wait for the writing process to write it all), then
        delete the mark. Closing twice, or after :meth:`abort`, does nothing; a close that fails aborts."""
        if self._closed:
            return
        try:
            self.flush(reopen=False)
            if self._process is not None:
                self._process.close()
        except BaseException:
            self.abort()
            raise
        self._closed = True
        self._unmark()

    def abort(self) -> None:
        """Drop what is buffered and roll the open transaction back (a change may be half-buffered); every batch
        committed before holds whole changes only, since flushes happen between changes. A batch the writing
        process has is whole too: it commits."""
        for buffer in (self._rows, self._current_rows, self._sla_rows, self._metric_rows):
            buffer.clear()
        self._breaches_undone = []
        self.changes = []
        self._pending = 0
        self._closed = True
        error = RuntimeError("generation aborted")
        try:
            self._tx.__exit__(type(error), error, None)
        finally:
            self._conn = None
            if self._process is not None:
                self._process.abort()
        self._unmark()

    def _unmark(self) -> None:
        """Delete the batch writer's mark, if a batch wrote it: the SLA scheduler may write again (if the database
        cannot be reached, the mark goes stale on its own)."""
        if self._marked:
            with suppress(StoreError), self.store.write() as conn:
                Writer(conn).kv_delete(BATCH_WRITER_KEY)
            self._marked = False

    @contextmanager
    def outside(self, records: Iterable[tuple[str, int]] = (), tickets: Iterable[int] = ()) -> Iterator[None]:
        """Let a service write in its own transaction: flush and commit first, then forget the ``records``
        (table, id) and the ``tickets`` it changes (counted as system updates), and the SLA policies."""
        records, tickets = list(records), list(tickets)
        try:
            with self._between_batches():
                yield
        finally:
            for key in records:
                self._records.pop(key, None)
            for ticket_id in tickets:
                self._tickets.pop(ticket_id, None)
                self.counts["system_updates"] += 1
            self._policies = None
        if self._process is not None:  # only once the block succeeded: a failure is not hidden by a read
            self._reload(records, tickets)

    def _reload(self, records: list[tuple[str, int]], tickets: list[int]) -> None:
        """Read back what a service changed, now, while no batch is in flight: read later, on a ticket's next
        change, each would first wait for the batches sent by then."""
        for table, record_id in records:
            self.load_record(table, record_id)
        for ticket_id in tickets:
            found = Writer.load_ticket(self, ticket_id)
            if found is not None:
                self._tickets[ticket_id] = found

    @contextmanager
    def _between_batches(self) -> Iterator[None]:
        """Everything buffered written and committed, and no transaction of the batch open, for the block."""
        self.flush(reopen=False)
        if self._process is not None:
            self._process.drain()
        try:
            yield
        finally:
            if self._process is None:
                self._begin()

    def _buffer(self, table: str, row: dict[str, Any]) -> None:
        self._rows.setdefault(table, []).append(row)
        self._pending += 1

    def maybe_flush(self) -> None:
        """Flush when enough rows are buffered; the generator calls this between changes."""
        if self._pending >= self.flush_every:
            self.flush()

    # ids --------------------------------------------------------------------------------------------------------
    def allocate(self, name: str, count: int = 1) -> int:
        block = self._ids.get(name)
        if block is None or block[0] + count > block[1]:
            size = max(ID_BLOCK, count)
            reserved = self._process.take_reserved(name) if self._process is not None else None
            if reserved is None or size > ID_BLOCK:  # a reserved block too small is a gap: ids only grow
                reserved = allocate_ids(self.conn, name, size)
            block = self._ids[name] = [reserved, reserved + size]
        first = block[0]
        block[0] += count
        return first

    # tickets ----------------------------------------------------------------------------------------------------
    def load_ticket(self, ticket_id: int) -> StoredTicket | None:
        """The cached ticket itself (the services change its item in place and save it), else the stored one."""
        cached = self._tickets.get(ticket_id)
        if cached is not None:
            return cached
        return super().load_ticket(ticket_id)

    def save_ticket(self, version: TicketVersion) -> None:
        row = ticket_row(version, self.dumps)
        ticket_id = version.item["id"]
        if self._lowest_ticket is None or ticket_id < self._lowest_ticket:
            self._lowest_ticket = ticket_id
        self._tickets[ticket_id] = StoredTicket(
            version.item, version.version, version.created_at, version.updated_at, version.deleted_at
        )
        self._current_rows[ticket_id] = row
        if version.version == 1:
            self.counts["tickets"] += 1
        self.counts["versions"] += 1
        if version.audit_id is None:
            self.counts["system_updates"] += 1
        self._buffer("ticket_versions", version_row(version, row["json"]))
        self._log_version(version)

    def add_audit(self, audit: AuditRecord) -> None:
        event, comment = audit_rows(audit, self.dumps)
        self._buffer("ticket_events", event)
        self._log_audit(audit)
        self.counts["audits"] += 1
        self.counts["child_events"] += audit.child_events
        if comment is not None:
            self._buffer("comments", comment)
            self.counts["comments"] += 1

    def add_metric_events(self, events: list[dict[str, Any]]) -> None:
        rows = metric_event_rows(events, self.dumps)
        self._log_metric_events(rows)
        for row in rows:
            self._buffer("ticket_metric_events", row)
            if row["type"] == "breach":
                self._metric_rows[row["id"]] = row
                self.counts["breaches"] += 1
        self.counts["metric_events"] += len(events)

    def ticket_ids_referring_to(self, user_id: int | None = None, organization_id: int | None = None) -> list[int]:
        self.flush()
        return super().ticket_ids_referring_to(user_id, organization_id)

    # people -----------------------------------------------------------------------------------------------------
    def load_record(self, table: str, record_id: int) -> StoredRecord | None:
        key = (table, record_id)
        found = self._records.get(key)
        if found is None:
            found = super().load_record(table, record_id)
            if found is not None:
                self._records[key] = found
        return found

    def insert_record(self, table: str, values: dict[str, Any], record: dict[str, Any]) -> None:
        if table == "sla_policies":
            self._policies = None
        body = self.dumps(record)
        self._buffer(table, {**values, "json": body})
        self._log_record(table, record["id"], values, body)
        self._records[(table, record["id"])] = StoredRecord(record, values.get("deleted_at"))
        self.counts[table] += 1

    def update_record(self, table: str, record_id: int, values: dict[str, Any], record: dict[str, Any]) -> None:
        """In a transaction of its own, with its change logged in it (after everything buffered)."""
        with self._between_batches(), self.store.writing() as own:
            own.update_record(table, record_id, values, record)
        self._records[(table, record_id)] = StoredRecord(record, values.get("deleted_at"))
        self._policies = None

    # SLA engine -------------------------------------------------------------------------------------------------
    def load_sla_policies(self) -> list[dict[str, Any]]:
        if self._policies is None:
            self.flush()
            self._policies = super().load_sla_policies()
        return self._policies

    def load_sla_state(self, ticket_id: int) -> dict[str, Any] | None:
        """From memory; from the database only if flushed and evicted (every state's deadline is known here)."""
        found = self._sla.get(ticket_id)
        if found is not None or ticket_id not in self._deadlines:
            return found
        return super().load_sla_state(ticket_id)

    def save_sla_state(self, ticket_id: int, state: dict[str, Any], next_deadline: int | None) -> None:
        self._sla[ticket_id] = state
        self._sla_rows[ticket_id] = (state, next_deadline)
        if next_deadline is not None:
            heapq.heappush(self._due, (next_deadline, ticket_id))
        self._deadlines[ticket_id] = next_deadline

    def due_sla_tickets(self, now: int, limit: int = 500, below: int | None = None) -> list[int]:
        """Due tickets (with an id under ``below``, if given) from the in-memory deadline heap; entries a later save
        made stale are dropped, and those at or over ``below`` stay in it."""
        due: list[int] = []
        kept: list[tuple[int, int]] = []
        while self._due and self._due[0][0] < now and len(due) < limit:
            entry = heapq.heappop(self._due)
            deadline, ticket_id = entry
            if self._deadlines.get(ticket_id) != deadline or ticket_id in due:
                continue
            if below is not None and ticket_id >= below:
                kept.append(entry)
            else:
                due.append(ticket_id)
        for entry in kept:
            heapq.heappush(self._due, entry)
        return due

    def mark_breach_deleted(self, event_id: int) -> None:
        """A buffered breach is changed in its row; one flushed already gets an UPDATE in the next batch, in the
        transaction that logs the change."""
        row = self._metric_rows.get(event_id)
        if row is not None:
            stored: tuple[bytes, int] | None = (row["json"], row["time"])
        else:
            stored = self._breaches_written.pop(event_id, None) or self.load_metric_event(event_id)
        if stored is None:
            return
        undone = self.dumps({**orjson.loads(stored[0]), "deleted": True})
        if row is not None:
            row["json"] = undone
        else:
            self._breaches_undone.append((undone, event_id))
            self._pending += 1
        self._log_metric_events([{"id": event_id, "time": stored[1]}])
