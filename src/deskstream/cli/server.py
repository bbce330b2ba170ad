"""``deskstream serve``: the server, its demo and scenarios. Loaded when ``serve`` runs (or help lists every
command), so that the other commands start without the settings' and the server's imports."""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
import time
from typing import TYPE_CHECKING, Any

import click

from deskstream.cli.common import ENV, console, settings_options
from deskstream.settings import Settings

if TYPE_CHECKING:
    from deskstream.store import Store


@click.command(context_settings=ENV)
@settings_options
def serve(**options: Any) -> None:
    """Serve the Zendesk-compatible API (and, with --demo, a demo account and history)."""
    from deskstream import observability  # the server's modules: not for serve --help
    from deskstream.store import Store
    from deskstream.store.engine import masked

    loading = _import_in_background("uvicorn", "deskstream.api.app", "anyio._backends._asyncio")
    settings = Settings(**options)
    store = Store(settings.db, settings.synchronous, settings.public_url or None)
    store.migrate()
    if settings.demo:
        _install_demo(store)
    if settings.scenario:
        settings = _load_scenario(store, settings)
    store.dispose()
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"deskstream serving {masked(settings.db)} at [bold]{base}[/bold]")
    if settings.demo or settings.scenario:
        _print_credentials(base)
    loading.join()
    import uvicorn

    if settings.processes > 1:
        os.environ.update(settings.as_env())
        with observability.multiprocess_dir():  # before uvicorn spawns the workers, so their metrics share it
            uvicorn.run(
                "deskstream.api.app:app_from_env",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=settings.processes,
                **_logging(settings),
                **_proxy_headers(settings),
            )
    else:
        from deskstream.api import create_app

        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, **_logging(settings),
                    **_proxy_headers(settings))


def _import_in_background(*modules: str) -> threading.Thread:
    """Import the server's modules (FastAPI, uvicorn, the routes, anyio's event loop backend that the first request
    would load: most of a second) in a thread while the database is migrated and the demo's history copied, whose
    SQLite work releases the GIL. A module that fails to import here fails again, with its error, where it is used."""

    def load() -> None:
        for module in modules:
            with contextlib.suppress(Exception):
                importlib.import_module(module)

    thread = threading.Thread(target=load, name="deskstream-import", daemon=True)
    thread.start()
    return thread


def _install_demo(store: Store) -> None:
    """``--demo``: the demo's accounts and history on a database that does not hold them yet. The demo module and
    the generator it imports load only here and for --scenario: a server without them never needs either."""
    from deskstream import demo

    if demo.is_seeded(store):
        return
    from rich.progress import Progress

    from deskstream.generate.report import PROGRESS_COLUMNS

    # A bar on a terminal while it generates or copies (a line saying so elsewhere), then one summary line.
    label = f"Demo history: {demo.DEMO_TICKETS:,} tickets over {demo.DEMO_DAYS} days"
    if console.is_terminal:
        with Progress(*PROGRESS_COLUMNS, console=console, transient=True) as progress:
            task = progress.add_task(f"{label}, generating", total=demo.DEMO_TICKETS)
            done = demo.install(store, int(time.time()), progress=lambda n: progress.advance(task, n))
    else:
        console.print(f"{label}: generating, or copying the cached history...")
        done = demo.install(store, int(time.time()))
    how = "copied from the cache" if done.cached else "generated (the next demo on this machine copies it)"
    console.print(f"Demo history: {done.tickets:,} tickets, {done.events:,} events, {how} in {done.seconds:.1f} s")


def _print_credentials(base: str) -> None:
    """The demo's documented credentials and a curl to try, for --demo and --scenario."""
    from deskstream import demo

    console.print(
        f"  admin {demo.ADMIN_EMAIL} / {demo.PASSWORD} (API token {demo.ADMIN_TOKEN}); "
        f"agent {demo.AGENT_EMAIL} / {demo.PASSWORD}; end user {demo.USER_EMAIL} / {demo.PASSWORD}"
    )
    console.print(
        f'  try: curl -u {demo.ADMIN_EMAIL}:{demo.PASSWORD} -G -d "start_time=0" '
        f'-H "Accept: application/json" {base}/api/v2/incremental/tickets'
    )


def _logging(settings: Settings) -> dict[str, Any]:
    """uvicorn's loggers: warnings, and its access log (one line per request) unless ``--no-access-log``, or
    ``--log-json``, whose JSON line already records each request (docs/metrics.md § Request log)."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    access = settings.access_log and not settings.log_json
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["uvicorn.error"]["level"] = "WARNING"
    config["loggers"]["uvicorn.access"]["level"] = "INFO" if access else "WARNING"
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"  # uvicorn's default is stdout; logs go to stderr
    return {"log_config": config, "log_level": None, "access_log": access}


def _proxy_headers(settings: Settings) -> dict[str, Any]:
    """uvicorn believes forwarding headers from 127.0.0.1 unless told otherwise, so that any process on the host could
    pass for another client address (and around the per-address sign-in budget): only ``--trusted-proxies``."""
    proxies = settings.trusted_proxies.strip()
    return {"proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or None}


def _load_scenario(store: Store, settings: Settings) -> Settings:
    """``--scenario NAME``: on an empty database, the demo accounts and the scenario's history, stamped before the
    server's clock (docs/testing.md); on one that holds that scenario already, nothing. The settings it returns run
    the scenario's faults with ``--faults`` on top."""
    from deskstream import demo
    from deskstream.clock import make_clock
    from deskstream.scenarios import history

    held = history.loaded(store)
    if held is None:
        try:
            now = make_clock(settings.clock, store).now()
            record = history.load(store, settings.scenario, now, accounts=demo.create_accounts)
        except history.ScenarioError as error:
            raise click.BadParameter(str(error), param_hint="'--scenario'") from None
        between = "; POST /_deskstream/scenario/next between the client's two runs" if record["runs"] > 1 else ""
        console.print(
            f"Scenario {settings.scenario}: {len(record['expected']['tickets'])} tickets{between}; what a correct "
            "client ends with: GET /_deskstream/scenario"
        )
    elif held["name"] != settings.scenario:
        message = f"the database holds scenario {held['name']!r}: give an empty database for {settings.scenario!r}"
        raise click.BadParameter(message, param_hint="'--scenario'")
    return settings.model_copy(update={"faults": history.faults_with(settings.scenario, settings.faults)})
