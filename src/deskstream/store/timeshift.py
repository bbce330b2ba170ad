"""A SQLite database copied with every time in it moved by the same number of seconds.

``serve --demo`` keeps the demo history it generated once as a template file and installs a copy whose history
ends ten minutes before now (``deskstream.demo``). Every time moves: the integer columns (``created_at``,
``generated_timestamp``, a metric event's ``time``, the change log's ``time`` and ``logged_at``, ...), the
``YYYY-MM-DDTHH:MM:SSZ`` strings and the ``timestamp`` / ``generated_timestamp`` integers inside the stored JSON,
and the SLA engine's running periods and deadlines. Durations (time run against a target) do not move. The copy
is made beside the target under a temporary name and renamed over it only when complete, so a process killed
half-way leaves the target as it was.
"""

from __future__ import annotations

import calendar
import os
import re
import shutil
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.engine import make_url

#: The integer time columns of each table (NULL stays NULL).
TIME_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("created_at", "updated_at", "deleted_at"),
    "organizations": ("created_at", "updated_at", "deleted_at"),
    "groups": ("created_at", "updated_at", "deleted_at"),
    "api_tokens": ("created_at",),
    "tickets": ("created_at", "updated_at", "generated_timestamp", "deleted_at"),
    "ticket_versions": ("generated_timestamp",),
    "ticket_events": ("timestamp",),
    "comments": ("created_at",),
    "ticket_metric_events": ("time",),
    "sla_policies": ("created_at", "updated_at", "deleted_at"),
    "job_statuses": ("created_at",),
    "sla_states": ("next_deadline",),
    "changes": ("time", "logged_at"),
}
#: The stored JSON columns whose times move as text.
JSON_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("json",),
    "organizations": ("json",),
    "groups": ("json",),
    "tickets": ("json",),
    "ticket_versions": ("json",),
    "ticket_events": ("json", "json_comments", "audit_json"),
    "comments": ("json",),
    "ticket_metric_events": ("json",),
    "sla_policies": ("json",),
    "job_statuses": ("json",),
    "changes": ("json",),
}
#: The SLA engine's moments in a metric instance (``calendar`` and ``business`` are durations).
_SLA_MOMENTS = ("since", "deadline", "breach_at")
_STAMP = re.compile(rb'timestamp":(\d+)')


class _Shifter:
    """Moves the times inside one stored JSON document. The document is split at each ``"YYYY-`` of a calendar year
    the history spans (a substring search in C), and each piece's first 15 bytes, ``MM-DDTHH:MM:SSZ``, are looked up
    in a cache of the few ten thousand distinct seconds (10–20 % faster than a regex with a callback per time, in
    five pairs of copies of the demo's history)."""

    def __init__(self, delta: int, first: int, last: int) -> None:
        self.delta = delta
        years = range(datetime.fromtimestamp(first, UTC).year, datetime.fromtimestamp(last, UTC).year + 1)
        self.years = [(b'"%d-' % year, year) for year in years]
        self.moved: dict[tuple[int, bytes], bytes] = {}

    def _iso(self, year: int, rest: bytes) -> bytes:
        """``rest`` is ``MM-DDTHH:MM:SSZ``, read by position: ``strptime`` on each of the distinct seconds was a
        fifth of the shift's Python time."""
        found = self.moved.get((year, rest))
        if found is None:
            moment = calendar.timegm((year, int(rest[0:2]), int(rest[3:5]), int(rest[6:8]), int(rest[9:11]),
                                      int(rest[12:14]), 0, 0, 0)) + self.delta
            found = self.moved[(year, rest)] = b'"%04d-%02d-%02dT%02d:%02d:%02dZ' % time.gmtime(moment)[:6]
        return found

    def _stamp(self, match: re.Match[bytes]) -> bytes:
        return b'timestamp":%d' % (int(match.group(1)) + self.delta)

    def json(self, body: bytes) -> bytes:
        for prefix, year in self.years:
            pieces = body.split(prefix)
            if len(pieces) == 1:
                continue
            out = [pieces[0]]
            moved, iso = self.moved, self._iso
            for piece in pieces[1:]:
                if len(piece) > 15 and piece[15] == 34 and piece[5] == 84:  # MM-DDTHH:MM:SSZ then '"'
                    rest = piece[:15]
                    out.append(moved.get((year, rest)) or iso(year, rest))
                    out.append(piece[15:])
                else:  # not a time after all: keep the prefix
                    out.append(prefix)
                    out.append(piece)
            body = b"".join(out)
        return _STAMP.sub(self._stamp, body) if b'timestamp":' in body else body

    def sla_state(self, body: bytes) -> bytes:
        state: dict[str, Any] = orjson.loads(body)
        for instance in state["metrics"].values():
            for key in _SLA_MOMENTS:
                if instance.get(key) is not None:
                    instance[key] += self.delta
        return orjson.dumps(state)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL; None for another database or one in memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def time_span(path: Path) -> tuple[int, int]:
    """The first and last moment a database's users, tickets and metric events hold (for the shift's patterns)."""
    conn = _connect(path)
    try:
        (first, last), = conn.execute(
            "SELECT min(m), max(n) FROM (SELECT min(created_at) AS m, max(updated_at) AS n FROM users "
            "UNION ALL SELECT min(created_at), max(generated_timestamp) FROM tickets "
            "UNION ALL SELECT min(time), max(time) FROM ticket_metric_events)"
        )
    finally:
        conn.close()
    return int(first), int(last)


def copy_shifted(source: Path, target: Path, delta: int, kv: dict[str, str]) -> None:
    """Replace ``target`` (and its WAL) with a copy of ``source`` whose times are ``delta`` seconds later, with
    ``kv`` entries set. ``source`` must be a closed, checkpointed database (no WAL beside it)."""
    first, last = time_span(source) if delta else (0, 0)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    shutil.copyfile(source, partial)
    try:
        conn = _connect(partial)
        try:
            # A private file until renamed: no journal, no fsync until the end (a crash leaves a partial file only).
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("BEGIN")
            if delta:
                _shift(conn, _Shifter(delta, first, last))
            for key, value in kv.items():
                conn.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                             "value = excluded.value", (key, value))
            conn.execute("COMMIT")
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()
        with open(partial, "rb") as done:
            os.fsync(done.fileno())
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _shift(conn: sqlite3.Connection, shifter: _Shifter) -> None:
    """Every table's times in one ``UPDATE`` each (dropping the indexes on moved columns and building them again
    after measured no faster)."""
    conn.create_function("shift_json", 1, shifter.json, deterministic=True)
    conn.create_function("shift_sla", 1, shifter.sla_state, deterministic=True)
    for table in sorted(TIME_COLUMNS.keys() | JSON_COLUMNS.keys()):
        moves = [f"{c} = {c} + {int(shifter.delta)}" for c in TIME_COLUMNS.get(table, ())]
        # No call for a NULL: the change log's rows hold JSON only for users and organizations.
        moves += [f"{c} = CASE WHEN {c} IS NULL THEN NULL ELSE shift_json({c}) END"
                  for c in JSON_COLUMNS.get(table, ())]
        if table == "sla_states":
            moves.append("json = shift_sla(json)")
        conn.execute(f"UPDATE {table} SET {', '.join(moves)}")  # noqa: S608 (names from the constants above)


def checkpointed(path: Path) -> None:
    """Copy a closed database's WAL into it and remove the WAL, so the file alone holds it all."""
    conn = _connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)
