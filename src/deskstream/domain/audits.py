"""Audits: the event that every ticket change writes, in the three forms Zendesk serves it.

- the ``incremental/ticket_events`` item, child events flat (``"status": "solved"``), comments only as the
  ``comment_present``/``comment_public`` booleans;
- the same item with ``include=comment_events``: each comment a ``Comment`` child as in seed 001's prose;
- the ``GET /api/v2/tickets/{id}/audits`` form: ``events`` with ``type``/``field_name``/``value``/``previous_value``.

All three are rendered once, when the audit is written (the two export forms from one rendering), and stored as
bytes.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from deskstream.domain.tickets import FieldChange
from deskstream.domain.timefmt import iso
from deskstream.domain.via import via_name, via_object

#: ``updater_id`` of changes made by deskstream itself (Zendesk's convention).
SYSTEM_USER_ID = -1


def html_body(body: str) -> str:
    paragraphs = "".join(f'<p dir="auto">{html.escape(p)}</p>' for p in body.split("\n\n") if p) or "<p></p>"
    return f'<div class="zd-comment" dir="auto">{paragraphs}</div>'


def comment_object(
    comment_id: int,
    audit_id: int,
    author_id: int,
    body: str,
    public: bool,
    created_at: int,
    channel: str,
    html: str | None = None,
) -> dict[str, Any]:
    """A comment as ``GET /api/v2/tickets/{id}/comments`` serves it."""
    return {
        "id": comment_id,
        "type": "Comment",
        "author_id": author_id,
        "body": body,
        "html_body": html or html_body(body),
        "plain_body": body,
        "public": public,
        "attachments": [],
        "audit_id": audit_id,
        "via": via_object(channel),
        "created_at": iso(created_at),
        "metadata": {"system": {}, "custom": {}},
    }


@dataclass
class Audit:
    """One ticket change: who, when, through what, and each field that moved."""

    id: int
    ticket_id: int
    created_at: int
    author_id: int
    channel: str
    changes: list[FieldChange]
    child_ids: list[int]
    comment: dict[str, Any] | None = None
    system: dict[str, Any] = field(default_factory=dict)

    @property
    def metadata(self) -> dict[str, Any]:
        return {"system": self.system, "custom": {}}

    def _system_block(self) -> dict[str, Any]:
        return {
            "client": self.system.get("client"),
            "ip_address": self.system.get("ip_address"),
            "location": self.system.get("location"),
            "latitude": self.system.get("latitude"),
            "longitude": self.system.get("longitude"),
        }

    def export_items(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The ``incremental/ticket_events`` item (spec/exports.md § What is in each item), and the same item with
        its ``Comment`` child (``include=comment_events``; None when the audit has no comment).

        Both come from one rendering: they differ only in the comment child that leads ``child_events``.
        """
        via = via_name(self.channel)
        offset = 1 if self.comment is not None else 0
        pairs = zip(self.child_ids[offset:], self.changes, strict=True)
        children = [_flat_child(child_id, via, change) for child_id, change in pairs]
        item = {
            "id": self.id,
            "ticket_id": self.ticket_id,
            "timestamp": self.created_at,
            "created_at": iso(self.created_at),
            "updater_id": self.author_id,
            "via": via,
            "via_reference_id": None,
            "system": self._system_block(),
            "metadata": self.metadata,
            "event_type": "Audit",
            "merged_ticket_ids": [],
            "comment_present": self.comment is not None,
            "comment_public": bool(self.comment and self.comment["public"]),
            "child_events": children,
        }
        if self.comment is None:
            return item, None
        c = self.comment
        comment_child = {
            "id": c["id"],
            "via": c["via"],
            "via_reference_id": None,
            "type": "Comment",
            "author_id": c["author_id"],
            "body": c["body"],
            "html_body": c["html_body"],
            "public": c["public"],
            "attachments": c["attachments"],
            "audit_id": self.id,
            "created_at": c["created_at"],
            "event_type": "Comment",
        }
        return item, {**item, "child_events": [comment_child, *children]}

    def api_item(self) -> dict[str, Any]:
        """The ``GET /api/v2/tickets/{id}/audits`` item."""
        events: list[dict[str, Any]] = []
        if self.comment is not None:
            events.append({k: v for k, v in self.comment.items() if k not in ("created_at", "via", "metadata")})
        offset = 1 if self.comment is not None else 0
        for child_id, change in zip(self.child_ids[offset:], self.changes, strict=True):
            event: dict[str, Any] = {
                "id": child_id,
                "type": change.kind,
                "field_name": change.field,
                "value": change.value,
            }
            if change.kind == "Change":
                event["previous_value"] = change.previous
            events.append(event)
        return {
            "id": self.id,
            "ticket_id": self.ticket_id,
            "created_at": iso(self.created_at),
            "author_id": self.author_id,
            "metadata": self.metadata,
            "via": via_object(self.channel),
            "events": events,
        }


def _flat_child(child_id: int, via: str, change: FieldChange) -> dict[str, Any]:
    child: dict[str, Any] = {"id": child_id, "via": via, "via_reference_id": None}
    if change.field == "tags":
        previous = change.previous or []
        child["tags"] = change.value
        child["added_tags"] = [t for t in change.value if t not in previous]
        child["removed_tags"] = [t for t in previous if t not in change.value]
    elif change.field.isdigit():
        child["custom_ticket_fields"] = {change.field: change.value}
    else:
        child[change.field] = change.value
    child["event_type"] = change.kind
    if change.kind == "Change":
        child["previous_value"] = change.previous
    return child


def child_count(changes: list[FieldChange], has_comment: bool) -> int:
    """How many child ids an audit needs: one per change, one for the comment."""
    return len(changes) + (1 if has_comment else 0)
