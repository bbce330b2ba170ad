"""Building one export page: the hot path. One indexed range scan; the stored JSON bytes are kept as they are.

Time-based pages (``start_time`` inclusive) end on a second boundary: when the items of the page's last second do
not all fit in ``per_page``, the page is extended over the rest of that second (and, when the page never left the
``start_time`` second, over the whole next second too), so that ``next_page`` (``start_time=end_time``) always
moves forward. Without this a client loops forever on a second holding more than
``per_page`` items (zenpy#451, PostHog #59215). ``split_ties=True`` cuts the page inside the second as real
Zendesk may, for the ``tie_overflow=stall`` fault (spec/beyond.md).

Cursor pages hold the items strictly after a position in (time, id) order, so ties never matter.

Both only serve items at most as new as ``until`` (the horizon, :mod:`deskstream.export.horizon`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from deskstream.export.cursor import Position
from deskstream.export.streams import Selection, Shape, statement

Row = Sequence[Any]


@dataclass(frozen=True)
class Page:
    """Items as stored bytes, in stream order, and where they sit in the stream."""

    items: list[bytes]
    #: (time, id) of the first and last item; None on an empty page.
    first: Position | None
    last: Position | None
    #: True when no visible item follows this page (``has_more`` is its negation).
    end_of_stream: bool

    @property
    def count(self) -> int:
        return len(self.items)


def _page(rows: Sequence[Row], end_of_stream: bool) -> Page:
    if not rows:
        return Page([], None, None, end_of_stream)
    first, last = rows[0], rows[-1]
    return Page(
        [r[2] for r in rows],
        Position(first[0], first[1]),
        Position(last[0], last[1]),
        end_of_stream,
    )


def time_page(
    conn: Connection, selection: Selection, start: int, until: int, per_page: int, split_ties: bool = False
) -> Page:
    """Items with ``start <= time <= until``: ``per_page`` of them, more when a second would be cut.

    The page ends on a whole second, and on a second later than ``start`` unless the stream ends: a page cut in
    its last second, or one that never left the ``start`` second, would give a ``next_page`` that serves the same
    items again, forever.
    """
    rows = conn.execute(
        statement(selection, Shape.FROM_TIME), {"start": start, "until": until, "limit": per_page + 1}
    ).all()
    if len(rows) <= per_page:
        return _page(rows, end_of_stream=True)
    page, peek = rows[:per_page], rows[per_page]
    if split_ties or (peek[0] != page[-1][0] and page[-1][0] > start):
        return _page(page, end_of_stream=False)
    if peek[0] == page[-1][0]:
        page += _rest_of_second(conn, selection, page[-1][0], page[-1][1])
    next_second = _next_second(conn, selection, page[-1][0], until)
    if page[-1][0] == start and next_second is not None:
        page += _rest_of_second(conn, selection, next_second, 0)
        next_second = _next_second(conn, selection, next_second, until)
    return _page(page, end_of_stream=next_second is None)


def _rest_of_second(conn: Connection, selection: Selection, second: int, after_id: int) -> list[Row]:
    return list(conn.execute(statement(selection, Shape.REST_OF_SECOND), {"time": second, "id": after_id}).all())


def _next_second(conn: Connection, selection: Selection, second: int, until: int) -> int | None:
    return conn.execute(statement(selection, Shape.NEXT_SECOND), {"time": second, "until": until}).scalar()


def cursor_page(conn: Connection, selection: Selection, after: Position, until: int, per_page: int) -> Page:
    """The ``per_page`` items strictly after ``after`` in (time, id) order, none newer than ``until``."""
    rows = conn.execute(
        statement(selection, Shape.AFTER),
        {"time": after.time, "id": after.id, "until": until, "limit": per_page + 1},
    ).all()
    return _page(rows[:per_page], end_of_stream=len(rows) <= per_page)


def page_before(conn: Connection, selection: Selection, before: Position, start: int, per_page: int) -> Page:
    """The ``per_page`` items just before ``before`` and not older than ``start`` (Zendesk's ``page[before]``).

    ``end_of_stream`` here says whether nothing older remains (so ``has_more`` reads the same way both directions).
    """
    rows = conn.execute(
        statement(selection, Shape.BEFORE),
        {"time": before.time, "id": before.id, "start": start, "limit": per_page + 1},
    ).all()
    return _page(list(reversed(rows[:per_page])), end_of_stream=len(rows) <= per_page)
