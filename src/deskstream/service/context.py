"""Who makes a change and through what, and the base every service shares (store, clock, transactions)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from deskstream.clock import Clock
from deskstream.store.engine import Store
from deskstream.store.writer import Writer


@dataclass(frozen=True)
class Actor:
    """The author of a change: a user (or the system, id 0) and the channel and client it came through."""

    user_id: int
    role: str
    channel: str = "api"
    client: str | None = None
    ip_address: str | None = None

    def system(self) -> dict[str, Any]:
        """The audit's ``metadata.system``: what Zendesk records of the request that made the change."""
        return {"client": self.client, "ip_address": self.ip_address, "location": None, "latitude": None,
                "longitude": None}


SYSTEM = Actor(user_id=0, role="admin", channel="system")


class ServiceBase:
    """Shared plumbing: a service writes through a :class:`Writer` on one transaction, its own or the caller's."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    @contextmanager
    def writing(self, writer: Writer | None) -> Iterator[Writer]:
        """Join the caller's transaction if given one (bulk work, the generator), else open and commit one."""
        if writer is not None:
            yield writer
            return
        with self.store.writing() as w:
            yield w
