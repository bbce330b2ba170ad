"""The documentation cannot drift from the code: every setting and command is documented."""

import html
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
from starlette.routing import Mount

from deskstream.api.app import create_app
from deskstream.cli import cli
from deskstream.settings import SETTINGS, Settings

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


# Every endpoint the server serves has a curl example in the docs, and the site builds with every command in it.

DOCS = ROOT / "docs"
_DATA_FLAGS = {"-d", "--data", "--data-raw", "--data-binary", "--data-urlencode", "--json", "-F", "--form"}
#: Swagger UI's own OAuth callback, served beside /docs: a browser's, not a client's.
_NOT_AN_ENDPOINT = {"/docs/oauth2-redirect"}
#: The console's pages, forms and assets (docs/console.md): a browser's, opened from a link, not a client's to curl.
_BROWSER_PAGES = "/_deskstream/console"


def _served(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, through included routers (FastAPI nests them) and mounts."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _served(inner.routes, prefix + getattr(context, "prefix", ""))
        elif isinstance(route, Mount):
            yield "GET", prefix + route.path
        elif getattr(route, "methods", None) and prefix + route.path not in _NOT_AN_ENDPOINT and not (
                prefix + route.path).startswith(_BROWSER_PAGES):
            yield from (("GET" if method == "HEAD" else method, prefix + route.path) for method in route.methods)


def _curl_commands(text: str) -> Iterator[list[str]]:
    """Each `curl` command in the fenced code blocks, split as a shell would (continuations and quotes joined)."""
    in_block, pending = False, ""
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_block, pending = not in_block, ""
            continue
        if not in_block or not (pending or line.lstrip().startswith(("curl ", "$ curl "))):
            continue
        pending += line.removesuffix("\\") + ("\n" if not line.endswith("\\") else " ")
        if line.endswith("\\"):
            continue
        try:
            tokens = shlex.split(pending, comments=True)
        except ValueError:  # a quote still open: the command goes on on the next line
            continue
        pending = ""
        yield tokens[tokens.index("curl") :]


def _request(tokens: list[str]) -> tuple[str, str] | None:
    """The method and URL path a curl command sends, as curl picks them."""
    method = url = None
    get = data = False
    for token, following in zip(tokens, [*tokens[1:], ""], strict=True):
        if token in ("|", ">", ";", "&&"):
            break
        if token in ("-X", "--request"):
            method = following.upper()
        get = get or token in ("-G", "--get")
        data = data or token in _DATA_FLAGS
        if url is None and token.startswith(("http://", "https://")):
            url = token
    if url is None:
        return None
    return method or ("POST" if data and not get else "GET"), urlsplit(url).path


def _route_pattern(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]*\})", path)  # /tickets/{ticket_id} -> /tickets/[^/]+
    return re.compile("".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts))


def test_every_served_route_has_a_curl_example_in_the_docs(tmp_path: Path) -> None:
    """Every method and path the app serves is sent by a `curl` example in docs/ (api.md, exports.md, or the page of
    its own feature): the docs list every endpoint as served, so a new route without an example fails here."""
    app = create_app(Settings(db=f"sqlite:///{tmp_path / 'routes.db'}", change_sequence=True))  # every route on
    try:
        served = set(_served(app.routes))
    finally:
        app.state.store.dispose()
    assert ("GET", "/api/v2/tickets") in served and len(served) > 40  # the walk found the routers' routes
    covered: set[tuple[str, str]] = set()
    for page in sorted(DOCS.glob("*.md")):
        for tokens in _curl_commands(page.read_text()):
            request = _request(tokens)
            if request is None:
                continue
            method, path = request
            asked = {path, path.removesuffix(".json")}  # every path also answers with .json
            matched = [route for route in served if any(_route_pattern(route[1]).fullmatch(a) for a in asked)]
            literal = [route for route in matched if "{" not in route[1]]  # users/me, not users/{user_id}
            covered |= {route for route in (literal or matched) if route[0] == method}
    missing = sorted(served - covered, key=lambda route: (route[1], route[0]))
    assert not missing, "served, but no curl example in docs/: " + ", ".join(f"{m} {p}" for m, p in missing)


def test_the_documentation_site_builds_strict_with_every_command(tmp_path: Path) -> None:
    """`mkdocs build --strict` (broken links and anchors, pages missing from the nav) passes, and the generated
    command reference (docs/cli.md, rendered from the click commands) holds every command. Not `--quiet`: it hides the
    warnings from the count that --strict fails on."""
    site = tmp_path / "site"
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml")]
    build = subprocess.run(
        [*command, "-d", str(site)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert build.returncode == 0, (
        f"mkdocs build --strict failed (pip install -e '.[dev]' brings mkdocs):\n{build.stdout}\n{build.stderr}"
    )
    reference = html.unescape((site / "cli" / "index.html").read_text())
    for command in _commands(cli):
        assert f"{command} [OPTIONS]" in reference, f"{command} is not in the generated command reference"
