"""The timeline's counts (store/timeline.py) on SQLite and PostgreSQL: changes per second, grouped into buckets that
keep their busiest second, and the busiest seconds, from tickets written through the services."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import seed_accounts
from tests.helpers import migrated_store

from deskstream.clock import FixedClock
from deskstream.domain.tickets import CommentInput, TicketInput
from deskstream.service import Desk
from deskstream.service.context import Actor
from deskstream.service.timeline import TimelineService
from deskstream.store import Store
from deskstream.store.timeline import Bucket, ChangeCounts, Second

T0 = 1_800_000_000


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with migrated_store(request.param, tmp_path, "timeline") as migrated:
        yield migrated


def write_tickets(store: Store, *seconds: int) -> None:
    """One ticket created (a ticket version, its audit, its SLA-free metric events) at each of these seconds."""
    admin = Actor(seed_accounts(store, T0 - 86_400 * 30)["admin"], "admin")
    clock = FixedClock(T0)
    desk = Desk(store, clock)
    for second in seconds:
        clock.value = second
        desk.tickets.create(TicketInput(subject="t", comment=CommentInput(body="x")), admin)


def test_buckets_count_each_bucket_and_keep_its_busiest_second(store: Store) -> None:
    write_tickets(store, T0, T0, T0, T0 + 5, T0 + 130, T0 + 130, T0 + 600)
    with store.read() as conn:
        buckets = ChangeCounts(conn).buckets(T0, T0 + 200, 60)
    per_ticket = buckets[0].changes // 4  # every ticket made as many changes
    assert buckets == [Bucket(T0, 4 * per_ticket, 4, 3 * per_ticket, 3),
                       Bucket(T0 + 120, 2 * per_ticket, 2, 2 * per_ticket, 2)]  # fmt: skip


def test_the_busiest_seconds_come_most_ticket_versions_first(store: Store) -> None:
    write_tickets(store, T0, T0 + 5, T0 + 5, T0 + 9, T0 + 9, T0 + 9)
    with store.read() as conn:
        busiest = ChangeCounts(conn).busiest(T0, T0 + 60, 2)
    assert [(second.time, second.tickets) for second in busiest] == [(T0 + 9, 3), (T0 + 5, 2)]
    assert all(isinstance(second, Second) and second.changes >= second.tickets for second in busiest)


def test_a_window_is_cut_into_at_most_240_bars_with_the_horizon_a_minute_before_now(store: Store) -> None:
    write_tickets(store, T0 - 86_400)
    timeline = TimelineService(store, FixedClock(T0)).window(7 * 86_400)
    assert (timeline.end, timeline.start, timeline.width) == (T0 + 1, T0 + 1 - 7 * 86_400, 2520)
    assert timeline.horizon == T0 - 60 and timeline.peak_tickets == 1 and len(timeline.buckets) == 1
