"""A known history for the incremental export tests, written through the services before the server starts.

Everything is stamped between 40 and 10 minutes ago (older than zenpy's five minutes and the one-minute horizon):
tickets with comments, updates and a solve, a same-second storm bigger than a page (1,200 tickets), a deleted
ticket, a deleted user and organization, and SLA metric events of every shape (inserted directly, beside whatever
the SLA engine writes: the engine is not what these tests are about).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from tests.conftest import seed_accounts

from deskstream.clock import FixedClock
from deskstream.domain.people import OrganizationInput, UserInput
from deskstream.domain.tickets import CommentInput, TicketInput
from deskstream.domain.timefmt import iso
from deskstream.service import Actor, Desk
from deskstream.store import Store

STORM = 1200


@dataclass
class Known:
    """What the seed wrote, for the tests to compare against (filled when the seed runs)."""

    tickets: int = 0
    deleted_ticket: int = 0
    deleted_user: int = 0
    deleted_organization: int = 0
    storm_second: int = 0
    metric_event_ids: frozenset[int] = frozenset()


KNOWN = Known()


def _metric_events(store: Store, ticket_id: int, at: int) -> frozenset[int]:
    policy = {"id": 1, "title": "Urgent", "description": "Reply within an hour"}
    kinds = [
        {"type": "apply_sla", "sla": {"target": 60, "business_hours": False, "policy": policy}},
        {"type": "activate"},
        {"type": "update_status", "status": {"calendar": 12, "business": 0}},
        {"type": "breach", "deleted": False},
        {"type": "fulfill"},
    ]
    with store.writing() as w:
        first = w.allocate("metric_events", len(kinds) * 30)
        events = []
        for n in range(30):
            for k, kind in enumerate(kinds):
                ts = at + n
                events.append(
                    {"id": first + n * len(kinds) + k, "ticket_id": ticket_id, "metric": "reply_time",
                     "instance_id": 1, "time": iso(ts), "_ts": ts, **kind}
                )
        w.add_metric_events(events)
    return frozenset(e["id"] for e in events)


def seed_history(store: Store) -> None:
    now = int(time.time())
    ids = seed_accounts(store, now)
    clock = FixedClock(now - 2400)
    desk = Desk(store, clock)
    admin = Actor(ids["admin"], "admin", "api")
    agent = Actor(ids["agent"], "agent", "web")
    org = desk.people.create_organization(OrganizationInput(name="Acme"))
    doomed_org = desk.people.create_organization(OrganizationInput(name="Gone Ltd"))
    customer = desk.people.create_user(UserInput(email="c1@example.org", name="Cee", organization_id=org["id"]))
    doomed_user = desk.people.create_user(UserInput(email="c2@example.org", name="Dee"))
    made = []
    for i in range(30):
        clock.value += 10
        ticket = desk.tickets.create(
            TicketInput(subject=f"Ticket {i}", comment=CommentInput(body=f"Body {i}"), requester_id=customer["id"],
                        collaborator_ids=[ids["agent"]], tags=["seeded"]),
            admin,
        )
        made.append(ticket["id"])
        clock.value += 5
        desk.tickets.update(
            ticket["id"],
            TicketInput(status="solved" if i % 3 == 0 else "pending", assignee_id=ids["agent"], priority="high",
                        comment=CommentInput(body="On it", public=i % 2 == 0)),
            agent,
        )
    clock.value += 30
    KNOWN.storm_second = clock.value
    made += [t["id"] for t in desk.tickets.create_many(
        [TicketInput(subject=f"Storm {i}", comment=CommentInput(body="Storm")) for i in range(STORM)], admin
    )]
    clock.value += 30
    desk.tickets.update_many(made[:5], TicketInput(additional_tags=["after_storm"]), admin)
    clock.value += 30
    desk.tickets.delete(made[1], admin)
    desk.people.delete_user(doomed_user["id"])
    desk.people.delete_record("organizations", doomed_org["id"])
    KNOWN.metric_event_ids = _metric_events(store, made[0], clock.value + 30)
    KNOWN.tickets = len(made)
    KNOWN.deleted_ticket = made[1]
    KNOWN.deleted_user = doomed_user["id"]
    KNOWN.deleted_organization = doomed_org["id"]
