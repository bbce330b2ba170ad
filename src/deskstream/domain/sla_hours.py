"""Business hours: the account's weekly schedule, and time counted only while it is open.

An SLA target with ``business_hours: true`` only runs while the schedule is open, so a 60-minute target set at
16:30 on a Friday (Mon–Fri 09:00–17:00) passes at 09:30 on Monday. deskstream models one account schedule, in one
time zone (Zendesk allows several schedules and holidays; see docs/sla.md). Times are Unix seconds throughout.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

#: A week of up to 400 days is searched at most: a schedule that is open at least once a week always ends sooner.
_MAX_DAYS = 400


@dataclass(frozen=True)
class Schedule:
    """Opening intervals per weekday (0 = Monday) as (start, end) minutes after local midnight, in ``time_zone``."""

    time_zone: str
    intervals: tuple[tuple[int, int, int], ...]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def open_periods(self, start: int) -> Iterator[tuple[int, int]]:
        """The schedule's open periods as (from, to) Unix seconds, in order, from the local day of ``start``."""
        zone = self.zone
        day = datetime.fromtimestamp(start, zone).date()
        for offset in range(_MAX_DAYS):
            current = day + timedelta(days=offset)
            for weekday, begin, end in self.intervals:
                if weekday == current.weekday():
                    yield _local(current, begin, zone), _local(current, end, zone)


@lru_cache(maxsize=16_384)  # the same few days' opening times are computed for every change of every ticket
def _local(day: date, minutes: int, zone: ZoneInfo) -> int:
    moment = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(minutes=minutes)
    # Aware arithmetic is wall-clock arithmetic: 09:00 stays 09:00 local on the days DST starts or ends.
    return int(moment.timestamp())


#: The account schedule: Monday to Friday, 09:00–17:00, New York time (DST included). A module constant by design:
#: one schedule is what the contract asks for; docs/sla.md says how to change it.
ACCOUNT_SCHEDULE = Schedule("America/New_York", tuple((d, 9 * 60, 17 * 60) for d in range(5)))


def business_seconds(start: int, end: int, schedule: Schedule = ACCOUNT_SCHEDULE) -> int:
    """Seconds of ``[start, end)`` during which the schedule is open."""
    if end <= start:
        return 0
    total = 0
    for begin, finish in schedule.open_periods(start):
        if begin >= end:
            break
        total += max(0, min(finish, end) - max(begin, start))
    return total


def add_business_seconds(start: int, seconds: int, schedule: Schedule = ACCOUNT_SCHEDULE) -> int:
    """The moment at which ``seconds`` of open time have passed since ``start`` (``start`` itself for 0)."""
    if seconds <= 0:
        return start
    left = seconds
    for begin, finish in schedule.open_periods(start):
        begin = max(begin, start)
        if finish <= begin:
            continue
        if finish - begin >= left:
            return begin + left
        left -= finish - begin
    raise ValueError("the business-hours schedule is never open")
