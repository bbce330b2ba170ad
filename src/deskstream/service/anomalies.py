"""What a client did wrong in an export, found in the request journal (docs/api.md § Request journal).

Computed from the journal's entries when the journal is read (nothing but the entries goes in), so it holds
whichever worker process or server answered each request: the entries of every process are in the database.
Each (client, export) is a sequence in arrival order; a client that sends its next request only after the previous
answer (every client deskstream knows) makes a sequence the journal reads exactly.

The kinds (each names the request that shows it):

- ``repeated_page``: a position requested again after it was served and the client was given another one to go
  on from (a retry after an error status or an injected fault is no repeat).
- ``position_stalled``: the client asked the same position again after an answer whose next position was that very
  position and whose ``end_of_stream`` was false: it is looping (``tie_overflow=stall`` traps a time-based client
  that never looks past ``end_time``). At ``end_of_stream`` asking again is polling, not a stall.
- ``early_retry``: a request sent before the ``Retry-After`` of an earlier 429 or 503 to the same client had run,
  counted from the end of that answer.
- ``skipped_items``: a time-based client whose next ``start_time`` is past the ``end_time`` it was given.
- ``stopped_early``: the client's last page of an export had ``end_of_stream`` false and the client has sent
  nothing to that export for ``idle_ms`` (wall time).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

KINDS = ("repeated_page", "position_stalled", "early_retry", "skipped_items", "stopped_early")

#: A position as the analysis compares them: (time, id); a time-based position has id -1.
Point = tuple[int, int]


def point(position: dict[str, Any] | None, cursor_based: bool) -> Point | None:
    """A request's position or an answer's next position as a comparable point; ``None`` when there is none."""
    if not position:
        return None
    for name in ("start_time", "end_time"):
        if isinstance(position.get(name), int):
            return position[name], 0 if cursor_based else -1
    for name in ("cursor", "after_cursor"):
        value = position.get(name)
        if isinstance(value, dict) and isinstance(value.get("timestamp"), int):
            return value["timestamp"], int(value.get("id", 0))
    return None


def cursor_based(entry: dict[str, Any]) -> bool:
    return str(entry.get("stream") or "").endswith("/cursor")


#: The injected fault after which a 200 is no page: its body was cut (a 429, 503 or 504 has its error status; a slow
#: page, and one that ``tie_overflow`` or ``late_commit`` shaped, is whole).
_CUT = "truncate"


def _failed(entry: dict[str, Any]) -> bool:
    return entry["status"] != 200 or _CUT in str(entry.get("fault") or "").split(",")


@dataclass
class _Sequence:
    """One client's requests to one export, as far as the scan has gone."""

    last: dict[str, Any] | None = None
    served: dict[str, Any] | None = None  # the last page answered in full
    served_points: set[Point] = field(default_factory=set)


def _anomaly(kind: str, entry: dict[str, Any], detail: str) -> dict[str, Any]:
    return {"id": f"{entry['id']}-{kind}", "kind": kind, "client": entry["client"], "stream": entry["stream"],
            "at": entry["at"], "at_unix_ms": entry["at_unix_ms"], "request_id": entry["id"], "detail": detail}


def _progress(entry: dict[str, Any], seq: _Sequence) -> tuple[str, str] | None:
    """The anomaly of ``entry``'s position given what the client was served before, if any."""
    served, last = seq.served, seq.last
    cursor = cursor_based(entry)
    here = point(entry.get("position"), cursor)
    if served is None or last is None or here is None:
        return None
    if _failed(last) and point(last.get("position"), cursor) == here:
        return None  # the retry of a request that failed
    given = point(served.get("next_position"), cursor)
    if here == given:
        if given == point(served.get("position"), cursor) and served.get("end_of_stream") is False:
            return "position_stalled", f"request #{served['id']} was answered with this same position as its next " \
                "one and end_of_stream false; the client asked it again instead of moving on"
        return None
    if here in seq.served_points:
        return "repeated_page", f"this position was served before (last by request #{served['id']}, which gave " \
            f"{served.get('next_position')} to go on from)"
    if not cursor and given is not None and here[0] > given[0]:
        return "skipped_items", f"start_time {here[0]} is past the end_time {given[0]} that request " \
            f"#{served['id']} gave: items from {given[0]} to {here[0] - 1} were never asked for"
    return None


