"""Moving the simulated clock on request: ``POST /_deskstream/clock`` and the console's clock form take the same
path, so both refuse the same moves with the same errors.

A move is ``advance`` (seconds forward) or ``set`` (a Unix time), always forward and by at most :data:`MAX_MOVE`;
the SLA breaches it passes are written with the new time (:meth:`SlaService.move_clock`).
"""

from __future__ import annotations

from typing import Literal

from deskstream.clock import Clock, SimClock
from deskstream.exceptions import BadRequest, Unprocessable
from deskstream.service.sla import SlaService

#: The furthest one request may move the clock: a century, so an arithmetic slip cannot overflow a timestamp.
MAX_MOVE = 100 * 366 * 86_400

Move = Literal["advance", "set"]


def require_simulated(clock: Clock) -> SimClock:
    """The clock, if it can be moved; 400 ``ClockNotSimulated`` on a real one."""
    if not isinstance(clock, SimClock):
        raise BadRequest("The clock is real; start the server with --clock sim to move it", error="ClockNotSimulated")
    return clock


def move_clock(sla: SlaService, clock: Clock, name: Move, value: object) -> int:
    """Move ``clock`` by ``name`` (``advance`` or ``set``) with ``value``; the new time. 422 for a value that is not
    a whole number of seconds, moves backward, or moves more than :data:`MAX_MOVE`."""
    simulated = require_simulated(clock)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unprocessable.field(name, f"{name.capitalize()}: must be a whole number of seconds")
    amount = value

    def target(now: int) -> int:
        moved = now + amount if name == "advance" else amount
        if moved < now:
            raise Unprocessable.field(name, f"{name.capitalize()}: the clock only moves forward (now is {now})")
        if moved - now > MAX_MOVE:
            raise Unprocessable.field(name, f"{name.capitalize()}: at most {MAX_MOVE} seconds at a time")
        return moved

    return sla.move_clock(simulated, target)
