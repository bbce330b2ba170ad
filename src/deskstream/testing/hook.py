"""The fixture's layer around the app it serves: the journal, and the clock that keeps up with a client waiting
out a 429.

:class:`Recorder` is the outermost ASGI layer of the app the fixture serves (in the test's process, or in the server
process it starts). It is the fixture's own, not the server's: ``deskstream serve`` never records requests.

- The journal: one :class:`~deskstream.testing.journal.Request` per request the client sent (the fixture's helpers
  mark theirs with :data:`~deskstream.testing.journal.HELPER_HEADER` and are left out), with its query string, which
  the server's ``--log-json`` deliberately never writes.
- The clock: the fixture runs the simulated clock, which moves only when a test moves it, while the export budget's
  windows are aligned to that clock. A client that waits out a 429's ``Retry-After`` would meet the same window
  again, forever. So from a refusal by the budget until its window ends, the clock keeps up with real time: a
  client that waited ``Retry-After`` finds the window over, as on Zendesk; one that retries at once is refused
  again. Injected 429s (``--faults``) carry no budget headers and do not move the clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskstream.api.metrics import EXPORT_STATE
from deskstream.testing.journal import HELPER_HEADER, Request

_HELPER = HELPER_HEADER.encode()
_EXPORTS = "/api/v2/incremental/"
#: The budget's header on its own 429s (an injected 429 has none).
_RESET = b"ratelimit-reset"


class CatchUp:
    """The simulated clock following real time from a refusal by the export budget to the end of its window."""

    def __init__(self, move: Callable[[Callable[[int], int]], int], now: Callable[[], int]) -> None:
        self._move, self._now = move, now
        self._lock = threading.Lock()
        #: (clock at the first refusal of the window, end of the window, time.monotonic() at that refusal)
        self._pending: tuple[int, int, float] | None = None

    def refused(self, resets: int) -> None:
        now = self._now()
        with self._lock:
            if self._pending is None or self._pending[1] != now + resets:
                self._pending = (now, now + resets, time.monotonic())

    def before_export(self) -> None:
        with self._lock:
            pending = self._pending
        if pending is None:
            return
        start, end, since = pending
        target = min(end, start + int(time.monotonic() - since))
        if target > start:  # a whole second has passed since the refusal
            self._move(lambda now: max(now, target))
        if target >= end:
            with self._lock:
                if self._pending == pending:
                    self._pending = None


class Recorder:
    """Outermost ASGI layer: hands each client request to ``sink`` as its answer's last bytes go out, and runs
    :class:`CatchUp`."""

    def __init__(self, app: ASGIApp, sink: Callable[[Request], None], catch_up: CatchUp | None) -> None:
        self.app, self.sink, self.catch_up = app, sink, catch_up

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        helper = any(name == _HELPER for name, _ in scope["headers"])
        export = scope["path"].startswith(_EXPORTS)
        if self.catch_up is not None and export and not helper:
            await anyio.to_thread.run_sync(self.catch_up.before_export)
        state: dict[str, Any] = scope.setdefault("state", {})
        at, started = time.time(), time.perf_counter()
        status, resets, done = 500, None, False

        async def settle() -> None:
            """Journal the request (and note a refusal by the budget) once, before the client has its answer:
            a test that reads the journal after its client returned finds the request there."""
            nonlocal done
            if done or helper:
                return
            done = True
            if self.catch_up is not None and status == 429 and resets is not None:
                await anyio.to_thread.run_sync(self.catch_up.refused, int(resets))
            self.sink(_entry(scope, state, status, at, time.perf_counter() - started))

        async def observed(message: Message) -> None:
            nonlocal status, resets
            if message["type"] == "http.response.start":
                status = message["status"]
                resets = next((value for name, value in message.get("headers", []) if name == _RESET), None)
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                await settle()
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            await settle()  # an answer cut short (a truncating fault) or never started


def _entry(scope: Scope, state: dict[str, Any], status: int, at: float, seconds: float) -> Request:
    principal = state.get("principal")  # left by deskstream.api.deps once the credentials are accepted
    stream, items = state.get(EXPORT_STATE) or (None, None)
    return Request(
        method=scope["method"],
        path=scope["path"],
        query=scope.get("query_string", b"").decode("latin-1"),
        status=status,
        at=at,
        duration_ms=round(seconds * 1000, 3),
        user_id=getattr(principal, "user_id", None),
        stream=stream,
        items=items,
    )
