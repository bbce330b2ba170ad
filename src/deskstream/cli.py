"""The ``deskstream`` command (spec/README.md § Interfaces).

A user of the command must never see a traceback. So commands only raise, and one place, the root group
(:class:`_Edge`), turns whatever escapes them into one line on stderr and the spec's exit code: 0 success; 1 a check
failed; 2 bad usage (bad options, a database URL that cannot be parsed, opened or reached, a rule of the help desk);
3 upstream refused (auth). Every option also reads ``DESKSTREAM_<OPTION>``, and ``serve``'s options are built from
:data:`deskstream.settings.SETTINGS`, so the command cannot drift from the settings it fills.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from pydantic import ValidationError
from rich.console import Console

from deskstream.domain.people import ROLES, Role, UserInput
from deskstream.exceptions import DeskstreamError
from deskstream.settings import ENV_PREFIX, SETTINGS, Setting, Settings
from deskstream.store.errors import StoreError
from deskstream.sync.commands import sync_command, verify_command

if TYPE_CHECKING:
    from deskstream.service import Desk
    from deskstream.store import Store

console = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

#: Each command reads ``DESKSTREAM_<OPTION>`` (click would otherwise add the command's name to the prefix).
_ENV: dict[str, Any] = {"auto_envvar_prefix": ENV_PREFIX.rstrip("_")}

#: How PostgreSQL (libpq) words a refused login; it gives no SQLSTATE for failures while connecting.
_AUTH_REFUSED = re.compile(r'authentication failed|pg_hba\.conf|role ".*" does not exist')


def _usage(exc: click.UsageError) -> str:
    return exc.format_message() + (f" (see '{exc.ctx.command_path} --help')" if exc.ctx else "")


def _invalid_options(exc: ValidationError) -> str:
    """Pydantic's complaint about the settings or a user's fields, each named as the option that gave it."""
    problems = []
    for error in exc.errors():
        option = "--" + str(error["loc"][0]).replace("_", "-") if error["loc"] else "an option"
        problems.append(f"Invalid value for '{option}': {error['msg']} (got {error['input']!r})")
    return "; ".join(problems)


def _domain(exc: DeskstreamError) -> str:
    reasons = [str(item.get("description", item)) for items in (exc.details or {}).values() for item in items]
    return ": ".join([exc.description or exc.error, *(["; ".join(reasons)] if reasons else [])])


def _database(exc: StoreError) -> tuple[str, int]:
    """The store has translated SQLAlchemy's and its driver's errors (a bad URL, no driver, no server) into its own."""
    return f"database: {exc}", 3 if _AUTH_REFUSED.search(str(exc)) else 2


class _Edge(click.Group):
    """The root group: every failure below it leaves as one line on stderr and an exit code, never a traceback."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.UsageError as exc:
            message, code = _usage(exc), exc.exit_code
        except click.ClickException as exc:
            message, code = exc.format_message(), exc.exit_code
        except click.Abort:
            message, code = "interrupted", 130
        except ValidationError as exc:
            message, code = _invalid_options(exc), 2
        except DeskstreamError as exc:
            message, code = _domain(exc), 2
        except StoreError as exc:
            message, code = _database(exc)
        click.echo(f"{click.style('error:', fg='red')} {' '.join(message.split())}", err=True)
        raise SystemExit(code)


def _option(setting: Setting) -> Callable[[F], F]:
    """The option that fills one setting; click passes text and :class:`Settings` validates it (one set of rules)."""
    if setting.is_flag and setting.default is True:  # on by default: --name/--no-name
        flags = f"{setting.flag}/--no-{setting.flag[2:]}"
        return click.option(flags, default=True, help=setting.help, show_default=True, show_envvar=True)
    if setting.is_flag:
        return click.option(setting.flag, is_flag=True, help=setting.help, show_envvar=True)
    return click.option(
        setting.flag, type=str, default=setting.default, metavar=setting.name.upper(), help=setting.help,
        show_default=True, show_envvar=True,
    )  # fmt: skip


def _settings_options(command: F) -> F:
    for setting in reversed(SETTINGS):
        command = _option(setting)(command)
    return command


_db_option = _option(next(setting for setting in SETTINGS if setting.name == "db"))


@click.group(cls=_Edge, no_args_is_help=False)
@click.version_option(package_name="deskstream")
def cli() -> None:
    """deskstream: a Zendesk-compatible help desk with wire-compatible Incremental Exports."""


