"""deskstream's own admin surface under ``/_deskstream/`` (spec/beyond.md): the simulated clock and fault injection.

``GET /_deskstream/faults`` shows the faults in force (``{}`` when none); ``PUT`` with an object of fault names and
values (``{"http429_every": 5, "seed": 7}``; ``{}`` turns every fault off) replaces them and restarts their random
stream, as a fresh ``serve --faults`` would. Faults are per server process.

``GET /_deskstream/clock`` reads the server's "now"; ``POST`` with ``{"advance": seconds}`` or ``{"set": unix}``
moves a ``--clock sim`` clock forward. The SLA breaches that the move passes are written in the same transaction
as the new time, so no reader ever sees the new time without them. Admins only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request, Response

from deskstream.api.deps import Admin, DeskDep
from deskstream.api.errors import ERRORS, WITH_BODY
from deskstream.api.responses import json_response
from deskstream.clock import SimClock
from deskstream.domain.timefmt import iso
from deskstream.exceptions import BadRequest, Unprocessable
from deskstream.faults import Faults, FaultSpecError, plan_of

router = APIRouter(responses=ERRORS, prefix="/_deskstream", tags=["deskstream"])

#: The furthest one request may move the clock: a century, so an arithmetic slip cannot overflow a timestamp.
MAX_MOVE = 100 * 366 * 86_400


def _clock_body(request: Request, now: int, kind: str) -> Response:
    return json_response(request, {"now": now, "kind": kind, "iso": iso(now)})


@router.get("/clock")
def read_clock(request: Request, desk: DeskDep, _: Admin) -> Response:
    return _clock_body(request, desk.clock.now(), desk.clock.kind)


@router.post("/clock", responses=WITH_BODY)
def move_clock(request: Request, desk: DeskDep, _: Admin, body: Any = Body(...)) -> Response:
    clock = desk.clock
    if not isinstance(clock, SimClock):
        raise BadRequest("The clock is real; start the server with --clock sim to move it", error="ClockNotSimulated")
    if not isinstance(body, dict) or len(set(body) & {"advance", "set"}) != 1 or set(body) - {"advance", "set"}:
        raise Unprocessable.field("clock", 'Clock: send exactly one of {"advance": seconds} or {"set": unix_seconds}')
    name, value = next(iter(body.items()))
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unprocessable.field(name, f"{name.capitalize()}: must be a whole number of seconds")

    def target(now: int) -> int:
        moved: int = now + value if name == "advance" else value
        if moved < now:
            raise Unprocessable.field(name, f"{name.capitalize()}: the clock only moves forward (now is {now})")
        if moved - now > MAX_MOVE:
            raise Unprocessable.field(name, f"{name.capitalize()}: at most {MAX_MOVE} seconds at a time")
        return moved

    return _clock_body(request, desk.sla.move_clock(clock, target), clock.kind)


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
