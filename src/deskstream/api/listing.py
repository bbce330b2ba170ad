"""Zendesk's list pagination for the non-export list endpoints.

With ``page[size]``: cursor pagination (``meta: {has_more, after_cursor, before_cursor}``, ``links: {next, prev}``),
at most 100 a page. Without it: offset pagination (``next_page``, ``previous_page``, ``count``), ``per_page`` ≤ 100.
Items come from stored JSON, concatenated without decoding.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Table, func, select, true
from starlette.requests import Request

from deskstream.api.responses import base_url
from deskstream.exceptions import BadRequest


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


def _encode(record_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{record_id}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = text.partition(":")
        if prefix != "id":
            raise ValueError(cursor)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("page[after] is not a valid cursor", error="InvalidPaginationParameter") from None


def _link(request: Request, **params: Any) -> str:
    query = dict(request.query_params)
    for name, value in params.items():
        query[name] = str(value)
    return f"{base_url(request)}{request.url.path}?" + "&".join(f"{k}={v}" for k, v in query.items())


#: Turns a page's items into the items to serve and extra top-level keys (sideloads); values may be orjson Fragments.
Decorate = Callable[[list[bytes]], tuple[list[bytes], dict[str, Any]]]


def list_page(
    request: Request,
    conn: Connection,
    table: Table,
    key: str,
    where: ColumnElement[bool] | None = None,
    column: str = "json",
    decorate: Decorate | None = None,
) -> bytes:
    """One page of ``table``'s stored JSON in id order, framed as Zendesk frames list answers.

    ``decorate`` (sideloads) sees the page's items in the same read transaction, after pagination.
    """
    def framed(items: list[bytes], meta: dict[str, Any]) -> bytes:
        if decorate is None:
            return frame(key, items, meta)
        items, extra = decorate(items)
        return frame(key, items, {**meta, **extra})

    condition = where if where is not None else true()
    body_column = table.c[column]
    if "page[size]" in request.query_params:
        size = _int_param(request, "page[size]", 100, 1, 100)
        after = request.query_params.get("page[after]")
        query = select(table.c.id, body_column).where(condition)
        if after:
            query = query.where(table.c.id > _decode(after))
        rows = conn.execute(query.order_by(table.c.id).limit(size + 1)).all()
        has_more = len(rows) > size
        rows = rows[:size]
        meta = _cursor_meta(request, has_more, rows[0].id if rows else None, rows[-1].id if rows else None)
        return framed([r[1] for r in rows], meta)
    per_page = _int_param(request, "per_page", 100, 1, 100)
    page = _int_param(request, "page", 1, 1, 1_000_000)
    total = conn.execute(select(func.count()).select_from(table).where(condition)).scalar_one()
    rows = conn.execute(
        select(body_column).where(condition).order_by(table.c.id).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return framed([r[0] for r in rows], _offset_meta(request, page, per_page, total))


def list_items(request: Request, key: str, items: list[bytes]) -> bytes:
    """A list computed in memory (tags in use, stubs), paged and framed as :func:`list_page` does.

    Positions (1-based) stand in for ids in the cursors, so the list must come in a stable order.
    """
    if "page[size]" in request.query_params:
        size = _int_param(request, "page[size]", 100, 1, 100)
        after = request.query_params.get("page[after]")
        start = _decode(after) if after else 0
        rows = items[start : start + size]
        first, last = (start + 1, start + len(rows)) if rows else (None, None)
        return frame(key, rows, _cursor_meta(request, start + size < len(items), first, last))
    per_page = _int_param(request, "per_page", 100, 1, 100)
    page = _int_param(request, "page", 1, 1, 1_000_000)
    rows = items[(page - 1) * per_page : page * per_page]
    return frame(key, rows, _offset_meta(request, page, per_page, len(items)))


def _cursor_meta(request: Request, has_more: bool, first: int | None, last: int | None) -> dict[str, Any]:
    """Zendesk's cursor-pagination tail, from the first and last id (or position) on the page."""
    after_cursor = _encode(last) if last is not None else None
    before_cursor = _encode(first) if first is not None else None
    return {
        "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": before_cursor},
        "links": {
            "next": _link(request, **{"page[after]": after_cursor}) if has_more else None,
            "prev": _link(request, **{"page[before]": before_cursor}) if before_cursor else None,
        },
    }


def _offset_meta(request: Request, page: int, per_page: int, total: int) -> dict[str, Any]:
    """Zendesk's offset-pagination tail."""
    return {
        "next_page": _link(request, page=page + 1, per_page=per_page) if page * per_page < total else None,
        "previous_page": _link(request, page=page - 1, per_page=per_page) if page > 1 else None,
        "count": total,
    }


def frame(key: str, items: list[bytes], meta: dict[str, Any]) -> bytes:
    """``{"<key>":[item,item,...],<meta>}`` from already-serialized items."""
    tail = orjson.dumps(meta)
    return b'{"' + key.encode() + b'":[' + b",".join(items) + b"]," + tail[1:]
