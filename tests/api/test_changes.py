"""The change feed (``serve --change-sequence``): every change once, in commit order, without a gap; 410 once a
position has left the retention window; long polls; admins only, and nowhere unless enabled."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from tests.conftest import ADMIN, AGENT, Server, start_server
from tests.helpers import clock, create_ticket, seeded_database_url

from deskstream import demo
from deskstream.settings import Settings

CHANGES = "/api/v2/incremental/changes"


def follow(client: httpx.Client, since: int = 0, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every change after ``since`` to the end of the feed, by its ``next_page`` links; and the last seq."""
    changes: list[dict[str, Any]] = []
    page = client.get(CHANGES, params={"since": since, **params})
    while True:
        assert page.status_code == 200, page.text
        body = page.json()
        changes += body["changes"]
        if body["end_of_stream"]:
            return changes, body["last_seq"]
        page = client.get(body["next_page"])


@pytest.fixture(scope="module")
def feed(make_app: Callable[..., Server]) -> Server:
    return make_app("--change-sequence", "--rate-limit", "off", "--clock", "sim")


@pytest.fixture
def admin(feed: Server) -> httpx.Client:
    return feed.client(ADMIN)


def test_a_ticket_created_and_updated_is_a_change_per_version_each_with_the_record_as_its_export_serves_it(
    admin: httpx.Client,
) -> None:
    _, start = follow(admin)
    ticket = create_ticket(admin, subject="Feed")
    admin.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"status": "pending", "comment": {"body": "ok"}}})
    changes, last = follow(admin, start)
    mine = [c for c in changes if c["resource"] == "tickets" and c["id"] == ticket["id"]]
    assert [c["record"]["status"] for c in mine] == ["new", "pending"]
    assert [c["seq"] for c in changes] == list(range(start + 1, last + 1))
    events = [c for c in changes if c["resource"] == "ticket_events" and c["record"]["ticket_id"] == ticket["id"]]
    assert len(events) == 2 and any(e["event_type"] == "Comment" for e in events[1]["record"]["child_events"])
    clock(admin, advance=61)
    exported = admin.get("/api/v2/incremental/tickets/cursor", params={"start_time": 0}).json()["tickets"]
    assert mine[-1]["record"] == next(t for t in exported if t["id"] == ticket["id"])


def test_a_deleted_ticket_is_a_tombstone_and_a_renamed_user_is_the_user_as_renamed(admin: httpx.Client) -> None:
    _, start = follow(admin)
    ticket = create_ticket(admin, subject="Doomed")
    assert admin.delete(f"/api/v2/tickets/{ticket['id']}").status_code == 204
    user = admin.post("/api/v2/users", json={"user": {"name": "Old", "email": "feed-rename@example.com"}}).json()
    admin.put(f"/api/v2/users/{user['user']['id']}", json={"user": {"name": "New"}})
    changes, _ = follow(admin, start)
    tickets = [c for c in changes if c["resource"] == "tickets" and c["id"] == ticket["id"]]
    assert [c["deleted"] for c in tickets] == [False, True] and tickets[-1]["record"]["status"] == "deleted"
    users = [c["record"]["name"] for c in changes if c["resource"] == "users" and c["id"] == user["user"]["id"]]
    assert users == ["Old", "New"]


def test_a_since_older_than_the_retention_window_is_gone_and_the_answer_says_where_to_resume(
    make_app: Callable[..., Server],
) -> None:
    server = make_app("--change-sequence", "--rate-limit", "off", "--clock", "sim", "--retention", "1d")
    admin = server.client(ADMIN)
    create_ticket(admin)
    _, mark = follow(admin)
    clock(admin, advance=2 * 86_400)
    expired = admin.get(CHANGES, params={"since": 0})
    assert expired.status_code == 410
    body = expired.json()
    assert body["error"] == "CursorExpired" and "full resync" in body["description"]
    assert body["high_water_mark"] == mark and body["resync_since"] == mark
    assert admin.get(CHANGES, params={"since": mark}).json()["end_of_stream"] is True
    create_ticket(admin)  # a new change, inside the window: following from the mark goes on
    assert [c["resource"] for c in follow(admin, mark)[0]].count("tickets") == 1


