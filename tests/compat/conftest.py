"""Real Zendesk clients, installed from PyPI into virtual environments of their own, against a real deskstream.

Each client pins old dependencies, so each gets its own environment, made once and cached between runs in the
system temp dir (``<tmp>/deskstream-compat/<name>``, keyed by the requirement and the Python version). The clients
run as processes in those environments (scripts in ``clients/``) and print what they read as JSON; the tests
compare it with what the server's database holds.

The history is the demo's (5,000 tickets over 90 days, same-second storms over 1000 tickets, deletes, system
updates, SLA breaches) on a frozen simulated clock: the SLA breaches due by then are written before the server
starts, so nothing changes while the clients read, and every client can be held to exactly the source's records.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
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
from deskstream.store.schema import URL_BASE

if TYPE_CHECKING:
    from tests.conftest import Server

CLIENTS = Path(__file__).parent / "clients"
ZENPY = "zenpy==2.0.57"
TAP_ZENDESK = "tap-zendesk==2.8.2"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark this folder's tests ``compat``; run tap-zendesk's last, so its sync (started by the first test here, in
    the background) overlaps the other clients' tests."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.compat)
    items.sort(key=lambda item: Path(str(item.fspath)).name == "test_tap_zendesk.py")


@dataclass(frozen=True)
class ClientEnv:
    """A virtual environment holding one client; :meth:`run` runs one of ``clients/`` in it."""

    python: Path

    def command(self, script: str, *args: str) -> list[str]:
        return [str(self.python), str(CLIENTS / script), *args]

    def run(self, script: str, *args: str, timeout: float = 600) -> Any:
        """Run a client script to completion; returns the JSON it printed on its last line."""
        done = subprocess.run(self.command(script, *args), capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{script} {' '.join(args)} failed:\n{done.stderr[-4000:]}"
        return json.loads(done.stdout.strip().splitlines()[-1])


def client_env(requirement: str) -> ClientEnv:
    """The cached environment for ``requirement``, made (with pip, from PyPI) the first time it is asked for."""
    version = f"py{sys.version_info.major}{sys.version_info.minor}"
    key = hashlib.sha256(f"{requirement} {version}".encode()).hexdigest()[:12]
    home = Path(tempfile.gettempdir()) / "deskstream-compat" / f"{requirement.split('=')[0]}-{key}"
    python = home / "bin" / "python"
    marker = home / ".installed"
    if marker.exists() and marker.read_text() == requirement and python.exists():
        return ClientEnv(python)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(home)], check=True, timeout=300)
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert pip.returncode == 0, f"pip install {requirement} failed (the compatibility suite needs PyPI):\n{pip.stderr}"
    marker.write_text(requirement)
    return ClientEnv(python)


@pytest.fixture(scope="session")
def zenpy() -> ClientEnv:
    return client_env(ZENPY)


@pytest.fixture(scope="session")
def tap_zendesk() -> ClientEnv:
    return client_env(TAP_ZENDESK)


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


#: The streams the tap syncs here, and what each one's source is.
TAP_STREAMS = ("tickets", "users", "organizations", "ticket_metric_events")


@dataclass
class TapSync:
    """One run of tap-zendesk in sync mode: its process while it runs, then the Singer messages it wrote."""

    process: subprocess.Popen[str]
    out: Path

    def messages(self, timeout: float = 900) -> list[dict[str, Any]]:
        _, err = self.process.communicate(timeout=timeout)
        assert self.process.returncode == 0, f"tap-zendesk failed:\n{err[-4000:]}"
        return [json.loads(line) for line in self.out.read_text().splitlines()]


@dataclass
class Tap:
    """tap-zendesk with a config for the demo admin, in a directory of its own."""

    env: ClientEnv
    base_url: str
    home: Path

    def config(self) -> Path:
        config = {
            "subdomain": "local",
            "start_date": "2000-01-01T00:00:00Z",
            "access_token": demo.ADMIN_TOKEN,  # 2.8.2's own HTTP layer always sends Bearer access_token
            "email": demo.ADMIN_EMAIL,
            "request_timeout": 60,
        }
        path = self.home / "config.json"
        path.write_text(json.dumps(config))
        return path

    def discover(self) -> dict[str, Any]:
        command = self.env.command("run_tap.py", self.base_url, "--config", str(self.config()), "--discover")
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"tap-zendesk --discover failed:\n{done.stderr[-4000:]}"
        catalog: dict[str, Any] = json.loads(done.stdout)
        return catalog

    def sync(self, catalog: dict[str, Any], name: str, state: dict[str, Any] | None = None) -> TapSync:
        """Start a sync of ``catalog``'s selected streams (from ``state`` when given) in the background."""
        catalog_path, out = self.home / f"{name}-catalog.json", self.home / f"{name}.singer"
        catalog_path.write_text(json.dumps(catalog))
        args = ["--config", str(self.config()), "--catalog", str(catalog_path)]
        if state is not None:
            (self.home / f"{name}-state.json").write_text(json.dumps(state))
            args += ["--state", str(self.home / f"{name}-state.json")]
        with open(out, "w") as sink:
            command = self.env.command("run_tap.py", self.base_url, *args)
            process = subprocess.Popen(command, stdout=sink, stderr=subprocess.PIPE, text=True)
        return TapSync(process, out)


def select(catalog: dict[str, Any], streams: tuple[str, ...]) -> dict[str, Any]:
    """The catalog with ``streams`` selected, as a Singer user selects them (the stream's top-level metadata)."""
    chosen = json.loads(json.dumps(catalog))
    for stream in chosen["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in streams
    return chosen


@pytest.fixture(scope="session")
def tap(tap_zendesk: ClientEnv, history: Server, tmp_path_factory: pytest.TempPathFactory) -> Tap:
    return Tap(tap_zendesk, history.base_url, tmp_path_factory.mktemp("tap-zendesk"))


@pytest.fixture(scope="session")
def tap_catalog(tap: Tap) -> dict[str, Any]:
    return tap.discover()


@pytest.fixture(scope="session", autouse=True)
def tap_first_sync(tap: Tap, tap_catalog: dict[str, Any]) -> Iterator[TapSync]:
    """The first full sync, started when this folder's first test starts (autouse), read by the tap's tests."""
    run = tap.sync(select(tap_catalog, TAP_STREAMS), "first")
    yield run
    if run.process.poll() is None:  # only some of this folder's tests were run
        run.process.kill()
    run.process.communicate()
