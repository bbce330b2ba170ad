"""A write that stamps second T and commits long after (a process stalled inside its transaction) is never passed by
a reader in another process: the export waits for the write in flight rather than serve a position it could land
behind (docs/architecture.md § Commit order). The PostgreSQL case, with a second write committing meanwhile, is in
tests/api/test_postgres_concurrency.py; this is SQLite's, with the server and the stalled writer as two processes
on one database file, as under ``serve --workers N``."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.conftest import ADMIN, start_server
from tests.helpers import follow_cursor

from deskstream.clock import FixedClock, SimClock
from deskstream.domain.tickets import CommentInput, TicketInput
from deskstream.service import Actor, Desk
from deskstream.store import Store


def test_a_reader_in_another_process_waits_for_a_stalled_sqlite_write_and_then_serves_it(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--clock", "sim", "--rate-limit", "off")
    store = Store(server.db_url)
    admin = server.client(ADMIN)
    stamped = SimClock(store).now()
    admin.post("/_deskstream/clock", json={"advance": 400})  # the writer read the clock, then stalled 400 s
    admin_id = admin.get("/api/v2/users/me").json()["user"]["id"]
    opened, release, late, seen, where = threading.Event(), threading.Event(), {}, [], []

    def stalled_write() -> None:
        with store.writing() as w:  # SQLite's write lock, taken as at T, stamped T, held past the horizon
            made = TicketInput(subject="late", comment=CommentInput(body="b"))
            late["id"] = Desk(store, FixedClock(stamped)).tickets.create(made, Actor(admin_id, "admin"), writer=w)["id"]
            opened.set()
            release.wait(25)

    def follow(url: str) -> None:
        follow_cursor(server.base_url, url, seen, where)

    writer = threading.Thread(target=stalled_write)
    writer.start()
    try:
        assert opened.wait(30)
        reading = threading.Thread(target=follow, args=("/api/v2/incremental/tickets/cursor?start_time=0",))
        reading.start()
        reading.join(2)
        assert reading.is_alive(), "the reader did not wait for the write in flight"
        release.set()
        writer.join(30)
        reading.join(30)
        admin.post("/_deskstream/clock", json={"advance": 600})
        follow(where[-1])  # later, the client resumes from where it stopped
        assert late["id"] in seen, "the export passed a write that committed after its stamp: never served"
    finally:
        release.set()
        writer.join(30)
        store.dispose()
        server.stop()
