"""Several servers on one PostgreSQL database, many writers on the same tickets: every update is serialized on the
ticket's row, none is answered 5xx, none is lost, and the export serves each ticket's final version.

On PostgreSQL's read-committed, two transactions could both read version n of a ticket and both write n + 1 (a
``UniqueViolation`` answered 500); the store now locks a ticket's row as a write transaction loads it.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson
from sqlalchemy import func, select, text
from tests.conftest import ADMIN, ProcessServer, http_client, seed_accounts, start_server
from tests.helpers import follow_cursor, pg_database

from deskstream.clock import SimClock
from deskstream.domain.tickets import CommentInput, TicketInput
from deskstream.service import Actor, Desk
from deskstream.store import schema

TICKETS = 60
WRITERS = 4
SECONDS = float(os.environ.get("DESKSTREAM_STRESS_SECONDS", "2"))  # longer for a closing note's figures


def test_concurrent_updates_on_two_servers_on_one_postgresql_serialize_and_lose_nothing(tmp_path: Path) -> None:
    with pg_database("concurrency") as store:
        seed_accounts(store)
        servers: list[ProcessServer] = []
        try:
            args = ("--clock", "sim", "--rate-limit", "off")
            servers = [start_server(tmp_path, *args, db_url=store.url) for _ in range(2)]
            admin = servers[0].client(ADMIN)
            made = admin.post(
                "/api/v2/tickets/create_many",
                json={"tickets": [{"subject": f"t{i}", "comment": {"body": "b"}} for i in range(TICKETS)]},
            )
            assert made.status_code == 200, made.text
            ids = [r["id"] for r in made.json()["job_status"]["results"]]

            statuses: Counter[int] = Counter()
            acknowledged: Counter[int] = Counter()
            lock = threading.Lock()

            def write(n: int) -> None:
                rng = random.Random(n)
                clients = [http_client(s.base_url, auth=ADMIN, timeout=60) for s in servers]
                deadline, k = time.monotonic() + SECONDS, 0
                while time.monotonic() < deadline:
                    ticket_id, k = rng.choice(ids), k + 1
                    answer = rng.choice(clients).put(
                        f"/api/v2/tickets/{ticket_id}", json={"ticket": {"subject": f"w{n}-{k}"}}
                    )
                    with lock:
                        statuses[answer.status_code] += 1
                        if answer.status_code == 200:
                            acknowledged[ticket_id] += 1
                for client in clients:
                    client.close()

            threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

            assert set(statuses) == {200}, statuses
            assert sum(acknowledged.values()) > 10 * WRITERS  # enough to race (a busy machine does fewer)
            v = schema.ticket_versions
            with store.read() as conn:
                counted = select(v.c.ticket_id, func.count()).where(v.c.ticket_id.in_(ids)).group_by(v.c.ticket_id)
                versions = {row[0]: row[1] for row in conn.execute(counted)}
            # Every acknowledged update is one more version (each set a subject no other update set).
            assert {i: versions[i] - 1 for i in ids} == {i: acknowledged[i] for i in ids}

            admin.post("/_deskstream/clock", json={"advance": 120})
            served: dict[int, str] = {}
            page = admin.get("/api/v2/incremental/tickets/cursor", params={"start_time": 0}).json()
            while True:
                served.update({t["id"]: t["subject"] for t in page["tickets"]})
                if page["end_of_stream"]:
                    break
                page = admin.get(page["after_url"]).json()
            t = schema.tickets
            with store.read() as conn:
                final = {row[0]: orjson.loads(row[1])["subject"] for row in conn.execute(select(t.c.id, t.c.json))}
            missed = [i for i in ids if served.get(i) != final[i]]
            print(f"{sum(acknowledged.values())} updates acknowledged, {dict(statuses)}, {len(missed)} versions missed")
            assert {i: served[i] for i in ids} == {i: final[i] for i in ids}
        finally:
            for server in servers:
                server.stop()


def test_a_write_that_commits_long_after_its_stamp_is_never_passed_by_the_cursor_export(tmp_path: Path) -> None:
    """A transaction stamps second T and stays open while the clock runs minutes past the horizon and a later write
    (a system update of another ticket: it allocates no id, so nothing else orders it) commits; a reader following
    the cursor export must not pass T before the open write commits, or it would never serve it."""
    with pg_database("late_commit") as store:
        ids = seed_accounts(store)
        server = start_server(tmp_path, "--clock", "sim", "--rate-limit", "off", db_url=store.url)
        clock = SimClock(store)
        desk = Desk(store, clock)
        admin_actor = Actor(ids["admin"], "admin")
        opened, release, seen, where = threading.Event(), threading.Event(), [], []
        late: dict[str, int] = {}

        def slow_write() -> None:
            with store.writing() as w:  # stamps now, then holds its transaction open
                made = TicketInput(subject="late", comment=CommentInput(body="b"))
                late["id"] = desk.tickets.create(made, admin_actor, writer=w)["id"]
                opened.set()
                release.wait(60)

        def move_clock(seconds: int) -> None:
            """Straight to the stored clock: the open write must not be what orders this."""
            with store.engine.begin() as conn:
                moved = "UPDATE kv SET value = CAST(CAST(value AS BIGINT) + :s AS TEXT) WHERE key = 'clock.now'"
                conn.execute(text(moved), {"s": seconds})

        def settled(done: Callable[[], bool], waiting: int) -> None:
            """Until ``done``, or until ``waiting`` sessions wait for an advisory lock (the open write's)."""
            query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not done():
                with store.read() as conn:
                    if conn.execute(query).scalar_one() >= waiting:
                        return
                time.sleep(0.02)

        def follow(url: str = "/api/v2/incremental/tickets/cursor?start_time=0") -> None:
            follow_cursor(server.base_url, url, seen, where)

        try:
            admin = server.client(ADMIN)
            made_user = admin.post("/api/v2/users", json={"user": {"name": "C", "email": "c@example.net"}})
            customer = made_user.json()["user"]
            other = admin.post("/api/v2/tickets", json={"ticket": {"requester_id": customer["id"],
                                                                   "comment": {"body": "b"}}}).json()["ticket"]
            writer = threading.Thread(target=slow_write)
            writer.start()
            assert opened.wait(30)
            move_clock(200)
            renamed = {"user": {"name": "Renamed"}}  # a system update of ``other``, stamped T + 200
            later = threading.Thread(target=lambda: admin.put(f"/api/v2/users/{customer['id']}", json=renamed))
            later.start()
            # The later write either commits (nothing orders it behind the open one) or waits for it: see which.
            settled(lambda: not later.is_alive(), waiting=1)
            move_clock(200)
            reading = threading.Thread(target=follow)
            reading.start()
            settled(lambda: not reading.is_alive(), waiting=2)
            release.set()
            for thread in (writer, later, reading):
                thread.join(60)
            # Later, the client resumes from where it stopped, once the horizon has passed every write.
            admin.post("/_deskstream/clock", json={"advance": 600})
            follow(where[-1])
            assert late["id"] in seen, "the export passed a write that committed after its stamp: never served"
            assert other["id"] in seen
        finally:
            release.set()
            server.stop()
