"""The SLA engine's rules: how a ticket's change moves its metrics, and which metric events that writes.

Pure: given a ticket's metric instances, the change (before/after, the comment, the time) and the policy the ticket
falls under, it returns the new instances and the events, ids left to the caller. Zendesk's metrics and rules:

| metric | activated | paused while | fulfilled |
| --- | --- | --- | --- |
| reply_time | at creation (instance 1); by a public requester comment after a reply (next instance) | never | a public agent comment; solve |
| agent_work_time | at creation; on reopen | pending, on-hold | solve |
| requester_wait_time | at creation; on reopen | pending | solve |
| resolution_time | at creation; on reopen | never | solve |
| periodic_update_time | by each public agent comment (next instance) | never | the next public agent comment; solve |
| pausable_update_time | by each public agent comment (next instance) | pending, on-hold | the next public agent comment; solve |

An instance under an SLA target has a deadline (calendar or business time, counting only while active); it
breaches once, at the deadline, if still running. A recomputation that moves the target past a breach, or removes
it, undoes that breach (``deleted: true``). See docs/sla.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deskstream.domain.sla import sla_payload
from deskstream.domain.sla_hours import ACCOUNT_SCHEDULE, Schedule, add_business_seconds, business_seconds
from deskstream.domain.timefmt import iso

METRICS = (
    "agent_work_time",
    "pausable_update_time",
    "periodic_update_time",
    "reply_time",
    "requester_wait_time",
    "resolution_time",
)
#: Metrics that run from creation; the update metrics start with the first agent reply.
_FROM_CREATION = ("agent_work_time", "reply_time", "requester_wait_time", "resolution_time")
_REOPENED = ("agent_work_time", "requester_wait_time", "resolution_time")
_UPDATES = ("periodic_update_time", "pausable_update_time")
PAUSED_WHILE: dict[str, frozenset[str]] = {
    "agent_work_time": frozenset({"pending", "hold"}),
    "requester_wait_time": frozenset({"pending"}),
    "pausable_update_time": frozenset({"pending", "hold"}),
}
_DONE = frozenset({"solved", "closed"})


def policy_metric(metric: str, instance: int) -> str:
    """The policy's name for a metric instance: reply time is first reply, then next reply."""
    if metric == "reply_time":
        return "first_reply_time" if instance == 1 else "next_reply_time"
    return "total_resolution_time" if metric == "resolution_time" else metric


@dataclass
class Instance:
    """A metric's current instance: its stage, the time it has run, its target and what it breached."""

    instance: int = 0
    stage: str = "idle"  # idle (never activated) | active | paused | fulfilled
    since: int | None = None  # start of the current running period
    calendar: int = 0  # seconds run before ``since``
    business: int = 0
    sla: dict[str, Any] | None = None
    deadline: int | None = None
    breach_id: int | None = None  # 0 until the caller has given the breach event its id
    breach_at: int | None = None

    @property
    def open(self) -> bool:
        return self.stage in ("active", "paused")


