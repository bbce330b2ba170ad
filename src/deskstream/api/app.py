"""The application factory: ``create_app(settings)`` wires the store, the clock, the services and the routes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Route

from deskstream import __version__, faults
from deskstream.api import console, errors, metrics, ratelimit
from deskstream.api.access import Observe, RouteOfRequest, json_log
from deskstream.api.faults import FaultInjection
from deskstream.api.middleware import BodyLimit, JsonSuffix, MethodsOfPath
from deskstream.api.recording import Recording
from deskstream.api.routes import ROUTERS, changes
from deskstream.clock import make_clock
from deskstream.service import Desk
from deskstream.service.console_sessions import ConsoleSessions
from deskstream.service.retention import retention_lifespan
from deskstream.service.sla_scheduler import scheduler_lifespan
from deskstream.settings import Settings
from deskstream.store import Store


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The SLA scheduler and the change log's pruner run while the server serves; a stopping worker writes its
    last journal entries and withdraws its pool gauges."""
    try:
        async with scheduler_lifespan(app), retention_lifespan(app):
            yield
    finally:
        app.state.desk.journal.close()
        metrics.worker_stopped()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the server: opens (and migrates) the database, so several processes can each call this."""
    settings = settings or Settings()
    store = Store(settings.db, settings.synchronous, settings.public_url or None)
    store.migrate()
    clock = make_clock(settings.clock, store)
    app = FastAPI(
        title="deskstream",
        version=__version__,
        description="A Zendesk-compatible help desk with wire-compatible Incremental Exports. "
        "Every path also answers with a `.json` suffix, as Zendesk's do.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.clock = clock
    app.state.desk = Desk(store, clock, settings.journal_size)
    app.state.faults = faults.Faults(faults.parse(settings.faults))
    app.state.console_sessions = ConsoleSessions(store)
    errors.install(app)
    served = [*([changes.router] if settings.change_sequence else []), *ROUTERS, metrics.router, console.router]
    for router in served:
        app.include_router(router)
    routes = [(r.path, r.methods) for router in served for r in router.routes if isinstance(r, APIRoute)]
    app.add_middleware(RouteOfRequest)
    app.add_middleware(MethodsOfPath, routes=routes)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(JsonSuffix)
    ratelimit.install(app)
    app.add_middleware(FaultInjection, faults=app.state.faults)
    app.add_middleware(Recording, journal=app.state.desk.journal)
    log = json_log() if settings.log_json else None
    templates = [path for path, _ in routes] + [r.path for r in app.routes if isinstance(r, Route)]  # + /docs
    app.add_middleware(Observe, templates=templates, store=store, log=log)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` worker processes: settings come from ``DESKSTREAM_*``."""
    _stop_with_supervisor()
    return create_app(Settings.from_env())


def _stop_with_supervisor(every: float = 0.25) -> None:
    """A worker outlives a supervisor killed with ``kill -9`` (nothing tells it), and would keep serving and writing
    beside the server restarted in its place; so it watches its parent and, once orphaned, stops as on SIGTERM
    (its requests in flight finish). The parent is the one that spawned it (multiprocessing knows it), not whoever
    is the parent by now: a supervisor killed while this worker was still starting has left it orphaned already."""
    spawner = multiprocessing.parent_process()
    parent = spawner.pid if spawner is not None and spawner.pid is not None else os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="deskstream-supervisor-watch", daemon=True).start()
