"""Every read and write a service makes inside its transaction, on that transaction's connection.

The service layer talks only to a :class:`Writer`, in the records of :mod:`deskstream.store.records`; the workload
generator hands it a subclass that buffers the append-only inserts and flushes them in batches
(:mod:`deskstream.store.batch`), so both paths run the same service code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from deskstream.base_url import URL_BASE
from deskstream.store import schema
from deskstream.store.accounts import Accounts
from deskstream.store.errors import DuplicateRecord
from deskstream.store.records import AuditRecord, StoredRecord, StoredTicket, TicketVersion

#: Serializes one record as it is stored (see :func:`serializer`).
Dumps = Callable[[Any], bytes]
dumps = orjson.dumps


def serializer(url_base: str) -> Dumps:
    """How records are stored on a database whose items name ``url_base`` (``serve --public-url``): the domain
    writes the :data:`~deskstream.base_url.URL_BASE` placeholder where a URL names the server, and it is replaced
    here, once per write, so that a request addressed to that base is served the stored bytes as they are."""
    if url_base == URL_BASE:
        return dumps
    placeholder, base = URL_BASE.encode(), url_base.encode()
    return lambda record: dumps(record).replace(placeholder, base)

# The hot path's statements, built once: SQLAlchemy then finds each compiled form by a cache key computed once per
# statement object, instead of rebuilding and re-keying a statement on every call (a third of an update's time).
_t, _v, _s = schema.tickets, schema.ticket_versions, schema.sla_states
_LOAD_TICKET = select(_t.c.json, _t.c.version, _t.c.deleted_at, _t.c.updated_at, _t.c.created_at).where(
    _t.c.id == bindparam("ticket_id")
)
#: In a write transaction the ticket's row is locked as it is read (PostgreSQL; SQLite renders no ``FOR UPDATE``
#: and already serializes writers with ``BEGIN IMMEDIATE``): two writers never both read version n and write n + 1.
_LOAD_TICKET_FOR_UPDATE = _LOAD_TICKET.with_for_update()
_TICKET_COLUMNS = [c.name for c in _t.columns if c.name != "id"]
_UPDATE_TICKET = (
    update(_t).where(_t.c.id == bindparam("ticket_id")).values({n: bindparam(n) for n in _TICKET_COLUMNS})
)
_INSERT_TICKET = insert(_t)
_INSERT_VERSION = insert(_v)
_INSERT_EVENT = insert(schema.ticket_events)
_INSERT_COMMENT = insert(schema.comments)
_INSERT_METRIC_EVENTS = insert(schema.ticket_metric_events)
_LOAD_RECORD = {
    name: select(schema.metadata.tables[name].c.json, schema.metadata.tables[name].c.deleted_at).where(
        schema.metadata.tables[name].c.id == bindparam("record_id")
    )
    for name in ("users", "organizations", "groups", "sla_policies")
}
_INSERT_CHANGES = insert(schema.changes)
#: Where a simulated clock keeps its time (``deskstream.clock`` reads and moves it; the change log reads it here).
SIMULATED_CLOCK_KEY = "clock.now"
#: ``"<wall-clock second of the last batch> <lowest ticket id written>"``: a
#: :class:`~deskstream.store.batch.BatchWriter`'s mark, written with each batch and deleted when the writer ends.
#: Between its batches a batch writer holds its tickets and their SLA states in memory, so while the mark is fresh
#: the SLA scheduler leaves those tickets alone (:meth:`Writer.tickets_being_written`) and keeps the others' breaches
#: on time. One killed with ``kill -9`` leaves it behind; it goes stale after :data:`BATCH_WRITER_STALE` seconds.
BATCH_WRITER_KEY = "batch_writer.last_batch"
BATCH_WRITER_STALE = 60
#: The exported records whose every change the change log numbers (groups and SLA policies are not exported).
LOGGED = frozenset({"users", "organizations"})
_LOAD_SLA_STATE = select(_s.c.json).where(_s.c.ticket_id == bindparam("ticket_id"))
_UPDATE_SLA_STATE = (
    update(_s)
    .where(_s.c.ticket_id == bindparam("tid"))
    .values(next_deadline=bindparam("next_deadline"), json=bindparam("json"))
)
_INSERT_SLA_STATE = insert(_s)
_LOAD_SLA_POLICIES = (
    select(schema.sla_policies.c.json)
    .where(schema.sla_policies.c.deleted_at.is_(None))
    .order_by(schema.sla_policies.c.position, schema.sla_policies.c.id)
)


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


def _sla_due(now: int, below: int | None) -> list[Any]:
    """A due SLA state: its next target passed before ``now``, on a ticket under ``below`` if given (a batch writer
    holds the others: :meth:`Writer.tickets_being_written`)."""
    due = _s.c.next_deadline < now
    return [due] if below is None else [due, _s.c.ticket_id < below]


def ticket_row(version: TicketVersion, dumps: Dumps) -> dict[str, Any]:
    """The ``tickets`` row of a ticket's current version."""
    ticket = version.item
    return {
        "id": ticket["id"],
        "status": ticket["status"],
        "priority": ticket["priority"],
        "requester_id": ticket["requester_id"],
        "assignee_id": ticket["assignee_id"],
        "organization_id": ticket["organization_id"],
        "group_id": ticket["group_id"],
        "created_at": version.created_at,
        "updated_at": version.updated_at,
        "generated_timestamp": ticket["generated_timestamp"],
        "deleted_at": version.deleted_at,
        "version": version.version,
        "json": dumps(ticket),
    }


