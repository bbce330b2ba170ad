"""Every scenario's expected record set against a full cursor export of the server it was loaded into, at each step:
the scenario's own account of what it wrote, checked against what the server serves. And the scenarios' teeth:
what a first run exports before a two-run scenario's second part is different from what a correct client ends
with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from deskstream import faults
from deskstream.scenarios import NAMES, SCENARIOS
from deskstream.scenarios.history import ScenarioError
from deskstream.testing import Zendesk


def full_export(zendesk: Zendesk) -> list[dict[str, Any]]:
    """Every ticket the cursor export serves from the beginning (the faults turned off while it reads)."""
    tickets: list[dict[str, Any]] = []
    params: dict[str, Any] = {"start_time": 0}
    with zendesk.faults(), httpx.Client(base_url=zendesk.url, auth=zendesk.admin) as http:
        while True:
            page = http.get("/api/v2/incremental/tickets/cursor.json", params=params).raise_for_status().json()
            tickets += page["tickets"]
            if page["end_of_stream"]:
                return tickets
            params = {"cursor": page["after_cursor"]}


def teeth(zendesk: Zendesk, name: str, expected: list[dict[str, Any]]) -> None:
    """With the scenario's faults on, what its naive client meets: late tickets not served yet, a time-based page
    that does not move past the storm's second, an export refused every other request."""

    def get(path: str, **params: Any) -> httpx.Response:
        return zendesk.api.get(f"/api/v2/incremental/{path}", params=params)

    if name == "late_commit":
        page = get("tickets/cursor.json", start_time=0).json()
        missing = {t["id"] for t in expected} - {t["id"] for t in page["tickets"]}
        assert 1 <= len(missing) <= 25 and page["end_of_stream"]  # one in five, by a hash of id and time
    elif name == "storm_over_page":
        first = get("tickets.json", start_time=0).json()
        second = get("tickets.json", start_time=first["end_time"]).json()
        assert not second["end_of_stream"] and second["end_time"] == first["end_time"]
    elif name == "rate_limited":
        refused = get("tickets.json", start_time=0), get("tickets.json", start_time=0)
        assert [r.status_code for r in refused] == [200, 429] and refused[1].headers["Retry-After"] == "1"
        assert refused[1].headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("name", NAMES)
def test_the_expected_record_set_is_what_a_full_cursor_export_serves(
    zendesk_factory: Callable[..., Zendesk], name: str
) -> None:
    zendesk = zendesk_factory(rate_limit="off")
    scenario = zendesk.scenario(name)
    spec = SCENARIOS[name]
    assert (scenario.runs, scenario.settle_seconds) == (spec.runs, spec.settle)
    assert faults.parse(scenario.faults) == faults.parse(spec.faults)
    assert scenario.step == 1 and len(scenario.steps) == 2 * spec.runs
    teeth(zendesk, name, scenario.expected)
    first = full_export(zendesk)
    assert scenario.diff(first) == []  # at step 1, the record set is the first part
    if spec.runs == 2:
        scenario.next_step()
        assert zendesk.now() >= zendesk.api.get("/_deskstream/scenario").json()["scenario"]["next_run_at"]
        final = full_export(zendesk)
        assert scenario.step == 2 and scenario.diff(final) == []
        if name != "late_commit":  # whose second part is only the clock's move
            assert scenario.diff(first), "the second part changed nothing a first run had exported"
    answer = zendesk.api.post("/_deskstream/scenario/next")
    assert answer.status_code == 422 and "no step left" in answer.text


def test_a_scenario_needs_a_server_without_tickets_and_admins_read_it(zendesk: Zendesk) -> None:
    zendesk.create_tickets(1)
    with pytest.raises(ScenarioError, match="without tickets"):
        zendesk.scenario("deletes")
    assert zendesk.api.get("/_deskstream/scenario").status_code == 404
    assert zendesk.api.post("/_deskstream/scenario/next").status_code == 404
    assert httpx.get(f"{zendesk.url}/_deskstream/scenario", auth=zendesk.agent).status_code == 403
