"""kill -9 of a server while writers run: after a restart every acknowledged write is there, and nothing is
half-written (a version without its audit, an audit without its version, a current row behind its history).

SQLite runs with ``synchronous=normal`` (WAL): a committed transaction survives the process's death; PostgreSQL
commits durably by default. The test runs on both (PostgreSQL skips where no server answers).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import func, select
from tests.conftest import ADMIN, http_client, start_server
from tests.helpers import seeded_database_url

from deskstream.store import Store, schema

WRITERS = 3
SECONDS = 1.0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_after_kill_9_every_acknowledged_write_is_there_and_nothing_is_half_written(
    tmp_path: Path, backend: str
) -> None:
    with seeded_database_url(backend, tmp_path, "crash") as url:
        server = start_server(tmp_path, "--rate-limit", "off", "--workers", "2", db_url=url)
        try:
            acknowledged: dict[int, int] = {}  # ticket id -> the last update number answered 200 (0: its create)
            lock = threading.Lock()

            def write(n: int) -> None:
                client = http_client(server.base_url, auth=ADMIN, timeout=10)
                mine: list[int] = []
                k = 0
                try:
                    while True:
                        k += 1
                        if k % 3 == 1:
                            body = {"ticket": {"subject": "0", "comment": {"body": "b"}}}
                            made = client.post("/api/v2/tickets", json=body)
                            assert made.status_code == 201, made.text
                            mine.append(made.json()["ticket"]["id"])
                            with lock:
                                acknowledged[mine[-1]] = 0
                        else:
                            ticket_id = mine[k % len(mine)]
                            with lock:
                                number = acknowledged[ticket_id] + 1
                            change = {"ticket": {"subject": str(number)}}
                            answer = client.put(f"/api/v2/tickets/{ticket_id}", json=change)
                            assert answer.status_code == 200, answer.text
                            with lock:
                                acknowledged[ticket_id] = number
                except httpx.TransportError:
                    pass  # the server died under us: what was in flight was never acknowledged
                finally:
                    client.close()

            threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
            for thread in threads:
                thread.start()
            time.sleep(SECONDS)  # let them write; the point is to die in the middle of it
            server.process.kill()
            server.process.wait()
            for thread in threads:
                thread.join(timeout=30)
            assert len(acknowledged) >= WRITERS

            restarted = start_server(tmp_path, "--rate-limit", "off", db_url=url)
            try:
                admin = restarted.client(ADMIN)
                for ticket_id, number in acknowledged.items():
                    shown = admin.get(f"/api/v2/tickets/{ticket_id}")
                    assert shown.status_code == 200, (ticket_id, shown.text)
                    # The update in flight when the server died may have committed, never one beyond it.
                    assert int(shown.json()["ticket"]["subject"]) in (number, number + 1)
            finally:
                restarted.stop()
            _assert_whole(Store(url))
        finally:
            server.stop()


def _assert_whole(store: Store) -> None:
    """Every version with an audit has it, every audit has its version, every current row is its newest version."""
    v, e, t = schema.ticket_versions, schema.ticket_events, schema.tickets
    try:
        with store.read() as conn:
            audits = set(conn.execute(select(e.c.id)).scalars())
            audited = set(conn.execute(select(v.c.audit_id).where(v.c.audit_id.is_not(None))).scalars())
            assert audits == audited
            grouped = select(v.c.ticket_id, func.max(v.c.version)).group_by(v.c.ticket_id)
            newest = {row[0]: row[1] for row in conn.execute(grouped)}
            current = {row.id: row for row in conn.execute(select(t.c.id, t.c.version, t.c.json))}
            assert {i: row.version for i, row in current.items()} == newest
            for row in current.values():
                stored = conn.execute(select(v.c.json).where(v.c.ticket_id == row.id, v.c.version == row.version))
                assert orjson.loads(stored.scalar_one()) == orjson.loads(row.json)
    finally:
        store.dispose()


def test_kill_9_of_a_server_with_workers_stops_its_workers_too(tmp_path: Path) -> None:
    """Nothing tells a worker that its supervisor died: it must notice, or it keeps serving (and writing) beside
    the server restarted in its place."""
    server = start_server(tmp_path, "--workers", "2", "--rate-limit", "off")
    try:
        workers = [int(pid) for pid in subprocess.run(
            ["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True).stdout.split()]
        assert httpx.get(f"{server.base_url}/openapi.json", timeout=10).status_code == 200
        server.process.kill()
        server.process.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_serving(pid) for pid in workers):
            time.sleep(0.1)
        assert not any(_serving(pid) for pid in workers)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{server.base_url}/openapi.json", timeout=2)
    finally:
        server.stop()


def _late_worker(started: float) -> None:
    """A worker that reaches the app factory's watch only after its supervisor has died (a slow start)."""
    from deskstream.api.app import _stop_with_supervisor

    time.sleep(started)
    _stop_with_supervisor(every=0.05)
    time.sleep(60)


def _supervisor(pids: multiprocessing.Queue[int], started: float) -> None:
    worker = multiprocessing.get_context("spawn").Process(target=_late_worker, args=(started,))
    worker.start()
    pids.put(worker.pid or 0)
    time.sleep(60)


def test_a_worker_still_starting_when_its_supervisor_is_killed_stops_too() -> None:
    """The watch compares with the process that spawned the worker, not with whoever is its parent by the time it
    starts watching (by then, init)."""
    spawn = multiprocessing.get_context("spawn")
    pids: multiprocessing.Queue[int] = spawn.Queue()
    supervisor = spawn.Process(target=_supervisor, args=(pids, 1.0))
    supervisor.start()
    worker = pids.get(timeout=30)
    try:
        supervisor.kill()
        supervisor.join()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and _serving(worker):
            time.sleep(0.1)
        assert not _serving(worker)
    finally:
        if _serving(worker):
            os.kill(worker, signal.SIGKILL)


def _serving(pid: int) -> bool:
    """Whether the process runs (a zombie has exited: it only waits for init to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
