"""The generator: reproducible for a seed, and its history obeys the domain's invariants."""

from __future__ import annotations

import os
import sqlite3
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import start_server
from tests.generate.histories import (  # noqa: F401 (history, pg_store: fixtures)
    END,
    SMALL,
    exported,
    generated,
    history,
    items,
    only_whole_changes,
    pg_store,
    rows,
    writers_of,
)
from tests.helpers import migrated_store

from deskstream.clock import FixedClock
from deskstream.generate import Summary, generate
from deskstream.service import Desk
from deskstream.store import Store
from deskstream.store.writer import BATCH_WRITER_KEY, BATCH_WRITER_STALE, SIMULATED_CLOCK_KEY

History = tuple[Store, Summary]


def test_the_same_seed_and_end_give_the_same_exported_bytes(tmp_path: Path, history: History) -> None:
    again, _ = generated(tmp_path / "again.db")
    assert exported(again) == exported(history[0])


def test_another_seed_gives_another_history(tmp_path: Path, history: History) -> None:
    other, _ = generated(tmp_path / "other.db", seed=6)
    assert exported(other) != exported(history[0])


def test_postgresql_gets_the_same_history_byte_for_byte(history: History, pg_store: Store) -> None:
    generate(pg_store, seed=5, end=END, **SMALL)
    assert exported(pg_store) == exported(history[0])


def test_postgresql_gets_the_same_history_when_a_second_process_writes_it(history: History, pg_store: Store) -> None:
    generate(pg_store, seed=5, end=END, writer_process=True, **SMALL)
    assert exported(pg_store) == exported(history[0])


def test_it_makes_the_tickets_asked_for_within_the_period(history: History) -> None:
    store, summary = history
    assert summary.counts["tickets"] == 400
    (first, last), = rows(store, "SELECT min(created_at), max(generated_timestamp) FROM tickets")
    assert END - 21 * 86_400 <= first and last < END
    (latest,), = rows(store, "SELECT max(timestamp) FROM ticket_events")
    assert latest < END


def test_every_ticket_version_with_an_audit_has_that_audit_for_the_same_ticket(history: History) -> None:
    orphans = rows(
        history[0],
        "SELECT v.ticket_id, v.version FROM ticket_versions v LEFT JOIN ticket_events e ON e.id = v.audit_id "
        "WHERE v.audit_id IS NOT NULL AND (e.id IS NULL OR e.ticket_id != v.ticket_id)",
    )
    assert orphans == []


def test_every_audit_is_exactly_one_version_of_its_ticket(history: History) -> None:
    counts = rows(
        history[0],
        "SELECT e.id, count(v.version) FROM ticket_events e LEFT JOIN ticket_versions v ON v.audit_id = e.id "
        "GROUP BY e.id HAVING count(v.version) != 1",
    )
    assert counts == []


def test_the_current_ticket_row_is_its_last_version(history: History) -> None:
    stale = rows(
        history[0],
        "SELECT t.id FROM tickets t JOIN ticket_versions v ON v.ticket_id = t.id AND v.version = t.version "
        "WHERE v.json != t.json OR v.version != (SELECT max(version) FROM ticket_versions WHERE ticket_id = t.id)",
    )
    (total,), = rows(history[0], "SELECT count(*) FROM tickets t JOIN ticket_versions v "
                                 "ON v.ticket_id = t.id AND v.version = t.version")
    assert stale == [] and total == 400


def test_ids_increase_with_time_as_zendesk_ids_do(history: History) -> None:
    for table, stamp in (("ticket_events", "timestamp"), ("tickets", "created_at")):
        ids = [r[0] for r in rows(history[0], f"SELECT id FROM {table} ORDER BY {stamp}, id")]
        assert ids == sorted(ids), table


def test_system_updates_move_generated_timestamp_past_updated_at_without_an_audit(history: History) -> None:
    store, summary = history
    (silent,), = rows(store, "SELECT count(*) FROM ticket_versions WHERE audit_id IS NULL")
    assert silent == summary.counts["system_updates"] > 0
    assert rows(store, "SELECT count(*) FROM tickets WHERE generated_timestamp < updated_at")[0][0] == 0
    assert rows(store, "SELECT count(*) FROM tickets WHERE generated_timestamp > updated_at")[0][0] > 0


