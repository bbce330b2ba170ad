"""Properties over random histories with many same-second writes, served through the export module directly.

Following the cursor export yields every ticket's latest version exactly once; following the time-based export and
keeping the last version seen per id yields the same, never stalls, never serves past the horizon, and exceeds
``per_page`` only to finish a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from export_histories import History, new_history
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from deskstream.export.cursor import Position
from deskstream.export.pages import cursor_page, time_page
from deskstream.export.streams import STREAMS, Selection

TICKETS = Selection(STREAMS["tickets"])

#: One step of a history: seconds to move the clock (mostly none: same-second storms), what to do, and how much.
Step = tuple[int, str, int, int]
steps = st.lists(
    st.tuples(
        st.sampled_from([0, 0, 0, 1, 2]),
        st.sampled_from(["create", "create", "update", "update_many", "delete"]),
        st.integers(0, 10**6),
        st.integers(1, 6),
    ),
    min_size=1,
    max_size=20,
)


@dataclass
class Built:
    history: History
    #: id → (generated_timestamp, stored json) of every ticket's latest version.
    latest: dict[int, tuple[int, bytes]]


def build(history_steps: list[Step]) -> Built:
    h = new_history("sqlite://")
    live: list[int] = []
    for n, (advance, kind, pick, count) in enumerate(history_steps):
        h.tick(advance)
        if kind == "create" or not live:
            live += h.create(count)
        elif kind == "update":
            h.update([live[pick % len(live)]], additional_tags=[f"step{n}"])
        elif kind == "update_many":
            chosen = sorted({live[(pick + k * 7) % len(live)] for k in range(count)})
            h.update(chosen, additional_tags=[f"step{n}"])
        else:
            h.delete(live.pop(pick % len(live)))
    with h.store.read() as conn:
        rows = conn.execute(text("SELECT id, generated_timestamp, json FROM tickets")).all()
    return Built(h, {r[0]: (r[1], bytes(r[2])) for r in rows})


def visible(built: Built, until: int) -> dict[int, bytes]:
    return {i: body for i, (ts, body) in built.latest.items() if ts <= until}


def follow_cursor(built: Built, until: int, per_page: int) -> list[bytes]:
    served: list[bytes] = []
    position = Position(0, 0)
    with built.history.store.scanning() as scans:
        for _ in range(10_000):
            page = cursor_page(scans, TICKETS, position, until, per_page)
            served += page.items
            assert page.count <= per_page
            position = page.last or position
            if page.end_of_stream:
                return served
    raise AssertionError("the cursor export did not end")


def follow_time(built: Built, until: int, per_page: int) -> dict[int, bytes]:
    kept: dict[int, bytes] = {}
    start = 0
    with built.history.store.scanning() as scans:
        for _ in range(10_000):
            page = time_page(scans, TICKETS, start, until, per_page)
            times = [orjson.loads(item)["generated_timestamp"] for item in page.items]
            assert all(start <= t <= until for t in times)
            assert times == sorted(times)
            if page.count > per_page:
                assert len(set(times[per_page - 1 :])) == 1 or set(times) <= {start, times[-1]}
            for item in page.items:
                kept[orjson.loads(item)["id"]] = item
            if page.end_of_stream:
                return kept
            assert page.last is not None and page.last.time > start, "next_page must move forward"
            start = page.last.time
    raise AssertionError("the time-based export did not end")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.integers(1, 5), st.integers(0, 4))
def test_following_the_cursor_export_yields_every_latest_version_exactly_once(
    history_steps: list[Step], per_page: int, horizon_back: int
) -> None:
    built = build(history_steps)
    until = built.history.clock.value - horizon_back
    served = follow_cursor(built, until, per_page)
    ids = [orjson.loads(item)["id"] for item in served]
    assert len(ids) == len(set(ids))
    assert dict(zip(ids, served)) == visible(built, until)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.integers(1, 5), st.integers(0, 4))
def test_following_the_time_export_and_deduping_by_id_yields_the_same_and_never_stalls(
    history_steps: list[Step], per_page: int, horizon_back: int
) -> None:
    built = build(history_steps)
    until = built.history.clock.value - horizon_back
    assert follow_time(built, until, per_page) == visible(built, until)


@settings(max_examples=30, deadline=None)
@given(steps, st.integers(1, 5), st.integers(0, 8))
def test_start_time_is_inclusive_the_first_page_holds_its_whole_second(
    history_steps: list[Step], per_page: int, offset: int
) -> None:
    built = build(history_steps)
    start = built.history.clock.value - offset
    with built.history.store.scanning() as scans:
        page = time_page(scans, TICKETS, start, 2**62, per_page)
    served = {orjson.loads(item)["id"] for item in page.items}
    at_start = {i for i, (ts, _) in built.latest.items() if ts == start}
    assert at_start <= served
    assert all(built.latest[i][0] >= start for i in served)
