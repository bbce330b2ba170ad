"""The console's timeline of changes per second: where the same-second storms are, and where the horizon is.

A window (``seconds`` long, ending at ``end``, by default just after the server's now) is cut into at most
:data:`MAX_BARS` buckets of whole seconds; each bar is a bucket's busiest second, so a storm of 1,050 changes in one
second stands out in a window of 90 days as it does in a window of a minute. A second holding more ticket versions
than the largest export page (:data:`~deskstream.export.params.MAX_PER_PAGE`) is one a time-based page must extend
over, or cut inside under ``tie_overflow=stall``. Nothing stamped after the horizon (now - 60 s) is exported yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from deskstream.clock import Clock
from deskstream.export.horizon import visible_until
from deskstream.export.params import MAX_PER_PAGE
from deskstream.store.engine import Store
from deskstream.store.timeline import Bucket, ChangeCounts, Second

#: Bars in one chart, at most.
MAX_BARS = 240
#: The busiest seconds listed under the chart.
BUSIEST = 10
#: The widest window: a year (the demo's history is 90 days).
MAX_WINDOW = 366 * 86_400
#: A second with more ticket versions than this cannot fit in one export page.
STORM = MAX_PER_PAGE


@dataclass(frozen=True)
class Timeline:
    """A window's buckets, its busiest seconds, and the server's now and export horizon."""

    start: int
    end: int
    width: int
    now: int
    horizon: int
    buckets: list[Bucket]
    busiest: list[Second]

    @property
    def peak(self) -> int:
        return max((bucket.peak for bucket in self.buckets), default=0)

    @property
    def peak_tickets(self) -> int:
        return max((bucket.peak_tickets for bucket in self.buckets), default=0)

    @property
    def total(self) -> int:
        return sum(bucket.changes for bucket in self.buckets)


class TimelineService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def window(self, seconds: int, end: int | None = None) -> Timeline:
        """The ``seconds`` (1 to :data:`MAX_WINDOW`) before ``end`` (exclusive; default: the second after now)."""
        seconds = min(max(seconds, 1), MAX_WINDOW)
        now = self.clock.now()
        end = now + 1 if end is None else end
        start = end - seconds
        width = -(-seconds // MAX_BARS)
        with self.store.read() as conn:
            counts = ChangeCounts(conn)
            buckets, busiest = counts.buckets(start, end, width), counts.busiest(start, end, BUSIEST)
        return Timeline(start, end, width, now, visible_until(now), buckets, busiest)
