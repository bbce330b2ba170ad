"""The journal: what the client under test sent, as :class:`Request` records (docs/testing.md § requests()).

The records are made by :class:`deskstream.testing.hook.Recorder` around the served app; a server in the test's
process keeps them in a :class:`MemoryJournal`, a server in a process of its own appends them to a file as JSON
lines (:class:`FileJournal`), which the test's process reads back. Either way ``zendesk.requests()`` returns the same
records. This module imports nothing of the server, so the fixture's handle stays cheap to import.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

#: The header the fixture's helpers send, so that their requests stay out of the journal and never move the clock.
HELPER_HEADER = "x-deskstream-fixture"


@dataclass(frozen=True)
class Request:
    """One request the client sent and how it was answered."""

    method: str
    path: str
    #: The query string as sent (``cursor=...&per_page=...``); '' when there was none.
    query: str
    status: int
    #: Wall-clock time the request arrived (``time.time()``) and how long its answer took.
    at: float
    duration_ms: float
    #: The signed-in user's id, when the credentials were accepted.
    user_id: int | None
    #: An export page's stream (``tickets``...) and item count.
    stream: str | None
    items: int | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Journal(Protocol):
    def add(self, request: Request) -> None: ...

    def read(self, clear: bool = False) -> list[Request]: ...


class MemoryJournal:
    """The journal of a server in the test's own process: a list under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[Request] = []

    def add(self, request: Request) -> None:
        with self._lock:
            self._requests.append(request)

    def read(self, clear: bool = False) -> list[Request]:
        with self._lock:
            requests = list(self._requests)
            if clear:
                self._requests.clear()
        return requests


class FileJournal:
    """The journal of a server in a process of its own: JSON lines appended by the server, read by the test."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._skip = 0  # lines already cleared

    def add(self, request: Request) -> None:
        line = json.dumps(request.as_json()) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line)

    def read(self, clear: bool = False) -> list[Request]:
        with self._lock:
            try:
                lines = self.path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                lines = []
            complete = lines if not lines or lines[-1].endswith("}") else lines[:-1]  # a line being written waits
            requests = [Request(**json.loads(line)) for line in complete[self._skip :]]
            if clear:
                self._skip = len(complete)
        return requests
