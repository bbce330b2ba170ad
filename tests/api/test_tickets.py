"""Tickets over HTTP against a real server: create, read, list, update, delete, bulk, comments (spec/model.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import func, select
from tests.helpers import create_ticket

from deskstream.store import schema

if TYPE_CHECKING:
    from tests.conftest import Server  # the session's server fixture type (tests/conftest.py)

#: Every key of seed 000's sample ticket (the Zendesk ticket object that exports serve).
SEED_000_TICKET_KEYS = {
    "requester_id", "allow_attachments", "allow_channelback", "assignee_email", "assignee_id", "attribute_value_ids",
    "brand_id", "collaborator_ids", "collaborators", "comment", "created_at", "custom_fields", "custom_status_id",
    "description", "due_at", "email_cc_ids", "email_ccs", "external_id", "follower_ids", "followers", "followup_ids",
    "forum_topic_id", "from_messaging_channel", "group_id", "has_incidents", "id", "is_public", "macro_id",
    "macro_ids", "metadata", "organization_id", "priority", "problem_id", "raw_subject", "recipient", "requester",
    "safe_update", "satisfaction_rating", "sharing_agreement_ids", "status", "subject", "submitter_id", "tags",
    "ticket_form_id", "type", "updated_at", "updated_stamp", "url", "via", "via_followup_source_id", "via_id",
    "voice_comment",
}  # fmt: skip


#: Zendesk's write-only ticket properties: accepted on a write, served only as seed 000's empty placeholders.
WRITE_ONLY_PLACEHOLDERS = {
    "requester": {}, "collaborators": [], "assignee_email": None, "email_ccs": {}, "followers": {}, "comment": {},
    "voice_comment": {},
}  # fmt: skip


def audits(client: httpx.Client, ticket_id: int) -> list[dict[str, Any]]:
    response = client.get(f"/api/v2/tickets/{ticket_id}/audits")
    assert response.status_code == 200, response.text
    return list(response.json()["audits"])


def count(server: Server, table: str, **where: Any) -> int:
    t = schema.metadata.tables[table]
    query = select(func.count()).select_from(t)
    for name, value in where.items():
        query = query.where(t.c[name] == value)
    with server.read() as conn:
        return int(conn.execute(query).scalar_one())


def test_a_created_ticket_has_every_field_of_seed_000_and_the_values_sent(admin: httpx.Client) -> None:
    ticket = create_ticket(admin, subject="Help", priority="high", type="incident", tags=["Billing", "vip"])
    assert SEED_000_TICKET_KEYS <= set(ticket)
    assert (ticket["subject"], ticket["raw_subject"]) == ("Help", "Help")
    assert ticket["description"] == "The printer is on fire"
    assert (ticket["priority"], ticket["type"], ticket["status"]) == ("high", "incident", "new")
    assert ticket["tags"] == ["billing", "vip"]
    assert ticket["requester_id"] == ticket["submitter_id"] == admin.get("/api/v2/users/me").json()["user"]["id"]
    assert ticket["url"] == f"{admin.base_url}/api/v2/tickets/{ticket['id']}.json"
    assert ticket["via"]["channel"] == "api"
    assert ticket["created_at"] == ticket["updated_at"] and ticket["created_at"].endswith("Z")


def test_a_created_ticket_answers_201_with_its_location(admin: httpx.Client) -> None:
    response = admin.post("/api/v2/tickets.json", json={"ticket": {"comment": {"body": "x"}}})
    assert response.status_code == 201
    assert response.headers["location"] == f"/api/v2/tickets/{response.json()['ticket']['id']}.json"


def test_a_ticket_with_an_assignee_starts_open(admin: httpx.Client, agent: httpx.Client) -> None:
    agent_id = agent.get("/api/v2/users/me").json()["user"]["id"]
    ticket = create_ticket(admin, assignee_id=agent_id)
    assert (ticket["status"], ticket["assignee_id"]) == ("open", agent_id)


def test_a_requester_given_by_email_becomes_an_end_user(admin: httpx.Client) -> None:
    ticket = create_ticket(admin, requester={"email": "New.Customer@example.net", "name": "New Customer"})
    user = admin.get(f"/api/v2/users/{ticket['requester_id']}").json()["user"]
    assert (user["email"], user["name"], user["role"]) == ("new.customer@example.net", "New Customer", "end-user")
    assert ticket["requester"] == {}


def test_write_only_properties_are_served_as_empty_placeholders_and_their_data_where_zendesk_serves_it(
    admin: httpx.Client, agent: httpx.Client
) -> None:
    agent_id = agent.get("/api/v2/users/me").json()["user"]["id"]
    ticket = create_ticket(
        admin,
        requester={"email": "placeholder@example.net", "name": "P"},
        assignee_id=agent_id,
        collaborator_ids=[agent_id],
        email_cc_ids=[agent_id],
        follower_ids=[agent_id],
    )
    for shown in (ticket, admin.get(f"/api/v2/tickets/{ticket['id']}").json()["ticket"]):
        assert {k: shown[k] for k in WRITE_ONLY_PLACEHOLDERS} == WRITE_ONLY_PLACEHOLDERS
        assert (shown["assignee_id"], shown["collaborator_ids"]) == (agent_id, [agent_id])
        assert (shown["email_cc_ids"], shown["follower_ids"]) == ([agent_id], [agent_id])
        assert shown["requester_id"] not in (None, agent_id)


def test_a_ticket_sent_back_as_it_was_read_changes_only_what_the_client_changed(admin: httpx.Client) -> None:
    ticket = create_ticket(admin, subject="Before", tags=["kept"])
    read = admin.get(f"/api/v2/tickets/{ticket['id']}").json()["ticket"]
    response = admin.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {**read, "subject": "After"}})
    assert response.status_code == 200, response.text
    (audit,) = [a for a in audits(admin, ticket["id"]) if a["id"] == response.json()["audit"]["id"]]
    assert [(e["field_name"], e["value"]) for e in audit["events"]] == [("subject", "After")]
    assert response.json()["ticket"]["tags"] == ["kept"]


def test_a_ticket_without_a_comment_or_description_is_refused(admin: httpx.Client) -> None:
    response = admin.post("/api/v2/tickets", json={"ticket": {"subject": "empty"}})
    assert response.status_code == 422
    assert "description" in response.json()["details"]


def test_reading_a_ticket_returns_what_was_stored_with_and_without_json_suffix(admin: httpx.Client) -> None:
    ticket = create_ticket(admin, subject="Read me")
    assert admin.get(f"/api/v2/tickets/{ticket['id']}").json() == {"ticket": ticket}
    assert admin.get(f"/api/v2/tickets/{ticket['id']}.json").json() == {"ticket": ticket}


def test_the_ticket_list_pages_with_a_cursor(admin: httpx.Client) -> None:
    made = [create_ticket(admin, subject=f"list {i}")["id"] for i in range(3)]
    seen: list[int] = []
    url: str | None = "/api/v2/tickets?page[size]=2"
    while url:
        page = admin.get(url).json()
        assert len(page["tickets"]) <= 2
        seen += [t["id"] for t in page["tickets"]]
        url = page["links"]["next"] if page["meta"]["has_more"] else None
    assert seen == sorted(seen) and set(made) <= set(seen)


def test_an_update_changes_the_ticket_and_answers_with_its_audit(admin: httpx.Client) -> None:
    ticket = create_ticket(admin, subject="Before")
    response = admin.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"subject": "After", "priority": "low"}})
    assert response.status_code == 200
    body = response.json()
    assert (body["ticket"]["subject"], body["ticket"]["priority"]) == ("After", "low")
    assert body["audit"]["ticket_id"] == ticket["id"]
    assert {(e["field_name"], e["value"], e["previous_value"]) for e in body["audit"]["events"]} == {
        ("subject", "After", "Before"),
        ("priority", "low", None),
    }
    assert admin.get(f"/api/v2/tickets/{ticket['id']}").json()["ticket"] == body["ticket"]


def test_created_then_updated_twice_shows_two_change_audits_and_a_repeat_adds_none(admin: httpx.Client) -> None:
    """The issue's "done when": create + two updates = three audits; an identical update writes nothing."""
    ticket = create_ticket(admin)
    path = f"/api/v2/tickets/{ticket['id']}"
    assert admin.put(path, json={"ticket": {"status": "open"}}).status_code == 200
    assert admin.put(path, json={"ticket": {"status": "pending", "priority": "urgent"}}).status_code == 200
    before = admin.get(path).json()["ticket"]
    repeat = admin.put(path, json={"ticket": {"status": "pending", "priority": "urgent"}})
    assert repeat.status_code == 200 and "audit" not in repeat.json()
    found = audits(admin, ticket["id"])
    assert len(found) == 3
    changes = [[(e["type"], e["field_name"], e["value"], e["previous_value"]) for e in a["events"]] for a in found[1:]]
    assert changes == [
        [("Change", "status", "open", "new")],
        [("Change", "status", "pending", "open"), ("Change", "priority", "urgent", None)],
    ]
    assert admin.get(path).json()["ticket"] == before