def test_the_history_has_lifecycles_channels_comments_and_deletes(history: History) -> None:
    store, summary = history
    statuses = Counter(r[0] for r in rows(store, "SELECT status FROM tickets"))
    assert {"closed", "solved", "deleted"} <= set(statuses)
    channels = {t["via"]["channel"] for t in items(store, "SELECT json FROM tickets")}
    assert {"email", "web", "api", "chat"} <= channels
    public = Counter(r[0] for r in rows(store, "SELECT public FROM comments"))
    assert public[1] > 0 and public[0] > 0
    assert summary.deleted == statuses["deleted"] > 0
    changes = [
        child
        for event in items(store, "SELECT json FROM ticket_events")
        for child in event["child_events"]
        if child["event_type"] == "Change"
    ]
    fields = ("status", "priority", "assignee_id", "group_id", "tags", "email_cc_ids")
    assert all(any(field in child for child in changes) for field in fields)
    moves = Counter((c["previous_value"], c["status"]) for c in changes if "status" in c)
    for move in (("new", "open"), ("open", "pending"), ("pending", "open"), ("open", "solved"),
                 ("solved", "open"), ("solved", "closed"), ("new", "deleted")):
        assert moves[move] > 0, move


def test_a_bulk_change_stamps_many_tickets_in_one_second(history: History) -> None:
    store, summary = history
    (busiest,), = rows(store, "SELECT max(n) FROM (SELECT count(*) AS n FROM ticket_events GROUP BY timestamp)")
    assert busiest >= max(summary.storms) == 100


def test_metric_events_form_valid_sequences_per_ticket_and_metric(history: History) -> None:
    store, summary = history
    events = items(store, "SELECT json FROM ticket_metric_events ORDER BY id")
    assert len(events) == summary.counts["metric_events"] > 0
    tickets = {r[0] for r in rows(store, "SELECT id FROM tickets")}
    series: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        assert event["ticket_id"] in tickets
        assert set(event) >= {"id", "instance_id", "metric", "ticket_id", "time", "type"}
        series[(event["ticket_id"], event["metric"])].append(event)
    kinds = Counter(e["type"] for e in events)
    assert kinds["apply_sla"] > 0 and kinds["breach"] > 0 and kinds["fulfill"] > 0
    for (ticket, metric), found in series.items():
        assert found[0]["type"] == "measure" and found[0]["instance_id"] == 0, (ticket, metric)
        instances = [e["instance_id"] for e in found]
        assert instances == sorted(instances), (ticket, metric)
        for number in set(instances) - {0}:
            these = [e for e in found if e["instance_id"] == number]
            assert these[0]["type"] == "activate", (ticket, metric, number)
            applied = [e for e in these if e["type"] == "apply_sla"]
            breaches = [e for e in these if e["type"] == "breach"]
            assert len([b for b in breaches if not b["deleted"]]) <= 1
            for event in these:
                assert ("sla" in event) == (event["type"] == "apply_sla")
                assert ("status" in event) == (event["type"] == "update_status")
            for breach in breaches:
                assert applied and breach["time"] >= applied[0]["time"]


@pytest.mark.parametrize("writer_process", [False, True], ids=["written-here", "written-by-a-second-process"])
def test_an_interrupted_run_rolls_back_its_open_batch_and_keeps_only_whole_changes(
    tmp_path: Path, writer_process: bool
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'interrupted.db'}")
    store.migrate()
    made = 0

    def progress(n: int) -> None:
        nonlocal made
        made += n
        if made >= 300:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(store, seed=5, end=END, progress=progress, writer_process=writer_process, **SMALL)
    (kept,), = rows(store, "SELECT count(*) FROM tickets")
    assert 0 < kept < 300
    assert only_whole_changes(store)
    assert writers_of(os.getpid()) == []
    assert rows(store, f"SELECT count(*) FROM kv WHERE key = '{BATCH_WRITER_KEY}'") == [(0,)]  # the mark is gone


def test_a_history_written_by_a_second_process_has_the_same_rows_and_ids(tmp_path: Path, history: History) -> None:
    """``writer_process`` (the default from 2,000 tickets on) writes each batch in a second process while the
    generator makes the next: the rows are the ones written in one process; the id sequences only end further on
    (blocks reserved ahead, a gap at the end)."""
    apart, _ = generated(tmp_path / "apart.db", writer_process=True)
    assert_same_rows(apart, history[0], ROW_TABLES)
    sequences = "SELECT name, value FROM id_sequences ORDER BY name"
    here, there = dict(rows(history[0], sequences)), dict(rows(apart, sequences))
    assert here.keys() == there.keys() and all(there[name] >= here[name] for name in here)


