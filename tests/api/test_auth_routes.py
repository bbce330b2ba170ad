"""Who may call what, for every route: a caller without valid credentials gets Zendesk's 401 from every one, and each
role (end user, agent, admin) gets exactly what its row of :data:`EXPECTED` says. The operations are read from the
app's own OpenAPI description (which tests/api/test_openapi_conformance.py holds to the wire), so a route added later
cannot escape this matrix: it fails until it has its row."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.conftest import ADMIN, AGENT, END_USER, AppServer, start_app

from deskstream import demo

FORBIDDEN = {
    "error": {
        "title": "Forbidden",
        "message": "You do not have access to this page. Please contact the account owner of this help desk for "
        "further help.",
    }
}

#: Who calls, as the ``Authorization`` header they send (``{n}`` makes each wrong password's email differ, so the
#: sign-in throttle, which counts per email and address, never turns these 401s into 429s).
#: (Each wrong secret costs an argon2 verification, so the matrix keeps to one of each kind; test_auth.py has the
#: full table of credential forms on a sample of endpoints.)
CALLERS: dict[str, Callable[[int], str | None]] = {
    "anonymous": lambda n: None,
    "the admin's email, a wrong password": lambda n: "Basic "
    + base64.b64encode(f"{demo.ADMIN_EMAIL}:wrong{n}".encode()).decode(),
    "the admin's email, a wrong API token": lambda n: "Basic "
    + base64.b64encode(f"{demo.ADMIN_EMAIL}/token:not-a-token-{n}".encode()).decode(),
    "a wrong bearer token": lambda n: f"Bearer not-a-token-{n}",
}


@pytest.fixture(scope="module")
def app_server(make_app: Callable[..., AppServer]) -> AppServer:
    return make_app("--rate-limit", "off")


def operations(app_server: AppServer) -> list[tuple[str, str]]:
    spec: dict[str, Any] = app_server.app.openapi()
    return [(method.upper(), re.sub(r"\{[^}]+\}", "1", path)) for path, ops in spec["paths"].items() for method in ops]


def test_the_matrix_covers_every_operation_the_app_describes(app_server: AppServer) -> None:
    assert len(operations(app_server)) >= 50


@pytest.mark.parametrize("caller", CALLERS)
def test_every_operation_refuses_a_caller_without_valid_credentials_with_zendesks_401(
    app_server: AppServer, caller: str
) -> None:
    answered: dict[str, int] = {}
    for n, (method, path) in enumerate(operations(app_server)):
        # A distinct client address per request too: the throttle's per-address budget is not what is tested here.
        client = TestClient(app_server.app, raise_server_exceptions=False, client=(f"10.0.{n // 250}.{n % 250}", 1))
        header = CALLERS[caller](n)
        response = client.request(method, path, headers={"Authorization": header} if header else {},
                                  json={} if method in ("POST", "PUT") else None)  # fmt: skip
        answered[f"{method} {path}"] = response.status_code
        if response.status_code == 401:
            assert response.json() == {"error": "Couldn't authenticate you"}, (method, path)
        client.close()
    assert {op: status for op, status in answered.items() if status != 401} == {}


# ---- Role by role -------------------------------------------------------------------------------------------------

#: What each role gets from every operation, called with a valid body on objects that exist but are not the caller's
#: (another end user's ticket, user and organization): ``ok`` a 2xx, ``403`` Zendesk's Forbidden. An operation
#: missing here fails the matrix.
ROLES = ("end-user", "agent", "admin")
EXPECTED: dict[str, tuple[str, str, str]] = {
    "GET /api/v2/tickets": ("ok", "ok", "ok"),
    "POST /api/v2/tickets": ("ok", "ok", "ok"),
    "GET /api/v2/tickets/{ticket_id}": ("403", "ok", "ok"),
    "PUT /api/v2/tickets/{ticket_id}": ("403", "ok", "ok"),
    "DELETE /api/v2/tickets/{ticket_id}": ("403", "ok", "ok"),
    "PUT /api/v2/tickets/update_many": ("403", "ok", "ok"),
    "POST /api/v2/tickets/create_many": ("403", "ok", "ok"),
    "GET /api/v2/job_statuses/{job_id}": ("403", "ok", "ok"),
    "GET /api/v2/tickets/{ticket_id}/audits": ("403", "ok", "ok"),
    "GET /api/v2/tickets/{ticket_id}/comments": ("403", "ok", "ok"),
    "GET /api/v2/tickets/{ticket_id}/metrics": ("403", "ok", "ok"),
    "GET /api/v2/ticket_metrics": ("403", "ok", "ok"),
    "GET /api/v2/ticket_metrics/{ticket_metric_id}": ("403", "ok", "ok"),
    "GET /api/v2/users": ("403", "ok", "ok"),
    "POST /api/v2/users": ("403", "ok", "ok"),
    "GET /api/v2/users/me": ("ok", "ok", "ok"),
    "GET /api/v2/users/{user_id}": ("403", "ok", "ok"),
    "PUT /api/v2/users/{user_id}": ("403", "ok", "ok"),
    "DELETE /api/v2/users/{user_id}": ("403", "403", "ok"),
    "GET /api/v2/organizations": ("403", "ok", "ok"),
    "POST /api/v2/organizations": ("403", "ok", "ok"),
    "GET /api/v2/organizations/{org_id}": ("403", "ok", "ok"),
    "PUT /api/v2/organizations/{org_id}": ("403", "ok", "ok"),
    "DELETE /api/v2/organizations/{org_id}": ("403", "403", "ok"),
    "GET /api/v2/groups": ("403", "ok", "ok"),
    "POST /api/v2/groups": ("403", "403", "ok"),
    "GET /api/v2/groups/{group_id}": ("403", "ok", "ok"),
    "PUT /api/v2/groups/{group_id}": ("403", "403", "ok"),
    "DELETE /api/v2/groups/{group_id}": ("403", "403", "ok"),
    "GET /api/v2/slas/policies": ("403", "ok", "ok"),
    "POST /api/v2/slas/policies": ("403", "403", "ok"),
    "PUT /api/v2/slas/policies/reorder": ("403", "403", "ok"),
    "GET /api/v2/slas/policies/{policy_id}": ("403", "ok", "ok"),
    "PUT /api/v2/slas/policies/{policy_id}": ("403", "403", "ok"),
    "DELETE /api/v2/slas/policies/{policy_id}": ("403", "403", "ok"),
    **{f"GET /api/v2/{listed}": ("403", "ok", "ok") for listed in (
        "macros", "ticket_fields", "group_memberships", "satisfaction_ratings", "user_fields", "organization_fields",
        "ticket_forms", "channels/voice/phone_numbers", "account/settings", "tags", "search")},
    **{f"GET /api/v2/incremental/{stream}": ("403", "403", "ok") for stream in (
        "tickets", "ticket_events", "ticket_metric_events", "users", "organizations", "tickets/cursor",
        "users/cursor", "{resource}/sample")},
    "GET /_deskstream/clock": ("403", "403", "ok"),
    "POST /_deskstream/clock": ("403", "403", "ok"),
    "GET /_deskstream/faults": ("403", "403", "ok"),
    "PUT /_deskstream/faults": ("403", "403", "ok"),
    "GET /_deskstream/scenario": ("403", "403", "404"),  # the admin's, and this server was loaded with none
    "GET /_deskstream/requests": ("403", "403", "ok"),
    "GET /_deskstream/requests/anomalies": ("403", "403", "ok"),
    "GET /_deskstream/requests/clients": ("403", "403", "ok"),
    "POST /_deskstream/scenario/next": ("403", "403", "404"),
}


@dataclass
class World:
    """A server, one of each role, and one of everything, owned by another end user where it can be."""

    server: AppServer
    ids: dict[str, int]


def world(directory: Path) -> World:
    server = start_app(directory, "--rate-limit", "off", "--clock", "sim")
    admin = server.client(ADMIN)

    def made(path: str, body: dict[str, Any], key: str) -> int:
        answer = admin.post(path, json=body)
        assert answer.status_code in (200, 201), answer.text
        return int(answer.json()[key]["id"])

    org = made("/api/v2/organizations", {"organization": {"name": "Theirs"}}, "organization")
    other = made("/api/v2/users", {"user": {"name": "O", "email": "o@example.net", "organization_id": org}}, "user")
    ticket = made("/api/v2/tickets", {"ticket": {"requester_id": other, "comment": {"body": "b"}}}, "ticket")
    job = admin.post("/api/v2/tickets/create_many", json={"tickets": [{"comment": {"body": "b"}}]})
    policy = {"sla_policy": {"title": "P", "filter": {"all": [], "any": []}, "policy_metrics": []}}
    ids = {
        "org_id": org,
        "user_id": other,
        "ticket_id": ticket,
        "ticket_metric_id": admin.get(f"/api/v2/tickets/{ticket}/metrics").json()["ticket_metric"]["id"],
        "group_id": made("/api/v2/groups", {"group": {"name": "G"}}, "group"),
        "policy_id": made("/api/v2/slas/policies", policy, "sla_policy"),
    }
    return World(server, {**ids, "job_id": job.json()["job_status"]["id"]})


def request_of(operation: str, ids: dict[str, Any], n: int) -> tuple[str, str, dict[str, Any]]:
    """The operation as a request a permitted caller would make: real ids in the path, a valid body."""
    method, template = operation.split(" ")
    path = re.sub(r"\{([^}]+)\}", lambda m: str(ids.get(m.group(1), "tickets")), template)
    if "/incremental/" in path:
        path += "?start_time=0"
    bodies: dict[str, Any] = {
        "tickets": {"ticket": {"subject": f"s{n}", "comment": {"body": "b"}}},
        "update_many": {"ticket": {"subject": f"s{n}"}},
        "create_many": {"tickets": [{"comment": {"body": "b"}}]},
        "users": {"user": {"name": f"N{n}", "email": f"n{n}@example.net"}},
        "organizations": {"organization": {"name": f"O{n}"}},
        "groups": {"group": {"name": f"G{n}"}},
        "policies": {"sla_policy": {"title": f"P{n}", "filter": {"all": [], "any": []}, "policy_metrics": []}},
        "reorder": {"sla_policy_ids": [ids["policy_id"]]},
        "clock": {"advance": 1},
        "faults": {"seed": 0},
        "next": {},
    }
    if path.endswith("update_many"):
        path += f"?ids={ids['ticket_id']}"
    if method in ("POST", "PUT"):
        segments = [s for s in template.split("/") if s and not s.startswith("{")]
        kind = next(s for s in reversed(segments) if s in bodies)
        return method, path, bodies[kind]
    return method, path, {}


def operations_of(app_server: AppServer) -> list[str]:
    spec: dict[str, Any] = app_server.app.openapi()
    described = [f"{method.upper()} {path}" for path, ops in spec["paths"].items() for method in ops]
    return sorted(described, key=lambda op: op.startswith("DELETE"))  # deletes last: the rest needs what they delete


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_gives_each_role_exactly_what_it_may_have(tmp_path: Path, role: str) -> None:
    there = world(tmp_path)
    caller = {"end-user": END_USER, "agent": AGENT, "admin": ADMIN}[role]
    client = there.server.client(caller)
    operations = operations_of(there.server)
    assert set(operations) == set(EXPECTED), "every described operation has its row in EXPECTED, and only those"
    answered: dict[str, str] = {}
    for n, operation in enumerate(operations):
        method, path, body = request_of(operation, there.ids, n)
        response = client.request(method, path, json=body or None)
        got = "ok" if response.is_success else str(response.status_code)
        if got == "403":
            assert response.json() == FORBIDDEN, operation
        answered[operation] = got
    expected = {op: row[ROLES.index(role)] for op, row in EXPECTED.items()}
    assert {op: got for op, got in answered.items() if got != expected[op]} == {}
    there.server.stop()


def test_an_end_user_sees_only_their_own_tickets_and_their_own_profile(tmp_path: Path) -> None:
    there = world(tmp_path)
    user = there.server.client(END_USER)
    own = user.post("/api/v2/tickets", json={"ticket": {"subject": "mine", "comment": {"body": "b"}}}).json()
    listed = user.get("/api/v2/tickets").json()["tickets"]
    assert [t["id"] for t in listed] == [own["ticket"]["id"]]
    assert user.get(f"/api/v2/tickets/{own['ticket']['id']}/comments").status_code == 200
    assert user.get("/api/v2/users/me").json()["user"]["email"] == END_USER[0]
    found = user.get("/api/v2/search", params={"query": "o@example.net"})
    assert found.status_code == 403
    there.server.stop()
