"""The tables, in SQLAlchemy Core, portable between SQLite and PostgreSQL.

Every exported item is stored with its serialized JSON (orjson bytes, column ``json``) at the moment it is written,
and every export stream has an index on its ordering key, so that an export page is one index range scan plus a
concatenation of stored bytes (spec/exports.md § Performance shape).

Stored item JSON never contains the server's host: item ``url`` fields hold the placeholder
:data:`deskstream.base_url.URL_BASE`, which the HTTP layer replaces with the request's scheme and host.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", BigInteger, nullable=False),
)

#: Named id counters: every resource's ids come from here so that a batch writer can allocate ids up front.
id_sequences = Table(
    "id_sequences",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

#: Small shared key/value state (the simulated clock, for one): shared by every server process on the database.
kv = Table(
    "kv",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("email", String(320), nullable=True, unique=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=True),
    Column("organization_id", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger, nullable=True),
    Column("json", LargeBinary, nullable=False),
)
Index("ix_users_export", users.c.updated_at, users.c.id)
Index("ix_users_organization", users.c.organization_id)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", BigInteger, nullable=False),
    # A short, non-secret prefix of the token's SHA-256 so that a bearer token finds its candidates without
    # verifying every hash; the secret itself is only stored as an argon2 hash.
    Column("lookup", String(16), nullable=False),
    Column("token_hash", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)
Index("ix_api_tokens_lookup", api_tokens.c.lookup)

organizations = Table(
    "organizations",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(255), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger, nullable=True),
    Column("json", LargeBinary, nullable=False),
)
Index("ix_organizations_export", organizations.c.updated_at, organizations.c.id)
Index("ix_organizations_name", organizations.c.name)

groups = Table(
    "groups",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(255), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger, nullable=True),
    Column("json", LargeBinary, nullable=False),
)

#: The current version of every ticket; ``json`` is the exported ticket object (with ``generated_timestamp``).
tickets = Table(
    "tickets",
    metadata,
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
)
Index("ix_tickets_export", tickets.c.generated_timestamp, tickets.c.id)
Index("ix_tickets_requester", tickets.c.requester_id)
Index("ix_tickets_assignee", tickets.c.assignee_id)
Index("ix_tickets_organization", tickets.c.organization_id)

#: Every version a ticket has had, append-only; ``audit_id`` is null for system updates (they write no audit).
ticket_versions = Table(
    "ticket_versions",
    metadata,
    Column("ticket_id", BigInteger, primary_key=True, autoincrement=False),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("generated_timestamp", BigInteger, nullable=False),
    Column("audit_id", BigInteger, nullable=True),
    Column("json", LargeBinary, nullable=False),
)

#: Audit events. ``json`` is the incremental ``ticket_events`` item without comment children, ``json_comments``
#: the same item with them (null when the audit has no comment), ``audit_json`` the ``/tickets/{id}/audits`` form.
ticket_events = Table(
    "ticket_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("ticket_id", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("json", LargeBinary, nullable=False),
    Column("json_comments", LargeBinary, nullable=True),
    Column("audit_json", LargeBinary, nullable=False),
)
Index("ix_ticket_events_export", ticket_events.c.timestamp, ticket_events.c.id)
Index("ix_ticket_events_ticket", ticket_events.c.ticket_id, ticket_events.c.id)

comments = Table(
    "comments",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("ticket_id", BigInteger, nullable=False),
    Column("audit_id", BigInteger, nullable=False),
    Column("author_id", BigInteger, nullable=False),
    Column("public", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("json", LargeBinary, nullable=False),
)
Index("ix_comments_ticket", comments.c.ticket_id, comments.c.id)

#: SLA metric events as ``incremental/ticket_metric_events`` serves them.
ticket_metric_events = Table(
    "ticket_metric_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("ticket_id", BigInteger, nullable=False),
    Column("metric", String(32), nullable=False),
    Column("instance_id", Integer, nullable=False),
    Column("type", String(32), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("json", LargeBinary, nullable=False),
)
Index("ix_ticket_metric_events_export", ticket_metric_events.c.time, ticket_metric_events.c.id)
Index("ix_ticket_metric_events_ticket", ticket_metric_events.c.ticket_id, ticket_metric_events.c.id)

sla_policies = Table(
    "sla_policies",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("position", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("deleted_at", BigInteger, nullable=True),
    Column("json", LargeBinary, nullable=False),
)

job_statuses = Table(
    "job_statuses",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
    Column("json", LargeBinary, nullable=False),
)

#: Rate-limit windows shared by every server process on the database (api/ratelimit.py; migration 2).
rate_limit_counters = Table(
    "rate_limit_counters",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("window_start", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
)

#: Each ticket's running SLA metric instances (service/sla.py; migration 3). ``next_deadline`` is the earliest
#: unbreached target among them, so the scheduler finds due breaches with one index range scan.
sla_states = Table(
    "sla_states",
    metadata,
    Column("ticket_id", BigInteger, primary_key=True, autoincrement=False),
    Column("next_deadline", BigInteger, nullable=True),
    Column("json", LargeBinary, nullable=False),
)
Index("ix_sla_states_deadline", sla_states.c.next_deadline)

#: The change log behind ``/api/v2/incremental/changes`` (beyond.md § Change-sequence mode; migration 5): one row
#: per change to an exported record, numbered ``seq`` in commit order (allocated inside the write transaction, which
#: holds the database's write lock, or PostgreSQL's stamp lock, to its commit). Tickets point at their version and
#: events at their row, so a change costs a small row and no second copy of the JSON; users and organizations keep
#: only a current row, so their change carries the record as it was then. ``time`` is the stamp the record's export
#: orders it by (a resync's starting point is found on it); ``logged_at`` is when the change entered the log, on the
#: server's clock, which the retention window (``serve --retention``) is measured on.
changes = Table(
    "changes",
    metadata,
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

#: The request journal behind ``GET /_deskstream/requests`` (service/journal.py; migration 6): a ring of the newest
#: ``--journal-size`` requests of every process on the database. ``id`` is the database's own counter (a rowid on
#: SQLite), so entries written by several processes at once never collide; the filtered columns are columns, the
#: rest of the entry is its JSON.
request_journal = Table(
    "request_journal",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("client", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("json", LargeBinary, nullable=False),
)
Index("ix_request_journal_client", request_journal.c.client, request_journal.c.id)
Index("ix_request_journal_arrival", request_journal.c.at_ms, request_journal.c.id)  # the listing's order
