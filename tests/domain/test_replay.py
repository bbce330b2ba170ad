"""Property: whatever sequence of updates a ticket goes through, its audits alone rebuild it.

Random updates run through :class:`Desk` on a real SQLite file. Replaying the audits' child events (both stored
forms: the audits API's ``events`` and the export's flat ``child_events``) over an empty ticket must give the final
ticket's tracked fields; and after every step the two times follow the rules of spec/model.md: an audited change
moves ``updated_at`` and ``generated_timestamp``, a no-op moves neither, a system update moves only
``generated_timestamp``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from deskstream.clock import FixedClock
from deskstream.domain.people import GroupInput, UserInput
from deskstream.domain.tickets import PRIORITIES, STATUSES, TRACKED_FIELDS, TYPES, TicketInput
from deskstream.domain.timefmt import iso
from deskstream.exceptions import Unprocessable
from deskstream.service import Actor, Desk
from deskstream.store import Store, schema

LIST_FIELDS = ("tags", "collaborator_ids", "follower_ids", "email_cc_ids")


class World:
    """A desk on a real SQLite file, a clock the test moves, and the people and groups updates may point at."""

    def __init__(self, directory: Path) -> None:
        self.store = Store(f"sqlite:///{directory / 'replay.db'}")
        self.store.migrate()
        self.clock = FixedClock(1_700_000_000)
        self.desk = Desk(self.store, self.clock)
        people = self.desk.people
        self.agents = [
            people.create_user(UserInput(email=f"agent{i}@replay.test", name=f"Agent {i}", role="agent"))["id"]
            for i in range(2)
        ]
        self.requester = people.create_user(UserInput(email="req@replay.test", name="Requester"))["id"]
        self.groups = [people.create_group(GroupInput(name=f"G{i}"))["id"] for i in range(2)]
        self.actor = Actor(self.agents[0], "agent", "web")

    def row(self, ticket_id: int) -> tuple[dict[str, Any], int, int]:
        """The stored ticket, its generated_timestamp and its updated_at (the columns exports order by)."""
        t = schema.tickets
        with self.store.read() as conn:
            found = conn.execute(select(t.c.json, t.c.generated_timestamp, t.c.updated_at).where(t.c.id == ticket_id))
            json, generated, updated = found.one()
        return orjson.loads(json), int(generated), int(updated)

    def audits(self, ticket_id: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(audits-API item, export item) of each audit, oldest first."""
        e = schema.ticket_events
        with self.store.read() as conn:
            rows = conn.execute(select(e.c.audit_json, e.c.json).where(e.c.ticket_id == ticket_id).order_by(e.c.id))
            return [(orjson.loads(api), orjson.loads(export)) for api, export in rows]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return World(tmp_path_factory.mktemp("replay"))


def updates() -> st.SearchStrategy[dict[str, Any]]:
    """One ticket update as a client would send it (ids as indexes into the world's agents and groups)."""
    words = st.sampled_from(["billing", "vip", "bug", "urgent", "Refund Me"])
    optional = {
        "status": st.sampled_from([s for s in STATUSES if s != "closed"]),
        "priority": st.none() | st.sampled_from(PRIORITIES),
        "type": st.none() | st.sampled_from(TYPES),
        "subject": st.sampled_from(["a", "b", "Printer on fire"]),
        "assignee": st.none() | st.integers(0, 1),
        "group": st.none() | st.integers(0, 1),
        "tags": st.lists(words, max_size=3),
        "additional_tags": st.lists(words, max_size=2),
        "remove_tags": st.lists(words, max_size=2),
        "custom_fields": st.lists(
            st.fixed_dictionaries({"id": st.integers(1, 3), "value": st.none() | st.integers(0, 2) | st.text("xy")}),
            max_size=2,
        ),
        "collaborators": st.lists(st.integers(0, 1), max_size=2),
        "due_at": st.none() | st.integers(1_800_000_000, 1_800_100_000).map(iso),
        "external_id": st.none() | st.sampled_from(["ext-1", "ext-2"]),
        "comment": st.fixed_dictionaries({"body": st.sampled_from(["hi", "more"]), "public": st.booleans()}),
    }
    return st.fixed_dictionaries({}, optional=optional)  # type: ignore[arg-type]


