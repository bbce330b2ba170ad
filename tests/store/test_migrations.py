"""Schema migrations on real databases: a SQLite file and, when one answers, PostgreSQL.

The migrations alone build exactly today's ``schema.metadata``; they keep building it when ``schema.py`` is edited
(each carries its own DDL); several processes may migrate one database at once; an older database is brought up
to date.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Dialect, MetaData, UniqueConstraint, insert, inspect, select
from tests.helpers import pg_database

from deskstream.store import Store, schema
from deskstream.store.migrations import MIGRATIONS, migrate

ALL_VERSIONS = [m.version for m in MIGRATIONS]


def _type(column_type: Any, dialect: Dialect) -> str:
    """A column type as the dialect's DDL names it (``BIGINT``, ``VARCHAR(64)``, ``BYTEA``...)."""
    return str(column_type.compile(dialect=dialect))


def expected_shape(dialect: Dialect) -> dict[str, dict[str, Any]]:
    """Every table of ``schema.metadata`` as :func:`built_shape` describes a database's."""
    shape = {}
    for table in schema.metadata.tables.values():
        shape[table.name] = {
            "columns": {c.name: (_type(c.type, dialect), c.nullable) for c in table.columns},
            "primary key": [c.name for c in table.primary_key.columns],
            "indexes": {i.name: ([c.name for c in i.columns], bool(i.unique)) for i in table.indexes},
            "unique": sorted([c.name for c in u.columns] for u in table.constraints if isinstance(u, UniqueConstraint)),
            "foreign keys": sorted(
                ([e.parent.name for e in fk.elements], fk.referred_table.name, [e.column.name for e in fk.elements])
                for fk in table.foreign_key_constraints
            ),
        }
    return shape


