"""The interface every target implements, and what a page becomes before it is written."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Row:
    """One item as a target stores it: its JSON text, with what dedupe and verify need beside them."""

    id: int
    version: int
    deleted_at: int | None
    data: str
    #: Tells two versions of one second apart (:meth:`of` computes it).
    digest: str

    @classmethod
    def of(cls, id: int, version: int, deleted_at: int | None, encoded: bytes) -> Row:
        """The row of an item ``encoded`` by orjson. Its text is kept, not the bytes: orjson's bytes hold a 4 KiB
        buffer whatever their length (a page of 18,000 metric events took 77 MB). SHA-256 is the fastest of
        hashlib's digests where CPUs have SHA instructions, and it runs once per item."""
        return cls(id, version, deleted_at, encoded.decode(), hashlib.sha256(encoded).hexdigest()[:32])


@dataclass(frozen=True)
class Written:
    """What one page did to the mirror."""

    stored: int  # new ids and newer versions
    duplicates: int  # versions the mirror already had (or older ones): dropped
    deletes: int  # tombstones among the stored


class Target(Protocol):
    """A mirror: one table (or file set) per stream and a checkpoint per stream.

    ``write`` stores a page's rows and the stream's checkpoint together: after a crash at any point the mirror holds
    either both or neither, so a re-run from the stored checkpoint never duplicates nor loses a row. Implementations
    are called from one thread per stream and serialize their own writes.
    """

    def checkpoint(self, stream: str) -> dict[str, Any] | None: ...

    def write(self, stream: str, rows: list[Row], checkpoint: dict[str, Any]) -> Written: ...

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
