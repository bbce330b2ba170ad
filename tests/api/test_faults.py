"""Fault injection on a real server (spec/beyond.md): each fault as a client meets it, set with
``PUT /_deskstream/faults`` (admins only) or ``serve --faults``, visible in ``GET /_deskstream/faults``, and
invisible when off."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from tests.conftest import ADMIN, AGENT, ProcessServer, http_client
from tests.helpers import clock, create_ticket

EXPORT = "/api/v2/incremental/tickets/cursor"


@pytest.fixture(scope="module")
def server(make_server: Callable[..., ProcessServer]) -> ProcessServer:
    return make_server("--clock", "sim", "--rate-limit", "off")


@pytest.fixture
def admin(server: ProcessServer) -> Iterator[httpx.Client]:
    client = server.client(ADMIN)
    yield client
    client.put("/_deskstream/faults", json={})


def faults(admin: httpx.Client, **on: object) -> dict[str, object]:
    answer = admin.put("/_deskstream/faults", json=on)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_faults_are_off_by_default_and_what_is_on_is_shown(admin: httpx.Client) -> None:
    assert admin.get("/_deskstream/faults").json() == {"faults": {}, "spec": ""}
    shown = faults(admin, http429_every=5, seed=7)
    assert shown == {"faults": {"http429_every": 5, "seed": 7}, "spec": "http429_every=5,seed=7"}
    assert admin.get("/_deskstream/faults").json() == shown


def test_only_an_admin_sets_faults_and_a_bad_one_is_a_422_naming_it(server: ProcessServer, admin: httpx.Client) -> None:
    assert server.client(AGENT).put("/_deskstream/faults", json={"http429_every": 1}).status_code == 403
    refused = admin.put("/_deskstream/faults", json={"http429_every": 1, "teleport": 1})
    assert refused.status_code == 422
    assert "unknown fault 'teleport'" in refused.text
    assert admin.get("/_deskstream/faults").json()["faults"] == {}


def test_http429_every_n_refuses_every_nth_export_request_with_retry_after(admin: httpx.Client) -> None:
    faults(admin, http429_every=3)
    statuses = [admin.get(EXPORT, params={"start_time": 0}) for _ in range(6)]
    assert [r.status_code for r in statuses] == [200, 200, 429, 200, 200, 429]
    assert statuses[2].headers["retry-after"] == "1"
    assert statuses[2].json()["error"] == "APIRateLimitExceeded"
    assert admin.get("/api/v2/tickets").status_code == 200  # only the exports misbehave


def test_non_json_429_makes_the_refusal_plain_text(admin: httpx.Client) -> None:
    faults(admin, http429_every=1, non_json_429=True)
    refused = admin.get(EXPORT, params={"start_time": 0})
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("text/plain")
    assert refused.text.startswith("Number of allowed incremental export API requests per minute exceeded")


def test_http503_has_retry_after_and_http504_a_gateways_html(admin: httpx.Client) -> None:
    faults(admin, http503_rate=1, retry_after=2)
    unavailable = admin.get(EXPORT, params={"start_time": 0})
    assert (unavailable.status_code, unavailable.headers["retry-after"]) == (503, "2")
    faults(admin, http504_rate=1)
    timed_out = admin.get(EXPORT, params={"start_time": 0})
    assert timed_out.status_code == 504 and timed_out.headers["content-type"] == "text/html"
    assert "<h1>504 Gateway Time-out</h1>" in timed_out.text


def test_truncate_closes_the_connection_mid_body(server: ProcessServer, admin: httpx.Client) -> None:
    create_ticket(admin)
    clock(admin, advance=120)
    faults(admin, truncate_rate=1)
    with http_client(server.base_url, auth=ADMIN) as client, pytest.raises(httpx.RemoteProtocolError):
        client.get(EXPORT, params={"start_time": 0})
    faults(admin)
    assert admin.get(EXPORT, params={"start_time": 0}).status_code == 200


def test_slow_ms_delays_each_export_page(admin: httpx.Client) -> None:
    faults(admin, slow_ms=300)
    started = time.monotonic()
    assert admin.get(EXPORT, params={"start_time": 0}).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_the_same_seed_replays_the_same_faults_in_the_same_order(admin: httpx.Client) -> None:
    def run() -> list[int]:
        faults(admin, http429_rate=0.3, http503_rate=0.3, seed=11)
        return [admin.get(EXPORT, params={"start_time": 0}).status_code for _ in range(12)]

    first = run()
    assert run() == first and {200, 429, 503} <= set(first)


def test_late_commit_hides_some_changes_until_a_reader_has_passed_them(admin: httpx.Client) -> None:
    """The commit-order race: a client that reads up to the horizon now misses the late ones for good."""
    made = [create_ticket(admin, subject=f"late {n}")["id"] for n in range(40)]
    clock(admin, advance=61)
    faults(admin, late_commit_s=600, seed=5)
    page = admin.get(EXPORT, params={"start_time": 0, "per_page": 1000}).json()
    served = {t["id"] for t in page["tickets"]}
    hidden = set(made) - served
    assert hidden and len(hidden) < len(made)
    assert page["end_of_stream"]
    clock(admin, advance=600)
    after = admin.get(page["after_url"]).json()
    assert not hidden & {t["id"] for t in after["tickets"]}  # passed: the cursor never serves them again
    again = admin.get(EXPORT, params={"start_time": 0, "per_page": 1000}).json()
    assert hidden <= {t["id"] for t in again["tickets"]}  # a reader that looks back finds them


def test_tie_overflow_stall_cuts_time_based_pages_inside_a_second_so_next_page_repeats(admin: httpx.Client) -> None:
    storm = admin.post("/api/v2/tickets/create_many", json={"tickets": [{"comment": {"body": "b"}}] * 5})
    assert storm.status_code == 200
    second = clock(admin)
    clock(admin, advance=61)
    faults(admin, tie_overflow="stall")
    page = admin.get("/api/v2/incremental/tickets", params={"start_time": second, "per_page": 2}).json()
    assert page["count"] == 2 and page["end_time"] == second and not page["end_of_stream"]
    assert admin.get(page["next_page"]).json()["tickets"] == page["tickets"]  # a naive client loops here
    faults(admin)
    whole = admin.get("/api/v2/incremental/tickets", params={"start_time": second, "per_page": 2}).json()
    assert whole["count"] >= 5  # without the fault the page takes the whole second
