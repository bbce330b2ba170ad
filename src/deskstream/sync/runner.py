"""One sync run: every stream in its own thread, within the upstream's shared budget; each stream fetches its next
page while the current one is written, and writes each page with its checkpoint (spec/sync.md § Guarantees)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from deskstream.sync import feed
from deskstream.sync.report import Report
from deskstream.sync.streams import STREAMS, Stream, follow, prefetched, resumed
from deskstream.sync.targets import Target
from deskstream.sync.upstream import Interrupted, SyncError, Upstream


def sync_stream(
    upstream: Upstream, target: Target, stream: Stream, start_time: int, lookback: int, report: Report
) -> None:
    """Resume ``stream`` from its checkpoint (or ``start_time``) and follow it to ``end_of_stream``."""
    stored = target.checkpoint(stream.name)
    checkpoint = resumed(stored, lookback) if stored else {"start_time": start_time}
    report.update(stream.name, status="reading")
    for page in prefetched(follow(upstream, stream, checkpoint), stream.name):
        written = target.write(stream.name, stream.rows(page.items), page.checkpoint)
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
        through_feed = feed.run(upstream, target, streams, report, exports)
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
        for future in futures:
            future.result()  # what is not a SyncError is a bug: let it show
    return errors
