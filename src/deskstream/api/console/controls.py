"""The console's controls: the server's clock (advance or set a ``--clock sim`` clock) and fault injection.

Both forms take the paths their JSON endpoints take (``api/routes/deskstream_admin.py``): the clock moves through
:func:`deskstream.service.clock_moves.move_clock`, faults are parsed as ``--faults`` specs (:func:`deskstream.faults
.parse`, the parser behind ``PUT /_deskstream/faults``'s :func:`~deskstream.faults.plan_of`) and set on the
process's :class:`~deskstream.faults.Faults`. A value either refuses is the form again with the error (422).
As ``PUT /_deskstream/faults``, a plan set here holds in the process that served the form.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from deskstream.api.console.session import ConsoleAdmin, SameOrigin
from deskstream.api.console.web import BASE, ConsoleRoute, form_of, message_of, page, redirect
from deskstream.domain.timefmt import parse_iso
from deskstream.exceptions import DeskstreamError
from deskstream.faults import Faults, FaultSpecError, parse
from deskstream.service import clock_moves

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)

#: The clock form's quick moves: (label, seconds).
QUICK_MOVES = [("+1 min", 60), ("+5 min", 300), ("+1 hour", 3600), ("+1 day", 86_400)]
#: Plans the faults form offers with one click.
EXAMPLES = ["tie_overflow=stall", "http429_every=3", "http503_rate=0.2,seed=7", "slow_ms=500", "non_json_429"]


def _clock_page(request: Request, status: int = 200, error: str | None = None, values: dict[str, str] | None = None,
                moved: bool = False) -> Response:
    return page(request, "clock.html", status, error=error, values=values or {}, quick=QUICK_MOVES, moved=moved)


@router.get("/clock")
def clock_page(request: Request, _: ConsoleAdmin) -> Response:
    return _clock_page(request, moved=request.query_params.get("moved") == "1")


def _value(move: str, text: str) -> object:
    """The form's text as the move takes it: a whole number, or for ``set`` an ISO 8601 time; otherwise the text
    itself, which the move refuses with its own words."""
    text = text.strip()
    if text.lstrip("+-").isascii() and text.lstrip("+-").isdigit() and len(text) < 20:
        return int(text)
    if move == "set" and text:
        try:
            return parse_iso(text)
        except (ValueError, OverflowError, OSError):
            pass
    return text


@router.post("/clock", dependencies=[SameOrigin])
async def move_clock(request: Request, _: ConsoleAdmin) -> Response:
    form = await form_of(request)
    move: clock_moves.Move = "set" if form.get("move") == "set" else "advance"
    desk = request.app.state.desk
    try:
        await run_in_threadpool(clock_moves.move_clock, desk.sla, desk.clock, move, _value(move, form.get(move, "")))
    except DeskstreamError as error:
        return _clock_page(request, error.status, message_of(error), form)
    return redirect(f"{BASE}/clock?moved=1")


def _faults(request: Request) -> Faults:
    faults: Faults = request.app.state.faults
    return faults


def _faults_page(request: Request, status: int = 200, error: str | None = None, spec: str | None = None,
                 saved: bool = False) -> Response:
    plan = _faults(request).plan
    return page(request, "faults.html", status, plan=plan.as_dict(), spec=plan.spec() if spec is None else spec,
                error=error, examples=EXAMPLES, saved=saved)  # fmt: skip


@router.get("/faults")
def faults_page(request: Request, _: ConsoleAdmin) -> Response:
    return _faults_page(request, saved=request.query_params.get("saved") == "1")


@router.post("/faults", dependencies=[SameOrigin])
async def set_faults(request: Request, _: ConsoleAdmin) -> Response:
    form = await form_of(request)
    spec = "" if "off" in form else form.get("spec", "")
    try:
        plan = parse(spec)
    except FaultSpecError as error:
        return _faults_page(request, 422, f"Faults: {error}", spec)
    _faults(request).set(plan)
    return redirect(f"{BASE}/faults?saved=1")
