"""The seeds' two ``curl`` commands, verbatim but for host and credentials, followed page by page to the end of the
stream on the generated history: what they read is the source."""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.compat.conftest import Source
    from tests.conftest import Server


def seed_curl(url: str, *query: str) -> dict[str, Any]:
    """The seed's command (``-G -d "start_time=0"``); a next page is its URL as served, with no ``-d``."""
    command = ["curl", "-s", "-S", "-f", "-u", "admin@example.com:deskstream", "-G", *query,
               "-H", "Accept: application/json", url]  # fmt: skip
    body: dict[str, Any] = json.loads(subprocess.run(command, capture_output=True, check=True, timeout=60).stdout)
    return body


@pytest.mark.parametrize(("path", "key"), [("tickets", "tickets"), ("ticket_events", "ticket_events")])
def test_a_seed_curl_followed_to_the_end_of_the_stream_reads_every_record(
    history: Server, source: Source, path: str, key: str
) -> None:
    body = seed_curl(f"{history.base_url}/api/v2/incremental/{path}", "-d", "start_time=0")
    ids: set[int] = set()
    pages = 1
    while True:
        ids.update(item["id"] for item in body[key])
        assert body["count"] == len(body[key])
        if body["end_of_stream"] is True:
            break
        assert body["next_page"].startswith(f"{history.base_url}/api/v2/incremental/{path}")
        body, pages = seed_curl(body["next_page"]), pages + 1
    assert pages > 1
    assert ids == (source.tickets() if key == "tickets" else source.ticket_events())
