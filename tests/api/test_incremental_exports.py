"""Following every export through HTTP on a real server: nothing lost, nothing stalls, links work as served."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from incremental_history import KNOWN, seed_history
from tests.conftest import AGENT, Server

EXPORTS = "/api/v2/incremental"


@pytest.fixture(scope="module")
def history_server(make_app: Callable[..., Server]) -> Server:
    return make_app("--rate-limit", "off", seed=seed_history)


@pytest.fixture
def client(history_server: Server) -> httpx.Client:
    return history_server.client()


def follow(client: httpx.Client, url: str, link: str, key: str) -> list[dict[str, Any]]:
    """Pages from ``url`` following ``link`` until ``end_of_stream``; returns the pages' bodies."""
    pages = []
    for _ in range(1000):
        response = client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        if body["end_of_stream"] is True:
            return pages
        assert body[link] != url, "the next link must move"
        url = body[link]
    raise AssertionError(f"{key} export did not end")


def start_of(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["start_time"][0])


def test_following_next_page_serves_every_ticket_with_pages_that_move_forward(client: httpx.Client) -> None:
    pages = follow(client, f"{EXPORTS}/tickets.json?start_time=0", "next_page", "tickets")
    seen: dict[int, dict[str, Any]] = {}
    for page in pages:
        assert page["count"] == len(page["tickets"])
        for ticket in page["tickets"]:
            seen[ticket["id"]] = ticket
        assert page["end_time"] == max(t["generated_timestamp"] for t in page["tickets"])
        assert start_of(page["next_page"]) == page["end_time"]
    assert len(seen) == KNOWN.tickets
    storm_pages = [p for p in pages if any(t["generated_timestamp"] == KNOWN.storm_second for t in p["tickets"])]
    assert any(p["count"] > 1000 for p in storm_pages), "the storm is served whole on one page"
    assert all(start_of(a["next_page"]) < start_of(b["next_page"]) for a, b in zip(pages, pages[1:-1]))
    last = pages[-1]
    assert last["next_page"].startswith(f"{client.base_url}{EXPORTS}/tickets")


def test_following_after_url_serves_every_ticket_exactly_once(client: httpx.Client) -> None:
    pages = follow(client, f"{EXPORTS}/tickets/cursor.json?start_time=0&per_page=500", "after_url", "tickets")
    ids = [t["id"] for page in pages for t in page["tickets"]]
    assert len(ids) == len(set(ids)) == KNOWN.tickets
    assert all(len(page["tickets"]) <= 500 and "count" not in page and "end_time" not in page for page in pages)
    assert pages[0]["before_cursor"] is None and pages[1]["before_cursor"] == pages[0]["after_cursor"]
    again = client.get(pages[-1]["after_url"]).json()
    assert again["tickets"] == [] and again["end_of_stream"] is True
    assert again["after_cursor"] == pages[-1]["after_cursor"]


def test_a_cursor_from_tap_zendesk_start_time_and_after_cursor_works(client: httpx.Client) -> None:
    first = client.get(f"{EXPORTS}/tickets/cursor.json", params={"start_time": "946684800.0", "per_page": 1})
    body = first.json()
    assert first.status_code == 200 and body["end_of_stream"] is False and len(body["tickets"]) == 1
    second = client.get(f"{EXPORTS}/tickets/cursor.json", params={"cursor": body["after_cursor"], "per_page": 1})
    assert second.json()["tickets"][0]["id"] != body["tickets"][0]["id"]


def test_links_are_built_from_the_requests_host_and_keep_the_other_parameters(client: httpx.Client) -> None:
    response = client.get(
        f"{EXPORTS}/tickets?start_time=0&per_page=3&include=comment_count", headers={"Host": "desk.example:8443"}
    )
    next_page = response.json()["next_page"]
    assert next_page.startswith("http://desk.example:8443/api/v2/incremental/tickets?")
    assert parse_qs(urlsplit(next_page).query) == {
        "start_time": [str(response.json()["end_time"])], "per_page": ["3"], "include": ["comment_count"]
    }
    assert response.json()["tickets"][0]["url"].startswith("http://desk.example:8443/")


def test_deleted_records_appear_as_deleted_unless_excluded(client: httpx.Client) -> None:
    pages = follow(client, f"{EXPORTS}/tickets/cursor?start_time=0", "after_url", "tickets")
    status = {t["id"]: t["status"] for p in pages for t in p["tickets"]}
    assert status[KNOWN.deleted_ticket] == "deleted"
    live = follow(client, f"{EXPORTS}/tickets/cursor?start_time=0&exclude_deleted=true", "after_url", "tickets")
    assert KNOWN.deleted_ticket not in {t["id"] for p in live for t in p["tickets"]}
    users = {u["id"]: u for u in client.get(f"{EXPORTS}/users?start_time=0").json()["users"]}
    assert users[KNOWN.deleted_user]["active"] is False and users[KNOWN.deleted_user]["deleted_at"]
    orgs = {o["id"]: o for o in client.get(f"{EXPORTS}/organizations?start_time=0").json()["organizations"]}
    assert orgs[KNOWN.deleted_organization]["deleted_at"]


