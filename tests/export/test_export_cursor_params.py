"""Zendesk's cursor form and the parameter forms real clients send."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deskstream.exceptions import BadRequest, TooRecent
from deskstream.export.cursor import MAX_VALUE, Position, decode_cursor, encode_cursor
from deskstream.export.horizon import check_start_time, visible_until
from deskstream.export.params import parse_flag, parse_includes, parse_per_page, parse_start_time


def test_zendesks_documented_cursor_reads_as_its_time_and_id() -> None:
    assert decode_cursor("MTU3NjYxMzUzOS4wfHw0Njd8") == Position(1576613539, 467)
    assert encode_cursor(Position(1576613539, 467)) == "MTU3NjYxMzUzOS4wfHw0Njd8"


@given(st.integers(0, MAX_VALUE), st.integers(0, MAX_VALUE))
def test_every_cursor_reads_back_as_the_position_it_was_made_from(time: int, item_id: int) -> None:
    cursor = encode_cursor(Position(time, item_id))
    assert decode_cursor(cursor) == (time, item_id)
    assert decode_cursor(cursor.rstrip("=")) == (time, item_id)
    assert decode_cursor(cursor.replace("+", " ")) == (time, item_id)


@pytest.mark.parametrize(
    "cursor",
    ["zzz", "", "!!!!", base64.b64encode(b"1576613539||467|").decode(), base64.b64encode(b"x.0||1|").decode(),
     base64.b64encode(b"-5.0||1|").decode(), base64.b64encode(f"{2**64}.0||1|".encode()).decode()],
)
def test_a_malformed_cursor_is_a_bad_request(cursor: str) -> None:
    with pytest.raises(BadRequest) as raised:
        decode_cursor(cursor)
    assert raised.value.status == 400


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0", 0), ("1714558518", 1714558518), ("946684800.0", 946684800), ("946684800.9", 946684800),
     ("2000-01-01", 946684800), ("2000-01-01T00:00:00Z", 946684800), ("2000-01-01T01:00:00+01:00", 946684800),
     (" 12 ", 12)],
)
def test_start_time_is_read_in_every_form_clients_send(raw: str, expected: int) -> None:
    assert parse_start_time(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "abc", "<integer>", "-1", "-0.5", "nan", "inf", "1e999", "12abc"])
def test_a_missing_negative_or_unparseable_start_time_is_a_bad_request(raw: str | None) -> None:
    with pytest.raises(BadRequest):
        parse_start_time(raw)


def test_the_horizon_refuses_a_start_time_within_the_last_minute_or_in_the_future() -> None:
    now = 1_800_000_000
    check_start_time(now - 60, now)
    for start in (now - 59, now, now + 3600):
        with pytest.raises(TooRecent) as raised:
            check_start_time(start, now)
        assert raised.value.status == 422
        assert raised.value.body() == {
            "error": "InvalidValue",
            "description": "Too recent start_time. Use a start_time older than 1 minute",
        }
    assert visible_until(now) == now - 60


def test_per_page_defaults_to_a_thousand_and_refuses_what_is_out_of_range() -> None:
    assert parse_per_page(None) == 1000
    assert parse_per_page("1") == 1
    assert parse_per_page("1000") == 1000
    for raw in ("0", "1001", "-3", "ten", "1.5"):
        with pytest.raises(BadRequest):
            parse_per_page(raw)


def test_includes_are_split_on_commas_and_flags_read_as_rails_reads_them() -> None:
    assert parse_includes("users, groups,,metric_sets") == {"users", "groups", "metric_sets"}
    assert parse_includes(None) == frozenset()
    assert parse_flag("true") and parse_flag("1") and not parse_flag("false") and not parse_flag(None)
