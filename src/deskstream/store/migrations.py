"""Schema versions as a short registered list, applied in order and recorded in ``schema_migrations``.

One mechanism for SQLite and PostgreSQL: each migration is a function of a connection inside the migration's
transaction. Add a migration by appending to :data:`MIGRATIONS`; never edit one that has shipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, insert, inspect, select

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


MIGRATIONS: list[Migration] = [
    Migration(1, "base tables", _base_tables),
    Migration(2, "rate limit counters", _rate_limit_counters),
    Migration(3, "sla states", _sla_states),
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
