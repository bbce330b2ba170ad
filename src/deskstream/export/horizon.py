"""The one-minute horizon: what is younger than a minute is not served yet (Zendesk's rule, spec/exports.md).

A change stamped at second ``t`` may still be committing while ``t`` is the current second (and, on PostgreSQL, a
transaction that stamped ``t`` can commit after one that stamped ``t + 1``). Serving only items at least
:data:`HORIZON_SECONDS` old means an export never moves past a second that can still gain items.
"""

from __future__ import annotations

from deskstream.exceptions import TooRecent

HORIZON_SECONDS = 60


def visible_until(now: int) -> int:
    """The newest ordering time an export may serve at ``now`` (inclusive)."""
    return now - HORIZON_SECONDS


def check_start_time(start_time: int, now: int) -> None:
    """Zendesk's 422 for a ``start_time`` within the last minute or in the future."""
    if start_time > visible_until(now):
        raise TooRecent()
