"""Schema versions as a short registered list, applied in order and recorded in ``schema_migrations``.

One mechanism for SQLite and PostgreSQL: each migration is a function of a connection inside the migration's
transaction. Add a migration by appending to :data:`MIGRATIONS`; never edit one that has shipped.

Each migration carries its own DDL, frozen as it shipped: its tables are built on a private ``MetaData`` with
explicit definitions, never from :mod:`deskstream.store.schema`'s live tables, so editing ``schema.py`` cannot
rewrite history. A schema change is a new migration *and* the same change in ``schema.py``;
tests/store/test_migrations.py holds that a database built by the migrations alone equals ``schema.metadata``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
    text,
    tuple_,
    update,
)

from deskstream.store import schema

#: The key of the PostgreSQL advisory lock that serializes :func:`migrate` between processes (any constant
#: bigint; this one is "deskstrm" in ASCII). SQLite needs none: the write transaction is ``BEGIN IMMEDIATE``.
_PG_MIGRATION_LOCK = 0x6465736B7374726D


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _base_tables(conn: Connection) -> None:
    """Version 1: the base tables, as they shipped."""
    m = MetaData()
    Table(
        "schema_migrations",
        m,
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("name", String(200), nullable=False),
        Column("applied_at", BigInteger, nullable=False),
    )
    Table(
        "id_sequences",
        m,
        Column("name", String(64), primary_key=True),
        Column("value", BigInteger, nullable=False),
    )
    Table(
        "kv",
        m,
        Column("key", String(128), primary_key=True),
        Column("value", Text, nullable=False),
    )
    Table(
        "users",
        m,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("email", String(320), nullable=True, unique=True),
        Column("role", String(16), nullable=False),
        Column("password_hash", String(200), nullable=True),
        Column("organization_id", BigInteger, nullable=True),
        Column("created_at", BigInteger, nullable=False),
        Column("updated_at", BigInteger, nullable=False),
        Column("deleted_at", BigInteger, nullable=True),
        Column("json", LargeBinary, nullable=False),
        Index("ix_users_export", "updated_at", "id"),
        Index("ix_users_organization", "organization_id"),
    )
    Table(
        "api_tokens",
        m,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("user_id", BigInteger, nullable=False),
        Column("lookup", String(16), nullable=False),
        Column("token_hash", String(200), nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Index("ix_api_tokens_lookup", "lookup"),
    )
    Table(
        "organizations",
        m,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("name", String(255), nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("updated_at", BigInteger, nullable=False),
        Column("deleted_at", BigInteger, nullable=True),
        Column("json", LargeBinary, nullable=False),
        Index("ix_organizations_export", "updated_at", "id"),
        Index("ix_organizations_name", "name"),
    )
    Table(
        "groups",
        m,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("name", String(255), nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("updated_at", BigInteger, nullable=False),
        Column("deleted_at", BigInteger, nullable=True),
        Column("json", LargeBinary, nullable=False),
    )
    Table(
        "tickets",
        m,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("status", String(16), nullable=False),
        Column("priority", String(16), nullable=True),
        Column("requester_id", BigInteger, nullable=True),
        Column("assignee_id", BigInteger, nullable=True),
        Column("organization_id", BigInteger, nullable=True),
        Column("group_id", BigInteger, nullable=True),
        Column("created_at", BigInteger, nullable=False),
        Column("updated_at", BigInteger, nullable=False),
        Column("generated_timestamp", BigInteger, nullable=False),
        Column("deleted_at", BigInteger, nullable=True),
        Column("version", Integer, nullable=False),
        Column("json", LargeBinary, nullable=False),
        Index("ix_tickets_export", "generated_timestamp", "id"),
        Index("ix_tickets_requester", "requester_id"),
        Index("ix_tickets_assignee", "assignee_id"),
        Index("ix_tickets_organization", "organization_id"),
    )
    Table(
        "ticket_versions",
        m,
        Column("ticket_id", BigInteger, primary_key=True, autoincrement=False),
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("generated_timestamp", BigInteger, nullable=False),
        Column("audit_id", BigInteger, nullable=True),
        Column("json", LargeBinary, nullable=False),
    )
    Table(
        "ticket_events",
        m,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("ticket_id", BigInteger, nullable=False),
        Column("timestamp", BigInteger, nullable=False),
        Column("json", LargeBinary, nullable=False),
        Column("json_comments", LargeBinary, nullable=True),
        Column("audit_json", LargeBinary, nullable=False),
        Index("ix_ticket_events_export", "timestamp", "id"),
        Index("ix_ticket_events_ticket", "ticket_id", "id"),
    )
    Table(
        "comments",
        m,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("ticket_id", BigInteger, nullable=False),
        Column("audit_id", BigInteger, nullable=False),
        Column("author_id", BigInteger, nullable=False),
        Column("public", Boolean, nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("json", LargeBinary, nullable=False),
        Index("ix_comments_ticket", "ticket_id", "id"),
    )
    Table(
        "ticket_metric_events",
        m,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("ticket_id", BigInteger, nullable=False),
        Column("metric", String(32), nullable=False),
        Column("instance_id", Integer, nullable=False),
        Column("type", String(32), nullable=False),
        Column("time", BigInteger, nullable=False),
        Column("json", LargeBinary, nullable=False),
        Index("ix_ticket_metric_events_export", "time", "id"),
        Index("ix_ticket_metric_events_ticket", "ticket_id", "id"),
    )
    Table(
        "sla_policies",
        m,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("position", Integer, nullable=False),
        Column("created_at", BigInteger, nullable=False),
        Column("updated_at", BigInteger, nullable=False),
        Column("deleted_at", BigInteger, nullable=True),
        Column("json", LargeBinary, nullable=False),
    )
    Table(
        "job_statuses",
        m,
        Column("id", String(64), primary_key=True),
        Column("created_at", BigInteger, nullable=False),
        Column("json", LargeBinary, nullable=False),
    )
    m.create_all(conn)


def _rate_limit_counters(conn: Connection) -> None:
    """Version 2: the rate-limit windows every server process on the database shares."""
    m = MetaData()
    Table(
        "rate_limit_counters",
        m,
        Column("key", String(64), primary_key=True),
        Column("window_start", BigInteger, nullable=False),
        Column("count", Integer, nullable=False),
    ).create(conn)


def _sla_states(conn: Connection) -> None:
    """Version 3: each ticket's running SLA metric instances and their next deadline."""
    m = MetaData()
    Table(
        "sla_states",
        m,
        Column("ticket_id", BigInteger, primary_key=True, autoincrement=False),
        Column("next_deadline", BigInteger, nullable=True),
        Column("json", LargeBinary, nullable=False),
        Index("ix_sla_states_deadline", "next_deadline"),
    ).create(conn)


