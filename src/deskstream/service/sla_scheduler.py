"""The server's SLA scheduler: writes breaches as the clock passes their targets, even when nobody writes.

One daemon thread per server process calls :meth:`SlaService.tick` about once a second. Several processes on one
database are safe: each pass claims the due tickets inside a write transaction and a breached instance is marked,
so a breach is written once whichever process gets there first. Each pass is counted, with the breaches it wrote,
in :mod:`deskstream.observability` (``GET /metrics``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from deskstream.observability import SLA_BREACHES, SLA_RUNS
from deskstream.service.sla import SlaService

log = logging.getLogger("deskstream.sla")

#: Seconds between passes. A breach is written within about this long of its target (its time is the target's).
INTERVAL = 1.0


class SlaScheduler:
    def __init__(self, sla: SlaService, interval: float = INTERVAL) -> None:
        self.sla = sla
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sla-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                breaches = self.sla.tick()
            except Exception:  # a failed pass (a lock timeout, a closed pool) is retried on the next one
                SLA_RUNS.labels("failed").inc()
                log.exception("SLA scheduler pass failed")
            else:
                SLA_RUNS.labels("ok").inc()
                SLA_BREACHES.inc(breaches)


@asynccontextmanager
async def scheduler_lifespan(app: Any) -> AsyncIterator[None]:
    """The application's lifespan (``FastAPI(lifespan=...)``): the scheduler runs while the server serves."""
    scheduler = SlaScheduler(app.state.desk.sla)
    scheduler.start()
    try:
        yield
    finally:
        scheduler.stop()
