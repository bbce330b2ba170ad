"""What the user sees: a live line per stream while it runs (items, pages, rate, and when and why it waits), and a
closing summary table, also as JSON for machines (spec/sync.md § The user sees), with every fault the upstream
showed and what the client did about it: a user who sees a mirror pass ``verify`` also sees what it survived."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from deskstream.sync.streams import Overflow
from deskstream.sync.upstream import WAITED_FOR_BUDGET


@dataclass
class StreamStats:
    name: str
    items: int = 0
    stored: int = 0
    duplicates: int = 0
    deletes: int = 0
    pages: int = 0
    retries: int = 0
    waits: int = 0
    waited_s: float = 0.0
    overflows: list[str] = field(default_factory=list)
    #: ``(what the upstream did, what the client did)`` → how many times.
    faults: Counter[tuple[str, str]] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    status: str = "starting"
    error: str | None = None

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        shown = asdict(self)
        for name in ("started", "finished", "status"):
            shown.pop(name)
        faults = [{"fault": what, "handled": how, "times": n} for (what, how), n in sorted(self.faults.items())]
        return {**shown, "faults": faults, "seconds": round(self.seconds, 3), "waited_s": round(self.waited_s, 3)}


class Report:
    """Every stream's counts, updated from the streams' threads, drawn by one live display."""

    def __init__(self, streams: list[str], console: Console, live: bool) -> None:
        self.stats = {name: StreamStats(name) for name in streams}
        self.console = console
        self._lock = threading.Lock()
        self._live = Live(self._table(), console=console, refresh_per_second=4, transient=True) if live else None

    def __enter__(self) -> Report:
        if self._live:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live:
            self._live.stop()

    def add_stream(self, name: str) -> None:
        """A row for requests that serve several streams at once (the change feed's)."""
        with self._lock:
            self.stats.setdefault(name, StreamStats(name))
        self._refresh()

    def drop_stream(self, name: str) -> None:
        with self._lock:
            self.stats.pop(name, None)
        self._refresh()

    def update(self, stream: str, **changes: Any) -> None:
        with self._lock:
            stats = self.stats[stream]
            for name, value in changes.items():
                setattr(stats, name, value)
        self._refresh()

    def add(self, stream: str, **counts: float) -> None:
        with self._lock:
            stats = self.stats[stream]
            for name, value in counts.items():
                setattr(stats, name, getattr(stats, name) + value)
        self._refresh()

    def on_wait(self, stream: str, seconds: float, why: str) -> None:
        self.add(stream, waits=1, waited_s=seconds)
        self.update(stream, status=f"waiting {seconds:.1f} s: {why}")

    def on_fault(self, stream: str, what: str, handled: str) -> None:
        """A fault met; every one but a spent budget is answered by asking again (a retry)."""
        with self._lock:
            self.stats[stream].faults[what, handled] += 1
        if handled != WAITED_FOR_BUDGET:
            self.add(stream, retries=1)

    def on_overflow(self, stream: str, overflow: Overflow) -> None:
        with self._lock:
            self.stats[stream].overflows.append(overflow.message)
            self.stats[stream].faults[overflow.fault, overflow.handled] += 1

    def _refresh(self) -> None:
        if self._live:
            self._live.update(self._table())

    def _table(self) -> Table:
        table = Table(title="deskstream sync", expand=False)
        for column in ("stream", "items", "pages", "items/s", "status"):
            table.add_column(column, justify="right" if column in ("items", "pages", "items/s") else "left")
        for s in self.stats.values():
            table.add_row(s.name, f"{s.items:,}", f"{s.pages:,}", f"{s.rate:,.0f}", s.status)
        return table

    def summary_table(self, title: str) -> Table:
        table = Table(title=title)
        columns = ("stream", "items", "stored", "duplicates dropped", "deletes", "pages", "retries", "waits", "time")
        for column in columns:
            table.add_column(column, justify="left" if column == "stream" else "right")
        for s in self.stats.values():
            table.add_row(s.name, f"{s.items:,}", f"{s.stored:,}", f"{s.duplicates:,}", f"{s.deletes:,}",
                          f"{s.pages:,}", f"{s.retries:,}", f"{s.waits:,} ({s.waited_s:.1f} s)",
                          f"{s.seconds:.1f} s")  # fmt: skip
        return table

    def faults_table(self) -> Table | None:
        """Every fault met, per stream, and how it was handled; None when the upstream showed none."""
        rows = [(s.name, what, how, n) for s in self.stats.values() for (what, how), n in sorted(s.faults.items())]
        if not rows:
            return None
        table = Table(title="faults met")
        for column in ("stream", "fault", "times", "handled"):
            table.add_column(column, justify="right" if column == "times" else "left")
        for name, what, how, n in rows:
            table.add_row(name, what, f"{n:,}", how)
        return table
