"""The request journal's table and its flusher on real databases: a SQLite file and, when one answers, PostgreSQL.

The ring keeps exactly the newest entries however the batches arrive (one writer or several at once); reads filter
and page on the stored columns; :class:`Journal` writes what it buffered, in order, and drops a batch the database
refuses without raising.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import orjson
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text
from tests.helpers import migrated_store

from deskstream.service import journal as journal_module
from deskstream.service.journal import Journal, Record
from deskstream.store import Store, schema
from deskstream.store.journal import JournalFilter, JournalRow, JournalTable


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One database of each kind for the module (creating a PostgreSQL database takes a second)."""
    with migrated_store(request.param, tmp_path_factory.mktemp("journal"), "journal_store") as store:
        yield store


@pytest.fixture
def store(database: Store) -> Store:
    """The module's database with an empty journal."""
    with database.write(stamped=False) as conn:
        conn.execute(schema.request_journal.delete())
    return database


def row(n: int, client: str = "c", path: str = "/api/v2/tickets", status: int = 200) -> JournalRow:
    return JournalRow(1_700_000_000_000 + n * 1000, client, path, status, orjson.dumps({"n": n}))


def stored(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(schema.request_journal)).scalar_one())


def numbers(rows: list[tuple[int, bytes]]) -> list[int]:
    return [orjson.loads(data)["n"] for _, data in rows]


def test_the_ring_keeps_the_newest_entries_and_reads_them_newest_first(store: Store) -> None:
    table = JournalTable(store)
    for start in range(0, 20, 4):
        table.append([row(n) for n in range(start, start + 4)], keep=5)
    assert stored(store) == 5
    assert numbers(table.read(JournalFilter(), None)) == [19, 18, 17, 16, 15]


def test_reads_filter_by_client_path_prefix_status_and_time_and_page_by_arrival(store: Store) -> None:
    table = JournalTable(store)
    table.append([row(0, "a", "/api/v2/incremental/tickets"), row(1, "b", "/api/v2/tickets", 404),
                  row(2, "a", "/api/v2/incremental_x"), row(3, "a", "/api/v2/incremental/users", 429)], keep=100)
    assert numbers(table.read(JournalFilter(client="a"), None)) == [3, 2, 0]
    assert numbers(table.read(JournalFilter(path_prefix="/api/v2/incremental/"), None)) == [3, 0]
    assert numbers(table.read(JournalFilter(path_prefix="/api/v2/incremental_"), None)) == [2]  # _ is no wildcard
    assert numbers(table.read(JournalFilter(status=404), None)) == [1]
    since, until = row(1).at_ms, row(2).at_ms
    assert numbers(table.read(JournalFilter(since_ms=since, until_ms=until), None)) == [2, 1]
    newest = table.read(JournalFilter(), 2)
    assert numbers(newest) == [3, 2]
    assert numbers(table.read(JournalFilter(before=newest[-1][0]), None)) == [1, 0]


def test_an_entry_written_late_reads_in_its_place_by_arrival_and_pages_follow_that_order(store: Store) -> None:
    table = JournalTable(store)
    table.append([row(1), row(3)], keep=10)
    table.append([row(2), row(0)], keep=10)  # another process's flush, a little later
    assert numbers(table.read(JournalFilter(), None)) == [3, 2, 1, 0]
    first = table.read(JournalFilter(), 2)
    assert numbers(table.read(JournalFilter(before=first[-1][0]), None)) == [1, 0]


def test_writers_appending_at_once_never_leave_more_than_the_ring(store: Store) -> None:
    table = JournalTable(store)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for batch in range(5):
                table.append([row(worker * 100 + batch * 10 + n) for n in range(10)], keep=25)
        except BaseException as error:  # reported by the test's thread, not lost in this one
            errors.append(error)

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert stored(store) == 25
    ids = [entry_id for entry_id, _ in table.read(JournalFilter(), None)]
    with store.read() as conn:
        newest = conn.execute(select(func.max(schema.request_journal.c.id))).scalar_one()
    assert sorted(ids) == list(range(newest - 24, newest + 1))


def record(n: int) -> Record:
    return Record(at=time.time(), user_agent="store-test", user_id=None, method="GET", path=f"/p/{n}", query="",
                  status=200, duration_ms=1.0)


def test_the_journal_writes_what_it_buffered_in_order_when_read(store: Store) -> None:
    journal = Journal(store, size=3)
    before = dropped()
    try:
        for n in range(5):
            journal.record(record(n))
        assert [entry["path"] for entry in journal.entries()] == ["/p/4", "/p/3", "/p/2"]
        assert dropped() <= before + 2  # the buffer keeps at most the ring's size
    finally:
        journal.close()


def test_a_large_ring_does_not_make_a_large_buffer(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records wait in memory only until the next flush; a ring of millions does not let millions wait there."""
    monkeypatch.setattr(journal_module, "MAX_BUFFER", 3)
    journal = Journal(store, size=1_000_000)
    try:
        for n in range(5):  # well within the first flush interval
            journal.record(record(n))
        assert [entry["path"] for entry in journal.entries()] == ["/p/4", "/p/3", "/p/2"]
    finally:
        journal.close()


def page(at: float, start_time: int, end_time: int) -> Record:
    """A time-based tickets page that asked from ``start_time`` and gave ``end_time`` to go on from."""
    return Record(at=at, user_agent="loop-test", user_id=1, method="GET", path="/api/v2/incremental/tickets.json",
                  query=f"start_time={start_time}", status=200, duration_ms=1.0, items=1000,
                  next_position={"end_time": end_time}, end_of_stream=False)  # fmt: skip


def test_anomalies_read_between_requests_are_those_a_scan_of_the_whole_ring_finds(store: Store) -> None:
    """The scan goes on from the journal's last read; a request written late (it arrived before one already
    scanned) makes it start again, so reading along finds what one scan from scratch finds."""
    journal = Journal(store, size=100)
    try:
        at = time.time() - 100
        for n, (start_time, end_time) in enumerate([(1, 2), (2, 3), (2, 3), (3, 3), (3, 3), (1, 2)]):
            journal.record(page(at + n, start_time, end_time))
            journal.anomalies()
        journal.record(page(at + 4.5, 2, 3))  # arrived before the last page read
        read_along = [(a["kind"], a["request_id"]) for a in journal.anomalies()]
        from_scratch = Journal(store, size=100)
        assert read_along == [(a["kind"], a["request_id"]) for a in from_scratch.anomalies()]
        kinds = [kind for kind, _ in read_along]
        assert kinds.count("repeated_page") == 3 and "position_stalled" in kinds and "stopped_early" in kinds
    finally:
        journal.close()


def test_a_journal_of_size_zero_records_nothing(store: Store) -> None:
    journal = Journal(store, size=0)
    journal.record(record(0))
    journal.close()
    assert stored(store) == 0


def dropped() -> float:
    return REGISTRY.get_sample_value("deskstream_journal_dropped_total") or 0.0


def test_a_batch_the_database_refuses_is_dropped_and_counted_without_raising(store: Store) -> None:
    journal = Journal(store, size=10)
    before = dropped()
    try:
        with store.write(stamped=False) as conn:
            conn.execute(text("ALTER TABLE request_journal RENAME TO request_journal_away"))
        try:
            journal.record(record(0))
            journal.flush()  # the insert fails: dropped, not raised
        finally:
            with store.write(stamped=False) as conn:
                conn.execute(text("ALTER TABLE request_journal_away RENAME TO request_journal"))
        assert dropped() == before + 1
        journal.record(record(1))
        assert [entry["path"] for entry in journal.entries()] == ["/p/1"]
    finally:
        journal.close()
