"""``deskstream serve --demo`` on an empty database: the promised history, then a server with the documented
credentials (spec/README.md § Interfaces)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from deskstream import demo
from tests.generate.histories import rows

if TYPE_CHECKING:
    from conftest import Server  # the session's server fixture type (tests/conftest.py)

ADMIN = (demo.ADMIN_EMAIL, demo.PASSWORD)


@pytest.fixture(scope="module")
def demo_server(make_server: Callable[..., Server]) -> tuple[Server, int]:
    """A real ``serve --demo`` on a fresh SQLite file (no accounts made beforehand), and when it was started."""
    started = int(time.time())
    return make_server("--demo", "--rate-limit", "off", seed=None), started


def test_it_prints_the_base_url_the_demo_credentials_and_a_ready_curl(demo_server: tuple[Server, int]) -> None:
    server, _ = demo_server
    log = server.log_path.read_text()
    assert server.base_url in log
    for secret in (demo.ADMIN_EMAIL, demo.PASSWORD, demo.ADMIN_TOKEN, demo.AGENT_EMAIL, demo.USER_EMAIL):
        assert secret in log
    assert f"curl -u {demo.ADMIN_EMAIL}:{demo.PASSWORD}" in log and "/api/v2/incremental/tickets" in log


def test_the_seeds_curl_gets_a_full_page_of_demo_tickets(demo_server: tuple[Server, int]) -> None:
    server, _ = demo_server
    answer = server.client(ADMIN).get("/api/v2/incremental/tickets", params={"start_time": 0},
                                      headers={"Accept": "application/json"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] >= 1000 and body["end_of_stream"] is False


def test_the_history_has_about_5000_tickets_over_90_days_ending_ten_minutes_ago(
    demo_server: tuple[Server, int],
) -> None:
    server, started = demo_server
    store = server.store()
    (count, first, last), = rows(store, "SELECT count(*), min(created_at), max(generated_timestamp) FROM tickets")
    (last_event,), = rows(store, "SELECT max(timestamp) FROM ticket_events")
    (last_metric,), = rows(store, "SELECT max(time) FROM ticket_metric_events")
    assert count == demo.DEMO_TICKETS
    assert started - 91 * 86_400 < first < started - 89 * 86_400
    assert max(last, last_event, last_metric) <= started - 600


def test_the_history_has_a_storm_deletes_breaches_and_system_updates(demo_server: tuple[Server, int]) -> None:
    store = demo_server[0].store()
    (storm,), = rows(store, "SELECT max(n) FROM (SELECT count(*) AS n FROM ticket_events GROUP BY timestamp)")
    (created,), = rows(store, "SELECT max(n) FROM (SELECT count(*) AS n FROM tickets GROUP BY created_at)")
    assert storm > 1000 and created > 1000
    assert rows(store, "SELECT count(*) FROM tickets WHERE status = 'deleted' AND deleted_at IS NOT NULL")[0][0] > 0
    assert rows(store, "SELECT count(*) FROM ticket_metric_events WHERE type = 'breach'")[0][0] > 0
    assert rows(store, "SELECT count(*) FROM ticket_metric_events WHERE type = 'apply_sla'")[0][0] > 0
    assert rows(store, "SELECT count(*) FROM tickets WHERE generated_timestamp > updated_at")[0][0] > 0


def test_the_documented_agent_and_end_user_have_tickets_of_their_own(demo_server: tuple[Server, int]) -> None:
    server, _ = demo_server
    for email in (demo.AGENT_EMAIL, demo.USER_EMAIL):
        column = "assignee_id" if email == demo.AGENT_EMAIL else "requester_id"
        mine = rows(server.store(), f"SELECT count(*) FROM tickets t JOIN users u ON u.id = t.{column} "
                                    f"WHERE u.email = '{email}'")
        assert mine[0][0] > 0, email
