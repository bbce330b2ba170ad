"""Every answered request, measured once: the metrics of :mod:`deskstream.api.metrics` and, with ``--log-json``,
one JSON line on stderr (docs/metrics.md § Request log).

:class:`Observe` is the outermost middleware, so its duration and status are the client's, injected faults and
refusals given before routing included. The route template comes from the router: :class:`RouteOfRequest`, the
innermost middleware, reads the route Starlette matched and leaves its template in the request's state (the one
dict every copy of the ASGI scope shares; ``JsonSuffix`` hands the router a copy). An answer given before routing
(a 405 of ``MethodsOfPath``, a 413, an injected fault) is matched against the route templates here, afterwards.

The log line holds the method, the path without its query string, the status, the duration, the caller's id and
email when one was authenticated, and an export page's stream and item count. It never holds a header (the
``Authorization`` header's credentials), a query string or a body.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskstream.api import metrics
from deskstream.service.auth import Principal
from deskstream.store import Store

__all__ = ["LOGGER", "Observe", "RouteOfRequest", "Templates", "json_log"]

LOGGER = "deskstream.access"
ROUTE_STATE = "route_template"


class RouteOfRequest:
    """Innermost: leaves the template of the route the router matched in the request's state."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            route = scope.get("route")
            if scope["type"] == "http" and route is not None and "state" in scope:
                scope["state"][ROUTE_STATE] = getattr(route, "path", None)


class Templates:
    """The app's route templates, for an answer given before routing: the template of the path's route (a path
    one route spells out literally first, as ``MethodsOfPath`` decides), whatever the method; ``unmatched`` when
    no route has the path."""

    def __init__(self, templates: Iterable[str]) -> None:
        self.literal = {template for template in templates if "{" not in template}
        self.patterns = [(compile_path(template)[0], template) for template in templates if "{" in template]

    def of(self, path: str) -> str:
        if path.endswith(".json") and path != "/openapi.json":
            path = path[: -len(".json")]
        if path in self.literal:
            return path
        return next((template for pattern, template in self.patterns if pattern.match(path)), metrics.UNMATCHED)


def json_log() -> logging.Logger:
    """The access logger, writing bare JSON lines to stderr; set up once per process however many apps are built."""
    log = logging.getLogger(LOGGER)
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False  # one line, whatever the root logger does
    return log


def _entry(scope: Scope, state: dict[str, Any], route: str, status: int, seconds: float) -> dict[str, Any]:
    principal = state.get("principal")
    user = principal if isinstance(principal, Principal) else None
    stream, items = state.get(metrics.EXPORT_STATE) or (None, None)
    return {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "method": scope["method"],
        "path": scope["path"],
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "user_id": user.user_id if user else None,
        "user_email": user.user.get("email") if user else None,
        "stream": stream,
        "items": items,
        "pid": os.getpid(),
    }


class Observe:
    """Outermost: times each request, counts it under its route template and status, samples the database pool,
    and, given a logger, writes the request's JSON line."""

    def __init__(self, app: ASGIApp, templates: list[str], store: Store, log: logging.Logger | None) -> None:
        self.app = app
        self.templates = Templates(templates)
        self.store = store
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 500  # what the server answers when the app raises before it started an answer

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            seconds = time.perf_counter() - started
            route = state.get(ROUTE_STATE) or self.templates.of(scope["path"])
            metrics.observe_request(scope["method"], route, status, seconds)
            metrics.sample_pool(self.store)
            if self.log is not None:
                self.log.info(orjson.dumps(_entry(scope, state, route, status, seconds)).decode())
