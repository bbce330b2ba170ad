"""The request journal (docs/api.md § Request journal): every API request of every server process on the database,
the newest ``--journal-size`` of them, with the anomalies of each client's export loops.

Recording must cost a request nothing it can wait on: :meth:`Journal.record` appends the request's raw facts to
this process's buffer and returns. A flusher thread turns them into entries (decoding positions, naming the export)
and writes them in one transaction at most every :data:`FLUSH_SECONDS`, on shutdown, and before any read by this
process, so a read sees this process's requests. A write that fails (a locked or unreachable database) drops its
batch and counts it in ``deskstream_journal_dropped``; so does a buffer overflowing while the database is slow. An
entry of another worker process shows once that process's flusher has run (within :data:`FLUSH_SECONDS`).

Anomalies (:mod:`deskstream.service.anomalies`) are computed when the journal is read, from the database's entries,
so they hold whichever process served each request; each read scans what was written since the last (:meth:`Journal
._scan`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson

from deskstream.exceptions import DeskstreamError
from deskstream.export.cursor import decode_cursor
from deskstream.export.params import parse_start_time
from deskstream.export.streams import STREAMS
from deskstream.observability import JOURNAL_DROPPED
from deskstream.service import anomalies
from deskstream.store.engine import Store
from deskstream.store.errors import StoreError
from deskstream.store.journal import JournalFilter, JournalRow, JournalTable

__all__ = ["FLUSH_SECONDS", "STOPPED_AFTER_SECONDS", "Journal", "Record"]

#: The longest an entry waits in this process before it is written.
FLUSH_SECONDS = 0.25
#: How long a client must have been idle, its last page short of ``end_of_stream``, to have ``stopped_early``.
STOPPED_AFTER_SECONDS = 60.0
#: How long a read waits for a flush in progress (a flusher stuck on a locked database) before reading anyway.
READ_WAIT_SECONDS = 1.0
#: The most records a process holds while its database is slow: a large ``--journal-size`` is a ring on disk, not a
#: buffer in memory (at 4,000 requests a second this is 12 s of a stalled database).
MAX_BUFFER = 50_000
EXPORTS = "/api/v2/incremental/"
_MAX_TEXT = 500

LOG = logging.getLogger("deskstream.journal")


@dataclass(slots=True)
class Record:
    """What the HTTP layer knows of one answered request, as cheap to make as it can be (not frozen: a frozen
    dataclass sets each field through ``object.__setattr__``, several times the cost on every request)."""

    at: float  # wall time of arrival, time.time()
    user_agent: str
    user_id: int | None
    method: str
    path: str
    query: str
    status: int
    duration_ms: float
    items: int | None = None
    #: The next position the answer gave: ``{"end_time": int}`` or ``{"after_cursor": str}``, with end_of_stream.
    next_position: dict[str, Any] | None = None
    end_of_stream: bool | None = None
    rate_limit: dict[str, int | None] | None = None
    fault: str | None = None


def client_key(user_agent: str, user_id: int | None) -> str:
    """A client as the journal names it: its User-Agent and the user it signed in as."""
    return f"{user_agent} #{user_id}" if user_id is not None else user_agent


def export_of(path: str, query: dict[str, Any]) -> str | None:
    """The export a path reads, as the journal names it: ``tickets``, ``tickets/cursor``, ``users/sample``...;
    ``ticket_metric_events`` paginated with ``page[size]`` is ``ticket_metric_events/cursor``."""
    if not path.startswith(EXPORTS):
        return None
    name = path[len(EXPORTS):].removesuffix(".json")
    if name.split("/")[0] not in (*STREAMS, "changes"):
        return None
    if name == "ticket_metric_events" and "page[size]" in query:
        return f"{name}/cursor"
    return name


def _cursor(raw: object) -> dict[str, int] | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        decoded = decode_cursor(raw)
    except DeskstreamError:
        return None
    return {"timestamp": decoded.time, "id": decoded.id}


def position_of(query: dict[str, Any]) -> dict[str, Any] | None:
    """Where the request asked to start: its cursor decoded, or its ``start_time``; ``None`` if neither reads."""
    for name in ("cursor", "page[after]"):
        if name in query:
            decoded = _cursor(query[name])
            return None if decoded is None else {"cursor": decoded}
    if "start_time" in query:
        try:
            return {"start_time": parse_start_time(str(query["start_time"]))}
        except DeskstreamError:
            return None
    return None


def _next_position(given: dict[str, Any] | None) -> dict[str, Any] | None:
    if not given:
        return None
    if "after_cursor" in given:
        decoded = _cursor(given["after_cursor"])
        return None if decoded is None else {"after_cursor": decoded}
    return dict(given)


def _query(text: str) -> dict[str, Any]:
    query: dict[str, Any] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        if name in query:
            kept = query[name]
            query[name] = [*kept, value] if isinstance(kept, list) else [kept, value]
        else:
            query[name] = value
    return query


def iso_ms(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def entry_of(record: Record) -> dict[str, Any]:
    """A record as the journal's JSON shows it (without its id and anomalies, given when it is read)."""
    at_ms = int(record.at * 1000)
    query = _query(record.query)
    user_agent = record.user_agent[:_MAX_TEXT]
    stream = export_of(record.path, query)
    return {
        "at": iso_ms(at_ms), "at_unix_ms": at_ms,
        "client": client_key(user_agent, record.user_id), "user_agent": user_agent, "user_id": record.user_id,
        "method": record.method, "path": record.path[:_MAX_TEXT], "query": query,
        "status": record.status, "duration_ms": round(record.duration_ms, 3),
        "stream": stream, "items": record.items,
        "position": position_of(query) if stream else None,
        "next_position": _next_position(record.next_position), "end_of_stream": record.end_of_stream,
        "rate_limit": record.rate_limit, "fault": record.fault, "pid": os.getpid(),
    }


