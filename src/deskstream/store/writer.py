"""Every write the service makes, on one transaction's connection.

The service layer talks only to a :class:`Writer`; the workload generator hands it a subclass that buffers the
append-only inserts and flushes them in batches, so both paths run the same domain code.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, bindparam, insert, select, update

from deskstream.domain.audits import Audit
from deskstream.domain.tickets import Person, public
from deskstream.store import schema
from deskstream.store.engine import allocate_ids

dumps = orjson.dumps

# The hot path's statements, built once: SQLAlchemy then finds each compiled form by a cache key computed once per
# statement object, instead of rebuilding and re-keying a statement on every call (a third of an update's time).
_t, _v, _s = schema.tickets, schema.ticket_versions, schema.sla_states
_LOAD_TICKET = select(_t.c.json, _t.c.version, _t.c.deleted_at, _t.c.updated_at, _t.c.created_at).where(
    _t.c.id == bindparam("ticket_id")
)
_TICKET_COLUMNS = [c.name for c in _t.columns if c.name != "id"]
_UPDATE_TICKET = (
    update(_t).where(_t.c.id == bindparam("ticket_id")).values({n: bindparam(n) for n in _TICKET_COLUMNS})
)
_INSERT_TICKET = insert(_t)
_INSERT_VERSION = insert(_v)
_INSERT_EVENT = insert(schema.ticket_events)
_INSERT_COMMENT = insert(schema.comments)
_INSERT_METRIC_EVENTS = insert(schema.ticket_metric_events)
_LOAD_PERSON = select(schema.users.c.json).where(
    schema.users.c.id == bindparam("user_id"), schema.users.c.deleted_at.is_(None)
)
_LOAD_RECORD = {
    name: select(schema.metadata.tables[name].c.json, schema.metadata.tables[name].c.deleted_at).where(
        schema.metadata.tables[name].c.id == bindparam("record_id")
    )
    for name in ("users", "organizations", "groups", "sla_policies")
}
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


def ticket_row(ticket: dict[str, Any], version: int, created_at: int, deleted_at: int | None) -> dict[str, Any]:
    return {
        "id": ticket["id"],
        "status": ticket["status"],
        "priority": ticket["priority"],
        "requester_id": ticket["requester_id"],
        "assignee_id": ticket["assignee_id"],
        "organization_id": ticket["organization_id"],
        "group_id": ticket["group_id"],
        "created_at": created_at,
        "updated_at": ticket["_updated_ts"],
        "generated_timestamp": ticket["generated_timestamp"],
        "deleted_at": deleted_at,
        "version": version,
        "json": dumps(public(ticket)),
    }


def version_row(ticket: dict[str, Any], version: int, audit_id: int | None, body: bytes) -> dict[str, Any]:
    """The append-only ``ticket_versions`` row of a ticket's new version (``audit_id`` None for system updates)."""
    return {
        "ticket_id": ticket["id"],
        "version": version,
        "generated_timestamp": ticket["generated_timestamp"],
        "audit_id": audit_id,
        "json": body,
    }


