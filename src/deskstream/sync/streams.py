"""The five streams and how to follow each to its end without looping or losing an item (spec/sync.md).

Tickets and users follow the cursor exports (strictly after a position: ties never matter); ticket_events (with
``comment_events``), ticket_metric_events and organizations follow the time-based ones, whose ``start_time`` is
inclusive, so the first items of each page may repeat the last of the one before (the target drops them).

Loop guards: a stream ends on ``end_of_stream`` and on nothing else (a null ``next_page`` alone ends nothing); a
cursor that does not advance, a ``start_time`` that goes back and a page that repeats the one before are errors,
never loops. A time-based page that cannot leave its second (an upstream cutting pages inside a second that holds
more than a page, as real Zendesk may) is drained through a list with Zendesk's cursor pagination where the
stream has one: ``ticket_metric_events`` itself with ``page[size]`` (in time order, from the second), and
``organizations`` through ``/api/v2/organizations`` (every organization, the second's kept). ``ticket_events`` has
none: its overflow is reported and the stream moves on to the next second (what of that second the export never
served is then missing, and ``verify`` says so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

import orjson

from deskstream.sync.targets.base import Row
from deskstream.sync.upstream import SyncError, Upstream

PER_PAGE = 1000
T = TypeVar("T")


class LoopDetected(SyncError):
    """The upstream would have the client read the same thing forever."""


def _epoch(value: Any) -> int:
    return _parsed(value) if isinstance(value, str) else int(value)


@lru_cache(maxsize=4096)
def _parsed(value: str) -> int:
    """An ISO 8601 time as Unix seconds; cached, since a page's items share few seconds (a storm shares one)."""
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


@dataclass(frozen=True)
class Drain:
    """A list with Zendesk's cursor pagination (``page[size]``, ``links.next``, ``meta.has_more``) holding a stream's
    items: in time order from a ``start_time`` (read from the second until a later one), or not (read whole)."""

    path: str
    from_start_time: bool


@dataclass(frozen=True)
class Stream:
    name: str
    path: str
    cursor: bool
    #: An item's version: the time the export orders it by (a newer version has a greater or equal one).
    version: Callable[[dict[str, Any]], int]
    params: dict[str, str] = field(default_factory=dict)
    #: The list that drains a second a time-based page cannot leave, if the stream has one.
    drain: Drain | None = None

    def deleted_at(self, item: dict[str, Any]) -> int | None:
        """When a ticket was deleted (a tombstone), from the version of its ``deleted`` status."""
        return self.version(item) if self.name == "tickets" and item.get("status") == "deleted" else None

    def rows(self, items: list[dict[str, Any]]) -> list[Row]:
        """The items as the targets store them."""
        return [Row.of(int(i["id"]), self.version(i), self.deleted_at(i), orjson.dumps(i)) for i in items]


def _ticket_version(item: dict[str, Any]) -> int:
    return _epoch(item.get("generated_timestamp") or item["updated_at"])


STREAMS: dict[str, Stream] = {
    s.name: s
    for s in (
        Stream("tickets", "/api/v2/incremental/tickets/cursor", True, _ticket_version),
        Stream("users", "/api/v2/incremental/users/cursor", True, lambda i: _epoch(i["updated_at"])),
        Stream("ticket_events", "/api/v2/incremental/ticket_events", False,
               lambda i: _epoch(i.get("timestamp") or i["created_at"]), {"include": "comment_events"}),
        Stream("ticket_metric_events", "/api/v2/incremental/ticket_metric_events", False,
               lambda i: _epoch(i["time"]), drain=Drain("/api/v2/incremental/ticket_metric_events", True)),
        Stream("organizations", "/api/v2/incremental/organizations", False, lambda i: _epoch(i["updated_at"]),
               drain=Drain("/api/v2/organizations", False)),
    )
}  # fmt: skip


@dataclass(frozen=True)
class Overflow:
    """A second a time-based page could not leave, and the list that drained it (None: none could)."""

    second: int
    items: int
    drained: str | None

    fault = "a time-based page cut inside a second that holds more than a page"

    @property
    def handled(self) -> str:
        if self.drained:
            return f"drained through {self.drained}"
        return "moved on to the next second; what the export never served of it is missing (verify names it)"

    @property
    def message(self) -> str:
        if self.drained:
            return f"second {self.second} held more than a page: drained {self.items} items through {self.drained}"
        return (f"second {self.second} held more than {self.items} items and the export cuts pages inside it: "
                "the rest of that second could not be read")  # fmt: skip


@dataclass(frozen=True)
class Page:
    """One page's items and the checkpoint to store with them (where the next run resumes)."""

    items: list[dict[str, Any]]
    checkpoint: dict[str, Any]
    end_of_stream: bool
    #: Set when this page drained or skipped a same-second overflow, for the summary.
    overflow: Overflow | None = None


