"""Fixtures that start real things, over a real SQLite file.

``make_app(*serve_args, seed=...)`` starts deskstream in this process (``create_app`` with the settings the serve
arguments name, spoken to over httpx through Starlette's TestClient): what API behaviour tests use.
``make_server(*serve_args, seed=...)`` starts a real ``deskstream serve`` process on a free port: for where processes
are the point (workers, the demo, rate limits and clocks shared across processes, curl and real clients).
``server`` is a shared in-process one with the demo accounts and ``--rate-limit off``;
``admin``/``agent``/``end_user``/``anonymous`` are clients bound to it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Connection
from starlette.testclient import TestClient

from deskstream import demo
from deskstream.api.app import create_app
from deskstream.clock import FixedClock
from deskstream.service import Desk
from deskstream.settings import Settings
from deskstream.store import Store

S = TypeVar("S", bound="Server")

ADMIN = (demo.ADMIN_EMAIL, demo.PASSWORD)
AGENT = (demo.AGENT_EMAIL, demo.PASSWORD)
END_USER = (demo.USER_EMAIL, demo.PASSWORD)


#: How long a server may take to answer: ``serve --demo`` generates its history first (8 s on 2 idle cores, and
#: four times that or more beside other work); the bound is for a machine that is busy, not for one that is idle.
STARTUP_SECONDS = float(os.environ.get("DESKSTREAM_TEST_STARTUP_SECONDS", "300"))


#: What :func:`start_server` polls until the server answers 200: ``GET /metrics``, unauthenticated by design and
#: carrying no secret (docs/metrics.md), neither journaled nor rate-limited, so a probe leaves no trace a test could
#: see; it costs next to nothing, where ``/openapi.json`` built the whole OpenAPI description (0.15-0.2 s of CPU) in
#: every server process the suite starts. uvicorn accepts connections only after the app's startup, so an answer
#: means ready.
READY_PATH = "/metrics"


#: The TLS context every test's httpx client shares: httpx otherwise builds one per client, loading certifi's bundle
#: (27 ms of CPU each), and the suite's clients of plain-HTTP servers number in the thousands.
TLS = httpx.create_ssl_context()


def http_client(base_url: str, **kwargs: Any) -> httpx.Client:
    """An httpx client of ``base_url`` on the shared :data:`TLS` context."""
    return httpx.Client(base_url=base_url, verify=TLS, **kwargs)


#: The longest units of work (a module, or tests/compat as one), started first so that the workers finish together.
LONGEST_FIRST = ("tests/compat", "tests/sync/test_sync.py", "tests/generate/test_demo.py",
                 "tests/bench/test_bench_smoke.py", "tests/api/test_load.py", "tests/sync/test_sync_feed.py",
                 "tests/api/test_security.py", "tests/sync/test_sync_memory.py", "tests/testing/test_plugin_fixture.py")


def unit_of(nodeid: str) -> str:
    """What runs whole on one pytest-xdist worker: a module, so that its module-scoped servers start once; or
    tests/compat, whose modules share session fixtures (the demo history, the clients' environments, the background
    syncs that its last modules read)."""
    module = nodeid.split("::", 1)[0]
    return "tests/compat" if module.startswith("tests/compat/") else module


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest units first (a stable sort: within a unit, the order is what it was)."""
    rank = {unit: n for n, unit in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(unit_of(item.nodeid), len(rank)))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist's scope scheduling, in collection order (``--no-loadscope-reorder``), by :func:`unit_of`."""
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return UnitScheduling(config, log)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running deskstream and the database it serves: in this process (:class:`AppServer`) or in its own
    (:class:`ProcessServer`); tests speak to either through :meth:`client`."""

    base_url: str
    db_url: str
    clients: list[httpx.Client] = field(default_factory=list, kw_only=True)

    def client(self, auth: tuple[str, str] | None = ADMIN, **kwargs: object) -> httpx.Client:
        client = http_client(self.base_url, auth=auth, timeout=30, **kwargs)
        self.clients.append(client)
        return client

    def store(self) -> Store:
        return Store(self.db_url)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction on the server's database from the test's own process, closed (store and all) after."""
        store = self.store()
        try:
            with store.read() as conn:
                yield conn
        finally:
            store.dispose()

    def stop(self) -> None:
        for client in self.clients:
            client.close()