def audit_rows(audit: Audit) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The ``ticket_events`` row (three stored forms) and the ``comments`` row, if the audit has a comment."""
    item, with_comments = audit.export_items()
    event = {
        "id": audit.id,
        "ticket_id": audit.ticket_id,
        "timestamp": audit.created_at,
        "json": dumps(item),
        "json_comments": None if with_comments is None else dumps(with_comments),
        "audit_json": dumps(audit.api_item()),
    }
    comment = None
    if audit.comment is not None:
        comment = {
            "id": audit.comment["id"],
            "ticket_id": audit.ticket_id,
            "audit_id": audit.id,
            "author_id": audit.comment["author_id"],
            "public": audit.comment["public"],
            "created_at": audit.created_at,
            "json": dumps(audit.comment),
        }
    return event, comment


def metric_event_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
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


class Writer:
    """One write transaction. Records are plain dicts (the objects Zendesk serves); rows are derived here."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def allocate(self, name: str, count: int = 1) -> int:
        return allocate_ids(self.conn, name, count)

    # tickets ----------------------------------------------------------------------------------------------------
    def load_ticket(self, ticket_id: int) -> tuple[dict[str, Any], int, int | None] | None:
        """The current ticket, its version number and its ``deleted_at``; None if it never existed."""
        row = self.conn.execute(_LOAD_TICKET, {"ticket_id": ticket_id}).first()
        if row is None:
            return None
        ticket = orjson.loads(row.json)
        ticket["_updated_ts"] = row.updated_at
        ticket["_created_ts"] = row.created_at
        return ticket, row.version, row.deleted_at

    def save_ticket(
        self, ticket: dict[str, Any], version: int, audit_id: int | None, deleted_at: int | None = None
    ) -> None:
        """Write a ticket's new version: the current row (insert for version 1) and its history row."""
        created = ticket["_created_ts"]
        row = ticket_row(ticket, version, created, deleted_at)
        if version == 1:
            self.conn.execute(_INSERT_TICKET, [row])
        else:
            self.conn.execute(_UPDATE_TICKET, {"ticket_id": row.pop("id"), **row})
        self.conn.execute(_INSERT_VERSION, [version_row(ticket, version, audit_id, row["json"])])

    def add_audit(self, audit: Audit) -> None:
        event, comment = audit_rows(audit)
        self.conn.execute(_INSERT_EVENT, [event])
        if comment is not None:
            self.conn.execute(_INSERT_COMMENT, [comment])

    def add_metric_events(self, events: list[dict[str, Any]]) -> None:
        """Insert metric events (``incremental/ticket_metric_events`` items) as they are served."""
        if events:
            self.conn.execute(_INSERT_METRIC_EVENTS, metric_event_rows(events))

    # people -----------------------------------------------------------------------------------------------------
    def load_person(self, user_id: int) -> Person | None:
        row = self.conn.execute(_LOAD_PERSON, {"user_id": user_id}).first()
        if row is None:
            return None
        user = orjson.loads(row.json)
        return Person(user["id"], user["name"], user["email"], user["organization_id"])

    def load_record(self, table: str, record_id: int) -> tuple[dict[str, Any], int | None] | None:
        """A user, organization or group as served, with its ``deleted_at``."""
        prebuilt = _LOAD_RECORD.get(table)
        if prebuilt is None:
            t = schema.metadata.tables[table]
            prebuilt = select(t.c.json, t.c.deleted_at).where(t.c.id == bindparam("record_id"))
        row = self.conn.execute(prebuilt, {"record_id": record_id}).first()
        return None if row is None else (orjson.loads(row.json), row.deleted_at)

    def insert_record(self, table: str, values: dict[str, Any], record: dict[str, Any]) -> None:
        self.conn.execute(insert(schema.metadata.tables[table]), [{**values, "json": dumps(record)}])

    def update_record(self, table: str, record_id: int, values: dict[str, Any], record: dict[str, Any]) -> None:
        t = schema.metadata.tables[table]
        self.conn.execute(update(t).where(t.c.id == record_id).values(**values, json=dumps(record)))

    def ticket_ids_referring_to(self, user_id: int | None = None, organization_id: int | None = None) -> list[int]:
        """Live tickets requested by or assigned to this user, or in this organization (a system update's targets)."""
        t = schema.tickets
        where: ColumnElement[bool]
        if user_id is not None:
            where = (t.c.requester_id == user_id) | (t.c.assignee_id == user_id)
        else:
            where = t.c.organization_id == organization_id
        return list(self.conn.execute(select(t.c.id).where(where, t.c.deleted_at.is_(None))).scalars())

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

    def due_sla_tickets(self, now: int, limit: int = 500) -> list[int]:
        """Tickets with an SLA target that passed before ``now``, locked for this transaction.

        On PostgreSQL the rows are claimed with ``FOR UPDATE SKIP LOCKED`` so that several server processes share
        the work; on SQLite the write transaction already holds the database's one write lock.
        """
        s = schema.sla_states
        query = select(s.c.ticket_id).where(s.c.next_deadline < now).order_by(s.c.next_deadline).limit(limit)
        return list(self.conn.execute(query.with_for_update(skip_locked=True)).scalars())

    def mark_breach_deleted(self, event_id: int) -> None:
        """A breach undone (its target moved past it, or no longer applies) keeps its row with ``deleted: true``."""
        m = schema.ticket_metric_events
        raw = self.conn.execute(select(m.c.json).where(m.c.id == event_id)).scalar()
        if raw is not None:
            event = orjson.loads(raw)
            event["deleted"] = True
            self.conn.execute(update(m).where(m.c.id == event_id).values(json=dumps(event)))
