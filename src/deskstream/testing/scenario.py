"""A loaded scenario as a test sees it: how to play it against the client, and the check of what the client holds.

The record comes from ``GET /_deskstream/scenario`` (the same answer a client in another language reads), so
:meth:`Scenario.check` compares with exactly what that route promises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: How many differences an assertion message lists before it says how many more there are.
SHOWN = 15


@dataclass(frozen=True)
class Scenario:
    """One scenario loaded into a running server (``zendesk.scenario(name)``)."""

    name: str
    summary: str
    #: The faults the server runs under while the scenario is served (its own and the fixture's).
    faults: str
    #: How many runs of the client the scenario takes (1, or 2 with its second part written in between).
    runs: int
    settle_seconds: int
    steps: list[str]
    correct: str
    naive: str
    #: The fields of each expected ticket, as the ticket export serves them.
    fields: list[str]
    #: ``GET /_deskstream/scenario``'s record, and ``POST /_deskstream/scenario/next``.
    read: Callable[[], Mapping[str, Any]] = field(repr=False, compare=False)
    next_step: Callable[[], object] = field(repr=False, compare=False)

    @classmethod
    def of(cls, record: Mapping[str, Any], faults: str, read: Callable[[], Mapping[str, Any]],
           next_step: Callable[[], object]) -> Scenario:  # fmt: skip
        return cls(
            name=record["name"], summary=record["summary"], faults=faults, runs=record["runs"],
            settle_seconds=record["settle_seconds"], steps=list(record["steps"]), correct=record["correct"],
            naive=record["naive"], fields=list(record["fields"]), read=read, next_step=next_step,
        )  # fmt: skip

    @property
    def step(self) -> int:
        """The client's run the server is at: 1 after loading, 2 once the second part is written."""
        return int(self.read()["step"])

    @property
    def expected(self) -> list[dict[str, Any]]:
        """The tickets as they stand at the current :attr:`step`, no fault hiding any, in id order; after the last
        step, what a correct client ends with."""
        return list(self.read()["expected"]["tickets"])

    def play(self, run: Callable[[], object]) -> None:
        """Run the client as the scenario asks: once; or once, then the second part written and the clock moved
        ``settle_seconds`` (``POST /_deskstream/scenario/next``), then again (the client resumes)."""
        run()
        for _ in range(self.runs - 1):
            self.next_step()
            run()

    def diff(self, tickets: Iterable[Mapping[str, Any]], fields: Sequence[str] | None = None) -> list[str]:
        """How ``tickets`` (what the client holds, as the API served them) differ from :attr:`expected`: ids
        missing, ids held twice or unexpected, and each field of ``fields`` (default: all) that differs."""
        compared = [name for name in (fields or self.fields) if name != "id"]
        held: dict[int, Mapping[str, Any]] = {}
        problems: list[str] = []
        for ticket in tickets:
            ticket_id = int(ticket["id"])
            if ticket_id in held:
                problems.append(f"ticket {ticket_id}: held more than once")
            held[ticket_id] = ticket
        expected = {int(ticket["id"]): ticket for ticket in self.expected}
        missing = sorted(expected.keys() - held.keys())
        if missing:
            problems.append(f"{len(missing)} of {len(expected)} tickets missing: {_ids(missing)}")
        unexpected = sorted(held.keys() - expected.keys())
        if unexpected:
            problems.append(f"{len(unexpected)} tickets not in the scenario: {_ids(unexpected)}")
        for ticket_id in sorted(expected.keys() & held.keys()):
            want, got = expected[ticket_id], held[ticket_id]
            for name in compared:
                if name not in got:
                    problems.append(f"ticket {ticket_id}: no {name} (expected {want[name]!r})")
                elif got[name] != want[name]:
                    problems.append(f"ticket {ticket_id}: {name} is {got[name]!r}, expected {want[name]!r}")
        return problems

    def check(self, tickets: Iterable[Mapping[str, Any]], fields: Sequence[str] | None = None) -> None:
        """Assert that the client ends with the expected tickets; the message says what differs, and what a naive
        client does in this scenario."""
        problems = self.diff(tickets, fields)
        if problems:
            listed = problems[:SHOWN] + ([f"... and {len(problems) - SHOWN} more"] if len(problems) > SHOWN else [])
            raise AssertionError(
                f"scenario {self.name}: the client does not hold what a correct client ends with\n  "
                + "\n  ".join(listed)
                + f"\nA naive client: {self.naive}\nA correct one: {self.correct}"
            )


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:10])) + (", ..." if len(ids) > 10 else "")
