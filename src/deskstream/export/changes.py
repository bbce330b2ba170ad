"""The change feed, ``GET /api/v2/incremental/changes`` (spec/beyond.md § Change-sequence mode).

Zendesk's exports order by time, and time has ties, horizons and late commits. The feed orders by commit instead:
every change to every exported record has a ``seq``, numbered inside its write transaction while that transaction
holds the database's write lock (or PostgreSQL's stamp lock) to its commit, so ``seq`` order is commit order and
has no gaps. A client that remembers the last ``seq`` it stored and asks for what follows can neither miss nor
repeat a change, and needs no horizon: every change up to the ``high_water_mark`` a page reports is committed and
served. A ``since`` older than the retention window is answered 410, as Kubernetes answers a compacted
``resourceVersion``: the client resyncs through the exports, then follows the feed from the ``resync_since`` the 410
names (every change up to it is older than the exports' horizon, so the resync holds it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from deskstream.exceptions import BadRequest, CursorExpired
from deskstream.export import framing
from deskstream.export.horizon import visible_until
from deskstream.export.params import parse_per_page
from deskstream.store.changes import Change, ChangeLog

#: The longest a request may wait for a change (``wait=S``), in seconds.
MAX_WAIT = 60.0
#: A ``seq`` is a 64-bit integer: 19 digits at most.
MAX_DIGITS = 19


@dataclass(frozen=True)
class FeedRequest:
    since: int
    per_page: int
    wait: float


def parse(query: Mapping[str, str]) -> FeedRequest:
    """``since`` (a ``seq``; absent is 0, the beginning), ``per_page`` (1 to 1000) and ``wait`` (0 to 60 seconds)."""
    raw_since, raw_wait = (query.get("since") or "0").strip(), (query.get("wait") or "0").strip()
    if not (raw_since.isascii() and raw_since.isdigit() and len(raw_since) <= MAX_DIGITS):
        raise BadRequest("since must be a change's seq: a whole number from 0")
    try:
        wait = float(raw_wait)
    except ValueError:
        wait = math.nan
    if not 0 <= wait <= MAX_WAIT:  # also refuses nan
        raise BadRequest(f"wait must be a number of seconds from 0 to {MAX_WAIT:g}")
    return FeedRequest(int(raw_since), parse_per_page(query.get("per_page")), wait)


@dataclass(frozen=True)
class FeedPage:
    since: int
    changes: list[Change]
    high_water_mark: int

    @property
    def last(self) -> int:
        """Where the next page starts: the last change served, or ``since`` when none was."""
        return self.changes[-1].seq if self.changes else self.since

    @property
    def end_of_stream(self) -> bool:
        return self.last >= self.high_water_mark


def read_page(log: ChangeLog, request: FeedRequest, now: int, retention: int) -> FeedPage:
    """The changes after ``request.since``, or :class:`CursorExpired` if some of them are gone (or never were)."""
    since, mark = request.since, log.high_water_mark()
    if since > mark:
        why = f"since {since} is past this feed's high-water mark {mark}: it is not this feed's"
        raise _expired(log, now, mark, why)
    expired = f"since {since} is older than the feed's retention ({retention} s)"
    if since < mark:
        logged_at = log.next_logged_at(since)
        if since < log.pruned_through() or logged_at is None or logged_at < now - retention:
            raise _expired(log, now, mark, expired)
    changes = log.page(since, mark, request.per_page)
    if since < mark and (not changes or changes[0].seq != since + 1):
        # Pruned between the check and the page (PostgreSQL reads each statement afresh): never serve the gap.
        raise _expired(log, now, mark, expired)
    return FeedPage(since, changes, mark)


def _expired(log: ChangeLog, now: int, mark: int, why: str) -> CursorExpired:
    resync_since = log.last_before(visible_until(now) + 1, mark)
    return CursorExpired(f"{why}; do a full resync through the incremental exports, then follow this feed from "
                         f"since={resync_since}", mark, resync_since)  # fmt: skip


def frame(page: FeedPage, next_page: Callable[[int], str]) -> bytes:
    """The page's JSON: ``changes`` (each with its record's stored bytes, not decoded), then the position fields."""
    items = [
        b'{"seq":%d,"resource":"%s","id":%d,"deleted":%s,"record":%s}'
        % (c.seq, c.resource.encode(), c.record_id, b"true" if c.deleted else b"false", c.json)
        for c in page.changes
    ]
    meta = {"count": len(items), "since": page.since, "last_seq": page.last, "high_water_mark": page.high_water_mark,
            "end_of_stream": page.end_of_stream, "next_page": next_page(page.last)}  # fmt: skip
    return framing.frame("changes", items, meta)
