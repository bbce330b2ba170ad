"""Every server setting, declared once: the fields of :class:`Settings`.

Settings used to be declared three times (a table, a dataclass and the CLI's option mapping) and drifted. Now the
fields below are the only declaration: pydantic-settings reads them from ``DESKSTREAM_<NAME>`` and validates them,
the CLI builds its ``serve`` options from :data:`SETTINGS` (the same fields as a table), and tests/test_docs.py checks
that table against docs/quickstart.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from deskstream import faults, scenarios

ENV_PREFIX = "DESKSTREAM_"
#: The units ``--retention`` takes, in seconds.
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


class Settings(BaseSettings):
    """The settings of one server; ``create_app(settings)`` takes one of these.

    ``Settings()`` reads ``DESKSTREAM_*`` from the environment; keyword arguments win over it.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True)

    db: str = Field(
        default="sqlite:///deskstream.db", description="Database URL: sqlite:///FILE or postgresql://user@host:port/db."
    )
    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port to listen on.")
    workers: int | None = Field(
        default=None, ge=1,
        description="Number of server processes (they share the database); by default one per core, or one for a "
        "test double (--demo, --scenario, --clock sim or --faults), whose faults then act on every request in order.",
    )
    public_url: str = Field(
        default="",
        description="The base URL clients address this server by (https://help.example.com): a database created "
        "with it stores its items' url fields with it, so export pages go out as stored; a request by another "
        "host name still gets its own.",
    )
    demo: bool = Field(
        default=False, description="On an empty database, create the demo accounts and history before serving."
    )
    scenario: str = Field(
        default="",
        description="On an empty database, create the demo accounts and this scenario's history, and serve its "
        f"expected record set at GET /_deskstream/scenario: {', '.join(scenarios.NAMES)}.",
    )
    rate_limit: int | None = Field(
        default=10, description="Incremental export requests per minute per account, or 'off'."
    )
    clock: Literal["real", "sim"] = Field(
        default="real", description="'real' for wall time, 'sim' for a stored clock moved by POST /_deskstream/clock."
    )
    faults: str = Field(
        default="", description="Deterministic fault injection spec, e.g. 'tie_overflow=stall,http429_every=5,seed=7'."
    )
    change_sequence: bool = Field(
        default=False, description="Serve /api/v2/incremental/changes (a feed that cannot miss)."
    )
    retention: int = Field(
        default=30 * 86_400,
        description="How long the change feed keeps changes: seconds, or a number with s, m, h or d (30d); an "
        "older since gets 410.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Addresses of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed "
        "(comma-separated; '*' for any); none by default, since any client can write those headers.",
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1, description="Largest accepted request body, in bytes.")
    access_log: bool = Field(
        default=True, description="Log one line per request to stderr (uvicorn's access log); --no-access-log for "
        "none. With --log-json the JSON line is the request's one line."
    )
    log_json: bool = Field(
        default=False, description="Write one JSON line per request to stderr (method, path, status, duration, user)."
    )
    journal_size: int = Field(
        default=10_000, ge=0, description="Requests the request journal (GET /_deskstream/requests) keeps, the newest "
        "first; 0 turns it off.",
    )
    synchronous: Literal["normal", "full"] = Field(
        default="normal",
        description="SQLite durability: 'normal' keeps every acknowledged write through a process crash; 'full' "
        "also through a power loss (an fsync per commit).",
    )

    @field_validator("faults")
    @classmethod
    def _faults(cls, value: str) -> str:
        """Checked once here, so a bad spec stops ``serve`` with one line (the app parses it again, to a plan)."""
        try:
            faults.parse(value)
        except faults.FaultSpecError as error:
            raise PydanticCustomError("faults", str(error)) from None
        return value

    @field_validator("scenario")
    @classmethod
    def _scenario(cls, value: str, info: ValidationInfo) -> str:
        """A name of the catalog, and not with ``--demo`` (each makes a history), checked before anything is
        written."""
        if value and value not in scenarios.SCENARIOS:
            raise PydanticCustomError("scenario", str(scenarios.UnknownScenario(value)))
        if value and info.data.get("demo"):
            raise PydanticCustomError("scenario", "--demo and --scenario each make a history: give one of them")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        """``scheme://host[:port]`` and nothing else: it replaces exactly what a request's scheme and Host give."""
        if not value:
            return value
        parts = urlsplit(value.strip().rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or parts.fragment:
            raise PydanticCustomError("public_url", "expected http:// or https:// and a host, with no path, such as "
                                      "https://help.example.com or http://127.0.0.1:8000")
        try:
            parts.port  # noqa: B018  (a port out of range raises)
        except ValueError as error:
            raise PydanticCustomError("public_url", str(error)) from None
        return f"{parts.scheme}://{parts.netloc}"

    @field_validator("workers", mode="before")
    @classmethod
    def _workers(cls, value: object) -> object:
        """``auto`` (or nothing) leaves the choice to :attr:`processes`."""
        return None if value is None or str(value).strip().lower() in ("", "auto", "off", "none") else value

    @property
    def processes(self) -> int:
        """How many server processes to run: ``--workers``, or by default one per core — but one for a test double,
        since a fault plan and its random stream live in one process (``PUT /_deskstream/faults`` reaches one)."""
        if self.workers is not None:
            return self.workers
        if self.demo or self.scenario or self.clock == "sim" or self.faults:
            return 1
        return os.cpu_count() or 1

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _rate_limit(cls, value: object) -> int | None:
        """``off`` (or none, or 0) disables the limit; anything else must be a whole number of requests per minute."""
        text = str(value).strip().lower()
        if text in ("off", "none"):
            return None
        if not (text.isascii() and text.isdigit()):
            raise PydanticCustomError("rate_limit", "expected a positive whole number (requests per minute) or 'off'")
        return int(text) or None

    @field_validator("retention", mode="before")
    @classmethod
    def _retention(cls, value: object) -> int:
        """``30d``, ``12h``, ``90m``, ``3600s`` or plain seconds, at least ten minutes: a change pruned must be older
        than the exports' one-minute horizon, so the resync a 410 asks for holds it (ten times over, for clocks
        that differ between servers)."""
        text = str(value).strip().lower()
        unit = _UNITS.get(text[-1:], 0)
        digits = text[:-1] if unit else text
        if not (digits.isascii() and digits.isdigit()) or not 600 <= int(digits) * (unit or 1) <= 10**11:
            raise PydanticCustomError("retention", "expected a duration from 10 minutes, such as 30d, 12h, 90m or "
                                      "3600 (seconds): what a resync reads must be older than the exports' horizon")
        return int(digits) * (unit or 1)

    @classmethod
    def from_env(cls) -> Settings:
        """The settings from ``DESKSTREAM_*`` alone (how worker processes get what ``serve`` was given)."""
        return cls()

    def as_env(self) -> dict[str, str]:
        """The settings as the ``DESKSTREAM_*`` variables that :meth:`from_env` reads back (no limit travels as off)."""
        return {
            f"{ENV_PREFIX}{name.upper()}": "off" if value is None else str(value)
            for name, value in self.model_dump().items()
        }


@dataclass(frozen=True)
class Setting:
    """One field of :class:`Settings`, as the CLI and the docs check read it."""

    name: str
    default: object
    help: str
    is_flag: bool

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: tuple[Setting, ...] = tuple(
    Setting(name, field.default, field.description or "", field.annotation is bool)
    for name, field in Settings.model_fields.items()
)
