"""The change log's reads and its pruning (``/api/v2/incremental/changes``; the log is written by the
:class:`~deskstream.store.writer.Writer` at the end of each write transaction).

A page is one range scan of the log's primary key, joined to the rows that hold each change's record: a ticket's
version, an event's row; users and organizations carry theirs in the log. The log is numbered in commit order and
without gaps, so the high-water mark (the last ``seq`` allocated) is also the last change committed and served.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, and_, bindparam, delete, func, select

from deskstream.store import schema
from deskstream.store.accounts import Accounts

_c, _v, _e, _m = schema.changes, schema.ticket_versions, schema.ticket_events, schema.ticket_metric_events
#: Where the last pruning stopped: a ``since`` below it asks for changes that are gone.
PRUNED_KEY = "changes.pruned_through"
#: Changes deleted per pruning transaction.
PRUNE_BATCH = 20_000

_PAGE = (
    select(_c.c.seq, _c.c.resource, _c.c.record_id, _c.c.deleted,
           func.coalesce(_c.c.json, _v.c.json, _e.c.json_comments, _e.c.json, _m.c.json).label("json"))
    .select_from(
        _c.outerjoin(_v, and_(_c.c.resource == "tickets", _v.c.ticket_id == _c.c.record_id,
                              _v.c.version == _c.c.version))
        .outerjoin(_e, and_(_c.c.resource == "ticket_events", _e.c.id == _c.c.record_id))
        .outerjoin(_m, and_(_c.c.resource == "ticket_metric_events", _m.c.id == _c.c.record_id))
    )
    .where(_c.c.seq > bindparam("since"), _c.c.seq <= bindparam("until"))
    .order_by(_c.c.seq)
    .limit(bindparam("limit"))
)  # fmt: skip
_HIGH_WATER_MARK = select(schema.id_sequences.c.value).where(schema.id_sequences.c.name == "changes")
_NEXT = select(_c.c.seq, _c.c.logged_at).where(_c.c.seq > bindparam("since")).order_by(_c.c.seq).limit(1)
_FIRST_RECENT = select(func.min(_c.c.seq)).where(_c.c.time >= bindparam("time"))
_FIRST_KEPT = select(func.min(_c.c.seq)).where(_c.c.logged_at >= bindparam("time"))


@dataclass(frozen=True)
class Change:
    """One change as the feed serves it: the record's stored JSON (``url`` placeholder kept), not decoded."""

    seq: int
    resource: str
    record_id: int
    deleted: bool
    json: bytes


class ChangeLog:
    """The change log's reads inside one read transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def high_water_mark(self) -> int:
        """The last change committed (0 before the first): every change up to it is visible to this reader."""
        return int(self.conn.execute(_HIGH_WATER_MARK).scalar() or 0)

    def pruned_through(self) -> int:
        return int(Accounts(self.conn).kv_get(PRUNED_KEY) or 0)

    def next_logged_at(self, since: int) -> int | None:
        """When the first change after ``since`` entered the log (None if it is pruned or not made yet)."""
        row = self.conn.execute(_NEXT, {"since": since}).first()
        return None if row is None or row.seq != since + 1 else int(row.logged_at)

    def page(self, since: int, until: int, limit: int) -> list[Change]:
        """The changes after ``since`` up to ``until``, at most ``limit``, in ``seq`` order."""
        rows = self.conn.execute(_PAGE, {"since": since, "until": until, "limit": limit})
        return [Change(int(r.seq), r.resource, int(r.record_id), bool(r.deleted), bytes(r.json)) for r in rows]

    def last_before(self, time: int, mark: int) -> int:
        """The last ``seq`` up to the high-water mark ``mark`` up to which every change's stamp is before ``time``:
        changes up to it are older than the exports' horizon when ``time`` is, so a full resync through the
        exports holds them all."""
        first_recent = self.conn.execute(_FIRST_RECENT, {"time": time}).scalar()
        return mark if first_recent is None else min(mark, int(first_recent) - 1)


def prune(conn: Connection, before: int, limit: int) -> int:
    """Delete up to ``limit`` of the log's oldest changes, those before the first change logged at or after
    ``before`` (a prefix, so what is kept has no hole), and remember where pruning stopped. Returns how many.

    The high-water mark is read first: a change committed after it is past ``through`` whatever its time."""
    log = ChangeLog(conn)
    mark, done = log.high_water_mark(), log.pruned_through()
    first_kept = conn.execute(_FIRST_KEPT, {"time": before}).scalar()
    through = min(mark if first_kept is None else int(first_kept) - 1, done + limit)
    if through <= done:
        return 0
    deleted = conn.execute(delete(_c).where(_c.c.seq <= through)).rowcount
    Accounts(conn).kv_set(PRUNED_KEY, str(through))
    return int(deleted)
