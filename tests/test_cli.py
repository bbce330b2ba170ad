"""The ``deskstream`` command as a user runs it: users and tokens made from the shell work against a real server,
and every mistake a user can make at the shell ends in one line on stderr and the spec's exit code, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url
from tests.conftest import http_client

from deskstream.cli import cli
from deskstream.settings import Settings
from deskstream.store import Store

if TYPE_CHECKING:
    from tests.conftest import Server  # the session's server fixture type (tests/conftest.py)


@dataclass(frozen=True)
class Ran:
    """What a run of the command left: its exit code and what it wrote."""

    returncode: int
    stdout: str
    stderr: str


def shell(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Ran:
    """The command in a process of its own, as a shell runs it; ``env`` is added to this process's environment."""
    done = subprocess.run(
        [sys.executable, "-m", "deskstream", *args],
        check=False, capture_output=True, text=True, timeout=60, cwd=cwd, env={**os.environ, **(env or {})},
    )  # fmt: skip
    return Ran(done.returncode, done.stdout, done.stderr)


def deskstream(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Ran:
    """The command's entry point run in this process by click's runner (a process start costs more than the
    command): the same root group, its exit code and streams; an exception that escaped it counts as a traceback."""
    previous = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, list(args), env=env, prog_name="deskstream")
    finally:
        os.chdir(previous)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += f"Traceback (escaped the command): {result.exception!r}"
    return Ran(result.exit_code, result.stdout, stderr)


