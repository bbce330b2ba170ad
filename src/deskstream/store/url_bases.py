"""Which base URL the stored items name (``serve --public-url``), kept in the database so every process agrees.

The domain writes the :data:`~deskstream.base_url.URL_BASE` placeholder where a URL names the server. A database
created with a public URL stores that URL in its place instead, so an export page requested by that host is sent
as stored, with no pass over its bytes; the HTTP layer rewrites every other base a body may hold (``url_bases``).
A database holds the placeholder among its bases unless it was created with a public URL and only ever written
with one: items written before a public URL was given keep the placeholder, and are rewritten per request as before.
"""

from __future__ import annotations

from typing import Any

import orjson

from deskstream.base_url import URL_BASE
from deskstream.store.accounts import Accounts
from deskstream.store.writer import Dumps, serializer

#: Where the database keeps the bases its stored items may name: a JSON list, the one written now last.
KEY = "url_bases"


class UrlBases:
    """One process's view of the database's bases, loaded (and ``public_url`` recorded) in a write transaction
    before the process writes any item, so an item never names a base the database does not list."""

    def __init__(self, public_url: str | None) -> None:
        self.public_url = public_url
        self.loaded = False
        #: Every base the stored items may name; the HTTP layer rewrites each one that is not the request's own.
        self.all: tuple[str, ...] = (URL_BASE,)
        #: How this process stores a record: with the base it writes (``public_url``, else the last one recorded).
        self.dumps: Dumps = serializer(URL_BASE)

    def load(self, conn: Any, fresh: bool = False) -> None:
        """Read the list, add ``public_url`` if it is new (``fresh``: the schema was created in this transaction,
        so no item names the placeholder yet)."""
        accounts = Accounts(conn)
        stored = accounts.kv_get(KEY)
        bases: list[str] = orjson.loads(stored) if stored else ([] if fresh and self.public_url else [URL_BASE])
        if self.public_url and self.public_url not in bases:
            bases.append(self.public_url)
        if stored is None or len(bases) != len(orjson.loads(stored)):
            accounts.kv_set(KEY, orjson.dumps(bases).decode())
        self.all = tuple(bases)
        self.dumps = serializer(self.public_url or bases[-1])
        self.loaded = True