def test_an_update_that_changes_nothing_writes_no_version_and_keeps_updated_at(
    admin: httpx.Client, server: Server
) -> None:
    ticket = create_ticket(admin, subject="Same", tags=["a"])
    versions = count(server, "ticket_versions", ticket_id=ticket["id"])
    response = admin.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"subject": "Same", "tags": ["A"]}})
    assert response.json() == {"ticket": ticket}
    assert count(server, "ticket_versions", ticket_id=ticket["id"]) == versions
    assert count(server, "ticket_events", ticket_id=ticket["id"]) == 1


def test_safe_update_with_a_stale_stamp_is_a_409_and_writes_nothing(admin: httpx.Client, server: Server) -> None:
    ticket = create_ticket(admin)
    path = f"/api/v2/tickets/{ticket['id']}"
    stale = {"ticket": {"status": "solved", "safe_update": True, "updated_stamp": "2001-01-01T00:00:00Z"}}
    response = admin.put(path, json=stale)
    assert response.status_code == 409
    assert response.json()["error"] == "UpdateConflict"
    assert admin.get(path).json()["ticket"] == ticket
    assert count(server, "ticket_events", ticket_id=ticket["id"]) == 1


def test_safe_update_with_the_current_stamp_succeeds(admin: httpx.Client) -> None:
    ticket = create_ticket(admin)
    fresh = {"ticket": {"status": "solved", "safe_update": True, "updated_stamp": ticket["updated_stamp"]}}
    response = admin.put(f"/api/v2/tickets/{ticket['id']}", json=fresh)
    assert response.status_code == 200 and response.json()["ticket"]["status"] == "solved"