def built_shape(conn: Connection) -> dict[str, dict[str, Any]]:
    """The database's tables as ``inspect()`` reflects them: columns (type, nullable), keys, indexes."""
    inspector = inspect(conn)
    shape = {}
    for name in inspector.get_table_names():
        shape[name] = {
            "columns": {
                c["name"]: (_type(c["type"], conn.dialect), c["nullable"]) for c in inspector.get_columns(name)
            },
            "primary key": inspector.get_pk_constraint(name)["constrained_columns"],
            "indexes": {
                i["name"]: (list(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(name)
                if "duplicates_constraint" not in i  # PostgreSQL's index behind a unique constraint
            },
            "unique": sorted(list(u["column_names"]) for u in inspector.get_unique_constraints(name)),
            "foreign keys": sorted(
                (fk["constrained_columns"], fk["referred_table"], fk["referred_columns"])
                for fk in inspector.get_foreign_keys(name)
            ),
        }
    return shape


def assert_equals_the_schema(store: Store) -> None:
    with store.read() as conn:
        built, expected = built_shape(conn), expected_shape(conn.dialect)
    assert sorted(built) == sorted(expected)
    for table in expected:
        assert built[table] == expected[table], table


def recorded_versions(store: Store) -> list[int]:
    with store.read() as conn:
        return sorted(row[0] for row in conn.execute(select(schema.schema_migrations.c.version)))


def migrate_at_once(stores: list[Store]) -> list[list[int] | BaseException]:
    """Every store migrates at the same moment, each from its own thread and connection."""
    barrier = threading.Barrier(len(stores))
    results: list[list[int] | BaseException] = [[] for _ in stores]

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = stores[i].migrate()
        except BaseException as error:  # noqa: BLE001  (reported by the assertion)
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def assert_one_applied_every_version_and_the_others_none(results: list[list[int] | BaseException]) -> None:
    assert [r for r in results if isinstance(r, BaseException)] == []
    applied = sorted((r for r in results if isinstance(r, list)), key=len)
    assert applied == [[]] * (len(results) - 1) + [ALL_VERSIONS]


def test_a_sqlite_database_built_by_the_migrations_alone_equals_the_current_schema(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'migrated.db'}")
    try:
        assert store.migrate() == ALL_VERSIONS
        assert_equals_the_schema(store)
    finally:
        store.dispose()


def test_a_postgresql_database_built_by_the_migrations_alone_equals_the_current_schema() -> None:
    with pg_database("migrations_shape") as store:
        assert_equals_the_schema(store)


_EDIT_THE_LIVE_SCHEMA = """
import sys
from sqlalchemy import Column, Integer, Table, inspect
from deskstream.store import Store, schema
for table in list(schema.metadata.tables.values()):
    table.append_column(Column("edited_later", Integer, nullable=True))
Table("added_later", schema.metadata, Column("id", Integer, primary_key=True))
store = Store("sqlite:///" + sys.argv[1])
store.migrate()
with store.read() as conn:
    inspector = inspect(conn)
    for name in inspector.get_table_names():
        print(name, *[c["name"] for c in inspector.get_columns(name)])
store.dispose()
"""


def test_editing_the_live_schema_does_not_change_what_the_shipped_migrations_build(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _EDIT_THE_LIVE_SCHEMA, str(tmp_path / "edited.db")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    tables = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()}
    assert sorted(tables) == sorted(schema.metadata.tables)
    for name, columns in tables.items():
        assert columns == [c.name for c in schema.metadata.tables[name].columns], name


def test_several_processes_migrating_one_empty_sqlite_database_at_once_apply_each_version_exactly_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    # The file exists (in WAL mode) before the race: several connections *creating* one file at once can fail in
    # the store's connect hook (PRAGMA journal_mode=WAL answers "database is locked"), which is not the migrations'.
    with Store(url).read():
        pass
    stores = [Store(url) for _ in range(4)]
    try:
        results = migrate_at_once(stores)
        assert_one_applied_every_version_and_the_others_none(results)
        assert recorded_versions(stores[0]) == ALL_VERSIONS
        assert_equals_the_schema(stores[0])
    finally:
        for store in stores:
            store.dispose()


def test_several_processes_migrating_one_new_postgresql_database_at_once_apply_each_version_exactly_once() -> None:
    with pg_database("migrations_race") as migrated:
        with migrated.write() as conn:  # back to a new, empty database
            tables = MetaData()
            tables.reflect(conn)
            tables.drop_all(conn)
        stores = [Store(migrated.url) for _ in range(4)]
        try:
            results = migrate_at_once(stores)
            assert_one_applied_every_version_and_the_others_none(results)
            assert recorded_versions(migrated) == ALL_VERSIONS
            assert_equals_the_schema(migrated)
        finally:
            for store in stores:
                store.dispose()


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
        assert migrate(conn) == list(range(4, MIGRATIONS[-1].version + 1))
    with store.read() as conn:
        stored = [orjson.loads(r[0]) for r in conn.execute(select(schema.tickets.c.json))]
        stored += [orjson.loads(r[0]) for r in conn.execute(select(schema.ticket_versions.c.json))]
    store.dispose()
    assert len(stored) == 3
    for item in stored:
        assert (item["requester"], item["collaborators"], item["assignee_email"]) == ({}, [], None)
        assert (item["requester_id"], item["collaborator_ids"], item["subject"]) == (3, [4], "kept")


def test_migration_5_numbers_the_history_an_older_database_holds_in_time_order(tmp_path: Path) -> None:
    """A database from before the change log gets one: every ticket version, event, metric event and the current
    users and organizations, numbered from 1 in time order, and the next change is numbered after them."""
    from deskstream.generate.workload import generate

    store = Store(f"sqlite:///{tmp_path / 'old.db'}")
    store.migrate()
    generate(store, seed=5, end=1_700_000_000, tickets=40, days=3)
    c = schema.changes
    with store.write() as conn:
        logged = sorted(conn.execute(select(c.c.resource, c.c.record_id, c.c.version)).all())
        conn.execute(c.delete())
        conn.execute(schema.id_sequences.delete().where(schema.id_sequences.c.name == "changes"))
        conn.execute(schema.schema_migrations.delete().where(schema.schema_migrations.c.version == 5))
        conn.exec_driver_sql("DROP TABLE changes")
    with store.write() as conn:
        assert migrate(conn) == [5]
    with store.read() as conn:
        rows = conn.execute(select(c.c.seq, c.c.time, c.c.resource, c.c.record_id, c.c.version).order_by(c.c.seq)).all()
    # A record changed twice in place (a user, an organization, an undone breach) is logged twice, backfilled once;
    # a ticket's versions and its events are each backfilled as logged.
    assert {tuple(r[2:]) for r in rows} == set(logged)
    append_only = ("tickets", "ticket_events")
    assert sorted(tuple(r[2:]) for r in rows if r[2] in append_only) == [r for r in logged if r[0] in append_only]
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert [r.time for r in rows] == sorted(r.time for r in rows)
    with store.writing() as w:
        w.kv_set("probe", "x")  # any write: the sequence goes on after the history
        assert w.allocate("changes") == len(rows) + 1
    store.dispose()
