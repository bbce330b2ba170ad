"""The interface every target implements, and what a page becomes before it is written."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol


class Row(NamedTuple):
    """One item as a target stores it: its JSON text, with what dedupe and verify need beside them. A named tuple
    whose fields are the SQL tables' columns, in their order, so that it is the row the driver inserts: a sync makes
    one per item (400,000 at 10k tickets), and a frozen dataclass took four times as long to build."""

    id: int
    version: int
    deleted_at: int | None
    #: Tells two versions of one second apart (:meth:`of` computes it).
    digest: str
    data: str

    @classmethod
    def of(cls, id: int, version: int, deleted_at: int | None, encoded: bytes) -> Row:
        """The row of an item ``encoded`` by orjson. Its text is kept, not the bytes: orjson's bytes hold a 4 KiB
        buffer whatever their length (a page of 18,000 metric events took 77 MB). SHA-256 is the fastest of
        hashlib's digests where CPUs have SHA instructions, and it runs once per item."""
        return cls(id, version, deleted_at, hashlib.sha256(encoded).hexdigest()[:32], encoded.decode())


class Pending(NamedTuple):
    """One page for a target: a stream's rows and the checkpoint to store with them."""

    stream: str
    rows: list[Row]
    checkpoint: dict[str, Any]


@dataclass(frozen=True)
class Written:
    """What one page did to the mirror."""

    stored: int  # new ids and newer versions
    duplicates: int  # versions the mirror already had (or older ones): dropped
    deletes: int  # tombstones among the stored


class Target(Protocol):
    """A mirror: one table (or file set) per stream and a checkpoint per stream.

    ``write`` stores pages, of one stream or several, each page's rows with its stream's checkpoint: after a crash
    at any point the mirror holds both or neither, so a re-run from the stored checkpoint never duplicates nor loses
    a row. It is called from one thread at a time (the sync's writer); ``checkpoint`` from any.
    """

    def checkpoint(self, stream: str) -> dict[str, Any] | None: ...

    def write(self, pages: list[Pending]) -> list[Written]:
        """What each page did to the mirror, in the order of ``pages``."""
        ...

    def versions(self, stream: str) -> Iterator[tuple[int, int]]:
        """``(id, version)`` of the newest version of every record in the mirror, in id order."""
        ...

    def close(self) -> None: ...


def newest(rows: list[Row]) -> list[Row]:
    """The page's last row per id (a page may hold several versions of one record, newest last)."""
    last: dict[int, Row] = {}
    for row in rows:
        last[row.id] = row
    return list(last.values())
