"""``deskstream generate``, ``users create`` and ``tokens create``: the commands that write records into a database
through the service layer (loaded when one of them runs, or help lists every command)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from deskstream.cli.common import ENV, console, db_option
from deskstream.domain.people import ROLES, Role, UserInput

if TYPE_CHECKING:
    from deskstream.service import Desk


@click.command(context_settings=ENV)
@db_option
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


@click.group(no_args_is_help=False)
def users() -> None:
    """Manage users."""


@users.command("create", context_settings=ENV)
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password", default=None, help="Omit for a user who signs in with API tokens only.")
@click.option("--name", default=None)
@db_option
def users_create(email: str, role: Role, password: str | None, name: str | None, db: str) -> None:
    """Create a user."""
    given = UserInput(email=email, role=role, password=password, name=name)  # checked before the database is opened
    user = _desk(db).people.create_user(given)
    click.echo(f"created {user['role']} {user['email']} (id {user['id']})")


@click.group(no_args_is_help=False)
def tokens() -> None:
    """Manage API tokens."""


@tokens.command("create", context_settings=ENV)
@click.option("--email", required=True)
@db_option
def tokens_create(email: str, db: str) -> None:
    """Print a new API token for a user, once. Use it as `EMAIL/token:TOKEN` (basic) or `Bearer TOKEN`."""
    click.echo(_desk(db).auth.create_token(email))
