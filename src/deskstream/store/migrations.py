"""Schema versions as a short registered list, applied in order and recorded in ``schema_migrations``.

One mechanism for SQLite and PostgreSQL: each migration is a function of a connection inside the migration's
transaction. Add a migration by appending to :data:`MIGRATIONS`; never edit one that has shipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from sqlalchemy import Connection, insert, inspect, select, tuple_, update

from deskstream.store import schema


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _base_tables(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=list(schema.BASE_TABLES))


def _rate_limit_counters(conn: Connection) -> None:
    schema.rate_limit_counters.create(conn)


def _sla_states(conn: Connection) -> None:
    schema.sla_states.create(conn)


#: Zendesk's write-only ticket properties as served: the seed's empty placeholders (domain/tickets.py's blank
#: ticket). Databases written before migration 4 held the requester's and collaborators' records there.
_WRITE_ONLY_PLACEHOLDERS = {"requester": {}, "collaborators": [], "assignee_email": None}


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


MIGRATIONS: list[Migration] = [
    Migration(1, "base tables", _base_tables),
    Migration(2, "rate limit counters", _rate_limit_counters),
    Migration(3, "sla states", _sla_states),
    Migration(4, "write-only ticket properties served empty", _empty_write_only_properties),
]


def applied_versions(conn: Connection) -> set[int]:
    if not inspect(conn).has_table("schema_migrations"):
        return set()
    return {row[0] for row in conn.execute(select(schema.schema_migrations.c.version))}


def migrate(conn: Connection) -> list[int]:
    """Apply every migration not yet recorded; returns the versions applied now."""
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


def current_version() -> int:
    return MIGRATIONS[-1].version
