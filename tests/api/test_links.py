"""Every next and previous link reads back as the request that led to it: each parameter the client sent comes back
through the link exactly, whatever it holds (``&``, ``=``, ``#``, ``+``, ``%``, spaces, unicode), on the list
endpoints (offset and cursor pagination) and the incremental exports (``next_page``, ``after_url``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import create_ticket

if TYPE_CHECKING:
    from tests.conftest import Server  # the session's server fixture type (tests/conftest.py)

#: A value that, pasted into a query string unencoded, would end the parameter, add ``page=999`` and cut the rest
#: off as a fragment.
INJECTED = "a&page=999#frag"
EXPORTS = "/api/v2/incremental"


def query(url: str) -> dict[str, list[str]]:
    """A link's query as the server reads it (blank values kept)."""
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def sent(params: dict[str, Any]) -> dict[str, list[str]]:
    return {name: [str(value)] for name, value in params.items()}


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    """The admin on the shared server, for the whole module (the property tests run many examples on it)."""
    with server.client(("admin@example.com", "deskstream")) as c:
        yield c


@pytest.fixture(scope="module")
def ticket_with_two_audits(client: httpx.Client) -> int:
    """A ticket tagged with two tags of its own (so ``/tags`` has at least two), updated once (two audits)."""
    tags = [f"links-{uuid.uuid4().hex[:8]}", f"links-{uuid.uuid4().hex[:8]}"]
    ticket = create_ticket(client, subject="Links", tags=tags)
    assert client.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"status": "open"}}).status_code == 200
    return int(ticket["id"])


