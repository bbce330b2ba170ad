"""A click group whose commands load when asked for: what lets each ``deskstream`` command import only its own
machinery (the sync client for ``sync``, the server for ``serve``), not every command's at every start."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, MutableMapping
from typing import Any

import click


class LazyGroup(click.Group):
    """A group given ``lazy={name: "module:attribute"}`` besides (or instead of) its eager commands.

    Running a command, or completing or parsing its name, imports its module only (:meth:`get_command`). Listing the
    commands' help loads them all, as does reading :attr:`commands` (what mkdocs-click and the tests walk), so every
    reader of the group still sees every command, the same objects as an eager group would hold."""

    def __init__(self, *args: Any, lazy: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        self._lazy = dict(lazy or {})
        super().__init__(*args, **kwargs)

    @property
    def commands(self) -> MutableMapping[str, click.Command]:
        """Every command, the lazy ones loaded first."""
        for name in list(self._lazy):
            self._load(name)
        return self._loaded

    @commands.setter
    def commands(self, commands: MutableMapping[str, click.Command]) -> None:
        self._loaded = commands

    def _load(self, name: str) -> None:
        module, _, attribute = self._lazy[name].partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self._lazy[name]} is not a click command")
        self._loaded[name] = command
        del self._lazy[name]

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        """As click's, without loading the lazy commands (its ``self.commands[name] = cmd`` would)."""
        name = name or cmd.name
        if name is None:
            raise TypeError("Command has no name.")
        self._lazy.pop(name, None)
        self._loaded[name] = cmd

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            self._load(cmd_name)
        return self._loaded.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self._loaded, *self._lazy})
