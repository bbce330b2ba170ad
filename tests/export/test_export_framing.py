"""The one framer, link builder and list cursor that every answer uses (exports, lists, single items)."""

from __future__ import annotations

from urllib.parse import urlsplit

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from deskstream.exceptions import BadRequest
from deskstream.export.cursor import MAX_VALUE, decode_id_cursor, encode_id_cursor
from deskstream.export.framing import frame, frame_item, link

LOCATION = "http://desk.example:8443/api/v2/users"


def read_back(url: str) -> list[tuple[str, str]]:
    """The parameters a link gives the server, read as Starlette reads a request's query string."""
    assert url.startswith(LOCATION + "?")
    parts = urlsplit(url)
    assert parts.fragment == "" and "#" not in url
    return QueryParams(parts.query).multi_items()


#: Any text, biased towards what a query string gives meaning to.
text = st.text(st.one_of(st.sampled_from("&=#+%?/;[], \t"), st.characters(codec="utf-8")), max_size=16)
params = st.lists(st.tuples(text, text), max_size=6)


@given(params)
def test_every_parameter_round_trips_through_a_link_unchanged_and_in_order(pairs: list[tuple[str, str]]) -> None:
    assert read_back(link(LOCATION, pairs, {})) == pairs


@given(params, st.dictionaries(text, text, max_size=3), st.lists(text, max_size=2))
def test_a_link_sets_its_updates_once_drops_what_it_drops_and_keeps_the_rest_as_sent(
    pairs: list[tuple[str, str]], updates: dict[str, str], drop: list[str]
) -> None:
    got = read_back(link(LOCATION, pairs, updates, drop))
    assert [p for p in got if p[0] not in updates] == [p for p in pairs if p[0] not in updates and p[0] not in drop]
    assert sorted(p for p in got if p[0] in updates) == sorted(updates.items())


def test_an_updated_parameter_keeps_its_place_and_a_new_one_comes_last() -> None:
    pairs = [("per_page", "2"), ("page", "1"), ("x", "a"), ("page", "7")]
    assert link(LOCATION, pairs, {"page": "2", "sort": "id"}) == f"{LOCATION}?per_page=2&page=2&x=a&sort=id"
    assert link(LOCATION, pairs, {"cursor": "c"}, drop=("page",)) == f"{LOCATION}?per_page=2&x=a&cursor=c"


def test_zendesks_bracketed_names_and_comma_lists_stay_readable_and_everything_else_is_percent_encoded() -> None:
    pairs = [("page[size]", "1"), ("include", "users,groups"), ("query", "email:a+b@c.d x"), ("x", "a&page=999#f")]
    assert link(LOCATION, pairs, {"page[after]": "MTU3Ng=="}) == (
        f"{LOCATION}?page[size]=1&include=users,groups&query=email%3Aa%2Bb%40c.d%20x&x=a%26page%3D999%23f"
        "&page[after]=MTU3Ng%3D%3D"
    )


def test_a_list_frame_holds_the_items_then_the_meta_then_the_sideloads_in_order() -> None:
    items = [b'{"id":1}', b'{"id":2}']
    body = frame("users", items, {"count": 2, "next_page": None}, {"groups": [b'{"id":9}'], "identities": []})
    assert body == b'{"users":[{"id":1},{"id":2}],"count":2,"next_page":null,"groups":[{"id":9}],"identities":[]}'
    assert list(orjson.loads(body)) == ["users", "count", "next_page", "groups", "identities"]


def test_a_list_frame_without_meta_is_still_json() -> None:
    assert orjson.loads(frame("tags", [], {})) == {"tags": []}
    assert orjson.loads(frame("tags", [b"1"], {}, {"more": [b"2"]})) == {"tags": [1], "more": [2]}


def test_a_single_item_is_framed_under_its_key_with_its_sideloads_after_it() -> None:
    assert frame_item("ticket", b'{"id":1}') == b'{"ticket":{"id":1}}'
    assert frame_item("ticket", b'{"id":1}', {"metric_sets": [b'{"id":1}']}) == (
        b'{"ticket":{"id":1},"metric_sets":[{"id":1}]}'
    )


@given(st.integers(0, MAX_VALUE))
def test_every_list_cursor_reads_back_as_the_id_it_was_made_from(record_id: int) -> None:
    cursor = encode_id_cursor(record_id)
    assert cursor.isascii() and "=" not in cursor and "+" not in cursor and "/" not in cursor
    assert decode_id_cursor(cursor) == record_id
    assert decode_id_cursor(cursor + "=" * (-len(cursor) % 4)) == record_id


@pytest.mark.parametrize(
    "cursor",
    ["bm9wZQ", "", "!!!!", "aWQ6", encode_id_cursor(-1), encode_id_cursor(MAX_VALUE + 1), "aWQ6eA"],
)
def test_a_malformed_or_out_of_range_list_cursor_is_a_bad_request(cursor: str) -> None:
    with pytest.raises(BadRequest) as raised:
        decode_id_cursor(cursor)
    assert (raised.value.status, raised.value.error) == (400, "InvalidPaginationParameter")
