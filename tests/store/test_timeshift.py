"""A database copied with its times moved (the demo's cached history): every time moves by the same seconds,
in the columns and inside the stored JSON, and nothing else changes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson
import pytest
from tests.generate.histories import generated, rows

from deskstream.domain.timefmt import iso, parse_iso
from deskstream.store import Store, timeshift

DELTA = 400 * 86_400 + 3_723  # over a year boundary, and not whole days
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Store]:
    directory = tmp_path_factory.mktemp("timeshift")
    source, _ = generated(directory / "source.db", tickets=120, days=14)
    source.dispose()
    timeshift.checkpointed(directory / "source.db")
    target = Store(f"sqlite:///{directory / 'target.db'}")
    target.migrate()  # an empty database is there already: the copy replaces it
    target.dispose()
    timeshift.copy_shifted(directory / "source.db", directory / "target.db", DELTA, {"demo.seeded": "42"})
    return Store(f"sqlite:///{directory / 'source.db'}"), Store(f"sqlite:///{directory / 'target.db'}")


def moved(before: Any, after: Any, key: str = "") -> None:
    """``after`` is ``before`` with every ISO time and every ``timestamp`` integer ``DELTA`` seconds later."""
    if isinstance(before, dict):
        assert list(before) == list(after)
        for name in before:
            moved(before[name], after[name], name)
    elif isinstance(before, list):
        assert len(before) == len(after)
        for old, new in zip(before, after, strict=True):
            moved(old, new, key)
    elif isinstance(before, str) and ISO.match(before):
        assert after == iso(parse_iso(before) + DELTA)
    elif key in ("timestamp", "generated_timestamp") and isinstance(before, int):
        assert after == before + DELTA
    else:
        assert after == before, key


def _both(pair: tuple[Store, Store], table: str, names: Sequence[str]) -> tuple[list[Any], list[Any]]:
    """The columns of every row of ``table``, in the source and in its shifted copy, in row order."""
    select = f"SELECT {', '.join(names)} FROM {table} ORDER BY rowid"
    return rows(pair[0], select), rows(pair[1], select)


@pytest.mark.parametrize("table", sorted(timeshift.TIME_COLUMNS))
def test_every_time_column_moves_by_the_same_seconds(pair: tuple[Store, Store], table: str) -> None:
    before, after = _both(pair, table, timeshift.TIME_COLUMNS[table])
    assert len(before) == len(after)
    for old, new in zip(before, after, strict=True):
        assert [None if v is None else v + DELTA for v in old] == list(new)


@pytest.mark.parametrize("table", sorted(timeshift.JSON_COLUMNS))
def test_the_stored_json_moves_its_times_and_keeps_everything_else(pair: tuple[Store, Store], table: str) -> None:
    before, after = _both(pair, table, timeshift.JSON_COLUMNS[table])
    assert len(before) == len(after) and (table in ("job_statuses",) or before)
    for old, new in zip(before, after, strict=True):
        for old_body, new_body in zip(old, new, strict=True):
            assert (old_body is None) == (new_body is None)
            if old_body is not None:
                moved(orjson.loads(old_body), orjson.loads(new_body))


def test_sla_states_move_their_moments_not_their_durations(pair: tuple[Store, Store]) -> None:
    source, target = pair
    before = [orjson.loads(r[0]) for r in rows(source, "SELECT json FROM sla_states ORDER BY ticket_id")]
    after = [orjson.loads(r[0]) for r in rows(target, "SELECT json FROM sla_states ORDER BY ticket_id")]
    assert before and len(before) == len(after)
    for old, new in zip(before, after, strict=True):
        for metric, instance in old["metrics"].items():
            for key, value in instance.items():
                shifted = key in ("since", "deadline", "breach_at") and value is not None
                assert new["metrics"][metric][key] == (value + DELTA if shifted else value), (metric, key)


def test_the_copy_holds_the_given_keys_and_no_journal_or_wal_is_left_beside_it(pair: tuple[Store, Store]) -> None:
    target = pair[1]
    assert target.kv_get("demo.seeded") == "42"
    path = timeshift.sqlite_file(target.url)
    assert path is not None
    assert not list(path.parent.glob(f".{path.name}*"))  # the partial copy was renamed into place
