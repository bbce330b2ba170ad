"""What the server's commands share: the environment prefix, options built from the settings, the stderr console.

Not imported by the root group (:mod:`deskstream.cli`): reading the settings loads pydantic-settings, which
``deskstream sync`` never needs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console

from deskstream.settings import ENV_PREFIX, SETTINGS, Setting

F = TypeVar("F", bound=Callable[..., Any])

console = Console(stderr=True, soft_wrap=True)

#: Each command reads ``DESKSTREAM_<OPTION>`` (click would otherwise add the command's name to the prefix).
ENV: dict[str, Any] = {"auto_envvar_prefix": ENV_PREFIX.rstrip("_")}


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


def settings_options(command: F) -> F:
    """Every setting as an option of ``command`` (``serve``), in :data:`SETTINGS`'s order."""
    for setting in reversed(SETTINGS):
        command = _option(setting)(command)
    return command


#: ``--db``, as ``serve`` has it, for the commands that write into a database.
db_option = _option(next(setting for setting in SETTINGS if setting.name == "db"))
