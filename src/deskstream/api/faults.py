"""The HTTP side of fault injection (spec/beyond.md): what an export request meets when ``--faults`` is on.

Pure ASGI, outermost, and only on ``/api/v2/incremental/``: a plan that is off costs one attribute read. An
injected 429 or 503 carries ``Retry-After``; a 504 has a gateway's HTML body; a truncated answer declares its whole
length, sends half of it and closes the connection; ``slow_ms`` delays every export page; ``non_json_429`` makes
every 429 of an export (injected or the real budget's) plain text. The faults inside a page (``tie_overflow``,
``late_commit_s``) are applied by the export handlers.
"""

from __future__ import annotations

import asyncio

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskstream.faults import Faults, Outcome

EXPORTS = "/api/v2/incremental/"
#: Where the fault applied to a request is left in its state, for the request journal (``api/recording.py``).
FAULT_STATE = "fault_applied"
NON_JSON_429 = b"Number of allowed incremental export API requests per minute exceeded: 0"
GATEWAY_TIMEOUT = b"<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 Gateway Time-out</h1>" \
    b"</center></body></html>\n"
RATE_LIMITED = {"error": "APIRateLimitExceeded", "description": "Number of allowed incremental export API requests "
                "per minute exceeded"}  # fmt: skip
UNAVAILABLE = {"error": "ServiceUnavailable", "description": "The service is temporarily unavailable; retry later"}


async def _answer(send: Send, status: int, body: bytes, content_type: bytes, retry_after: int | None) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class FaultInjection:
    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.faults.active or scope["type"] != "http" or not scope["path"].startswith(EXPORTS):
            await self.app(scope, receive, send)
            return
        plan = self.faults.plan
        outcome = self.faults.draw()
        if outcome is not Outcome.SERVE or plan.slow_ms:
            scope.setdefault("state", {})[FAULT_STATE] = outcome.value if outcome is not Outcome.SERVE else "slow_ms"
        if plan.slow_ms:
            await asyncio.sleep(plan.slow_ms / 1000)
        json, text, html = b"application/json; charset=utf-8", b"text/plain; charset=utf-8", b"text/html"
        if outcome is Outcome.HTTP429:
            body, kind = (NON_JSON_429, text) if plan.non_json_429 else (orjson.dumps(RATE_LIMITED), json)
            await _answer(send, 429, body, kind, plan.retry_after)
        elif outcome is Outcome.HTTP503:
            await _answer(send, 503, orjson.dumps(UNAVAILABLE), json, plan.retry_after)
        elif outcome is Outcome.HTTP504:
            await _answer(send, 504, GATEWAY_TIMEOUT, html, None)
        elif outcome is Outcome.TRUNCATE:
            await self.app(scope, receive, _truncating(send))
        elif plan.non_json_429:
            await self.app(scope, receive, _plain_429s(send))
        else:
            await self.app(scope, receive, send)


def _truncating(send: Send) -> Send:
    """Declares the whole body, sends its first half, and never the rest: when the app returns, the server closes
    the connection with the answer incomplete."""
    start: Message = {}
    chunks: list[bytes] = []

    async def truncated(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})

    return truncated


def _plain_429s(send: Send) -> Send:
    """Every 429 of the app (the real export budget's) with the plain-text body instead of its JSON."""
    refused = False

    async def plain(message: Message) -> None:
        nonlocal refused
        if message["type"] == "http.response.start" and message["status"] == 429:
            refused = True
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in (b"content-length",
                                                                                          b"content-type")]
            headers += [(b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(NON_JSON_429)).encode())]
            await send({**message, "headers": headers})
        elif refused:
            if not message.get("more_body"):
                await send({"type": "http.response.body", "body": NON_JSON_429})
        else:
            await send(message)

    return plain
