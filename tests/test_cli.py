"""The ``deskstream`` command as a user runs it: users and tokens made from the shell work against a real server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from deskstream.store import Store

if TYPE_CHECKING:
    from conftest import Server  # the session's server fixture type (tests/conftest.py)


def deskstream(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deskstream", *args], capture_output=True, text=True, timeout=60)


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
    with httpx.Client(base_url=server.base_url, auth=("admin@example.com", "deskstream"), timeout=30) as client:
        created = [
            client.post("/api/v2/tickets", json={"ticket": {"comment": {"body": f"w{i}"}}}).json()["ticket"]["id"]
            for i in range(6)
        ]
        assert created == sorted(created) and len(set(created)) == 6
        listed = [t["id"] for t in client.get("/api/v2/tickets").json()["tickets"]]
    assert set(created) <= set(listed)
    children = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True)
    assert len(children.stdout.split()) >= 2, "expected at least two worker processes"