#: A step: ("update", fields, seconds later) or ("rename", requester's new name, seconds later).
steps = st.lists(
    st.tuples(st.just("update"), updates(), st.integers(0, 2))
    | st.tuples(st.just("rename"), st.sampled_from(["R1", "R2"]), st.integers(0, 2)),
    min_size=1,
    max_size=8,
)


def ticket_input(world: World, fields: dict[str, Any]) -> TicketInput:
    body = dict(fields)
    if "assignee" in body:
        index = body.pop("assignee")
        body["assignee_id"] = None if index is None else world.agents[index]
    if "group" in body:
        index = body.pop("group")
        body["group_id"] = None if index is None else world.groups[index]
    if "collaborators" in body:
        body["collaborator_ids"] = [world.agents[i] for i in body.pop("collaborators")]
    return TicketInput.model_validate(body)


def tracked(ticket: dict[str, Any]) -> dict[str, Any]:
    """The fields audits record: TRACKED_FIELDS and each custom field with a value."""
    state = {name: ticket[name] for name in TRACKED_FIELDS}
    state.update({str(f["id"]): f["value"] for f in ticket["custom_fields"] if f["value"] is not None})
    return state


def replay_api(audits: list[dict[str, Any]]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for audit in audits:
        for event in audit["events"]:
            if event["type"] in ("Create", "Change"):
                state[event["field_name"]] = event["value"]
    return state


def replay_export(items: list[dict[str, Any]]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for item in items:
        for child in item["child_events"]:
            if "custom_ticket_fields" in child:
                state.update(child["custom_ticket_fields"])
                continue
            names = [k for k in child if k not in ("id", "via", "via_reference_id", "event_type", "previous_value",
                                                   "added_tags", "removed_tags")]  # fmt: skip
            assert len(names) == 1, child
            state[names[0]] = child[names[0]]
    return state


def normalized(replayed: dict[str, Any]) -> dict[str, Any]:
    """A replayed state over the empty ticket: fields never set are blank, custom fields set to null are unset."""
    state = {name: replayed.get(name, [] if name in LIST_FIELDS else None) for name in TRACKED_FIELDS}
    state.update({k: v for k, v in replayed.items() if k.isdigit() and v is not None})
    return state


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=steps)
def test_replaying_the_audits_rebuilds_the_ticket_and_each_step_keeps_the_time_rules(
    world: World, history: list[tuple[str, Any, int]]
) -> None:
    desk, clock = world.desk, world.clock
    ticket_id = desk.tickets.create(
        TicketInput(subject="start", comment={"body": "first"}, requester_id=world.requester), world.actor
    )["id"]
    for kind, payload, seconds in history:
        clock.value += seconds
        before, generated_before, updated_before = world.row(ticket_id)
        audits_before = len(world.audits(ticket_id))
        if kind == "rename":
            desk.people.update_user(world.requester, UserInput(name=payload))
        else:
            try:
                desk.tickets.update(ticket_id, ticket_input(world, payload), world.actor)
            except Unprocessable:
                pass  # e.g. a comment-less update of nothing is fine; refusals must write nothing (checked below)
        after, generated, updated = world.row(ticket_id)
        audited = len(world.audits(ticket_id)) - audits_before
        assert audited in (0, 1)
        if audited:
            assert (generated, updated, after["updated_at"]) == (clock.value, clock.value, iso(clock.value))
        elif after != before:
            assert kind == "rename" and tracked(after) == tracked(before)
            assert (generated, updated, after["updated_at"]) == (clock.value, updated_before, before["updated_at"])
        else:
            assert (generated, updated) == (generated_before, updated_before)
    final = tracked(world.row(ticket_id)[0])
    audits = world.audits(ticket_id)
    assert normalized(replay_api([api for api, _ in audits])) == final
    assert normalized(replay_export([export for _, export in audits])) == final
