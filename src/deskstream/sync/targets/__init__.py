"""Where a mirror is written, behind one small interface (:class:`~.base.Target`): ``sqlite:///``,
``postgresql://``, ``duckdb:///`` (:mod:`.sql`), ``jsonl:DIR`` and ``parquet:DIR`` (:mod:`.files`)."""

from __future__ import annotations

from deskstream.sync.targets.base import Row, Target, Written
from deskstream.sync.upstream import SyncError


def open_target(url: str) -> Target:
    """The target a ``--to`` names; a one-line :class:`SyncError` for one it cannot open."""
    if url.startswith(("jsonl:", "parquet:")):
        from deskstream.sync.targets.files import FileTarget

        kind, _, directory = url.partition(":")
        if not directory:
            raise SyncError(f"--to {kind}:DIR needs a directory")
        return FileTarget(kind, directory)
    if url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "duckdb:")):
        from deskstream.sync.targets.sql import SqlTarget

        return SqlTarget(url)
    raise SyncError(f"--to: not a target deskstream can write: {url!r} (sqlite:///FILE, postgresql://…, "
                    "duckdb:///FILE, jsonl:DIR or parquet:DIR)")  # fmt: skip


__all__ = ["Row", "Target", "Written", "open_target"]
