"""The fixture's helpers go through the real API (and stay out of the journal), the clock keeps up with a client
waiting out the export budget's 429, and the command line a connector in any language uses: ``deskstream serve
--scenario`` and ``deskstream wait``."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from click.testing import CliRunner

from deskstream.cli import cli
from deskstream.testing import Zendesk

if TYPE_CHECKING:
    from tests.conftest import ProcessServer  # tests/conftest.py


def exported(zendesk: Zendesk, stream: str = "tickets") -> list[dict[str, Any]]:
    page = zendesk.api.get(f"/api/v2/incremental/{stream}.json", params={"start_time": 0}).json()
    return list(page[stream])


def test_the_helpers_write_through_the_api_and_stay_out_of_the_journal(zendesk: Zendesk) -> None:
    start = zendesk.now()
    tickets = zendesk.create_tickets(2, priority="high", tags=["vip"])
    assert [t["priority"] for t in tickets] == ["high", "high"] and tickets[0]["requester_id"] == zendesk.user_ids[
        "end-user"]  # fmt: skip
    users = zendesk.create_users(2)
    organizations = zendesk.create_organizations(1, details="gold")
    assert len({u["email"] for u in users}) == 2 and organizations[0]["details"] == "gold"
    zendesk.update(tickets[0], status="solved")
    zendesk.delete(tickets[1]["id"])
    assert zendesk.advance(30) == start + 30
    storm = zendesk.storm(150)
    assert zendesk.set_time(datetime.fromtimestamp(start + 100, UTC)) == start + 100
    assert zendesk.past_horizon() == start + 161
    served = {t["id"]: t for t in exported(zendesk)}
    assert served[tickets[0]["id"]]["status"] == "solved" and served[tickets[1]["id"]]["status"] == "deleted"
    assert {served[i]["generated_timestamp"] for i in storm} == {start + 30}  # one second
    assert {u["id"] for u in users} <= {u["id"] for u in exported(zendesk, "users")}
    with zendesk.faults("http503_rate=1", retry_after=0) as on:
        assert on == {"http503_rate": 1.0, "retry_after": 0, "seed": 0}
        assert httpx.get(f"{zendesk.url}/api/v2/incremental/tickets.json", params={"start_time": 0},
                         auth=zendesk.admin).status_code == 503  # fmt: skip
    assert zendesk.api.get("/_deskstream/faults").json()["faults"] == {}
    assert [(r.method, r.path, r.status, r.user_id) for r in zendesk.requests(clear=True)] == [
        ("GET", "/api/v2/incremental/tickets.json", 503, None)
    ]  # the client's only: the helpers' are left out
    assert zendesk.requests() == []


def test_a_generated_history_is_served(zendesk: Zendesk) -> None:
    """Not counted through the export: the server's SLA scheduler may give a ticket whose target falls after the
    history's end its breach (a system update) at the clock's time, inside the horizon."""
    summary = zendesk.history(tickets=40, days=3, seed=5)
    live = zendesk.api.get("/api/v2/tickets", params={"per_page": 1}).json()["count"]
    assert summary.counts["tickets"] == 40 and live == 40 - summary.deleted


def test_the_clock_keeps_up_with_a_client_waiting_out_the_budget(zendesk_factory: Callable[..., Zendesk]) -> None:
    """Two requests a minute on a clock that stands still: the third is refused until as many real seconds as
    Retry-After said have passed, then served, the clock at the end of the window."""
    zendesk = zendesk_factory(rate_limit=2)
    now = zendesk.now()
    zendesk.set_time(now - now % 60 + 60 + 59)  # a second before a window ends: Retry-After 1
    client = httpx.Client(base_url=zendesk.url, auth=zendesk.admin)

    def export() -> httpx.Response:
        return client.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0})

    assert [export().status_code for _ in range(2)] == [200, 200]
    refused = export()
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert export().status_code == 429  # at once: the same window
    time.sleep(1.05)
    assert export().status_code == 200
    assert zendesk.now() % 60 == 0  # the clock moved to the end of the window, no further
    client.close()
    assert [r.status for r in zendesk.requests()] == [200, 200, 429, 429, 200]


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), prog_name="deskstream")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stderr


def test_deskstream_wait_exits_0_when_a_server_answers_1_after_its_timeout_2_on_a_bad_url(zendesk: Zendesk) -> None:
    code, said = run_cli("wait", zendesk.url)
    assert code == 0 and said.startswith(f"{zendesk.url} answered 404 after ")
    code, error = run_cli("wait", "http://127.0.0.1:9", "--timeout", "0.3")
    assert code == 1 and error.startswith("error: http://127.0.0.1:9 did not answer within 0.3s") and error.count(
        "\n") == 1  # fmt: skip
    code, error = run_cli("wait", "127.0.0.1:8000")
    assert code == 2 and "expected an http:// or https:// URL" in error


def test_serve_scenario_for_any_language(make_server: Callable[..., ProcessServer]) -> None:
    """``deskstream serve --scenario`` on an empty database: the accounts, the scenario, its faults with --faults on
    top; the second part on request; the final expected record set is what the export serves."""
    server = make_server("--scenario", "deletes", "--clock", "sim", "--rate-limit", "off", "--faults", "seed=3",
                         seed=None)  # fmt: skip
    admin = server.client()
    assert admin.get("/_deskstream/faults").json()["faults"] == {}  # deletes has none; a seed alone is none
    first = admin.get("/_deskstream/scenario").json()["scenario"]
    assert (first["name"], first["step"], len(first["expected"]["tickets"])) == ("deletes", 1, 30)
    final = admin.post("/_deskstream/scenario/next").json()["scenario"]
    assert admin.get("/_deskstream/clock").json()["now"] == final["next_run_at"]
    page = admin.get("/api/v2/incremental/tickets/cursor.json", params={"start_time": 0}).json()
    served = sorted(page["tickets"], key=lambda t: t["id"])
    fields = final["fields"]
    assert [{f: t[f] for f in fields} for t in served] == final["expected"]["tickets"]
    assert sum(t["status"] == "deleted" for t in served) == 11
    code, error = run_cli("serve", "--db", server.db_url, "--scenario", "storm_over_page")
    assert code == 2 and "the database holds scenario 'deletes'" in error
    code, error = run_cli("serve", "--db", server.db_url, "--scenario", "storm")
    assert code == 2 and "unknown scenario 'storm'" in error
    code, error = run_cli("serve", "--db", server.db_url, "--scenario", "deletes", "--demo")
    assert code == 2 and "give one of them" in error


@pytest.mark.deskstream(process=True, rate_limit="off")
def test_a_server_in_its_own_process_journals_the_client(zendesk: Zendesk) -> None:
    zendesk.create_tickets(1)
    zendesk.past_horizon()
    httpx.get(f"{zendesk.url}/api/v2/incremental/tickets/cursor.json?start_time=0", auth=zendesk.admin)
    [sent] = zendesk.requests()
    assert (sent.path, sent.query, sent.items, sent.user_id) == (
        "/api/v2/incremental/tickets/cursor.json",
        "start_time=0",
        1,
        zendesk.user_ids["admin"],
    )
