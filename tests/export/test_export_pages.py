"""Page building on a real SQLite store: inclusive start, whole seconds, the horizon, cursors strictly after."""

from __future__ import annotations

import orjson

from deskstream.export.cursor import Position
from deskstream.export.pages import cursor_page, page_before, time_page
from deskstream.export.streams import STREAMS, Selection

from export_histories import T0, History, history  # noqa: F401  (the fixture)

TICKETS = Selection(STREAMS["tickets"])
FAR = T0 + 10**6


def ids(items: list[bytes]) -> list[int]:
    return [orjson.loads(item)["id"] for item in items]


def test_a_time_page_includes_items_stamped_exactly_at_start_time(history: History) -> None:
    history.create(1)
    history.tick(5)
    later = history.create(1)
    with history.store.scanning() as scans:
        page = time_page(scans, TICKETS, T0 + 5, FAR, 10)
    assert ids(page.items) == later
    assert page.end_of_stream


def test_a_time_page_is_in_time_then_id_order_and_reports_its_last_item(history: History) -> None:
    first = history.create(2)
    history.tick()
    second = history.create(1)
    history.tick()
    history.update(first[:1], priority="high")
    with history.store.scanning() as scans:
        page = time_page(scans, TICKETS, 0, FAR, 1000)
    assert ids(page.items) == [first[1], second[0], first[0]]
    assert page.last == Position(T0 + 2, first[0])


def test_a_page_that_would_end_inside_a_second_takes_the_rest_of_that_second(history: History) -> None:
    history.create(1)
    history.tick()
    storm = history.create(7)
    history.tick()
    history.create(1)
    with history.store.scanning() as scans:
        page = time_page(scans, TICKETS, T0, FAR, 3)
    assert page.count == 8
    assert ids(page.items)[1:] == storm
    assert page.last is not None and page.last.time == T0 + 1
    assert not page.end_of_stream


def test_a_page_that_never_leaves_its_start_second_also_takes_the_next_second(history: History) -> None:
    storm = history.create(5)
    history.tick()
    after = history.create(2)
    history.tick()
    history.create(1)
    with history.store.scanning() as scans:
        page = time_page(scans, TICKETS, T0, FAR, 2)
    assert ids(page.items) == storm + after
    assert page.last is not None and page.last.time > T0
    assert not page.end_of_stream


def test_a_storm_at_the_end_of_the_stream_ends_it(history: History) -> None:
    storm = history.create(5)
    with history.store.scanning() as scans:
        page = time_page(scans, TICKETS, T0, FAR, 2)
    assert ids(page.items) == storm
    assert page.end_of_stream


def test_split_ties_cuts_the_page_inside_a_second_as_real_zendesk_may(history: History) -> None:
    history.create(5)
    with history.store.scanning() as scans:
        page = time_page(scans, TICKETS, T0, FAR, 2, split_ties=True)
    assert page.count == 2
    assert not page.end_of_stream


def test_items_newer_than_the_horizon_are_not_served(history: History) -> None:
    old = history.create(1)
    history.tick(30)
    history.create(1)
    with history.store.scanning() as scans:
        timed = time_page(scans, TICKETS, 0, T0 + 29, 10)
        cursored = cursor_page(scans, TICKETS, Position(0, 0), T0 + 29, 10)
    assert ids(timed.items) == old and timed.end_of_stream
    assert ids(cursored.items) == old and cursored.end_of_stream


def test_a_cursor_page_holds_the_items_strictly_after_the_position(history: History) -> None:
    storm = history.create(5)
    with history.store.scanning() as scans:
        first = cursor_page(scans, TICKETS, Position(0, 0), FAR, 2)
        assert first.last is not None
        second = cursor_page(scans, TICKETS, first.last, FAR, 2)
        assert second.last is not None
        third = cursor_page(scans, TICKETS, second.last, FAR, 2)
    assert ids(first.items) + ids(second.items) + ids(third.items) == storm
    assert [first.end_of_stream, second.end_of_stream, third.end_of_stream] == [False, False, True]


def test_a_page_before_a_position_holds_the_items_just_before_it_in_stream_order(history: History) -> None:
    made = history.create(5)
    with history.store.scanning() as scans:
        page = page_before(scans, TICKETS, Position(T0, made[3]), 0, 2)
        rest = page_before(scans, TICKETS, Position(T0, made[1]), 0, 2)
    assert ids(page.items) == made[1:3] and not page.end_of_stream
    assert ids(rest.items) == made[:1] and rest.end_of_stream


def test_exclude_deleted_leaves_deleted_tickets_out_and_they_show_as_deleted_otherwise(history: History) -> None:
    kept, gone = history.create(2)
    history.tick()
    history.delete(gone)
    with history.store.scanning() as scans:
        everything = time_page(scans, TICKETS, 0, FAR, 10)
        live = time_page(scans, Selection(STREAMS["tickets"], exclude_deleted=True), 0, FAR, 10)
    statuses = {orjson.loads(i)["id"]: orjson.loads(i)["status"] for i in everything.items}
    assert statuses[gone] == "deleted"
    assert ids(live.items) == [kept]


def test_comment_events_serve_the_form_with_comment_children(history: History) -> None:
    history.create(1)
    events = Selection(STREAMS["ticket_events"])
    with_comments = Selection(STREAMS["ticket_events"], with_comments=True)
    with history.store.scanning() as scans:
        plain = orjson.loads(time_page(scans, events, 0, FAR, 10).items[0])
        full = orjson.loads(time_page(scans, with_comments, 0, FAR, 10).items[0])
    assert plain["comment_present"] is True
    assert "Comment" not in [c["event_type"] for c in plain["child_events"]]
    comment = next(c for c in full["child_events"] if c["event_type"] == "Comment")
    assert comment["body"] == "Please help" and comment["type"] == "Comment" and comment["audit_id"] == full["id"]
