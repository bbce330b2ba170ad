"""``GET /metrics``: the server's Prometheus metrics, and the HTTP layer's own (docs/metrics.md).

Labels are bounded on purpose: a request is counted under its route's path template
(``/api/v2/tickets/{ticket_id}``), never its raw path, so ids, cursors and a scanner's random paths cannot grow the
series without end. The endpoint is unauthenticated, as Prometheus scrapes usually are, and carries no secret
(counts, durations and route templates only); it is left out of the OpenAPI description (it is not Zendesk's) and
out of every rate limit.

With ``--workers N`` each worker writes its values to files in ``PROMETHEUS_MULTIPROC_DIR``
(:mod:`deskstream.observability`) and the worker that answers a scrape sums every worker's files. The database pool
gauge is each worker's last sample (taken after each of its requests and at each scrape it answers), summed over the
live workers; a worker that stops removes its own (:func:`worker_stopped`).
"""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    multiprocess,
)
from prometheus_client.exposition import choose_encoder

from deskstream.observability import multiprocess as is_multiprocess
from deskstream.store import Store

__all__ = [
    "EXPORT_ITEMS",
    "EXPORT_PAGES",
    "EXPORT_STATE",
    "HTTP_REQUESTS",
    "METRICS_PATH",
    "POOL_CHECKED_OUT",
    "POOL_SIZE",
    "RATE_LIMITED",
    "UNMATCHED",
    "WRITE_DURATION",
    "WRITE_METHODS",
    "export_page",
    "observe_request",
    "rate_limited",
    "router",
    "sample_pool",
    "worker_stopped",
]

#: No ``*_created`` series: they double every counter's, and multi-process mode has none (one output either way).
disable_created_metrics()  # type: ignore[no-untyped-call]

METRICS_PATH = "/metrics"
#: The route label of an answer no route matched (a 404, or one given before routing that matches no route).
UNMATCHED = "unmatched"
#: Requests whose duration goes to :data:`WRITE_DURATION`.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: ``request.state`` key of an export page's ``(stream, items)``, for the access log.
EXPORT_STATE = "export_page"

HTTP_REQUESTS = Counter(
    "deskstream_http_requests", "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)  # fmt: skip
WRITE_DURATION = Histogram(
    "deskstream_http_write_duration_seconds",
    "Time to answer a write request (POST, PUT, PATCH, DELETE), from its arrival to its last byte, by route template.",
    ["method", "route"],
)
EXPORT_PAGES = Counter("deskstream_export_pages", "Incremental export pages served, by stream.", ["stream"])
EXPORT_ITEMS = Counter("deskstream_export_items", "Items in the export pages served, by stream.", ["stream"])
RATE_LIMITED = Counter(
    "deskstream_rate_limited", "Requests refused with 429 by an export budget (incremental or sample).", ["bucket"]
)
POOL_CHECKED_OUT = Gauge(
    "deskstream_db_pool_checked_out", "Database connections checked out of the pool.", multiprocess_mode="livesum"
)
POOL_SIZE = Gauge(
    "deskstream_db_pool_size", "Connections the database pool keeps (more may be opened at a peak).",
    multiprocess_mode="livesum",
)  # fmt: skip


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request; a write's duration also goes to the histogram."""
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    if method in WRITE_METHODS:
        WRITE_DURATION.labels(method, route).observe(seconds)


def export_page(request: Request, stream: str, items: int) -> None:
    """Count one export page and its items; the access log reads them back from ``request.state``."""
    EXPORT_PAGES.labels(stream).inc()
    EXPORT_ITEMS.labels(stream).inc(items)
    setattr(request.state, EXPORT_STATE, (stream, items))


def rate_limited(bucket: str) -> None:
    RATE_LIMITED.labels(bucket).inc()


def sample_pool(store: Store) -> None:
    """Read the pool's use now; a pool without a size (SQLAlchemy's ``NullPool``, ``StaticPool``) is not sampled.

    The pool's own counters, not SQL: the store's engine is read, never spoken to."""
    pool = store.engine.pool
    checkedout, size = getattr(pool, "checkedout", None), getattr(pool, "size", None)
    if callable(checkedout) and callable(size):
        POOL_CHECKED_OUT.set(checkedout())
        POOL_SIZE.set(size())


def worker_stopped() -> None:
    """In multi-process mode, drop this worker's pool gauges, so a stopped worker is not summed any more."""
    if is_multiprocess():
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


router = APIRouter(include_in_schema=False)


@router.get(METRICS_PATH)
def metrics(request: Request) -> Response:
    """Prometheus text (or OpenMetrics, when the scraper asks for it); one worker's answer sums every worker's."""
    sample_pool(request.app.state.store)
    registry = REGISTRY
    if is_multiprocess():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(registry), headers={"Content-Type": content_type})
