"""Audits: the child events each kind of field writes, and the updated_at / generated_timestamp rules (spec/model.md).

The time rules run on a ``--clock sim`` server whose stored clock this test moves, so no test sleeps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import orjson
import pytest
from sqlalchemy import select
from tests.helpers import (
    create_ticket,
    sim,  # noqa: F401  (fixture: this module's server on the simulated clock)
)

from deskstream import demo
from deskstream.clock import SimClock
from deskstream.store import schema

if TYPE_CHECKING:
    from tests.conftest import Server  # the session's server fixture type (tests/conftest.py)

ADMIN = (demo.ADMIN_EMAIL, demo.PASSWORD)


def last_audit(client: httpx.Client, ticket_id: int) -> dict[str, Any]:
    return dict(client.get(f"/api/v2/tickets/{ticket_id}/audits").json()["audits"][-1])


def stored_events(server: Server, ticket_id: int) -> list[dict[str, Any]]:
    """The ``incremental/ticket_events`` items as stored (flat child events)."""
    e = schema.ticket_events
    with server.read() as conn:
        rows = conn.execute(select(e.c.json).where(e.c.ticket_id == ticket_id).order_by(e.c.id)).scalars()
        return [orjson.loads(row) for row in rows]


def test_the_create_audit_has_a_comment_and_one_create_event_per_field_set(admin: httpx.Client) -> None:
    ticket = create_ticket(admin, subject="New", priority="low", tags=["x"], custom_fields=[{"id": 7, "value": "v"}],
                           comment={"body": "first"})
    audit = last_audit(admin, ticket["id"])
    assert audit["events"][0]["type"] == "Comment" and audit["events"][0]["body"] == "first"
    created = {e["field_name"]: e["value"] for e in audit["events"][1:]}
    assert all(e["type"] == "Create" and "previous_value" not in e for e in audit["events"][1:])
    assert created == {
        "subject": "New",
        "status": "new",
        "priority": "low",
        "tags": ["x"],
        "requester_id": ticket["requester_id"],
        "submitter_id": ticket["submitter_id"],
        "7": "v",
    }


#: (field, first value, update) → the Change event's value and previous_value.
CHANGES: list[tuple[str, dict[str, Any], dict[str, Any], Any, Any]] = [
    ("status", {}, {"status": "pending"}, "pending", "new"),
    ("priority", {"priority": "low"}, {"priority": "urgent"}, "urgent", "low"),
    ("type", {}, {"type": "task"}, "task", None),
    ("subject", {"subject": "a"}, {"subject": "b"}, "b", "a"),
    ("due_at", {}, {"due_at": "2030-01-02T03:04:05+01:00"}, "2030-01-02T02:04:05Z", None),
    ("external_id", {"external_id": "e1"}, {"external_id": None}, None, "e1"),
    ("tags", {"tags": ["a", "b"]}, {"tags": ["b", "c"]}, ["b", "c"], ["a", "b"]),
    ("tags", {"tags": ["a"]}, {"additional_tags": ["z"]}, ["a", "z"], ["a"]),
    ("tags", {"tags": ["a", "b"]}, {"remove_tags": ["a"]}, ["b"], ["a", "b"]),
    ("9", {"custom_fields": [{"id": 9, "value": 1}]}, {"custom_fields": [{"id": 9, "value": 2}]}, 2, 1),
]


@pytest.mark.parametrize(("field", "initial", "update", "value", "previous"), CHANGES)
def test_each_field_change_is_one_change_event_with_value_and_previous_value(
    admin: httpx.Client, field: str, initial: dict[str, Any], update: dict[str, Any], value: Any, previous: Any
) -> None:
    ticket = create_ticket(admin, **initial)
    assert admin.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": update}).status_code == 200
    events = last_audit(admin, ticket["id"])["events"]
    assert events == [
        {"id": events[0]["id"], "type": "Change", "field_name": field, "value": value, "previous_value": previous}
    ]


def test_reference_fields_change_with_their_ids(admin: httpx.Client, agent: httpx.Client) -> None:
    group = admin.post("/api/v2/groups", json={"group": {"name": "Audit group"}}).json()["group"]["id"]
    org = admin.post("/api/v2/organizations", json={"organization": {"name": "Audit org"}}).json()["organization"]["id"]
    agent_id = agent.get("/api/v2/users/me").json()["user"]["id"]
    ticket = create_ticket(admin)
    change = {"assignee_id": agent_id, "group_id": group, "organization_id": org, "collaborator_ids": [agent_id]}
    admin.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": change})
    events = {e["field_name"]: (e["value"], e["previous_value"]) for e in last_audit(admin, ticket["id"])["events"]}
    assert events == {
        "assignee_id": (agent_id, None),
        "group_id": (group, None),
        "organization_id": (org, None),
        "collaborator_ids": ([agent_id], []),
    }


def test_the_export_form_flattens_children_with_added_and_removed_tags(admin: httpx.Client, server: Server) -> None:
    ticket = create_ticket(admin, tags=["keep", "drop"], custom_fields=[{"id": 3, "value": "x"}])
    change = {"tags": ["keep", "new"], "status": "open", "custom_fields": [{"id": 3, "value": "y"}]}
    admin.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": change})
    item = stored_events(server, ticket["id"])[-1]
    assert (item["event_type"], item["ticket_id"], item["via"]) == ("Audit", ticket["id"], "Web service")
    assert (item["comment_present"], item["comment_public"]) == (False, False)
    children = {c["event_type"] + ":" + next(k for k in c if k not in ("id", "via", "via_reference_id")): c
                for c in item["child_events"]}  # fmt: skip
    assert children["Change:status"]["status"] == "open" and children["Change:status"]["previous_value"] == "new"
    tags = children["Change:tags"]
    assert (tags["tags"], tags["added_tags"], tags["removed_tags"]) == (["keep", "new"], ["new"], ["drop"])
    assert children["Change:custom_ticket_fields"]["custom_ticket_fields"] == {"3": "y"}


def test_a_comment_is_a_comment_event_and_flags_the_export_item(admin: httpx.Client, server: Server) -> None:
    ticket = create_ticket(admin)
    admin.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"comment": {"body": "private", "public": False}}})
    events = last_audit(admin, ticket["id"])["events"]
    assert [(e["type"], e["body"], e["public"]) for e in events] == [("Comment", "private", False)]
    item = stored_events(server, ticket["id"])[-1]
    assert (item["comment_present"], item["comment_public"], item["child_events"]) == (True, False, [])


def test_audits_record_who_and_through_what(admin: httpx.Client) -> None:
    ticket = create_ticket(admin)
    audit = last_audit(admin, ticket["id"])
    assert audit["author_id"] == admin.get("/api/v2/users/me").json()["user"]["id"]
    assert audit["via"]["channel"] == "api"
    assert audit["metadata"]["system"]["ip_address"] == "127.0.0.1"
    assert audit["metadata"]["system"]["client"] == admin.headers["user-agent"]


# The updated_at / generated_timestamp rules, on a simulated clock ------------------------------------------------
@pytest.fixture
def tick(sim: Server) -> Iterator[Callable[[], int]]:
    """Move the server's clock (stored in its database) ten seconds forward; returns the new now."""
    store = sim.store()
    clock = SimClock(store)
    yield lambda: clock.advance(10)
    store.dispose()


