"""Airbyte's source-zendesk-support 4.9.1, unchanged but for the documented host shim: check, discovery, an
incremental read whose records are the source's, and a second read from its state that emits nothing new."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from tests.compat.conftest import AIRBYTE_STREAMS
from tests.compat.runners import Airbyte

if TYPE_CHECKING:
    from tests.compat.conftest import Source
    from tests.compat.runners import Background

#: The source table behind each stream read here (ticket_comments: the Comment child events of ticket_events).
TABLES = {"tickets": "tickets", "users": "users", "organizations": "organizations",
          "ticket_metric_events": "ticket_metric_events", "ticket_comments": "comments"}  # fmt: skip


def records(messages: list[dict[str, Any]]) -> dict[str, dict[int, dict[str, Any]]]:
    """Each stream's records by id (a record emitted twice must be the same record)."""
    by_stream: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for message in messages:
        if message["type"] == "RECORD":
            stream, record = message["record"]["stream"], message["record"]["data"]
            seen = by_stream[stream].setdefault(record["id"], record)
            assert seen == record, f"{stream} {record['id']} emitted twice, differently"
    return by_stream


def states(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last state message of each stream, as Airbyte's platform keeps them for the next read."""
    last = {m["state"]["stream"]["stream_descriptor"]["name"]: m["state"] for m in messages if m["type"] == "STATE"}
    return list(last.values())


def test_the_connection_check_succeeds(airbyte: Airbyte) -> None:
    assert airbyte.check() == "SUCCEEDED"


def test_discovery_offers_every_stream_read_here_incrementally(airbyte_catalog: dict[str, Any]) -> None:
    streams = {s["name"]: s for s in airbyte_catalog["streams"]}
    for name in AIRBYTE_STREAMS:
        assert "incremental" in streams[name]["supported_sync_modes"], name


def test_a_full_read_emits_exactly_the_sources_records(airbyte_first_read: Background, source: Source) -> None:
    read = records(airbyte_first_read.messages())
    expected = {
        "tickets": source.tickets(),
        "users": source.users(),
        "organizations": source.organizations(),
        "ticket_metric_events": source.ticket_metric_events(),
        "ticket_comments": source.comments(),
    }
    assert set(read) == set(AIRBYTE_STREAMS)
    for stream, table in TABLES.items():
        assert set(read[stream]) == expected[stream], stream
        stored = {item["id"]: item for item in source.rows(table)}
        for record_id, record in read[stream].items():
            item = stored[record_id]
            differ = [k for k, v in record.items() if k in item and v != item[k]]
            assert not differ, f"{stream} {record_id}: {[(k, record[k], item[k]) for k in differ]}"
    assert any(t["status"] == "deleted" for t in read["tickets"].values())


def test_a_second_read_from_its_state_emits_nothing_new(
    airbyte: Airbyte, airbyte_catalog: dict[str, Any], airbyte_first_read: Background
) -> None:
    first = airbyte_first_read.messages()
    state = states(first)
    assert {s["stream"]["stream_descriptor"]["name"] for s in state} == set(AIRBYTE_STREAMS)
    second = airbyte.start(Airbyte.configure(airbyte_catalog, AIRBYTE_STREAMS), "second", state).messages()
    before, again = records(first), records(second)
    for stream, emitted in again.items():
        # Zendesk's start_time is inclusive: the state's own second is read again, and nothing else.
        assert all(before[stream][i] == record for i, record in emitted.items()), stream
        assert len(emitted) < len(before[stream]) / 10, stream
