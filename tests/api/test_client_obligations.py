"""What every client needs from the server (spec/clients-reference.md § "What every client needs", items 1–8).

One test per obligation, through HTTP, on a server whose history was written half an hour ago (older than zenpy's
five minutes and than the one-minute horizon).
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from tests.conftest import ADMIN, AGENT, END_USER, Server, seed_accounts

from deskstream import demo
from deskstream.clock import FixedClock
from deskstream.domain.people import GroupInput
from deskstream.domain.tickets import CommentInput, CustomFieldInput, TicketInput
from deskstream.domain.timefmt import iso
from deskstream.service import Actor, Desk
from deskstream.store import Store

TICKETS = 3
METRIC_EVENTS = 105  # more than one page of 100, Zendesk's cursor page maximum
ISO_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def seed_history(store: Store) -> None:
    """Accounts, two groups, tickets with custom fields and tags, and metric events, all 30 minutes old."""
    now = int(time.time())
    ids = seed_accounts(store, now)
    clock = FixedClock(now - 1800)
    desk = Desk(store, clock)
    for name in ("Support", "Billing"):
        desk.people.create_group(GroupInput(name=name))
    admin = Actor(ids["admin"], "admin", "api")
    ticket_ids = []
    for i in range(TICKETS):
        clock.value += 10
        ticket = desk.tickets.create(
            TicketInput(
                subject=f"Ticket {i}",
                comment=CommentInput(body=f"Body {i}"),
                tags=["obligations", f"t{i}"],
                custom_fields=[CustomFieldInput(id=360_000_001, value=f"v{i}")],
            ),
            admin,
        )
        clock.value += 10
        desk.tickets.update(ticket["id"], TicketInput(status="open", priority="high"), admin)
        ticket_ids.append(ticket["id"])
    with store.writing() as writer:
        first = writer.allocate("metric_events", METRIC_EVENTS)
        events = []
        for n in range(METRIC_EVENTS):
            ts = now - 1700 + n
            events.append(
                {
                    "id": first + n,
                    "ticket_id": ticket_ids[n % TICKETS],
                    "metric": "agent_work_time",
                    "instance_id": 1,
                    "type": "measure",
                    "time": iso(ts),
                    "_ts": ts,
                }
            )
        writer.add_metric_events(events)


@pytest.fixture(scope="module")
def history(make_app: Callable[..., Server]) -> Server:
    return make_app("--rate-limit", "off", seed=seed_history)


@pytest.fixture
def client(history: Server) -> httpx.Client:
    return history.client(ADMIN)


def _cursor_walk(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Follow a cursor export as tap-zendesk does (``cursor=<after_cursor>`` until ``end_of_stream``)."""
    pages = [client.get(path, params=params).json()]
    kept = {name: value for name, value in params.items() if name != "start_time"}
    while pages[-1]["end_of_stream"] is not True:
        assert len(pages) < 50, "the cursor export never ended"
        pages.append(client.get(path, params={"cursor": pages[-1]["after_cursor"], **kept}).json())
    return pages


# 1 ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/incremental/tickets",
        "/api/v2/incremental/tickets/cursor",
        "/api/v2/incremental/ticket_events",
        "/api/v2/incremental/ticket_metric_events",
        "/api/v2/incremental/users",
        "/api/v2/incremental/users/cursor",
        "/api/v2/incremental/organizations",
        "/api/v2/groups",
    ],
)
def test_1_every_path_answers_the_same_with_and_without_the_json_suffix(client: httpx.Client, path: str) -> None:
    plain, suffixed = client.get(path, params={"start_time": 0}), client.get(f"{path}.json", params={"start_time": 0})
    assert plain.status_code == suffixed.status_code == 200
    assert plain.json() == suffixed.json()


