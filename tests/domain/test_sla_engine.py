"""The SLA engine's rules, without a database: business hours, and valid metric-event sequences for any history."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from deskstream.domain.sla_engine import Change, Engine, SlaState
from deskstream.domain.sla_hours import ACCOUNT_SCHEDULE, add_business_seconds, business_seconds

NY = ZoneInfo("America/New_York")


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=NY).timestamp())


def test_an_hour_of_business_time_from_friday_afternoon_ends_on_monday_morning() -> None:
    assert add_business_seconds(at("2024-05-10 16:30"), 3600) == at("2024-05-13 09:30")


def test_nights_and_weekends_count_no_business_time() -> None:
    assert business_seconds(at("2024-05-10 17:00"), at("2024-05-13 09:00")) == 0
    assert business_seconds(at("2024-05-09 16:00"), at("2024-05-10 10:00")) == 2 * 3600


def test_business_time_started_outside_hours_begins_at_the_next_opening() -> None:
    assert add_business_seconds(at("2024-05-11 12:00"), 60) == at("2024-05-13 09:01")


def test_business_hours_follow_local_time_across_a_dst_change() -> None:
    # 2024-03-10: New York moves to EDT; Monday 09:00 local is 13:00 UTC, not 14:00.
    assert add_business_seconds(at("2024-03-08 16:59"), 120) == at("2024-03-11 09:01")
    assert ACCOUNT_SCHEDULE.time_zone == "America/New_York"


POLICY = {"id": 1, "title": "P", "description": "", "filter": {"all": [], "any": []}, "policy_metrics": [
    {"priority": p, "metric": m, "target": t, "business_hours": b}
    for p, t in (("urgent", 10), ("high", 60), ("low", 600))
    for m, b in (("first_reply_time", False), ("next_reply_time", False), ("agent_work_time", True),
                 ("requester_wait_time", False), ("pausable_update_time", False), ("periodic_update_time", True),
                 ("total_resolution_time", False))]}

steps = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.integers(1, 3 * 86_400)),
        st.tuples(st.just("status"), st.sampled_from(["open", "pending", "hold", "solved"])),
        st.tuples(st.just("priority"), st.sampled_from(["urgent", "high", "normal", "low", None])),
        st.tuples(st.just("comment"), st.booleans()),
        st.tuples(st.just("policy"), st.booleans()),
    ),
    max_size=25,
)


def run(history: list[tuple[str, Any]], priority: str) -> list[dict[str, Any]]:
    """Play a ticket's history through the engine, giving events ids as the service does."""
    engine, state = Engine(), SlaState(1)
    ticket: dict[str, Any] = {"id": 1, "status": "new", "priority": priority}
    now, policy, written = at("2024-05-06 08:00"), POLICY, []
    next_id = 1

    def record(out_events: list[dict[str, Any]], undone: list[int]) -> None:
        nonlocal next_id
        for event in out_events:
            event["id"], next_id = next_id, next_id + 1
        engine.assign_breach_ids(state, out_events)
        written.extend(out_events)
        for event in written:
            if event["id"] in undone:
                event["deleted"] = True

    out = engine.on_change(state, Change(None, dict(ticket), now), policy)
    record(out.events, out.undone)
    for kind, value in history:
        before = dict(ticket)
        by_agent = None
        if kind == "wait":
            now += value
            record(engine.breaches_due(state, now), [])
            continue
        if ticket["status"] == "closed":
            continue
        if kind == "status":
            ticket["status"] = value
        elif kind == "priority":
            ticket["priority"] = value
        elif kind == "comment":
            by_agent = value
        elif kind == "policy":
            policy = POLICY if value else None
        out = engine.on_change(state, Change(before, dict(ticket), now, by_agent), policy)
        record(out.events, out.undone)
    return written


@settings(max_examples=150, deadline=None)
@given(history=steps, priority=st.sampled_from(["urgent", "high", "low", "normal"]))
def test_metric_events_of_any_history_form_valid_sequences(history: list[tuple[str, Any]], priority: str) -> None:
    written = run(history, priority)
    ids = [e["id"] for e in written]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for event in written:
        by_metric.setdefault(event["metric"], []).append(event)
    for metric, items in by_metric.items():
        instances = [e["instance_id"] for e in items]
        assert instances == sorted(instances), f"{metric}: instance ids go back"
        assert items[0]["type"] == "measure" and items[0]["instance_id"] == 0
        for number in set(instances) - {0}:
            kinds = [e for e in items if e["instance_id"] == number]
            assert kinds[0]["type"] == "activate", f"{metric} #{number} starts with {kinds[0]['type']}"
            applied = [e for e in kinds if e["type"] == "apply_sla"]
            breaches = [e for e in kinds if e["type"] == "breach"]
            live = [e for e in breaches if not e["deleted"]]
            assert len(live) <= 1, f"{metric} #{number} breached twice"
            for breach in breaches:
                assert applied and applied[0]["id"] < breach["id"], "a breach without apply_sla"
                assert breach["time"] >= applied[0]["time"]
            fulfills = [e for e in kinds if e["type"] == "fulfill"]
            if metric in ("reply_time", "periodic_update_time", "pausable_update_time"):
                assert len(fulfills) <= 1, f"{metric} #{number} fulfilled twice"


def test_a_target_lowered_below_the_time_already_run_breaches_when_applied_not_in_the_past() -> None:
    engine, state = Engine(), SlaState(7)
    start = at("2024-05-06 10:00")
    engine.on_change(state, Change(None, {"id": 7, "status": "new", "priority": "low"}, start), POLICY)
    later = start + 3600
    out = engine.on_change(
        state, Change({"id": 7, "status": "new", "priority": "low"}, {"id": 7, "status": "new", "priority": "urgent"},
                      later), POLICY)
    assert [e["type"] for e in out.events if e["metric"] == "reply_time"] == ["apply_sla"]
    breaches = [e for e in engine.breaches_due(state, later + 1) if e["metric"] == "reply_time"]
    assert [e["_ts"] for e in breaches] == [later]
