"""Opening the database: SQLite's durability follows the setting on every connection the server opens."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from deskstream.api.app import create_app
from deskstream.settings import Settings
from deskstream.store import Store

#: ``PRAGMA synchronous`` answers a number: 1 is NORMAL, 2 is FULL.
LEVELS = {"normal": 1, "full": 2}


@pytest.mark.parametrize("synchronous", ["normal", "full"])
def test_the_servers_sqlite_connections_use_the_synchronous_mode_it_was_given(
    tmp_path: Path, synchronous: str
) -> None:
    app = create_app(Settings(db=f"sqlite:///{tmp_path / 'd.db'}", synchronous=synchronous))  # type: ignore[arg-type]
    store: Store = app.state.store
    try:
        with store.read() as conn:
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == LEVELS[synchronous]
            assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    finally:
        store.dispose()


def test_an_unknown_synchronous_mode_is_refused_before_anything_is_opened(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        Store(f"sqlite:///{tmp_path / 'never.db'}", "sometimes")
    assert not (tmp_path / "never.db").exists()
