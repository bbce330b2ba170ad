"""The documentation cannot drift from the code: every setting and command is documented."""

from pathlib import Path

import click
import pytest

from deskstream.cli import cli
from deskstream.settings import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = (ROOT / "docs" / "quickstart.md").read_text()
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_in_the_quick_start_table(setting: object) -> None:
    flag = "--" + setting.name.replace("_", "-")  # type: ignore[attr-defined]
    assert f"| `{flag}` |" in QUICKSTART


def _commands(group: click.Group, prefix: str = "deskstream") -> list[str]:
    names = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            names += _commands(command, f"{prefix} {name}")
        else:
            names.append(f"{prefix} {name}")
    return names


@pytest.mark.parametrize("command", _commands(cli))
def test_every_command_is_in_the_readme(command: str) -> None:
    assert command in README


def test_the_readme_opens_with_the_two_setup_commands() -> None:
    block = README.split("```bash", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2
    assert "deskstream serve --demo" in block[0]
    assert "pytest" in block[1]
