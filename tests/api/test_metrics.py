"""``GET /metrics`` and ``--log-json`` (docs/metrics.md): counters that move with real requests, in one process and
summed across the workers of a real ``deskstream serve --workers 2``; one JSON line per request, without secrets.

The in-process apps share this process's registry with every other app the session built, so those tests compare a
scrape before and after their own requests; the served process is fresh, so its counts are exact.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import ADMIN, AppServer, ProcessServer, Server, http_client, seed_accounts

from deskstream import demo
from deskstream.clock import FixedClock
from deskstream.domain.people import UserInput
from deskstream.service import Desk
from deskstream.store import Store

Scrape = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: Server) -> Scrape:
    """Every sample of one unauthenticated scrape, by name and labels."""
    response = server.client(None).get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Scrape, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


# one process -------------------------------------------------------------------------------------------------------
def test_requests_are_counted_by_route_template_and_status(server: AppServer, admin: httpx.Client) -> None:
    before = scrape(server)
    created = admin.post("/api/v2/tickets.json", json={"ticket": {"comment": {"body": "counted"}}})
    assert created.status_code == 201
    ticket_id = created.json()["ticket"]["id"]
    assert admin.get(f"/api/v2/tickets/{ticket_id}").status_code == 200
    assert admin.get(f"/api/v2/tickets/{ticket_id}.json").status_code == 200
    assert admin.get("/api/v2/tickets/987654321").status_code == 404
    assert admin.request("HEAD", f"/api/v2/tickets/{ticket_id}").status_code == 405  # answered before routing
    assert admin.get("/no/such/path/42").status_code == 404
    after = scrape(server)

    requests = "deskstream_http_requests_total"
    template = "/api/v2/tickets/{ticket_id}"
    assert moved(before, after, requests, method="GET", route=template, status="200") == 2
    assert moved(before, after, requests, method="GET", route=template, status="404") == 1
    assert moved(before, after, requests, method="HEAD", route=template, status="405") == 1
    assert moved(before, after, requests, method="GET", route="unmatched", status="404") == 1
    assert moved(before, after, requests, method="POST", route="/api/v2/tickets", status="201") == 1
    raw = {str(ticket_id), "987654321", "42"}  # a path's own segments, never a label's (ticket 2 is in "/api/v2")
    assert not any(raw & set(dict(labels).get("route", "").split("/")) for _, labels in after), "a raw path as a label"
    writes = "deskstream_http_write_duration_seconds_count"
    assert moved(before, after, writes, method="POST", route="/api/v2/tickets") == 1
    assert moved(before, after, writes, method="GET", route=template) == 0  # reads are not writes
    assert value(after, "deskstream_db_pool_size") >= 1
    assert value(after, "deskstream_db_pool_checked_out") >= 0


def test_export_pages_and_their_items_are_counted_by_stream(server: AppServer, admin: httpx.Client) -> None:
    before = scrape(server)
    page = admin.get("/api/v2/incremental/users", params={"start_time": 0})
    assert page.status_code == 200
    items = len(page.json()["users"])
    assert items >= 3  # the demo accounts, stamped an hour ago
    assert admin.get("/api/v2/incremental/tickets/cursor", params={"start_time": 0}).status_code == 200
    after = scrape(server)
    assert moved(before, after, "deskstream_export_pages_total", stream="users") == 1
    assert moved(before, after, "deskstream_export_items_total", stream="users") == items
    assert moved(before, after, "deskstream_export_pages_total", stream="tickets") == 1


def test_rate_limit_refusals_are_counted(make_app: Callable[..., AppServer]) -> None:
    limited = make_app("--rate-limit", "1")
    admin = limited.client(ADMIN)
    before = scrape(limited)
    # Three requests inside at most two of the budget's one-minute windows: at least one is refused.
    statuses = [admin.get("/api/v2/incremental/users", params={"start_time": 0}).status_code for _ in range(3)]
    refused = statuses.count(429)
    assert refused >= 1 and set(statuses) <= {200, 429}
    after = scrape(limited)
    assert moved(before, after, "deskstream_rate_limited_total", bucket="incremental") == refused
    route = "/api/v2/incremental/users"
    assert moved(before, after, "deskstream_http_requests_total", method="GET", route=route, status="429") == refused


def test_sla_scheduler_runs_are_counted(server: AppServer) -> None:
    before = scrape(server)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the scheduler passes about once a second
        if moved(before, scrape(server), "deskstream_sla_scheduler_runs_total", outcome="ok") >= 1:
            return
        time.sleep(0.2)
    pytest.fail("the SLA scheduler's runs did not move in 10 s")


def test_metrics_is_open_unlimited_and_not_in_the_openapi_description(server: AppServer) -> None:
    anonymous = server.client(None)
    response = anonymous.get("/metrics")
    assert response.status_code == 200
    assert "x-rate-limit" not in response.headers  # scrapes do not spend the account's figure
    assert "/metrics" not in anonymous.get("/openapi.json").json()["paths"]
    assert anonymous.post("/metrics").status_code == 405


# served by real processes ------------------------------------------------------------------------------------------
#: Credentials of a user of the served database's own, words that appear nowhere else in a server's output.
OPS = ("ops@example.com", "ops-password-7f3a9c")
OPS_TOKEN = "ops-token-51b2e8d4"
WRONG_PASSWORD = "wrong-password-0c6d1e"
#: A query parameter's value that must not reach the log either (deskstream logs paths, never query strings).
SECRET_QUERY = "query-value-93e0aa"


def _log_lines(server: ProcessServer) -> list[dict[str, object]]:
    lines = server.log_path.read_bytes().splitlines()
    return [orjson.loads(line) for line in lines if line.startswith(b"{")]


def _seed(store: Store) -> None:
    seed_accounts(store)
    desk = Desk(store, FixedClock(int(time.time()) - 3600))
    desk.people.create_user(UserInput(email=OPS[0], role="admin", name="Ops", password=OPS[1]))
    desk.auth.create_token(OPS[0], OPS_TOKEN)


@pytest.fixture(scope="module")
def workers(make_server: Callable[..., ProcessServer]) -> ProcessServer:
    return make_server("--workers", "2", "--log-json", "--rate-limit", "off", seed=_seed)


def test_two_workers_counts_are_summed_in_metrics(workers: ProcessServer) -> None:
    """Requests on fresh connections until the log shows both workers served some: one scrape counts them all."""
    path, sent, pids = "/api/v2/groups", 0, set()
    headers = {"Authorization": f"Bearer {demo.ADMIN_TOKEN}"}
    deadline = time.monotonic() + 30
    while len(pids) < 2 and time.monotonic() < deadline:
        for _ in range(4):
            assert httpx.get(workers.base_url + path, headers=headers, timeout=30).status_code == 200
            sent += 1
        time.sleep(0.05)  # a line is written just after its answer
        pids = {line["pid"] for line in _log_lines(workers) if line["path"] == path}
    assert len(pids) == 2, f"{sent} requests, all answered by one worker"
    samples = scrape(workers)
    assert value(samples, "deskstream_http_requests_total", method="GET", route=path, status="200") == sent


def test_log_json_writes_one_line_per_request_and_no_secret(workers: ProcessServer) -> None:
    email, password = OPS
    with http_client(workers.base_url, timeout=30) as client:
        page = client.get(
            "/api/v2/incremental/users.json", params={"start_time": 0, "note": SECRET_QUERY}, auth=(email, password)
        )
        assert page.status_code == 200
        assert client.get("/api/v2/users/me", auth=(email, WRONG_PASSWORD)).status_code == 401
        token = client.get("/api/v2/users/me", headers={"Authorization": f"Bearer {OPS_TOKEN}"})
        assert token.status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [line for line in _log_lines(workers) if line["path"] in ("/api/v2/incremental/users.json",)]
        if lines:
            break
        time.sleep(0.05)
    assert len(lines) == 1, lines
    (export,) = lines
    assert export["method"] == "GET" and export["status"] == 200
    assert export["route"] == "/api/v2/incremental/users"
    assert isinstance(export["duration_ms"], float) and export["duration_ms"] > 0
    assert export["user_email"] == email and isinstance(export["user_id"], int)
    assert export["stream"] == "users" and export["items"] == len(page.json()["users"])
    refused = [line for line in _log_lines(workers) if line["status"] == 401]
    assert refused and refused[-1]["user_id"] is None and refused[-1]["items"] is None
    text = workers.log_path.read_text()
    basic = base64.b64encode(f"{email}:{password}".encode()).decode()  # the Authorization header's credentials
    for secret in (password, WRONG_PASSWORD, OPS_TOKEN, SECRET_QUERY, basic):
        assert secret not in text
