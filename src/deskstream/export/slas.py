"""The ``slas`` ticket sideload: each ticket's SLA targets as Zendesk shows them, read from the engine's state.

Zendesk embeds ``"slas": {"policy_metrics": [...]}`` in each ticket, one entry per metric under a target:
``breach_at`` (ISO time, or null), ``stage`` (``active``, ``paused`` or ``achieved``), ``metric`` (the policy's
name: ``first_reply_time``, ``next_reply_time``, ``total_resolution_time``, ...) and, while the metric is open, the
time left as the SLA badge shows it: one of ``days``, ``hours`` or ``minutes`` (the largest whole unit, negative
once breached). As deskstream models it:

- ``active``: ``breach_at`` is when the target passes (or passed); the time left counts business time for a
  business-hours target until the breach and, as Zendesk's badge does, calendar time after it.
- ``paused``: ``breach_at`` is null unless the metric breached before the pause; the time left is the target minus
  the time already run.
- ``achieved``: ``breach_at`` is the breach the metric had before it was fulfilled, or null; no time left.

Entries come in badge order: active by ``breach_at``, then paused, then achieved. One query for a page.
"""

from __future__ import annotations

from typing import Any

import orjson

from deskstream.domain.sla_engine import Instance, SlaState, policy_metric
from deskstream.domain.sla_hours import ACCOUNT_SCHEDULE, Schedule, business_seconds
from deskstream.domain.timefmt import iso
from deskstream.store.scans import Scans

#: The engine's stage → Zendesk's, in badge order (``idle`` instances never ran and are not shown).
STAGES = {"active": "active", "paused": "paused", "fulfilled": "achieved"}
_ORDER = {stage: position for position, stage in enumerate(STAGES.values())}
_DAY, _HOUR = 24 * 60, 60


def time_left(seconds: int) -> dict[str, int]:
    """Zendesk's badge form: ``{"days": n}``, ``{"hours": n}`` or ``{"minutes": n}``, negative when overdue.

    Minutes round away from zero (30 s left is 1 minute, never 0 while the target has not passed); larger units
    are whole (2 h 50 min left is 2 hours).
    """
    sign = -1 if seconds < 0 else 1
    mins = -(-abs(seconds) // 60)
    if mins >= _DAY:
        return {"days": sign * (mins // _DAY)}
    if mins >= _HOUR:
        return {"hours": sign * (mins // _HOUR)}
    return {"minutes": sign * mins}


def _until(now: int, due: int, business: bool, schedule: Schedule) -> int:
    """Seconds from ``now`` to ``due``: business time before a business-hours target passes, calendar after."""
    if due < now:
        return due - now
    return business_seconds(now, due, schedule) if business else due - now


def policy_metric_entry(metric: str, inst: Instance, now: int, schedule: Schedule) -> dict[str, Any] | None:
    """One ``policy_metrics`` entry, or None for a metric without a target (or never started)."""
    if inst.sla is None or inst.stage not in STAGES:
        return None
    entry: dict[str, Any] = {"breach_at": iso(inst.breach_at), "stage": STAGES[inst.stage],
                             "metric": policy_metric(metric, inst.instance)}
    business = bool(inst.sla["business_hours"])
    if inst.stage == "active":
        due = inst.deadline if inst.deadline is not None else inst.breach_at
        if due is not None:
            entry["breach_at"] = iso(due)
            entry.update(time_left(_until(now, due, business, schedule)))
    elif inst.stage == "paused":
        entry.update(time_left(inst.sla["target"] * 60 - (inst.business if business else inst.calendar)))
    return entry


def slas(state: SlaState | None, now: int, schedule: Schedule = ACCOUNT_SCHEDULE) -> dict[str, Any]:
    """A ticket's ``slas`` object (empty ``policy_metrics`` without state or targets)."""
    entries = []
    if state is not None:
        for metric, inst in state.metrics.items():
            entry = policy_metric_entry(metric, inst, now, schedule)
            if entry is not None:
                entries.append(entry)
    entries.sort(key=lambda e: (_ORDER[e["stage"]], e["breach_at"] or "~", e["metric"]))
    return {"policy_metrics": entries}


def load_slas(scans: Scans, tickets: list[dict[str, Any]], now: int) -> dict[int, dict[str, Any]]:
    """The ``slas`` object of every ticket, from one query; a deleted ticket shows no targets."""
    live = {t["id"] for t in tickets if t.get("status") != "deleted"}
    states: dict[int, SlaState] = {}
    if live:
        for ticket_id, body in scans.sla_states(live):
            states[ticket_id] = SlaState.from_json(orjson.loads(body))
    return {t["id"]: slas(states.get(t["id"]) if t["id"] in live else None, now) for t in tickets}
