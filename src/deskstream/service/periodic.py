"""A daemon thread that runs one job every so often while the server serves, and stops with it: ``with
Periodic(...):`` in the application's lifespan."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class Periodic:
    """Runs ``job`` every ``interval`` seconds (the first time after ``first``); a job that raises is logged and
    run again at the next turn (a lock timeout, a closed pool)."""

    def __init__(self, name: str, job: Callable[[], object], interval: float, first: float | None = None,
                 log: logging.Logger | None = None) -> None:  # fmt: skip
        self.job, self.interval, self.first = job, interval, interval if first is None else first
        self.log = log or logging.getLogger(f"deskstream.{name}")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> Periodic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        wait = self.first
        while not self._stop.wait(wait):
            wait = self.interval
            try:
                self.job()
            except Exception:
                self.log.exception("%s failed; it runs again in %.0f s", self._thread.name, self.interval)