def assert_one_line_error(result: Ran, code: int = 2) -> str:
    """Exit ``code``, nothing on stdout, one ``error:`` line on stderr and no traceback; returns that line."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert (result.returncode, result.stdout) == (code, ""), result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_users_and_tokens_created_from_the_shell_authenticate(make_server: Callable[..., Server]) -> None:
    made: dict[str, str] = {}

    def seed(store: Store) -> None:
        created = deskstream("users", "create", "--email", "Ops@Example.com", "--role", "admin",
                             "--password", "shell-secret", "--name", "Ops", "--db", store.url)  # fmt: skip
        assert created.returncode == 0, created.stderr
        assert created.stdout.startswith("created admin ops@example.com (id ")
        token = deskstream("tokens", "create", "--email", "ops@example.com", "--db", store.url)
        assert token.returncode == 0, token.stderr
        made["token"] = token.stdout.strip()

    server = make_server("--rate-limit", "off", seed=seed)
    token = made["token"]
    assert len(token) >= 30 and "\n" not in token
    for auth, headers in (
        (("ops@example.com", "shell-secret"), {}),
        (("ops@example.com/token", token), {}),
        (None, {"Authorization": f"Bearer {token}"}),
    ):
        response = httpx.get(f"{server.base_url}/api/v2/users/me", auth=auth, headers=headers)
        assert response.status_code == 200, auth
        assert (response.json()["user"]["email"], response.json()["user"]["role"]) == ("ops@example.com", "admin")
    wrong = httpx.get(f"{server.base_url}/api/v2/users/me", auth=("ops@example.com/token", token + "x"))
    assert wrong.status_code == 401


def test_a_duplicate_user_or_an_unknown_email_is_a_clean_usage_error(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert deskstream("users", "create", "--email", "a@example.com", "--role", "agent", "--db", db).returncode == 0
    duplicate = deskstream("users", "create", "--email", "A@example.com", "--role", "agent", "--db", db)
    assert duplicate.returncode == 2 and "already being used" in duplicate.stderr
    unknown = deskstream("tokens", "create", "--email", "nobody@example.com", "--db", db)
    assert unknown.returncode == 2 and "nobody@example.com" in unknown.stderr
    bad_role = deskstream("users", "create", "--email", "b@example.com", "--role", "owner", "--db", db)
    assert bad_role.returncode == 2
    assert "Traceback" not in duplicate.stderr + unknown.stderr + bad_role.stderr


def test_serve_with_two_workers_answers_from_both_on_one_database(make_server: Callable[..., Server]) -> None:
    server = make_server("--rate-limit", "off", "--workers", "2")
    with http_client(server.base_url, auth=("admin@example.com", "deskstream"), timeout=30) as client:
        created = [
            client.post("/api/v2/tickets", json={"ticket": {"comment": {"body": f"w{i}"}}}).json()["ticket"]["id"]
            for i in range(6)
        ]
        assert created == sorted(created) and len(set(created)) == 6
        listed = [t["id"] for t in client.get("/api/v2/tickets").json()["tickets"]]
    assert set(created) <= set(listed)
    children = subprocess.run(["pgrep", "-P", str(server.process.pid)], check=False, capture_output=True, text=True)
    assert len(children.stdout.split()) >= 2, "expected at least two worker processes"


#: Nothing listens on port 1: the connection is refused at once.
UNREACHABLE_PG = "postgresql://postgres@127.0.0.1:1/deskstream"

#: Each mistake, and words its one line must hold (``{file}`` is a regular file, so no directory can be made in it).
BAD_USAGE: dict[str, tuple[list[str], str]] = {
    "serve-db-bogus-scheme": (["serve", "--db", "bogus://x"], "bogus"),
    "serve-db-not-a-url": (["serve", "--db", "not a url"], "not a url"),
    "serve-db-unreachable-postgres": (["serve", "--db", UNREACHABLE_PG], "port 1"),
    "serve-db-sqlite-under-a-file": (["serve", "--db", "sqlite:///{file}/sub/deskstream.db"], "Not a directory"),
    "serve-rate-limit-word": (["serve", "--rate-limit", "abc"], "or 'off'"),
    "serve-rate-limit-negative": (["serve", "--rate-limit", "-3"], "or 'off'"),
    "serve-clock": (["serve", "--clock", "sundial"], "'real' or 'sim'"),
    "serve-synchronous": (["serve", "--synchronous", "sometimes"], "'normal' or 'full'"),
    "serve-port-word": (["serve", "--port", "http"], "--port"),
    "serve-port-too-big": (["serve", "--port", "70000"], "65535"),
    "serve-workers-zero": (["serve", "--workers", "0"], "--workers"),
    "serve-unknown-option": (["serve", "--colour"], "--colour"),
    "generate-db-bogus-scheme": (["generate", "--db", "bogus://x"], "bogus"),
    "generate-db-unreachable-postgres": (["generate", "--db", UNREACHABLE_PG], "port 1"),
    "generate-tickets-zero": (["generate", "--tickets", "0"], "--tickets"),
    "users-create-db-bogus-scheme": (
        ["users", "create", "--email", "a@b.c", "--role", "admin", "--db", "bogus://x"],
        "bogus",
    ),
    "users-create-db-unreachable-postgres": (
        ["users", "create", "--email", "a@b.c", "--role", "admin", "--db", UNREACHABLE_PG],
        "port 1",
    ),
    "users-create-db-sqlite-under-a-file": (
        ["users", "create", "--email", "a@b.c", "--role", "admin", "--db", "sqlite:///{file}/sub/x.db"],
        "Not a directory",
    ),
    "users-create-role": (["users", "create", "--email", "a@b.c", "--role", "owner"], "end-user"),
    "users-create-email": (
        ["users", "create", "--email", "not-an-email", "--role", "agent", "--db", "sqlite:///{dir}/u.db"],
        "--email",
    ),
    "users-create-no-email": (["users", "create", "--role", "agent"], "--email"),
    "tokens-create-db-unreachable-postgres": (
        ["tokens", "create", "--email", "a@b.c", "--db", UNREACHABLE_PG],
        "port 1",
    ),
    "tokens-create-db-bogus-scheme": (["tokens", "create", "--email", "a@b.c", "--db", "bogus://x"], "bogus"),
    "no-command": ([], "--help"),
    "users-no-command": (["users"], "--help"),
}


@pytest.mark.parametrize(("args", "words"), BAD_USAGE.values(), ids=BAD_USAGE.keys())
def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    (tmp_path / "a-file").touch()
    filled = [arg.format(file=tmp_path / "a-file", dir=tmp_path) for arg in args]
    line = assert_one_line_error(deskstream(*filled, cwd=tmp_path))
    assert words in line
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]  # checked before any database was opened or made


@pytest.mark.parametrize("case", ["serve-db-bogus-scheme", "serve-rate-limit-word", "users-create-db-unreachable-postgres",
                                  "no-command"])
def test_at_a_real_shell_too_bad_usage_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    args, words = BAD_USAGE[case]
    assert words in assert_one_line_error(shell(*args, cwd=tmp_path))


def test_a_bad_setting_from_the_environment_is_one_line_and_exit_2(tmp_path: Path) -> None:
    line = assert_one_line_error(deskstream("serve", cwd=tmp_path, env={"DESKSTREAM_RATE_LIMIT": "lots"}))
    assert "'lots'" in line and "'off'" in line
    from_env = {"DESKSTREAM_EMAIL": "env@example.com", "DESKSTREAM_DB": f"sqlite:///{tmp_path / 'e.db'}"}
    unknown = deskstream("tokens", "create", cwd=tmp_path, env=from_env)  # every option reads DESKSTREAM_<OPTION>
    assert "env@example.com" in assert_one_line_error(unknown)


def test_a_database_that_refuses_the_login_is_exit_3(tmp_path: Path) -> None:
    server = os.environ.get("DESKSTREAM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        psycopg.connect(server, connect_timeout=3).close()
    except psycopg.Error as exc:
        pytest.skip(f"no PostgreSQL at {server}: {exc}")
    refused = make_url(server).set(username="deskstream_no_such_role", password=None)
    result = deskstream("users", "create", "--email", "a@b.c", "--role", "admin",
                        "--db", refused.render_as_string(hide_password=False), cwd=tmp_path)  # fmt: skip
    assert "deskstream_no_such_role" in assert_one_line_error(result, code=3)


def test_settings_travel_through_the_environment_and_options_win_over_it(monkeypatch: pytest.MonkeyPatch) -> None:
    given = Settings(db="sqlite:///elsewhere.db", port=9001, demo=True, rate_limit=None, clock="sim", faults="http429_every=3,seed=7")
    for name, value in given.as_env().items():
        monkeypatch.setenv(name, value)
    assert Settings.from_env() == given
    assert Settings(port=9002).port == 9002
    monkeypatch.setenv("DESKSTREAM_RATE_LIMIT", "")
    assert Settings.from_env().rate_limit == 10  # an empty variable is as if unset
