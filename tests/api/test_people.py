"""Users, organizations and groups over HTTP: create, read, update, soft delete, users/me (spec/model.md)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from deskstream import demo

if TYPE_CHECKING:
    from tests.conftest import Server  # the session's server fixture type (tests/conftest.py)

ADMIN = (demo.ADMIN_EMAIL, demo.PASSWORD)
AGENT = (demo.AGENT_EMAIL, demo.PASSWORD)
END_USER = (demo.USER_EMAIL, demo.PASSWORD)


_serial = itertools.count()


def unique_email() -> str:
    return f"person{next(_serial)}-{id(_serial)}@example.com"


def create_user(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    fields.setdefault("email", unique_email())
    fields.setdefault("name", "Pat Person")
    response = client.post("/api/v2/users", json={"user": fields})
    assert response.status_code == 201, response.text
    return dict(response.json()["user"])


@pytest.mark.parametrize(("credentials", "role"), [(ADMIN, "admin"), (AGENT, "agent"), (END_USER, "end-user")])
def test_users_me_is_the_caller(server: Server, credentials: tuple[str, str], role: str) -> None:
    user = server.client(credentials).get("/api/v2/users/me").json()["user"]
    assert (user["email"], user["role"], user["active"]) == (credentials[0], role, True)
    assert user["url"] == f"{server.base_url}/api/v2/users/{user['id']}.json"


def test_a_user_is_created_read_updated_and_soft_deleted(admin: httpx.Client) -> None:
    user = create_user(admin, email="Mixed.Case@Example.com", name="Created", tags=["VIP"])
    assert (user["email"], user["role"], user["tags"]) == ("mixed.case@example.com", "end-user", ["vip"])
    path = f"/api/v2/users/{user['id']}"
    assert admin.get(path).json() == {"user": user}
    updated = admin.put(path, json={"user": {"name": "Renamed", "phone": "+1 555"}}).json()["user"]
    assert (updated["name"], updated["phone"]) == ("Renamed", "+1 555")
    assert admin.get(path).json()["user"] == updated
    deleted = admin.delete(path).json()["user"]
    assert deleted["active"] is False and deleted["deleted_at"] is not None
    assert admin.get(path).status_code == 404
    assert admin.put(path, json={"user": {"name": "ghost"}}).status_code == 404


def test_a_second_user_with_the_same_email_in_any_case_is_refused(admin: httpx.Client) -> None:
    email = unique_email()
    create_user(admin, email=email)
    response = admin.post("/api/v2/users", json={"user": {"email": email.upper(), "name": "Twin"}})
    assert response.status_code == 422
    assert "email" in response.json()["details"]


def test_changing_an_email_to_one_in_use_is_refused(admin: httpx.Client) -> None:
    first, second = create_user(admin), create_user(admin)
    response = admin.put(f"/api/v2/users/{second['id']}", json={"user": {"email": first["email"]}})
    assert response.status_code == 422
    assert admin.get(f"/api/v2/users/{second['id']}").json()["user"]["email"] == second["email"]


def test_a_user_in_an_unknown_organization_is_refused(admin: httpx.Client) -> None:
    response = admin.post("/api/v2/users", json={"user": {"email": unique_email(), "organization_id": 987654}})
    assert response.status_code == 422 and "organization_id" in response.json()["details"]


def test_an_admin_changes_a_password_and_the_old_one_stops_working(admin: httpx.Client, server: Server) -> None:
    email = unique_email()
    user = create_user(admin, email=email, password="first-secret")
    assert server.client((email, "first-secret")).get("/api/v2/users/me").status_code == 200
    admin.put(f"/api/v2/users/{user['id']}", json={"user": {"password": "second-secret"}})
    assert server.client((email, "first-secret")).get("/api/v2/users/me").status_code == 401
    assert server.client((email, "second-secret")).get("/api/v2/users/me").status_code == 200


def test_a_deleted_user_can_no_longer_sign_in(admin: httpx.Client, server: Server) -> None:
    email = unique_email()
    user = create_user(admin, email=email, password="secret", role="agent")
    assert server.client((email, "secret")).get("/api/v2/users/me").status_code == 200
    admin.delete(f"/api/v2/users/{user['id']}")
    assert server.client((email, "secret")).get("/api/v2/users/me").status_code == 401


@pytest.mark.parametrize(
    "change", [{"password": "taken-over"}, {"email": "mine@example.com"}, {"name": "Renamed by agent"}]
)
def test_an_agent_cannot_change_an_admin(agent: httpx.Client, admin: httpx.Client, change: dict[str, Any]) -> None:
    admin_user = admin.get("/api/v2/users/me").json()["user"]
    response = agent.put(f"/api/v2/users/{admin_user['id']}", json={"user": change})
    assert response.status_code == 403
    assert admin.get("/api/v2/users/me").json()["user"] == admin_user


def test_an_agent_edits_an_end_user_but_not_their_role_or_password(agent: httpx.Client) -> None:
    user = create_user(agent)
    path = f"/api/v2/users/{user['id']}"
    assert agent.put(path, json={"user": {"name": "Edited"}}).json()["user"]["name"] == "Edited"
    assert agent.put(path, json={"user": {"role": "admin"}}).status_code == 403
    assert agent.put(path, json={"user": {"password": "x"}}).status_code == 403


def test_an_agent_cannot_create_staff(agent: httpx.Client) -> None:
    response = agent.post("/api/v2/users", json={"user": {"email": unique_email(), "role": "admin"}})
    assert response.status_code == 403


def test_an_end_user_reads_only_themselves(end_user: httpx.Client, admin: httpx.Client) -> None:
    me = end_user.get("/api/v2/users/me").json()["user"]
    assert end_user.get(f"/api/v2/users/{me['id']}").status_code == 200
    other = admin.get("/api/v2/users/me").json()["user"]["id"]
    assert end_user.get(f"/api/v2/users/{other}").status_code == 403


def test_deleting_an_agent_reassigns_their_open_tickets_to_the_admin_and_leaves_closed_ones(
    admin: httpx.Client,
) -> None:
    admin_id = admin.get("/api/v2/users/me").json()["user"]["id"]
    leaver = create_user(admin, role="agent")
    open_ticket, closed_ticket = (
        admin.post("/api/v2/tickets", json={"ticket": {"comment": {"body": "b"}, "assignee_id": leaver["id"]}}).json()
        for _ in range(2)
    )
    admin.put(f"/api/v2/tickets/{closed_ticket['ticket']['id']}", json={"ticket": {"status": "closed"}})
    assert admin.delete(f"/api/v2/users/{leaver['id']}").status_code == 200
    reassigned = admin.get(f"/api/v2/tickets/{open_ticket['ticket']['id']}").json()["ticket"]
    assert reassigned["assignee_id"] == admin_id
    audit = admin.get(f"/api/v2/tickets/{reassigned['id']}/audits").json()["audits"][-1]
    assert [(e["field_name"], e["value"], e["previous_value"]) for e in audit["events"]] == [
        ("assignee_id", admin_id, leaver["id"])
    ]
    assert admin.get(f"/api/v2/tickets/{closed_ticket['ticket']['id']}").json()["ticket"]["assignee_id"] == leaver["id"]


def test_the_user_list_pages_and_leaves_out_deleted_users(admin: httpx.Client) -> None:
    gone = create_user(admin)
    admin.delete(f"/api/v2/users/{gone['id']}")
    page = admin.get("/api/v2/users?per_page=2").json()
    assert len(page["users"]) == 2 and page["next_page"] and page["count"] >= 3
    ids = [u["id"] for u in admin.get("/api/v2/users?per_page=100").json()["users"]]
    assert gone["id"] not in ids


# organizations ----------------------------------------------------------------------------------------------------
def test_an_organization_is_created_read_updated_and_soft_deleted(admin: httpx.Client) -> None:
    body = {"organization": {"name": "Acme Rockets", "domain_names": ["acme.test"], "tags": ["Space"]}}
    response = admin.post("/api/v2/organizations", json=body)
    assert response.status_code == 201
    org = response.json()["organization"]
    assert (org["name"], org["domain_names"], org["tags"]) == ("Acme Rockets", ["acme.test"], ["space"])
    path = f"/api/v2/organizations/{org['id']}"
    assert admin.get(path).json() == {"organization": org}
    updated = admin.put(path, json={"organization": {"notes": "big customer"}}).json()["organization"]
    assert updated["notes"] == "big customer" and admin.get(path).json()["organization"] == updated
    assert admin.delete(path).status_code == 204
    assert admin.get(path).status_code == 404


def test_an_organization_name_is_unique_and_required(admin: httpx.Client) -> None:
    admin.post("/api/v2/organizations", json={"organization": {"name": "Only Once Ltd"}})
    assert admin.post("/api/v2/organizations", json={"organization": {"name": "Only Once Ltd"}}).status_code == 422
    assert admin.post("/api/v2/organizations", json={"organization": {}}).status_code == 422


def test_a_ticket_takes_its_requesters_organization(admin: httpx.Client) -> None:
    org = admin.post("/api/v2/organizations", json={"organization": {"name": "Before Inc"}}).json()["organization"]
    user = create_user(admin, organization_id=org["id"])
    ticket = admin.post("/api/v2/tickets", json={"ticket": {"comment": {"body": "b"}, "requester_id": user["id"]}})
    assert ticket.json()["ticket"]["organization_id"] == org["id"]


# groups -----------------------------------------------------------------------------------------------------------
def test_a_group_is_created_read_updated_and_soft_deleted(admin: httpx.Client) -> None:
    response = admin.post("/api/v2/groups", json={"group": {"name": "Tier 2", "description": "escalations"}})
    assert response.status_code == 201
    group = response.json()["group"]
    path = f"/api/v2/groups/{group['id']}"
    assert admin.get(path).json() == {"group": group}
    assert admin.put(path, json={"group": {"name": "Tier Two"}}).json()["group"]["name"] == "Tier Two"
    assert admin.delete(path).status_code == 204
    assert admin.get(path).status_code == 404
    assert group["id"] not in [g["id"] for g in admin.get("/api/v2/groups").json()["groups"]]


def test_a_deleted_group_cannot_be_assigned(admin: httpx.Client) -> None:
    group = admin.post("/api/v2/groups", json={"group": {"name": "Disbanded"}}).json()["group"]
    admin.delete(f"/api/v2/groups/{group['id']}")
    response = admin.post("/api/v2/tickets", json={"ticket": {"comment": {"body": "b"}, "group_id": group["id"]}})
    assert response.status_code == 422 and "group_id" in response.json()["details"]


def test_only_admins_manage_groups(agent: httpx.Client) -> None:
    assert agent.post("/api/v2/groups", json={"group": {"name": "Agents' own"}}).status_code == 403
    assert agent.get("/api/v2/groups").status_code == 200
