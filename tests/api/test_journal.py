"""The request journal through HTTP (docs/api.md § Request journal): what real requests leave in it, its filters
and pages, its bound, who may read it, and the anomalies real client loops produce against the real app.

Each test speaks as a client of its own (a User-Agent of its own), so the tests of one server never see each
other's requests.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import func, select
from tests.conftest import ADMIN, AGENT, AppServer, Server, start_app
from tests.helpers import clock, create_ticket, seeded_database_url

from deskstream.store import schema

JOURNAL = "/_deskstream/requests"
TICKETS = "/api/v2/incremental/tickets.json"
CURSOR = "/api/v2/incremental/tickets/cursor.json"


@pytest.fixture(scope="module")
def sim(make_app: Callable[..., AppServer]) -> AppServer:
    """A server with three tickets stamped in one second, and ``tie_overflow=stall`` on."""
    server = make_app("--clock", "sim", "--rate-limit", "off", "--faults", "tie_overflow=stall")
    admin = server.client()
    for _ in range(3):
        create_ticket(admin)
    clock(admin, advance=120)  # past the export horizon
    return server


def as_client(server: Server, agent: str, auth: tuple[str, str] | None = ADMIN) -> httpx.Client:
    return server.client(auth, headers={"User-Agent": agent})


def journal(server: Server, **params: Any) -> dict[str, Any]:
    answer = server.client().get(JOURNAL, params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def entries(server: Server, agent: str, **params: Any) -> list[dict[str, Any]]:
    """The entries of the clients whose User-Agent is ``agent`` (any user), oldest first."""
    found = [entry for entry in journal(server, per_page=1000, **params)["requests"] if entry["user_agent"] == agent]
    return found[::-1]


def admin_id(server: Server) -> int:
    return int(server.client().get("/api/v2/users/me").json()["user"]["id"])


def anomalies(server: Server, client: str) -> list[tuple[str, int]]:
    answer = server.client().get(f"{JOURNAL}/anomalies", params={"client": client})
    assert answer.status_code == 200, answer.text
    return [(found["kind"], found["request_id"]) for found in answer.json()["anomalies"]][::-1]


# what is recorded ---------------------------------------------------------------------------------------------------
def test_an_export_page_is_journaled_with_its_client_position_items_and_next_position(sim: AppServer) -> None:
    client = as_client(sim, "recorder/1.0")
    first = client.get(CURSOR, params={"start_time": 0, "per_page": 2}).json()
    client.get(CURSOR, params={"cursor": first["after_cursor"], "per_page": 2})
    one, two = entries(sim, "recorder/1.0")
    assert one["client"] == f"recorder/1.0 #{admin_id(sim)}" and one["user_id"] == admin_id(sim)
    assert (one["method"], one["path"], one["query"]) == ("GET", CURSOR, {"start_time": "0", "per_page": "2"})
    assert (one["status"], one["stream"], one["items"], one["end_of_stream"]) == (200, "tickets/cursor", 2, False)
    assert one["position"] == {"start_time": 0}
    assert one["next_position"]["after_cursor"]["id"] == first["tickets"][-1]["id"]
    assert two["position"] == {"cursor": one["next_position"]["after_cursor"]}  # the opaque cursor, decoded
    assert (two["items"], two["end_of_stream"]) == (1, True)
    assert one["duration_ms"] > 0 and one["at_unix_ms"] <= two["at_unix_ms"] and one["id"] < two["id"]
    assert one["fault"] is None and one["rate_limit"] is None and one["anomalies"] == []


def test_a_time_based_page_records_its_start_time_and_the_end_time_it_gave(sim: AppServer) -> None:
    page = as_client(sim, "timed/1.0").get(TICKETS, params={"start_time": 0}).json()
    (entry,) = entries(sim, "timed/1.0")
    assert (entry["stream"], entry["position"], entry["next_position"]) == (
        "tickets", {"start_time": 0}, {"end_time": page["end_time"]})
    assert (entry["items"], entry["end_of_stream"]) == (3, True)


def test_requests_that_fail_are_journaled_unauthenticated_ones_with_no_user(sim: AppServer) -> None:
    client = as_client(sim, "failing/1.0")
    assert client.get("/api/v2/no_such_thing").status_code == 404
    assert client.get(TICKETS, params={"start_time": clock(sim.client()) + 3600}).status_code == 422
    assert client.get(CURSOR, params={"cursor": "not a cursor"}).status_code == 400
    assert as_client(sim, "failing/1.0", None).get(TICKETS, params={"start_time": 0}).status_code == 401
    recorded = entries(sim, "failing/1.0")
    assert [entry["status"] for entry in recorded] == [404, 422, 400, 401]
    assert [entry["user_id"] for entry in recorded][-1] is None
    assert recorded[-1]["client"] == "failing/1.0"
    assert recorded[2]["position"] is None and recorded[2]["query"] == {"cursor": "not a cursor"}


def test_an_injected_fault_is_recorded_with_the_retry_after_it_stated(sim: AppServer) -> None:
    admin = sim.client()
    assert admin.put("/_deskstream/faults", json={"http429_every": 1, "tie_overflow": "stall"}).status_code == 200
    try:
        assert as_client(sim, "faulted/1.0").get(TICKETS, params={"start_time": 0}).status_code == 429
    finally:
        admin.put("/_deskstream/faults", json={"tie_overflow": "stall"})
    (entry,) = entries(sim, "faulted/1.0")
    assert (entry["fault"], entry["status"], entry["rate_limit"]) == (
        "http429", 429, {"limit": None, "remaining": None, "retry_after": 1})


def test_admin_calls_are_journaled_but_metrics_the_console_and_the_journal_itself_are_not(sim: AppServer) -> None:
    client = as_client(sim, "watcher/1.0")
    client.get("/_deskstream/clock")
    client.get("/metrics")
    client.get("/_deskstream/console")
    client.get(JOURNAL)
    client.get(f"{JOURNAL}/clients")
    assert [entry["path"] for entry in entries(sim, "watcher/1.0")] == ["/_deskstream/clock"]


# reading it ----------------------------------------------------------------------------------------------------------
def test_each_filter_narrows_the_journal(sim: AppServer) -> None:
    client = as_client(sim, "filtered/1.0")
    started = int(time.time())
    client.get("/api/v2/users/me")
    client.get(TICKETS, params={"start_time": 0})
    client.get("/api/v2/tickets/999999")
    key = f"filtered/1.0 #{admin_id(sim)}"
    assert [e["path"] for e in journal(sim, client=key)["requests"]] == [
        "/api/v2/tickets/999999", TICKETS, "/api/v2/users/me"]
    assert [e["path"] for e in journal(sim, client=key, path="/api/v2/incremental/")["requests"]] == [TICKETS]
    assert [e["path"] for e in journal(sim, client=key, status=404)["requests"]] == ["/api/v2/tickets/999999"]
    assert journal(sim, client=key, since=started)["count"] == 3
    assert journal(sim, client=key, until=started - 1)["count"] == 0
    assert journal(sim, client="nobody/0")["requests"] == []


def test_pages_follow_next_page_by_entry_id_newest_first(sim: AppServer) -> None:
    client = as_client(sim, "paged/1.0")
    for n in range(5):
        client.get(f"/api/v2/tickets/{900000 + n}")
    key = f"paged/1.0 #{admin_id(sim)}"
    seen: list[int] = []
    page = journal(sim, client=key, per_page=2)
    while True:
        assert page["count"] == len(page["requests"]) <= 2
        seen += [entry["id"] for entry in page["requests"]]
        if page["next_page"] is None:
            break
        answer = sim.client().get(page["next_page"])
        assert answer.status_code == 200
        page = answer.json()
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)


@pytest.mark.parametrize("params", [{"status": "ok"}, {"since": "-1"}, {"until": "yesterday"}, {"per_page": 1001},
                                    {"per_page": 0}, {"per_page": "abc"}, {"before": "x"}, {"status": 99},
                                    {"since": str(2**63 - 1)}, {"until": str(10**17)}])
def test_a_bad_filter_is_a_zendesk_shaped_400(sim: AppServer, params: dict[str, Any]) -> None:
    answer = sim.client().get(JOURNAL, params=params)
    assert answer.status_code == 400
    assert answer.json()["error"] and answer.json()["description"]


def test_only_admins_read_the_journal(sim: AppServer) -> None:
    for path in (JOURNAL, f"{JOURNAL}/anomalies", f"{JOURNAL}/clients"):
        assert sim.client(AGENT).get(path).status_code == 403
        assert sim.client(None).get(path).status_code == 401


# its bound ----------------------------------------------------------------------------------------------------------
def test_the_ring_keeps_only_the_newest_journal_size_requests(make_app: Callable[..., AppServer]) -> None:
    server = make_app("--rate-limit", "off", "--journal-size", "5")
    client = as_client(server, "bounded/1.0")
    for n in range(20):
        client.get(f"/api/v2/tickets/{n + 1}")
    kept = journal(server)
    assert [entry["path"] for entry in kept["requests"]] == [f"/api/v2/tickets/{n}" for n in range(20, 15, -1)]
    assert kept["journal_size"] == 5
    with server.read() as conn:
        assert conn.execute(select(func.count()).select_from(schema.request_journal)).scalar_one() == 5


def test_a_journal_size_of_zero_turns_the_journal_off(make_app: Callable[..., AppServer]) -> None:
    server = make_app("--rate-limit", "off", "--journal-size", "0")
    as_client(server, "unseen/1.0").get("/api/v2/users/me")
    assert journal(server) == {"requests": [], "count": 0, "next_page": None, "journal_size": 0}
    assert server.client().get(f"{JOURNAL}/clients").json()["clients"] == []
    with server.read() as conn:
        assert conn.execute(select(func.count()).select_from(schema.request_journal)).scalar_one() == 0


# anomalies, from real client loops ----------------------------------------------------------------------------------
def naive_time_based(client: httpx.Client, pages: int) -> None:
    """A client that only ever follows end_time and stops at end_of_stream (or after ``pages``)."""
    start = 0
    for _ in range(pages):
        page = client.get(TICKETS, params={"start_time": start, "per_page": 2}).json()
        if page["end_of_stream"]:
            return
        start = page["end_time"]


def test_a_naive_time_based_client_trapped_by_tie_overflow_stall_is_flagged_position_stalled(sim: AppServer) -> None:
    naive_time_based(as_client(sim, "naive/1.0"), pages=4)
    recorded = entries(sim, "naive/1.0")
    stuck = recorded[0]["next_position"]["end_time"]
    assert [entry["position"] for entry in recorded] == [{"start_time": 0}] + [{"start_time": stuck}] * 3
    assert [entry["next_position"] for entry in recorded][1:] == [{"end_time": stuck}] * 3
    stalled = [entry["id"] for entry in recorded[2:]]
    assert anomalies(sim, recorded[0]["client"]) == [("position_stalled", stalled[0]), ("position_stalled", stalled[1])]
    assert [entry["anomalies"] for entry in recorded] == [[], [], ["position_stalled"], ["position_stalled"]]
    assert {entry["fault"] for entry in recorded} == {"tie_overflow"}  # the fault that shaped every page


def test_a_client_asking_a_served_position_again_is_flagged_repeated_page(sim: AppServer) -> None:
    client = as_client(sim, "rewinder/1.0")
    first = client.get(CURSOR, params={"start_time": 0, "per_page": 1}).json()
    client.get(CURSOR, params={"cursor": first["after_cursor"], "per_page": 1})
    client.get(CURSOR, params={"start_time": 0, "per_page": 1})  # back to the start
    recorded = entries(sim, "rewinder/1.0")
    assert anomalies(sim, recorded[0]["client"]) == [("repeated_page", recorded[2]["id"])]


def test_retrying_a_failed_request_at_the_same_position_is_no_anomaly(sim: AppServer) -> None:
    admin, client = sim.client(), as_client(sim, "retrier/1.0")
    first = client.get(CURSOR, params={"start_time": 0, "per_page": 1}).json()
    admin.put("/_deskstream/faults", json={"http503_rate": 1, "retry_after": 0, "tie_overflow": "stall"})
    try:
        assert client.get(CURSOR, params={"cursor": first["after_cursor"], "per_page": 1}).status_code == 503
    finally:
        admin.put("/_deskstream/faults", json={"tie_overflow": "stall"})
    client.get(CURSOR, params={"cursor": first["after_cursor"], "per_page": 1})
    recorded = entries(sim, "retrier/1.0")
    assert recorded[1]["fault"] == "http503"
    assert anomalies(sim, recorded[0]["client"]) == []


def test_a_time_based_client_past_the_end_time_it_was_given_is_flagged_skipped_items(sim: AppServer) -> None:
    client = as_client(sim, "skipper/1.0")
    page = client.get(TICKETS, params={"start_time": 0}).json()
    client.get(TICKETS, params={"start_time": page["end_time"] + 1})  # "+ 1 so as not to see the last one again"
    recorded = entries(sim, "skipper/1.0")
    assert anomalies(sim, recorded[0]["client"]) == [("skipped_items", recorded[1]["id"])]


def test_a_client_idle_short_of_end_of_stream_is_flagged_stopped_early(sim: AppServer) -> None:
    journal_ = sim.app.state.desk.journal
    client = as_client(sim, "quitter/1.0")
    client.get(CURSOR, params={"start_time": 0, "per_page": 1})  # end_of_stream false, and nothing after
    (entry,) = entries(sim, "quitter/1.0")
    assert anomalies(sim, entry["client"]) == []  # not idle for a minute yet
    journal_.stopped_after, kept = 0.3, journal_.stopped_after
    try:
        time.sleep(0.4)
        assert anomalies(sim, entry["client"]) == [("stopped_early", entry["id"])]
    finally:
        journal_.stopped_after = kept


def test_a_request_before_retry_after_ran_out_is_flagged_early_retry(make_app: Callable[..., AppServer]) -> None:
    server = make_app("--rate-limit", "2")
    client = as_client(server, "impatient/1.0")
    statuses = []
    while 429 not in statuses:
        statuses.append(client.get(TICKETS, params={"start_time": 0}).status_code)
    statuses.append(client.get(TICKETS, params={"start_time": 0}).status_code)  # at once, not after Retry-After
    recorded = entries(server, "impatient/1.0")
    refused = recorded[-2]
    assert refused["status"] == 429 and refused["rate_limit"]["limit"] == 2
    assert refused["rate_limit"]["remaining"] == 0 and refused["rate_limit"]["retry_after"] >= 1
    assert ("early_retry", recorded[-1]["id"]) in anomalies(server, refused["client"])
    assert "early_retry" in recorded[-1]["anomalies"]


def test_a_client_that_waits_out_retry_after_is_not_flagged(sim: AppServer) -> None:
    admin, client = sim.client(), as_client(sim, "patient/1.0")
    admin.put("/_deskstream/faults", json={"http429_every": 1, "retry_after": 1, "tie_overflow": "stall"})
    try:
        refused = client.get(CURSOR, params={"start_time": 0, "per_page": 1})
    finally:
        admin.put("/_deskstream/faults", json={"tie_overflow": "stall"})
    assert refused.status_code == 429
    time.sleep(float(refused.headers["retry-after"]))
    assert client.get(CURSOR, params={"start_time": 0, "per_page": 1}).status_code == 200
    (first, _) = entries(sim, "patient/1.0")
    assert anomalies(sim, first["client"]) == []


def test_clients_show_where_each_client_stands_in_each_export(sim: AppServer) -> None:
    client = as_client(sim, "standing/1.0")
    client.get(CURSOR, params={"start_time": 0, "per_page": 1})
    listed = sim.client().get(f"{JOURNAL}/clients").json()["clients"]
    (mine,) = [found for found in listed if found["user_agent"] == "standing/1.0"]
    assert (mine["requests"], mine["user_id"], mine["anomalies"]) == (1, admin_id(sim), 0)
    assert mine["streams"]["tickets/cursor"]["end_of_stream"] is False
    assert mine["streams"]["tickets/cursor"]["items"] == 1
    positions = sim.app.state.desk.journal.positions(mine["client"])
    assert [point["position"] for point in positions["tickets/cursor"]] == [0]


# the request path never waits on it ---------------------------------------------------------------------------------
def statuses_within(seconds: float, client: httpx.Client, *requests: tuple[str, dict[str, Any]]) -> list[int]:
    """The statuses of ``requests``, sent one after another on a thread of their own; those that had not answered
    within ``seconds`` are missing."""
    answered: list[int] = []
    sender = threading.Thread(target=lambda: answered.extend(client.get(path, params=params).status_code
                                                             for path, params in requests), daemon=True)
    sender.start()
    sender.join(timeout=seconds)
    return answered


def test_an_export_returns_while_the_journal_flusher_is_blocked(tmp_path: Path) -> None:
    """PostgreSQL: the test locks the journal's table, so the flusher's insert waits; requests, exports among them,
    still answer at once, and once the lock goes their entries are written."""
    with seeded_database_url("postgresql", tmp_path, "journal_blocked") as db_url:
        server = start_app(tmp_path, "--rate-limit", "off", db_url=db_url)
        plain_url = db_url.replace("+psycopg", "")
        locker, watcher = psycopg.connect(plain_url), psycopg.connect(plain_url, autocommit=True)
        client = as_client(server, "unblocked/1.0")
        try:
            locker.execute("LOCK TABLE request_journal IN ACCESS EXCLUSIVE MODE")
            # The flusher takes this entry and waits on the lock.
            assert statuses_within(5, client, ("/api/v2/users/me", {})) == [200], "a request waited on the journal"
            deadline = time.monotonic() + 5
            while not watcher.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]:  # type: ignore[index]
                assert time.monotonic() < deadline, "the flusher never reached the locked table"
                time.sleep(0.02)
            exports = [(TICKETS, {"start_time": 0})] * 3
            assert statuses_within(5, client, *exports) == [200] * 3, "an export waited on the blocked journal"
        finally:
            locker.rollback()
            locker.close()
            watcher.close()
        recorded = entries(server, "unblocked/1.0")
        assert [entry["path"] for entry in recorded] == ["/api/v2/users/me", TICKETS, TICKETS, TICKETS]
        server.stop()


# several servers ---------------------------------------------------------------------------------------------------
def test_two_servers_on_one_database_share_one_journal_and_its_anomalies(
    sim: AppServer, make_app: Callable[..., AppServer],
) -> None:
    """A client whose pages alternate between two servers on one database (each with its own buffer and flusher, as
    worker processes have): the journal read from either holds every request, and the repeat is found across them.
    """
    other = make_app("--clock", "sim", "--rate-limit", "off", db_url=sim.db_url)
    start = {"start_time": 0, "per_page": 1}
    here, there = as_client(sim, "roaming/1.0"), as_client(other, "roaming/1.0")
    page = here.get(CURSOR, params=start).json()
    there.get(CURSOR, params={"cursor": page["after_cursor"], "per_page": 1})
    here.get(CURSOR, params=start)
    deadline = time.monotonic() + 5
    while len(recorded := entries(other, "roaming/1.0")) < 3:
        assert time.monotonic() < deadline, f"the other server's entries never arrived: {recorded}"
        time.sleep(0.05)
    assert [entry["items"] for entry in recorded] == [1, 1, 1]
    assert anomalies(other, recorded[0]["client"]) == [("repeated_page", recorded[2]["id"])]
    assert entries(sim, "roaming/1.0") == recorded


def test_on_sqlite_a_read_returns_while_the_flusher_waits_for_the_write_lock(
    make_app: Callable[..., AppServer],
) -> None:
    """SQLite: the test holds the database's write lock, so the flusher waits on it (an export page takes that lock
    too, so a read stands for the request path here); the read answers at once, and its entry is written after."""
    server = make_app("--rate-limit", "off")
    client = as_client(server, "sqlite-unblocked/1.0")
    server.client().get("/api/v2/users/me")  # opens the connection first (opening one waits for the write lock)
    holder = sqlite3.connect(server.db_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        assert statuses_within(5, client, *[("/api/v2/users/me", {})] * 3) == [200] * 3
        time.sleep(0.5)  # two flush intervals: the flusher is waiting on the lock
        mine = schema.request_journal.c.client.startswith("sqlite-unblocked")
        with server.read() as conn:
            assert conn.execute(select(func.count()).select_from(schema.request_journal).where(mine)).scalar_one() == 0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(entries(server, "sqlite-unblocked/1.0")) == 3
