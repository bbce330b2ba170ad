"""The scenarios' histories, written through the services on a fixed clock, as the demo's is.

A scenario's first part is written when it is loaded, stamped before the server's clock, so the client's first run
exports it at once. A two-run scenario's second part (what happens between the client's runs) is written by
:func:`play_next` (``POST /_deskstream/scenario/next``), at the server's clock, after the first run: the exports
serve a ticket's current version only, so a change written before the first run would hide the ticket from it
instead of changing a ticket the client already holds.

Each part keeps its own account of every ticket it wrote (:class:`_Book`): the expected record set is what the
scenario *did*, never read back from the database, so checking it against an export checks the server too. The
record (the catalog's words, the step reached, the expected tickets) is the ``kv`` row :data:`KEY`, which
``GET /_deskstream/scenario`` serves as it is; the ids the second part needs are the row ``KEY.scene``.

A scenario needs a database without tickets or SLA policies: an SLA policy would give tickets system updates of its
own and move their ``generated_timestamp``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import orjson

from deskstream import faults
from deskstream.clock import FixedClock
from deskstream.domain.people import UserInput
from deskstream.domain.tickets import CommentInput, TicketInput
from deskstream.domain.timefmt import iso
from deskstream.export.params import MAX_PER_PAGE
from deskstream.scenarios import KEY, ScenarioSpec, spec
from deskstream.service import Actor, Desk
from deskstream.store import Store
from deskstream.store.batch import BatchWriter
from deskstream.store.writer import Writer

HOUR = 3600
#: The fields of each expected ticket, as the ticket export serves them.
FIELDS = ("id", "subject", "status", "tags", "satisfaction_rating", "updated_at", "generated_timestamp")
#: A storm larger than the largest page any client may ask for.
STORM = MAX_PER_PAGE + 50
_SCENE = KEY + ".scene"


class ScenarioError(ValueError):
    """The database cannot take the scenario (it holds tickets, SLA policies or another scenario), or the step
    asked for is not the scenario's next one."""


class NoScenario(ScenarioError):
    """The database holds no scenario."""


class _Book:
    """The scenario's own account of its tickets: each change it makes, applied to the fields of :data:`FIELDS`."""

    def __init__(self, tickets: list[dict[str, Any]] | None = None) -> None:
        self.tickets: dict[int, dict[str, Any]] = {int(ticket["id"]): ticket for ticket in tickets or []}

    def created(self, ticket: dict[str, Any], t: int) -> int:
        ticket_id = int(ticket["id"])
        self.tickets[ticket_id] = {
            "id": ticket_id, "subject": ticket["subject"], "status": "open", "tags": list(ticket["tags"]),
            "satisfaction_rating": None, "updated_at": iso(t), "generated_timestamp": t,
        }  # fmt: skip
        return ticket_id

    def audited(self, ticket_id: int, t: int, **changed: Any) -> None:
        """A change with an audit: both times move."""
        self.tickets[ticket_id].update(changed, updated_at=iso(t), generated_timestamp=t)

    def system(self, ticket_id: int, t: int, **changed: Any) -> None:
        """A system update: ``generated_timestamp`` moves, ``updated_at`` stays."""
        self.tickets[ticket_id].update(changed, generated_timestamp=t)

    def ids(self) -> list[int]:
        return sorted(self.tickets)

    def expected(self) -> list[dict[str, Any]]:
        return [self.tickets[ticket_id] for ticket_id in sorted(self.tickets)]


@dataclass(frozen=True)
class _Cast:
    """The people a scenario writes as: its agent, and its customers (the requesters)."""

    agent: int
    customers: list[int]


class _Scene:
    """The desk on a fixed clock, the scenario's cast, and the book of what was written."""

    def __init__(self, store: Store, now: int, cast: _Cast, book: _Book) -> None:
        self.now = now
        self.clock = FixedClock(now)
        self.desk = Desk(store, self.clock)
        self.cast, self.book = cast, book
        self.agent = Actor(cast.agent, "agent", "api")

    def at(self, t: int) -> _Scene:
        self.clock.value = t
        return self

    def ticket(self, t: int, subject: str, requester: int, tags: tuple[str, ...] = (), w: Writer | None = None) -> int:
        data = TicketInput(
            subject=subject, comment=CommentInput(body=f"{subject}: please help."), requester_id=requester,
            assignee_id=self.agent.user_id, tags=list(tags),
        )  # fmt: skip
        return self.book.created(self.at(t).desk.tickets.create(data, self.agent, w), t)

    def update(self, t: int, ticket_id: int, data: TicketInput, w: Writer | None = None, **expected: Any) -> None:
        self.at(t).desk.tickets.update(ticket_id, data, self.agent, w)
        self.book.audited(ticket_id, t, **expected)

    def delete(self, t: int, ticket_id: int) -> None:
        self.at(t).desk.tickets.delete(ticket_id, self.agent)
        self.book.audited(ticket_id, t, status="deleted")

    def customer(self, i: int) -> int:
        return self.cast.customers[i % len(self.cast.customers)]


