"""The exported streams: each one's items key (also its URL name), its table and ordering time, and what it allows.

A page of a stream is one range scan of its export index ``(<time>, id)`` in the store
(:mod:`deskstream.store.scans`), which returns the stored JSON bytes as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from deskstream.store.scans import ScanTarget


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

    @property
    def target(self) -> ScanTarget:
        """What the store scans for this selection."""
        s = self.stream
        return ScanTarget(s.table, s.time_column, self.exclude_deleted and s.deletable,
                          self.with_comments and s.has_comment_form)  # fmt: skip
