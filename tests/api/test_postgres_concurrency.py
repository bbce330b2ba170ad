"""Several servers on one PostgreSQL database, many writers on the same tickets: every update is serialized on the
ticket's row, none is answered 5xx, none is lost, and the export serves each ticket's final version.

On PostgreSQL's read-committed, two transactions could both read version n of a ticket and both write n + 1 (a
``UniqueViolation`` answered 500); the store now locks a ticket's row as a write transaction loads it.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import orjson
from sqlalchemy import func, select

from deskstream.store import schema
from tests.conftest import ADMIN, ProcessServer, seed_accounts, start_server
from tests.helpers import pg_database

TICKETS = 60
WRITERS = 4
SECONDS = 8.0


def test_concurrent_updates_on_two_servers_on_one_postgresql_serialize_and_lose_nothing(tmp_path: Path) -> None:
    with pg_database("concurrency") as store:
        seed_accounts(store)
        url = store.url.replace("postgresql+psycopg://", "postgresql://")
        servers: list[ProcessServer] = []
        try:
            servers = [start_server(tmp_path, "--clock", "sim", "--rate-limit", "off", db_url=url) for _ in range(2)]
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
                clients = [httpx.Client(base_url=s.base_url, auth=ADMIN, timeout=60) for s in servers]
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
            assert sum(acknowledged.values()) > 100
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
            assert {i: served[i] for i in ids} == {i: final[i] for i in ids}
        finally:
            for server in servers:
                server.stop()