@cli.command(context_settings=_ENV)
@_settings_options
def serve(**options: Any) -> None:
    """Serve the Zendesk-compatible API (and, with --demo, a demo account and history)."""
    from deskstream import demo, observability  # the server's modules load for serve only: sync starts faster
    from deskstream.store import Store
    from deskstream.store.engine import masked

    loading = _import_in_background("uvicorn", "deskstream.api.app")
    settings = Settings(**options)
    store = Store(settings.db, settings.synchronous, settings.public_url or None)
    store.migrate()
    if settings.demo and not demo.is_seeded(store):
        from deskstream.generate.report import install_demo

        install_demo(console, store, int(time.time()))
    if settings.scenario:
        settings = _load_scenario(store, settings)
    store.dispose()
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"deskstream serving {masked(settings.db)} at [bold]{base}[/bold]")
    if settings.demo or settings.scenario:
        console.print(
            f"  admin {demo.ADMIN_EMAIL} / {demo.PASSWORD} (API token {demo.ADMIN_TOKEN}); "
            f"agent {demo.AGENT_EMAIL} / {demo.PASSWORD}; end user {demo.USER_EMAIL} / {demo.PASSWORD}"
        )
        console.print(
            f'  try: curl -u {demo.ADMIN_EMAIL}:{demo.PASSWORD} -G -d "start_time=0" '
            f'-H "Accept: application/json" {base}/api/v2/incremental/tickets'
        )
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
    """Import the server's modules (FastAPI, uvicorn, the routes: most of a second) in a thread while the database
    is migrated and the demo's history copied, whose SQLite work releases the GIL. A module that fails to import
    here fails again, with its error, where it is used."""

    def load() -> None:
        for module in modules:
            with contextlib.suppress(Exception):
                importlib.import_module(module)

    thread = threading.Thread(target=load, name="deskstream-import", daemon=True)
    thread.start()
    return thread


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


@cli.command(context_settings=_ENV)
@click.argument("url")
@click.option("--timeout", type=click.FloatRange(0), default=30.0, show_default=True,
              help="Seconds to keep trying before giving up with exit code 1.")
def wait(url: str, timeout: float) -> None:
    """Wait until a server answers at URL (any HTTP status below 500); exit 0, or 1 after --timeout seconds.

    For scripts and CI: start `deskstream serve` in the background, then `deskstream wait http://127.0.0.1:8000`
    before the first request.
    """
    import httpx

    if not url.startswith(("http://", "https://")):
        raise click.BadParameter(f"expected an http:// or https:// URL, not {url!r}", param_hint="'URL'")
    started = time.monotonic()
    last = "no answer"
    while True:
        left = started + timeout - time.monotonic()
        try:
            status = httpx.get(url, timeout=max(0.1, min(5.0, left))).status_code
            if status < 500:
                click.echo(f"{url} answered {status} after {time.monotonic() - started:.1f}s", err=True)
                return
            last = f"it answered {status}"
        except httpx.HTTPError as error:
            last = str(error) or type(error).__name__
        if time.monotonic() - started >= timeout:
            raise click.ClickException(f"{url} did not answer within {timeout:g}s ({last})")
        time.sleep(min(0.2, max(0.0, left)))


@cli.command(context_settings=_ENV)
@_db_option
@click.option("--tickets", type=click.IntRange(1), default=5000, show_default=True, help="How many tickets.")
@click.option("--days", type=click.IntRange(1), default=90, show_default=True, help="Days of history, ending now.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same history.")
def generate(db: str, tickets: int, days: int, seed: int) -> None:
    """Generate a realistic history (tickets' lifecycles, SLA breaches, storms, deletes, system updates)."""
    from deskstream.generate.report import generate_with_progress, summary_table
    from deskstream.store import Store

    store = Store(db)
    store.migrate()
    console.print(summary_table(generate_with_progress(console, store, tickets, days, seed)))


def _desk(db: str) -> Desk:
    from deskstream.clock import RealClock
    from deskstream.service import Desk
    from deskstream.store import Store

    store = Store(db)
    store.migrate()
    return Desk(store, RealClock())


@cli.group(no_args_is_help=False)
def users() -> None:
    """Manage users."""


@users.command("create", context_settings=_ENV)
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password", default=None, help="Omit for a user who signs in with API tokens only.")
@click.option("--name", default=None)
@_db_option
def users_create(email: str, role: Role, password: str | None, name: str | None, db: str) -> None:
    """Create a user."""
    given = UserInput(email=email, role=role, password=password, name=name)  # checked before the database is opened
    user = _desk(db).people.create_user(given)
    click.echo(f"created {user['role']} {user['email']} (id {user['id']})")


@cli.group(no_args_is_help=False)
def tokens() -> None:
    """Manage API tokens."""


@tokens.command("create", context_settings=_ENV)
@click.option("--email", required=True)
@_db_option
def tokens_create(email: str, db: str) -> None:
    """Print a new API token for a user, once. Use it as `EMAIL/token:TOKEN` (basic) or `Bearer TOKEN`."""
    click.echo(_desk(db).auth.create_token(email))


cli.add_command(sync_command)
cli.add_command(verify_command)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
