"""The ``history`` fixture: a desk on a fresh SQLite file with a clock the test moves (see export_histories)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from export_histories import History, new_history


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    h = new_history(f"sqlite:///{tmp_path / 'export.db'}")
    yield h
    h.store.dispose()
