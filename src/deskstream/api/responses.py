"""Writing answers: orjson bytes, with the stored ``url`` placeholder replaced by the request's own base URL.

Bodies are framed by :mod:`deskstream.export.framing` (lists, single items, exports) and links built by its
:func:`~deskstream.export.framing.link`; this module supplies what only the request knows (scheme, Host, path and
query parameters).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import Response

from deskstream.base_url import URL_BASE
from deskstream.export import framing

_URL_BASE = URL_BASE.encode()
#: How a stored public base appears in a serialized item: as the start of a ``"url"`` value.
_URL_VALUE = b'"url":"'
JSON = "application/json; charset=utf-8"


def base_url(request: Request) -> str:
    """``scheme://host[:port]`` as the client addressed us (Host header), so links work through any proxy name."""
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{request.url.scheme}://{host}"


def link(request: Request, updates: Mapping[str, str], drop: Sequence[str] = ()) -> str:
    """This request's URL (scheme and Host as the client sent them) with ``updates`` set and ``drop`` removed;
    every other parameter kept and encoded so that it reads back exactly as the client sent it."""
    location = base_url(request) + quote(request.url.path, safe="/")
    return framing.link(location, request.query_params.multi_items(), updates, drop)


def with_base(body: bytes, request: Request, only_stored: bool = False) -> bytes:
    """The body with every URL base it may hold, but the request's own, replaced by the request's own.

    Those are the placeholder (which the answers built per request carry) and the bases the database's stored
    items name (``Store.url_bases``). A body ``only_stored`` — stored items, and links built from this request —
    on a database whose items all name the request's own base (``serve --public-url`` with a matching ``Host``) is
    sent as it is: each replacement is a pass over every byte, the largest cost of an export page after its scan.
    A public base is matched only as the start of a ``"url"`` value, so text a user wrote is never rewritten
    (quotes inside a stored string are escaped).
    """
    own = base_url(request)
    bases: tuple[str, ...] = request.app.state.store.url_bases.all
    if only_stored and bases == (own,):
        return body
    for base in {URL_BASE, *bases} - {own}:
        if base == URL_BASE:
            body = body.replace(_URL_BASE, own.encode())  # no copy when it is not there
        else:
            body = body.replace(_URL_VALUE + base.encode(), _URL_VALUE + own.encode())
    return body


def json_response(request: Request, payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(with_base(orjson.dumps(payload), request), status_code=status, media_type=JSON, headers=headers)


def raw_response(request: Request, body: bytes, status: int = 200, headers: dict[str, str] | None = None,
                 only_stored: bool = False) -> Response:
    """An answer already serialized (export pages concatenate stored JSON into it); see :func:`with_base` for
    ``only_stored``."""
    return Response(with_base(body, request, only_stored), status_code=status, media_type=JSON, headers=headers)


def item_response(request: Request, key: str, item: bytes,
                  sideloads: Mapping[str, Sequence[bytes]] | None = None) -> Response:
    """One stored record as Zendesk answers a single item, ``{"<key>": record, <sideload arrays>}``."""
    return raw_response(request, framing.frame_item(key, item, sideloads))
