"""The change log's retention: every server process drops, now and then, the changes older than ``--retention``.

Every write logs its changes whether or not the feed is served (``--change-sequence`` may be turned on later, and
then serves what is in the window), so the pruning runs in every server, not on feed requests. It is storage only:
the feed refuses a ``since`` whose next change has left the window whether it is pruned yet or not. Several
processes may prune at once: each batch runs under the stamp lock, and a batch finds what the others left.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from deskstream.clock import Clock
from deskstream.store import Store

log = logging.getLogger("deskstream.retention")

#: Seconds between two prunings in one process (the first comes a few seconds after start).
EVERY = 600.0
FIRST = 5.0


class ChangeLogPruner:
    def __init__(self, store: Store, clock: Clock, retention: int, every: float = EVERY) -> None:
        self.store, self.clock, self.retention, self.every = store, clock, retention, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="change-log-pruner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def prune(self) -> int:
        return self.store.prune_changes(self.clock.now() - self.retention)

    def _run(self) -> None:
        wait = FIRST
        while not self._stop.wait(wait):
            wait = self.every
            try:
                self.prune()
            except Exception:  # a lock held too long, a closed pool: the next round tries again
                log.exception("pruning the change log failed")


@asynccontextmanager
async def retention_lifespan(app: Any) -> AsyncIterator[None]:
    """Part of the application's lifespan: the pruner runs while the server serves."""
    pruner = ChangeLogPruner(app.state.store, app.state.clock, app.state.settings.retention)
    pruner.start()
    try:
        yield
    finally:
        pruner.stop()
