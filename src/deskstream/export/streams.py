"""The exported streams and the few SQL statements that serve them, written once per stream and variant.

Each statement is one range scan of the stream's export index ``(<time>, id)`` that returns the stored JSON
bytes as they are; nothing is decoded. Statements are :func:`sqlalchemy.text` objects built once and cached, so a
page costs the driver's execution and nothing of SQLAlchemy's compiler.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from sqlalchemy import TextClause, text


@dataclass(frozen=True)
class Stream:
    """One export stream: its items key (also its URL name), table and ordering time column."""

    key: str
    table: str
    time_column: str
    #: Whether ``exclude_deleted=true`` applies (tickets: deleted ones carry ``deleted_at``).
    deletable: bool = False
    #: Whether a second JSON form with comment children exists (``include=comment_events``).
    has_comment_form: bool = False
    #: Whether a ``start_time`` within the horizon is Zendesk's 422. Organizations and metric events answer an
    #: empty page instead: tap-zendesk's discovery probes both with ``start_time=<now>`` and stops on any error.
    refuses_recent_start: bool = True


STREAMS: dict[str, Stream] = {
    "tickets": Stream("tickets", "tickets", "generated_timestamp", deletable=True),
    "ticket_events": Stream("ticket_events", "ticket_events", "timestamp", has_comment_form=True),
    "ticket_metric_events": Stream("ticket_metric_events", "ticket_metric_events", "time", refuses_recent_start=False),
    "users": Stream("users", "users", "updated_at"),
    "organizations": Stream("organizations", "organizations", "updated_at", refuses_recent_start=False),
}


@dataclass(frozen=True)
class Selection:
    """Which rows and which JSON form of a stream a request reads."""

    stream: Stream
    exclude_deleted: bool = False
    with_comments: bool = False


class Shape(Enum):
    """The statements a page may run; each selects ``(time, id, json)`` in stream order."""

    #: ``time >= :start AND time <= :until``, the first ``:limit`` rows (time-based pages).
    FROM_TIME = "from_time"
    #: ``(time, id) > (:time, :id) AND time <= :until``, the first ``:limit`` rows (cursor pages).
    AFTER = "after"
    #: ``(time, id) < (:time, :id) AND time >= :start``, the last ``:limit`` rows, newest first (``page[before]``).
    BEFORE = "before"
    #: The rest of one second: ``time = :time AND id > :id`` (a time-based page extended over a tie).
    REST_OF_SECOND = "rest_of_second"
    #: The first visible second after ``:time``, if any (extending a page; ``end_of_stream`` of an extended page).
    NEXT_SECOND = "next_second"


@lru_cache(maxsize=None)
def statement(selection: Selection, shape: Shape) -> TextClause:
    s = selection.stream
    t = s.time_column
    body = "COALESCE(json_comments, json)" if selection.with_comments and s.has_comment_form else "json"
    extra = " AND deleted_at IS NULL" if selection.exclude_deleted and s.deletable else ""
    head = f"SELECT {t}, id, {body} FROM {s.table} WHERE "
    order = f" ORDER BY {t}, id"
    sql = {
        Shape.FROM_TIME: f"{head}{t} >= :start AND {t} <= :until{extra}{order} LIMIT :limit",
        Shape.AFTER: f"{head}({t}, id) > (:time, :id) AND {t} <= :until{extra}{order} LIMIT :limit",
        Shape.BEFORE: f"{head}({t}, id) < (:time, :id) AND {t} >= :start{extra}"
        f" ORDER BY {t} DESC, id DESC LIMIT :limit",
        Shape.REST_OF_SECOND: f"{head}{t} = :time AND id > :id{extra} ORDER BY id",
        Shape.NEXT_SECOND: f"SELECT {t} FROM {s.table} WHERE {t} > :time AND {t} <= :until{extra}{order} LIMIT 1",
    }[shape]
    return text(sql)
