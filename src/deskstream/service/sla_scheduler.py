"""The server's SLA scheduler: writes breaches as the clock passes their targets, even when nobody writes.

One daemon thread per server process calls :meth:`SlaService.tick` about once a second. Several processes on one
database are safe: each pass claims the due tickets inside a write transaction and a breached instance is marked,
so a breach is written once whichever process gets there first. Each pass is counted, with the breaches it wrote,
in :mod:`deskstream.observability` (``GET /metrics``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from deskstream.observability import SLA_BREACHES, SLA_RUNS
from deskstream.service.periodic import Periodic
from deskstream.service.sla import SlaService

log = logging.getLogger("deskstream.sla")

#: Seconds between passes. A breach is written within about this long of its target (its time is the target's).
INTERVAL = 1.0


def scheduler(sla: SlaService, interval: float = INTERVAL) -> Periodic:
    """The scheduler's thread: a pass every ``interval`` seconds, each counted with the breaches it wrote."""

    def one_pass() -> None:
        try:
            breaches = sla.tick()
        except Exception:  # retried on the next pass; Periodic logs it
            SLA_RUNS.labels("failed").inc()
            raise
        SLA_RUNS.labels("ok").inc()
        SLA_BREACHES.inc(breaches)

    return Periodic("sla-scheduler", one_pass, interval, log=log)


@asynccontextmanager
async def scheduler_lifespan(app: Any) -> AsyncIterator[None]:
    """The application's lifespan (``FastAPI(lifespan=...)``): the scheduler runs while the server serves."""
    with scheduler(app.state.desk.sla):
        yield
