"""deskstream's own admin surface under ``/_deskstream/`` (spec/beyond.md): the simulated clock, fault injection
and the loaded scenario.

``GET /_deskstream/faults`` shows the faults in force (``{}`` when none); ``PUT`` with an object of fault names and
values (``{"http429_every": 5, "seed": 7}``; ``{}`` turns every fault off) replaces them and restarts their random
stream, as a fresh ``serve --faults`` would. Faults are per server process.

``GET /_deskstream/clock`` reads the server's "now"; ``POST`` with ``{"advance": seconds}`` or ``{"set": unix}``
moves a ``--clock sim`` clock forward. The SLA breaches that the move passes are written in the same transaction
as the new time, so no reader ever sees the new time without them. Admins only.

``GET /_deskstream/scenario`` serves the record of the scenario the database was loaded with (``serve --scenario``,
docs/testing.md): how to play it and its tickets as they stand (after its last step, what a correct client ends
with); 404 when there is none. ``POST /_deskstream/scenario/next``, between a two-run scenario's runs, writes its
second part at the server's clock and moves a ``--clock sim`` clock past the horizon.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request, Response

from deskstream.api.deps import Admin, DeskDep
from deskstream.api.errors import ERRORS, WITH_BODY
from deskstream.api.responses import json_response, raw_response
from deskstream.clock import SimClock
from deskstream.domain.timefmt import iso
from deskstream.exceptions import NotFound, Unprocessable
from deskstream.faults import Faults, FaultSpecError, plan_of
from deskstream.scenarios import KEY as SCENARIO_KEY
from deskstream.scenarios import history
from deskstream.service import clock_moves
from deskstream.service.clock_moves import require_simulated

router = APIRouter(responses=ERRORS, prefix="/_deskstream", tags=["deskstream"])

def _clock_body(request: Request, now: int, kind: str) -> Response:
    return json_response(request, {"now": now, "kind": kind, "iso": iso(now)})


@router.get("/clock")
def read_clock(request: Request, desk: DeskDep, _: Admin) -> Response:
    return _clock_body(request, desk.clock.now(), desk.clock.kind)


@router.post("/clock", responses=WITH_BODY)
def move_clock(request: Request, desk: DeskDep, _: Admin, body: Any = Body(...)) -> Response:
    require_simulated(desk.clock)
    if not isinstance(body, dict) or len(set(body) & {"advance", "set"}) != 1 or set(body) - {"advance", "set"}:
        raise Unprocessable.field("clock", 'Clock: send exactly one of {"advance": seconds} or {"set": unix_seconds}')
    name, value = next(iter(body.items()))
    return _clock_body(request, clock_moves.move_clock(desk.sla, desk.clock, name, value), desk.clock.kind)


def _faults_body(request: Request, faults: Faults) -> Response:
    return json_response(request, {"faults": faults.plan.as_dict(), "spec": faults.plan.spec()})


@router.get("/faults")
def read_faults(request: Request, _: Admin) -> Response:
    return _faults_body(request, request.app.state.faults)


@router.put("/faults", responses=WITH_BODY)
def set_faults(request: Request, _: Admin, body: Any = Body(...)) -> Response:
    if not isinstance(body, dict):
        example = '{"http429_every": 5}'
        raise Unprocessable.field("faults", f"Faults: send an object of fault names and values, e.g. {example}")
    try:
        plan = plan_of(body)
    except FaultSpecError as error:
        raise Unprocessable.field("faults", f"Faults: {error}") from None
    request.app.state.faults.set(plan)
    return _faults_body(request, request.app.state.faults)


@router.get("/scenario")
def read_scenario(request: Request, desk: DeskDep, _: Admin) -> Response:
    stored = desk.store.kv_get(SCENARIO_KEY)  # written once, whole, when the scenario was loaded
    if stored is None:
        raise NotFound("No scenario is loaded: start the server with --scenario NAME")
    return raw_response(request, b'{"scenario":' + stored.encode() + b"}")


@router.post("/scenario/next")
def next_scenario_step(request: Request, desk: DeskDep, _: Admin) -> Response:
    clock = desk.clock
    try:
        record = history.play_next(desk.store, clock.now())
    except history.NoScenario as error:
        raise NotFound(str(error)) from None
    except history.ScenarioError as error:
        raise Unprocessable.field("scenario", f"Scenario: {error}") from None
    if isinstance(clock, SimClock):  # the second part is exported once the clock is past the horizon
        desk.sla.move_clock(clock, lambda now: max(now, record["next_run_at"]))
    return json_response(request, {"scenario": record})
