"""How a generated ticket lives: what happens to it, when, and who does it.

Each step is one call to the ticket service (through the generator's batch writer), exactly what an agent, a
customer, a trigger or an automation would do through the API. A step returns the steps it schedules; the workload
runs every step of every ticket in time order on one clock.

new → (triage) open → pending ⇄ customer reply (a trigger reopens) → solved → (rating: a system update)
→ closed four days later by the hourly automation; some reopen before closing, some are spam and get deleted,
and agents add private notes, reassign, escalate priority, add CCs and tags along the way.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from deskstream.domain.tickets import CommentInput, TicketInput
from deskstream.generate import catalog
from deskstream.service import Actor, Desk
from deskstream.store.batch import BatchWriter

HOUR = 3600
DAY = 86_400
#: Working hours of the account (UTC), Monday to Friday.
OPENS, CLOSES = 8, 18
#: How long a solved ticket waits before the automation closes it (Zendesk's default: 4 days).
CLOSE_AFTER = 4 * DAY

#: The automation and triggers: changes by the system itself, ``via: rule``, updater -1.
RULE = Actor(user_id=0, role="admin", channel="rule")


def in_working_hours(t: int) -> bool:
    day, second = divmod(t, DAY)
    return (day + 3) % 7 < 5 and OPENS * HOUR <= second < CLOSES * HOUR  # 1970-01-01 was a Thursday


def next_working(t: int, rng: random.Random) -> int:
    """``t`` if it is within working hours, else a moment in the first working hour after it."""
    if in_working_hours(t):
        return t
    day, second = divmod(t, DAY)
    if second >= OPENS * HOUR:
        day += 1
    while (day + 3) % 7 >= 5:
        day += 1
    return day * DAY + OPENS * HOUR + rng.randrange(HOUR)


def arrivals(rng: random.Random, count: int, start: int, end: int) -> list[int]:
    """``count`` ticket arrival times in ``[start, end)``: weekdays busier than weekends, office hours busiest."""
    if count <= 0 or end <= start:
        return []
    first_day, last_day = start // DAY, (end - 1) // DAY
    days = list(range(first_day, last_day + 1))
    day_weights = [1.0 if (d + 3) % 7 < 5 else 0.3 for d in days]
    hour_weights = [0.3 if h < 7 or h >= 20 else 1.0 if OPENS <= h < CLOSES else 0.6 for h in range(24)]
    times: list[int] = []
    while len(times) < count:
        for day, hour in zip(
            rng.choices(days, day_weights, k=count - len(times)), rng.choices(range(24), hour_weights, k=count),
            strict=False,  # as many as the shorter: the days drawn
        ):
            t = day * DAY + hour * HOUR + rng.randrange(HOUR)
            if start <= t < end:
                times.append(t)
    times.sort()
    return times


@dataclass
class Account:
    """The people and groups of the generated account."""

    groups: dict[str, int]
    agents: dict[int, list[int]]
    customers: list[int]
    integration: int
    organizations: list[int] = field(default_factory=list)
    #: Accounts that file no tickets and get deleted as spam.
    spam: list[int] = field(default_factory=list)
    #: Tags on every ticket (the demo marks its tickets ``demo``).
    tags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TicketState:
    """What the generator remembers of a ticket between its steps."""

    requester: int
    topic: str
    channel: str
    id: int = 0
    group: int = 0
    assignee: int = 0
    rounds: int = 0
    reopens: int = 0
    solved_at: int = 0
    resume: str = ""


Step = tuple[int, str, TicketState]


class Lifecycles:
    """The steps of a ticket's life, each a service call made at the clock's current time."""

    def __init__(self, desk: Desk, writer: BatchWriter, rng: random.Random, account: Account) -> None:
        self.desk, self.w, self.rng, self.account = desk, writer, rng, account
        self.deleted = 0

    def run(self, kind: str, state: TicketState, now: int) -> list[Step]:
        return getattr(self, kind)(state, now)  # type: ignore[no-any-return]

    # helpers ----------------------------------------------------------------------------------------------------
    def _agent(self, state: TicketState) -> Actor:
        return Actor(state.assignee, "agent", "web")

    def _update(self, state: TicketState, actor: Actor, **fields: Any) -> None:
        self.desk.tickets.update(state.id, TicketInput(**fields), actor, writer=self.w)

    def _later(self, now: int, mean: float, state: TicketState, kind: str, working: bool = True) -> Step:
        t = now + 60 + int(self.rng.expovariate(1 / mean))
        return (next_working(t, self.rng) if working else t, kind, state)

    def _pick_agent(self, state: TicketState, group_name: str | None = None) -> None:
        name = group_name or self.rng.choice([g for g, topics in catalog.GROUPS.items() if state.topic in topics])
        state.group = self.account.groups[name]
        state.assignee = self.rng.choice(self.account.agents[state.group])

    def _agent_step(self, state: TicketState, now: int, main: str, mean: float) -> Step:
        """The agent's next move, sometimes preceded by a side step (a note, a reassignment, a CC, a priority)."""
        if self.rng.random() < 0.35:
            side = self.rng.choice(("note", "note", "reassign", "priority", "cc", "retag"))
            state.resume = main
            return self._later(now, mean / 3, state, side)
        return self._later(now, mean, state, main)

    def _resume(self, state: TicketState, now: int) -> list[Step]:
        return [self._later(now, 2 * HOUR, state, state.resume)]

    # steps ------------------------------------------------------------------------------------------------------
    def create(self, state: TicketState, now: int) -> list[Step]:
        rng = self.rng
        tag, subjects = catalog.TOPICS[state.topic]
        data: dict[str, Any] = {
            "subject": rng.choice(subjects),
            "comment": CommentInput(body=catalog.text(rng, catalog.CUSTOMER_LINES, rng.randint(1, 3))),
            "tags": [tag, *self.account.tags] + (["vip"] if rng.random() < 0.05 else []),
        }
        if state.channel == "chat":
            self._pick_agent(state)
            actor = Actor(state.assignee, "agent", "chat")
            data.update(requester_id=state.requester, assignee_id=state.assignee, group_id=state.group,
                        priority="normal", type="question")
        elif state.channel == "api":
            actor = Actor(self.account.integration, "agent", "api")
            data.update(requester_id=state.requester, tags=[*data["tags"], "api_created"])
        else:
            actor = Actor(state.requester, "end-user", state.channel)
            if rng.random() < 0.05:
                data["collaborator_ids"] = [rng.choice(self.account.customers)]
        state.id = self.desk.tickets.create(TicketInput(**data), actor, writer=self.w)["id"]
        if rng.random() < 0.01:
            return [self._later(now, HOUR, state, "delete", working=False)]
        if state.channel == "chat":
            return [self._later(now, 20 * 60, state, "solve" if rng.random() < 0.7 else "agent_reply", False)]
        return [self._later(now, 90 * 60, state, "triage")]

    def triage(self, state: TicketState, now: int) -> list[Step]:
        rng = self.rng
        self._pick_agent(state)
        state.rounds = rng.choices((0, 1, 2, 3), (0.35, 0.35, 0.2, 0.1))[0]
        pending = rng.random() < 0.5
        self._update(
            state,
            self._agent(state),
            assignee_id=state.assignee,
            group_id=state.group,
            priority=rng.choices(("low", "normal", "high", "urgent"), (0.2, 0.55, 0.2, 0.05))[0],
            type=rng.choice(("question", "incident", "problem", "task")),
            status="pending" if pending else "open",
            comment=CommentInput(body=catalog.text(rng, catalog.AGENT_LINES), public=True),
        )
        if pending:
            return [self._later(now, 8 * HOUR, state, "customer_reply", working=False)]
        return [self._agent_step(state, now, "solve" if state.rounds == 0 else "agent_reply", 4 * HOUR)]

    def agent_reply(self, state: TicketState, now: int) -> list[Step]:
        body = catalog.text(self.rng, catalog.AGENT_LINES)
        self._update(state, self._agent(state), status="pending", comment=CommentInput(body=body, public=True))
        if self.rng.random() < 0.85:
            return [self._later(now, 10 * HOUR, state, "customer_reply", working=False)]
        return [self._later(now, 2 * DAY, state, "solve")]

    def customer_reply(self, state: TicketState, now: int) -> list[Step]:
        """The requester answers by email; a trigger reopens the ticket in the same second."""
        body = catalog.text(self.rng, catalog.CUSTOMER_LINES, self.rng.randint(1, 2))
        self._update(state, Actor(state.requester, "end-user", "email"), comment=CommentInput(body=body))
        self._update(state, RULE, status="open")
        state.rounds = max(state.rounds - 1, 0)
        return [self._agent_step(state, now, "agent_reply" if state.rounds else "solve", 3 * HOUR)]

    def solve(self, state: TicketState, now: int) -> list[Step]:
        body = catalog.text(self.rng, catalog.AGENT_LINES)
        self._update(state, self._agent(state), status="solved", comment=CommentInput(body=body, public=True))
        return self.after_solve(state, now)

    def after_solve(self, state: TicketState, now: int) -> list[Step]:
        """A solved ticket may be rated, may be reopened by its requester, else the automation closes it."""
        state.solved_at = now
        rng = self.rng
        if state.reopens == 0 and rng.random() < 0.08:
            state.reopens += 1
            state.rounds = 1
            return [self._later(now, DAY, state, "customer_reply", working=False)]
        close_at = -(-(now + CLOSE_AFTER) // HOUR) * HOUR  # the hourly automation: many closes in one second
        steps: list[Step] = [(close_at, "close", state)]
        if rng.random() < 0.3:
            steps.append((now + rng.randrange(HOUR, 2 * DAY), "rate", state))
        return steps

    def rate(self, state: TicketState, now: int) -> list[Step]:
        """A satisfaction rating arrives: a system update (the ticket's JSON moves, no audit, ``updated_at`` stays)."""
        score = "good" if self.rng.random() < 0.8 else "bad"
        rating = {"id": self.w.allocate("satisfaction_ratings"), "score": score, "comment": None}
        self.desk.tickets.system_update(self.w, state.id, now, lambda t: t.update(satisfaction_rating=rating))
        return []

    def close(self, state: TicketState, now: int) -> list[Step]:
        self._update(state, RULE, status="closed")
        return []

    def delete(self, state: TicketState, now: int) -> list[Step]:
        self._pick_agent(state)
        self.desk.tickets.delete(state.id, self._agent(state), writer=self.w)
        self.deleted += 1
        return []

    # side steps: the agent does something else first, then resumes ------------------------------------------------
    def note(self, state: TicketState, now: int) -> list[Step]:
        body = catalog.text(self.rng, catalog.NOTE_LINES, 1)
        self._update(state, self._agent(state), comment=CommentInput(body=body, public=False))
        return self._resume(state, now)

    def reassign(self, state: TicketState, now: int) -> list[Step]:
        """Escalation: another group and agent, a higher priority, a private note saying why."""
        self._pick_agent(state, "Tier 2" if state.topic in catalog.GROUPS["Tier 2"] else None)
        body = catalog.text(self.rng, catalog.NOTE_LINES, 1)
        self._update(state, self._agent(state), assignee_id=state.assignee, group_id=state.group, priority="high",
                     comment=CommentInput(body=body, public=False))
        return self._resume(state, now)

    def priority(self, state: TicketState, now: int) -> list[Step]:
        self._update(state, self._agent(state), priority=self.rng.choice(("low", "normal", "high", "urgent")))
        return self._resume(state, now)

    def cc(self, state: TicketState, now: int) -> list[Step]:
        others = [self.rng.choice(self.account.customers)]
        self._update(state, self._agent(state), email_cc_ids=others, collaborator_ids=others)
        return self._resume(state, now)

    def retag(self, state: TicketState, now: int) -> list[Step]:
        tag = self.rng.choice(("follow_up", "bug", "feature_request", "needs_info", "refund"))
        self._update(state, self._agent(state), additional_tags=[tag], remove_tags=["vip"])
        return self._resume(state, now)
