"""Every API request into the request journal (:mod:`deskstream.service.journal`, docs/api.md § Request journal).

:class:`Recording` sits just inside ``Observe``, outside fault injection and the rate-limit headers, so it sees the
answer the client got: its status, its ``Retry-After`` and ``ratelimit-*`` headers, and the fault injection applied
(``FaultInjection`` leaves it in the request's state, :data:`FAULT_STATE`). What an export page served reaches it the
way it reaches the access log, through the request's state: :func:`page_served` (the next position and
``end_of_stream``) beside ``metrics.export_page`` (the stream and item count). It parses nothing: the journal's
flusher decodes positions off the request path.

Not journaled: ``/metrics`` scrapes, the console's pages and assets, and reads of the journal itself, so that
watching the journal does not fill it.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskstream.api import metrics
from deskstream.api.faults import FAULT_STATE
from deskstream.service.auth import Principal
from deskstream.service.journal import Journal, Record

__all__ = ["NOT_JOURNALED", "Recording", "page_served"]

PAGE_STATE = "journal_page"
#: Path prefixes never journaled.
NOT_JOURNALED = (metrics.METRICS_PATH, "/_deskstream/console", "/_deskstream/requests")


def page_served(request: Request, next_position: dict[str, Any], end_of_stream: bool) -> None:
    """What an export page gave the client to go on from (``{"end_time": t}`` or ``{"after_cursor": c}``)."""
    setattr(request.state, PAGE_STATE, (next_position, end_of_stream))


#: The response headers that state the export budget, and the key each has in the entry's ``rate_limit``.
_BUDGET = {b"ratelimit-limit": "limit", b"ratelimit-remaining": "remaining", b"retry-after": "retry_after"}


def _rate_limit(headers: list[tuple[bytes, bytes]]) -> dict[str, int | None] | None:
    """The export budget as the answer's headers state it; ``None`` when it states none. One pass over the headers
    as the app sent them, no copy of them: this runs on every request."""
    shown: dict[str, int | None] | None = None
    for name, value in headers:
        key = _BUDGET.get(name.lower())
        if key is not None:
            if shown is None:
                shown = dict.fromkeys(_BUDGET.values())
            shown[key] = int(value) if value.isdigit() else None
    return shown


class Recording:
    def __init__(self, app: ASGIApp, journal: Journal) -> None:
        self.app = app
        self.journal = journal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.journal.on or scope["type"] != "http" or scope["path"].startswith(NOT_JOURNALED):
            await self.app(scope, receive, send)
            return
        at, started = time.time(), time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        status, headers = 500, []

        async def watched(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], message.get("headers", [])
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            principal = state.get("principal")
            stream_items = state.get(metrics.EXPORT_STATE)
            next_position, end_of_stream = state.get(PAGE_STATE) or (None, None)
            agent = next((value for name, value in scope["headers"] if name == b"user-agent"), b"")
            self.journal.record(Record(
                at=at,
                user_agent=agent.decode("latin-1"),
                user_id=principal.user_id if isinstance(principal, Principal) else None,
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                status=status,
                duration_ms=(time.perf_counter() - started) * 1000,
                items=stream_items[1] if stream_items else None,
                next_position=next_position,
                end_of_stream=end_of_stream,
                rate_limit=_rate_limit(headers),
                fault=state.get(FAULT_STATE),
            ))
