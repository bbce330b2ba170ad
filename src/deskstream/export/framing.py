"""Answer bodies around already-serialized items, in Zendesk's key order, without decoding an item; and the links
that point from one page to the next. The only framer and the only link builder: the exports and every list and
single-item answer of the API use these.

Stored items keep the ``url`` placeholder :data:`deskstream.base_url.URL_BASE`; the HTTP layer replaces it
with the request's own scheme and host in one pass over the finished body. Links are built here from plain values
(no HTTP types), so :mod:`deskstream.export` stays free of the web layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import orjson

#: Characters left as they are in a link's query: Zendesk's ``page[size]`` names, and ``include=users,groups``.
#: Everything else outside the unreserved set is percent-encoded (``&``, ``=``, ``#``, ``+``, ``%``, spaces, …).
LINK_SAFE = "[],"


def frame(key: str, items: Sequence[bytes], meta: Mapping[str, Any],
          sideloads: Mapping[str, Sequence[bytes]] | None = None) -> bytes:
    """``{"<key>":[item,...],<meta...>,"<sideload>":[record,...]}`` from serialized items and records."""
    parts = [b'{"', key.encode(), b'":[', b",".join(items), b"]"]
    if meta:
        parts += [b",", orjson.dumps(meta)[1:-1]]
    _append_sideloads(parts, sideloads)
    parts.append(b"}")
    return b"".join(parts)


def frame_item(key: str, item: bytes, sideloads: Mapping[str, Sequence[bytes]] | None = None) -> bytes:
    """``{"<key>":item,"<sideload>":[record,...]}``: one serialized record as Zendesk answers a single item."""
    parts = [b'{"', key.encode(), b'":', item]
    _append_sideloads(parts, sideloads)
    parts.append(b"}")
    return b"".join(parts)


def _append_sideloads(parts: list[bytes], sideloads: Mapping[str, Sequence[bytes]] | None) -> None:
    for name, records in (sideloads or {}).items():
        parts += [b',"', name.encode(), b'":[', b",".join(records), b"]"]


def splice(item: bytes, fields: Mapping[str, Any]) -> bytes:
    """Add keys to one stored object without decoding it (``{...}`` → ``{...,"k":v}``)."""
    if not fields:
        return item
    return item[:-1] + b"," + orjson.dumps(fields)[1:]


def link(location: str, params: Iterable[tuple[str, str]], updates: Mapping[str, str],
         drop: Sequence[str] = ()) -> str:
    """``location?query``: the request's parameters (decoded, in order, repeats kept) with ``updates`` set and
    ``drop`` removed, percent-encoded with :func:`urllib.parse.urlencode` so that every value reads back as sent.

    An updated name keeps the place of its first occurrence (its repeats go); one the request did not have comes
    last, in ``updates`` order. ``location`` is ``scheme://host/path``, already a valid URL prefix.
    """
    pairs: list[tuple[str, str]] = []
    placed: set[str] = set()
    for name, value in params:
        if name in drop:
            continue
        if name not in updates:
            pairs.append((name, value))
        elif name not in placed:
            pairs.append((name, updates[name]))
            placed.add(name)
    pairs += [(name, value) for name, value in updates.items() if name not in placed]
    return f"{location}?{urlencode(pairs, quote_via=quote, safe=LINK_SAFE)}"
