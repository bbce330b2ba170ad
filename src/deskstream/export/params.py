"""Export query parameters as real clients send them (spec/clients-reference.md § What every client needs).

``start_time`` arrives as an integer (``1714558518``), as a decimal string (tap-zendesk: ``946684800.0``) or as an
ISO 8601 date or date-time (tap-zendesk's discovery). Missing, negative or unparseable → 400; the horizon check
(422) is :func:`deskstream.export.horizon.check_start_time`.
"""

from __future__ import annotations

import math
import re

from deskstream.domain.timefmt import parse_iso
from deskstream.exceptions import BadRequest
from deskstream.export.cursor import MAX_VALUE

DEFAULT_PER_PAGE = 1000
MAX_PER_PAGE = 1000

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def parse_start_time(raw: str | None) -> int:
    """Unix seconds from any form clients send; fractions are dropped (Zendesk's times are whole seconds)."""
    if raw is None or not raw.strip():
        raise BadRequest("start_time is required: a Unix time in seconds, e.g. start_time=1704067200")
    text = raw.strip()
    try:
        if _NUMBER.match(text):
            value = float(text) if any(c in text for c in ".eE") else int(text)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(text)
            seconds = math.floor(value)
        else:
            seconds = parse_iso(text)
    except (ValueError, OverflowError):
        raise BadRequest(f"start_time is not a Unix time or an ISO 8601 date: {text[:64]}") from None
    if seconds < 0:
        raise BadRequest("start_time must not be negative")
    return min(seconds, MAX_VALUE)


def parse_per_page(raw: str | None, default: int = DEFAULT_PER_PAGE, high: int = MAX_PER_PAGE,
                   name: str = "per_page") -> int:
    """An integer from 1 to ``high``; absent → ``default``; anything else → 400."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise BadRequest(f"{name} must be an integer from 1 to {high}") from None
    if not 1 <= value <= high:
        raise BadRequest(f"{name} must be an integer from 1 to {high}")
    return value


def parse_flag(raw: str | None) -> bool:
    """Rails' notion of a true query flag (``exclude_deleted=true``, ``=1``)."""
    return raw is not None and raw.strip().lower() in ("true", "1", "yes", "on")


def parse_includes(raw: str | None) -> frozenset[str]:
    """``include=users,groups`` (or space-separated) → the names; unknown names are kept, callers ignore them."""
    if not raw:
        return frozenset()
    return frozenset(part.strip() for part in re.split(r"[,\s]+", raw) if part.strip())
