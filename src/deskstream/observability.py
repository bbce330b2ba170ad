"""Metrics every layer may count, and prometheus_client's multi-process mode (docs/metrics.md).

Neutral ground: it imports prometheus_client and the standard library only, so the services (the SLA scheduler)
count here without importing the HTTP layer, and the CLI prepares multi-process mode without importing the app.
The HTTP layer's own metrics and ``GET /metrics`` are in :mod:`deskstream.api.metrics`.

Multi-process mode: prometheus_client decides where a metric's values live when it is first imported, from
``PROMETHEUS_MULTIPROC_DIR``. ``serve --workers N`` therefore sets that variable, to a directory of its own created
fresh for the run (:func:`multiprocess_dir`), before uvicorn spawns the workers; each worker then writes its values
to files there, and whichever worker answers ``GET /metrics`` sums them all. One process keeps its values in memory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter

__all__ = ["JOURNAL_DROPPED", "MULTIPROC_ENV", "SLA_BREACHES", "SLA_RUNS", "multiprocess", "multiprocess_dir"]

#: The variable prometheus_client reads once, on import, to choose multi-process mode.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

SLA_RUNS = Counter(
    "deskstream_sla_scheduler_runs", "Passes of the SLA scheduler, by outcome (ok or failed).", ["outcome"]
)
SLA_BREACHES = Counter("deskstream_sla_breaches_written", "SLA breach events the scheduler wrote.")
JOURNAL_DROPPED = Counter(
    "deskstream_journal_dropped", "Request journal entries dropped: a write that failed or a buffer that overflowed."
)


def multiprocess() -> bool:
    """Whether this process's metrics live in files shared with other workers (``PROMETHEUS_MULTIPROC_DIR``)."""
    return MULTIPROC_ENV in os.environ


@contextmanager
def multiprocess_dir() -> Iterator[str]:
    """A fresh directory for one server run's workers, named in the environment they inherit; removed after.

    Fresh, because files left by an earlier run would be summed into this one's counters; the environment, because
    the workers are spawned (new interpreters) and read it when they import prometheus_client.
    """
    previous = os.environ.get(MULTIPROC_ENV)
    directory = tempfile.mkdtemp(prefix="deskstream-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)
