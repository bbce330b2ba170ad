"""The demo account: the documented credentials and a generated history to serve on a fresh machine.

The history (``deskstream.generate``: about 5,000 tickets over 90 days, same-second storms over 1000 tickets,
deletes, SLA breaches, system updates) is stamped in the past through a fixed clock, so that the exports have data
older than the one-minute horizon (and than zenpy's five minutes) the moment the server starts.
"""

from __future__ import annotations

from collections.abc import Callable

from deskstream.clock import FixedClock
from deskstream.domain.people import UserInput
from deskstream.domain.sla import parse_policy_input
from deskstream.generate import generate
from deskstream.service import Desk
from deskstream.store import Store

ADMIN_EMAIL = "admin@example.com"
AGENT_EMAIL = "agent@example.com"
USER_EMAIL = "user@example.com"
PASSWORD = "deskstream"
ADMIN_TOKEN = "demo-token-0000"


def is_seeded(store: Store) -> bool:
    return store.kv_get("demo.seeded") is not None


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


DEMO_TICKETS = 5000
DEMO_DAYS = 90
DEMO_SEED = 7

#: The demo's SLA policy: targets in minutes per priority (agent work time in business hours), so that the history
#: holds apply_sla, fulfill and breach metric events.
DEMO_SLA = {
    "title": "Standard support",
    "description": "Demo targets by priority",
    "filter": {"all": [{"field": "current_tags", "operator": "includes", "value": "demo"}], "any": []},
    "policy_metrics": [
        {"priority": priority, "metric": metric, "target": target * scale,
         "business_hours": metric == "agent_work_time"}
        for priority, scale in (("urgent", 1), ("high", 4), ("normal", 8), ("low", 16))
        for metric, target in (("first_reply_time", 30), ("next_reply_time", 60), ("requester_wait_time", 60),
                               ("agent_work_time", 120))
    ],
}


def seed(store: Store, now: int, tickets: int = DEMO_TICKETS, progress: Callable[[int], None] | None = None) -> int:
    """Create the demo accounts and a generated history of ``DEMO_DAYS`` days ending ten minutes before ``now``.

    The documented agent works in the Support group and the documented end user is the busiest customer, so each
    sees tickets of their own. Returns how many tickets were made.
    """
    end = now - 600
    desk = Desk(store, FixedClock(end - DEMO_DAYS * 86_400 - 3600))
    ids = create_accounts(desk)
    desk.sla.create_policy(parse_policy_input(DEMO_SLA, creating=True))
    summary = generate(
        store, tickets, DEMO_DAYS, DEMO_SEED, end=end, progress=progress,
        agent_ids=[ids["agent"]], customer_ids=[ids["end-user"]], tags=["demo"],
    )
    store.kv_set("demo.seeded", str(now))
    return summary.counts.get("tickets", 0)