# 2 ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path", ["/api/v2/incremental/tickets", "/api/v2/incremental/tickets/cursor", "/api/v2/incremental/organizations"]
)
def test_2_start_time_is_accepted_as_an_integer_a_decimal_string_and_an_iso_date(
    client: httpx.Client, path: str
) -> None:
    key = "organizations" if "organizations" in path else "tickets"
    answers = [
        client.get(f"{path}.json", params={"start_time": value})
        for value in ("946684800", "946684800.0", "2000-01-01T00:00:00Z")
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len({tuple(item["id"] for item in a.json()[key]) for a in answers}) == 1


# 3 ---------------------------------------------------------------------------------------------------------------
def test_3_next_links_are_absolute_urls_on_the_scheme_and_host_the_request_used(client: httpx.Client) -> None:
    host = "desk.example.test:8123"
    base = f"http://{host}/api/v2/"

    def get(path: str, **params: Any) -> dict[str, Any]:
        response = client.get(f"/api/v2/{path}", params=params, headers={"Host": host})
        assert response.status_code == 200
        return response.json()

    assert get("incremental/tickets.json", start_time=0, per_page=1)["next_page"].startswith(
        base + "incremental/tickets"
    )
    assert get("incremental/tickets/cursor.json", start_time=0, per_page=1)["after_url"].startswith(
        base + "incremental/tickets/cursor"
    )
    assert get("incremental/ticket_metric_events.json", start_time=0, **{"page[size]": 1})["links"][
        "next"
    ].startswith(base + "incremental/ticket_metric_events")
    assert get("groups.json", **{"page[size]": 1})["links"]["next"].startswith(base + "groups")


# 4 ---------------------------------------------------------------------------------------------------------------
def test_4_end_of_stream_is_a_json_boolean_and_cursor_pages_carry_after_cursor_and_after_url(
    client: httpx.Client,
) -> None:
    timed = client.get("/api/v2/incremental/tickets.json", params={"start_time": 0}).json()
    assert timed["end_of_stream"] is True
    pages = _cursor_walk(client, "/api/v2/incremental/tickets/cursor.json", start_time=0, per_page=1)
    assert len(pages) >= TICKETS
    assert all(isinstance(page["end_of_stream"], bool) for page in pages)
    assert [page["end_of_stream"] for page in pages].count(True) == 1
    for page in pages:
        assert page["after_cursor"]
        assert page["after_url"].startswith(str(client.base_url))
        assert httpx.URL(page["after_url"]).params["cursor"] == page["after_cursor"]
    assert len({t["id"] for page in pages for t in page["tickets"]}) == TICKETS


# 5 ---------------------------------------------------------------------------------------------------------------
def test_5_ticket_metric_events_are_time_based_by_default_and_cursor_paged_with_page_size(
    client: httpx.Client,
) -> None:
    path = "/api/v2/incremental/ticket_metric_events.json"
    timed = client.get(path, params={"start_time": 0}).json()
    assert {"ticket_metric_events", "count", "end_time", "next_page"} <= timed.keys()
    total = timed["count"]  # ours, and whatever the SLA engine emitted for the tickets
    assert total >= METRIC_EVENTS

    seen: list[int] = []
    params: dict[str, Any] = {"start_time": 0, "page[size]": 100}
    while True:
        page = client.get(path, params=params).json()
        assert len(page["ticket_metric_events"]) <= 100
        assert set(page["meta"]) >= {"has_more", "after_cursor", "before_cursor"}
        assert set(page["links"]) >= {"next", "prev"}
        seen += [e["id"] for e in page["ticket_metric_events"]]
        if not page["meta"]["has_more"]:
            break
        assert len(seen) < 2 * total
        params = {"start_time": 0, "page[size]": 100, "page[after]": page["meta"]["after_cursor"]}
    assert len(seen) == len(set(seen)) == total

    oversized = client.get(path, params={"start_time": 0, "page[size]": 1000})
    assert oversized.status_code in (200, 400)
    if oversized.status_code == 200:
        assert len(oversized.json()["ticket_metric_events"]) <= 100


# 6 ---------------------------------------------------------------------------------------------------------------
def test_6_every_credential_form_reaches_an_incremental_export(history: Server) -> None:
    def basic(credentials: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}

    forms = {
        "basic email:password": basic(f"{demo.ADMIN_EMAIL}:{demo.PASSWORD}"),
        "basic email/token:TOKEN": basic(f"{demo.ADMIN_EMAIL}/token:{demo.ADMIN_TOKEN}"),
        "bearer": {"Authorization": f"Bearer {demo.ADMIN_TOKEN}"},
    }
    anonymous = history.client(None)
    for name, headers in forms.items():
        answer = anonymous.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0}, headers=headers)
        assert answer.status_code == 200, name
        assert len(answer.json()["tickets"]) == TICKETS
    wrong = anonymous.get(
        "/api/v2/incremental/tickets.json", params={"start_time": 0}, headers={"Authorization": "Bearer nope"}
    )
    assert (wrong.status_code, wrong.json()) == (401, {"error": "Couldn't authenticate you"})
    agent = history.client(AGENT).get("/api/v2/incremental/tickets.json", params={"start_time": 0})
    assert agent.status_code == 403
    assert agent.json()["error"]["title"] == "Forbidden"


