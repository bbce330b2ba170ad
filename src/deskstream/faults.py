"""Deterministic fault injection (spec/beyond.md § Fault injection): what ``--faults SPEC`` and
``PUT /_deskstream/faults`` turn on, parsed once into a :class:`FaultPlan`.

A plan is a value; :class:`Faults` holds the one in force and draws each export request's fate from a random
generator seeded by the plan's ``seed``. Every request draws the same number of values whatever is on, so the same
seed gives the same faults in the same order (a failure a client author found replays exactly on a fresh server).
Which changes commit "late" is a hash of the item's id and the seed, not a draw, so it does not depend on the order
in which clients read.
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass, fields, replace
from enum import Enum
from typing import Any


class FaultSpecError(ValueError):
    """A spec that names an unknown fault or gives one a value it cannot take (one line, for a 400 or the CLI)."""


class Outcome(Enum):
    """What happens to one export request."""

    SERVE = "serve"
    HTTP429 = "http429"
    HTTP503 = "http503"
    HTTP504 = "http504"
    TRUNCATE = "truncate"


#: One change in this many is a "late commit" under ``late_commit_s`` (chosen by id, see :meth:`FaultPlan.is_late`).
LATE_ONE_IN = 5


@dataclass(frozen=True)
class FaultPlan:
    """Every fault of spec/beyond.md, off by default."""

    tie_overflow: str | None = None
    http429_every: int = 0
    http429_rate: float = 0.0
    non_json_429: bool = False
    http503_rate: float = 0.0
    http504_rate: float = 0.0
    slow_ms: int = 0
    truncate_rate: float = 0.0
    late_commit_s: int = 0
    #: ``Retry-After`` of the injected 429s and 503s, in seconds (kept short so that tests run fast).
    retry_after: int = 1
    seed: int = 0

    @property
    def active(self) -> bool:
        return self != FaultPlan(seed=self.seed, retry_after=self.retry_after)

    @property
    def stalls_ties(self) -> bool:
        return self.tie_overflow == "stall"

    def as_dict(self) -> dict[str, Any]:
        """What is on (and the seed), as ``GET /_deskstream/faults`` shows it."""
        off = FaultPlan()
        shown = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != getattr(off, f.name)}
        return {**shown, "seed": self.seed} if self.active else {}

    def spec(self) -> str:
        """The plan as a ``--faults`` spec that parses back to it."""
        parts = []
        for name, value in self.as_dict().items():
            parts.append(name if value is True else f"{name}={value}")
        return ",".join(parts)

    def is_late(self, item_id: int, time: int, now: int) -> bool:
        """Whether the change ``(time, item_id)`` is not visible yet: one in :data:`LATE_ONE_IN`, for
        ``late_commit_s`` seconds after its timestamp."""
        if not self.late_commit_s or now >= time + self.late_commit_s:
            return False
        digest = hashlib.blake2b(f"{self.seed}:{item_id}:{time}".encode(), digest_size=4).digest()
        return int.from_bytes(digest, "big") % LATE_ONE_IN == 0


_RATES = ("http429_rate", "http503_rate", "http504_rate", "truncate_rate")
_COUNTS = ("http429_every", "slow_ms", "late_commit_s", "retry_after", "seed")


def _value(name: str, raw: object) -> object:
    """``raw`` (text from a spec, or a JSON value) as the field ``name`` holds it."""
    if isinstance(raw, bool) and name != "non_json_429":
        raise FaultSpecError(f"{name} takes a number, not {str(raw).lower()}")
    text = str(raw).strip().lower()
    if name == "tie_overflow":
        if text != "stall":
            raise FaultSpecError("tie_overflow takes one value: stall")
        return "stall"
    if name == "non_json_429":
        if text not in ("", "true", "1", "on"):
            raise FaultSpecError("non_json_429 is a flag: non_json_429 or non_json_429=true")
        return True
    try:
        number = float(text)
    except ValueError:
        raise FaultSpecError(f"{name} takes a number, not {str(raw)!r}") from None
    if name in _RATES:
        if not 0 <= number <= 1:
            raise FaultSpecError(f"{name} is a probability from 0 to 1, not {str(raw)!r}")
        return number
    if not number.is_integer() or number < 0 or number > 2**31:
        raise FaultSpecError(f"{name} takes a whole number from 0, not {str(raw)!r}")
    return int(number)


def plan_of(values: dict[str, object]) -> FaultPlan:
    """A plan from fault names and values (a JSON object, or a parsed spec)."""
    known = {f.name for f in fields(FaultPlan)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise FaultSpecError(f"unknown fault {unknown[0]!r}; the faults are: {', '.join(sorted(known))}")
    parsed: dict[str, Any] = {name: _value(name, raw) for name, raw in values.items()}
    return replace(FaultPlan(), **parsed)


def parse(spec: str) -> FaultPlan:
    """``tie_overflow=stall,http429_every=5,http503_rate=0.1,seed=7`` as a plan; empty → no faults."""
    values: dict[str, object] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        name, _, raw = part.partition("=")
        values[name.strip()] = raw if "=" in part else ""
    return plan_of(values)


class Faults:
    """The plan in force in this process and its random stream (reset whenever a plan is set)."""

    def __init__(self, plan: FaultPlan) -> None:
        self._lock = threading.Lock()
        self.set(plan)

    def set(self, plan: FaultPlan) -> None:
        with self._lock:
            self.plan = plan
            #: Read on every request: computed once here, not per request.
            self.active = plan.active
            self._random = random.Random(plan.seed)
            self._requests = 0

    def draw(self) -> Outcome:
        """The next export request's fate: four draws every time, whatever is on."""
        with self._lock:
            plan, self._requests = self.plan, self._requests + 1
            draws = [self._random.random() for _ in _RATES]
            every = plan.http429_every and self._requests % plan.http429_every == 0
        if every or draws[0] < plan.http429_rate:
            return Outcome.HTTP429
        if draws[1] < plan.http503_rate:
            return Outcome.HTTP503
        if draws[2] < plan.http504_rate:
            return Outcome.HTTP504
        if draws[3] < plan.truncate_rate:
            return Outcome.TRUNCATE
        return Outcome.SERVE