def _row(record: Record) -> JournalRow:
    entry = entry_of(record)
    return JournalRow(entry["at_unix_ms"], entry["client"], entry["path"], entry["status"], orjson.dumps(entry))


def _loaded(rows: list[tuple[int, bytes]]) -> list[dict[str, Any]]:
    return [{"id": entry_id, **orjson.loads(data)} for entry_id, data in rows]


class Journal:
    """The request journal of one database (every worker's requests), bounded to the newest ``size`` entries;
    ``size`` 0 turns it off."""

    def __init__(self, store: Store, size: int, stopped_after: float = STOPPED_AFTER_SECONDS) -> None:
        self.size = size
        self.table = JournalTable(store)
        #: Idle seconds after which a client short of end_of_stream has stopped early.
        self.stopped_after = stopped_after
        self._buffer: deque[Record] = deque()
        self._lock = threading.Lock()  # the buffer
        self._flushing = threading.Lock()  # one flush at a time, in order
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: The scan for anomalies (:meth:`_scan`), the oldest entry it began at and the newest it has fed.
        self._scanner: tuple[anomalies.Scanner | None, int, int | None] = (None, 0, None)
        self._scanning = threading.Lock()

    @property
    def on(self) -> bool:
        return self.size > 0

    def record(self, record: Record) -> None:
        """Keep ``record`` for the next flush; never waits on the database."""
        if not self.on:
            return
        with self._lock:
            if len(self._buffer) >= min(self.size, MAX_BUFFER):  # only the newest `size` could be kept anyway
                self._buffer.popleft()
                JOURNAL_DROPPED.inc()
            self._buffer.append(record)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="deskstream-journal", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            self.flush()

    def flush(self, wait: float = -1) -> None:
        """Write what this process has buffered (reads call it first, so a read sees this process's requests);
        ``wait``: how long to wait for a flush in progress (-1: as long as it takes)."""
        if not self._flushing.acquire(timeout=wait):
            return
        try:
            with self._lock:
                batch = list(self._buffer)
                self._buffer.clear()
            if not batch:
                return
            try:
                self.table.append([_row(record) for record in batch], self.size)
            except StoreError as error:
                JOURNAL_DROPPED.inc(len(batch))
                LOG.warning("request journal: %d entries dropped: %s", len(batch), error)
        finally:
            self._flushing.release()

    def close(self) -> None:
        """Stop the flusher and write what is left (the server is stopping); a flush stuck on a locked database
        holds the stop up for :data:`READ_WAIT_SECONDS` at most."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(READ_WAIT_SECONDS)
        self.flush(READ_WAIT_SECONDS)

    # reads ---------------------------------------------------------------------------------------------------------
    def _read(self, wanted: JournalFilter, limit: int | None) -> list[dict[str, Any]]:
        self.flush(READ_WAIT_SECONDS)
        return _loaded(self.table.read(wanted, limit))

    def _chronological(self, client: str | None = None) -> list[dict[str, Any]]:
        return self._read(JournalFilter(client=client), None)[::-1]

    def _scan(self) -> anomalies.Scan:
        """The scan of the ring as it is now. The scan goes on from the last read with the entries written since
        (a live console reads every two seconds: scanning the whole ring each time would cost the server more than
        the requests it watches), and starts again from the ring's oldest entry when it must: an entry written
        after the last read arrived before one already scanned (another process's, or a slow request's, written a
        flush later), or the ring has moved on by half its size since the scan began (what the scan remembers of
        cut entries stays bounded)."""
        oldest, newest = self.table.bounds()
        with self._scanning:
            scanner, began, upto = self._scanner
            if oldest is None or newest is None:
                return anomalies.Scan([], [])
            if newest == upto and scanner is not None:
                return scanner.result(oldest)
            new: list[dict[str, Any]] = []
            if scanner is not None and upto is not None and began <= oldest <= began + self.size // 2 \
                    and newest > upto:
                new = self._read(JournalFilter(after_id=upto), None)[::-1]
            if scanner is None or not new or not scanner.follows(new[0]):
                scanner, began, new = anomalies.Scanner(), oldest, self._chronological()
            scanner.feed(new)
            self._scanner = scanner, began, max((entry["id"] for entry in new), default=newest)
            return scanner.result(oldest)

    def _detect(self) -> list[dict[str, Any]]:
        """Every anomaly of the journal, oldest first."""
        self.flush(READ_WAIT_SECONDS)
        return anomalies.detect(self._scan(), int(time.time() * 1000), int(self.stopped_after * 1000))

    def entries(self, *, client: str | None = None, path: str | None = None, status: int | None = None,
                since: int | None = None, until: int | None = None,
                limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
        """JSON-ready entries, the latest arrival first, each with its anomaly kinds; ``before`` is an entry id
        (pagination); ``since``/``until`` are unix seconds, inclusive."""
        wanted = JournalFilter(client, path, status, None if since is None else since * 1000,
                               None if until is None else until * 1000 + 999, before)
        page = self._read(wanted, limit)
        if not page:
            return page
        kinds: dict[int, list[str]] = {}
        for found in self._detect():
            kinds.setdefault(found["request_id"], []).append(found["kind"])
        return [{**entry, "anomalies": kinds.get(entry["id"], [])} for entry in page]

    def anomalies(self, *, client: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """``{"id", "kind", "client", "stream", "at", "request_id", "detail"}``, newest first."""
        found = [anomaly for anomaly in self._detect() if client is None or anomaly["client"] == client]
        return found[::-1][:limit]

    def clients(self) -> list[dict[str, Any]]:
        """One per client, the most recently seen first: its requests, where it is in each export, its anomalies."""
        entries = self._chronological()
        found = self._detect()
        clients: dict[str, dict[str, Any]] = {}
        for entry in entries:
            client = clients.setdefault(entry["client"], {
                "client": entry["client"], "user_agent": entry["user_agent"], "user_id": entry["user_id"],
                "requests": 0, "last_at": None, "streams": {}, "anomalies": 0,
            })
            client["requests"] += 1
            client["last_at"] = entry["at"]
            if entry["stream"] and entry["status"] == 200:
                stream = client["streams"].setdefault(entry["stream"], {"items": 0})
                stream.update(position=entry["position"], next_position=entry["next_position"],
                              end_of_stream=entry["end_of_stream"])
                stream["items"] += entry["items"] or 0
        for anomaly in found:
            clients[anomaly["client"]]["anomalies"] += 1
        return sorted(clients.values(), key=lambda client: client["last_at"], reverse=True)

    def positions(self, client: str) -> dict[str, list[dict[str, Any]]]:
        """Per export, the client's position over time, oldest first: ``{"at", "request_id", "position"`` (unix
        seconds: start_time, or the cursor's timestamp)``, "items", "end_of_stream"}``."""
        streams: dict[str, list[dict[str, Any]]] = {}
        for entry in self._chronological(client):
            here = anomalies.point(entry["position"], anomalies.cursor_based(entry))
            if entry["stream"] is None or here is None:
                continue
            streams.setdefault(entry["stream"], []).append({
                "at": entry["at"], "at_unix_ms": entry["at_unix_ms"], "request_id": entry["id"], "position": here[0],
                "status": entry["status"], "items": entry["items"], "end_of_stream": entry["end_of_stream"],
            })
        return streams
