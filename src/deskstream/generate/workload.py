"""``deskstream generate``: a seeded, reproducible history of a help-desk account, written through the services.

The account (organizations, groups, agents, customers) is made at the start of the period; tickets then arrive
with the weekly rhythm and live their lives (``generate.lifecycles``). On top of that, account-wide events:

- outages: a monitoring integration files many tickets in one second (``create_many``) and a macro later solves
  them all in one second (``update_many``) — the same-second storms over 1000 items that break naive clients;
- customers and organizations renamed: system updates of every ticket that shows them;
- a few spam accounts deleted.

Every change goes through :class:`~deskstream.service.Desk` on a :class:`~deskstream.clock.FixedClock` that the
generator moves forward, so generated history is indistinguishable from history written live. Same seed, same
period, same database start → the same bytes in every export.
"""

from __future__ import annotations

import heapq
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from deskstream.clock import FixedClock
from deskstream.domain.people import GroupInput, OrganizationInput, Role, UserInput
from deskstream.domain.sla import ConditionInput, FilterInput, PolicyInput, PolicyMetricInput
from deskstream.domain.tickets import CommentInput, TicketInput
from deskstream.generate import catalog
from deskstream.generate.lifecycles import DAY, HOUR, Account, Lifecycles, TicketState, arrivals, next_working
from deskstream.service import Actor, Desk
from deskstream.store import Store
from deskstream.store.batch import BatchWriter

#: Storms: an outage per this many days, together filing a quarter of the tickets, each over 1000 if there are
#: enough tickets (at least one outage), at most this many each.
STORM_EVERY_DAYS = 45
STORM_MAX = 1500
CHANNELS = ("email", "web", "api", "mobile", "chat")
#: From this many tickets on, a generation writes its batches in a second process (docs/benchmarks.md).
WRITER_PROCESS_FROM = 2000


def _targets(metric: str, minutes: tuple[int, int, int, int], business_hours: bool) -> list[PolicyMetricInput]:
    return [
        PolicyMetricInput(priority=p, metric=metric, target=m, business_hours=business_hours)
        for p, m in zip(("urgent", "high", "normal", "low"), minutes, strict=True)
    ]


#: The SLA policies of a generated account (made when the database has none): VIPs first, then everyone.
SLA_POLICIES = (
    PolicyInput(
        title="VIP customers",
        description="Tickets tagged vip",
        filter=FilterInput(all=[ConditionInput(field="tags", operator="includes", value="vip")]),
        policy_metrics=_targets("first_reply_time", (30, 60, 120, 240), False)
        + _targets("next_reply_time", (30, 60, 120, 240), False)
        + _targets("requester_wait_time", (240, 480, 960, 1440), False),
    ),
    PolicyInput(
        title="Standard support",
        description="Every other ticket, in business hours",
        filter=FilterInput(),
        policy_metrics=_targets("first_reply_time", (60, 240, 480, 1440), True)
        + _targets("next_reply_time", (60, 120, 240, 480), True)
        + _targets("requester_wait_time", (480, 960, 2880, 5760), True),
    ),
)
CHANNEL_WEIGHTS = (0.45, 0.3, 0.08, 0.07, 0.1)


