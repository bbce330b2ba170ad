"""The help desk as one object: its services wired together on one store and one clock."""

from __future__ import annotations

from deskstream.clock import Clock
from deskstream.service.auth import AuthService
from deskstream.service.journal import Journal
from deskstream.service.people import PeopleService
from deskstream.service.sla import SlaService
from deskstream.service.tickets import TicketService
from deskstream.store.engine import Store


class Desk:
    """What the HTTP layer, the CLI and the generator use to change anything."""

    def __init__(self, store: Store, clock: Clock, journal_size: int = 0) -> None:
        self.store = store
        self.clock = clock
        self.people = PeopleService(store, clock)
        self.tickets = TicketService(store, clock, self.people)
        self.sla = SlaService(store, clock, self.tickets)
        self.auth = AuthService(store, clock)
        #: The request journal (off unless the server gives it a size).
        self.journal = Journal(store, journal_size)
