"""Bad input gets a clear, Zendesk-shaped 4xx — never a 500, never a half-written record.

One table: each row is a request, the status it must get and the ``error`` it must name (and, for 422, the field
named in ``details``). After every row the database's row counts are what they were before.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

import httpx
import pytest
from sqlalchemy import func, select

from deskstream.store import schema

if TYPE_CHECKING:
    from tests.conftest import Server  # the session's server fixture type (tests/conftest.py)

LIMIT = 1_048_576  # the default max_body_bytes
MISSING = 987_654_321
TABLES = ("tickets", "ticket_versions", "ticket_events", "comments", "users", "organizations", "groups")


class Case(NamedTuple):
    name: str
    method: str
    path: str
    body: Any  # a dict/list is sent as JSON, bytes as they are, an iterator of bytes chunked
    status: int
    error: str
    field: str | None = None


def ticket(**fields: Any) -> dict[str, Any]:
    return {"ticket": {"comment": {"body": "bad input"}, **fields}}


def chunks(total: int) -> Iterator[bytes]:
    """A body with no Content-Length (Transfer-Encoding: chunked), so only the streaming limit can stop it."""
    sent = 0
    yield b'{"ticket": {"comment": {"body": "'
    while sent < total:
        yield b"x" * 65_536
        sent += 65_536
    yield b'"}}}'


T = "/api/v2/tickets/{ticket}"
CASES = [
    # malformed bodies
    Case("malformed JSON on create", "POST", "/api/v2/tickets", b'{"ticket": {', 400, "InvalidJSON"),
    Case("malformed JSON on update", "PUT", T, b"{'ticket': 1}", 400, "InvalidJSON"),
    Case("a JSON list", "POST", "/api/v2/tickets", [1, 2], 400, "InvalidJSON"),
    Case("an empty body", "POST", "/api/v2/tickets", b"", 400, "InvalidJSON"),
    Case("no wrapper", "POST", "/api/v2/tickets", {"subject": "x"}, 422, "RecordInvalid", "ticket"),
    Case("a null ticket", "PUT", T, {"ticket": None}, 422, "RecordInvalid", "ticket"),
    # wrong types
    Case("subject as a list", "POST", "/api/v2/tickets", ticket(subject=["x"]), 422, "RecordInvalid", "subject"),
    Case("tags as a string", "PUT", T, ticket(tags="a b"), 422, "RecordInvalid", "tags"),
    Case("assignee_id as text", "PUT", T, ticket(assignee_id="me"), 422, "RecordInvalid", "assignee_id"),
    Case("assignee_id as true", "PUT", T, ticket(assignee_id=True), 422, "RecordInvalid", "assignee_id"),
    Case("an id past 64 bits", "PUT", T, ticket(group_id=2**64), 422, "RecordInvalid", "group_id"),
    Case("comment as a string", "POST", "/api/v2/tickets", {"ticket": {"comment": "hi"}}, 422, "RecordInvalid",
         "comment"),
    Case("public as a word", "PUT", T, ticket(comment={"body": "b", "public": "maybe"}), 422, "RecordInvalid",
         "comment"),
    Case("custom field without id", "PUT", T, ticket(custom_fields=[{"value": 1}]), 422, "RecordInvalid",
         "custom_fields"),
    Case("due_at not a time", "PUT", T, ticket(due_at="next tuesday"), 422, "RecordInvalid", "due_at"),
    Case("a subject over 150 chars", "PUT", T, ticket(subject="s" * 151), 422, "RecordInvalid", "subject"),
    Case("a user email without @", "POST", "/api/v2/users", {"user": {"email": "nope"}}, 422, "RecordInvalid",
         "email"),
    # unknown enum values
    Case("unknown priority", "POST", "/api/v2/tickets", ticket(priority="asap"), 422, "RecordInvalid", "priority"),
    Case("unknown status", "PUT", T, ticket(status="done"), 422, "RecordInvalid", "status"),
    Case("unknown type", "PUT", T, ticket(type="bug"), 422, "RecordInvalid", "type"),
    Case("status deleted", "PUT", T, ticket(status="deleted"), 422, "RecordInvalid", "status"),
    Case("unknown role", "POST", "/api/v2/users", {"user": {"email": "r@example.com", "role": "owner"}}, 422,
         "RecordInvalid", "role"),
    # references to records that do not exist
    Case("unknown assignee", "PUT", T, ticket(assignee_id=MISSING), 422, "RecordInvalid", "assignee_id"),
    Case("end user as assignee", "PUT", T, ticket(assignee_id=3), 422, "RecordInvalid", "assignee_id"),
    Case("unknown group", "PUT", T, ticket(group_id=MISSING), 422, "RecordInvalid", "group_id"),
    Case("unknown organization", "POST", "/api/v2/tickets", ticket(organization_id=MISSING), 422, "RecordInvalid",
         "organization_id"),
    Case("unknown collaborator", "PUT", T, ticket(collaborator_ids=[MISSING]), 422, "RecordInvalid",
         "collaborator_ids"),
    Case("new requester with an unknown assignee", "POST", "/api/v2/tickets",
         ticket(requester={"email": "half-written@example.com"}, assignee_id=MISSING), 422, "RecordInvalid",
         "assignee_id"),
    # oversized bodies
    Case("Content-Length over the limit", "POST", "/api/v2/tickets", b"x" * (LIMIT + 1), 413, "RequestTooLarge"),
    Case("a chunked body over the limit", "POST", "/api/v2/tickets", "chunked", 413, "RequestTooLarge"),
    Case("a comment over 64 KiB", "PUT", T, ticket(comment={"body": "x" * 70_000}), 422, "RecordInvalid",
         "comment"),
    # ids that do not exist or cannot exist
    Case("missing ticket", "GET", f"/api/v2/tickets/{MISSING}", None, 404, "RecordNotFound"),
    Case("update of a missing ticket", "PUT", f"/api/v2/tickets/{MISSING}", ticket(status="open"), 404,
         "RecordNotFound"),
    Case("delete of a missing ticket", "DELETE", f"/api/v2/tickets/{MISSING}", None, 404, "RecordNotFound"),
    Case("missing user", "GET", f"/api/v2/users/{MISSING}", None, 404, "RecordNotFound"),
    Case("missing organization", "PUT", f"/api/v2/organizations/{MISSING}", {"organization": {"name": "n"}}, 404,
         "RecordNotFound"),
    Case("missing group", "GET", f"/api/v2/groups/{MISSING}", None, 404, "RecordNotFound"),
    Case("missing job status", "GET", "/api/v2/job_statuses/nope", None, 404, "RecordNotFound"),
    Case("a ticket id that is a word", "GET", "/api/v2/tickets/abc", None, 400, "InvalidValue"),
    Case("a ticket id that is a word, on update", "PUT", "/api/v2/tickets/abc.json", ticket(), 400, "InvalidValue"),
    Case("ticket id zero", "GET", "/api/v2/tickets/0", None, 400, "InvalidValue"),
    Case("a ticket id past 64 bits", "GET", f"/api/v2/tickets/{2**64}", None, 400, "InvalidValue"),
    Case("a user id that is a word", "DELETE", "/api/v2/users/me2", None, 400, "InvalidValue"),
    # query parameters
    Case("update_many with a word id", "PUT", "/api/v2/tickets/update_many?ids=1,x", ticket(), 400, "InvalidValue"),
    Case("update_many without ids", "PUT", "/api/v2/tickets/update_many", ticket(), 400, "InvalidValue"),
    Case("update_many with 101 ids", "PUT", "/api/v2/tickets/update_many?ids=" + ",".join(["1"] * 101), ticket(),
         400, "InvalidValue"),
    Case("update_many with one missing id", "PUT", "/api/v2/tickets/update_many?ids={ticket}," + str(MISSING),
         ticket(status="solved"), 404, "RecordNotFound"),
    Case("create_many with no tickets", "POST", "/api/v2/tickets/create_many", {"tickets": []}, 422,
         "RecordInvalid", "tickets"),
    Case("per_page as a word", "GET", "/api/v2/tickets?per_page=many", None, 400, "InvalidValue"),
    Case("per_page over 100", "GET", "/api/v2/users?per_page=1000", None, 400, "InvalidValue"),
    Case("page[size] zero", "GET", "/api/v2/tickets?page[size]=0", None, 400, "InvalidValue"),
    Case("a forged cursor", "GET", "/api/v2/tickets?page[size]=2&page[after]=bm9wZQ", None, 400,
         "InvalidPaginationParameter"),
    # paths and methods
    Case("unknown path", "GET", "/api/v2/nothing_here", None, 404, "InvalidEndpoint"),
    Case("unknown child resource", "GET", T + "/nothing", None, 404, "InvalidEndpoint"),
    Case("PATCH a ticket", "PATCH", T, ticket(), 405, "MethodNotAllowed"),
    Case("POST to users/me", "POST", "/api/v2/users/me", {"user": {}}, 405, "MethodNotAllowed"),
    Case("DELETE the ticket list", "DELETE", "/api/v2/tickets", None, 405, "MethodNotAllowed"),
    # state conflicts
    Case("safe_update with a stale stamp", "PUT", T,
         ticket(status="solved", safe_update=True, updated_stamp="2001-01-01T00:00:00Z"), 409, "UpdateConflict"),
    Case("safe_update with an unreadable stamp", "PUT", T,
         ticket(status="solved", safe_update=True, updated_stamp="yesterday"), 422, "RecordInvalid",
         "updated_stamp"),
]  # fmt: skip


@pytest.fixture(scope="module")
def target(server: Server) -> int:
    """A ticket every row may aim at; it must come out of the table unchanged."""
    client = server.client()
    response = client.post("/api/v2/tickets", json={"ticket": {"subject": "target", "comment": {"body": "t"}}})
    return int(response.json()["ticket"]["id"])


def counts(server: Server) -> dict[str, int]:
    with server.read() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(schema.metadata.tables[name])).scalar_one())
            for name in TABLES
        }


def send(client: httpx.Client, case: Case, ticket_id: int) -> httpx.Response:
    path = case.path.replace("{ticket}", str(ticket_id))
    json_type = {"content-type": "application/json"}
    if case.body == "chunked":
        return client.request(case.method, path, content=chunks(LIMIT + 1), headers=json_type)
    if isinstance(case.body, bytes):
        return client.request(case.method, path, content=case.body, headers=json_type)
    return client.request(case.method, path, json=case.body)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_a_zendesk_shaped_error_and_writes_nothing(server: Server, target: int, case: Case) -> None:
    client = server.client()
    before, ticket_before = counts(server), client.get(f"/api/v2/tickets/{target}").json()
    response = send(client, case, target)
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == case.error
    if case.status != 422:
        assert isinstance(body.get("description"), str) and body["description"]
    if case.field is not None:
        assert case.field in body["details"], body
        assert all(d["description"] and d["error"] for d in body["details"][case.field])
    assert counts(server) == before
    assert client.get(f"/api/v2/tickets/{target}").json() == ticket_before


def test_a_body_just_under_the_limit_is_read_whole(admin: httpx.Client) -> None:
    """The limit refuses only what is over it: a chunked body under it is accepted."""
    body = b'{"ticket": {"comment": {"body": "chunked"}}, "padding": "' + b"p" * (LIMIT - 100) + b'"}'
    response = admin.post("/api/v2/tickets", content=iter([body[:1000], body[1000:]]),
                          headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 201, response.text
