"""Schema migrations on a real SQLite file: a database written by an older deskstream is brought up to date."""

from __future__ import annotations

from pathlib import Path

import orjson
from sqlalchemy import insert, select

from deskstream.store import Store, schema
from deskstream.store.migrations import MIGRATIONS, current_version, migrate


def test_migration_4_empties_the_write_only_properties_an_older_database_filled(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    old = {"id": 7, "requester": {"id": 3, "name": "R", "email": "r@example.com"}, "assignee_email": "a@example.com",
           "collaborators": [{"id": 4, "name": "C", "email": "c@example.com"}], "collaborator_ids": [4],
           "requester_id": 3, "subject": "kept"}  # fmt: skip
    with store.write() as conn:
        for migration in MIGRATIONS[:3]:
            migration.apply(conn)
            conn.execute(insert(schema.schema_migrations).values(version=migration.version, name="", applied_at=0))
        ticket = dict(id=7, status="open", created_at=1, updated_at=1, generated_timestamp=1, version=2)
        conn.execute(insert(schema.tickets).values(**ticket, requester_id=3, json=orjson.dumps(old)))
        for version in (1, 2):
            conn.execute(
                insert(schema.ticket_versions).values(
                    ticket_id=7, version=version, generated_timestamp=1, audit_id=None, json=orjson.dumps(old)
                )
            )
    with store.write() as conn:
        assert migrate(conn) == list(range(4, current_version() + 1))
    with store.read() as conn:
        stored = [orjson.loads(r[0]) for r in conn.execute(select(schema.tickets.c.json))]
        stored += [orjson.loads(r[0]) for r in conn.execute(select(schema.ticket_versions.c.json))]
    store.dispose()
    assert len(stored) == 3
    for item in stored:
        assert (item["requester"], item["collaborators"], item["assignee_email"]) == ({}, [], None)
        assert (item["requester_id"], item["collaborator_ids"], item["subject"]) == (3, [4], "kept")
