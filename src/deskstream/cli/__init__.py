"""The ``deskstream`` command (spec/README.md § Interfaces).

A user of the command must never see a traceback. So commands only raise, and one place, the root group
(:class:`_Edge`), turns whatever escapes them into one line on stderr and the spec's exit code: 0 success; 1 a check
failed; 2 bad usage (bad options, a database URL that cannot be parsed, opened or reached, a rule of the help desk);
3 upstream refused (auth). Every option also reads ``DESKSTREAM_<OPTION>``, and ``serve``'s options are built from
:data:`deskstream.settings.SETTINGS`, so the command cannot drift from the settings it fills.

The root group names its commands by where they are defined (:data:`COMMANDS`) and imports a command's module only
when that command runs, or when help lists them all: ``sync`` then starts without the server, the settings or
pydantic, and ``serve`` without the sync client (a test suite starts hundreds of these processes). So this module
imports nothing heavy itself, not even to catch pydantic's errors (:func:`_pydantic_errors`).
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any

import click

from deskstream.cli.lazy import LazyGroup
from deskstream.exceptions import DeskstreamError
from deskstream.store.errors import StoreError

if TYPE_CHECKING:
    from pydantic import ValidationError

#: Every command of the root group, as ``module:attribute``; the module loads when the command is first asked for.
COMMANDS = {
    "serve": "deskstream.cli.server:serve",
    "wait": "deskstream.cli.waiting:wait",
    "generate": "deskstream.cli.records:generate",
    "users": "deskstream.cli.records:users",
    "tokens": "deskstream.cli.records:tokens",
    "sync": "deskstream.sync.commands:sync_command",
    "verify": "deskstream.sync.commands:verify_command",
}

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


def _pydantic_errors() -> tuple[type[ValidationError], ...]:
    """pydantic's ``ValidationError`` (settings, a user's fields) once pydantic is loaded; until then nothing can have
    raised it, and the root group does not load pydantic (60 ms) only to catch it in a ``sync`` that never uses it."""
    if "pydantic_core" not in sys.modules:
        return ()
    from pydantic_core import ValidationError

    return (ValidationError,)


def _domain(exc: DeskstreamError) -> str:
    reasons = [str(item.get("description", item)) for items in (exc.details or {}).values() for item in items]
    return ": ".join([exc.description or exc.error, *(["; ".join(reasons)] if reasons else [])])


def _database(exc: StoreError) -> tuple[str, int]:
    """The store has translated SQLAlchemy's and its driver's errors (a bad URL, no driver, no server) into its own."""
    return f"database: {exc}", 3 if _AUTH_REFUSED.search(str(exc)) else 2


class _Edge(LazyGroup):
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
        except _pydantic_errors() as exc:
            message, code = _invalid_options(exc), 2
        except DeskstreamError as exc:
            message, code = _domain(exc), 2
        except StoreError as exc:
            message, code = _database(exc)
        click.echo(f"{click.style('error:', fg='red')} {' '.join(message.split())}", err=True)
        raise SystemExit(code)


@click.group(cls=_Edge, lazy=COMMANDS, no_args_is_help=False)
@click.version_option(package_name="deskstream")
def cli() -> None:
    """deskstream: a Zendesk-compatible help desk with wire-compatible Incremental Exports."""


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
