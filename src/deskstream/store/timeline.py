"""How many changes were stamped in each second: the console's timeline (``/_deskstream/console/timeline``).

It counts the change log (``changes``, one row per change to an exported record, on its ``time`` index), grouped
twice in the database: per second, then per bucket of seconds, so a window of days costs a few hundred rows. Each
bucket keeps its busiest second: a same-second storm shows however wide the bucket. What the log's pruning
(``serve --retention``) dropped is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, case, func, select

from deskstream.store import schema

_c = schema.changes


@dataclass(frozen=True)
class Bucket:
    """The changes stamped in ``[start, start + width)``: all of them, the tickets' (ticket versions), and the most
    in any one second of it."""

    start: int
    changes: int
    tickets: int
    peak: int
    peak_tickets: int


@dataclass(frozen=True)
class Second:
    """One second's changes, and how many were ticket versions."""

    time: int
    changes: int
    tickets: int


def _per_second(start: int, end: int) -> Select[Any]:
    tickets = func.sum(case((_c.c.resource == "tickets", 1), else_=0))
    return (
        select(_c.c.time, func.count().label("changes"), tickets.label("tickets"))
        .where(_c.c.time >= start, _c.c.time < end)
        .group_by(_c.c.time)
    )


class ChangeCounts:
    """The timeline's reads in one read transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def buckets(self, start: int, end: int, width: int) -> list[Bucket]:
        """The non-empty buckets of ``width`` seconds from ``start`` up to ``end`` (exclusive), in time order."""
        seconds = _per_second(start, end).subquery()
        index = ((seconds.c.time - start) // width).label("bucket")
        statement = (
            select(index, func.sum(seconds.c.changes), func.sum(seconds.c.tickets), func.max(seconds.c.changes),
                   func.max(seconds.c.tickets))
            .group_by(index)
            .order_by(index)
        )  # fmt: skip
        rows = self.conn.execute(statement).all()
        return [Bucket(start + int(r[0]) * width, int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]

    def busiest(self, start: int, end: int, limit: int) -> list[Second]:
        """The ``limit`` seconds with the most ticket versions (then changes) from ``start`` up to ``end``."""
        seconds = _per_second(start, end).subquery()
        statement = (
            select(seconds.c.time, seconds.c.changes, seconds.c.tickets)
            .order_by(seconds.c.tickets.desc(), seconds.c.changes.desc(), seconds.c.time)
            .limit(limit)
        )
        return [Second(int(r[0]), int(r[1]), int(r[2])) for r in self.conn.execute(statement).all()]
