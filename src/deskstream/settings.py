"""Every server setting in one place: its name, default and help.

The CLI builds its ``serve`` options from :data:`SETTINGS`, every option also reads ``DESKSTREAM_<NAME>`` from the
environment, and docs/ is checked against this table, so the three cannot drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_DB = "sqlite:///deskstream.db"


def default_db_url() -> str:
    """``$DESKSTREAM_DB``, else ``deskstream.db`` in the working directory (spec/README.md)."""
    return os.environ.get("DESKSTREAM_DB") or DEFAULT_DB


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("db", DEFAULT_DB, "Database URL: sqlite:///FILE or postgresql://user@host:port/db."),
    Setting("host", "127.0.0.1", "Interface to listen on."),
    Setting("port", 8000, "Port to listen on."),
    Setting("workers", 1, "Number of server processes (they share the database)."),
    Setting("demo", False, "On an empty database, create the demo accounts and history before serving."),
    Setting("rate_limit", "10", "Incremental export requests per minute per account, or 'off'."),
    Setting("clock", "real", "'real' for wall time, 'sim' for a stored clock moved by POST /_deskstream/clock."),
    Setting("faults", "", "Deterministic fault injection spec, e.g. 'tie_overflow=stall,http429_every=5,seed=7'."),
    Setting("change_sequence", False, "Serve /api/v2/incremental/changes (a feed that cannot miss)."),
    Setting("max_body_bytes", 1_048_576, "Largest accepted request body, in bytes."),
)


@dataclass(frozen=True)
class Settings:
    """The settings of one server; ``create_app(settings)`` takes one of these."""

    db: str = field(default_factory=default_db_url)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    demo: bool = False
    rate_limit: int | None = 10
    clock: str = "real"
    faults: str = ""
    change_sequence: bool = False
    max_body_bytes: int = 1_048_576

    def __post_init__(self) -> None:
        if self.clock not in ("real", "sim"):
            raise ValueError("clock must be 'real' or 'sim'")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError("rate_limit must be a positive number or off")

    @staticmethod
    def parse_rate_limit(value: str | int | None) -> int | None:
        """``'off'`` (or none) disables the limit; anything else is requests per minute."""
        if value is None or str(value).strip().lower() in ("off", "none", "0", ""):
            return None
        return int(value)

    def as_env(self) -> dict[str, str]:
        """The settings as ``DESKSTREAM_*`` variables: how ``serve --workers N`` hands them to its processes."""
        env: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "rate_limit":
                value = "off" if value is None else value
            env[f"DESKSTREAM_{f.name.upper()}"] = str(int(value) if isinstance(value, bool) else value)
        return env

    @classmethod
    def from_env(cls) -> "Settings":
        """Rebuild the settings from ``DESKSTREAM_*`` variables (used by worker processes)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = os.environ.get(f"DESKSTREAM_{f.name.upper()}")
            if raw is None:
                continue
            if f.name == "rate_limit":
                values[f.name] = cls.parse_rate_limit(raw)
            elif f.type in ("bool",):
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif f.type in ("int",):
                values[f.name] = int(raw)
            else:
                values[f.name] = raw
        return cls(**values)
