"""Rate limits: Zendesk's incremental export budget, the sample budget and the account-wide figure.

Three buckets, each a fixed window aligned to the server clock (``app.state.clock``, so a simulated clock moves the
windows too, spec/beyond.md § Clock). Deskstream serves one Zendesk account per database, so each bucket has one
counter per database:

- ``incremental``: ``--rate-limit N`` requests a minute across every incremental export endpoint (Zendesk's 10).
  Over it: 429 ``APIRateLimitExceeded`` with ``Retry-After``. Answers carry
  ``Zendesk-RateLimit-incremental-exports: total=10; remaining=9; resets=42`` and ``ratelimit-limit|remaining|reset``.
- ``sample``: the ``/sample`` endpoints, 10 requests per 20 minutes, counted apart from ``incremental`` (Zendesk
  documents them as a separate limit); its header is ``Zendesk-RateLimit-incremental-exports-sample``.
- ``account``: the figure of ``X-Rate-Limit``/``X-Rate-Limit-Remaining`` on every answer, 700 a minute as on
  Zendesk's Enterprise plan. It is informational: reported, never enforced, since deskstream's own write API and
  benchmarks must not be throttled by it.

Two :class:`Limiter` implementations. The export buckets always use :class:`DatabaseLimiter`, whatever ``--workers``
says: a counter row updated in one short write transaction, so that every process on the database shares the budget,
including servers started separately on one PostgreSQL (spec/exports.md § Rate limit). It costs one write per
counted request, and only incremental requests are counted (at most a few hundred a minute). The account figure,
counted on every request including the hot export path, uses :class:`MemoryLimiter`: a dictionary under a lock, per
process, which is good enough for a figure that is never enforced. ``--rate-limit off`` disables both export
buckets; the account figure is still sent.

:func:`admit_export` spends a budget only after authentication and the admin check, so a 401 or 403 answer never
spends it. It leaves its headers in ``request.state.rate_limit_headers``; :class:`RateLimitHeaders` (pure ASGI)
writes them on the answer, 429s included.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskstream.api import metrics
from deskstream.api.deps import current_user, require_admin
from deskstream.clock import Clock
from deskstream.exceptions import RateLimited
from deskstream.service.auth import Principal
from deskstream.store import Store

__all__ = [
    "Bucket",
    "DatabaseLimiter",
    "Limiter",
    "MemoryLimiter",
    "RateLimitHeaders",
    "RateLimits",
    "Window",
    "admit_export",
    "install",
]

HEADERS_KEY = "rate_limit_headers"


@dataclass(frozen=True)
class Bucket:
    """A budget: ``limit`` requests per ``window`` seconds, reported under the header named ``header``."""

    name: str
    limit: int
    window: int
    header: str


@dataclass(frozen=True)
class Window:
    """What one counted request learned about its bucket's current window."""

    limit: int
    used: int
    resets: int  # whole seconds until the window ends, 1..window

    @property
    def allowed(self) -> bool:
        return self.used <= self.limit

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


def window_start(now: int, window: int) -> int:
    """Fixed windows aligned to the clock's multiples of ``window``: every process computes the same one."""
    return now - now % window


def _window(bucket: Bucket, used: int, now: int) -> Window:
    return Window(bucket.limit, used, window_start(now, bucket.window) + bucket.window - now)


class Limiter(Protocol):
    def hit(self, bucket: Bucket, now: int) -> Window:
        """Count one request against ``bucket`` at time ``now`` (refused requests count too) and report the window."""
        ...


class MemoryLimiter:
    """Counters in this process's memory; thread-safe (sync endpoints and dependencies run in a thread pool)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int]] = {}

    def hit(self, bucket: Bucket, now: int) -> Window:
        start = window_start(now, bucket.window)
        with self._lock:
            seen_start, used = self._counts.get(bucket.name, (start, 0))
            used = used + 1 if seen_start == start else 1
            self._counts[bucket.name] = (start, used)
        return _window(bucket, used, now)


class DatabaseLimiter:
    """Counters in the store (``rate_limit_counters``): one per bucket, shared by every process on the database
    (:meth:`deskstream.store.accounts.Accounts.count_hit` counts concurrent requests one after another)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def hit(self, bucket: Bucket, now: int) -> Window:
        with self.store.writing(stamped=False) as w:  # a counter stamps nothing an export serves
            used = w.count_hit(bucket.name, window_start(now, bucket.window))
        return _window(bucket, used, now)


ACCOUNT = Bucket("account", 700, 60, "X-Rate-Limit")
SAMPLE_LIMIT, SAMPLE_WINDOW = 10, 20 * 60


class RateLimits:
    """The server's budgets, built from its settings; kept in ``app.state.rate_limits``."""

    def __init__(self, per_minute: int | None, store: Store, clock: Clock) -> None:
        self.clock = clock
        self.account = MemoryLimiter()
        self.exports = DatabaseLimiter(store)
        self.incremental = (
            Bucket("incremental", per_minute, 60, "Zendesk-RateLimit-incremental-exports") if per_minute else None
        )
        self.sample = (
            Bucket("sample", SAMPLE_LIMIT, SAMPLE_WINDOW, "Zendesk-RateLimit-incremental-exports-sample")
            if per_minute
            else None
        )

    def spend(self, request: Request, bucket: Bucket | None) -> None:
        """Count the request against ``bucket``; leave its headers for the middleware; raise 429 when over."""
        if bucket is None:
            return
        window = self.exports.hit(bucket, self.clock.now())
        headers = getattr(request.state, HEADERS_KEY, None) or {}
        headers.update(
            {
                bucket.header: f"total={window.limit}; remaining={window.remaining}; resets={window.resets}",
                "ratelimit-limit": str(window.limit),
                "ratelimit-remaining": str(window.remaining),
                "ratelimit-reset": str(window.resets),
            }
        )
        setattr(request.state, HEADERS_KEY, headers)
        if not window.allowed:
            metrics.rate_limited(bucket.name)
            raise RateLimited(retry_after=window.resets)

    def account_headers(self) -> list[tuple[bytes, bytes]]:
        window = self.account.hit(ACCOUNT, self.clock.now())
        return [
            (ACCOUNT.header.lower().encode(), str(window.limit).encode()),
            (f"{ACCOUNT.header}-Remaining".lower().encode(), str(window.remaining).encode()),
        ]


def _limits(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


def admit_export(request: Request, sample: bool = False) -> Principal:
    """Admit one export request: the caller (401), an admin (403), then one request of the per-minute budget, or of
    the ``/sample`` budget (10 per 20 minutes), in that order (429).

    A plain call, not a FastAPI dependency: the export routes call it first thing in the one worker-thread hop that
    reads their page, where three sync dependencies (the caller, the budget, the route) cost three hops a page.
    """
    principal = require_admin(current_user(request))
    limits = _limits(request)
    limits.spend(request, limits.sample if sample else limits.incremental)
    return principal


class RateLimitHeaders:
    """Adds the account figure to every answer and the export bucket headers the dependencies left, 429s included."""

    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == metrics.METRICS_PATH:  # scrapes are no Zendesk request
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += self.limits.account_headers()
                for name, value in (state.get(HEADERS_KEY) or {}).items():
                    headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI) -> None:
    """Build the server's budgets from its settings and add the header middleware (outermost, to see every answer)."""
    settings = app.state.settings
    app.state.rate_limits = RateLimits(settings.rate_limit, app.state.store, app.state.clock)
    app.add_middleware(RateLimitHeaders, limits=app.state.rate_limits)