def test_the_same_seed_and_end_give_the_same_rows_in_every_table(tmp_path: Path, history: History) -> None:
    """Not only what the exports serve: versions, comments, SLA states, the change log (but for ``logged_at``, the
    wall time of writing) and the id sequences are the same too."""
    again, _ = generated(tmp_path / "again.db")
    assert_same_rows(again, history[0], (*ROW_TABLES, "id_sequences"))


#: Every table a generation writes, but for the id sequences and the change log (compared apart).
ROW_TABLES = ("tickets", "ticket_versions", "ticket_events", "comments", "ticket_metric_events", "users",
              "organizations", "groups", "sla_states", "sla_policies")  # fmt: skip


def assert_same_rows(store: Store, other: Store, tables: tuple[str, ...]) -> None:
    """The same rows in each of ``tables``, and the same change log but for ``logged_at`` (the wall time of
    writing)."""
    for table in tables:
        query = f"SELECT * FROM {table} ORDER BY 1, 2"
        assert rows(store, query) == rows(other, query), table
    changes = "SELECT seq, resource, record_id, version, deleted, time, json FROM changes ORDER BY seq"
    assert rows(store, changes) == rows(other, changes)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_history_generated_into_a_served_database_is_the_one_generated_alone_then_the_servers_sla_pass(
    tmp_path: Path, backend: str
) -> None:
    """A server's SLA scheduler would write breaches into the tickets the generator is still writing (it holds their
    SLA states in memory between batches, which a second writing process, or PostgreSQL, commits one by one): a
    generation marks the database while it writes, the scheduler waits, then does its pass on the finished history."""
    with migrated_store(backend, tmp_path, "served") as served, migrated_store(backend, tmp_path, "alone") as alone:
        server = start_server(tmp_path, "--clock", "sim", seed=None, db_url=served.url)
        try:
            now = int(served.kv_get(SIMULATED_CLOCK_KEY) or 0)  # the server's frozen time
            assert now > END
            generate(served, seed=5, end=END, writer_process=backend == "sqlite", **BUSY)
            assert rows(served, f"SELECT count(*) FROM kv WHERE key = '{BATCH_WRITER_KEY}'") == [(0,)]
            deadline = time.monotonic() + 30
            while _sla_due(served, now) and time.monotonic() < deadline:
                time.sleep(0.1)  # the scheduler's pass on the finished history
            assert not _sla_due(served, now), "the server's scheduler made no pass in 30 s"
        finally:
            server.stop()
        generate(alone, seed=5, end=END, writer_process=backend == "sqlite", **BUSY)
        Desk(alone, FixedClock(now)).sla.tick()
        assert_same_rows(served, alone, ROW_TABLES)


def test_a_batch_writers_mark_keeps_the_sla_scheduler_off_its_tickets_until_it_goes_stale(
    tmp_path: Path, history: History
) -> None:
    """The scheduler leaves the tickets from the lowest a batch writer holds on, and keeps the others' breaches on
    time; a mark left by a generation killed with ``kill -9`` goes stale."""
    copy = Store(f"sqlite:///{tmp_path / 'copy.db'}")
    with sqlite3.connect(history[0].url.removeprefix("sqlite:///")) as source, sqlite3.connect(
        copy.url.removeprefix("sqlite:///")
    ) as target:
        source.backup(target)
    now = int(time.time())
    due = "SELECT ticket_id FROM sla_states WHERE next_deadline < ? ORDER BY ticket_id"
    tickets = [r[0] for r in rows(copy, due.replace("?", str(now)))]
    middle = tickets[len(tickets) // 2]
    sla = Desk(copy, FixedClock(now)).sla
    copy.kv_set(BATCH_WRITER_KEY, f"{now} {tickets[0]}")
    assert sla.tick() == 0
    copy.kv_set(BATCH_WRITER_KEY, f"{now} {middle}")
    assert sla.tick() > 0
    assert [r[0] for r in rows(copy, due.replace("?", str(now)))] == [t for t in tickets if t >= middle]
    copy.kv_set(BATCH_WRITER_KEY, f"{now - BATCH_WRITER_STALE} {middle}")
    assert sla.tick() > 0 and rows(copy, due.replace("?", str(now))) == []


#: A history long enough that a server's scheduler passes (one a second) while it is written.
BUSY = {"tickets": 1_000, "days": 21}


def _sla_due(store: Store, now: int) -> bool:
    with store.reading() as r:
        return r.any_sla_due(now)
