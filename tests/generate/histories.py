"""A small generated history on a real SQLite file, shared by the generator's tests, and how to read it back.

(Not a conftest.py: test modules elsewhere import ``conftest`` by name, and a second one here would shadow it.)
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select, text

from deskstream.generate import Summary, generate
from deskstream.store import Store, schema
from tests.helpers import pg_database

#: A fixed simulated end of history: the same seed then gives the same bytes.
END = 1_717_200_000  # 2024-06-01T00:00:00Z
SMALL = {"tickets": 400, "days": 21}


def generated(path: Path, seed: int = 5, **sizes: int) -> tuple[Store, Summary]:
    store = Store(f"sqlite:///{path}")
    store.migrate()
    return store, generate(store, seed=seed, end=END, **{**SMALL, **sizes})


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Summary]]:
    store, summary = generated(tmp_path_factory.mktemp("generate") / "history.db")
    yield store, summary
    store.dispose()


@pytest.fixture
def pg_store() -> Iterator[Store]:
    with pg_database("generate") as store:
        yield store


def exported(store: Store) -> bytes:
    """Every exported stream's stored bytes in export order: what a full sync of the database would receive."""
    streams = (
        (schema.tickets, (schema.tickets.c.generated_timestamp, schema.tickets.c.id), ("json",)),
        (schema.ticket_events, (schema.ticket_events.c.timestamp, schema.ticket_events.c.id), ("json", "json_comments")),
        (schema.ticket_metric_events, (schema.ticket_metric_events.c.time, schema.ticket_metric_events.c.id), ("json",)),
        (schema.users, (schema.users.c.updated_at, schema.users.c.id), ("json",)),
        (schema.organizations, (schema.organizations.c.updated_at, schema.organizations.c.id), ("json",)),
    )
    out = bytearray()
    with store.read() as conn:
        for table, order, columns in streams:
            for row in conn.execute(select(*(table.c[c] for c in columns)).order_by(*order)):
                for value in row:
                    out += bytes(value or b"null") + b"\n"
    return bytes(out)


def only_whole_changes(store: Store) -> bool:
    """Every audit is a version of its ticket and every version with an audit has it: no change half-written."""
    half = ("SELECT count(*) FROM ticket_versions v LEFT JOIN ticket_events e ON e.id = v.audit_id "
            "WHERE v.audit_id IS NOT NULL AND e.id IS NULL",
            "SELECT count(*) FROM ticket_events e LEFT JOIN ticket_versions v ON v.audit_id = e.id "
            "WHERE v.audit_id IS NULL")  # fmt: skip
    return all(rows(store, sql)[0][0] == 0 for sql in half)


def writers_of(pid: int) -> list[int]:
    """The processes writing a generator's batches (``deskstream.store.batch_process``) for process ``pid``."""
    listing = subprocess.run(["ps", "-ww", "-eo", "pid=,args="], capture_output=True, text=True, check=True).stdout
    return [int(line.split()[0]) for line in listing.splitlines() if f"writer-of={pid}" in line.split()]


def rows(store: Store, sql: str) -> list[Any]:
    with store.read() as conn:
        return list(conn.execute(text(sql)))


def items(store: Store, sql: str) -> list[dict[str, Any]]:
    """The stored JSON of a query's first column, decoded."""
    return [orjson.loads(r[0]) for r in rows(store, sql)]
