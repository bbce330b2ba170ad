"""The ``deskstream`` command (spec/README.md § Interfaces). Library errors become clean exits here, never tracebacks.

Exit codes: 0 success; 1 a check failed; 2 bad usage; 3 upstream refused (auth).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress

from deskstream import demo
from deskstream.clock import RealClock
from deskstream.domain.people import UserInput
from deskstream.exceptions import DeskstreamError
from deskstream.service import Desk
from deskstream.settings import SETTINGS, Settings, default_db_url
from deskstream.store import Store

console = Console(stderr=True, soft_wrap=True)


def _settings_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """One click option per row of :data:`deskstream.settings.SETTINGS`, each also read from ``DESKSTREAM_<NAME>``."""
    for setting in reversed(SETTINGS):
        flag = "--" + setting.name.replace("_", "-")
        envvar = f"DESKSTREAM_{setting.name.upper()}"
        if setting.name == "db":
            command = click.option(flag, envvar=envvar, default=None, help=setting.help, show_default=DEFAULT_HINT)(
                command
            )
        elif isinstance(setting.default, bool):
            command = click.option(flag, envvar=envvar, is_flag=True, default=setting.default, help=setting.help)(
                command
            )
        elif setting.name == "clock":
            command = click.option(
                flag, envvar=envvar, type=click.Choice(["real", "sim"]), default="real", help=setting.help,
                show_default=True,
            )(command)
        else:
            command = click.option(
                flag, envvar=envvar, type=type(setting.default), default=setting.default, help=setting.help,
                show_default=True,
            )(command)
    return command


DEFAULT_HINT = "$DESKSTREAM_DB or sqlite:///deskstream.db"


def _fail(message: str, code: int = 2) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise SystemExit(code)


@click.group()
@click.version_option(package_name="deskstream")
def cli() -> None:
    """deskstream: a Zendesk-compatible help desk with wire-compatible Incremental Exports."""


@cli.command()
@_settings_options
def serve(**options: Any) -> None:
    """Serve the Zendesk-compatible API (and, with --demo, a demo account and history)."""
    try:
        settings = Settings(
            db=options["db"] or default_db_url(),
            host=options["host"],
            port=options["port"],
            workers=options["workers"],
            demo=options["demo"],
            rate_limit=Settings.parse_rate_limit(options["rate_limit"]),
            clock=options["clock"],
            faults=options["faults"],
            change_sequence=options["change_sequence"],
            max_body_bytes=options["max_body_bytes"],
        )
    except ValueError as exc:
        _fail(str(exc))
        return
    store = Store(settings.db)
    store.migrate()
    if settings.demo and not demo.is_seeded(store):
        started = time.monotonic()
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("Creating the demo history", total=demo.DEMO_TICKETS)
            made = demo.seed(store, int(time.time()), progress=lambda n: progress.advance(task, n))
        console.print(f"Demo history: {made} tickets in {time.monotonic() - started:.1f}s")
    store.dispose()
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"deskstream serving {settings.db} at [bold]{base}[/bold]")
    if settings.demo:
        console.print(
            f"  admin {demo.ADMIN_EMAIL} / {demo.PASSWORD} (API token {demo.ADMIN_TOKEN}); "
            f"agent {demo.AGENT_EMAIL} / {demo.PASSWORD}; end user {demo.USER_EMAIL} / {demo.PASSWORD}"
        )
        console.print(
            f'  try: curl -u {demo.ADMIN_EMAIL}:{demo.PASSWORD} -G -d "start_time=0" '
            f'-H "Accept: application/json" {base}/api/v2/incremental/tickets'
        )
    import uvicorn

    if settings.workers > 1:
        os.environ.update(settings.as_env())
        uvicorn.run(
            "deskstream.api.app:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level="warning",
        )
    else:
        from deskstream.api import create_app

        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")


@cli.command()
@click.option("--db", envvar="DESKSTREAM_DB", default=None, help="Database URL.", show_default=DEFAULT_HINT)
@click.option("--tickets", type=click.IntRange(1), default=5000, show_default=True, help="How many tickets.")
@click.option("--days", type=click.IntRange(1), default=90, show_default=True, help="Days of history, ending now.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same history.")
def generate(db: str | None, tickets: int, days: int, seed: int) -> None:
    """Generate a realistic history (tickets' lifecycles, SLA breaches, storms, deletes, system updates)."""
    from sqlalchemy.exc import SQLAlchemyError

    from deskstream.generate.report import generate_with_progress, summary_table

    try:
        store = Store(db or default_db_url())
        store.migrate()
        console.print(summary_table(generate_with_progress(console, store, tickets, days, seed)))
    except (DeskstreamError, SQLAlchemyError) as exc:
        _fail(f"cannot generate into {db or default_db_url()}: {exc}")


def _desk(db: str | None) -> Desk:
    store = Store(db or default_db_url())
    store.migrate()
    return Desk(store, RealClock())


@cli.group()
def users() -> None:
    """Manage users."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(["admin", "agent", "end-user"]), required=True)
@click.option("--password", default=None, help="Omit for a user who signs in with API tokens only.")
@click.option("--name", default=None)
@click.option("--db", envvar="DESKSTREAM_DB", default=None, help="Database URL.", show_default=DEFAULT_HINT)
def users_create(email: str, role: str, password: str | None, name: str | None, db: str | None) -> None:
    """Create a user."""
    try:
        user = _desk(db).people.create_user(UserInput(email=email, role=role, password=password, name=name))
    except DeskstreamError as exc:
        _fail(str(exc.body()))
        return
    click.echo(f"created {user['role']} {user['email']} (id {user['id']})")


@cli.group()
def tokens() -> None:
    """Manage API tokens."""


@tokens.command("create")
@click.option("--email", required=True)
@click.option("--db", envvar="DESKSTREAM_DB", default=None, help="Database URL.", show_default=DEFAULT_HINT)
def tokens_create(email: str, db: str | None) -> None:
    """Print a new API token for a user, once. Use it as `EMAIL/token:TOKEN` (basic) or `Bearer TOKEN`."""
    try:
        token = _desk(db).auth.create_token(email)
    except DeskstreamError as exc:
        _fail(exc.description or str(exc.body()))
        return
    click.echo(token)


def main() -> None:
    cli(auto_envvar_prefix="DESKSTREAM")


if __name__ == "__main__":
    main()
