"""SLA policies drive metric events through HTTP, on a simulated clock that the tests move.

Every test uses its own tag in its policy's filter, so the tests share one server without sharing policies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import func, select

from deskstream.clock import SimClock
from deskstream.domain.timefmt import iso
from deskstream.store import schema
from tests.conftest import AGENT, Server
from tests.helpers import NEW_YORK, clock, next_local, tag_policy, tagged_ticket
from tests.helpers import sim, sim_admin  # noqa: F401  (fixtures: this module's server on the simulated clock)

MINUTE = 60


def events(sim: Server, ticket_id: int) -> list[dict[str, Any]]:
    """The ticket's metric events as stored (the export is read in its own tests below)."""
    m = schema.ticket_metric_events
    with sim.read() as conn:
        rows = conn.execute(select(m.c.json).where(m.c.ticket_id == ticket_id).order_by(m.c.id)).all()
    return [orjson.loads(r.json) for r in rows]


def of(found: list[dict[str, Any]], metric: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in found if e["metric"] == metric and e["type"] == kind]


FIRST_REPLY_10 = [{"priority": "urgent", "metric": "first_reply_time", "target": 10, "business_hours": False}]


def test_an_urgent_ticket_under_a_policy_gets_apply_sla_with_the_policy_and_its_target(
    sim: Server, admin: httpx.Client
) -> None:
    made = tag_policy(admin, "sla_apply", FIRST_REPLY_10)
    t = tagged_ticket(admin, "sla_apply")
    applied = of(events(sim, t["id"]), "reply_time", "apply_sla")
    assert len(applied) == 1
    assert applied[0]["instance_id"] == 1 and applied[0]["time"] == t["created_at"]
    assert applied[0]["sla"] == {"target": 10, "business_hours": False,
                                 "policy": {"id": made["id"], "title": "Policy sla_apply", "description": "test"}}


def test_a_ticket_no_policy_matches_gets_metric_events_but_no_apply_sla(sim: Server, admin: httpx.Client) -> None:
    t = tagged_ticket(admin, "no_policy_here")
    found = events(sim, t["id"])
    assert {e["type"] for e in found} == {"measure", "activate"}
    assert {e["metric"] for e in found if e["type"] == "activate"} == {
        "agent_work_time", "reply_time", "requester_wait_time", "resolution_time"}


def test_an_unanswered_ticket_breaches_at_the_exact_target_time_as_the_clock_passes_it(
    sim: Server, admin: httpx.Client
) -> None:
    tag_policy(admin, "sla_breach", FIRST_REPLY_10)
    t = tagged_ticket(admin, "sla_breach")
    clock(admin, advance=9 * MINUTE)
    assert of(events(sim, t["id"]), "reply_time", "breach") == []
    clock(admin, advance=2 * MINUTE)
    breaches = of(events(sim, t["id"]), "reply_time", "breach")
    assert len(breaches) == 1
    assert breaches[0]["time"] == iso(t["generated_timestamp"] + 10 * MINUTE)
    assert breaches[0]["deleted"] is False and breaches[0]["instance_id"] == 1


def test_an_agent_public_reply_before_the_target_fulfills_and_no_breach_follows(
    sim: Server, admin: httpx.Client
) -> None:
    tag_policy(admin, "sla_fulfill", FIRST_REPLY_10)
    t = tagged_ticket(admin, "sla_fulfill")
    clock(admin, advance=4 * MINUTE)
    agent = sim.client(AGENT)
    assert agent.put(f"/api/v2/tickets/{t['id']}", json={"ticket": {"comment": {"body": "On it."}}}).status_code == 200
    clock(admin, advance=30 * MINUTE)
    found = events(sim, t["id"])
    fulfilled = of(found, "reply_time", "fulfill")
    assert [e["time"] for e in fulfilled] == [iso(t["generated_timestamp"] + 4 * MINUTE)]
    assert of(found, "reply_time", "update_status")[0]["status"]["calendar"] == 4
    assert of(found, "reply_time", "breach") == []


def test_a_private_note_does_not_fulfill_the_first_reply(sim: Server, admin: httpx.Client) -> None:
    tag_policy(admin, "sla_private", FIRST_REPLY_10)
    t = tagged_ticket(admin, "sla_private")
    note = {"ticket": {"comment": {"body": "internal", "public": False}}}
    assert admin.put(f"/api/v2/tickets/{t['id']}", json=note).status_code == 200
    clock(admin, advance=11 * MINUTE)
    found = events(sim, t["id"])
    assert of(found, "reply_time", "fulfill") == [] and len(of(found, "reply_time", "breach")) == 1


def test_pending_pauses_a_pausable_metric_so_it_breaches_later_by_the_paused_time(
    sim: Server, admin: httpx.Client
) -> None:
    tag_policy(admin, "sla_pause", [{"priority": "urgent", "metric": "agent_work_time", "target": 30}])
    t = tagged_ticket(admin, "sla_pause")
    start = t["generated_timestamp"]
    clock(admin, advance=10 * MINUTE)
    admin.put(f"/api/v2/tickets/{t['id']}", json={"ticket": {"status": "pending"}})
    clock(admin, advance=60 * MINUTE)
    found = events(sim, t["id"])
    assert [e["time"] for e in of(found, "agent_work_time", "pause")] == [iso(start + 10 * MINUTE)]
    assert of(found, "agent_work_time", "breach") == []
    admin.put(f"/api/v2/tickets/{t['id']}", json={"ticket": {"status": "open"}})
    clock(admin, advance=25 * MINUTE)
    found = events(sim, t["id"])
    resumed = start + 70 * MINUTE
    assert iso(resumed) in [e["time"] for e in of(found, "agent_work_time", "activate")]
    assert [e["time"] for e in of(found, "agent_work_time", "breach")] == [iso(resumed + 20 * MINUTE)]
    assert of(found, "reply_time", "pause") == []  # reply time is not pausable