def _signature(items: list[dict[str, Any]]) -> tuple[Any, ...]:
    return tuple((i.get("id"), i.get("updated_at") or i.get("timestamp") or i.get("time")) for i in items)


def _through(stream: Stream, items: list[dict[str, Any]], checkpoint: dict[str, Any]) -> int:
    """The newest version read so far (where a look-back starts from)."""
    return max([int(checkpoint.get("through", 0)), *map(stream.version, items)])


def resumed(checkpoint: dict[str, Any], lookback: int) -> dict[str, Any]:
    """Where a new run starts: the checkpoint, or ``lookback`` seconds before the newest version it had read (a
    fresh start_time, no cursor), for upstreams whose changes can become visible after their timestamp."""
    if not lookback or "through" not in checkpoint:
        return checkpoint
    since = max(0, int(checkpoint["through"]) - lookback)
    kept = {k: v for k, v in checkpoint.items() if k != "cursor"}  # the feed's position stays for a feed run
    return {**kept, "start_time": min(since, int(checkpoint.get("start_time", since)))}


def prefetched(pages: Iterator[T], name: str) -> Iterator[T]:
    """``pages``, each fetched while the caller writes the one before."""
    with ThreadPoolExecutor(1, thread_name_prefix=f"fetch-{name}") as fetcher:
        upcoming = fetcher.submit(next, pages, None)
        while (page := upcoming.result()) is not None:
            upcoming = fetcher.submit(next, pages, None)
            yield page


def follow(upstream: Upstream, stream: Stream, checkpoint: dict[str, Any]) -> Iterator[Page]:
    """Pages from ``checkpoint`` (``{"start_time": T}`` at first, then what the last page returned) to the end."""
    return (_follow_cursor if stream.cursor else _follow_time)(upstream, stream, checkpoint)


def _follow_cursor(upstream: Upstream, stream: Stream, checkpoint: dict[str, Any]) -> Iterator[Page]:
    cursor: str | None = checkpoint.get("cursor")
    previous: tuple[Any, ...] | None = None
    while True:
        params = {"per_page": PER_PAGE, **stream.params}
        params.update({"cursor": cursor} if cursor else {"start_time": checkpoint.get("start_time", 0)})
        body = upstream.get(stream.name, stream.path, params)
        items = list(body.get(stream.name) or [])
        after, end = body.get("after_cursor"), bool(body.get("end_of_stream"))
        signature = _signature(items)
        if not end and (not after or after == cursor):
            raise LoopDetected(f"{stream.name}: the cursor did not advance ({after!r}) and the stream has not ended")
        if not end and items and signature == previous:
            raise LoopDetected(f"{stream.name}: the upstream served the same page twice")
        previous, cursor = signature, after or cursor
        checkpoint = {**checkpoint, "cursor": cursor, "through": _through(stream, items, checkpoint)}
        yield Page(items, checkpoint, end)
        if end:
            return


def _follow_time(upstream: Upstream, stream: Stream, checkpoint: dict[str, Any]) -> Iterator[Page]:
    start = int(checkpoint.get("start_time", 0))
    while True:
        body = upstream.get(stream.name, stream.path, {"start_time": start, "per_page": PER_PAGE, **stream.params})
        items = list(body.get(stream.name) or [])
        end = bool(body.get("end_of_stream"))
        end_time = body.get("end_time")
        end_time = int(end_time) if end_time is not None else (max(map(stream.version, items)) if items else start)
        if end_time < start:
            raise LoopDetected(f"{stream.name}: end_time {end_time} went back from start_time {start}")
        through = _through(stream, items, checkpoint)
        checkpoint = {**checkpoint, "start_time": end_time, "through": through}
        if end or end_time > start:
            yield Page(items, checkpoint, end)
            if end:
                return
            start = end_time
            continue
        # The page never left its second and the stream goes on: the second holds more than a page.
        if stream.drain:
            drained = list(_drain_second(upstream, stream, stream.drain, start))
            overflow = Overflow(start, max(len(items), len(drained)), stream.drain.path)  # drained holds items too
            yield Page(items + drained, {**checkpoint, "start_time": start + 1}, False, overflow)
        else:
            yield Page(items, {**checkpoint, "start_time": start + 1}, False, Overflow(start, len(items), None))
        start += 1


def _drain_second(upstream: Upstream, stream: Stream, drain: Drain, second: int) -> Iterator[dict[str, Any]]:
    """Every item of ``second`` through ``drain``'s list, 100 a page."""
    url: str = drain.path
    params: dict[str, int] | None = {"page[size]": 100, **({"start_time": second} if drain.from_start_time else {})}
    while True:
        body = upstream.get(stream.name, url, params)
        for item in body.get(stream.name) or []:
            version = stream.version(item)
            if drain.from_start_time and version > second:
                return
            if version == second:
                yield item
        meta, links = body.get("meta") or {}, body.get("links") or {}
        if not meta.get("has_more") or not links.get("next"):
            return
        url, params = links["next"], None
