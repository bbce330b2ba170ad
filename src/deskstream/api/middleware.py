"""Pure ASGI middleware kept off the hot path's back: ``.json`` suffixes, the request body limit and the 405s."""

from __future__ import annotations

import re

import orjson
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskstream.api.errors import render
from deskstream.api.responses import JSON
from deskstream.exceptions import PayloadTooLarge


class JsonSuffix:
    """Serve every path with and without ``.json`` (zenpy and tap-zendesk always add it; other clients never do)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith(".json") and scope["path"] != "/openapi.json":
            scope = dict(scope)
            scope["path"] = scope["path"][: -len(".json")]
            scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse bodies over ``max_bytes`` with :class:`PayloadTooLarge`'s 413, before anything reads them whole.

    It wraps the app, outside its exception handlers, so it renders the error itself (``api.errors.render``)
    rather than raising it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        refused = False

        async def limited() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited, tracking_send)
        if refused and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = PayloadTooLarge(f"Request bodies are limited to {self.max_bytes} bytes")
        await render(refusal)(scope, receive, send)


#: ``Allow`` lists methods in this order.
_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class MethodsOfPath:
    """A path's 405, decided from every route of the path, before Starlette's router sees the request.

    Starlette serves the first route that matches, so ``GET /tickets/update_many`` would be served by
    ``GET /tickets/{ticket_id}`` (a 400 for a non-integer id), and its own 405 names only the methods of the one
    route it met (``OPTIONS /tickets/1`` → ``Allow: GET``). Here a path one route spells out literally
    (``update_many``, ``create_many``, ``me``, ``reorder``) belongs to the literal routes only, for every method; any
    other path to the routes whose pattern matches it. A method none of them serves is Zendesk's 405 with ``Allow``
    naming all of theirs. HEAD is served by no route, so it is such a 405 too, like OPTIONS.
    Paths no route matches pass on (the router's 404). Routes are declared literal-first in each router, so a
    method the literal path has is served by its literal route.
    """

    def __init__(self, app: ASGIApp, routes: list[tuple[str, set[str] | None]]) -> None:
        self.app = app
        self.literal: dict[str, set[str]] = {}
        self.patterns: list[tuple[re.Pattern[str], set[str]]] = []
        for path, methods in routes:
            if "{" in path:
                self.patterns.append((compile_path(path)[0], set(methods or ())))
            else:
                self.literal.setdefault(path, set()).update(methods or ())

    def methods(self, path: str) -> set[str]:
        if path in self.literal:
            return self.literal[path]
        found: set[str] = set()
        for pattern, methods in self.patterns:
            if pattern.match(path):
                found |= methods
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            methods = self.methods(scope["path"])
            if methods and scope["method"] not in methods:
                rank = {method: i for i, method in enumerate(_ORDER)}
                allow = ", ".join(sorted(methods, key=lambda method: (rank.get(method, len(rank)), method)))
                body = orjson.dumps({"error": "MethodNotAllowed", "description": "Method not allowed"})
                response = Response(body, status_code=405, media_type=JSON, headers={"Allow": allow})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