# 7 ---------------------------------------------------------------------------------------------------------------
def test_7_tickets_carry_fields_and_generated_timestamp_and_metric_times_are_whole_utc_seconds(
    client: httpx.Client,
) -> None:
    for path in ("/api/v2/incremental/tickets.json", "/api/v2/incremental/tickets/cursor.json"):
        tickets = client.get(path, params={"start_time": 0}).json()["tickets"]
        assert len(tickets) == TICKETS
        for ticket in tickets:
            assert ticket["fields"] == ticket["custom_fields"]
            assert {"id": 360_000_001, "value": ticket["fields"][0]["value"]} in ticket["fields"]
            assert isinstance(ticket["generated_timestamp"], int)
    timed = client.get("/api/v2/incremental/ticket_metric_events.json", params={"start_time": 0}).json()
    assert all(ISO_SECOND.match(event["time"]) for event in timed["ticket_metric_events"])
    assert timed["end_time"] < time.time() - 5 * 60  # zenpy stops early on anything newer


# 8 ---------------------------------------------------------------------------------------------------------------
#: The list endpoints tap-zendesk probes (spec/clients-reference.md § 2) → Zendesk's list key: the path's own name,
#: but for the last three.
DISCOVERY = {
    **{path: path for path in ("groups", "macros", "tags", "ticket_fields", "group_memberships", "satisfaction_ratings",
                               "user_fields", "organization_fields", "ticket_forms")},
    "slas/policies": "sla_policies",
    "search": "results",
    "channels/voice/phone_numbers": "phone_numbers",
}


@pytest.mark.parametrize("path", DISCOVERY)
def test_8_discovery_list_endpoints_answer_200_with_zendesks_list_key_and_both_paginations(
    history: Server, path: str
) -> None:
    key = DISCOVERY[path]
    for who in (ADMIN, AGENT):
        client = history.client(who)
        probe = client.get(f"/api/v2/{path}.json", params={"per_page": 1})  # tap-zendesk's check_access
        assert probe.status_code == 200, probe.text
        assert isinstance(probe.json()[key], list)
        cursor = client.get(f"/api/v2/{path}", params={"page[size]": 1}).json()
        assert isinstance(cursor[key], list) and len(cursor[key]) <= 1
        assert set(cursor["meta"]) >= {"has_more", "after_cursor", "before_cursor"}
        assert set(cursor["links"]) >= {"next", "prev"}


def test_8_paging_through_a_discovery_list_with_page_size_reaches_every_item(client: httpx.Client) -> None:
    names: list[str] = []
    params: dict[str, Any] = {"page[size]": 1}
    while True:
        page = client.get("/api/v2/tags.json", params=params).json()
        names += [tag["name"] for tag in page["tags"]]
        if not page["meta"]["has_more"]:
            break
        params = {"page[size]": 1, "page[after]": page["meta"]["after_cursor"]}
    assert names[0] == "obligations"  # the most used tag first
    assert sorted(names) == sorted(["obligations"] + [f"t{i}" for i in range(TICKETS)])


def test_8_search_finds_a_user_by_email_as_zenpy_reads_results(client: httpx.Client) -> None:
    found = client.get("/api/v2/search.json", params={"query": f"type:user email:{demo.AGENT_EMAIL}"}).json()
    assert found["count"] == 1 and found["next_page"] is None
    assert found["results"][0]["email"] == demo.AGENT_EMAIL
    assert found["results"][0]["result_type"] == "user"
    nothing = client.get("/api/v2/search.json", params={"query": "type:ticket status:open"}).json()
    assert (nothing["results"], nothing["count"], nothing["next_page"]) == ([], 0, None)


def test_account_settings_show_organization_access_as_airbytes_check_requires(history: Server) -> None:
    for who in (ADMIN, AGENT):
        settings = history.client(who).get("/api/v2/account/settings.json")
        assert settings.status_code == 200, settings.text
        assert settings.json()["settings"]["active_features"]["organization_access_enabled"] is True
    assert history.client(END_USER).get("/api/v2/account/settings.json").status_code == 403


def test_ticket_audits_page_with_page_size_as_tap_zendesk_reads_them(client: httpx.Client) -> None:
    ticket_id = client.get("/api/v2/tickets.json").json()["tickets"][0]["id"]
    path = f"/api/v2/tickets/{ticket_id}/audits.json"
    first = client.get(path, params={"page[size]": 1}).json()
    assert first["meta"]["has_more"] is True
    second = client.get(path, params={"page[size]": 1, "page[after]": first["meta"]["after_cursor"]}).json()
    assert second["meta"]["has_more"] is False
    audits = first["audits"] + second["audits"]
    assert len(audits) == 2
    for audit in audits:
        assert {"created_at", "via", "metadata"} <= audit.keys()
        assert audit["events"] and all("type" in event for event in audit["events"])
    assert any(e.get("field_name") == "status" and e.get("value") == "open" for e in audits[1]["events"])