def test_business_hours_targets_skip_nights_and_weekends(sim: Server, admin: httpx.Client) -> None:
    friday = datetime.fromtimestamp(next_local(admin, 4, 16, 30), NEW_YORK)
    tag_policy(admin, "sla_business", [
        {"priority": "urgent", "metric": "first_reply_time", "target": 60, "business_hours": True},
        {"priority": "urgent", "metric": "requester_wait_time", "target": 60, "business_hours": False}])
    t = tagged_ticket(admin, "sla_business")
    clock(admin, advance=3 * 86_400)
    found = events(sim, t["id"])
    monday = (friday + timedelta(days=3)).replace(hour=9, minute=30)
    assert [e["time"] for e in of(found, "reply_time", "breach")] == [iso(int(monday.timestamp()))]
    assert [e["time"] for e in of(found, "requester_wait_time", "breach")] == [iso(int(friday.timestamp()) + 3600)]


def test_lowering_the_priority_after_a_breach_undoes_it_with_deleted_true(sim: Server, admin: httpx.Client) -> None:
    tag_policy(admin, "sla_undo", FIRST_REPLY_10 + [
        {"priority": "low", "metric": "first_reply_time", "target": 600, "business_hours": False}])
    t = tagged_ticket(admin, "sla_undo")
    clock(admin, advance=15 * MINUTE)
    admin.put(f"/api/v2/tickets/{t['id']}", json={"ticket": {"priority": "low"}})
    found = events(sim, t["id"])
    assert [e["deleted"] for e in of(found, "reply_time", "breach")] == [True]
    assert [e["sla"]["target"] for e in of(found, "reply_time", "apply_sla")] == [10, 600]


def test_a_breach_is_a_system_update_in_incremental_tickets_and_in_no_audit(sim: Server, admin: httpx.Client) -> None:
    tag_policy(admin, "sla_system", FIRST_REPLY_10)
    t = tagged_ticket(admin, "sla_system")
    audits = admin.get(f"/api/v2/tickets/{t['id']}/audits").json()["audits"]
    clock(admin, advance=11 * MINUTE)
    clock(admin, advance=2 * MINUTE)  # past the export horizon
    page = admin.get("/api/v2/incremental/tickets", params={"start_time": t["generated_timestamp"] + 1}).json()
    exported = next(x for x in page["tickets"] if x["id"] == t["id"])
    assert exported["generated_timestamp"] > t["generated_timestamp"]
    assert exported["updated_at"] == t["updated_at"]
    assert admin.get(f"/api/v2/tickets/{t['id']}/audits").json()["audits"] == audits
    metric = admin.get("/api/v2/incremental/ticket_metric_events", params={"start_time": t["generated_timestamp"]})
    mine = [e for e in metric.json()["ticket_metric_events"] if e["ticket_id"] == t["id"]]
    assert [e["type"] for e in mine if e["metric"] == "reply_time"] == ["measure", "activate", "apply_sla", "breach"]


def test_renaming_the_requester_is_a_system_update_of_the_ticket(sim: Server, admin: httpx.Client) -> None:
    t = tagged_ticket(admin, "sla_rename")
    clock(admin, advance=5 * MINUTE)
    user_id = t["requester_id"]
    admin.put(f"/api/v2/users/{user_id}", json={"user": {"name": f"Renamed {t['id']}"}})
    shown = admin.get(f"/api/v2/tickets/{t['id']}").json()["ticket"]
    assert shown["generated_timestamp"] == t["generated_timestamp"] + 5 * MINUTE
    assert shown["updated_at"] == t["updated_at"]
    assert len(admin.get(f"/api/v2/tickets/{t['id']}/audits").json()["audits"]) == 1


def test_the_scheduler_writes_a_breach_when_nobody_writes(sim: Server, admin: httpx.Client) -> None:
    tag_policy(admin, "sla_scheduler", FIRST_REPLY_10)
    t = tagged_ticket(admin, "sla_scheduler")
    store = sim.store()
    SimClock(store).advance(11 * MINUTE)  # moves the stored clock without the route's own breach pass
    store.dispose()
    deadline = time.monotonic() + 10
    while not of(events(sim, t["id"]), "reply_time", "breach") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [e["time"] for e in of(events(sim, t["id"]), "reply_time", "breach")] == [
        iso(t["generated_timestamp"] + 10 * MINUTE)]


def test_several_server_processes_write_each_breach_once(make_server: Callable[..., Server]) -> None:
    many = make_server("--clock", "sim", "--rate-limit", "off", "--workers", "3")
    admin = many.client()
    tag_policy(admin, "sla_many", FIRST_REPLY_10)
    made = [tagged_ticket(admin, "sla_many") for _ in range(5)]
    store = many.store()
    now = SimClock(store).advance(11 * MINUTE)
    store.dispose()
    # Done when every breach is written and no target is due any more: then no process has a breach left to write.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        written = all(of(events(many, t["id"]), "reply_time", "breach") for t in made)
        with many.read() as conn:
            s = schema.sla_states
            due = conn.execute(select(func.count()).select_from(s).where(s.c.next_deadline < now)).scalar_one()
        if written and not due:
            break
        time.sleep(0.2)
    for t in made:
        assert len(of(events(many, t["id"]), "reply_time", "breach")) == 1
