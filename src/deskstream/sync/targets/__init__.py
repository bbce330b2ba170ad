"""Where a mirror is written, behind one small interface (:class:`~.base.Target`): ``sqlite:///``,
``postgresql://``, ``duckdb:///`` (:mod:`.sql`), ``jsonl:DIR`` and ``parquet:DIR`` (:mod:`.files`)."""

from __future__ import annotations

from pathlib import Path

from deskstream.sync.targets.base import Pending, Row, Target, Written
from deskstream.sync.upstream import SyncError


def open_target(url: str, existing: bool = False) -> Target:
    """The target a ``--to`` names; a one-line :class:`SyncError` for one it cannot open. ``existing`` (verify)
    refuses a file or directory that is not there rather than making an empty one."""
    if url.startswith(("jsonl:", "parquet:")):
        from deskstream.sync.targets.files import INDEX, FileTarget

        kind, _, directory = url.partition(":")
        if not directory:
            raise SyncError(f"--to {kind}:DIR needs a directory")
        if existing and not (Path(directory) / INDEX).exists():
            raise SyncError(f"--to: no mirror in {directory} (no {INDEX}): run deskstream sync first")
        return FileTarget(kind, directory)
    if url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "duckdb:")):
        from deskstream.sync.targets.sql import SqlTarget

        local = url.split("///", 1)[1] if url.startswith(("sqlite:///", "duckdb:///")) else None
        if existing and local and not Path(local).exists():
            raise SyncError(f"--to: no mirror at {local}: run deskstream sync first")
        return SqlTarget(url)
    raise SyncError(f"--to: not a target deskstream can write: {url!r} (sqlite:///FILE, postgresql://…, "
                    "duckdb:///FILE, jsonl:DIR or parquet:DIR)")  # fmt: skip


__all__ = ["Pending", "Row", "Target", "Written", "open_target"]
