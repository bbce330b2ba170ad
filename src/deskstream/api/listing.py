"""Zendesk's list pagination for the non-export list endpoints.

With ``page[size]``: cursor pagination (``meta: {has_more, after_cursor, before_cursor}``, ``links: {next, prev}``),
at most 100 a page. Without it: offset pagination (``next_page``, ``previous_page``, ``count``), ``per_page`` ≤ 100.
Items come from stored JSON, concatenated without decoding. Framing, cursors and links are the exports' own
(:mod:`deskstream.export.framing`, :mod:`deskstream.export.cursor`, :func:`deskstream.api.responses.link`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.requests import Request

from deskstream.api.responses import link
from deskstream.exceptions import BadRequest
from deskstream.export.cursor import decode_id_cursor, encode_id_cursor
from deskstream.export.framing import frame
from deskstream.store.scans import ListQuery, Scans


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


#: Turns a page's items into the items to serve and the sideload arrays to append (serialized records by name).
Decorate = Callable[[list[bytes]], tuple[list[bytes], Mapping[str, Sequence[bytes]]]]


def list_page(request: Request, scans: Scans, query: ListQuery, key: str, decorate: Decorate | None = None) -> bytes:
    """One page of the ``query``'s rows in id order, framed as Zendesk frames list answers.

    ``decorate`` (sideloads) sees the page's items in the same read transaction, after pagination.
    """
    def framed(items: list[bytes], meta: dict[str, Any]) -> bytes:
        if decorate is None:
            return frame(key, items, meta)
        items, arrays = decorate(items)
        return frame(key, items, meta, arrays)

    if "page[size]" in request.query_params:
        size = _int_param(request, "page[size]", 100, 1, 100)
        after = request.query_params.get("page[after]")
        rows = scans.list_after(query, decode_id_cursor(after) if after else None, size + 1)
        has_more = len(rows) > size
        rows = rows[:size]
        meta = _cursor_meta(request, has_more, rows[0][0] if rows else None, rows[-1][0] if rows else None)
        return framed([r[1] for r in rows], meta)
    per_page = _int_param(request, "per_page", 100, 1, 100)
    page = _int_param(request, "page", 1, 1, 1_000_000)
    total = scans.list_count(query)
    items = scans.list_offset(query, (page - 1) * per_page, per_page)
    return framed(items, _offset_meta(request, page, per_page, total))


def list_items(request: Request, key: str, items: list[bytes]) -> bytes:
    """A list computed in memory (tags in use, stubs), paged and framed as :func:`list_page` does.

    Positions (1-based) stand in for ids in the cursors, so the list must come in a stable order.
    """
    if "page[size]" in request.query_params:
        size = _int_param(request, "page[size]", 100, 1, 100)
        after = request.query_params.get("page[after]")
        start = decode_id_cursor(after) if after else 0
        rows = items[start : start + size]
        first, last = (start + 1, start + len(rows)) if rows else (None, None)
        return frame(key, rows, _cursor_meta(request, start + size < len(items), first, last))
    per_page = _int_param(request, "per_page", 100, 1, 100)
    page = _int_param(request, "page", 1, 1, 1_000_000)
    rows = items[(page - 1) * per_page : page * per_page]
    return frame(key, rows, _offset_meta(request, page, per_page, len(items)))


def _cursor_meta(request: Request, has_more: bool, first: int | None, last: int | None) -> dict[str, Any]:
    """Zendesk's cursor-pagination tail, from the first and last id (or position) on the page."""
    after_cursor = encode_id_cursor(last) if last is not None else None
    before_cursor = encode_id_cursor(first) if first is not None else None
    return {
        "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": before_cursor},
        "links": {
            "next": link(request, {"page[after]": after_cursor}) if has_more and after_cursor else None,
            "prev": link(request, {"page[before]": before_cursor}) if before_cursor else None,
        },
    }


def _offset_meta(request: Request, page: int, per_page: int, total: int) -> dict[str, Any]:
    """Zendesk's offset-pagination tail."""
    pages = {"per_page": str(per_page)}
    return {
        "next_page": link(request, {"page": str(page + 1), **pages}) if page * per_page < total else None,
        "previous_page": link(request, {"page": str(page - 1), **pages}) if page > 1 else None,
        "count": total,
    }
