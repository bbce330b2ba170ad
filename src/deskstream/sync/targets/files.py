"""File targets: ``jsonl:DIR`` (one append-only file per stream) and ``parquet:DIR`` (a directory per stream, one
file of one row group per page).

Beside the data, ``DIR/_deskstream_index.db`` (SQLite) holds each stream's index (id → newest version) and its
checkpoint, which records how much of the data is committed: the JSONL file's length, the Parquet parts' count. A
page is written, flushed and fsynced first, and the checkpoint replaced after (in the index's transaction), so a
crash leaves at most a tail the checkpoint does not cover; the next run cuts it off before it writes. Rows the
index already has at that version are never written again, so a re-run never leaves a duplicate row. A record
changed twice appears twice (the files are a log; the newest version of an id is its last).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deskstream.sync.targets.base import Pending, Row, Written
from deskstream.sync.targets.sql import SqlTarget
from deskstream.sync.upstream import SyncError

#: The index and checkpoints beside the data files.
INDEX = "_deskstream_index.db"


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileTarget:
    def __init__(self, kind: str, directory: str) -> None:
        self.kind = kind
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SyncError(f"cannot create {directory}: {error.strerror}") from None
        if kind == "parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise SyncError("parquet targets need pyarrow: pip install 'deskstream[parquet]'") from None
        self.index = SqlTarget(f"sqlite:///{self.directory / INDEX}", with_data=False)
        self._repaired: set[str] = set()

    def checkpoint(self, stream: str) -> dict[str, Any] | None:
        return self.index.checkpoint(stream)

    def versions(self, stream: str) -> Iterator[tuple[int, int]]:
        return self.index.versions(stream)

    def close(self) -> None:
        self.index.close()

    def write(self, pages: list[Pending]) -> list[Written]:
        """Each page in a transaction of its own: a Parquet part is numbered from the committed checkpoint, and a
        file's fsync costs more than the commit that sharing a transaction would save."""
        append = self._append_jsonl if self.kind == "jsonl" else self._append_parquet
        written: list[Written] = []
        for page in pages:
            self._repair(page.stream)
            written += self.index.write([page], before_commit=append)
        return written

    # -- JSONL ------------------------------------------------------------------------------------------------------
    def _jsonl(self, stream: str) -> Path:
        return self.directory / f"{stream}.jsonl"

    def _append_jsonl(self, stream: str, rows: list[Row]) -> dict[str, Any]:
        path = self._jsonl(stream)
        with open(path, "ab") as out:
            out.write("".join(row.data + "\n" for row in rows).encode())
            out.flush()
            os.fsync(out.fileno())
            return {"bytes": out.tell()}

    # -- Parquet ----------------------------------------------------------------------------------------------------
    def _parts(self, stream: str) -> Path:
        return self.directory / stream

    def _append_parquet(self, stream: str, rows: list[Row]) -> dict[str, Any]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        done = int((self.index.checkpoint(stream) or {}).get("parts", 0))
        if not rows:
            return {"parts": done}
        directory = self._parts(stream)
        directory.mkdir(exist_ok=True)
        table = pa.table({
            "id": pa.array([r.id for r in rows], pa.int64()),
            "version": pa.array([r.version for r in rows], pa.int64()),
            "deleted_at": pa.array([r.deleted_at for r in rows], pa.int64()),
            "data": pa.array([r.data for r in rows], pa.string()),
        })  # fmt: skip
        final = directory / f"part-{done + 1:06d}.parquet"
        partial = final.with_suffix(".parquet.tmp")
        pq.write_table(table, partial)
        with open(partial, "rb") as written:
            os.fsync(written.fileno())
        partial.rename(final)
        _fsync_directory(directory)
        return {"parts": done + 1}

    def _repair(self, stream: str) -> None:
        """Cut what a killed run wrote past its last checkpoint (once per stream and run)."""
        if stream in self._repaired:
            return
        self._repaired.add(stream)
        recorded = self.index.checkpoint(stream) or {}
        if self.kind == "jsonl":
            path = self._jsonl(stream)
            if path.exists() and path.stat().st_size > int(recorded.get("bytes", 0)):
                with open(path, "r+b") as data:
                    data.truncate(int(recorded.get("bytes", 0)))
                    os.fsync(data.fileno())
            return
        directory = self._parts(stream)
        if directory.exists():
            for part in directory.iterdir():
                number = part.name.removeprefix("part-").split(".", 1)[0]
                if part.name.endswith(".tmp") or not number.isdigit() or int(number) > int(recorded.get("parts", 0)):
                    part.unlink()
