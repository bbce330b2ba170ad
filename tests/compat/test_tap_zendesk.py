"""tap-zendesk 2.8.2 (Singer), unchanged but for the documented shim: discovery, a full sync whose records are the
source's, and a second run from its state that emits nothing new."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tests.compat.conftest import TAP_STREAMS
from tests.compat.runners import Tap

if TYPE_CHECKING:
    from tests.compat.conftest import Source
    from tests.compat.runners import Background

#: Every stream the tap discovers on Zendesk: none may be dropped for a 403 or crash discovery.
DISCOVERED = {
    "tickets", "groups", "users", "organizations", "ticket_audits", "ticket_comments", "ticket_fields", "ticket_forms",
    "group_memberships", "macros", "satisfaction_ratings", "tags", "ticket_metrics", "ticket_metric_events",
    "sla_policies", "talk_phone_numbers",
}  # fmt: skip

#: The source table behind each synced stream.
TABLES = {"tickets": "tickets", "users": "users", "organizations": "organizations",
          "ticket_metric_events": "ticket_metric_events"}  # fmt: skip


def records(messages: list[dict[str, Any]]) -> dict[str, dict[int, dict[str, Any]]]:
    """Each stream's records by id (a record emitted twice must be the same record)."""
    by_stream: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for message in messages:
        if message["type"] == "RECORD":
            record = message["record"]
            seen = by_stream[message["stream"]].setdefault(record["id"], record)
            assert seen == record, f"{message['stream']} {record['id']} emitted twice, differently"
    return by_stream


def last_state(messages: list[dict[str, Any]]) -> dict[str, Any]:
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    assert states, "the tap wrote no state"
    state: dict[str, Any] = states[-1]
    return state


def same(emitted: Any, stored: Any) -> bool:
    """A record's value is the stored one, through singer-python's transform: date-times rewritten with
    microseconds, and a null boolean emitted as ``false``."""
    if emitted == stored or (stored is None and emitted is False):
        return True
    if isinstance(emitted, str) and isinstance(stored, str) and stored.endswith("Z"):
        try:
            return datetime.fromisoformat(emitted) == datetime.fromisoformat(stored)
        except ValueError:
            return False
    if isinstance(emitted, dict) and isinstance(stored, dict):
        return all(same(v, stored.get(k)) for k, v in emitted.items())
    if isinstance(emitted, list) and isinstance(stored, list):
        return len(emitted) == len(stored) and all(same(a, b) for a, b in zip(emitted, stored, strict=True))
    return False


def test_discovery_finds_every_stream_and_each_schema(tap_catalog: dict[str, Any]) -> None:
    streams = {s["tap_stream_id"]: s for s in tap_catalog["streams"]}
    assert set(streams) == DISCOVERED
    assert all(streams[name]["schema"]["properties"] for name in TAP_STREAMS)


def test_a_full_sync_emits_exactly_the_sources_records(tap_first_sync: Background, source: Source) -> None:
    synced = records(tap_first_sync.messages())
    assert set(synced) == set(TAP_STREAMS)
    expected = {
        "tickets": source.tickets(),
        "users": source.users(),
        "organizations": source.organizations(),
        "ticket_metric_events": source.ticket_metric_events(),
    }
    for stream, table in TABLES.items():
        assert set(synced[stream]) == expected[stream], stream
        stored = {item["id"]: item for item in source.rows(table)}
        for record_id, record in synced[stream].items():
            item = stored[record_id]
            differ = [k for k, v in record.items() if k in item and not same(v, item[k])]
            assert not differ, f"{stream} {record_id}: {[(k, record[k], item[k]) for k in differ]}"
    assert any(t["status"] == "deleted" for t in synced["tickets"].values())


def test_a_second_run_from_the_state_file_emits_nothing_new(
    tap: Tap, tap_catalog: dict[str, Any], tap_first_sync: Background
) -> None:
    first = tap_first_sync.messages()
    state = last_state(first)
    assert set(state["bookmarks"]) == set(TAP_STREAMS)
    second = tap.start(Tap.select(tap_catalog, TAP_STREAMS), "second", state).messages()
    before, again = records(first), records(second)
    for stream, emitted in again.items():
        # Zendesk's start_time is inclusive: the bookmark's own second is read again, and nothing else.
        assert all(before[stream][i] == record for i, record in emitted.items()), stream
        assert len(emitted) < len(before[stream]) / 10, stream
    assert last_state(second)["bookmarks"] == state["bookmarks"]
