"""The change feed (``serve --change-sequence``): ``GET /api/v2/incremental/changes``, mounted only when enabled.

The handler is asynchronous so that ``wait=S`` holds no worker thread while it waits: it reads the log in the
thread pool, and between reads sleeps on the event loop. A change made in any process on the database shows at the
next read (every :data:`POLL_SECONDS`), so a waiting client gets it within that much of its commit.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from deskstream.api import metrics
from deskstream.api.deps import desk_of
from deskstream.api.errors import ERRORS, documented
from deskstream.api.ratelimit import admit_export
from deskstream.api.responses import link, raw_response
from deskstream.export import changes as feed
from deskstream.export.params import DEFAULT_PER_PAGE, MAX_PER_PAGE
from deskstream.service import Desk

router = APIRouter(
    responses={**ERRORS, 410: documented("`since` is older than the retention window: resync, then follow from "
                                          "`resync_since`")},
    prefix="/api/v2/incremental", tags=["change feed"],
)  # fmt: skip

#: How often a waiting request looks for new changes.
POLL_SECONDS = 0.2

PARAMETERS: dict[str, Any] = {"parameters": [
    {"name": "since", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0},
     "description": "The last seq the client has (0, the default, is the beginning); the page holds what follows"},
    {"name": "per_page", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
     "description": f"Changes per page ({DEFAULT_PER_PAGE})"},
    {"name": "wait", "in": "query", "required": False,
     "schema": {"type": "number", "minimum": 0, "maximum": feed.MAX_WAIT},
     "description": "Seconds to wait for a change when there is none after since (long poll)"},
]}  # fmt: skip


def _read(request: Request, wanted: feed.FeedRequest) -> feed.FeedPage:
    desk: Desk = desk_of(request)
    with desk.store.change_log() as log:
        return feed.read_page(log, wanted, desk.clock.now(), request.app.state.settings.retention)


def _first_read(request: Request) -> tuple[feed.FeedRequest, feed.FeedPage]:
    """The request admitted (the caller, an admin, the budget), its parameters read and its first page read, in one
    worker-thread hop."""
    admit_export(request)
    wanted = feed.parse(request.query_params)
    return wanted, _read(request, wanted)


@router.get("/changes", openapi_extra=PARAMETERS)
async def incremental_changes(request: Request) -> Response:
    """Every change to every exported record after ``since``, in commit order; 410 once ``since`` has expired."""
    started = time.monotonic()
    wanted, page = await run_in_threadpool(_first_read, request)
    deadline = started + wanted.wait
    while not page.changes and time.monotonic() < deadline:
        await asyncio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        page = await run_in_threadpool(_read, request, wanted)
    metrics.export_page(request, "changes", len(page.changes))
    body = feed.frame(page, lambda last: link(request, {"since": str(last)}))
    return raw_response(request, body, only_stored=True)  # every record is a stored one