def test_safe_update_without_a_stamp_is_invalid(admin: httpx.Client) -> None:
    ticket = create_ticket(admin)
    response = admin.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"status": "open", "safe_update": True}})
    assert response.status_code == 422 and "updated_stamp" in response.json()["details"]


def test_a_closed_ticket_cannot_be_changed(admin: httpx.Client) -> None:
    ticket = create_ticket(admin)
    path = f"/api/v2/tickets/{ticket['id']}"
    assert admin.put(path, json={"ticket": {"status": "closed"}}).status_code == 200
    response = admin.put(path, json={"ticket": {"subject": "reopen?"}})
    assert response.status_code == 422 and "status" in response.json()["details"]


def test_a_deleted_ticket_and_its_children_answer_404(admin: httpx.Client, server: Server) -> None:
    ticket = create_ticket(admin)
    path = f"/api/v2/tickets/{ticket['id']}"
    assert admin.delete(path).status_code == 204
    for method, url in (("GET", path), ("PUT", path), ("DELETE", path), ("GET", f"{path}/audits"),
                        ("GET", f"{path}/comments")):  # fmt: skip
        response = admin.request(method, url, json={"ticket": {"status": "open"}} if method == "PUT" else None)
        assert response.status_code == 404, (method, url)
        assert response.json() == {"error": "RecordNotFound", "description": "Not found"}
    assert ticket["id"] not in [t["id"] for t in admin.get("/api/v2/tickets?per_page=100").json()["tickets"]]


def test_a_soft_deleted_ticket_keeps_its_row_with_status_deleted_and_a_delete_audit(
    admin: httpx.Client, server: Server
) -> None:
    ticket = create_ticket(admin)
    admin.delete(f"/api/v2/tickets/{ticket['id']}")
    with server.read() as conn:
        row = conn.execute(select(schema.tickets).where(schema.tickets.c.id == ticket["id"])).one()
        last = conn.execute(
            select(schema.ticket_events.c.audit_json)
            .where(schema.ticket_events.c.ticket_id == ticket["id"])
            .order_by(schema.ticket_events.c.id.desc())
        ).first()
    assert row.status == "deleted" and row.deleted_at is not None
    assert last is not None and b'"field_name":"status","value":"deleted","previous_value":"new"' in last[0]


