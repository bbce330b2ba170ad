"""Zendesk's export cursor: base64 of ``"<time>.0||<id>|"``, the (time, id) of the last item served.

``MTU3NjYxMzUzOS4wfHw0Njd8`` is ``1576613539.0||467|`` (Zendesk's documented example). The cursor is opaque to
clients, but keeping Zendesk's form means a cursor taken from one server reads the same on another.
"""

from __future__ import annotations

import base64
import binascii
from typing import NamedTuple

from deskstream.exceptions import BadRequest

#: Largest value a stored time or id may take (64-bit signed columns); anything larger cannot be a position.
MAX_VALUE = 2**63 - 1
_INVALID = "The cursor is not valid: use after_cursor from a previous page"


class Position(NamedTuple):
    """A place in a stream: the ordering time and id of an item (the page holds items strictly after it)."""

    time: int
    id: int


def encode_cursor(position: Position) -> str:
    return base64.b64encode(f"{position.time}.0||{position.id}|".encode()).decode()


def decode_cursor(cursor: str) -> Position:
    """Read a cursor we wrote; also accepts the URL-safe alphabet, a space for ``+`` and missing padding."""
    text = cursor.strip().replace(" ", "+").replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode("ascii")
        time_part, empty, id_part, tail = raw.split("|")
        if empty or tail or not time_part.endswith(".0"):
            raise ValueError(raw)
        position = Position(int(time_part[:-2]), int(id_part))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(_INVALID, error="InvalidCursor") from None
    if not (0 <= position.time <= MAX_VALUE and 0 <= position.id <= MAX_VALUE):
        raise BadRequest(_INVALID, error="InvalidCursor")
    return position
