"""One sync run: every stream in its own thread, within the upstream's shared budget; each stream fetches its next
page while the current one is written, and writes each page with its checkpoint (spec/sync.md § Guarantees)."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import orjson

from deskstream.sync import feed
from deskstream.sync.report import Report
from deskstream.sync.streams import STREAMS, Page, Stream, follow, resumed
from deskstream.sync.targets import Row, Target
from deskstream.sync.upstream import Interrupted, SyncError, Upstream


def rows_of(stream: Stream, items: list[dict[str, Any]]) -> list[Row]:
    return [Row.of(int(i["id"]), stream.version(i), stream.deleted_at(i), orjson.dumps(i)) for i in items]


def sync_stream(
    upstream: Upstream, target: Target, stream: Stream, start_time: int, lookback: int, report: Report
) -> None:
    """Resume ``stream`` from its checkpoint (or ``start_time``) and follow it to ``end_of_stream``."""
    stored = target.checkpoint(stream.name)
    checkpoint = resumed(stored, lookback) if stored else {"start_time": start_time}
    report.update(stream.name, status="reading")
    pages = follow(upstream, stream, checkpoint)
    with ThreadPoolExecutor(1, thread_name_prefix=f"fetch-{stream.name}") as fetcher:
        upcoming: Future[Page | None] = fetcher.submit(next, pages, None)
        while (page := upcoming.result()) is not None:
            upcoming = fetcher.submit(next, pages, None)  # the next page comes while this one is written
            written = target.write(stream.name, rows_of(stream, page.items), page.checkpoint)
            report.add(stream.name, items=len(page.items), stored=written.stored, duplicates=written.duplicates,
                       deletes=written.deletes, pages=1)  # fmt: skip
            if page.overflow:
                report.on_overflow(stream.name, page.overflow)
            report.update(stream.name, status="reading")


def run(
    upstream: Upstream, target: Target, streams: list[str], start_time: int, lookback: int, report: Report
) -> list[SyncError]:
    """Every stream to its end, through the upstream's change feed if it has one (and no ``start_time`` asks for
    less than everything: the feed has no time), else through its exports; returns the errors of the streams that
    could not finish."""
    def exports() -> list[SyncError]:
        return run_exports(upstream, target, streams, start_time, lookback, report)

    if not start_time:
        through_feed = feed.run(upstream, target, streams, report, exports,
                                lambda name, items: rows_of(STREAMS[name], items))  # fmt: skip
        if through_feed is not None:
            return through_feed
    return exports()


def run_exports(
    upstream: Upstream, target: Target, streams: list[str], start_time: int, lookback: int, report: Report
) -> list[SyncError]:
    """Every stream through its export, each in its own thread."""
    errors: list[SyncError] = []

    def one(name: str) -> None:
        try:
            sync_stream(upstream, target, STREAMS[name], start_time, lookback, report)
            report.update(name, status="done")
        except SyncError as error:
            report.update(name, status="interrupted" if isinstance(error, Interrupted) else "failed", error=str(error))
            errors.append(error)
        finally:
            report.stats[name].finished = time.monotonic()

    with ThreadPoolExecutor(len(streams), thread_name_prefix="stream") as pool:
        futures = [pool.submit(one, name) for name in streams]
        try:
            for future in futures:
                future.result()  # what is not a SyncError is a bug: let it show
        except KeyboardInterrupt:
            upstream.stop()  # each stream stops after the page it is writing: its checkpoint stays whole
            raise
    return errors