def version_row(version: TicketVersion, body: bytes) -> dict[str, Any]:
    """The append-only ``ticket_versions`` row of a ticket's new version."""
    return {
        "ticket_id": version.item["id"],
        "version": version.version,
        "generated_timestamp": version.item["generated_timestamp"],
        "audit_id": version.audit_id,
        "json": body,
    }


def audit_rows(audit: AuditRecord, dumps: Dumps) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The ``ticket_events`` row (three stored forms) and the ``comments`` row, if the audit has a comment."""
    event = {
        "id": audit.id,
        "ticket_id": audit.ticket_id,
        "timestamp": audit.timestamp,
        "json": dumps(audit.item),
        "json_comments": None if audit.item_with_comments is None else dumps(audit.item_with_comments),
        "audit_json": dumps(audit.api_item),
    }
    comment = None
    if audit.comment is not None:
        comment = {
            "id": audit.comment["id"],
            "ticket_id": audit.ticket_id,
            "audit_id": audit.id,
            "author_id": audit.comment["author_id"],
            "public": audit.comment["public"],
            "created_at": audit.timestamp,
            "json": dumps(audit.comment),
        }
    return event, comment


def metric_event_rows(events: list[dict[str, Any]], dumps: Dumps) -> list[dict[str, Any]]:
    """The ``ticket_metric_events`` rows of metric events (``_ts`` is the event's time in Unix seconds)."""
    return [
        {
            "id": e["id"],
            "ticket_id": e["ticket_id"],
            "metric": e["metric"],
            "instance_id": e["instance_id"],
            "type": e["type"],
            "time": e["_ts"],
            "json": dumps(_served(e)),
        }
        for e in events
    ]


def _served(event: dict[str, Any]) -> dict[str, Any]:
    """A metric event as served: without its ``_ts`` (its time in Unix seconds, for the ``time`` column)."""
    item = dict(event)
    item.pop("_ts", None)
    return item


class Writer(Accounts):
    """One transaction's reads and writes of the help desk's records (and, inherited from :class:`Accounts`, of
    the account's bookkeeping). Records are plain dicts (the objects Zendesk serves); rows are derived here.
    ``locking`` (a write transaction) locks each ticket row as it is loaded, and tickets are always locked in id
    order, so concurrent writers on PostgreSQL queue on a ticket instead of colliding or deadlocking."""

    def __init__(self, conn: Connection, locking: bool = False, dumps: Dumps = dumps) -> None:
        super().__init__(conn)
        self.locking = locking
        #: How this database stores a record (:func:`serializer`).
        self.dumps = dumps
        #: This transaction's changes to exported records, in the order made; numbered and written at its end.
        self.changes: list[dict[str, Any]] = []

    def allocate(self, name: str, count: int = 1) -> int:
        return allocate_ids(self.conn, name, count)

    def log_changes(self) -> None:
        """Number this transaction's changes and write them: called last, inside the transaction, so the change
        log's ``seq`` follows commit order (writers hold the write lock, or the stamp lock, until they commit).

        ``logged_at`` is the database's own clock: the simulated one where the database has one (``kv``, read in
        this transaction), else wall time; whichever process writes, the retention runs on the server's clock."""
        if self.changes:
            first = allocate_ids(self.conn, "changes", len(self.changes))
            stored = self.kv_get(SIMULATED_CLOCK_KEY)
            logged_at = int(stored) if stored is not None else int(time.time())
            for n, change in enumerate(self.changes):
                change["seq"], change["logged_at"] = first + n, logged_at
            self._write_changes(self.changes)
            self.changes = []

    def _write_changes(self, rows: list[dict[str, Any]]) -> None:
        self.conn.execute(_INSERT_CHANGES, rows)

    def _log(self, resource: str, record_id: int, time: int, version: int | None = None, deleted: bool = False,
             json: bytes | None = None) -> None:
        """One change to an exported record, numbered when the transaction's changes are written. Both writers
        log through these methods, so the change log is the same whichever wrote the history."""
        self.changes.append({"resource": resource, "record_id": record_id, "version": version, "deleted": deleted,
                             "time": time, "json": json})  # fmt: skip

    def _log_version(self, version: TicketVersion) -> None:
        self._log("tickets", version.item["id"], version.item["generated_timestamp"], version.version,
                  version.deleted_at is not None)  # fmt: skip

    def _log_audit(self, audit: AuditRecord) -> None:
        self._log("ticket_events", audit.id, audit.timestamp)

    def _log_metric_events(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self._log("ticket_metric_events", row["id"], row["time"])

    # tickets ----------------------------------------------------------------------------------------------------
    def load_ticket(self, ticket_id: int) -> StoredTicket | None:
        """The current ticket; None if it never existed."""
        statement = _LOAD_TICKET_FOR_UPDATE if self.locking else _LOAD_TICKET
        row = self.conn.execute(statement, {"ticket_id": ticket_id}).first()
        if row is None:
            return None
        return StoredTicket(orjson.loads(row.json), row.version, row.created_at, row.updated_at, row.deleted_at)

    def lock_tickets(self, ticket_ids: list[int]) -> None:
        """Lock these tickets' rows now, in id order (a bulk change, before it loads them one by one)."""
        if self.locking and ticket_ids:
            t = schema.tickets
            self.conn.execute(select(t.c.id).where(t.c.id.in_(sorted(set(ticket_ids)))).order_by(t.c.id).with_for_update())

    def save_ticket(self, version: TicketVersion) -> None:
        """Write a ticket's new version: the current row (insert for version 1) and its history row."""
        row = ticket_row(version, self.dumps)
        if version.version == 1:
            self.conn.execute(_INSERT_TICKET, [row])
        else:
            self.conn.execute(_UPDATE_TICKET, {"ticket_id": row.pop("id"), **row})
        self.conn.execute(_INSERT_VERSION, [version_row(version, row["json"])])
        self._log_version(version)

    def add_audit(self, audit: AuditRecord) -> None:
        event, comment = audit_rows(audit, self.dumps)
        self.conn.execute(_INSERT_EVENT, [event])
        if comment is not None:
            self.conn.execute(_INSERT_COMMENT, [comment])
        self._log_audit(audit)

    def add_metric_events(self, events: list[dict[str, Any]]) -> None:
        """Insert metric events (``incremental/ticket_metric_events`` items) as they are served."""
        if events:
            rows = metric_event_rows(events, self.dumps)
            self.conn.execute(_INSERT_METRIC_EVENTS, rows)
            self._log_metric_events(rows)

    # people -----------------------------------------------------------------------------------------------------
    def load_record(self, table: str, record_id: int) -> StoredRecord | None:
        """A user, organization, group or SLA policy as served, with its ``deleted_at``."""
        prebuilt = _LOAD_RECORD.get(table)
        if prebuilt is None:
            t = schema.metadata.tables[table]
            prebuilt = select(t.c.json, t.c.deleted_at).where(t.c.id == bindparam("record_id"))
        row = self.conn.execute(prebuilt, {"record_id": record_id}).first()
        return None if row is None else StoredRecord(orjson.loads(row.json), row.deleted_at)

    def insert_record(self, table: str, values: dict[str, Any], record: dict[str, Any]) -> None:
        """Insert a record; :class:`DuplicateRecord` (the transaction is then lost) if a unique value is taken."""
        body = self.dumps(record)
        try:
            self.conn.execute(insert(schema.metadata.tables[table]), [{**values, "json": body}])
        except IntegrityError as error:
            raise DuplicateRecord(str(error.orig)) from error
        self._log_record(table, record["id"], values, body)

    def update_record(self, table: str, record_id: int, values: dict[str, Any], record: dict[str, Any]) -> None:
        t = schema.metadata.tables[table]
        body = self.dumps(record)
        try:
            self.conn.execute(update(t).where(t.c.id == record_id).values(**values, json=body))
        except IntegrityError as error:
            raise DuplicateRecord(str(error.orig)) from error
        self._log_record(table, record_id, values, body)

    def _log_record(self, table: str, record_id: int, values: dict[str, Any], body: bytes) -> None:
        """A user's or organization's change, with the record as it is now (its row keeps no history); every
        change of one sets its ``updated_at``."""
        if table in LOGGED:
            self._log(table, record_id, int(values["updated_at"]), None, values.get("deleted_at") is not None, body)

    def user_id_by_email(self, email: str) -> int | None:
        """The user (live or deleted: an email stays taken) with this email, compared case-insensitively."""
        u = schema.users
        return self.conn.execute(select(u.c.id).where(func.lower(u.c.email) == email.lower())).scalar()

    def live_organization_named(self, name: str) -> int | None:
        o = schema.organizations
        return self.conn.execute(select(o.c.id).where(o.c.name == name, o.c.deleted_at.is_(None))).scalar()

    def count_records(self, table: str) -> int:
        t = schema.metadata.tables[table]
        return int(self.conn.execute(select(func.count()).select_from(t)).scalar_one())

    def save_job_status(self, job: dict[str, Any], created_at: int) -> None:
        """A bulk request's ``job_status`` (``GET /api/v2/job_statuses/{id}`` serves it)."""
        self.conn.execute(insert(schema.job_statuses).values(id=job["id"], created_at=created_at, json=self.dumps(job)))

    def ticket_ids_referring_to(self, user_id: int | None = None, organization_id: int | None = None) -> list[int]:
        """Live tickets requested by or assigned to this user, or in this organization (a system update's targets)."""
        t = schema.tickets
        where: ColumnElement[bool]
        if user_id is not None:
            where = (t.c.requester_id == user_id) | (t.c.assignee_id == user_id)
        else:
            where = t.c.organization_id == organization_id
        query = select(t.c.id).where(where, t.c.deleted_at.is_(None)).order_by(t.c.id)
        return list(self.conn.execute(query).scalars())

    # SLA engine (service/sla.py) ----------------------------------------------------------------------------------
    def load_sla_policies(self) -> list[dict[str, Any]]:
        """Live SLA policies in the order Zendesk matches them: by position, then by id."""
        rows = self.conn.execute(_LOAD_SLA_POLICIES)
        return [orjson.loads(row.json) for row in rows]

    def load_sla_state(self, ticket_id: int) -> dict[str, Any] | None:
        """A ticket's metric instances as the SLA engine left them; None before its first change."""
        raw = self.conn.execute(_LOAD_SLA_STATE, {"ticket_id": ticket_id}).scalar()
        return None if raw is None else orjson.loads(raw)

    def save_sla_state(self, ticket_id: int, state: dict[str, Any], next_deadline: int | None) -> None:
        values = {"next_deadline": next_deadline, "json": dumps(state)}
        if self.conn.execute(_UPDATE_SLA_STATE, {"tid": ticket_id, **values}).rowcount == 0:
            self.conn.execute(_INSERT_SLA_STATE, [{"ticket_id": ticket_id, **values}])

    def tickets_being_written(self, wall_now: float) -> int | None:
        """The lowest ticket id a batch writer at work holds (its mark is fresh: :data:`BATCH_WRITER_KEY`); it and
        every later id are its own, or made while it writes. None when no batch writer holds a ticket."""
        at, _, lowest = (self.kv_get(BATCH_WRITER_KEY) or "0").partition(" ")
        return int(lowest) if lowest and wall_now - float(at) < BATCH_WRITER_STALE else None

    def any_sla_due(self, now: int, below: int | None = None) -> bool:
        """Whether some ticket (with an id under ``below``, if given) has an SLA target that passed before ``now``
        (the scheduler's cheap first look)."""
        query = select(_s.c.ticket_id).where(*_sla_due(now, below)).limit(1)
        return self.conn.execute(query).first() is not None

    def due_sla_tickets(self, now: int, limit: int = 500, below: int | None = None) -> list[int]:
        """Tickets with an SLA target that passed before ``now``, locked for this transaction.

        On PostgreSQL the *tickets'* rows are claimed with ``FOR UPDATE SKIP LOCKED``: several server processes share
        the work, and a ticket being changed right now is left to the next pass (its change already writes its SLA
        state under the same lock, so lock order is always ticket first). On SQLite the write transaction already
        holds the database's one write lock.
        """
        query = select(_s.c.ticket_id).join(_t, _t.c.id == _s.c.ticket_id).where(*_sla_due(now, below))
        query = query.order_by(_s.c.next_deadline, _s.c.ticket_id).limit(limit).with_for_update(skip_locked=True, of=_t)
        return list(self.conn.execute(query).scalars())

    def load_metric_event(self, event_id: int) -> tuple[bytes, int] | None:
        """A metric event's stored JSON and time."""
        m = schema.ticket_metric_events
        row = self.conn.execute(select(m.c.json, m.c.time).where(m.c.id == event_id)).first()
        return None if row is None else (bytes(row.json), int(row.time))

    def mark_breach_deleted(self, event_id: int) -> None:
        """A breach undone (its target moved past it, or no longer applies) keeps its row with ``deleted: true``."""
        found = self.load_metric_event(event_id)
        if found is not None:
            event = orjson.loads(found[0])
            event["deleted"] = True
            m = schema.ticket_metric_events
            self.conn.execute(update(m).where(m.c.id == event_id).values(json=self.dumps(event)))
            self._log_metric_events([{"id": event_id, "time": found[1]}])
