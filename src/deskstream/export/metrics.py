"""Ticket metrics folded from a ticket's audits, for the ``metric_sets``, ``dates`` and ``comment_count`` sideloads.

Zendesk keeps a metric set per ticket; deskstream derives the same figures from the audits it already stores, when
asked. Calendar minutes only: business hours are not modelled, so every ``business`` figure is null. Wait times
(``agent_wait``: pending; ``requester_wait``: new, open, hold; ``on_hold``: hold) are measured up to the last
solve and are null until the ticket is solved, as Zendesk's are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, text

from deskstream.domain.timefmt import iso, parse_iso
from deskstream.store.schema import URL_BASE

_WAITS = {"agent_wait": ("pending",), "requester_wait": ("new", "open", "hold"), "on_hold": ("hold",)}

_EVENTS = text(
    "SELECT ticket_id, json FROM ticket_events WHERE ticket_id IN :ids ORDER BY ticket_id, id"
).bindparams(bindparam("ids", expanding=True))


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

    def add(self, event: dict[str, Any]) -> None:
        ts = int(event["timestamp"])
        first = self.audits == 0
        self.audits += 1
        by_requester = event.get("updater_id") == self.requester_id
        if event.get("comment_present"):
            self.comment_count += 1
            self.latest_comment_added_at = ts
            if event.get("comment_public") and not by_requester and not first:
                self.replies += 1
                self.first_reply_at = self.first_reply_at or ts
        if by_requester:
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

    def _minutes(self, until: int | None) -> dict[str, int | None]:
        return {"calendar": None if until is None else max(0, until - self.created) // 60, "business": None}

    def _wait(self, statuses: tuple[str, ...]) -> dict[str, int | None]:
        if self.solved_at is None:
            return {"calendar": None, "business": None}
        seconds = 0
        for (start, status), (end, _) in zip(self.statuses, [*self.statuses[1:], (self.solved_at, "")]):
            if status in statuses and start < self.solved_at:
                seconds += max(0, min(end, self.solved_at) - start)
        return {"calendar": seconds // 60, "business": None}

    def metric_set(self, ticket: dict[str, Any]) -> dict[str, Any]:
        """Zendesk's ticket metric set, as far as the audits say."""
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
            "reply_time_in_minutes": self._minutes(self.first_reply_at),
            "first_resolution_time_in_minutes": self._minutes(self.first_solved_at),
            "full_resolution_time_in_minutes": self._minutes(self.solved_at),
            **{f"{name}_time_in_minutes": self._wait(statuses) for name, statuses in _WAITS.items()},
        }


def fold_audits(conn: Connection, tickets: Iterable[dict[str, Any]]) -> dict[int, AuditFold]:
    """One query for the audits of every ticket on a page, folded per ticket."""
    folds: dict[int, AuditFold] = {}
    for t in tickets:
        created = parse_iso(t["created_at"])
        folds[t["id"]] = AuditFold(t.get("requester_id"), created, statuses=[(created, "new")])
    if folds:
        for ticket_id, body in conn.execute(_EVENTS, {"ids": sorted(folds)}):
            folds[ticket_id].add(orjson.loads(body))
    return folds
