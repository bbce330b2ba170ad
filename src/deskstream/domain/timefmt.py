"""Zendesk's time formats: ISO 8601 UTC with whole seconds and a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


@lru_cache(maxsize=65_536)  # a change stamps the same second many times (ticket, audit, comment, SLA events)
def iso(ts: int | None) -> str | None:
    """``1714558518`` → ``"2024-05-01T10:15:18Z"`` (exactly ``%Y-%m-%dT%H:%M:%SZ``, as tap-zendesk compares it)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> int:
    """An ISO 8601 date or date-time (``Z`` or offset; naive means UTC) → Unix seconds. Raises ValueError."""
    text = value.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())