def test_a_history_stamped_months_ago_but_just_written_is_all_in_the_feed(make_app: Callable[..., Server]) -> None:
    """Retention counts from when a change entered the feed: the demo's 90 days of history, generated at start, are
    served from ``since=0`` under the default 30 days."""
    server = make_app("--change-sequence", "--rate-limit", "off",
                      seed=lambda store: demo.seed(store, int(time.time()), tickets=20))  # fmt: skip
    changes, _ = follow(server.client(ADMIN))
    oldest = min(c["record"]["created_at"] for c in changes if c["resource"] == "tickets")
    assert oldest < time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60 * 86_400))


def test_pruning_drops_only_what_left_the_window_and_a_since_before_it_is_gone(
    make_app: Callable[..., Server],
) -> None:
    server = make_app("--change-sequence", "--rate-limit", "off", "--clock", "sim", "--retention", "1d")
    admin = server.client(ADMIN)
    create_ticket(admin, subject="Old")
    _, old = follow(admin)
    now = clock(admin, advance=2 * 86_400)
    create_ticket(admin, subject="New")
    _, mark = follow(admin, old)
    store = server.store()
    try:
        assert store.prune_changes(now - 86_400) == old  # every change up to the old mark, none after
        assert store.prune_changes(now - 86_400) == 0
    finally:
        store.dispose()
    assert admin.get(CHANGES, params={"since": old - 1}).status_code == 410
    kept, _ = follow(admin, old)
    assert [c["seq"] for c in kept] == list(range(old + 1, mark + 1))


def test_a_since_past_the_high_water_mark_is_not_this_feeds_and_is_gone_too(admin: httpx.Client) -> None:
    _, mark = follow(admin)
    assert admin.get(CHANGES, params={"since": mark + 1}).status_code == 410


@pytest.mark.parametrize("params", [{"since": "-1"}, {"since": "x"}, {"since": "9" * 5000}, {"since": "1" * 20},
                                    {"per_page": "0"}, {"per_page": "1001"},
                                    {"wait": "61"}, {"wait": "nan"}, {"wait": "soon"}])  # fmt: skip
def test_bad_parameters_are_a_400_in_zendesks_shape(admin: httpx.Client, params: dict[str, str]) -> None:
    answer = admin.get(CHANGES, params=params)
    assert answer.status_code == 400 and answer.json()["error"] == "InvalidValue"


def test_a_long_poll_returns_when_a_change_arrives_and_at_the_wait_when_none_does(admin: httpx.Client) -> None:
    _, mark = follow(admin)
    started = time.monotonic()
    assert admin.get(CHANGES, params={"since": mark, "wait": 1}).json()["count"] == 0
    assert 0.9 <= time.monotonic() - started < 5

    answered: list[tuple[float, dict[str, Any]]] = []

    def poll() -> None:
        body = admin.get(CHANGES, params={"since": mark, "wait": 30}).json()
        answered.append((time.monotonic(), body))

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(0.5)
    written = time.monotonic()
    create_ticket(admin, subject="Wake up")
    waiter.join(timeout=30)
    (at, body), = answered
    assert body["count"] > 0 and at - written < 5


def test_the_feed_is_in_the_openapi_description_with_its_parameters_and_its_410(admin: httpx.Client) -> None:
    operation = admin.get("/openapi.json").json()["paths"][CHANGES]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"since", "per_page", "wait"}
    assert "410" in operation["responses"]


def test_feed_pages_and_changes_are_counted_in_the_metrics_like_an_exports(admin: httpx.Client) -> None:
    def counted() -> tuple[float, float]:
        text = admin.get("/metrics").text
        values = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines() if "changes" in line
                  and not line.startswith("#")}  # fmt: skip
        return (values.get('deskstream_export_pages_total{stream="changes"}', 0.0),
                values.get('deskstream_export_items_total{stream="changes"}', 0.0))  # fmt: skip

    before = counted()
    changes, _ = follow(admin, per_page=5)
    after = counted()
    assert after[0] > before[0] and after[1] - before[1] == len(changes)