def test_comments_are_listed_and_end_users_see_only_public_ones(admin: httpx.Client, end_user: httpx.Client) -> None:
    ticket = create_ticket(end_user, comment={"body": "My order is late"})
    path = f"/api/v2/tickets/{ticket['id']}"
    admin.put(path, json={"ticket": {"comment": {"body": "internal note", "public": False}}})
    admin.put(path, json={"ticket": {"comment": {"body": "We are on it"}}})
    bodies = [c["body"] for c in admin.get(f"{path}/comments").json()["comments"]]
    assert bodies == ["My order is late", "internal note", "We are on it"]
    assert [c["body"] for c in end_user.get(f"{path}/comments").json()["comments"]] == [
        "My order is late",
        "We are on it",
    ]


def test_update_many_stamps_every_ticket_in_one_second_and_reports_a_job_status(admin: httpx.Client) -> None:
    ids = [create_ticket(admin)["id"] for _ in range(3)]
    response = admin.put(f"/api/v2/tickets/update_many?ids={','.join(map(str, ids))}",
                         json={"ticket": {"status": "pending"}})  # fmt: skip
    assert response.status_code == 200
    job = response.json()["job_status"]
    assert job["status"] == "completed" and [r["id"] for r in job["results"]] == ids
    assert admin.get(f"/api/v2/job_statuses/{job['id']}").json()["job_status"] == job
    tickets = [admin.get(f"/api/v2/tickets/{i}").json()["ticket"] for i in ids]
    assert {t["status"] for t in tickets} == {"pending"}
    assert len({t["updated_at"] for t in tickets}) == 1


def test_update_many_with_one_missing_ticket_changes_none_of_them(admin: httpx.Client) -> None:
    ticket = create_ticket(admin)
    ids = f"{ticket['id']},987654321"
    response = admin.put(f"/api/v2/tickets/update_many?ids={ids}", json={"ticket": {"status": "hold"}})
    assert response.status_code == 404
    assert admin.get(f"/api/v2/tickets/{ticket['id']}").json()["ticket"]["status"] == "new"


def test_create_many_creates_every_ticket(admin: httpx.Client) -> None:
    body = {"tickets": [{"subject": f"bulk {i}", "comment": {"body": "b"}} for i in range(2)]}
    job = admin.post("/api/v2/tickets/create_many", json=body).json()["job_status"]
    subjects = [admin.get(f"/api/v2/tickets/{r['id']}").json()["ticket"]["subject"] for r in job["results"]]
    assert subjects == ["bulk 0", "bulk 1"]


def test_an_end_user_creates_tickets_for_themselves_only(end_user: httpx.Client, agent: httpx.Client) -> None:
    me = end_user.get("/api/v2/users/me").json()["user"]["id"]
    agent_id = agent.get("/api/v2/users/me").json()["user"]["id"]
    ticket = create_ticket(end_user, subject="mine", requester_id=agent_id, assignee_id=agent_id, priority="urgent")
    assert (ticket["requester_id"], ticket["assignee_id"], ticket["priority"]) == (me, None, None)


def test_an_end_user_may_comment_on_their_own_ticket_but_not_change_its_workflow(end_user: httpx.Client) -> None:
    ticket = create_ticket(end_user)
    response = end_user.put(
        f"/api/v2/tickets/{ticket['id']}",
        json={"ticket": {"status": "solved", "priority": "urgent", "comment": {"body": "any news?", "public": False}}},
    )
    assert response.status_code == 200
    assert (response.json()["ticket"]["status"], response.json()["ticket"]["priority"]) == ("new", None)
    assert [(e["type"], e["public"]) for e in response.json()["audit"]["events"]] == [("Comment", True)]


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_an_end_user_cannot_see_or_change_someone_elses_ticket(
    method: str, admin: httpx.Client, end_user: httpx.Client
) -> None:
    ticket = create_ticket(admin)
    response = end_user.request(method, f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"subject": "x"}})
    assert response.status_code == 403
    assert ticket["id"] not in [t["id"] for t in end_user.get("/api/v2/tickets").json()["tickets"]]


def test_a_ticket_cannot_be_given_no_status_and_keeps_the_one_it_has(admin: httpx.Client) -> None:
    ticket = create_ticket(admin)
    refused = admin.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"status": None, "priority": None}})
    assert refused.status_code == 422, refused.text
    assert "status" in refused.json()["details"]
    assert admin.get(f"/api/v2/tickets/{ticket['id']}").json()["ticket"]["status"] == ticket["status"]
