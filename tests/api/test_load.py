"""200 clients at once over two servers on one database, SQLite's file or PostgreSQL's (where a server answers), for
a bounded time: every answer is a success or Zendesk's 429 for the export budget, never an error.

``DESKSTREAM_STRESS_SECONDS`` makes the run longer than the suite's 2 s (the figures of a closing note).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from tests.conftest import ADMIN, AGENT, http_client, start_server
from tests.helpers import seeded_database_url

CLIENTS = 200
SECONDS = float(os.environ.get("DESKSTREAM_STRESS_SECONDS", "2"))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_200_clients_over_two_servers_get_only_successes_and_the_export_budgets_429(
    tmp_path: Path, backend: str
) -> None:
    with seeded_database_url(backend, tmp_path, "load") as url:
        servers = [start_server(tmp_path, db_url=url) for _ in range(2)]
        try:
            seeded = servers[0].client(ADMIN).post(
                "/api/v2/tickets/create_many",
                json={"tickets": [{"subject": f"load {i}", "comment": {"body": "b"}} for i in range(20)]},
            )
            assert seeded.status_code == 200, seeded.text
            ids = [r["id"] for r in seeded.json()["job_status"]["results"]]
            for server in servers:  # each account signed in once per server, as a client's first request does:
                for who in (ADMIN, AGENT):  # 100 first sign-ins at once would be a burst the sign-in throttle stops
                    assert server.client(who).get("/api/v2/users/me").status_code == 200
            statuses: Counter[int] = Counter()
            failures: list[str] = []
            lock = threading.Lock()
            start = threading.Barrier(CLIENTS)

            def client(n: int) -> None:
                rng = random.Random(n)
                who = ADMIN if n % 2 else AGENT
                with http_client(servers[n % 2].base_url, auth=who, timeout=120) as http:
                    start.wait()
                    deadline = time.monotonic() + SECONDS
                    exporting = who == ADMIN  # exports are for admins
                    while time.monotonic() < deadline:
                        kind = rng.randrange(4)
                        if kind == 0 and not exporting:
                            kind = 3
                        try:
                            if kind == 0:
                                answer = http.get("/api/v2/incremental/tickets/cursor", params={"start_time": 0})
                            elif kind == 1:
                                answer = http.put(f"/api/v2/tickets/{rng.choice(ids)}",
                                                  json={"ticket": {"subject": f"c{n}-{rng.random()}"}})  # fmt: skip
                            elif kind == 2:
                                answer = http.post("/api/v2/tickets", json={"ticket": {"comment": {"body": "x"}}})
                            else:
                                answer = http.get(f"/api/v2/tickets/{rng.choice(ids)}")
                        except httpx.HTTPError as error:
                            with lock:
                                failures.append(repr(error))
                            return
                        with lock:
                            statuses[answer.status_code] += 1
                        # A client told 429 waits out its Retry-After (longer than the run) rather than asking again
                        # at once: 200 clients spinning on fast 429s would measure how fast a refusal is.
                        exporting = exporting and not (kind == 0 and answer.status_code == 429)

            threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(300)
            print(f"{CLIENTS} clients, {SECONDS:.0f} s: {sum(statuses.values())} answers, {dict(statuses)}")
            assert failures == []
            assert set(statuses) <= {200, 201, 429}, statuses
            assert statuses[429] > 0 and statuses[200] + statuses[201] > CLIENTS // 2
        finally:
            for server in servers:
                server.stop()
