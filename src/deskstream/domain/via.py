"""Where a change came from: Zendesk's ``via`` object on tickets and audits, and its string form in exports."""

from __future__ import annotations

from typing import Any

#: The channels our model produces, and the name Zendesk's ticket_events export gives each.
CHANNEL_NAMES: dict[str, str] = {
    "web": "Web form",
    "email": "Mail",
    "api": "Web service",
    "rule": "Rule",
    "system": "System",
    "mobile": "Mobile",
    "chat": "Chat",
    "voice": "Voice",
    "sample_ticket": "Sample ticket",
    "batch": "Batch",
}

#: Zendesk's numeric via ids for the same channels (the ticket object's ``via_id``).
CHANNEL_IDS: dict[str, int] = {
    "web": 0,
    "email": 4,
    "api": 5,
    "rule": 8,
    "system": 27,
    "mobile": 56,
    "chat": 29,
    "voice": 34,
    "sample_ticket": 27,
    "batch": 42,
}


def via_object(channel: str, source: dict[str, Any] | None = None) -> dict[str, Any]:
    """The nested form used on tickets, comments and in the audits API."""
    return {"channel": channel, "source": source or {"from": {}, "to": {}, "rel": None}}


def via_name(channel: str) -> str:
    """The flat string form used by the ``ticket_events`` export."""
    return CHANNEL_NAMES.get(channel, channel.replace("_", " ").capitalize())