@dataclass
class Summary:
    """What a run wrote, and how fast."""

    start: int
    end: int
    seconds: float
    counts: dict[str, int]
    storms: list[int] = field(default_factory=list)
    deleted: int = 0

    @property
    def events(self) -> int:
        """Audits, their child events, comments and metric events: the rows the event exports serve."""
        c = self.counts
        return sum(c.get(k, 0) for k in ("audits", "child_events", "comments", "metric_events"))

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def generate(
    store: Store,
    tickets: int = 5000,
    days: int = 90,
    seed: int = 1,
    end: int | None = None,
    progress: Callable[[int], None] | None = None,
    agent_ids: Sequence[int] = (),
    customer_ids: Sequence[int] = (),
    tags: Sequence[str] = (),
    writer_process: bool | None = None,
) -> Summary:
    """Write ``tickets`` tickets' history over the ``days`` ending at ``end`` (default: ten minutes ago).

    ``progress`` is called with the number of tickets just created; ``tags`` go on every ticket. SLA policies
    are made when the database has none (:data:`SLA_POLICIES`). ``writer_process``: write the batches in a second
    process while this one makes the next (by default on a SQLite file from :data:`WRITER_PROCESS_FROM` tickets on,
    where it pays for starting the process, on a POSIX system, whose file descriptors it passes; PostgreSQL's own
    server process already writes beside the generator, and measured no faster); the history is the same byte for
    byte either way.
    """
    started = time.perf_counter()
    end = end if end is not None else int(time.time()) - 600
    start = end - days * DAY
    rng = random.Random(seed)
    clock = FixedClock(start)
    desk = Desk(store, clock)
    if writer_process is None:
        posix_sqlite_file = store.dialect == "sqlite" and store.shared and os.name == "posix"
        writer_process = posix_sqlite_file and tickets >= WRITER_PROCESS_FROM
    # An interrupted run rolls back its open batch (a change may be half-buffered).
    with BatchWriter(store, writer_process=writer_process) as w:
        account = _make_account(desk, w, rng, tickets, agent_ids, customer_ids)
        account.tags = list(tags)
        run = _Run(desk, w, rng, clock, account, start, end, progress)
        run.schedule(tickets)
        run.loop()
    return Summary(start, end, time.perf_counter() - started, dict(w.counts), run.storms, run.life.deleted)


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _make_account(
    desk: Desk, w: BatchWriter, rng: random.Random, tickets: int, agent_ids: Sequence[int], customer_ids: Sequence[int]
) -> Account:
    """Organizations, groups, agents and customers, sized to the number of tickets; unique in the database.

    ``agent_ids`` join the Support group and ``customer_ids`` are the most active customers (the demo's accounts).
    """
    base = w.count_records("users")
    people = desk.people
    orgs = [
        people.create_organization(
            OrganizationInput(name=catalog.company_name(rng, base + i), domain_names=[f"org{base + i}.example.net"]),
            writer=w,
        )["id"]
        for i in range(_clamp(tickets // 100, 3, 2000))
    ]
    groups = {name: people.create_group(GroupInput(name=name), writer=w)["id"] for name in catalog.GROUPS}

    def user(n: int, role: Role, org: int | None = None) -> int:
        name = catalog.person_name(rng)
        email = f"{name.replace(' ', '.').lower()}.{base + n}@example.net"
        data = UserInput(name=name, email=email, role=role, organization_id=org)
        return int(people.create_user(data, writer=w)["id"])

    n_agents = _clamp(tickets // 250, 2, 100)
    agents = {g: [user(i * len(groups) + k, "agent") for i in range(n_agents)] for k, g in enumerate(groups.values())}
    integration = people.create_user(
        UserInput(name="Monitoring Integration", email=f"monitoring.{base}@example.net", role="agent"), writer=w
    )["id"]
    offset = 1 + n_agents * len(groups)
    customers = [
        user(offset + i, "end-user", rng.choice(orgs) if rng.random() < 0.6 else None)
        for i in range(_clamp(tickets // 5, 20, 50_000))
    ]
    spam = [user(offset + len(customers) + i, "end-user") for i in range(2)]
    agents[groups["Support"]][:0] = agent_ids
    if not w.load_sla_policies():
        with w.outside():
            for policy in SLA_POLICIES:
                desk.sla.create_policy(policy)
    return Account(groups, agents, [*customer_ids, *customers], integration, orgs, spam)


class _Run:
    """One generation: every step of every ticket and every account-wide event, in time order on one clock."""

    def __init__(
        self,
        desk: Desk,
        w: BatchWriter,
        rng: random.Random,
        clock: FixedClock,
        account: Account,
        start: int,
        end: int,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.desk, self.w, self.rng, self.clock, self.account = desk, w, rng, clock, account
        self.start, self.end, self.progress = start, end, progress
        self.life = Lifecycles(desk, w, rng, account)
        self.queue: list[tuple[int, int, str, object]] = []
        self.seq = 0
        self.arrivals: list[int] = []
        self.storms: list[int] = []
        self.breaches_checked = start

    def push(self, t: int, kind: str, payload: object) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (t, self.seq, kind, payload))

    def schedule(self, tickets: int) -> None:
        """Storms, renames and deletions at fixed points of the period; the other tickets arrive one by one."""
        span = self.end - self.start
        n_storms = max(1, min(span // (STORM_EVERY_DAYS * DAY), tickets // (4 * 1001)))
        size = min(STORM_MAX, tickets // (4 * n_storms)) if tickets >= 40 else 0
        for k in range(n_storms if size else 0):
            t = next_working(self.start + span * (2 * k + 1) // (2 * n_storms), self.rng)
            if t < self.end - 6 * HOUR:
                self.push(t, "outage", size)
                tickets -= size
        for k in range(max(3, span // (7 * DAY))):
            self.push(self.start + span * (k + 1) // (max(3, span // (7 * DAY)) + 1), "rename_customer", None)
        self.push(self.end - 1800, "rename_customer", None)
        for k in range(max(1, span // (30 * DAY))):
            self.push(self.start + span * (2 * k + 1) // (2 * max(1, span // (30 * DAY))) + 7, "rename_org", None)
        self.push(self.start + span // 3 + 11, "delete_customer", None)
        self.arrivals = arrivals(self.rng, tickets, self.start + HOUR, self.end - 900)

    def loop(self) -> None:
        queue, pending, i = self.queue, self.arrivals, 0
        life, rng, w = self.life, self.rng, self.w
        customers = self.account.customers
        topics = list(catalog.TOPICS)
        while True:
            if queue and (i >= len(pending) or queue[0][0] <= pending[i]):
                t, _, kind, payload = heapq.heappop(queue)
            elif i < len(pending):
                t, kind, i = pending[i], "create", i + 1
                hot = int(len(customers) * rng.random() ** 2)  # some customers write far more than others
                channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
                payload = TicketState(customers[hot], rng.choice(topics), channel)
            else:
                break
            if t >= self.end:
                continue
            self.clock.value = t
            if t > self.breaches_checked:  # breaches are written as the clock passes their targets
                self.desk.sla.run_due(w, t)
                self.breaches_checked = t
            if isinstance(payload, TicketState):
                for step in life.run(kind, payload, t):
                    self.push(step[0], step[1], step[2])
                if kind == "create" and self.progress:
                    self.progress(1)
            else:
                getattr(self, kind)(t, payload)
            w.maybe_flush()

    # account-wide events ----------------------------------------------------------------------------------------
    def outage(self, t: int, size: object) -> None:
        """A monitoring integration files ``size`` tickets in one second; a macro solves them all hours later."""
        assert isinstance(size, int)
        group = self.account.groups["Tier 2"]
        items = [
            TicketInput(
                subject="Outage: the dashboard does not load",
                comment=CommentInput(body="Automated alert: error rate above threshold for your workspace."),
                requester_id=self.rng.choice(self.account.customers),
                group_id=group,
                priority="high",
                type="incident",
                tags=["outage", f"outage_{len(self.storms) + 1}", *self.account.tags],
            )
            for _ in range(size)
        ]
        actor = Actor(self.account.integration, "agent", "api")
        made = self.desk.tickets.create_many(items, actor, writer=self.w)
        self.storms.append(size)
        if self.progress:
            self.progress(size)
        self.push(t + 2 * HOUR + self.rng.randrange(2 * HOUR), "macro", [(m["id"], m["requester_id"]) for m in made])

    def macro(self, t: int, tickets: object) -> None:
        """An agent applies the "outage resolved" macro to every outage ticket at once."""
        assert isinstance(tickets, list)
        agent = self.rng.choice(self.account.agents[self.account.groups["Tier 2"]])
        macro = TicketInput(
            status="solved",
            assignee_id=agent,
            additional_tags=["outage_resolved"],
            comment=CommentInput(body="The outage is resolved; sorry for the trouble.", public=True),
        )
        ids = [ticket_id for ticket_id, _ in tickets]
        self.desk.tickets.update_many(ids, macro, Actor(agent, "agent", "web"), writer=self.w)
        self.storms.append(len(ids))
        for ticket_id, requester in tickets:
            state = TicketState(requester, "product", "api", id=ticket_id, assignee=agent)
            for step in self.life.after_solve(state, t):
                self.push(step[0], step[1], step[2])

    def rename_customer(self, t: int, _: object) -> None:
        """A customer changes their name: every ticket that shows them gets a system update."""
        user_id = self.account.customers[int(len(self.account.customers) * self.rng.random() ** 2)]
        with self.w.outside([("users", user_id)], self.w.ticket_ids_referring_to(user_id=user_id)):
            self.desk.people.update_user(user_id, UserInput(name=catalog.person_name(self.rng) + " (renamed)"))

    def rename_org(self, t: int, _: object) -> None:
        org = self.rng.choice(self.account.organizations)
        with self.w.outside([("organizations", org)], self.w.ticket_ids_referring_to(organization_id=org)):
            self.desk.people.update_record(
                "organizations", org, OrganizationInput(name=catalog.company_name(self.rng, 100_000 + org))
            )

    def delete_customer(self, t: int, _: object) -> None:
        """A spam account is deleted (the users export shows it with ``active: false``)."""
        user_id = self.account.spam.pop()
        with self.w.outside([("users", user_id)]):
            self.desk.people.delete_user(user_id)