def _cast(store: Store, t: int, customers: int) -> _Cast:
    people = Desk(store, FixedClock(t)).people
    agent = people.create_user(UserInput(name="Sam Scenario", email="scenario.agent@example.net", role="agent"))
    made = [
        people.create_user(UserInput(name=f"Customer {i}", email=f"customer{i}@example.net", role="end-user"))
        for i in range(customers)
    ]
    return _Cast(int(agent["id"]), [int(customer["id"]) for customer in made])


# The parts: a first part is stamped before scene.now; a second part at scene.now. ---------------------------------


def _storm_over_page(scene: _Scene) -> None:
    now = scene.now
    for i in range(10):
        scene.ticket(now - 3 * HOUR + 60 * i, f"Before the storm {i + 1}", scene.customer(i))
    with BatchWriter(scene.desk.store) as w:  # a thousand tickets in a fraction of a second
        for i in range(STORM):
            scene.ticket(now - 2 * HOUR, "Outage: the dashboard does not load", scene.customer(i), ("outage",), w)
    for i in range(10):
        scene.ticket(now - HOUR + 60 * i, f"After the storm {i + 1}", scene.customer(i))


def _questions(scene: _Scene) -> None:
    for i in range(20):
        scene.ticket(scene.now - 3 * HOUR + 60 * i, f"Question {i + 1}", scene.customer(i))


def _renamed_and_rated(scene: _Scene) -> None:
    """Customers 0-2 renamed (a system update of each ticket they requested), the other customers' tickets rated."""
    now, tickets = scene.now, scene.book.ids()
    for k in range(3):  # customer k requested tickets k, k + 5, k + 10, k + 15
        scene.at(now).desk.people.update_user(scene.cast.customers[k], UserInput(name=f"Customer {k} (renamed)"))
        for ticket_id in tickets[k::5]:
            scene.book.system(ticket_id, now)
    with scene.desk.store.writing() as w:
        for i, ticket_id in enumerate(tickets):
            if i % 5 >= 3:
                rating = {"id": w.allocate("satisfaction_ratings"), "score": "good", "comment": None}
                scene.desk.tickets.system_update(w, ticket_id, now, _setter("satisfaction_rating", rating))
                scene.book.system(ticket_id, now, satisfaction_rating=rating)


