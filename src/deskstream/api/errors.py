"""The one place errors become answers: every 4xx/5xx is Zendesk-shaped JSON, never HTML or a stack trace."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from deskstream.api.responses import JSON
from deskstream.exceptions import BadRequest, DeskstreamError, RateLimited, Unprocessable
from deskstream.store.errors import StoreUnavailable

log = logging.getLogger("deskstream")


def render(exc: DeskstreamError, headers: dict[str, str] | None = None) -> Response:
    headers = dict(headers or {})
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    return Response(orjson.dumps(exc.body()), status_code=exc.status, media_type=JSON, headers=headers)


def _from_validation(exc: RequestValidationError) -> DeskstreamError:
    """FastAPI's body and parameter validation → Zendesk's 400 (unparseable) or 422 ``RecordInvalid``.

    ``details`` is keyed by the record's own field (``custom_fields`` for ``{"ticket": {"custom_fields": [{}]}}``),
    as Zendesk keys it; the description keeps the full path below the wrapper.
    """
    details: dict[str, list[dict[str, str]]] = {}
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            return BadRequest("The request body is not valid JSON", error="InvalidJSON")
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in ("query", "path", "header"):
            return BadRequest(f"{loc[-1]}: {error.get('msg')}")
        loc = loc[1:] if loc and loc[0] == "body" else loc
        if not loc:
            return BadRequest("The request body must be a JSON object", error="InvalidJSON")
        rest = loc[1:]
        first = next((i for i, part in enumerate(rest) if not part.isdigit()), None)
        name = rest[first] if first is not None else loc[0]
        below = ".".join(rest[first + 1 :] if first is not None else rest)
        text = f"{name.replace('_', ' ').capitalize()}: " + (f"{below}: " if below else "") + str(error.get("msg"))
        details.setdefault(name, []).append({"description": text, "error": "InvalidValue"})
    return Unprocessable(details=details)


_HTTP_ERRORS: dict[int, tuple[str, str]] = {
    # FastAPI's own 400 for a body its JSON decoder gave up on (nested too deep, an integer of thousands of digits).
    400: ("InvalidJSON", "The request body is not valid JSON"),
    404: ("InvalidEndpoint", "Not found"),
    405: ("MethodNotAllowed", "Method not allowed"),
}


def install(app: FastAPI) -> None:
    @app.exception_handler(DeskstreamError)
    async def _deskstream(_request: Request, exc: DeskstreamError) -> Response:
        return render(exc, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        return render(_from_validation(exc))

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> Response:
        error, description = _HTTP_ERRORS.get(exc.status_code, ("Error", str(exc.detail)))
        body: dict[str, Any] = {"error": error, "description": description}
        return Response(orjson.dumps(body), status_code=exc.status_code, media_type=JSON, headers=exc.headers)

    @app.exception_handler(StoreUnavailable)
    async def _store(_request: Request, exc: StoreUnavailable) -> Response:
        """The database refused or could not be reached (too many connections, a failover): Zendesk's 503 with a
        ``Retry-After``, so clients back off and retry, instead of a 500 and a dropped connection."""
        log.warning("database unavailable: %s", exc)
        body = {"error": "DatabaseUnavailable", "description": "The database is unavailable; try again shortly"}
        return Response(orjson.dumps(body), status_code=503, media_type=JSON, headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        body = {"error": "InternalError", "description": "Something went wrong on our side"}
        return Response(orjson.dumps(body), status_code=500, media_type=JSON)


class ErrorBody(BaseModel):
    """Zendesk's error body: ``error`` is a code (``RecordInvalid``), a sentence (401's ``Couldn't authenticate
    you``) or, for 403, an object with ``title`` and ``message``; 422's ``details`` are keyed by field."""

    error: str | dict[str, str]
    description: str | None = None
    details: dict[str, Any] | None = None


def documented(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


#: The errors every route may answer: listed in the OpenAPI description by ``responses=`` on each router.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: documented("Malformed input: JSON, a parameter, a cursor or an id"),
    401: documented("No or wrong credentials"),
    403: documented("The caller's role may not do this"),
    404: documented("No such record, or a deleted one"),
    422: documented("Well-formed input with invalid values (`RecordInvalid`)"),
    429: documented("Over the rate limit; `Retry-After` says when to come back"),
}
#: A route that takes a body (every POST, PUT and DELETE: ``api.middleware.BodyLimit``) may also answer 413.
WITH_BODY: dict[int | str, dict[str, Any]] = {413: documented("A request body over the configured limit")}
#: ``PUT /tickets/{id}`` with ``safe_update`` may also answer 409.
SAFE_UPDATE: dict[int | str, dict[str, Any]] = {
    **WITH_BODY,
    409: documented("safe_update with an updated_stamp that is no longer the ticket's"),
}
