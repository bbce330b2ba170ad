"""How the suite runs each real client: its own cached virtual environment, its scripts, its processes.

Each client pins old dependencies, so each gets its own environment, made once with pip from PyPI and cached
between runs in the system temp dir (``<tmp>/deskstream-compat/<name>-<key>``, keyed by the requirement and the
Python version). The clients run as processes in those environments (the scripts in ``clients/``); the slow ones
run in the background (:class:`Background`) while other tests go on.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from deskstream import demo

CLIENTS = Path(__file__).parent / "clients"


@dataclass
class Background:
    """A client process writing JSON lines (Singer or Airbyte messages) to a file, and what it wrote once done."""

    name: str
    process: subprocess.Popen[str]
    out: Path

    def messages(self, timeout: float = 900) -> list[dict[str, Any]]:
        _, err = self.process.communicate(timeout=timeout)
        assert self.process.returncode == 0, f"{self.name} failed:\n{err[-4000:]}"
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.startswith("{")]

    def stop(self) -> None:
        """Kill it if it still runs (only some of the suite's tests were run) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


@dataclass(frozen=True)
class ClientEnv:
    """A virtual environment holding one client; runs the scripts of ``clients/`` in it."""

    python: Path

    def command(self, script: str, *args: str) -> list[str]:
        return [str(self.python), str(CLIENTS / script), *args]

    def run(self, script: str, *args: str, timeout: float = 600) -> str:
        """Run a client script to completion; returns what it printed."""
        done = subprocess.run(self.command(script, *args), capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{script} {' '.join(args)} failed:\n{done.stderr[-4000:]}"
        return done.stdout

    def run_json(self, script: str, *args: str) -> Any:
        """Run a client script; returns the JSON it printed on its last line."""
        return json.loads(self.run(script, *args).strip().splitlines()[-1])

    def start(self, script: str, *args: str, out: Path) -> Background:
        with open(out, "w") as sink:
            process = subprocess.Popen(self.command(script, *args), stdout=sink, stderr=subprocess.PIPE, text=True)
        return Background(script, process, out)


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


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value))
    return path


@dataclass(frozen=True)
class Connector:
    """A Singer tap or an Airbyte source: one of ``clients/`` with a config for the demo admin, in a directory of
    its own; its syncs run in the background, from a catalog and, for a resumed run, a state."""

    env: ClientEnv
    base_url: str
    home: Path
    script: ClassVar[str]
    command: ClassVar[tuple[str, ...]] = ()

    def settings(self) -> dict[str, Any]:
        raise NotImplementedError

    def config(self) -> Path:
        return write_json(self.home / "config.json", self.settings())

    def start(self, catalog: dict[str, Any], name: str, state: Any = None) -> Background:
        """Start a sync of ``catalog``'s streams (from ``state`` when given) in the background."""
        catalog_path = write_json(self.home / f"{name}-catalog.json", catalog)
        args = [*self.command, "--config", str(self.config()), "--catalog", str(catalog_path)]
        if state is not None:
            args += ["--state", str(write_json(self.home / f"{name}-state.json", state))]
        return self.env.start(self.script, self.base_url, *args, out=self.home / f"{name}.jsonl")


@dataclass(frozen=True)
class Tap(Connector):
    """tap-zendesk (Singer)."""

    script: ClassVar[str] = "run_tap.py"

    def settings(self) -> dict[str, Any]:
        return {
            "subdomain": "local",
            "start_date": "2000-01-01T00:00:00Z",
            "access_token": demo.ADMIN_TOKEN,  # 2.8.2's own HTTP layer always sends Bearer access_token
            "email": demo.ADMIN_EMAIL,
            "request_timeout": 60,
        }

    def discover(self) -> dict[str, Any]:
        catalog: dict[str, Any] = json.loads(
            self.env.run(self.script, self.base_url, "--config", str(self.config()), "--discover")
        )
        return catalog

    @staticmethod
    def select(catalog: dict[str, Any], streams: tuple[str, ...]) -> dict[str, Any]:
        """The catalog with ``streams`` selected, as a Singer user selects them (each stream's top-level metadata)."""
        chosen: dict[str, Any] = json.loads(json.dumps(catalog))
        for stream in chosen["streams"]:
            for entry in stream["metadata"]:
                if entry["breadcrumb"] == []:
                    entry["metadata"]["selected"] = stream["tap_stream_id"] in streams
        return chosen


@dataclass(frozen=True)
class Airbyte(Connector):
    """Airbyte's source-zendesk-support, with an API-token config."""

    script: ClassVar[str] = "run_airbyte.py"
    command: ClassVar[tuple[str, ...]] = ("read",)

    def settings(self) -> dict[str, Any]:
        return {
            "subdomain": "local",
            "start_date": "2000-01-01T00:00:00Z",
            "credentials": {"credentials": "api_token", "email": demo.ADMIN_EMAIL, "api_token": demo.ADMIN_TOKEN},
        }

    def messages(self, *args: str) -> list[dict[str, Any]]:
        out = self.env.run(self.script, self.base_url, *args, "--config", str(self.config()))
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]

    def check(self) -> str:
        (status,) = [m["connectionStatus"] for m in self.messages("check") if m["type"] == "CONNECTION_STATUS"]
        return str(status["status"])

    def discover(self) -> dict[str, Any]:
        (catalog,) = [m["catalog"] for m in self.messages("discover") if m["type"] == "CATALOG"]
        return dict(catalog)

    @staticmethod
    def configure(catalog: dict[str, Any], streams: tuple[str, ...]) -> dict[str, Any]:
        """A configured catalog reading ``streams`` incrementally on their default cursors, as a user sets one up."""
        return {"streams": [
            {"stream": s, "sync_mode": "incremental", "destination_sync_mode": "append",
             "cursor_field": s.get("default_cursor_field", [])}
            for s in catalog["streams"] if s["name"] in streams
        ]}  # fmt: skip
