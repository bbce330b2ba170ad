"""Two servers on one PostgreSQL database share what Zendesk's account has once: the export rate limit and, with
``--clock sim``, the clock (and the breaches a move of it writes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN, ProcessServer, seed_accounts, start_server
from tests.helpers import pg_database, tag_policy, tagged_ticket

PER_MINUTE = 4
FIRST_REPLY_10 = [{"priority": "urgent", "metric": "first_reply_time", "target": 10, "business_hours": False}]
TICKETS = "/api/v2/incremental/tickets.json"


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[ProcessServer, ProcessServer]]:
    with pg_database("shared") as store:
        seed_accounts(store)
        args = ("--rate-limit", str(PER_MINUTE), "--clock", "sim")
        servers = [start_server(tmp_path, *args, db_url=store.url) for _ in range(2)]
        try:
            yield servers[0], servers[1]
        finally:
            for server in servers:
                server.stop()


def test_two_servers_on_one_postgresql_spend_one_export_budget(
    two_servers: tuple[ProcessServer, ProcessServer],
) -> None:
    first, second = (server.client(ADMIN) for server in two_servers)
    answers = [(first if i % 2 else second).get(TICKETS, params={"start_time": 0}) for i in range(PER_MINUTE)]
    assert [a.status_code for a in answers] == [200] * PER_MINUTE
    for client in (first, second):
        refused = client.get(TICKETS, params={"start_time": 0})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


def test_a_clock_moved_on_one_server_has_moved_on_the_other_with_the_breaches_it_passed(
    two_servers: tuple[ProcessServer, ProcessServer],
) -> None:
    first, second = (server.client(ADMIN) for server in two_servers)
    tag_policy(first, "shared_sla", FIRST_REPLY_10)
    ticket = tagged_ticket(first, "shared_sla")
    before = int(second.get("/_deskstream/clock").json()["now"])
    moved = first.post("/_deskstream/clock", json={"advance": 11 * 60})
    assert moved.status_code == 200, moved.text
    assert int(second.get("/_deskstream/clock").json()["now"]) == before + 11 * 60
    events = second.get("/api/v2/incremental/ticket_metric_events.json", params={"start_time": 0}).json()
    breaches = [e for e in events["ticket_metric_events"] if e["ticket_id"] == ticket["id"] and e["type"] == "breach"]
    assert len(breaches) == 1
