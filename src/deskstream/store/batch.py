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
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import orjson
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite

from deskstream.store import schema
from deskstream.store.engine import Store
from deskstream.store.records import AuditRecord, StoredRecord, StoredTicket, TicketVersion
from deskstream.store.writer import (
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
#: Tickets kept in memory after a flush; past this the cache is dropped and reloaded on demand.
MAX_CACHED_TICKETS = 200_000


def _upsert(dialect: str, table: Table, key: str) -> Any:
    """``INSERT ... ON CONFLICT (key) DO UPDATE`` every other column: SQLite and PostgreSQL spell it alike."""
    stmt = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table)
    return stmt.on_conflict_do_update(
        index_elements=[key], set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name != key}
    )


class BatchWriter(Writer):
    """Buffers a generator's writes and flushes them in large transactions (see the module docstring)."""

    def __init__(self, store: Store, flush_every: int = 50_000) -> None:
        self.store = store
        self.flush_every = flush_every
        self._tx = ExitStack()
        self._ids: dict[str, list[int]] = {}
        self._tickets: dict[int, StoredTicket] = {}
        self._current_rows: dict[int, dict[str, Any]] = {}
        self._ticket_upsert = _upsert(store.dialect, schema.tickets, "id")
        self._sla_upsert = _upsert(store.dialect, schema.sla_states, "ticket_id")
        self._sla: dict[int, dict[str, Any]] = {}
        self._sla_rows: dict[int, tuple[dict[str, Any], int | None]] = {}
        self._deadlines: dict[int, int | None] = {}
        self._due: list[tuple[int, int]] = []
        self._metric_rows: dict[int, dict[str, Any]] = {}
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

    # transactions -----------------------------------------------------------------------------------------------
    def _begin(self) -> Any:
        self.conn = self._tx.enter_context(self.store.write())
        return self.conn

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, kind: object, error: BaseException | None, _tb: object) -> None:
        """Commit what is buffered, or, if the block raised, drop it (see :meth:`abort`)."""
        if error is None:
            self.close()
        else:
            self.abort()

    def flush(self, reopen: bool = True) -> None:
        """Write everything buffered and commit; then open the next transaction unless told not to."""
        for table in ("users", "organizations", "groups"):
            self._insert(table, self._rows.pop(table, []))
        if self._current_rows:
            self.conn.execute(self._ticket_upsert, list(self._current_rows.values()))
        if self._sla_rows:
            rows = [{"ticket_id": k, "next_deadline": d, "json": dumps(j)} for k, (j, d) in self._sla_rows.items()]
            self.conn.execute(self._sla_upsert, rows)
        self._current_rows.clear()
        self._sla_rows.clear()
        for table in ("ticket_versions", "ticket_events", "comments", "ticket_metric_events"):
            self._insert(table, self._rows.pop(table, []))
        self.log_changes()
        self._metric_rows.clear()
        self._pending = 0
        self._tx.close()
        if len(self._tickets) > MAX_CACHED_TICKETS:
            self._tickets.clear()
            self._sla.clear()
        if reopen:
            self._begin()

    def close(self) -> None:
        """Write what is buffered and end the transaction."""
        self.flush(reopen=False)

    def abort(self) -> None:
        """Drop what is buffered and roll the open transaction back (a change may be half-buffered); every batch
        committed before holds whole changes only, since flushes happen between changes."""
        for buffer in (self._rows, self._current_rows, self._sla_rows, self._metric_rows):
            buffer.clear()
        self.changes = []
        self._pending = 0
        error = RuntimeError("generation aborted")
        self._tx.__exit__(type(error), error, None)

    @contextmanager
    def outside(self, records: Iterable[tuple[str, int]] = (), tickets: Iterable[int] = ()) -> Iterator[None]:
        """Let a service write in its own transaction: flush and commit first, then forget the ``records``
        (table, id) and the ``tickets`` it changes (counted as system updates), and the SLA policies."""
        self.flush(reopen=False)
        try:
            yield
        finally:
            for key in records:
                self._records.pop(key, None)
            for ticket_id in tickets:
                self._tickets.pop(ticket_id, None)
                self.counts["system_updates"] += 1
            self._policies = None
            self._begin()

    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        """``executemany`` straight to the driver: SQLAlchemy's per-row parameter handling cost more than SQLite."""
        if not rows:
            return
        quote = self.conn.dialect.identifier_preparer.quote
        positional = self.conn.dialect.paramstyle in ("qmark", "format")
        mark = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            by_columns.setdefault(tuple(row), []).append(row)
        for columns, same in by_columns.items():
            names = ", ".join(quote(c) for c in columns)
            if positional:
                sql = f"INSERT INTO {quote(table)} ({names}) VALUES ({', '.join([mark] * len(columns))})"
                self.conn.exec_driver_sql(sql, [tuple(r.values()) for r in same])
            else:
                marks = ", ".join(f"%({c})s" for c in columns)
                self.conn.exec_driver_sql(f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})", same)

    def _write_changes(self, rows: list[dict[str, Any]]) -> None:
        """A flush's changes go straight to the driver like its other rows."""
        self._insert("changes", rows)

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
            first = allocate_ids(self.conn, name, size)
            block = self._ids[name] = [first, first + size]
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
            self._metric_rows[row["id"]] = row
            if row["type"] == "breach":
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
        self.flush()
        super().update_record(table, record_id, values, record)
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

    def due_sla_tickets(self, now: int, limit: int = 500) -> list[int]:
        """Due tickets from the in-memory deadline heap; entries a later save made stale are skipped."""
        due: list[int] = []
        while self._due and self._due[0][0] < now and len(due) < limit:
            deadline, ticket_id = heapq.heappop(self._due)
            if self._deadlines.get(ticket_id) == deadline and ticket_id not in due:
                due.append(ticket_id)
        return due

    def mark_breach_deleted(self, event_id: int) -> None:
        row = self._metric_rows.get(event_id)
        if row is None:
            super().mark_breach_deleted(event_id)
            return
        row["json"] = self.dumps({**orjson.loads(row["json"]), "deleted": True})
        self._log_metric_events([row])
