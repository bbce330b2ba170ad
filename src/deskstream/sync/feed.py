"""Sync through a change feed, where the upstream offers one (deskstream's ``/api/v2/incremental/changes``).

The feed is one sequence of every change, in commit order: followed from the last ``seq`` stored, it can neither
miss nor repeat a change, whatever the timestamps do (same-second storms, late commits), so it is preferred. It is
discovered, not configured: the first request is the feed's, and a 404 (real Zendesk) means the exports. A 410, on
any page, means the position has left the feed's retention: the streams are resynced through the exports, then the
feed is followed from the ``resync_since`` the 410 named (every change up to it is old enough for the exports to
hold).

Each page's changes are split by resource into the streams' tables; each stream's checkpoint carries the feed's
position (``feed``) beside whatever the exports left there, and is written with the stream's rows. A page is one
write to the target (one transaction in a database; a file target's streams are written one after another, and a
crash between two leaves some streams ahead): the next run resumes from the lowest position and replays what the
others hold already, in order, so each record ends at its newest version.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from deskstream.sync.report import Report
from deskstream.sync.streams import PER_PAGE, STREAMS, LoopDetected, prefetched
from deskstream.sync.targets import Pending, Target
from deskstream.sync.upstream import Gone, NotOffered, SyncError, Upstream

PATH = "/api/v2/incremental/changes"
#: The report's row for the feed's own requests (its pages, and the faults met on them).
NAME = "changes"
#: Resyncs one run may make before it gives up (a retention shorter than a resync takes would loop).
MAX_RESYNCS = 3

Exports = Callable[[], list[SyncError]]


def run(upstream: Upstream, target: Target, streams: list[str], report: Report,
        exports: Exports) -> list[SyncError] | None:  # fmt: skip
    """Follow the feed to its end into ``streams``; None when the upstream has no feed (the caller then syncs through
    the exports). ``exports`` is that sync, for the resync a 410 asks for."""
    checkpoints = {name: target.checkpoint(name) or {} for name in streams}
    since = min(int(cp.get("feed", 0)) for cp in checkpoints.values())
    report.add_stream(NAME)
    try:
        for _ in range(MAX_RESYNCS + 1):
            try:
                _follow(upstream, target, since, checkpoints, report)
                break
            except Gone as gone:
                since = _resync_since(gone)
                report.update(NAME, status=f"position expired: resyncing through the exports, then from {since}")
                if errors := exports():
                    report.update(NAME, status="failed", error="the resync through the exports failed")
                    return errors
                for name in streams:
                    checkpoints[name] = {**(target.checkpoint(name) or {}), "feed": since}
                target.write([Pending(name, [], checkpoints[name]) for name in streams])
        else:
            raise SyncError(f"the change feed expired {MAX_RESYNCS} times in one run: its retention is shorter than "
                            "a resync takes")  # fmt: skip
    except NotOffered:
        report.drop_stream(NAME)
        return None
    except SyncError as error:
        report.update(NAME, status="failed", error=str(error))
        return [error]
    for name in (NAME, *streams):
        report.update(name, status="done", finished=time.monotonic())
    return []


def _resync_since(gone: Gone) -> int:
    since = gone.body.get("resync_since")
    if not isinstance(since, int) or since < 0:
        raise SyncError(f"the change feed answered 410 without a resync_since: {gone}") from None
    return since


def _pages(upstream: Upstream, since: int) -> Iterator[dict[str, Any]]:
    """The feed's pages from ``since`` to its end; a position that does not move before the end is a loop."""
    while True:
        page = upstream.get(NAME, PATH, {"since": since, "per_page": PER_PAGE})
        last, end = int(page.get("last_seq", since)), bool(page.get("end_of_stream"))
        if not end and last <= since:
            raise LoopDetected(f"changes: the position did not advance past {since} and the feed has not ended")
        yield page
        if end:
            return
        since = last


def _follow(upstream: Upstream, target: Target, since: int, checkpoints: dict[str, dict[str, Any]],
            report: Report) -> None:  # fmt: skip
    for page in prefetched(_pages(upstream, since), NAME):
        by_stream: dict[str, list[dict[str, Any]]] = {name: [] for name in checkpoints}
        for change in page.get("changes") or []:
            if change.get("resource") in by_stream:
                by_stream[change["resource"]].append(change["record"])
        since = int(page.get("last_seq", since))
        pending = []
        for name, items in by_stream.items():
            stream = STREAMS[name]
            through = max([int(checkpoints[name].get("through", 0)), *map(stream.version, items)])
            checkpoints[name] = {**checkpoints[name], "feed": since, "through": through}
            pending.append(Pending(name, stream.rows(items), checkpoints[name]))
        for (name, items), written in zip(by_stream.items(), target.write(pending), strict=True):
            report.add(name, items=len(items), stored=written.stored, duplicates=written.duplicates,
                       deletes=written.deletes, pages=1 if items else 0)  # fmt: skip
        report.add(NAME, items=len(page.get("changes") or []), pages=1)
        report.update(NAME, status=f"at seq {since:,} of {int(page.get('high_water_mark', 0)):,}")
