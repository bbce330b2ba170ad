"""The one clock behind every timestamp, the export horizon, rate-limit windows and SLA deadlines.

``real`` is wall time. ``sim`` is a value stored in the database (so every server process on one database shares
it) that moves only when told: ``POST /_deskstream/clock`` or :meth:`SimClock.advance` (spec/beyond.md § Clock).
"""

from __future__ import annotations

import time
from typing import Protocol

from deskstream.store.engine import Store
from deskstream.store.writer import SIMULATED_CLOCK_KEY, Writer

_KEY = SIMULATED_CLOCK_KEY


class Clock(Protocol):
    kind: str

    def now(self) -> int:
        """Whole Unix seconds: every stored time in deskstream has one-second resolution, as Zendesk's."""
        ...


class RealClock:
    kind = "real"

    def now(self) -> int:
        return int(time.time())


class FixedClock:
    """A clock that says what it is told; the generator stamps history in the past with one."""

    kind = "fixed"

    def __init__(self, now: int) -> None:
        self.value = now

    def now(self) -> int:
        return self.value


class SimClock:
    """A stored clock shared by every process on the database; starts at wall time on first use."""

    kind = "sim"

    def __init__(self, store: Store) -> None:
        self.store = store
        with store.writing() as w:
            if w.kv_get(_KEY) is None:
                w.kv_set(_KEY, str(int(time.time())))

    def now(self) -> int:
        value = self.store.kv_get(_KEY)
        return int(value) if value is not None else int(time.time())

    def set(self, unix_seconds: int) -> int:
        self.store.kv_set(_KEY, str(int(unix_seconds)))
        return int(unix_seconds)

    def move(self, w: Writer, unix_seconds: int) -> None:
        """Set the clock inside the caller's write transaction (the SLA breaches due by then commit with it)."""
        w.kv_set(_KEY, str(int(unix_seconds)))

    def advance(self, seconds: int) -> int:
        with self.store.writing() as w:
            value = int(w.kv_get(_KEY) or time.time()) + int(seconds)
            w.kv_set(_KEY, str(value))
        return value


def make_clock(kind: str, store: Store) -> Clock:
    return SimClock(store) if kind == "sim" else RealClock()
