"""Group commit on SQLite (store/group_commit.py): one process's concurrent write transactions share one commit,
each keeps its own outcome, and none is acknowledged before the commit that holds it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, event

from deskstream.store import Store
from deskstream.store.errors import StoreError

WAIT = 10.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'group.db'}")
    store.migrate()
    yield store
    store.dispose()


def _commits(store: Store) -> list[int]:
    """Every commit of a write transaction on the store's engine, as it happens (reads commit too)."""
    seen: list[int] = []

    def count(conn: Connection) -> None:
        if conn.get_execution_options().get("deskstream_write"):
            seen.append(1)

    event.listen(store.engine, "commit", count)
    return seen


def _value(store: Store, key: str) -> str | None:
    return store.kv_get(key)


class _Held:
    """A write whose block waits until released: the batch it opens stays open while others join it."""

    def __init__(self, store: Store, key: str, fail: bool = False) -> None:
        self.inside, self.release, self.done = threading.Event(), threading.Event(), threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(store, key, fail))
        self.thread.start()
        assert self.inside.wait(WAIT)

    def _run(self, store: Store, key: str, fail: bool) -> None:
        try:
            with store.writing() as w:
                w.kv_set(key, "held")
                self.inside.set()
                self.release.wait(WAIT)
                if fail:
                    raise ValueError(key)
        except (StoreError, ValueError) as error:
            self.error = error
        self.done.set()


def _writers(store: Store, keys: list[str], fail: set[str] = frozenset()) -> tuple[list[threading.Thread], list[str]]:
    errors: list[str] = []

    def write(key: str) -> None:
        try:
            with store.writing() as w:
                w.kv_set(key, "written")
                if key in fail:
                    raise ValueError(key)
        except (ValueError, StoreError) as error:
            errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=write, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    return threads, errors


def _joined(store: Store, count: int) -> None:
    """Wait until ``count`` writers besides the holder have joined the open batch."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        batch = store._group._open if store._group else None  # noqa: SLF001  (the test watches the batch fill)
        if batch is not None and batch.joined == count + 1:
            return
        time.sleep(0.005)
    raise AssertionError("the writers did not join the open batch")


def test_writers_that_arrive_while_a_batch_is_open_share_its_one_commit(store: Store) -> None:
    commits = _commits(store)
    held = _Held(store, "k0")
    threads, errors = _writers(store, [f"k{i}" for i in range(1, 6)])
    _joined(store, 5)
    held.release.set()
    for thread in threads:
        thread.join(WAIT)
    assert held.done.wait(WAIT) and not errors
    assert len(commits) == 1
    assert [_value(store, f"k{i}") for i in range(6)] == ["held"] + ["written"] * 5


def test_a_block_that_fails_takes_back_only_its_own_writes(store: Store) -> None:
    held = _Held(store, "k0")
    threads, errors = _writers(store, ["k1", "k2", "k3"], fail={"k2"})
    _joined(store, 3)
    held.release.set()
    for thread in threads:
        thread.join(WAIT)
    assert errors == ["ValueError: k2"]
    assert [_value(store, k) for k in ("k0", "k1", "k2", "k3")] == ["held", "written", None, "written"]


def test_when_the_block_that_began_a_batch_fails_the_next_one_begins_it_again(store: Store) -> None:
    commits = _commits(store)
    held = _Held(store, "k0", fail=True)
    threads, errors = _writers(store, ["k1", "k2"])
    _joined(store, 2)
    held.release.set()
    for thread in threads:
        thread.join(WAIT)
    assert held.done.wait(WAIT) and str(held.error) == "k0" and not errors
    assert len(commits) == 1
    assert [_value(store, k) for k in ("k0", "k1", "k2")] == [None, "written", "written"]


def test_no_writer_returns_before_the_commit_that_holds_its_write(store: Store) -> None:
    held = _Held(store, "k0")
    threads, _ = _writers(store, ["k1"])
    _joined(store, 1)
    time.sleep(0.2)  # k1 may have nothing left to do but wait: it must still be waiting, and k1 not yet visible
    assert threads[0].is_alive()
    assert _value(store, "k1") is None
    held.release.set()
    threads[0].join(WAIT)
    assert not threads[0].is_alive() and _value(store, "k1") == "written"


def test_a_lone_writer_commits_at_once(store: Store) -> None:
    commits = _commits(store)
    for i in range(3):
        with store.writing() as w:
            w.kv_set(f"alone{i}", "x")
        assert len(commits) == i + 1 and _value(store, f"alone{i}") == "x"


def test_a_write_inside_a_write_of_the_same_thread_is_refused_not_a_hang(store: Store) -> None:
    with pytest.raises(RuntimeError, match="inside another"), store.writing() as w:
        w.kv_set("outer", "x")
        with store.writing() as inner:
            inner.kv_set("inner", "y")
    assert _value(store, "outer") is None and _value(store, "inner") is None


def test_a_batch_that_cannot_commit_fails_every_writer_in_it(store: Store) -> None:
    held = _Held(store, "k0")
    threads, errors = _writers(store, ["k1", "k2"])
    _joined(store, 2)

    def refuse(_conn: object) -> None:
        raise StoreError("disk full")

    event.listen(store.engine, "commit", refuse)
    try:
        held.release.set()
        for thread in threads:
            thread.join(WAIT)
        assert held.done.wait(WAIT)
    finally:
        event.remove(store.engine, "commit", refuse)
    assert str(held.error) == "disk full" and errors == ["StoreError: disk full"] * 2
    assert [_value(store, k) for k in ("k0", "k1", "k2")] == [None, None, None]