@pytest.mark.parametrize("retention", ["9m", "599", "0", "30x", "-1d"])
def test_a_retention_shorter_than_ten_minutes_or_not_a_duration_is_refused(retention: str) -> None:
    """A change pruned must be older than the exports' horizon, or the resync a 410 asks for could miss it."""
    with pytest.raises(ValidationError, match="retention"):
        Settings(retention=retention)


def test_only_admins_read_the_feed(feed: Server) -> None:
    assert feed.client(AGENT).get(CHANGES).status_code == 403
    assert feed.client(None).get(CHANGES).status_code == 401


def test_without_change_sequence_there_is_no_feed(server: Server) -> None:
    answer = server.client(ADMIN).get(CHANGES)
    assert answer.status_code == 404
    assert CHANGES not in server.client(ADMIN).get("/openapi.json").json()["paths"]


def test_the_feed_is_rate_limited_like_the_exports(make_app: Callable[..., Server]) -> None:
    admin = make_app("--change-sequence", "--rate-limit", "2").client(ADMIN)
    assert [admin.get(CHANGES).status_code for _ in range(2)] == [200, 200]
    refused = admin.get(CHANGES)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


# Two servers, concurrent writers ------------------------------------------------------------------------------------
WRITERS, WRITES = 4, 15


@pytest.fixture(params=["sqlite", "postgresql"])
def two_servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Server]]:
    with seeded_database_url(request.param, tmp_path, "feed") as url:
        servers = [start_server(tmp_path, "--change-sequence", "--rate-limit", "off", db_url=url) for _ in range(2)]
        try:
            yield list(servers)
        finally:
            for server in servers:
                server.stop()


def test_under_writers_on_two_servers_a_reader_gets_every_change_once_in_order_and_every_final_version(
    two_servers: list[Server],
) -> None:
    """Writers on both servers create and update tickets while a reader long-polls the feed on the first; once the
    writers stop, the reader has each seq once, without a gap, and each ticket's last change is its final state."""
    reader = two_servers[0].client(ADMIN)
    seen: list[dict[str, Any]] = []
    failures: list[str] = []
    done = threading.Event()

    def patient(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A request as a well-behaved client sends it on a loaded machine: a 503 is waited out as told."""
        for _ in range(20):
            answer = client.request(method, url, **kwargs)
            if answer.status_code != 503:
                break
            time.sleep(float(answer.headers.get("Retry-After", "1")))
        if answer.status_code >= 300:
            failures.append(f"{answer.request.method} {answer.request.url.path}: {answer.status_code} {answer.text}")
        return answer

    def read() -> None:
        since = 0
        try:
            while True:
                # Only a page asked for after the last write was answered can show the end: one asked for before
                # may have been read before that write committed, and answered after.
                writers_done = done.is_set()
                body = patient(reader, "GET", CHANGES, params={"since": since, "wait": 1}).json()
                seen.extend(body["changes"])
                since = body["last_seq"]
                if writers_done and body["end_of_stream"]:
                    return
        except Exception as error:  # the main thread asserts on it
            failures.append(f"reader: {error!r}")

    def write(n: int) -> None:
        client = two_servers[n % 2].client(ADMIN)
        try:
            for i in range(WRITES):
                ticket = {"subject": f"w{n}-{i}", "comment": {"body": "x"}}
                created = patient(client, "POST", "/api/v2/tickets", json={"ticket": ticket})
                change = {"ticket": {"priority": "high", "tags": [f"w{n}"]}}
                patient(client, "PUT", f"/api/v2/tickets/{created.json()['ticket']['id']}", json=change)
        except Exception as error:
            failures.append(f"writer {n}: {error!r}")

    following = threading.Thread(target=read)
    following.start()
    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    following.join(timeout=120)
    assert not following.is_alive() and failures == []

    assert [c["seq"] for c in seen] == list(range(1, len(seen) + 1))
    final: dict[int, dict[str, Any]] = {}
    for change in seen:
        if change["resource"] == "tickets":
            final[change["id"]] = change["record"]
    assert len(final) == WRITERS * WRITES
    for ticket_id, record in final.items():
        stored = reader.get(f"/api/v2/tickets/{ticket_id}").json()["ticket"]
        assert record["updated_at"] == stored["updated_at"] and record["tags"] == stored["tags"]
        assert record["priority"] == "high"
