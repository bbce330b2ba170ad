"""One sync run: every stream in its own thread, within the upstream's shared budget, and one writer for them all.
Each stream fetches its next page while it turns the current one into rows and queues them; the writer writes what
the streams have queued, each page with its checkpoint (spec/sync.md § Guarantees)."""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from deskstream.sync import feed
from deskstream.sync.report import Report
from deskstream.sync.streams import STREAMS, Overflow, Stream, follow, prefetched, resumed
from deskstream.sync.targets import Pending, Target
from deskstream.sync.upstream import Interrupted, SyncError, Upstream


class Queued(NamedTuple):
    """A page's rows for the target, and what the report says of it once written (not its items: decoded, they
    take several times the room of their rows)."""

    pending: Pending
    items: int
    overflow: Overflow | None
    end_of_stream: bool


class Writer:
    """The one thread that writes to the target. It writes every page queued since its last write in one
    transaction: the streams' writes had queued behind one lock, each paying its own transaction. The queue holds
    as many pages as there are streams, so a target slower than the upstream holds the streams back instead of
    filling memory. A failed write fails the run: the next page any stream queues raises its error."""

    def __init__(self, target: Target, report: Report, streams: int) -> None:
        self.target = target
        self.report = report
        self.failure: Exception | None = None
        self._queue: queue.Queue[Queued | None] = queue.Queue(streams)
        self._thread = threading.Thread(target=self._run, name="writer")
        self._thread.start()

    def put(self, queued: Queued) -> None:
        if self.failure is not None:
            raise self.failure
        self._queue.put(queued)

    def close(self) -> None:
        """Write what is queued, then stop; what is not a :class:`SyncError` is a bug: let it show."""
        self._queue.put(None)
        self._thread.join()
        if self.failure is not None and not isinstance(self.failure, SyncError):
            raise self.failure

    def _run(self) -> None:
        closing = False
        while not closing:
            batch = [self._queue.get()]
            while batch[-1] is not None and not self._queue.empty():
                batch.append(self._queue.get())
            closing = batch[-1] is None
            queued = [q for q in batch if q is not None]
            if queued and self.failure is None:  # after a failure, only drained: no stream waits on a full queue
                self._write(queued)

    def _write(self, queued: list[Queued]) -> None:
        try:
            written = self.target.write([q.pending for q in queued])
        except Exception as error:
            self.failure = error
            for name in {q.pending.stream for q in queued}:
                self.report.update(name, status="failed", error=str(error), finished=time.monotonic())
            return
        for q, done in zip(queued, written, strict=True):
            self.report.add(q.pending.stream, items=q.items, stored=done.stored, duplicates=done.duplicates,
                            deletes=done.deletes, pages=1)  # fmt: skip
            if q.overflow:
                self.report.on_overflow(q.pending.stream, q.overflow)
            if q.end_of_stream:
                self.report.update(q.pending.stream, status="done", finished=time.monotonic())


def sync_stream(upstream: Upstream, target: Target, writer: Writer, stream: Stream, start_time: int, lookback: int,
                report: Report) -> None:  # fmt: skip
    """Resume ``stream`` from its checkpoint (or ``start_time``) and follow it to ``end_of_stream``."""
    stored = target.checkpoint(stream.name)
    checkpoint = resumed(stored, lookback) if stored else {"start_time": start_time}
    report.update(stream.name, status="reading")
    for page in prefetched(follow(upstream, stream, checkpoint), stream.name):
        pending = Pending(stream.name, stream.rows(page.items), page.checkpoint)
        writer.put(Queued(pending, len(page.items), page.overflow, page.end_of_stream))
        if not page.end_of_stream:  # the last page is done once the writer has written it
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
    """Every stream through its export, each in its own thread, into one writer."""
    errors: list[SyncError] = []
    writer = Writer(target, report, len(streams))

    def one(name: str) -> None:
        try:
            sync_stream(upstream, target, writer, STREAMS[name], start_time, lookback, report)
        except SyncError as error:
            report.update(name, status="interrupted" if isinstance(error, Interrupted) else "failed", error=str(error),
                          finished=time.monotonic())  # fmt: skip
            errors.append(error)

    try:
        with ThreadPoolExecutor(len(streams), thread_name_prefix="stream") as pool:
            futures = [pool.submit(one, name) for name in streams]
            for future in futures:
                future.result()  # what is not a SyncError is a bug: let it show
    finally:
        writer.close()
    if isinstance(writer.failure, SyncError) and writer.failure not in errors:
        errors.append(writer.failure)
    return errors
