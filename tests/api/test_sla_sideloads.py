"""The ticket's SLA data through sideloads: ``include=slas`` (the engine's targets, as Zendesk's badge shows them),
``include=metric_sets`` (calendar and business minutes) and the Ticket Metrics API, over HTTP on a simulated clock.

Each test uses its own tag in its policy's filter, so the tests share one server without sharing policies; each
moves the clock forward to the moment it needs (the clock never goes back).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from deskstream.domain.timefmt import iso
from tests.conftest import AGENT, END_USER, Server
from tests.helpers import NEW_YORK, clock, next_local, tag_policy, tagged_ticket
from tests.helpers import sim, sim_admin  # noqa: F401  (fixtures: this module's server on the simulated clock)

MINUTE, HOUR = 60, 3600
EXPORTS = "/api/v2/incremental"


def policy(admin: httpx.Client, tag: str, *metrics: tuple[str, int, bool]) -> None:
    """A policy for urgent tickets tagged ``tag``, with these (metric, target, business_hours)."""
    tag_policy(admin, tag, [{"priority": "urgent", "metric": m, "target": target, "business_hours": business}
                            for m, target, business in metrics])


def ticket(admin: httpx.Client, tag: str) -> int:
    return int(tagged_ticket(admin, tag)["id"])


def update(admin: httpx.Client, ticket_id: int, **fields: Any) -> None:
    answer = admin.put(f"/api/v2/tickets/{ticket_id}", json={"ticket": fields})
    assert answer.status_code == 200, answer.text


def reply(admin: httpx.Client, ticket_id: int, **fields: Any) -> None:
    update(admin, ticket_id, comment={"body": "On it.", "public": True}, **fields)


def slas(admin: httpx.Client, ticket_id: int) -> list[dict[str, Any]]:
    answer = admin.get(f"/api/v2/tickets/{ticket_id}?include=slas")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["ticket"]["slas"]["policy_metrics"])


def exported(admin: httpx.Client, path: str, since: int, ticket_id: int, include: str) -> dict[str, Any]:
    """The ticket as the export serves it (the clock must be a minute past its last change)."""
    body = admin.get(f"{EXPORTS}/{path}?start_time={since}&include={include}").json()
    return next(t for t in body["tickets"] if t["id"] == ticket_id)


def test_an_urgent_ticket_shows_its_running_target_with_breach_at_and_the_minutes_left(admin: httpx.Client) -> None:
    policy(admin, "side_active", ("first_reply_time", 10, False))
    created = clock(admin)
    t = ticket(admin, "side_active")
    expected = {"breach_at": iso(created + 10 * MINUTE), "stage": "active", "metric": "first_reply_time"}
    assert slas(admin, t) == [{**expected, "minutes": 10}]
    clock(admin, advance=4 * MINUTE + 30)
    assert slas(admin, t) == [{**expected, "minutes": 6}]


def test_an_agent_reply_before_the_target_leaves_it_achieved_without_a_breach(admin: httpx.Client) -> None:
    policy(admin, "side_reply", ("first_reply_time", 10, False), ("total_resolution_time", 3 * 24 * 60, False))
    created = clock(admin)
    t = ticket(admin, "side_reply")
    assert [(m["metric"], m["stage"]) for m in slas(admin, t)] == [
        ("first_reply_time", "active"), ("total_resolution_time", "active")]
    clock(admin, advance=5 * MINUTE)
    reply(admin, t)
    assert slas(admin, t) == [
        {"breach_at": iso(created + 3 * 24 * HOUR), "stage": "active", "metric": "total_resolution_time",
         "days": 2},
        {"breach_at": None, "stage": "achieved", "metric": "first_reply_time"},
    ]


def test_a_breached_target_keeps_its_breach_at_and_counts_the_time_since_in_every_export(
    admin: httpx.Client,
) -> None:
    policy(admin, "side_breach", ("first_reply_time", 10, False))
    created = clock(admin)
    t = ticket(admin, "side_breach")
    clock(admin, advance=12 * MINUTE)
    breached = {"breach_at": iso(created + 10 * MINUTE), "stage": "active", "metric": "first_reply_time"}
    assert slas(admin, t) == [{**breached, "minutes": -2}]
    listed = admin.get("/api/v2/tickets?include=slas&per_page=100&page=1")
    assert {x["id"]: x["slas"]["policy_metrics"] for x in listed.json()["tickets"]}[t] == [{**breached, "minutes": -2}]
    clock(admin, advance=2 * MINUTE)  # the breach moved generated_timestamp: exported a minute later
    for path in ("tickets", "tickets/cursor"):
        assert exported(admin, path, created, t, "slas")["slas"]["policy_metrics"] == [{**breached, "minutes": -4}]
    reply(admin, t)
    assert slas(admin, t) == [{**breached, "stage": "achieved"}]


def test_a_paused_target_has_no_breach_at_and_shows_the_target_left_to_run(admin: httpx.Client) -> None:
    policy(admin, "side_paused", ("agent_work_time", 120, False))
    t = ticket(admin, "side_paused")
    clock(admin, advance=30 * MINUTE)
    update(admin, t, status="pending")
    clock(admin, advance=5 * HOUR)
    assert slas(admin, t) == [{"breach_at": None, "stage": "paused", "metric": "agent_work_time", "hours": 1}]
    update(admin, t, status="open")
    resumed = clock(admin)
    assert slas(admin, t) == [{"breach_at": iso(resumed + 90 * MINUTE), "stage": "active",
                               "metric": "agent_work_time", "hours": 1}]


def test_a_business_hours_target_set_late_on_friday_breaches_on_monday_and_counts_business_time_left(
    admin: httpx.Client,
) -> None:
    policy(admin, "side_business", ("first_reply_time", 60, True))
    friday = next_local(admin, 4, 16, 30)
    t = ticket(admin, "side_business")
    monday = int(datetime.fromtimestamp(friday + 3 * 24 * HOUR, NEW_YORK).replace(hour=9, minute=30).timestamp())
    assert slas(admin, t) == [{"breach_at": iso(monday), "stage": "active", "metric": "first_reply_time",
                               "hours": 1}]
    clock(admin, advance=12 * HOUR)  # Saturday 04:30: 30 business minutes left, whatever the calendar says
    assert slas(admin, t)[0]["minutes"] == 30


def test_metric_sets_count_business_minutes_on_the_account_schedule_across_a_weekend(admin: httpx.Client) -> None:
    """Created Friday 16:00, replied and put on hold Monday 10:00, reopened 10:30, solved 11:00 (New York)."""
    friday = next_local(admin, 4, 16)
    t = ticket(admin, "side_metrics")
    monday = int(datetime.fromtimestamp(friday + 3 * 24 * HOUR, NEW_YORK).replace(hour=10).timestamp())
    clock(admin, set=monday)
    reply(admin, t, status="hold")
    clock(admin, advance=30 * MINUTE)
    update(admin, t, status="open")
    clock(admin, advance=30 * MINUTE)
    update(admin, t, status="solved")
    clock(admin, advance=2 * MINUTE)
    span = (monday + HOUR - friday) // MINUTE  # 66 calendar hours and one (on standard or summer time alike)
    metric_set = exported(admin, "tickets/cursor", friday, t, "metric_sets")["metric_set"]
    assert metric_set["reply_time_in_minutes"] == {"calendar": span - 60, "business": 120}
    assert metric_set["first_resolution_time_in_minutes"] == {"calendar": span, "business": 180}
    assert metric_set["full_resolution_time_in_minutes"] == {"calendar": span, "business": 180}
    assert metric_set["requester_wait_time_in_minutes"] == {"calendar": span, "business": 180}
    assert metric_set["on_hold_time_in_minutes"] == {"calendar": 30, "business": 30}
    assert metric_set["agent_wait_time_in_minutes"] == {"calendar": 0, "business": 0}
    assert (metric_set["replies"], metric_set["reopens"]) == (1, 0)
    assert metric_set["solved_at"] == iso(monday + HOUR) and metric_set["ticket_id"] == t
    # The Ticket Metrics API and the Tickets API's top-level sideload serve the same object.
    assert admin.get(f"/api/v2/tickets/{t}/metrics").json()["ticket_metric"] == metric_set
    assert admin.get(f"/api/v2/ticket_metrics/{t}").json()["ticket_metric"] == metric_set
    shown = admin.get(f"/api/v2/tickets/{t}?include=metric_sets").json()
    assert shown["metric_sets"] == [metric_set] and "metric_set" not in shown["ticket"]
    listed = admin.get("/api/v2/ticket_metrics?per_page=100").json()
    assert metric_set in listed["ticket_metrics"] and listed["count"] == len(listed["ticket_metrics"])


def test_a_public_comment_by_another_end_user_is_not_a_reply(admin: httpx.Client) -> None:
    t = ticket(admin, "side_cc")
    other = admin.post("/api/v2/users", json={"user": {"name": "Copied", "email": "copied@example.com"}})
    assert other.status_code == 201, other.text
    update(admin, t, comment={"body": "Any news?", "public": True, "author_id": other.json()["user"]["id"]})
    assert admin.get(f"/api/v2/tickets/{t}/metrics").json()["ticket_metric"]["replies"] == 0
    reply(admin, t)
    assert admin.get(f"/api/v2/tickets/{t}/metrics").json()["ticket_metric"]["replies"] == 1


def test_end_users_get_their_tickets_without_sla_data_and_no_ticket_metrics(sim: Server, admin: httpx.Client) -> None:
    t = ticket(admin, "side_access")
    customer = sim.client(END_USER)
    shown = customer.get(f"/api/v2/tickets/{t}?include=slas,metric_sets").json()
    assert "slas" not in shown["ticket"] and "metric_sets" not in shown
    assert customer.get(f"/api/v2/tickets/{t}/metrics").status_code == 403
    assert sim.client(AGENT).get(f"/api/v2/tickets/{t}/metrics").status_code == 200
    admin.delete(f"/api/v2/tickets/{t}")
    assert admin.get(f"/api/v2/tickets/{t}/metrics").status_code == 404


def test_a_ticket_without_a_policy_has_empty_policy_metrics(admin: httpx.Client) -> None:
    assert slas(admin, ticket(admin, "side_none")) == []