@dataclass(frozen=True)
class Scan:
    """What a pass over the journal found: every anomaly but ``stopped_early``, and the sequences whose last page
    served fell short of ``end_of_stream`` (whether they stopped depends on the time of the question)."""

    found: list[dict[str, Any]]
    open_ends: list[tuple[dict[str, Any], dict[str, Any]]]  # (last page served, last request)


class Scanner:
    """A scan that goes on: entries are fed oldest first (by arrival), a batch at a time, so a journal read after a
    few more requests scans those few, not the whole ring again. What it knows of entries the ring has since cut
    stays known (a repeat of a page cut from the ring is still a repeat); :meth:`result` leaves out the anomalies
    of cut requests."""

    def __init__(self) -> None:
        self.found: list[dict[str, Any]] = []
        self.sequences: dict[tuple[str, str], _Sequence] = {}
        self.retry_until: dict[str, tuple[int, int]] = {}  # client → (when its last Retry-After runs out, request)
        #: The arrival (ms, id) of the last entry fed: a later batch must arrive after it to be fed.
        self.last: tuple[int, int] = (-1, -1)

    def follows(self, entry: dict[str, Any]) -> bool:
        """Whether ``entry`` arrived after every entry fed so far (one that did not needs a scan from scratch)."""
        return (entry["at_unix_ms"], entry["id"]) > self.last

    def feed(self, entries: Iterable[dict[str, Any]]) -> None:
        """Go on with ``entries``, oldest first."""
        for entry in entries:
            self.last = entry["at_unix_ms"], entry["id"]
            self._entry(entry)

    def _entry(self, entry: dict[str, Any]) -> None:
        client, stream = entry["client"], entry.get("stream")
        if stream is None:
            return
        waited = self.retry_until.get(client)
        if waited is not None and entry["at_unix_ms"] < waited[0]:
            early = (waited[0] - entry["at_unix_ms"]) / 1000
            self.found.append(_anomaly("early_retry", entry, f"sent {early:.3f} s before the Retry-After of request "
                                       f"#{waited[1]} ran out"))
        retry_after = (entry.get("rate_limit") or {}).get("retry_after")
        if entry["status"] in (429, 503) and isinstance(retry_after, int):
            end = entry["at_unix_ms"] + round(entry.get("duration_ms") or 0)
            self.retry_until[client] = (end + retry_after * 1000, entry["id"])
        if stream.endswith("/sample"):
            return  # a sample has no next page
        seq = self.sequences.setdefault((client, stream), _Sequence())
        progress = _progress(entry, seq)
        if progress is not None:
            self.found.append(_anomaly(progress[0], entry, progress[1]))
        here = point(entry.get("position"), cursor_based(entry))
        if not _failed(entry) and here is not None and entry.get("next_position"):
            seq.served = entry
            seq.served_points.add(here)
        seq.last = entry

    def result(self, oldest: int = 0) -> Scan:
        """What the scan found of the requests from entry ``oldest`` on (the older ones are cut from the ring)."""
        found = [anomaly for anomaly in self.found if anomaly["request_id"] >= oldest]
        open_ends = [(seq.served, seq.last) for seq in self.sequences.values()
                     if seq.served is not None and seq.last is not None and seq.served.get("end_of_stream") is False
                     and seq.served["id"] >= oldest]  # fmt: skip
        return Scan(found, open_ends)


def detect(scanned: Scan, now_ms: int, idle_ms: int) -> list[dict[str, Any]]:
    """Every anomaly of the scan at ``now_ms``, oldest first: a client short of ``end_of_stream`` has stopped once
    its last request is ``idle_ms`` old."""
    found = list(scanned.found)
    for served, last in scanned.open_ends:
        idle = now_ms - last["at_unix_ms"]
        if idle >= idle_ms:
            found.append(_anomaly("stopped_early", served, f"the last page served had end_of_stream false and the "
                                  f"client has sent nothing to this export for {idle / 1000:.1f} s"))
    found.sort(key=lambda anomaly: (anomaly["at_unix_ms"], anomaly["request_id"]))
    return found
