"""The cursors deskstream writes, in the two forms clients see; the only place a cursor is made or read.

- Export cursors (:func:`encode_cursor`): Zendesk's own form, base64 of ``"<time>.0||<id>|"``, the (time, id) of the
  last item served. ``MTU3NjYxMzUzOS4wfHw0Njd8`` is ``1576613539.0||467|`` (Zendesk's documented example). The
  cursor is opaque to clients, but keeping Zendesk's form means a cursor taken from one server reads the same on
  another.
- List cursors (:func:`encode_id_cursor`, ``page[after]``/``page[before]`` of the list endpoints): URL-safe base64,
  unpadded, of ``"id:<id>"``, the id (or, for a list computed in memory, the 1-based position) of an item.

Both read back leniently, as clients mangle them: either base64 alphabet, with or without padding, and a space
where a ``+`` was (a ``+`` sent unencoded in a query string).
"""

from __future__ import annotations

import base64
import binascii
from typing import NamedTuple

from deskstream.exceptions import BadRequest

#: Largest value a stored time or id may take (64-bit signed columns); anything larger cannot be a position.
MAX_VALUE = 2**63 - 1
_INVALID = "The cursor is not valid: use after_cursor from a previous page"
_INVALID_ID = "page[after] is not a valid cursor"


class Position(NamedTuple):
    """A place in a stream: the ordering time and id of an item (the page holds items strictly after it)."""

    time: int
    id: int


def _unwrap(cursor: str) -> str:
    """The text inside a cursor (either base64 alphabet, padded or not); ValueError/binascii.Error if none."""
    text = cursor.strip().replace(" ", "+").replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode("ascii")


def _in_range(*values: int) -> bool:
    return all(0 <= value <= MAX_VALUE for value in values)


def encode_cursor(position: Position) -> str:
    return base64.b64encode(f"{position.time}.0||{position.id}|".encode()).decode()


def decode_cursor(cursor: str) -> Position:
    """Read an export cursor we wrote; a malformed one is a 400 ``InvalidCursor``."""
    try:
        raw = _unwrap(cursor)
        time_part, empty, id_part, tail = raw.split("|")
        if empty or tail or not time_part.endswith(".0"):
            raise ValueError(raw)
        position = Position(int(time_part[:-2]), int(id_part))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(_INVALID, error="InvalidCursor") from None
    if not _in_range(*position):
        raise BadRequest(_INVALID, error="InvalidCursor")
    return position


def encode_id_cursor(record_id: int) -> str:
    """A list endpoint's cursor for the item ``record_id`` (an id, or a position in a list computed in memory)."""
    return base64.urlsafe_b64encode(f"id:{record_id}".encode()).decode().rstrip("=")


def decode_id_cursor(cursor: str) -> int:
    """Read a list cursor we wrote; a malformed one is a 400 ``InvalidPaginationParameter``."""
    try:
        prefix, _, value = _unwrap(cursor).partition(":")
        if prefix != "id":
            raise ValueError(cursor)
        record_id = int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(_INVALID_ID, error="InvalidPaginationParameter") from None
    if not _in_range(record_id):
        raise BadRequest(_INVALID_ID, error="InvalidPaginationParameter")
    return record_id
