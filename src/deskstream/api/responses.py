"""Writing answers: orjson bytes, with the stored ``url`` placeholder replaced by the request's own base URL."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from deskstream.store.schema import URL_BASE

_URL_BASE = URL_BASE.encode()
JSON = "application/json; charset=utf-8"


def base_url(request: Request) -> str:
    """``scheme://host[:port]`` as the client addressed us (Host header), so links work through any proxy name."""
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{request.url.scheme}://{host}"


def with_base(body: bytes, request: Request) -> bytes:
    """Replace the stored url placeholder once for the whole body (a single pass over the bytes)."""
    if _URL_BASE in body:
        return body.replace(_URL_BASE, base_url(request).encode())
    return body


def json_response(request: Request, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(with_base(orjson.dumps(payload), request), status_code=status, media_type=JSON, headers=headers)


def raw_response(request: Request, body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """An answer already serialized (export pages concatenate stored JSON into it)."""
    return Response(with_base(body, request), status_code=status, media_type=JSON, headers=headers)
