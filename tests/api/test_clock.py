"""``/_deskstream/clock``: a simulated clock that tests move, shared by every timestamp the server writes."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import AGENT, Server
from tests.helpers import sim, sim_admin  # noqa: F401  (fixtures: this module's server on the simulated clock)


def test_get_clock_says_the_time_and_that_it_is_simulated(admin: httpx.Client) -> None:
    body = admin.get("/_deskstream/clock").json()
    assert body["kind"] == "sim" and isinstance(body["now"], int)
    assert body["iso"].endswith("Z") and len(body["iso"]) == 20


def test_advance_moves_the_clock_and_every_new_timestamp_follows_it(admin: httpx.Client) -> None:
    before = admin.get("/_deskstream/clock").json()["now"]
    moved = admin.post("/_deskstream/clock", json={"advance": 86_400})
    assert moved.status_code == 200 and moved.json()["now"] == before + 86_400
    ticket = admin.post("/api/v2/tickets", json={"ticket": {"comment": {"body": "when?"}}}).json()["ticket"]
    assert ticket["generated_timestamp"] == before + 86_400


def test_set_puts_the_clock_at_a_given_time(admin: httpx.Client) -> None:
    now = admin.get("/_deskstream/clock").json()["now"]
    assert admin.post("/_deskstream/clock.json", json={"set": now + 3600}).json()["now"] == now + 3600
    assert admin.get("/_deskstream/clock").json()["now"] == now + 3600


def test_the_clock_stays_still_when_nobody_moves_it(admin: httpx.Client) -> None:
    first = admin.get("/_deskstream/clock").json()["now"]
    assert admin.get("/_deskstream/clock").json()["now"] == first


@pytest.mark.parametrize(
    "body",
    [{}, {"advance": "60"}, {"advance": 1.5}, {"advance": True}, {"advance": 1, "set": 2}, {"speed": 2},
     {"advance": -5}, {"set": 0}, [1]],
)
def test_bad_clock_bodies_are_refused_with_a_zendesk_shaped_422(admin: httpx.Client, body: object) -> None:
    answer = admin.post("/_deskstream/clock", json=body)
    assert answer.status_code == 422
    assert "error" in answer.json()


def test_a_body_that_is_not_json_is_a_400(admin: httpx.Client) -> None:
    answer = admin.post("/_deskstream/clock", content=b"{advance", headers={"content-type": "application/json"})
    assert answer.status_code == 400 and "error" in answer.json()


def test_only_admins_may_read_or_move_the_clock(sim: Server) -> None:
    agent = sim.client(AGENT)
    assert agent.get("/_deskstream/clock").status_code == 403
    assert agent.post("/_deskstream/clock", json={"advance": 1}).status_code == 403
    assert sim.client(None).get("/_deskstream/clock").status_code == 401


def test_a_real_clock_can_be_read_but_not_moved(server: Server) -> None:
    admin = server.client()
    body = admin.get("/_deskstream/clock").json()
    assert body["kind"] == "real"
    refused = admin.post("/_deskstream/clock", json={"advance": 60})
    assert refused.status_code == 400 and refused.json()["error"] == "ClockNotSimulated"
