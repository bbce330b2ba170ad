"""Starting and stopping the fixture's server: uvicorn in a thread of the test's process, or a process of its own.

Both serve the app ``create_app`` builds from :class:`~deskstream.settings.Settings` (the simulated clock, a
temporary SQLite file), wrapped in the fixture's :class:`~deskstream.testing.hook.Recorder`, on a free port that
uvicorn picks (port 0, so two servers never race for one). The database starts as a copy of a template made once
per test session (migrated, with the demo accounts), which saves the argon2 hashing of three passwords and a token
on every start.

The settings are every field given explicitly, defaults included, so a ``DESKSTREAM_*`` variable of the
environment (a CI job's ``DESKSTREAM_DB``) never reaches the fixture's server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from deskstream.settings import SETTINGS, Settings
from deskstream.testing.journal import FileJournal, Journal, MemoryJournal

if TYPE_CHECKING:
    from fastapi import FastAPI

#: How long a server may take to answer before the fixture gives up (a busy CI machine, not an idle one).
STARTUP_TIMEOUT = float(os.environ.get("DESKSTREAM_FIXTURE_STARTUP_TIMEOUT", "60"))
#: The settings the fixture decides, whatever the options say.
FIXED = frozenset({"db", "host", "port", "workers", "clock", "demo", "scenario"})


class ServerError(RuntimeError):
    """The fixture's server did not start (its log, when it has one, is in the message)."""


def settings_for(db_url: str, values: dict[str, Any]) -> Settings:
    """The settings of a fixture's server: the defaults, ``values`` (any setting but :data:`FIXED`), a simulated
    clock on ``db_url``, and nothing from the environment."""
    fixed = sorted(FIXED & set(values))
    if fixed:
        raise ValueError(f"the fixture decides {', '.join(fixed)}; it takes the other settings")
    given: dict[str, Any] = {setting.name: setting.default for setting in SETTINGS}
    given.update(values, db=db_url, clock="sim", host="127.0.0.1", port=8000, workers=1)
    return Settings(**given)


@dataclass(frozen=True)
class Template:
    """A migrated database with the demo accounts, copied for each server; the accounts and their ids by role."""

    path: Path
    user_ids: dict[str, int]
    admin: tuple[str, str]
    agent: tuple[str, str]
    end_user: tuple[str, str]
    token: str


def make_template(directory: Path) -> Template:
    from deskstream import demo
    from deskstream.clock import FixedClock
    from deskstream.service import Desk
    from deskstream.store import Store

    path = directory / "template.db"
    store = Store(f"sqlite:///{path}")
    try:
        store.migrate()
        ids = demo.create_accounts(Desk(store, FixedClock(int(time.time()) - 3600)))
    finally:
        store.dispose()  # the last connection closing checkpoints the WAL into the file
    password = demo.PASSWORD
    return Template(path, ids, (demo.ADMIN_EMAIL, password), (demo.AGENT_EMAIL, password),
                    (demo.USER_EMAIL, password), demo.ADMIN_TOKEN)  # fmt: skip


def copy_template(template: Template, directory: Path) -> str:
    """A fresh database for one server; its URL."""
    path = directory / "deskstream.db"
    shutil.copyfile(template.path, path)
    return f"sqlite:///{path}"


class Running(Protocol):
    @property
    def url(self) -> str: ...

    @property
    def journal(self) -> Journal: ...

    @property
    def pid(self) -> int: ...

    def signal_stop(self) -> None:
        """Ask the server to stop, without waiting (the fixtures wait at the session's end)."""
        ...

    def stop(self) -> None:
        """Stop the server and wait until it has: its thread ended or its process gone, its database closed."""
        ...


def served_app(app: FastAPI, journal: Journal) -> Any:
    """The app inside the fixture's layer (the journal, and the clock catching up after a budget's 429)."""
    from deskstream.testing.hook import CatchUp, Recorder

    desk, clock = app.state.desk, app.state.clock
    catch_up = CatchUp(lambda target: desk.sla.move_clock(clock, target), clock.now)
    return Recorder(app, journal.add, catch_up if app.state.settings.rate_limit else None)


def uvicorn_server(app: Any) -> Any:
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="on", log_config=None, log_level="warning", access_log=False,
        ws="none", timeout_graceful_shutdown=5,
    )  # fmt: skip
    return uvicorn.Server(config)


def port_of(server: Any) -> int:
    return int(server.servers[0].sockets[0].getsockname()[1])


class ThreadServer:
    """uvicorn serving the app in a daemon thread of the test's process: starts in a fraction of a second, and a
    breakpoint in the server stops the test's debugger."""

    def __init__(self, settings: Settings) -> None:
        from deskstream.api import create_app

        self.pid = os.getpid()
        self.journal = MemoryJournal()
        self.app = create_app(settings)
        self.server = uvicorn_server(served_app(self.app, self.journal))
        self.thread = threading.Thread(target=self.server.run, name="deskstream-fixture", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServerError("the fixture's server did not start in its thread (see the log above)")
            time.sleep(0.002)
        self.url = f"http://127.0.0.1:{port_of(self.server)}"

    def signal_stop(self) -> None:
        self.server.should_exit = True

    def stop(self) -> None:
        self.signal_stop()
        self.thread.join(timeout=30)
        self.app.state.store.dispose()


class ProcessServer:
    """The same app in a process of its own (``python -m deskstream.testing.child``): what a crash, a ``kill -9``
    or a client that blocks the test's process needs. It writes its port to a file once it serves."""

    def __init__(self, settings: Settings, directory: Path) -> None:
        ready, log_path = directory / "ready.json", directory / "server.log"
        self.journal = FileJournal(directory / "journal.jsonl")
        env = {name: value for name, value in os.environ.items() if not name.startswith("DESKSTREAM_")}
        env["DESKSTREAM_FIXTURE_SETTINGS"] = settings.model_dump_json()
        command = [sys.executable, "-m", "deskstream.testing.child", str(ready), str(self.journal.path)]
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.pid = self.process.pid
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"the fixture's server process did not start:\n{log_path.read_text()}")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{json.loads(ready.read_text())['port']}"

    def signal_stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # uvicorn shuts down gracefully on SIGTERM

    def stop(self) -> None:
        if self.process.poll() is None:
            self.signal_stop()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(settings: Settings, directory: Path, process: bool) -> Running:
    return ProcessServer(settings, directory) if process else ThreadServer(settings)
