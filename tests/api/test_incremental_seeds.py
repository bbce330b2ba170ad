"""The seeds' own ``curl`` commands against a real server: every field their samples and parsers read is there.

Seed 000 (``incremental/tickets``) reads the full ticket object; seed 001's prose describes audit-style ticket
events and the ``comment_events`` sideload, its sample body the metric-event shape served at
``ticket_metric_events`` (see the seeds' README).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from incremental_history import KNOWN, seed_history
from tests.conftest import Server

#: Every ``tickets[i].<field>`` that seed 000's sample parser reads, and the keys of its sample body's tickets.
SEED_000_TICKET_FIELDS = (
    "requester_id allow_attachments allow_channelback assignee_email assignee_id attribute_value_ids brand_id "
    "collaborator_ids collaborators comment created_at custom_fields custom_status_id description due_at email_cc_ids "
    "email_ccs external_id follower_ids followers followup_ids forum_topic_id from_messaging_channel group_id "
    "has_incidents id is_public macro_id macro_ids metadata organization_id priority problem_id raw_subject recipient "
    "requester safe_update satisfaction_rating sharing_agreement_ids status subject submitter_id tags ticket_form_id "
    "type updated_at updated_stamp url via via_followup_source_id via_id voice_comment"
).split()
SEED_001_EVENT_FIELDS = (
    "id ticket_id timestamp created_at updater_id via via_reference_id system metadata event_type merged_ticket_ids "
    "child_events comment_present comment_public"
).split()
SEED_001_COMMENT_FIELDS = (
    "id via via_reference_id type author_id body html_body public attachments audit_id created_at event_type"
).split()
SEED_001_METRIC_FIELDS = ("id", "instance_id", "metric", "ticket_id", "time", "type")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="module")
def history_server(make_server: Callable[..., Server]) -> Server:
    return make_server("--rate-limit", "off", seed=seed_history)


def seed_curl(server: Server, path: str, *extra: str) -> dict[str, Any]:
    """The seed's command, with only the host, scheme and credentials changed."""
    command = [
        "curl", "-s", "-S", "-f", "-u", "admin@example.com:deskstream", "-G", "-d", "start_time=0", *extra,
        "-H", "Accept: application/json", f"{server.base_url}{path}",
    ]
    out = subprocess.run(command, capture_output=True, check=True, timeout=60)
    body: dict[str, Any] = json.loads(out.stdout)
    return body


def test_seed_000s_curl_answers_every_field_its_sample_and_parser_read(history_server: Server) -> None:
    body = seed_curl(history_server, "/api/v2/incremental/tickets")
    assert isinstance(body["count"], int) and body["count"] == len(body["tickets"]) > 0
    assert body["end_of_stream"] in (True, False)
    assert isinstance(body["end_time"], int)
    assert body["next_page"].startswith(f"{history_server.base_url}/api/v2/incremental/tickets?")
    for ticket in body["tickets"]:
        missing = [name for name in SEED_000_TICKET_FIELDS if name not in ticket]
        assert not missing, f"ticket {ticket['id']} lacks {missing}"
        assert isinstance(ticket["generated_timestamp"], int)
        assert "channel" in ticket["via"] and "source" in ticket["via"]
        assert ticket["url"].startswith(history_server.base_url)
        assert ISO.match(ticket["created_at"]) and ISO.match(ticket["updated_at"])
        assert ticket["fields"] == ticket["custom_fields"]
        # Write-only in Zendesk: the seed's empty placeholders, never an object a client would map (zenpy).
        assert (ticket["requester"], ticket["collaborators"], ticket["email_ccs"]) == ({}, [], {})
    assert any(t["collaborator_ids"] for t in body["tickets"])


def test_the_users_sideload_names_the_people_a_ticket_page_refers_to(history_server: Server) -> None:
    body = seed_curl(history_server, "/api/v2/incremental/tickets", "-d", "include=users")
    users = {u["id"]: u for u in body["users"]}
    referred = {t["requester_id"] for t in body["tickets"]} | {i for t in body["tickets"] for i in t["collaborator_ids"]}
    assert referred <= set(users)
    assert all(users[i]["email"] and users[i]["name"] for i in referred)


def test_seed_001s_curl_answers_audit_events_with_flat_children_and_comment_flags(history_server: Server) -> None:
    body = seed_curl(history_server, "/api/v2/incremental/ticket_events")
    assert {"count", "end_time", "next_page", "end_of_stream"} <= set(body)
    events = body["ticket_events"]
    assert events
    for event in events:
        assert [name for name in SEED_001_EVENT_FIELDS if name not in event] == []
        assert event["event_type"] == "Audit" and isinstance(event["via"], str)
        assert all("event_type" in child and "via" in child for child in event["child_events"])
    commented = [e for e in events if e["comment_present"]]
    assert commented and all(isinstance(e["comment_public"], bool) for e in commented)
    assert not any(c["event_type"] == "Comment" for e in events for c in e["child_events"])
    changes = [c for e in events for c in e["child_events"] if c["event_type"] == "Change"]
    assert any(c.get("status") == "solved" and "previous_value" in c for c in changes)


def test_seed_001s_curl_with_comment_events_adds_each_comment_as_a_child(history_server: Server) -> None:
    body = seed_curl(history_server, "/api/v2/incremental/ticket_events", "-d", "include=comment_events")
    comments = [c for e in body["ticket_events"] for c in e["child_events"] if c["event_type"] == "Comment"]
    assert comments
    for comment in comments:
        assert [name for name in SEED_001_COMMENT_FIELDS if name not in comment] == []
        assert comment["type"] == "Comment" and isinstance(comment["via"], dict)


def test_seed_001s_sample_fields_are_served_at_ticket_metric_events(history_server: Server) -> None:
    body = seed_curl(history_server, "/api/v2/incremental/ticket_metric_events")
    events = body["ticket_metric_events"]
    with history_server.client() as client:
        while not body["end_of_stream"]:
            body = client.get(body["next_page"]).json()
            events += body["ticket_metric_events"]
    for event in events:
        assert [name for name in SEED_001_METRIC_FIELDS if name not in event] == []
        assert ISO.match(event["time"])
    ours = {e["id"]: e for e in events if e["id"] in KNOWN.metric_event_ids}  # boundary seconds come twice
    assert len(ours) == len(KNOWN.metric_event_ids)
    by_type = {e["type"]: e for e in ours.values()}
    assert by_type["apply_sla"]["sla"]["policy"]["title"] == "Urgent"
    assert by_type["update_status"]["status"] == {"calendar": 12, "business": 0}
    assert by_type["breach"]["deleted"] is False
