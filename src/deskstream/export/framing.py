"""Answer bodies around already-serialized items, in Zendesk's key order, without decoding an item.

Stored items keep the ``url`` placeholder :data:`deskstream.store.schema.URL_BASE`; the HTTP layer replaces it
with the request's own scheme and host in one pass over the finished body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson


def frame(key: str, items: Sequence[bytes], meta: Mapping[str, Any],
          sideloads: Mapping[str, Sequence[bytes]] | None = None) -> bytes:
    """``{"<key>":[item,...],<meta...>,"<sideload>":[record,...]}`` from serialized items and records."""
    parts = [b'{"', key.encode(), b'":[', b",".join(items), b"],", orjson.dumps(meta)[1:-1]]
    for name, records in (sideloads or {}).items():
        parts += [b',"', name.encode(), b'":[', b",".join(records), b"]"]
    parts.append(b"}")
    return b"".join(parts)


def splice(item: bytes, fields: Mapping[str, Any]) -> bytes:
    """Add keys to one stored object without decoding it (``{...}`` → ``{...,"k":v}``)."""
    if not fields:
        return item
    return item[:-1] + b"," + orjson.dumps(fields)[1:]
