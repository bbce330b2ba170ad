"""A generator's batches written by a second process: failures come back as the store's errors, and a generator
killed with SIGKILL leaves whole changes and no writing process behind."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deskstream.store import Store
from deskstream.store.batch import BatchWriter
from deskstream.store.batch_process import Batch, BatchProcess
from deskstream.store.errors import StoreError
from tests.generate.histories import only_whole_changes, rows, writers_of


def test_a_batch_the_database_refuses_is_raised_in_the_generator_as_a_store_error_and_stays_the_error(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'refused.db'}")
    store.migrate()
    process = BatchProcess(store.url, store.synchronous)
    try:
        process.send(Batch([("sql", "INSERT INTO no_such_table (id) VALUES (?)", [(1,)])]))
        with pytest.raises(StoreError, match="no_such_table"):
            process.drain()
        with pytest.raises(StoreError, match="no_such_table"):  # not "the process ended": it did, after saying why
            process.send(Batch())
    finally:
        process.close()
    assert writers_of(os.getpid()) == []


def test_ids_only_grow_when_a_request_is_larger_than_the_block_reserved_ahead(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'ids.db'}")
    store.migrate()
    with BatchWriter(store, writer_process=True) as writer:
        first = writer.allocate("tickets", 3000)  # most of a block used: the next flush reserves the next block
        writer.flush()
        large = writer.allocate("tickets", 20_000)
        after = writer.allocate("tickets", 1)
    assert first < large and large + 20_000 <= after


@pytest.mark.parametrize("writer_process", [False, True], ids=["written-here", "written-by-a-second-process"])
def test_a_batch_writer_closed_twice_or_after_an_abort_does_nothing_more(tmp_path: Path, writer_process: bool) -> None:
    store = Store(f"sqlite:///{tmp_path / 'closed.db'}")
    store.migrate()
    for end in ("close", "abort"):
        writer = BatchWriter(store, writer_process=writer_process)
        writer.allocate("tickets")
        getattr(writer, end)()
        writer.close()
        writer.close()
    assert writers_of(os.getpid()) == []


def test_the_ids_a_batch_reserves_come_back_once_it_is_written(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'reserved.db'}")
    store.migrate()
    process = BatchProcess(store.url, store.synchronous)
    try:
        process.send(Batch(reserve=[("tickets", 100)]))
        process.send(Batch(reserve=[("tickets", 100)]))
        process.drain()
        assert process.reserved["tickets"] == [1, 101] and not process.reserving
    finally:
        process.close()
    assert rows(store, "SELECT value FROM id_sequences WHERE name = 'tickets'") == [(200,)]


def test_a_generator_killed_mid_run_leaves_whole_changes_and_its_writing_process_ends(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKSTREAM_")}
    generator = subprocess.Popen(
        [sys.executable, "-m", "deskstream", "generate", "--db", f"sqlite:///{db}", "--tickets", "3000", "--days", "30"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    store = Store(f"sqlite:///{db}")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (writers_of(generator.pid) and _tickets(db) > 200):
            assert generator.poll() is None, "the generation ended before it was killed"
            time.sleep(0.05)
        assert writers_of(generator.pid), "the generation of 3,000 tickets wrote through a second process"
    finally:
        generator.send_signal(signal.SIGKILL)
        generator.wait()
    deadline = time.monotonic() + 30
    while writers_of(generator.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writers_of(generator.pid) == []
    assert 200 < rows(store, "SELECT count(*) FROM tickets")[0][0] < 3000
    assert only_whole_changes(store)
    assert rows(store, "PRAGMA integrity_check") == [("ok",)]
    store.dispose()


def _tickets(db: Path) -> int:
    """How many tickets the generation has committed so far (read as a bystander would, without waiting)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as conn:
            return int(conn.execute("SELECT count(*) FROM tickets").fetchone()[0])
    except sqlite3.Error:  # not there, not migrated yet, or locked this instant
        return 0
