"""Real Zendesk clients, unchanged, against a real deskstream on a generated history (spec/clients-reference.md).

The history is the demo's (5,000 tickets over 90 days, same-second storms over 1000 items, deletes, system
updates, SLA breaches) on a frozen simulated clock: the SLA breaches due by then are written before the server
starts, so nothing changes while the clients read, and every client is held to exactly the source's records
(:class:`Source`, read from the server's database). The slow clients' first syncs (tap-zendesk, Airbyte) start in
the background when this folder's first test starts, and their tests run last.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import text

from deskstream import demo
from deskstream.clock import SimClock
from deskstream.service import Desk
from deskstream.store import Store
from deskstream.base_url import URL_BASE
from tests.compat.runners import Airbyte, Background, ClientEnv, Tap, client_env

if TYPE_CHECKING:
    from tests.conftest import Server

ZENPY = "zenpy==2.0.57"
TAP_ZENDESK = "tap-zendesk==2.8.2"
AIRBYTE = "airbyte-source-zendesk-support==4.9.1"

#: What each slow client syncs here.
TAP_STREAMS = ("tickets", "users", "organizations", "ticket_metric_events")
AIRBYTE_STREAMS = ("tickets", "users", "organizations", "ticket_metric_events", "ticket_comments")

#: Test modules that read a background sync: they run after the rest, so the sync overlaps the other tests.
_LAST = ("test_tap_zendesk.py", "test_airbyte.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark this folder's tests ``compat`` and run the background syncs' readers last."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.compat)
    items.sort(key=lambda item: Path(str(item.fspath)).name in _LAST)


def seed_frozen_demo(store: Store) -> None:
    """The demo history, then every breach due by the simulated clock's start, written before the server starts."""
    demo.seed(store, int(time.time()))
    Desk(store, SimClock(store)).sla.tick()


@dataclass(frozen=True)
class Source:
    """What the server's database holds, as an export at the server's frozen time may serve it."""

    server: Server
    horizon: int

    def ids(self, table: str, time_column: str) -> set[int]:
        query = text(f"SELECT id FROM {table} WHERE {time_column} <= :horizon")
        with self.server.read() as conn:
            return {row[0] for row in conn.execute(query, {"horizon": self.horizon})}

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.server.read() as conn:
            return conn.execute(text(sql), params).scalar_one()

    def rows(self, table: str, where: str = "1 = 1", **params: Any) -> list[dict[str, Any]]:
        """Stored JSON items as the server serves them to a client of its base URL."""
        with self.server.read() as conn:
            found = conn.execute(text(f"SELECT json FROM {table} WHERE {where} ORDER BY id"), params)
            return [json.loads(row[0].replace(URL_BASE.encode(), self.server.base_url.encode())) for row in found]

    def tickets(self) -> set[int]:
        return self.ids("tickets", "generated_timestamp")

    def users(self) -> set[int]:
        return self.ids("users", "updated_at")

    def organizations(self) -> set[int]:
        return self.ids("organizations", "updated_at")

    def ticket_events(self) -> set[int]:
        return self.ids("ticket_events", "timestamp")

    def ticket_metric_events(self) -> set[int]:
        return self.ids("ticket_metric_events", "time")

    def comments(self) -> set[int]:
        """Comments on audits the ticket_events export serves."""
        query = text(
            "SELECT c.id FROM comments c JOIN ticket_events e ON e.id = c.audit_id WHERE e.timestamp <= :horizon"
        )
        with self.server.read() as conn:
            return {row[0] for row in conn.execute(query, {"horizon": self.horizon})}


@pytest.fixture(scope="session")
def history(make_server: Callable[..., Server]) -> Server:
    """One deskstream with the demo history on a frozen clock, for every client; no rate limit (10/min would make
    a full export of 165,000 metric events take a quarter of an hour)."""
    return make_server("--clock", "sim", "--rate-limit", "off", seed=seed_frozen_demo)


@pytest.fixture(scope="session")
def source(history: Server) -> Source:
    now = int(history.client().get("/_deskstream/clock").json()["now"])
    return Source(history, now - 60)


@pytest.fixture(scope="session")
def zenpy() -> ClientEnv:
    return client_env(ZENPY)


@pytest.fixture(scope="session")
def tap(history: Server, tmp_path_factory: pytest.TempPathFactory) -> Tap:
    return Tap(client_env(TAP_ZENDESK), history.base_url, tmp_path_factory.mktemp("tap-zendesk"))


@pytest.fixture(scope="session")
def tap_catalog(tap: Tap) -> dict[str, Any]:
    return tap.discover()


@pytest.fixture(scope="session")
def airbyte(history: Server, tmp_path_factory: pytest.TempPathFactory) -> Airbyte:
    return Airbyte(client_env(AIRBYTE), history.base_url, tmp_path_factory.mktemp("airbyte"))


@pytest.fixture(scope="session")
def airbyte_catalog(airbyte: Airbyte) -> dict[str, Any]:
    return airbyte.discover()


@pytest.fixture(scope="session", autouse=True)
def tap_first_sync(tap: Tap, tap_catalog: dict[str, Any]) -> Iterator[Background]:
    """tap-zendesk's first full sync, started when this folder's first test starts (autouse)."""
    run = tap.start(Tap.select(tap_catalog, TAP_STREAMS), "first")
    yield run
    run.stop()


@pytest.fixture(scope="session", autouse=True)
def airbyte_first_read(airbyte: Airbyte, airbyte_catalog: dict[str, Any]) -> Iterator[Background]:
    """Airbyte's first full read, started when this folder's first test starts (autouse)."""
    run = airbyte.start(Airbyte.configure(airbyte_catalog, AIRBYTE_STREAMS), "first")
    yield run
    run.stop()
