"""Ticket metrics folded from a ticket's audits: the ``metric_sets``, ``dates`` and ``comment_count`` sideloads and
the Ticket Metrics API (``/tickets/{id}/metrics``, ``/ticket_metrics``).

Zendesk keeps a metric set per ticket; deskstream derives the same figures from the audits it already stores, when
asked, in one query per page. Durations come in Zendesk's ``{"calendar": minutes, "business": minutes}`` form, the
business figure counted on the account schedule (:data:`deskstream.domain.sla_hours.ACCOUNT_SCHEDULE`), as the SLA
engine counts business-hours targets. A reply is what fulfils the SLA engine's reply time: a public comment by an
agent or admin who is not the requester, never the creating comment. Wait times (``agent_wait``: pending;
``requester_wait``: new, open, hold; ``on_hold``: hold) run up to the last solve and are null until the ticket is
solved, as Zendesk's are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from deskstream.base_url import URL_BASE
from deskstream.domain.sla_hours import ACCOUNT_SCHEDULE, Schedule, business_seconds
from deskstream.domain.timefmt import iso, parse_iso
from deskstream.store.scans import Scans

_WAITS = {"agent_wait": ("pending",), "requester_wait": ("new", "open", "hold"), "on_hold": ("hold",)}
_AGENT_ROLES = ("agent", "admin")

Minutes = dict[str, int | None]
NO_MINUTES: Minutes = {"calendar": None, "business": None}


def minutes(spans: Iterable[tuple[int, int]], schedule: Schedule = ACCOUNT_SCHEDULE) -> Minutes:
    """Whole minutes covered by ``[start, end)`` spans, in calendar time and in the schedule's business hours."""
    calendar = business = 0
    for start, end in spans:
        if end > start:
            calendar += end - start
            business += business_seconds(start, end, schedule)
    return {"calendar": calendar // 60, "business": business // 60}


@dataclass
class AuditFold:
    """What a ticket's audits say about it, accumulated in audit order."""

    requester_id: int | None
    created: int
    audits: int = 0
    comment_count: int = 0
    replies: int = 0
    reopens: int = 0
    first_reply_at: int | None = None
    first_solved_at: int | None = None
    solved_at: int | None = None
    status_updated_at: int | None = None
    assignee_updated_at: int | None = None
    requester_updated_at: int | None = None
    initially_assigned_at: int | None = None
    assigned_at: int | None = None
    latest_comment_added_at: int | None = None
    assignees: set[int] = field(default_factory=set)
    groups: set[int] = field(default_factory=set)
    statuses: list[tuple[int, str]] = field(default_factory=list)

    def add(self, event: dict[str, Any], author_id: int | None, author_role: str | None) -> None:
        """One audit, in order, with its comment's author and that author's role."""
        ts = int(event["timestamp"])
        first = self.audits == 0
        self.audits += 1
        if event.get("comment_present"):
            self.comment_count += 1
            self.latest_comment_added_at = ts
            by_agent = author_role in _AGENT_ROLES and author_id != self.requester_id
            if event.get("comment_public") and by_agent and not first:
                self.replies += 1
                self.first_reply_at = self.first_reply_at or ts
        if event.get("updater_id") == self.requester_id:
            self.requester_updated_at = ts
        for child in event.get("child_events", ()):
            if "status" in child:
                self._status(ts, child["status"], child.get("previous_value"))
            if "assignee_id" in child:
                self.assignee_updated_at = ts
                if child["assignee_id"] is not None:
                    self.assignees.add(child["assignee_id"])
                    self.initially_assigned_at = self.initially_assigned_at or ts
                    self.assigned_at = ts
            if child.get("group_id") is not None:
                self.groups.add(child["group_id"])

    def _status(self, ts: int, status: str, previous: str | None) -> None:
        self.statuses.append((ts, status))
        self.status_updated_at = ts
        if status == "solved":
            self.solved_at = ts
            self.first_solved_at = self.first_solved_at or ts
        elif previous == "solved" and status not in ("closed", "deleted"):
            self.reopens += 1

    def dates(self) -> dict[str, str | None]:
        return {
            "assignee_updated_at": iso(self.assignee_updated_at),
            "requester_updated_at": iso(self.requester_updated_at),
            "status_updated_at": iso(self.status_updated_at),
            "initially_assigned_at": iso(self.initially_assigned_at),
            "assigned_at": iso(self.assigned_at),
            "solved_at": iso(self.solved_at),
            "latest_comment_added_at": iso(self.latest_comment_added_at),
        }

    def _since_creation(self, until: int | None) -> Minutes:
        return NO_MINUTES if until is None else minutes([(self.created, until)])

    def _wait(self, statuses: tuple[str, ...]) -> Minutes:
        """Time spent in ``statuses`` up to the last solve (null before the ticket is solved)."""
        solved = self.solved_at
        if solved is None:
            return NO_MINUTES
        ends = [end for end, _ in self.statuses[1:]] + [solved]
        return minutes((start, min(end, solved)) for (start, status), end in zip(self.statuses, ends, strict=True)
                       if status in statuses)

    def metric_set(self, ticket: dict[str, Any]) -> dict[str, Any]:
        """Zendesk's ticket metric set (the Ticket Metrics API object), as far as the audits say."""
        return {
            "url": f"{URL_BASE}/api/v2/ticket_metrics/{ticket['id']}.json",
            "id": ticket["id"],
            "ticket_id": ticket["id"],
            "created_at": ticket["created_at"],
            "updated_at": ticket["updated_at"],
            "group_stations": len(self.groups),
            "assignee_stations": len(self.assignees),
            "reopens": self.reopens,
            "replies": self.replies,
            **self.dates(),
            "reply_time_in_minutes": self._since_creation(self.first_reply_at),
            "first_resolution_time_in_minutes": self._since_creation(self.first_solved_at),
            "full_resolution_time_in_minutes": self._since_creation(self.solved_at),
            **{f"{name}_time_in_minutes": self._wait(statuses) for name, statuses in _WAITS.items()},
        }


def fold_audits(scans: Scans, tickets: Iterable[dict[str, Any]]) -> dict[int, AuditFold]:
    """One query for the audits of every ticket on a page, folded per ticket."""
    folds: dict[int, AuditFold] = {}
    for t in tickets:
        created = parse_iso(t["created_at"])
        folds[t["id"]] = AuditFold(t.get("requester_id"), created, statuses=[(created, "new")])
    if folds:
        for ticket_id, body, author_id, role in scans.audits_with_authors(folds):
            folds[ticket_id].add(orjson.loads(body), author_id, role)
    return folds