def test_users_follow_both_ways_and_sideload_identities_organizations_and_groups(client: httpx.Client) -> None:
    timed = follow(client, f"{EXPORTS}/users?start_time=0&per_page=2", "next_page", "users")
    cursored = follow(client, f"{EXPORTS}/users/cursor?start_time=0&per_page=2", "after_url", "users")
    assert {u["id"] for p in timed for u in p["users"]} == {u["id"] for p in cursored for u in p["users"]}
    body = client.get(f"{EXPORTS}/users?start_time=0&include=identities,organizations,groups").json()
    emails = {u["id"]: u["email"] for u in body["users"] if u["email"]}
    assert {i["user_id"]: i["value"] for i in body["identities"]} == emails
    assert all(i["type"] == "email" for i in body["identities"])
    assert {o["id"] for o in body["organizations"]} == {u["organization_id"] for u in body["users"]} - {None}
    assert body["groups"] == []


def test_ticket_sideloads_add_records_and_per_ticket_metrics(client: httpx.Client) -> None:
    include = "users,groups,organizations,brands,ticket_forms,metric_sets,dates,comment_count,no_such_thing"
    body = client.get(f"{EXPORTS}/tickets?start_time=0&per_page=10&include={include}").json()
    tickets = body["tickets"]
    assert body["brands"] == [] and body["ticket_forms"] == [] and body["groups"] == []
    user_ids = {u["id"] for u in body["users"]}
    assert all(t["requester_id"] in user_ids and t["assignee_id"] in user_ids | {None} for t in tickets)
    assert {o["id"] for o in body["organizations"]} == {t["organization_id"] for t in tickets} - {None}
    solved = next(t for t in tickets if t["status"] == "solved")
    assert solved["comment_count"] == 2
    assert solved["dates"]["solved_at"] == solved["updated_at"]
    metric_set = solved["metric_set"]
    assert metric_set["ticket_id"] == solved["id"] and metric_set["solved_at"] == solved["updated_at"]
    assert metric_set["replies"] == 1 and metric_set["assignee_stations"] == 1
    assert metric_set["full_resolution_time_in_minutes"]["calendar"] == 0


def test_last_audits_is_refused_as_zendesk_refuses_it(client: httpx.Client) -> None:
    for path in ("tickets", "tickets/cursor"):
        response = client.get(f"{EXPORTS}/{path}?start_time=0&include=last_audits")
        assert response.status_code == 400
        assert response.json()["error"] == "InvalidValue"


def test_metric_events_with_page_size_use_zendesks_cursor_pagination(client: httpx.Client) -> None:
    url: str | None = f"{EXPORTS}/ticket_metric_events.json?start_time=0&page[size]=100"
    ids: list[int] = []
    pages = 0
    while url and pages < 500:
        body = client.get(url).json()
        pages += 1
        assert len(body["ticket_metric_events"]) <= 100
        assert set(body["meta"]) == {"has_more", "after_cursor", "before_cursor"}
        ids += [e["id"] for e in body["ticket_metric_events"]]
        url = body["links"]["next"]
        assert (url is not None) == body["meta"]["has_more"]
        assert url is None or url.startswith(str(client.base_url))
    assert pages > 1 and len(ids) == len(set(ids)) and KNOWN.metric_event_ids <= set(ids)
    first = client.get(f"{EXPORTS}/ticket_metric_events?start_time=0&page[size]=3").json()
    second = client.get(first["links"]["next"]).json()
    back = client.get(second["links"]["prev"]).json()
    assert back["ticket_metric_events"] == first["ticket_metric_events"]
    too_big = client.get(f"{EXPORTS}/ticket_metric_events?start_time=0&page[size]=101")
    assert too_big.status_code == 400


def test_samples_answer_at_most_fifty_items_and_no_next_page(client: httpx.Client) -> None:
    for resource in ("tickets", "ticket_events", "users", "organizations"):
        body = client.get(f"{EXPORTS}/{resource}/sample.json?start_time=0").json()
        assert 0 < len(body[resource]) <= 50 and body["count"] == len(body[resource])
        assert body["next_page"] is None
    assert client.get(f"{EXPORTS}/ticket_metric_events/sample?start_time=0").status_code == 404


def test_a_change_is_not_exported_until_it_is_a_minute_old(client: httpx.Client) -> None:
    created = client.post("/api/v2/tickets.json", json={"ticket": {"subject": "fresh", "comment": {"body": "x"}}})
    assert created.status_code == 201
    fresh = created.json()["ticket"]["id"]
    start = int(time.time()) - 600
    timed = follow(client, f"{EXPORTS}/tickets?start_time={start}", "next_page", "tickets")
    cursored = follow(client, f"{EXPORTS}/tickets/cursor?start_time={start}", "after_url", "tickets")
    assert fresh not in {t["id"] for p in timed + cursored for t in p["tickets"]}


def test_discovery_probes_with_start_time_now_get_an_empty_page_not_an_error(client: httpx.Client) -> None:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for path in ("organizations.json", "ticket_metric_events.json"):
        response = client.get(f"{EXPORTS}/{path}", params={"start_time": now})
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 0 and body["end_of_stream"] is True
    assert client.get(f"{EXPORTS}/tickets.json", params={"start_time": now}).status_code == 422


@pytest.mark.parametrize(
    "path", ["tickets", "tickets/cursor", "ticket_events", "ticket_metric_events", "users", "users/cursor",
             "organizations", "tickets/sample"],
)
def test_exports_are_for_admins_only(history_server: Server, path: str) -> None:
    anonymous = history_server.client(None).get(f"{EXPORTS}/{path}.json?start_time=0")
    assert anonymous.status_code == 401 and anonymous.json() == {"error": "Couldn't authenticate you"}
    agent = history_server.client(AGENT).get(f"{EXPORTS}/{path}?start_time=0")
    assert agent.status_code == 403 and agent.json()["error"]["title"] == "Forbidden"
