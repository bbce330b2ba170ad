"""No input is answered 5xx, on SQLite or on PostgreSQL: text that is not valid Unicode or holds a NUL, free-form
values no database or JSON writer can hold, and ids or positions past the signed 64-bit range are refused at the
edge, with Zendesk's shapes, and leave the database as it was.

- A body field that cannot be stored is a 422 ``RecordInvalid`` whose ``details`` names the field.
- A query parameter or path that cannot be read is a 400 (``InvalidValue``, or the cursor's own error). A
  parameter that never reaches the database may hold anything (``tests/api/test_links.py``: a NUL too).
- After either, the keep-alive connection serves the next request.

Every case runs on SQLite and on PostgreSQL (skipped, saying why, when no PostgreSQL answers). Bodies are sent as
JSON with ASCII escapes, as a client sends a lone surrogate (``"\\ud800"``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from tests.conftest import ADMIN, AppServer, ProcessServer, seed_accounts, start_app
from tests.helpers import pg_database

from deskstream.domain.tickets import normalize_tags
from deskstream.domain.validation import MAX_ID, text_problem
from deskstream.store import schema

S = "\ud800"  # a lone surrogate: no UTF-8 encoding exists for it
NUL = "a\x00b"
BIG = 2**63  # one past the largest signed 64-bit integer
#: Tables a refused request must leave exactly as they were: all but the rate limit's counters and the request
#: journal, which count and record every request, refused or not (they are not the record's).
TABLES = [name for name in schema.metadata.tables if name not in ("rate_limit_counters", "request_journal")]
BACKENDS = ["sqlite", "postgresql"]


def wire(body: Any) -> bytes:
    """A body as a client sends it: JSON with ASCII escapes, so a lone surrogate travels as ``\\ud800``."""
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def list_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(f"id:{value}".encode()).decode().rstrip("=")


def export_cursor(time: int, record_id: int) -> str:
    return base64.b64encode(f"{time}.0||{record_id}|".encode()).decode()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# servers -----------------------------------------------------------------------------------------------------------

class Target(NamedTuple):
    """A server and the records this module's cases aim at (each must come out of every refused case unchanged)."""

    server: AppServer
    client: httpx.Client
    ids: dict[str, int]