@dataclass
class SlaState:
    ticket_id: int
    metrics: dict[str, Instance] = field(default_factory=lambda: {m: Instance() for m in METRICS})

    def to_json(self) -> dict[str, Any]:
        # vars(), not asdict(): asdict deep-copies each field and was most of a ticket update's time; ``sla`` is
        # only ever replaced, never changed in place, so sharing it is safe.
        return {"ticket_id": self.ticket_id, "metrics": {m: dict(vars(i)) for m, i in self.metrics.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SlaState:
        return cls(data["ticket_id"], {m: Instance(**i) for m, i in data["metrics"].items()})

    def next_deadline(self) -> int | None:
        """The earliest target not yet breached: when the scheduler must look at this ticket again."""
        due = [i.deadline for i in self.metrics.values() if i.deadline is not None and i.breach_id is None]
        return min(due) if due else None


@dataclass(frozen=True)
class Change:
    """A ticket change as the engine sees it. ``comment_by_agent`` is None without a public comment."""

    before: dict[str, Any] | None
    after: dict[str, Any]
    now: int
    comment_by_agent: bool | None = None


@dataclass
class Outcome:
    events: list[dict[str, Any]] = field(default_factory=list)
    undone: list[int] = field(default_factory=list)  # ids of breach events to mark ``deleted: true``


class Engine:
    """The rules on one account schedule; holds no state between calls."""

    def __init__(self, schedule: Schedule = ACCOUNT_SCHEDULE) -> None:
        self.schedule = schedule

    # entry points ---------------------------------------------------------------------------------------------------
    def on_change(self, state: SlaState, change: Change, policy: dict[str, Any] | None) -> Outcome:
        """The events a ticket change causes, in order; ``state`` is updated in place."""
        out = Outcome()
        now, after = change.now, change.after
        out.events += self.breaches_due(state, now)
        if after["status"] == "deleted":
            for inst in state.metrics.values():
                inst.deadline = None
            return out
        if change.before is None:
            self._created(state, after["status"], now, out)
        elif change.comment_by_agent is not None:
            self._commented(state, change.comment_by_agent, after["status"], now, out)
        if change.before is not None and change.before["status"] != after["status"]:
            self._status(state, change.before["status"], after["status"], now, out)
        self._apply(state, policy, after.get("priority"), now, out)
        return out

    def breaches_due(self, state: SlaState, now: int) -> list[dict[str, Any]]:
        """Breach events for every target that passed before ``now``, each at the moment its target passed."""
        events = []
        for metric, inst in state.metrics.items():
            if inst.stage == "active" and inst.deadline is not None and inst.breach_id is None and inst.deadline < now:
                inst.breach_id, inst.breach_at = 0, inst.deadline
                events.append(self._event(state, metric, "breach", inst.deadline, deleted=False))
        return events

    @staticmethod
    def assign_breach_ids(state: SlaState, events: list[dict[str, Any]]) -> None:
        """Remember the ids the caller gave to new breach events, so that a later undo can find them."""
        for event in events:
            if event["type"] == "breach":
                inst = state.metrics[event["metric"]]
                if inst.instance == event["instance_id"] and inst.breach_id == 0:
                    inst.breach_id = event["id"]

    # lifecycle ------------------------------------------------------------------------------------------------------
    def _created(self, state: SlaState, status: str, now: int, out: Outcome) -> None:
        for metric in METRICS:
            out.events.append(self._event(state, metric, "measure", now, instance=0))
        if status in _DONE:
            return
        for metric in _FROM_CREATION:
            self._activate(state, metric, now, out, new_instance=True)
        self._pauses(state, status, now, out)

    def _commented(self, state: SlaState, by_agent: bool, status: str, now: int, out: Outcome) -> None:
        metrics = state.metrics
        if by_agent:
            if metrics["reply_time"].open:
                self._fulfill(state, "reply_time", now, out)
            for metric in _UPDATES:
                if metrics[metric].open:
                    self._fulfill(state, metric, now, out)
                if status not in _DONE:
                    self._activate(state, metric, now, out, new_instance=True)
            self._pauses(state, status, now, out)
        elif not metrics["reply_time"].open and metrics["reply_time"].instance > 0 and status not in _DONE:
            self._activate(state, "reply_time", now, out, new_instance=True)

    def _status(self, state: SlaState, old: str, new: str, now: int, out: Outcome) -> None:
        if new in _DONE:
            if old not in _DONE:
                for metric in METRICS:
                    if state.metrics[metric].open:
                        self._fulfill(state, metric, now, out)
            return
        if old in _DONE:
            for metric in _REOPENED:
                if state.metrics[metric].stage == "fulfilled":
                    self._activate(state, metric, now, out, new_instance=False)
        self._pauses(state, new, now, out)

    def _pauses(self, state: SlaState, status: str, now: int, out: Outcome) -> None:
        """Pause the pausable metrics that this status pauses; resume those it no longer does."""
        for metric, statuses in PAUSED_WHILE.items():
            inst = state.metrics[metric]
            if inst.stage == "active" and status in statuses:
                self._stop(inst, now)
                inst.stage = "paused"
                out.events.append(self._event(state, metric, "pause", now))
            elif inst.stage == "paused" and status not in statuses:
                self._activate(state, metric, now, out, new_instance=False)

    def _activate(self, state: SlaState, metric: str, now: int, out: Outcome, new_instance: bool) -> None:
        inst = state.metrics[metric]
        if new_instance:
            state.metrics[metric] = inst = Instance(instance=inst.instance + 1)
        inst.stage, inst.since = "active", now
        out.events.append(self._event(state, metric, "activate", now))

    def _fulfill(self, state: SlaState, metric: str, now: int, out: Outcome) -> None:
        inst = state.metrics[metric]
        self._stop(inst, now)
        inst.stage, inst.deadline = "fulfilled", None
        out.events.append(self._event(state, metric, "fulfill", now))
        if inst.sla is not None:
            minutes = {"calendar": inst.calendar // 60, "business": inst.business // 60}
            out.events.append(self._event(state, metric, "update_status", now, status=minutes))

    def _stop(self, inst: Instance, now: int) -> None:
        """Bank the running period's time (calendar and business) into the instance."""
        if inst.stage == "active" and inst.since is not None:
            inst.calendar += now - inst.since
            inst.business += business_seconds(inst.since, now, self.schedule)
        inst.since = None

    # targets --------------------------------------------------------------------------------------------------------
    def _apply(
        self, state: SlaState, policy: dict[str, Any] | None, priority: str | None, now: int, out: Outcome
    ) -> None:
        """Apply (or re-apply, or remove) the policy's targets on every open instance, then recompute deadlines.

        A breach stands while the time run is over the target; a new target above it (or none) undoes it.
        """
        for metric, inst in state.metrics.items():
            if not inst.open:
                continue
            wanted = sla_payload(policy, priority, policy_metric(metric, inst.instance)) if policy else None
            if wanted != inst.sla:
                inst.sla = wanted
                if wanted is not None:
                    out.events.append(self._event(state, metric, "apply_sla", now, sla=wanted))
                if inst.breach_id is not None and (wanted is None or self._run(inst, now) < wanted["target"] * 60):
                    self._undo(state, metric, out)
            inst.deadline = self._deadline(inst, now)

    def _undo(self, state: SlaState, metric: str, out: Outcome) -> None:
        inst = state.metrics[metric]
        if inst.breach_id:
            out.undone.append(inst.breach_id)
        else:  # breached earlier in this same change: its event is not written yet
            for event in out.events:
                if event["type"] == "breach" and event["metric"] == metric and event["instance_id"] == inst.instance:
                    event["deleted"] = True
        inst.breach_id, inst.breach_at = None, None

    def _run(self, inst: Instance, now: int) -> int:
        """Seconds the instance has run against its target: business time for a business-hours target."""
        business = bool(inst.sla and inst.sla["business_hours"])
        banked = inst.business if business else inst.calendar
        if inst.stage != "active" or inst.since is None:
            return banked
        return banked + (business_seconds(inst.since, now, self.schedule) if business else now - inst.since)

    def _deadline(self, inst: Instance, now: int) -> int | None:
        """When the target passes if the instance keeps running; never before ``now`` (a target cut below the
        time already run passes the moment it is applied). None when paused, without target, or breached."""
        if inst.sla is None or inst.stage != "active" or inst.breach_id is not None:
            return None
        left = inst.sla["target"] * 60 - self._run(inst, now)
        if left <= 0:
            return now
        return add_business_seconds(now, left, self.schedule) if inst.sla["business_hours"] else now + left

    # events ---------------------------------------------------------------------------------------------------------
    def _event(
        self, state: SlaState, metric: str, kind: str, at: int, instance: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        """A ``ticket_metric_events`` item without its id (``_ts`` is its time in Unix seconds)."""
        number = state.metrics[metric].instance if instance is None else instance
        event: dict[str, Any] = {"id": 0, "ticket_id": state.ticket_id, "metric": metric, "instance_id": number}
        event.update(type=kind, time=iso(at))
        event.update(extra)
        event["_ts"] = at
        return event