def generated(server: Server, ticket_id: int) -> tuple[int, int]:
    """(generated_timestamp, updated_at) as the exports order by them."""
    t = schema.tickets
    with server.read() as conn:
        row = conn.execute(select(t.c.generated_timestamp, t.c.updated_at).where(t.c.id == ticket_id)).one()
    return int(row[0]), int(row[1])


def test_an_audited_update_moves_updated_at_and_generated_timestamp_together(
    sim: Server, tick: Callable[[], int]
) -> None:
    admin = sim.client(ADMIN)
    ticket = create_ticket(admin)
    now = tick()
    admin.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"priority": "high"}})
    assert generated(sim, ticket["id"]) == (now, now)


def test_a_no_op_update_moves_neither_time(sim: Server, tick: Callable[[], int]) -> None:
    admin = sim.client(ADMIN)
    ticket = create_ticket(admin, priority="high")
    before = generated(sim, ticket["id"])
    tick()
    admin.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"priority": "high"}})
    assert generated(sim, ticket["id"]) == before


def test_renaming_the_requester_is_a_system_update_that_moves_generated_timestamp_only(
    sim: Server, tick: Callable[[], int]
) -> None:
    admin = sim.client(ADMIN)
    user = admin.post("/api/v2/users", json={"user": {"name": "Old Name", "email": "rename@example.com"}}).json()
    ticket = create_ticket(admin, requester_id=user["user"]["id"])
    created = generated(sim, ticket["id"])
    now = tick()
    admin.put(f"/api/v2/users/{user['user']['id']}", json={"user": {"name": "New Name"}})
    assert generated(sim, ticket["id"]) == (now, created[1])
    shown = admin.get(f"/api/v2/tickets/{ticket['id']}").json()["ticket"]
    assert shown["updated_at"] == ticket["updated_at"]
    assert len(admin.get(f"/api/v2/tickets/{ticket['id']}/audits").json()["audits"]) == 1
