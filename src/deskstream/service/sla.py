"""SLA policies and the engine that turns ticket changes (and the passing of time) into metric events.

The engine listens to every audited ticket change (``TicketService.listeners``) and writes its metric events in the
same transaction; :meth:`SlaService.run_due` writes the breaches that the clock reaches when nobody writes, as
system updates of their tickets (``generated_timestamp`` moves, no audit). Every read and write of SLA state goes
through the :class:`~deskstream.store.writer.Writer`, so the generator's batch writer runs the same engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from deskstream.clock import Clock, SimClock
from deskstream.domain import sla as rules
from deskstream.domain.audits import Audit
from deskstream.domain.sla import PolicyInput
from deskstream.domain.sla_engine import Change, Engine, Outcome, SlaState
from deskstream.exceptions import NotFound, Unprocessable
from deskstream.service.context import ServiceBase
from deskstream.service.tickets import TicketService
from deskstream.store.engine import Store
from deskstream.store.writer import Writer

_AGENT_ROLES = ("agent", "admin")


class SlaService(ServiceBase):
    """SLA policies and the engine; it listens to every audited change of :class:`TicketService`."""

    def __init__(self, store: Store, clock: Clock, tickets: TicketService) -> None:
        super().__init__(store, clock)
        self.tickets = tickets
        self.engine = Engine()
        tickets.listeners.append(self.on_ticket_change)

    # policies ---------------------------------------------------------------------------------------------------
    def list_policies(self) -> list[dict[str, Any]]:
        with self.store.reading() as r:
            return r.load_sla_policies()

    def get_policy(self, policy_id: int) -> dict[str, Any]:
        with self.store.reading() as r:
            found = r.load_record("sla_policies", policy_id)
        if found is None or not found.live:
            raise NotFound()
        return found.item

    def create_policy(self, data: PolicyInput) -> dict[str, Any]:
        with self.writing(None) as w:
            now = self.clock.now()
            positions = [p["position"] for p in w.load_sla_policies()]
            position = data.position or (max(positions, default=0) + 1)
            policy = rules.new_policy(w.allocate("sla_policies"), data, now, position)
            values = {"id": policy["id"], **self._columns(policy, now), "created_at": now}
            w.insert_record("sla_policies", values, policy)
            return policy

    def update_policy(self, policy_id: int, data: PolicyInput) -> dict[str, Any]:
        """Changes apply to tickets on their next update, as in Zendesk (docs/sla.md)."""
        with self.writing(None) as w:
            policy = self._live(w, policy_id)
            now = self.clock.now()
            rules.apply_policy_update(policy, data, now)
            w.update_record("sla_policies", policy_id, self._columns(policy, now), policy)
            return policy

    def delete_policy(self, policy_id: int) -> None:
        with self.writing(None) as w:
            policy = self._live(w, policy_id)
            now = self.clock.now()
            w.update_record("sla_policies", policy_id, {**self._columns(policy, now), "deleted_at": now}, policy)

    def reorder(self, policy_ids: list[int]) -> list[dict[str, Any]]:
        """``PUT /slas/policies/reorder``: the given policies take positions 1, 2, ... in that order."""
        with self.writing(None) as w:
            live = {p["id"]: p for p in w.load_sla_policies()}
            unknown = [i for i in policy_ids if i not in live]
            if unknown or len(set(policy_ids)) != len(policy_ids):
                raise Unprocessable.field("sla_policy_ids", f"Sla policy ids: unknown or repeated ids {unknown}")
            now = self.clock.now()
            for position, policy_id in enumerate(policy_ids, start=1):
                policy = live[policy_id]
                policy["position"] = position
                w.update_record("sla_policies", policy_id, self._columns(policy, now), policy)
            return w.load_sla_policies()

    def _live(self, w: Writer, policy_id: int) -> dict[str, Any]:
        found = w.load_record("sla_policies", policy_id)
        if found is None or not found.live:
            raise NotFound()
        return found.item

    @staticmethod
    def _columns(policy: dict[str, Any], now: int) -> dict[str, Any]:
        return {"position": policy["position"], "updated_at": now}

    # engine -----------------------------------------------------------------------------------------------------
    def on_ticket_change(
        self, w: Writer, before: dict[str, Any] | None, after: dict[str, Any], audit: Audit | None, now: int
    ) -> None:
        """The ticket listener: metric events that an audited change causes, in its transaction."""
        loaded = w.load_sla_state(after["id"])
        state = SlaState.from_json(loaded) if loaded else SlaState(after["id"])
        by_agent = None
        if audit is not None and audit.comment is not None and audit.comment["public"] and before is not None:
            by_agent = self._agent_reply(w, audit.comment["author_id"], after)
        policy = rules.select_policy(w.load_sla_policies(), after)
        out = self.engine.on_change(state, Change(before, after, now, by_agent), policy)
        if loaded is not None and not out.events and not out.undone and state.to_json() == loaded:
            return  # nothing moved (a change no metric reads): the stored state and its deadline stand
        self._write(w, state, out)

    def run_due(self, w: Writer, now: int, below: int | None = None) -> int:
        """Write every breach whose target passed before ``now`` (on tickets with an id under ``below``, if given);
        returns how many. Idempotent: a breached instance is marked, and the tickets are claimed inside the caller's
        write transaction."""
        written, seen = 0, set()
        while batch := [t for t in w.due_sla_tickets(now, below=below) if t not in seen]:
            seen.update(batch)
            for ticket_id in batch:
                loaded = w.load_sla_state(ticket_id)
                if loaded is None:
                    continue
                state = SlaState.from_json(loaded)
                events = self.engine.breaches_due(state, now)
                self._write(w, state, Outcome(events=events))
                if events:  # a system update of the ticket: generated_timestamp moves, no audit
                    self.tickets.system_update(w, ticket_id, now)
                written += len(events)
        return written

    def tick(self) -> int:
        """One pass of the scheduler: a cheap read first, a write transaction only when something is due. The
        tickets a batch writer is writing (the generator holds them and their SLA states in memory) are left to it."""
        with self.store.reading() as r:
            if not r.any_sla_due(self.clock.now(), below=r.tickets_being_written(time.time())):
                return 0
        with self.store.writing() as w:  # read again: a batch may have committed since the look
            return self.run_due(w, self.clock.now(), below=w.tickets_being_written(time.time()))

    def move_clock(self, clock: SimClock, target: Callable[[int], int]) -> int:
        """Move a simulated clock to ``target(now)`` with the breaches it passes, in one write transaction, so no
        reader sees the new time without them; returns the new time."""
        with self.store.writing() as w:
            moved = target(clock.now())
            self.run_due(w, moved)
            clock.move(w, moved)
        return moved

    def _write(self, w: Writer, state: SlaState, out: Outcome) -> None:
        if out.events:
            first = w.allocate("metric_events", len(out.events))
            for offset, event in enumerate(out.events):
                event["id"] = first + offset
            self.engine.assign_breach_ids(state, out.events)
            w.add_metric_events(out.events)
        for event_id in out.undone:
            w.mark_breach_deleted(event_id)
        w.save_sla_state(state.ticket_id, state.to_json(), state.next_deadline())

    @staticmethod
    def _agent_reply(w: Writer, author_id: int, ticket: dict[str, Any]) -> bool:
        """A public comment is an agent's reply when an agent or admin other than the requester wrote it."""
        found = w.load_record("users", author_id)
        return found is not None and found.item["role"] in _AGENT_ROLES and author_id != ticket["requester_id"]

