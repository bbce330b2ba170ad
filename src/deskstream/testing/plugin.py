"""The pytest plugin: ``zendesk`` and ``zendesk_factory`` (docs/testing.md).

Registered through the ``pytest11`` entry point, so installing deskstream is all a project needs; pytest loads it
in every run of every project that has deskstream installed. So importing it costs nothing (the server is imported
the first time a test asks for a fixture), and its names (``zendesk``, ``zendesk_factory``, ``deskstream_*`` ini
options, the ``deskstream`` marker) are unlikely to collide with a project's own.

Options, later ones winning: the ini file (``deskstream_rate_limit``, ``deskstream_faults``, ``deskstream_process``,
``deskstream_scope``), ``--deskstream-process`` on the command line, ``@pytest.mark.deskstream(...)`` on the test
(or module, or class: the closest to the fixture's scope), and ``zendesk_factory(...)``'s keyword arguments.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from deskstream.testing.options import ZENDESK_RATE_LIMIT, Options, rate_limit_text

if TYPE_CHECKING:
    from deskstream.testing.servers import Template
    from deskstream.testing.zendesk import Zendesk

MARKER = "deskstream"
SCOPES = ("function", "class", "module", "package", "session")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("deskstream_rate_limit", f"zendesk fixture: export requests per minute, or off (default "
                  f"{ZENDESK_RATE_LIMIT}, Zendesk's)", default=str(ZENDESK_RATE_LIMIT))  # fmt: skip
    parser.addini("deskstream_faults", "zendesk fixture: a --faults spec in force from the start", default="")
    parser.addini("deskstream_process", "zendesk fixture: serve from a process of its own", type="bool", default=False)
    parser.addini("deskstream_scope", f"zendesk fixture's scope: {', '.join(SCOPES)} (default function)",
                  default="function")  # fmt: skip
    group = parser.getgroup("deskstream", "deskstream (the zendesk fixture)")
    group.addoption("--deskstream-process", action="store_true", default=False,
                    help="serve every zendesk fixture from a process of its own")  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(process=False, rate_limit={ZENDESK_RATE_LIMIT}, faults='', **settings): how the zendesk "
        "fixture's server runs for this test (docs/testing.md)",
    )


def _scope(fixture_name: str, config: pytest.Config) -> Any:
    scope = str(config.getini("deskstream_scope")).strip() or "function"
    if scope not in SCOPES:
        raise pytest.UsageError(f"deskstream_scope = {scope!r}: expected one of {', '.join(SCOPES)}")
    return scope


def _options(config: pytest.Config) -> Options:
    return Options(
        process=bool(config.getini("deskstream_process")) or bool(config.getoption("deskstream_process")),
        rate_limit=rate_limit_text(config.getini("deskstream_rate_limit")),
        faults=str(config.getini("deskstream_faults")),
    )


class _Session:
    """The session's working directory (every fixture's database and files live under it, and go with it), the
    template database, made on first use, and the servers still stopping."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="deskstream-pytest-"))
        self._template: Template | None = None
        self._stopping: list[Callable[[], None]] = []

    def retire(self, zendesk: Zendesk) -> None:
        """Ask a server to stop; :meth:`close` waits for it (and removes its files) when the session ends."""
        self._stopping.append(zendesk.close_soon())

    def close(self) -> None:
        try:
            for finish in self._stopping:
                finish()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def template(self) -> Template:
        if self._template is None:
            from deskstream.testing.servers import make_template

            self._template = make_template(self.directory)
        return self._template

    def start(self, options: Options) -> Zendesk:
        from deskstream.testing.zendesk import Zendesk

        return Zendesk(self.template(), self.directory, options)


@pytest.fixture(scope="session")
def deskstream_session() -> Iterator[_Session]:
    """The session's deskstream working directory and template database (internal to the fixtures below)."""
    session = _Session()
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope=_scope)
def zendesk(request: pytest.FixtureRequest, deskstream_session: _Session) -> Iterator[Zendesk]:
    """A real deskstream on a free port, a fresh SQLite file and the simulated clock, with the demo accounts;
    stopped, and its files removed, when its scope ends."""
    options = _options(request.config)
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        options = options.with_values(marker.kwargs)
    zendesk = deskstream_session.start(options)
    try:
        yield zendesk
    finally:
        deskstream_session.retire(zendesk)


@pytest.fixture
def zendesk_factory(request: pytest.FixtureRequest, deskstream_session: _Session) -> Iterator[Callable[..., Zendesk]]:
    """Start servers on demand, ``zendesk_factory(process=True, rate_limit="off", faults="...", **settings)``; each is
    stopped when the test ends."""
    base = _options(request.config)
    started: list[Zendesk] = []

    def make(**values: Any) -> Zendesk:
        zendesk = deskstream_session.start(base.with_values(values))
        started.append(zendesk)
        return zendesk

    try:
        yield make
    finally:
        for zendesk in started:
            deskstream_session.retire(zendesk)
