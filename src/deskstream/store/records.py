"""What the store takes and returns: plain typed records, never domain objects.

The items inside are the JSON objects Zendesk serves (dicts), exactly as stored; the store knows their columns, not
their rules. A ticket's times (``created_at``/``updated_at`` in Unix seconds) travel beside its item because the item
carries them only as ISO strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple


class StoredTicket(NamedTuple):
    """A ticket's current version as stored."""

    item: dict[str, Any]
    version: int
    created_at: int
    updated_at: int
    deleted_at: int | None

    @property
    def live(self) -> bool:
        return self.deleted_at is None


class StoredRecord(NamedTuple):
    """A user, organization, group or SLA policy as stored."""

    item: dict[str, Any]
    deleted_at: int | None

    @property
    def live(self) -> bool:
        return self.deleted_at is None


@dataclass(frozen=True)
class TicketVersion:
    """A ticket's new version to write: the current row and its history row (``audit_id`` None for a system
    update, which writes no audit)."""

    item: dict[str, Any]
    version: int
    created_at: int
    updated_at: int
    audit_id: int | None
    deleted_at: int | None = None


@dataclass(frozen=True)
class AuditRecord:
    """An audit's stored forms: the ``ticket_events`` item, the same with its comment child (None without a
    comment), the ``/tickets/{id}/audits`` item, and its comment object, if any."""

    id: int
    ticket_id: int
    timestamp: int
    item: dict[str, Any]
    item_with_comments: dict[str, Any] | None
    api_item: dict[str, Any]
    comment: dict[str, Any] | None
    child_events: int


@dataclass(frozen=True)
class UserCredentials:
    """What authentication needs of a live user found by email: its id and password hash (None without one)."""

    user_id: int
    password_hash: str | None


@dataclass(frozen=True)
class LiveUser:
    """The user behind a credential, read on every authenticated request."""

    user_id: int
    role: str
    item: dict[str, Any]