@pytest.fixture(scope="module", params=BACKENDS)
def target(
    request: pytest.FixtureRequest, make_app: Callable[..., AppServer], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """An in-process server per backend: SQLite through ``make_app``, PostgreSQL on a fresh ``pg_database``."""
    if request.param == "sqlite":
        server = make_app("--rate-limit", "off")
        yield aimed(server)
        return
    with pg_database("bad_input") as store:
        seed_accounts(store)
        server = start_app(tmp_path_factory.mktemp("bad_input"), "--rate-limit", "off", db_url=store.url)
        try:
            yield aimed(server)
        finally:
            server.stop()


def aimed(server: AppServer) -> Target:
    client = server.client(ADMIN)

    def made(path: str, body: dict[str, Any], key: str) -> int:
        response = client.post(path, json=body)
        assert response.status_code == 201, response.text
        return int(response.json()[key]["id"])

    ids = {
        "ticket": made("/api/v2/tickets", {"ticket": {"subject": "target", "comment": {"body": "t"}}}, "ticket"),
        "user": made("/api/v2/users", {"user": {"name": "Target", "email": "target@example.com"}}, "user"),
        "org": made("/api/v2/organizations", {"organization": {"name": "Target org"}}, "organization"),
        "group": made("/api/v2/groups", {"group": {"name": "Target group"}}, "group"),
        "policy": made("/api/v2/slas/policies", {"sla_policy": {"title": "Target policy", "filter": {
            "all": [{"field": "current_tags", "operator": "includes", "value": "never-tagged"}], "any": []}}},
            "sla_policy"),
    }  # fmt: skip
    return Target(server, client, ids)


def snapshot(server: AppServer) -> dict[str, list[str]]:
    """Every row of every table (but the rate-limit counters), in a comparable form."""
    with server.app.state.store.read() as conn:
        return {
            name: sorted(repr(tuple(row)) for row in conn.execute(select(schema.metadata.tables[name])))
            for name in TABLES
        }


# the cases -----------------------------------------------------------------------------------------------------------
class Case(NamedTuple):
    name: str
    method: str
    path: str  # {ticket}, {user}, {org}, {group}, {policy}: the target's records
    body: Any  # JSON-able (sent with ASCII escapes), raw bytes, or None
    status: int
    error: str
    field: str | None = None  # the key of ``details`` a 422 must have


def ticket(**fields: Any) -> dict[str, Any]:
    return {"ticket": {"comment": {"body": "bad input"}, **fields}}


def policy(**fields: Any) -> dict[str, Any]:
    return {"sla_policy": {"title": "p", "filter": {"all": [], "any": []}, **fields}}


def condition(value: Any, field: str = "current_tags") -> dict[str, Any]:
    return policy(filter={"all": [{"field": field, "operator": "includes", "value": value}], "any": []})


T, U, ORG, G, P = (f"/api/v2/{kind}/{{{name}}}" for kind, name in (
    ("tickets", "ticket"), ("users", "user"), ("organizations", "org"), ("groups", "group"),
    ("slas/policies", "policy")))  # fmt: skip
R = "RecordInvalid"

TEXT = [
    Case("a tag with a lone surrogate", "POST", "/api/v2/tickets",
         {"ticket": {"subject": "s", "tags": [S], "comment": {"body": "x"}}}, 422, R, "tags"),
    Case("a subject with a lone surrogate", "POST", "/api/v2/tickets", ticket(subject=S), 422, R, "subject"),
    Case("a comment body with a lone surrogate", "PUT", T, ticket(comment={"body": S}), 422, R, "comment"),
    Case("a description with a lone surrogate", "POST", "/api/v2/tickets", {"ticket": {"description": "x" + S}}, 422,
         R, "description"),
    Case("an additional tag with a lone surrogate", "PUT", T, ticket(additional_tags=["ok", S]), 422, R,
         "additional_tags"),
    Case("a removed tag with a lone surrogate", "PUT", T, ticket(remove_tags=[S]), 422, R, "remove_tags"),
    Case("a custom field value with a lone surrogate", "PUT", T, ticket(custom_fields=[{"id": 1, "value": S}]), 422,
         R, "custom_fields"),
    Case("a multi-select custom field value with a lone surrogate", "PUT", T,
         ticket(fields=[{"id": 1, "value": ["ok", S]}]), 422, R, "fields"),
    Case("a new requester's name with a lone surrogate", "POST", "/api/v2/tickets",
         ticket(requester={"email": "new-requester@example.com", "name": S}), 422, R, "requester"),
    Case("update_many with a tag holding a lone surrogate", "PUT", "/api/v2/tickets/update_many?ids={ticket}",
         {"ticket": {"tags": [S]}}, 422, R, "tags"),
    Case("create_many with a lone surrogate in its second ticket", "POST", "/api/v2/tickets/create_many",
         {"tickets": [{"comment": {"body": "fine"}}, {"subject": S, "comment": {"body": "x"}}]}, 422, R, "subject"),
    Case("a user name with a lone surrogate", "POST", "/api/v2/users", {"user": {"name": S, "email": "u@example.com"}},
         422, R, "name"),
    Case("a user tag with a lone surrogate", "POST", "/api/v2/users",
         {"user": {"name": "u", "email": "u@example.com", "tags": [S]}}, 422, R, "tags"),
    Case("a user field value with a lone surrogate", "PUT", U, {"user": {"user_fields": {"f": S}}}, 422, R,
         "user_fields"),
    Case("a user field name with a lone surrogate", "PUT", U, {"user": {"user_fields": {S: "v"}}}, 422, R,
         "user_fields"),
    Case("an organization tag with a lone surrogate", "PUT", ORG, {"organization": {"tags": [S]}}, 422, R, "tags"),
    Case("an organization domain name with a lone surrogate", "POST", "/api/v2/organizations",
         {"organization": {"name": "o", "domain_names": [S + ".example.com"]}}, 422, R, "domain_names"),
    Case("an organization field with a lone surrogate", "PUT", ORG, {"organization": {"organization_fields": {"f": S}}},
         422, R, "organization_fields"),
    Case("a group name with a lone surrogate", "POST", "/api/v2/groups", {"group": {"name": S}}, 422, R, "name"),
    Case("an SLA filter value with a lone surrogate", "POST", "/api/v2/slas/policies", condition(S), 422, R,
         "filter"),
    Case("an SLA description with a lone surrogate", "PUT", P, {"sla_policy": {"description": S}}, 422, R,
         "description"),
    # NUL: PostgreSQL's text columns refuse it (names, emails); in stored JSON it would be served back to clients
    Case("a subject with a NUL", "POST", "/api/v2/tickets", ticket(subject=NUL), 422, R, "subject"),
    Case("a comment body with a NUL", "PUT", T, ticket(comment={"body": NUL}), 422, R, "comment"),
    Case("an HTML comment body with a NUL", "PUT", T, ticket(comment={"html_body": NUL}), 422, R, "comment"),
    Case("a tag with a NUL", "PUT", T, ticket(tags=[NUL]), 422, R, "tags"),
    Case("an external id with a NUL", "PUT", T, ticket(external_id=NUL), 422, R, "external_id"),
    Case("a custom field value with a NUL", "PUT", T, ticket(custom_fields=[{"id": 1, "value": NUL}]), 422, R,
         "custom_fields"),
    Case("a new requester's email with a NUL", "POST", "/api/v2/tickets",
         ticket(requester={"email": "a\x00@example.com"}), 422, R, "requester"),
    Case("a safe_update stamp with a NUL", "PUT", T, ticket(safe_update=True, updated_stamp="2024\x00"), 422, R,
         "updated_stamp"),
    Case("a user name with a NUL", "PUT", U, {"user": {"name": NUL}}, 422, R, "name"),
    Case("a user email with a NUL", "POST", "/api/v2/users", {"user": {"name": "n", "email": "a\x00@example.com"}},
         422, R, "email"),
    Case("a password with a NUL", "PUT", U, {"user": {"password": NUL}}, 422, R, "password"),
    Case("an organization name with a NUL", "POST", "/api/v2/organizations", {"organization": {"name": NUL}}, 422, R,
         "name"),
    Case("a group name with a NUL", "PUT", G, {"group": {"name": NUL}}, 422, R, "name"),
    Case("an SLA title with a NUL", "POST", "/api/v2/slas/policies", policy(title=NUL), 422, R, "title"),
    Case("an SLA filter value with a NUL", "PUT", P, condition(NUL), 422, R, "filter"),
]

VALUES = [
    Case("a custom field value past 64 bits", "PUT", T, ticket(custom_fields=[{"id": 1, "value": 2**64}]), 422, R,
         "custom_fields"),
    Case("a custom field value below -2**63", "PUT", T, ticket(custom_fields=[{"id": 1, "value": -(2**63) - 1}]),
         422, R, "custom_fields"),
    Case("a custom field value of NaN", "PUT", T,
         b'{"ticket": {"custom_fields": [{"id": 1, "value": NaN}]}}', 422, R, "custom_fields"),
    Case("a custom field value of Infinity", "PUT", T,
         b'{"ticket": {"custom_fields": [{"id": 1, "value": 1e999}]}}', 422, R, "custom_fields"),
    Case("a custom field value nested 300 deep", "PUT", T,
         b'{"ticket": {"custom_fields": [{"id": 1, "value": ' + nested(300) + b"}]}}", 422, R, "custom_fields"),
    Case("a user field past 64 bits", "PUT", U, {"user": {"user_fields": {"n": 2**64}}}, 422, R, "user_fields"),
    Case("an organization field past 64 bits", "POST", "/api/v2/organizations",
         {"organization": {"name": "o", "organization_fields": {"n": 2**70}}}, 422, R, "organization_fields"),
    Case("an SLA filter value past 64 bits", "POST", "/api/v2/slas/policies", condition(2**70, "group_id"), 422, R,
         "filter"),
    Case("a due date before 1970", "PUT", T, ticket(due_at="0001-01-01T00:00:00+14:00"), 422, R, "due_at"),
    Case("a due date after 9999", "PUT", T, ticket(due_at="9999-12-31T23:59:59-14:00"), 422, R, "due_at"),
    Case("a safe_update stamp after 9999", "PUT", T,
         ticket(safe_update=True, updated_stamp="9999-12-31T23:59:59-14:00"), 409, "UpdateConflict"),
    Case("a safe_update stamp before year 1", "PUT", T,
         ticket(safe_update=True, updated_stamp="0001-01-01T00:00:00+14:00"), 409, "UpdateConflict"),
    Case("a body nested deeper than the JSON decoder goes", "PUT", T,
         b'{"ticket": {"custom_fields": [{"id": 1, "value": ' + nested(100_000) + b"}]}}", 400, "InvalidJSON"),
    Case("an integer of 5000 digits", "PUT", T, b'{"ticket": {"group_id": ' + b"9" * 5000 + b"}}", 400,
         "InvalidJSON"),
]

IDS = [
    Case("a requester_id past 64 bits", "POST", "/api/v2/tickets", ticket(requester_id=BIG), 422, R, "requester_id"),
    Case("an assignee_id past 64 bits", "PUT", T, ticket(assignee_id=BIG), 422, R, "assignee_id"),
    Case("a group_id past 64 bits", "PUT", T, ticket(group_id=BIG), 422, R, "group_id"),
    Case("an organization_id past 64 bits", "PUT", T, ticket(organization_id=BIG), 422, R, "organization_id"),
    Case("a collaborator id past 64 bits", "PUT", T, ticket(collaborator_ids=[1, BIG]), 422, R, "collaborator_ids"),
    Case("a comment author_id past 64 bits", "PUT", T, ticket(comment={"body": "b", "author_id": BIG}), 422, R,
         "comment"),
    Case("a custom field id past 64 bits", "PUT", T, ticket(custom_fields=[{"id": BIG, "value": "v"}]), 422, R,
         "custom_fields"),
    Case("a user's organization_id past 64 bits", "PUT", U, {"user": {"organization_id": BIG}}, 422, R,
         "organization_id"),
    Case("an organization's group_id past 64 bits", "PUT", ORG, {"organization": {"group_id": BIG}}, 422, R,
         "group_id"),
    Case("an SLA policy id past 64 bits in a reorder", "PUT", "/api/v2/slas/policies/reorder",
         {"sla_policy_ids": [BIG]}, 422, R, "sla_policy_ids"),
    Case("update_many with an id past 64 bits", "PUT", "/api/v2/tickets/update_many?ids=9223372036854775808",
         {"ticket": {"status": "open"}}, 400, "InvalidValue"),
    Case("update_many with id zero", "PUT", "/api/v2/tickets/update_many?ids={ticket},0",
         {"ticket": {"status": "open"}}, 400, "InvalidValue"),
    *(Case(f"a path id past 64 bits: {path}", method, path, body, 400, "InvalidValue") for method, path, body in [
        ("GET", "/api/v2/tickets/99999999999999999999", None),
        ("PUT", "/api/v2/tickets/9223372036854775808", ticket(status="open")),
        ("DELETE", "/api/v2/tickets/9223372036854775808", None),
        ("GET", "/api/v2/tickets/9223372036854775808/audits", None),
        ("GET", "/api/v2/tickets/9223372036854775808/comments", None),
        ("GET", "/api/v2/tickets/9223372036854775808/metrics", None),
        ("GET", "/api/v2/ticket_metrics/9223372036854775808", None),
        ("PUT", "/api/v2/users/9223372036854775808", {"user": {"name": "n"}}),
        ("GET", "/api/v2/organizations/99999999999999999999", None),
        ("DELETE", "/api/v2/groups/9223372036854775808", None),
        ("GET", "/api/v2/slas/policies/9223372036854775808", None),
    ]),
    *(Case(f"a list cursor past 64 bits: {path}", "GET",
           f"{path}?page[size]=2&page[after]=aWQ6MTg0NDY3NDQwNzM3MDk1NTE2MTY", None, 400,
           "InvalidPaginationParameter") for path in [
        "/api/v2/tickets", "/api/v2/users", "/api/v2/organizations", "/api/v2/groups", "/api/v2/ticket_metrics",
        "/api/v2/slas/policies", "/api/v2/tags", "/api/v2/tickets/{ticket}/audits", "/api/v2/tickets/{ticket}/comments",
    ]),
    Case("an export cursor whose time is past 64 bits", "GET",
         f"/api/v2/incremental/tickets/cursor?cursor={export_cursor(2**64, 1)}", None, 400, "InvalidCursor"),
    Case("an export cursor whose id is past 64 bits", "GET",
         f"/api/v2/incremental/users/cursor?cursor={export_cursor(1, BIG)}", None, 400, "InvalidCursor"),
    Case("a metric events cursor past 64 bits", "GET", "/api/v2/incremental/ticket_metric_events?start_time=0"
         f"&page[size]=2&page[after]={export_cursor(BIG, 1)}", None, 400, "InvalidCursor"),
    Case("a start_time past 64 bits (a time in the future)", "GET",
         "/api/v2/incremental/tickets?start_time=99999999999999999999", None, 422, "InvalidValue"),
    Case("a cursor export's start_time past 64 bits", "GET",
         "/api/v2/incremental/tickets/cursor?start_time=1e300", None, 422, "InvalidValue"),
    Case("a negative start_time", "GET", "/api/v2/incremental/users?start_time=-99999999999999999999", None, 400,
         "InvalidValue"),
    Case("a page number past 64 bits", "GET", "/api/v2/users?page=99999999999999999999", None, 400, "InvalidValue"),
    Case("a page size past 64 bits", "GET", "/api/v2/tickets?page[size]=99999999999999999999", None, 400,
         "InvalidValue"),
]

QUERY_NUL = [
    Case("a search for an email with a NUL", "GET", "/api/v2/search?query=email:a%00b", None, 400, "InvalidValue"),
    Case("a job status id with a NUL", "GET", "/api/v2/job_statuses/a%00b", None, 400, "InvalidValue"),
    Case("a path id with a NUL", "GET", "/api/v2/tickets/{ticket}%00", None, 400, "InvalidValue"),
    Case("update_many with a NUL in its ids", "PUT", "/api/v2/tickets/update_many?ids={ticket}%00",
         {"ticket": {"status": "open"}}, 400, "InvalidValue"),
    Case("a NUL in an export's start_time", "GET", "/api/v2/incremental/tickets?start_time=0%00", None, 400,
         "InvalidValue"),
    Case("a NUL in an export cursor", "GET", "/api/v2/incremental/tickets/cursor?cursor=%00", None, 400,
         "InvalidCursor"),
]

CASES = TEXT + VALUES + IDS + QUERY_NUL


def send(client: httpx.Client, case: Case, ids: dict[str, int]) -> httpx.Response:
    path = case.path.format(**ids)
    if case.body is None:
        return client.request(case.method, path)
    return client.request(case.method, path, content=wire(case.body), headers={"content-type": "application/json"})


def assert_refused(response: httpx.Response, case: Case) -> None:
    """The status and Zendesk's error shape: ``error``, and ``details[field]`` for a 422, a description otherwise."""
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == case.error, body
    if case.field is not None:
        assert case.field in body["details"], body
        assert all(d["description"] and d["error"] == "InvalidValue" for d in body["details"][case.field]), body
    else:
        assert isinstance(body.get("description"), str) and body["description"], body


def check(target: Target, case: Case) -> None:
    before = snapshot(target.server)
    assert_refused(send(target.client, case, target.ids), case)
    assert snapshot(target.server) == before


@pytest.mark.parametrize("case", TEXT, ids=[c.name for c in TEXT])
def test_text_that_is_not_valid_unicode_or_holds_a_nul_is_a_422_naming_the_field_and_writes_nothing(
    target: Target, case: Case
) -> None:
    check(target, case)


@pytest.mark.parametrize("case", VALUES, ids=[c.name for c in VALUES])
def test_a_value_no_database_or_json_writer_can_hold_is_refused_and_writes_nothing(target: Target, case: Case) -> None:
    check(target, case)


@pytest.mark.parametrize("case", IDS, ids=[c.name for c in IDS])
def test_an_id_or_position_past_64_bits_is_a_400_in_a_query_or_path_and_a_422_in_a_body(
    target: Target, case: Case
) -> None:
    check(target, case)


@pytest.mark.parametrize("case", QUERY_NUL, ids=[c.name for c in QUERY_NUL])
def test_a_nul_in_a_path_or_query_parameter_that_is_read_is_a_400_and_writes_nothing(
    target: Target, case: Case
) -> None:
    check(target, case)


def test_ids_and_positions_at_the_top_of_the_64_bit_range_are_served(target: Target) -> None:
    """The bound is the range, not less: the largest id is a 404 or an empty page, never a refusal or a 500."""
    client = target.client
    assert client.get(f"/api/v2/tickets/{MAX_ID}").status_code == 404
    page = client.get(f"/api/v2/tickets?page[size]=2&page[after]={list_cursor(MAX_ID)}")
    assert page.status_code == 200 and page.json()["tickets"] == []
    export = client.get(f"/api/v2/incremental/tickets/cursor?cursor={export_cursor(MAX_ID, MAX_ID)}")
    assert export.status_code == 200 and export.json()["tickets"] == [] and export.json()["end_of_stream"] is True
    updated = client.put(f"/api/v2/tickets/update_many?ids={MAX_ID}", json={"ticket": {"status": "open"}})
    assert updated.status_code == 404, updated.text


def test_valid_text_of_any_script_is_stored_and_served_as_sent(target: Target) -> None:
    """The refusals are exactly the invalid text: astral characters, combining marks, control characters but NUL,
    right-to-left marks and a byte order mark come back as they were sent."""
    text = "😀 e\u0301 日本語 \u202eRTL \x01\x1f \ufeff"
    response = target.client.post("/api/v2/tickets", content=wire(
        {"ticket": {"subject": text, "comment": {"body": text}, "custom_fields": [{"id": 7, "value": [text]}]}}),
        headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 201, response.text
    served = response.json()["ticket"]
    assert (served["subject"], served["description"]) == (text, text)
    assert served["custom_fields"] == [{"id": 7, "value": [text]}]
    user = target.client.post("/api/v2/users", content=wire({"user": {"name": text, "email": "script@example.com"}}),
                              headers={"content-type": "application/json"})  # fmt: skip
    assert user.status_code == 201 and user.json()["user"]["name"] == text, user.text


# the property --------------------------------------------------------------------------------------------------------
#: Any code point: lone surrogates and NUL included (hypothesis leaves surrogates out of text unless asked).
ANY_CHAR = st.one_of(st.characters(exclude_categories=()), st.sampled_from(["\x00", "\ud800", "\udfff", "\ud83d"]))
ANY_TEXT = st.text(ANY_CHAR, max_size=12)


def counted(server: AppServer) -> tuple[int, int]:
    with server.app.state.store.read() as conn:
        tickets, comments = (
            int(conn.execute(select(func.count()).select_from(schema.metadata.tables[name])).scalar_one())
            for name in ("tickets", "comments")
        )
    return tickets, comments


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(subject=ANY_TEXT, tags=st.lists(ANY_TEXT, max_size=3), body=ANY_TEXT.filter(bool))
def test_any_text_in_a_subject_tags_and_comment_is_stored_exactly_or_is_a_422_naming_what_is_invalid(
    target: Target, subject: str, tags: list[str], body: str
) -> None:
    """Never a 5xx. The server receives what the JSON on the wire decodes to (``"\\ud83d\\ude00"`` is one emoji); if
    all of it is valid text, the ticket serves it exactly (tags by Zendesk's tag rules); if not, the 422's
    ``details`` names exactly the fields that held invalid text, and no ticket or comment was written."""
    sent = {"ticket": {"subject": subject, "tags": tags, "comment": {"body": body}}}
    received = json.loads(wire(sent))["ticket"]
    invalid = {name for name, bad in (
        ("subject", text_problem(received["subject"])),
        ("tags", any(text_problem(tag) for tag in received["tags"])),
        ("comment", text_problem(received["comment"]["body"])),
    ) if bad}  # fmt: skip
    before = counted(target.server)
    response = target.client.post("/api/v2/tickets", content=wire(sent), headers={"content-type": "application/json"})
    assert response.status_code < 500, response.text
    if invalid:
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "RecordInvalid"
        assert set(response.json()["details"]) == invalid, response.json()
        assert counted(target.server) == before
        return
    assert response.status_code == 201, response.text
    served = response.json()["ticket"]
    assert served["subject"] == served["raw_subject"] == received["subject"]
    assert served["tags"] == normalize_tags(received["tags"])
    assert served["description"] == received["comment"]["body"]
    comments = target.client.get(f"/api/v2/tickets/{served['id']}/comments").json()["comments"]
    assert [c["body"] for c in comments] == [received["comment"]["body"]]


# the connection ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=BACKENDS)
def real_server(request: pytest.FixtureRequest, make_server: Callable[..., ProcessServer]) -> Iterator[ProcessServer]:
    """A real ``deskstream serve`` process per backend (keep-alive is the HTTP server's, not the app's)."""
    if request.param == "sqlite":
        yield make_server("--rate-limit", "off")
        return
    with pg_database("bad_input_keepalive") as store:
        seed_accounts(store)
        server = make_server("--rate-limit", "off", db_url=store.url)
        try:
            yield server
        finally:
            server.stop()


def test_after_a_refusal_the_keep_alive_connection_serves_the_next_request(real_server: ProcessServer) -> None:
    """Good and bad requests alternate on one connection: each answer is the one its request deserves, none closes
    the connection, and every request after the first travels on the first one's socket."""
    client = real_server.client(ADMIN)
    created = client.post("/api/v2/tickets", json={"ticket": {"comment": {"body": "keep-alive"}}})
    ticket_id = created.json()["ticket"]["id"]
    ids = {"ticket": ticket_id, "user": 1, "org": 1, "group": 1, "policy": 1}
    good = Case("good", "GET", "/api/v2/tickets/{ticket}", None, 200, "")
    bad = {case.name: case for case in CASES}
    sequence = [good, bad["a tag with a lone surrogate"], good, bad["update_many with an id past 64 bits"], good,
                bad["update_many with a NUL in its ids"], good, bad["a custom field value nested 300 deep"], good,
                bad["a body nested deeper than the JSON decoder goes"], good, bad["a comment body with a NUL"],
                Case("a good update", "PUT", T, ticket(subject="still here"), 200, ""), good]
    ports = set()
    for case in sequence:
        response = send(client, case, ids)
        if case.status < 400:
            assert response.status_code == case.status, response.text
        else:
            assert_refused(response, case)
        assert "close" not in response.headers.get("connection", "").lower(), (case.name, response.headers)
        ports.add(response.extensions["network_stream"].get_extra_info("client_addr")[1])
    assert len(ports) == 1, f"the connection was replaced: local ports {ports}"
    assert client.get(f"/api/v2/tickets/{ticket_id}").json()["ticket"]["subject"] == "still here"
