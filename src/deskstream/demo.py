"""The demo account: the documented credentials and a hand-made history to serve on a fresh machine.

Stamped in the past through a fixed clock that the history moves forward, so that the exports have data older
than the one-minute horizon (and than zenpy's five minutes) the moment the server starts.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from deskstream.clock import FixedClock
from deskstream.domain.people import GroupInput, OrganizationInput, UserInput
from deskstream.domain.sla import parse_policy_input
from deskstream.domain.tickets import CommentInput, TicketInput
from deskstream.service import Actor, Desk
from deskstream.store import Store
from deskstream.store.engine import kv_get, kv_set

ADMIN_EMAIL = "admin@example.com"
AGENT_EMAIL = "agent@example.com"
USER_EMAIL = "user@example.com"
PASSWORD = "deskstream"
ADMIN_TOKEN = "demo-token-0000"

_SUBJECTS = (
    "Cannot log in to my account",
    "Invoice shows the wrong amount",
    "Feature request: dark mode",
    "Password reset email never arrives",
    "App crashes when uploading a photo",
    "How do I export my data?",
    "Refund for a duplicate charge",
    "Shipping address change",
    "Two-factor codes are rejected",
    "API returns 500 on large requests",
)


def is_seeded(store: Store) -> bool:
    with store.read() as conn:
        return kv_get(conn, "demo.seeded") is not None


def create_accounts(desk: Desk) -> dict[str, int]:
    """The three documented users and the admin's API token."""
    ids = {}
    for email, role, name in (
        (ADMIN_EMAIL, "admin", "Ada Admin"),
        (AGENT_EMAIL, "agent", "Alan Agent"),
        (USER_EMAIL, "end-user", "Una User"),
    ):
        ids[role] = desk.people.create_user(UserInput(email=email, role=role, name=name, password=PASSWORD))["id"]
    desk.auth.create_token(ADMIN_EMAIL, ADMIN_TOKEN)
    return ids


DEMO_TICKETS = 48

#: The demo's SLA policy: targets in minutes per priority (agent work time in business hours), so that the history
#: holds apply_sla, fulfill and breach metric events.
DEMO_SLA = {
    "title": "Standard support",
    "description": "Demo targets by priority",
    "filter": {"all": [{"field": "current_tags", "operator": "includes", "value": "demo"}], "any": []},
    "policy_metrics": [
        {"priority": priority, "metric": metric, "target": target * scale, "business_hours": metric == "agent_work_time"}
        for priority, scale in (("urgent", 1), ("high", 4), ("normal", 8), ("low", 16))
        for metric, target in (("first_reply_time", 30), ("next_reply_time", 60), ("requester_wait_time", 60),
                               ("agent_work_time", 120))
    ],
}


def seed(store: Store, now: int, tickets: int = DEMO_TICKETS, progress: Callable[[int], None] | None = None) -> int:
    """Create the demo accounts and a small history ending ten minutes before ``now``; returns tickets made."""
    rng = random.Random(7)
    clock = FixedClock(now - 10 * 86_400)
    desk = Desk(store, clock)
    ids = create_accounts(desk)
    admin = Actor(ids["admin"], "admin", "web")
    agent = Actor(ids["agent"], "agent", "web")
    org = desk.people.create_organization(OrganizationInput(name="Example Corp", domain_names=["example.com"]))
    desk.sla.create_policy(parse_policy_input(DEMO_SLA, creating=True))
    support = desk.people.create_group(GroupInput(name="Support"))["id"]
    billing = desk.people.create_group(GroupInput(name="Billing"))["id"]
    customers = [
        desk.people.create_user(
            UserInput(email=f"customer{i}@example.org", name=f"Customer {i}", organization_id=org["id"] if i % 2 else None)
        )["id"]
        for i in range(8)
    ]
    made: list[int] = []
    step = (10 * 86_400 - 1200) // (tickets * 3)
    for i in range(tickets):
        clock.value += step
        desk.sla.tick()  # the breaches the clock passed, as the server's scheduler writes them
        customer = Actor(rng.choice(customers), "end-user", rng.choice(["email", "web", "api"]))
        ticket = desk.tickets.create(
            TicketInput(
                subject=_SUBJECTS[i % len(_SUBJECTS)],
                comment=CommentInput(body=f"Hello, {_SUBJECTS[i % len(_SUBJECTS)].lower()}. Ticket {i}."),
                tags=["demo", rng.choice(["billing", "login", "mobile", "api"])],
            ),
            customer,
        )
        made.append(ticket["id"])
        clock.value += step
        desk.tickets.update(
            ticket["id"],
            TicketInput(
                status="open",
                assignee_id=ids["agent"],
                group_id=rng.choice([support, billing]),
                priority=rng.choice(["low", "normal", "high", "urgent"]),
                type=rng.choice(["question", "incident", "problem", "task"]),
                comment=CommentInput(body="Thanks, we are looking into it.", public=True),
            ),
            agent,
        )
        clock.value += step
        final = rng.choice(["pending", "solved", "hold", "open"])
        desk.tickets.update(
            ticket["id"],
            TicketInput(status=final, additional_tags=[final], comment=CommentInput(body="Internal note.", public=False)),
            agent,
        )
        if progress:
            progress(1)
    # A bulk change stamps many tickets in one second; a deletion; a rename that is a system update.
    clock.value += 60
    desk.tickets.update_many(made[: len(made) // 2], TicketInput(additional_tags=["bulk_reviewed"]), admin)
    clock.value += 60
    desk.tickets.delete(made[-1], admin)
    clock.value += 60
    desk.people.update_user(customers[1], UserInput(name="Customer One (renamed)"))
    desk.sla.tick()
    with store.write() as conn:
        kv_set(conn, "demo.seeded", str(now))
    return len(made)