#: Zendesk's write-only ticket properties as served: the seed's empty placeholders (domain/tickets.py's blank
#: ticket). Databases written before migration 4 held the requester's and collaborators' records there.
_WRITE_ONLY_PLACEHOLDERS: dict[str, Any] = {"requester": {}, "collaborators": [], "assignee_email": None}


def _empty_write_only_properties(conn: Connection) -> None:
    """Rewrite stored ticket JSON whose write-only properties carry data, in batches by key."""
    for table in (schema.tickets, schema.ticket_versions):
        key_columns = list(table.primary_key.columns)
        after: tuple[int, ...] | None = None
        while True:
            query = select(*key_columns, table.c.json).order_by(*key_columns).limit(2000)
            if after is not None:
                query = query.where(tuple_(*key_columns) > tuple_(*after))
            rows = conn.execute(query).all()
            if not rows:
                break
            for row in rows:
                item = orjson.loads(row.json)
                if all(item.get(k, v) == v for k, v in _WRITE_ONLY_PLACEHOLDERS.items()):
                    continue
                item.update(_WRITE_ONLY_PLACEHOLDERS)
                where = [c == row._mapping[c.name] for c in key_columns]
                conn.execute(update(table).where(*where).values(json=orjson.dumps(item)))
            after = tuple(row._mapping[c.name] for c in key_columns)


def _database_now(conn: Connection) -> int:
    """The database's simulated clock if it has one (``kv`` ``clock.now``), else wall time."""
    stored = conn.execute(text("SELECT value FROM kv WHERE key = 'clock.now'")).scalar()
    return int(stored) if stored is not None else int(time.time())