def get(client: httpx.Client, url: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def follow_offset(client: httpx.Client, path: str, params: dict[str, Any], key: str) -> None:
    """Page 1's ``next_page`` is page 2 of the same query, and page 2's ``previous_page`` is the query as sent."""
    first = get(client, path, {**params, "per_page": 1})
    assert first["next_page"], f"{path} needs two items for this test"
    assert query(first["next_page"]) == {**sent(params), "per_page": ["1"], "page": ["2"]}
    second = get(client, first["next_page"])
    assert second["count"] == first["count"]
    assert second[key] and second[key] != first[key]
    assert query(second["previous_page"]) == {**sent(params), "per_page": ["1"], "page": ["1"]}
    assert get(client, second["previous_page"]) == first


def follow_cursor(client: httpx.Client, path: str, params: dict[str, Any], key: str) -> None:
    """``links.next`` holds the query as sent plus ``page[after]``; what it serves links back the same way."""
    first = get(client, path, {**params, "page[size]": 1})
    assert first["meta"]["has_more"], f"{path} needs two items for this test"
    after = first["meta"]["after_cursor"]
    assert query(first["links"]["next"]) == {**sent(params), "page[size]": ["1"], "page[after]": [after]}
    second = get(client, first["links"]["next"])
    assert second[key] and second[key] != first[key]
    assert query(second["links"]["prev"]) == {
        **sent(params), "page[size]": ["1"], "page[after]": [after], "page[before]": [second["meta"]["before_cursor"]]
    }


def test_a_search_query_with_a_plus_sign_reads_back_unchanged_through_next_page(client: httpx.Client) -> None:
    query_text = "type:user updated>2000-01-01T00:00:00+00:00"
    follow_offset(client, "/api/v2/search.json", {"query": query_text}, "results")


def test_a_search_for_an_email_with_a_plus_sign_is_found_again_through_previous_page(client: httpx.Client) -> None:
    email = f"a+b-{uuid.uuid4().hex[:8]}@c.example"
    created = client.post("/api/v2/users", json={"user": {"email": email, "name": "Plus Sign"}})
    assert created.status_code == 201, created.text
    params = {"query": f"email:{email}", "per_page": 1, "page": 2}
    beyond = get(client, "/api/v2/search", params)
    assert (beyond["results"], beyond["count"]) == ([], 1)
    assert query(beyond["previous_page"]) == {**sent(params), "page": ["1"]}
    found = get(client, beyond["previous_page"])
    assert [r["email"] for r in found["results"]] == [email]


def test_an_ampersand_equals_and_hash_in_a_parameter_stay_in_it_through_the_users_next_page(
    client: httpx.Client,
) -> None:
    follow_offset(client, "/api/v2/users", {"x": INJECTED}, "users")
    follow_cursor(client, "/api/v2/users.json", {"x": INJECTED}, "users")


def test_an_ampersand_equals_and_hash_in_a_parameter_stay_in_it_through_the_tags_links(
    client: httpx.Client, ticket_with_two_audits: int
) -> None:
    follow_cursor(client, "/api/v2/tags", {"x": INJECTED}, "tags")
    follow_offset(client, "/api/v2/tags.json", {"x": INJECTED}, "tags")


def test_an_ampersand_equals_and_hash_in_a_parameter_stay_in_it_through_the_ticket_audits_links(
    client: httpx.Client, ticket_with_two_audits: int
) -> None:
    path = f"/api/v2/tickets/{ticket_with_two_audits}/audits"
    follow_offset(client, path, {"x": INJECTED}, "audits")
    follow_cursor(client, f"{path}.json", {"x": INJECTED}, "audits")


def test_an_ampersand_equals_and_hash_in_a_parameter_stay_in_it_through_an_exports_next_page(
    client: httpx.Client,
) -> None:
    params = {"start_time": 0, "per_page": 1, "x": INJECTED, "include": "users,groups"}
    first = get(client, f"{EXPORTS}/tickets.json", params)
    assert query(first["next_page"]) == {**sent(params), "start_time": [str(first["end_time"])]}
    second = get(client, first["next_page"])
    assert query(second["next_page"]) == {**sent(params), "start_time": [str(second["end_time"])]}


def test_an_ampersand_equals_and_hash_in_a_parameter_stay_in_it_through_an_exports_after_url(
    client: httpx.Client,
) -> None:
    params = {"start_time": 0, "per_page": 1, "x": INJECTED}
    first = get(client, f"{EXPORTS}/tickets/cursor", params)
    rest = {"per_page": ["1"], "x": [INJECTED]}
    assert query(first["after_url"]) == {**rest, "cursor": [first["after_cursor"]]}
    second = get(client, first["after_url"])
    assert query(second["after_url"]) == {**rest, "cursor": [second["after_cursor"]]}
    assert query(second["before_url"]) == {**rest, "cursor": [first["after_cursor"]]}


#: Text biased towards what a query string gives meaning to, mixed with any other character.
awkward_text = st.text(st.one_of(st.sampled_from("&=#+%?/;[], \t\"'\\"), st.characters(codec="utf-8")), max_size=24)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=awkward_text)
def test_any_parameter_value_round_trips_unchanged_through_next_links(
    client: httpx.Client, ticket_with_two_audits: int, value: str
) -> None:
    """Following a next link, the server reads back exactly the value sent, in list and export pagination."""
    users = get(client, "/api/v2/users", {"per_page": 1, "x": value})
    assert query(users["next_page"])["x"] == [value]
    assert query(get(client, users["next_page"])["previous_page"])["x"] == [value]
    tags = get(client, "/api/v2/tags", {"page[size]": 1, "x": value})
    assert query(tags["links"]["next"])["x"] == [value]
    assert query(get(client, tags["links"]["next"])["links"]["prev"])["x"] == [value]
    exported = get(client, f"{EXPORTS}/tickets", {"start_time": 0, "x": value})
    assert query(get(client, exported["next_page"])["next_page"])["x"] == [value]
    resumed = get(client, f"{EXPORTS}/users/cursor", {"start_time": 0, "x": value})
    assert query(get(client, resumed["after_url"])["after_url"])["x"] == [value]
