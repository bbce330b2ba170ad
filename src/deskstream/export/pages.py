"""Building one export page: the hot path. One indexed range scan; the stored JSON bytes are kept as they are.

Time-based pages (``start_time`` inclusive) end on a second boundary: when the items of the page's last second do
not all fit in ``per_page``, the page is extended over the rest of that second (and, when the page never left the
``start_time`` second, over the whole next second too), so that ``next_page`` (``start_time=end_time``) always
moves forward. Without this a client loops forever on a second holding more than
``per_page`` items (zenpy#451, PostHog #59215). ``split_ties=True`` cuts the page inside the second as real
Zendesk may, for the ``tie_overflow=stall`` fault (spec/beyond.md).

Cursor pages hold the items strictly after a position in (time, id) order, so ties never matter.

Both only serve items at most as new as ``until`` (the horizon, :mod:`deskstream.export.horizon`), and pass over,
unserved, the items ``hidden`` names (the ``late_commit_s`` fault: changes that become visible after a client has
moved past their position, the commit-order race).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from deskstream.export.cursor import Position
from deskstream.export.streams import Selection
from deskstream.store.scans import ScanRow, Scans, Shape


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


#: Items a page moves past without serving them, by (id, time): the ``late_commit_s`` fault's late commits.
Hidden = Callable[[int, int], bool]


def _page(rows: Sequence[ScanRow], end_of_stream: bool, hidden: Hidden | None = None) -> Page:
    if not rows:
        return Page([], None, None, end_of_stream)
    first, last = rows[0], rows[-1]
    return Page(
        [r[2] for r in rows if hidden is None or not hidden(r[1], r[0])],
        Position(first[0], first[1]),
        Position(last[0], last[1]),
        end_of_stream,
    )


def time_page(
    scans: Scans,
    selection: Selection,
    start: int,
    until: int,
    per_page: int,
    split_ties: bool = False,
    hidden: Hidden | None = None,
) -> Page:
    """Items with ``start <= time <= until``: ``per_page`` of them, more when a second would be cut.

    The page ends on a whole second, and on a second later than ``start`` unless the stream ends: a page cut in
    its last second, or one that never left the ``start`` second, would give a ``next_page`` that serves the same
    items again, forever.
    """
    target = selection.target
    rows = scans.rows(target, Shape.FROM_TIME, start=start, until=until, limit=per_page + 1)
    if len(rows) <= per_page:
        return _page(rows, end_of_stream=True, hidden=hidden)
    page, peek = list(rows[:per_page]), rows[per_page]
    if split_ties or (peek[0] != page[-1][0] and page[-1][0] > start):
        return _page(page, end_of_stream=False, hidden=hidden)
    if peek[0] == page[-1][0]:
        page += scans.rows(target, Shape.REST_OF_SECOND, time=page[-1][0], id=page[-1][1])
    next_second = scans.next_second(target, page[-1][0], until)
    if page[-1][0] == start and next_second is not None:
        page += scans.rows(target, Shape.REST_OF_SECOND, time=next_second, id=0)
        next_second = scans.next_second(target, next_second, until)
    return _page(page, end_of_stream=next_second is None, hidden=hidden)


def cursor_page(
    scans: Scans, selection: Selection, after: Position, until: int, per_page: int, hidden: Hidden | None = None
) -> Page:
    """The ``per_page`` items strictly after ``after`` in (time, id) order, none newer than ``until``."""
    rows = scans.rows(selection.target, Shape.AFTER, time=after.time, id=after.id, until=until, limit=per_page + 1)
    return _page(rows[:per_page], end_of_stream=len(rows) <= per_page, hidden=hidden)


def page_before(scans: Scans, selection: Selection, before: Position, start: int, per_page: int) -> Page:
    """The ``per_page`` items just before ``before`` and not older than ``start`` (Zendesk's ``page[before]``).

    ``end_of_stream`` here says whether nothing older remains (so ``has_more`` reads the same way both directions).
    """
    rows = scans.rows(selection.target, Shape.BEFORE, time=before.time, id=before.id, start=start, limit=per_page + 1)
    return _page(list(reversed(rows[:per_page])), end_of_stream=len(rows) <= per_page)