@dataclass
class AppServer(Server):
    """deskstream in the test's process: the app ``create_app`` built, its lifespan (the SLA scheduler) running."""

    app: FastAPI
    lifespan: TestClient

    def client(self, auth: tuple[str, str] | None = ADMIN, **kwargs: object) -> httpx.Client:
        client = TestClient(
            self.app, base_url=self.base_url, raise_server_exceptions=False, client=("127.0.0.1", 50000), **kwargs
        )  # type: ignore[arg-type]
        client.auth = auth  # type: ignore[assignment]
        self.clients.append(client)
        return client

    def stop(self) -> None:
        super().stop()
        self.lifespan.__exit__(None, None, None)
        self.app.state.store.dispose()


@dataclass
class ProcessServer(Server):
    """A running ``deskstream serve`` process."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        super().stop()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def seed_accounts(store: Store, now: int | None = None) -> dict[str, int]:
    """The documented demo users and token, stamped an hour ago, without any history."""
    return demo.create_accounts(Desk(store, FixedClock((now or int(time.time())) - 3600)))


def seeded_database(directory: Path, seed: Callable[[Store], object] | None) -> str:
    """A fresh SQLite file, migrated and seeded; its URL."""
    db_url = f"sqlite:///{directory / f'deskstream-{free_port()}.db'}"
    if seed is not None:
        store = Store(db_url)
        store.migrate()
        seed(store)
        store.dispose()
    return db_url


def settings_of(serve_args: tuple[str, ...], db_url: str) -> Settings:
    """The settings ``deskstream serve`` would take from these arguments (``--name value`` pairs and flags)."""
    values: dict[str, object] = {"db": db_url}
    args = list(serve_args)
    while args:
        name = args.pop(0).removeprefix("--").replace("-", "_")
        flag = Settings.model_fields[name].annotation is bool
        values[name] = True if flag else args.pop(0)
    return Settings(**values)  # type: ignore[arg-type]


def start_app(
    directory: Path,
    *serve_args: str,
    seed: Callable[[Store], object] | None = seed_accounts,
    db_url: str | None = None,
) -> AppServer:
    """deskstream in this process over a fresh, seeded database, or, given ``db_url``, over that one."""
    db_url = db_url or seeded_database(directory, seed)
    app = create_app(settings_of(serve_args, db_url))
    lifespan = TestClient(app)
    lifespan.__enter__()
    return AppServer("http://testserver", db_url, app=app, lifespan=lifespan)


def start_server(
    directory: Path,
    *serve_args: str,
    seed: Callable[[Store], object] | None = seed_accounts,
    db_url: str | None = None,
) -> ProcessServer:
    """A server over a fresh, seeded database; or, given ``db_url``, another process on that existing database.

    One process unless the test asks for ``--workers``: the default, one per core, would start a supervisor and
    its workers for every server of the suite, where a test is about something else."""
    if "--workers" not in serve_args:
        serve_args = (*serve_args, "--workers", "1")
    if db_url is None:
        db_url = seeded_database(directory, seed)
    port = free_port()
    log_path = directory / f"server-{port}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKSTREAM_")}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "deskstream", "serve", "--db", db_url, "--port", str(port), *serve_args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base_url = f"http://127.0.0.1:{port}"
    server = ProcessServer(base_url, db_url, process=process, log_path=log_path)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()}")
        try:
            if httpx.get(f"{base_url}{READY_PATH}", timeout=5, verify=TLS).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not start in {STARTUP_SECONDS} s: {log_path.read_text()}")


def _session_servers(start: Callable[..., S]) -> Iterator[Callable[..., S]]:
    """A factory of servers that are all stopped when the session ends."""
    servers: list[S] = []

    def make(*args: Any, **kwargs: Any) -> S:
        server = start(*args, **kwargs)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def make_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., ProcessServer]]:
    """Start server processes on demand: ``make_server(*serve_args, seed=..., db_url=...)``."""
    yield from _session_servers(lambda *args, **kw: start_server(tmp_path_factory.mktemp("server"), *args, **kw))


@pytest.fixture(scope="session")
def make_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., AppServer]]:
    """Start in-process servers on demand: ``make_app(*serve_args, seed=...)``."""
    yield from _session_servers(lambda *args, **kw: start_app(tmp_path_factory.mktemp("app"), *args, **kw))


@pytest.fixture(scope="session")
def server(make_app: Callable[..., AppServer]) -> Server:
    """A shared in-process server with the demo accounts, no history and no rate limit."""
    return make_app("--rate-limit", "off")


@pytest.fixture
def admin(server: Server) -> httpx.Client:
    return server.client(ADMIN)


@pytest.fixture
def agent(server: Server) -> httpx.Client:
    return server.client(AGENT)


@pytest.fixture
def end_user(server: Server) -> httpx.Client:
    return server.client(END_USER)


@pytest.fixture
def anonymous(server: Server) -> httpx.Client:
    return server.client(None)
