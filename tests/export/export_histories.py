"""Histories written through the real services into a real SQLite store, in process, for the page-building tests.

(Not a conftest.py: test modules elsewhere import ``conftest`` by name, and a second one here would shadow it.)

Times are stamped by a :class:`FixedClock` that the history moves, long before the wall clock, so that every
change is past the one-minute horizon unless a test says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from deskstream.clock import FixedClock
from deskstream.domain.people import UserInput
from deskstream.domain.tickets import CommentInput, TicketInput
from deskstream.service import Actor, Desk
from deskstream.store import Store

#: 2024-01-01T00:00:00Z: where test histories start.
T0 = 1_704_067_200


@dataclass
class History:
    """A desk on a store with an admin to act as, and a clock the test moves."""

    store: Store
    desk: Desk
    clock: FixedClock
    admin: Actor
    tickets: list[int] = field(default_factory=list)

    def create(self, n: int = 1, subject: str = "Help") -> list[int]:
        """``n`` tickets created in the current second (one bulk create)."""
        made = self.desk.tickets.create_many(
            [TicketInput(subject=f"{subject} {i}", comment=CommentInput(body="Please help")) for i in range(n)],
            self.admin,
        )
        ids = [t["id"] for t in made]
        self.tickets += ids
        return ids

    def update(self, ticket_ids: list[int], **changes: object) -> None:
        """One bulk change: every ticket stamped with the current second."""
        self.desk.tickets.update_many(ticket_ids, TicketInput(**changes), self.admin)  # type: ignore[arg-type]

    def delete(self, ticket_id: int) -> None:
        self.desk.tickets.delete(ticket_id, self.admin)

    def tick(self, seconds: int = 1) -> None:
        self.clock.value += seconds


def new_history(url: str, start: int = T0) -> History:
    store = Store(url)
    store.migrate()
    clock = FixedClock(start)
    desk = Desk(store, clock)
    admin = desk.people.create_user(UserInput(email="admin@example.com", role="admin", name="Ada"))
    return History(store, desk, clock, Actor(admin["id"], "admin", "api"))




@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    """A desk on a fresh SQLite file (import this fixture into a test module to use it)."""
    h = new_history(f"sqlite:///{tmp_path / 'export.db'}")
    yield h
    h.store.dispose()