def _changes(conn: Connection) -> None:
    """Version 5: the change log, with the history already stored numbered in time order (a database older than the
    log still has a complete feed): every ticket version, ticket event and metric event, and the current user and
    organization rows, logged now on the database's clock."""
    m = MetaData()
    changes = Table(
        "changes",
        m,
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("resource", String(32), nullable=False),
        Column("record_id", BigInteger, nullable=False),
        Column("version", Integer, nullable=True),
        Column("deleted", Boolean, nullable=False),
        Column("time", BigInteger, nullable=False),
        Column("logged_at", BigInteger, nullable=False),
        Column("json", LargeBinary, nullable=True),
    )
    Index("ix_changes_time", changes.c.time)
    m.create_all(conn)
    binary = "BYTEA" if conn.dialect.name == "postgresql" else "BLOB"
    conn.execute(text(f"""
        INSERT INTO changes (seq, resource, record_id, version, deleted, time, logged_at, json)
        SELECT ROW_NUMBER() OVER (ORDER BY time, resource, record_id, version), resource, record_id, version, deleted,
               time, :now, json
        FROM (
            SELECT 'tickets' AS resource, v.ticket_id AS record_id, v.version AS version,
                   t.deleted_at IS NOT NULL AND v.version = t.version AS deleted, v.generated_timestamp AS time,
                   CAST(NULL AS {binary}) AS json
            FROM ticket_versions v JOIN tickets t ON t.id = v.ticket_id
            UNION ALL SELECT 'ticket_events', id, NULL, FALSE, timestamp, NULL FROM ticket_events
            UNION ALL SELECT 'ticket_metric_events', id, NULL, FALSE, time, NULL FROM ticket_metric_events
            UNION ALL SELECT 'users', id, NULL, deleted_at IS NOT NULL, updated_at, json FROM users
            UNION ALL SELECT 'organizations', id, NULL, deleted_at IS NOT NULL, updated_at, json FROM organizations
        ) AS history
    """), {"now": _database_now(conn)})
    last = conn.execute(text("SELECT MAX(seq) FROM changes")).scalar()
    if last:
        conn.execute(insert(schema.id_sequences).values(name="changes", value=last))


def _request_journal(conn: Connection) -> None:
    """Version 6: the request journal, a ring of the newest requests (service/journal.py)."""
    m = MetaData()
    Table(
        "request_journal",
        m,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("at_ms", BigInteger, nullable=False),
        Column("client", Text, nullable=False),
        Column("path", Text, nullable=False),
        Column("status", Integer, nullable=False),
        Column("json", LargeBinary, nullable=False),
        Index("ix_request_journal_client", "client", "id"),
    ).create(conn)


def _request_journal_arrival(conn: Connection) -> None:
    """Version 7: the journal's listing order (latest arrival first) as an index, so that a page of a large
    ``--journal-size`` is a walk of the index, not a sort of the whole journal."""
    m = MetaData()
    table = Table("request_journal", m, Column("id", BigInteger), Column("at_ms", BigInteger))
    Index("ix_request_journal_arrival", table.c.at_ms, table.c.id).create(conn)


MIGRATIONS: list[Migration] = [
    Migration(1, "base tables", _base_tables),
    Migration(2, "rate limit counters", _rate_limit_counters),
    Migration(3, "sla states", _sla_states),
    Migration(4, "write-only ticket properties served empty", _empty_write_only_properties),
    Migration(5, "change log", _changes),
    Migration(6, "request journal", _request_journal),
    Migration(7, "request journal arrival index", _request_journal_arrival),
]


def applied_versions(conn: Connection) -> set[int]:
    if not inspect(conn).has_table("schema_migrations"):
        return set()
    return {row[0] for row in conn.execute(select(schema.schema_migrations.c.version))}


def migrate(conn: Connection) -> list[int]:
    """Apply every migration not yet recorded; returns the versions applied now.

    Safe from several processes at once: on SQLite the write transaction holds the write lock from its start;
    on PostgreSQL a transaction-scoped advisory lock makes the others wait, then find the versions recorded.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    done = applied_versions(conn)
    applied: list[int] = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        migration.apply(conn)
        conn.execute(
            insert(schema.schema_migrations).values(
                version=migration.version, name=migration.name, applied_at=int(time.time())
            )
        )
        applied.append(migration.version)
    return applied