def _setter(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(ticket: dict[str, Any]) -> None:
        ticket[name] = value

    return change


def _orders(scene: _Scene) -> None:
    for i in range(30):
        scene.ticket(scene.now - 3 * HOUR + 60 * i, f"Order {i + 1}", scene.customer(i))


def _deleted(scene: _Scene) -> None:
    now = scene.now
    for ticket_id in scene.book.ids()[::3]:
        scene.delete(now, ticket_id)
    spam = scene.ticket(now, "Spam: you have won", scene.customer(0))
    scene.ticket(now, "Order 31", scene.customer(1))
    scene.delete(now, spam)


def _invoices(scene: _Scene) -> None:
    last = scene.now - 61  # the newest just past the horizon; the oldest 306 s old, well within the late window
    for i in range(50):
        scene.ticket(last - 5 * (49 - i), f"Invoice {i + 1}", scene.customer(i))


def _nothing(scene: _Scene) -> None:
    """``late_commit``'s second part is time passing: the clock's move makes the late changes visible."""


def _requests(scene: _Scene) -> None:
    last = scene.now - 61
    with BatchWriter(scene.desk.store) as w:
        for i in range(STORM):
            scene.ticket(last - 10 * (STORM - 1 - i), f"Request {i + 1}", scene.customer(i), (), w)


def _problems(scene: _Scene) -> None:
    now = scene.now
    tickets = [scene.ticket(now - 3 * HOUR + 60 * i, f"Problem {i + 1}", scene.customer(i)) for i in range(12)]
    for k, ticket_id in enumerate(tickets[:4]):
        reply = TicketInput(status="solved", comment=CommentInput(body="This is fixed now."))
        scene.update(now - 2 * HOUR + 60 * k, ticket_id, reply, status="solved")


def _reopened_and_merged(scene: _Scene) -> None:
    now, tickets = scene.now, scene.book.ids()
    solved, targets, sources = tickets[:4], tickets[4:8], tickets[8:12]
    for k, ticket_id in enumerate(solved):
        again = TicketInput(status="open", comment=CommentInput(body="It happened again.", author_id=scene.customer(k)))
        scene.update(now, ticket_id, again, status="open")
    for source, target in zip(sources, targets, strict=True):
        closing = TicketInput(
            status="closed", additional_tags=["closed_by_merge"],
            comment=CommentInput(body=f"This request was closed and merged into request #{target}.", public=False),
        )  # fmt: skip
        note = CommentInput(body=f"Request #{source} was closed and merged into this request.", public=False)
        with scene.desk.store.writing() as w:  # a merge is one change of both tickets
            scene.update(now, source, closing, w, status="closed", tags=["closed_by_merge"])
            scene.update(now, target, TicketInput(comment=note), w)


Part = Callable[[_Scene], None]
#: Each scenario's parts: the first written when it is loaded, the second (if any) between the client's runs.
PARTS: dict[str, tuple[Part, ...]] = {
    "storm_over_page": (_storm_over_page,),
    "system_updates": (_questions, _renamed_and_rated),
    "deletes": (_orders, _deleted),
    "late_commit": (_invoices, _nothing),
    "rate_limited": (_requests,),
    "reopened_and_merged": (_problems, _reopened_and_merged),
}


def loaded(store: Store) -> dict[str, Any] | None:
    """The record of the scenario the database holds, or None."""
    stored = store.kv_get(KEY)
    return orjson.loads(stored) if stored is not None else None


def load(store: Store, name: str, now: int, accounts: Callable[[Desk], object] | None = None) -> dict[str, Any]:
    """Write scenario ``name``'s first part, stamped before ``now``, and its record; returns the record.

    On a database without users, ``accounts`` (``deskstream.demo.create_accounts``) makes the accounts first.
    """
    scenario = spec(name)
    with store.reading() as r:
        if r.kv_get(KEY) is not None:
            raise ScenarioError("the database already holds a scenario")
        if r.count_records("tickets") or r.load_sla_policies():
            raise ScenarioError(f"scenario {name!r} needs a database without tickets or SLA policies")
        empty = r.count_records("users") == 0
    if empty and accounts is not None:
        accounts(Desk(store, FixedClock(now - 5 * HOUR)))
    cast = _cast(store, now - 4 * HOUR, customers=5)
    scene = _Scene(store, now, cast, _Book())
    PARTS[name][0](scene)
    record = describe(scenario, now, step=1, tickets=scene.book.expected())
    with store.writing() as w:
        w.kv_set(_SCENE, orjson.dumps({"agent": cast.agent, "customers": cast.customers}).decode())
        w.kv_set(KEY, orjson.dumps(record).decode())
    return record


def play_next(store: Store, now: int) -> dict[str, Any]:
    """Write the loaded scenario's second part at ``now``, the time between the client's runs; returns the record,
    whose expected tickets are now the final ones. Refused for a scenario played in one run, and when done."""
    record, scene_text = loaded(store), store.kv_get(_SCENE)
    if record is None or scene_text is None:
        raise NoScenario("no scenario is loaded: start the server with --scenario NAME")
    scenario = spec(record["name"])
    if record["step"] >= scenario.runs:
        raise ScenarioError(f"scenario {scenario.name!r} has no step left: run the client and compare")
    scene = _Scene(store, now, _Cast(**orjson.loads(scene_text)), _Book(record["expected"]["tickets"]))
    PARTS[scenario.name][record["step"]](scene)
    record = describe(scenario, record["loaded_at"], step=record["step"] + 1, tickets=scene.book.expected())
    record["next_run_at"] = now + scenario.settle
    store.kv_set(KEY, orjson.dumps(record).decode())
    return record


def describe(scenario: ScenarioSpec, loaded_at: int, step: int, tickets: list[dict[str, Any]]) -> dict[str, Any]:
    """The scenario's record: the catalog's words, how to play it, the step reached and the tickets as they stand
    then (after the last step, what a correct client ends with)."""
    return {
        "name": scenario.name,
        "summary": scenario.summary,
        "faults": scenario.faults,
        "runs": scenario.runs,
        "step": step,
        "settle_seconds": scenario.settle,
        "steps": scenario.steps(),
        "correct": scenario.correct,
        "naive": scenario.naive,
        "loaded_at": loaded_at,
        "fields": list(FIELDS),
        "expected": {"tickets": tickets},
    }


def _set_values(spec_text: str) -> dict[str, Any]:
    """The faults a spec sets, by name (a seed or Retry-After given alone included)."""
    plan, off = faults.parse(spec_text), faults.FaultPlan()
    return {f.name: getattr(plan, f.name) for f in fields(plan) if getattr(plan, f.name) != getattr(off, f.name)}


def faults_with(name: str, given: str) -> str:
    """The scenario's faults with ``given`` (``--faults``) on top: a fault both name takes the given value."""
    return faults.plan_of({**_set_values(spec(name).faults), **_set_values(given)}).spec()
