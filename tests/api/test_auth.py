"""Who may do what: every credential form × representative endpoints, and how secrets are kept at rest.

Credentials are Zendesk's three forms (basic ``email:password``, basic ``email/token:TOKEN``, ``Bearer TOKEN``);
every failure is the same 401 body, every role refusal the same 403 body (spec/zendesk-reference.md § 6).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import select

from deskstream import demo
from deskstream.store import schema

if TYPE_CHECKING:
    from tests.conftest import Server  # the session's server fixture type (tests/conftest.py)

UNAUTHENTICATED = {"error": "Couldn't authenticate you"}
FORBIDDEN = {
    "error": {
        "title": "Forbidden",
        "message": "You do not have access to this page. Please contact the account owner of this help desk for "
        "further help.",
    }
}


def basic(login: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{secret}".encode()).decode()


#: name → Authorization header (None: no header at all).
CALLERS: dict[str, str | None] = {
    "anonymous": None,
    "bad password": basic(demo.ADMIN_EMAIL, "not-the-password"),
    "unknown email": basic("nobody@example.com", demo.PASSWORD),
    "bad token": basic(f"{demo.ADMIN_EMAIL}/token", "not-the-token"),
    "token of another email": basic(f"{demo.AGENT_EMAIL}/token", demo.ADMIN_TOKEN),
    "bad bearer": "Bearer not-the-token",
    "garbage basic": "Basic %%%not-base64%%%",
    "unknown scheme": f"Token {demo.ADMIN_TOKEN}",
    "end user": basic(demo.USER_EMAIL, demo.PASSWORD),
    "agent": basic(demo.AGENT_EMAIL, demo.PASSWORD),
    "admin": basic(demo.ADMIN_EMAIL, demo.PASSWORD),
    "admin token": basic(f"{demo.ADMIN_EMAIL}/token", demo.ADMIN_TOKEN),
    "admin bearer": f"Bearer {demo.ADMIN_TOKEN}",
}
REFUSED = [name for name in CALLERS if name not in ("end user", "agent", "admin", "admin token", "admin bearer")]
MISSING = 987_654_321

#: (method, path, body) → status for (end user, agent, admin). Every admin credential form gets the admin column.
ENDPOINTS: list[tuple[str, str, dict[str, object] | None, tuple[int, int, int]]] = [
    ("GET", "/api/v2/users/me", None, (200, 200, 200)),
    ("GET", "/api/v2/tickets", None, (200, 200, 200)),
    ("POST", "/api/v2/tickets", {"ticket": {"comment": {"body": "auth matrix"}}}, (201, 201, 201)),
    ("GET", "/api/v2/users", None, (403, 200, 200)),
    ("POST", "/api/v2/organizations", {"organization": {}}, (403, 422, 422)),
    ("GET", "/api/v2/groups", None, (403, 200, 200)),
    ("POST", "/api/v2/groups", {"group": {}}, (403, 403, 422)),
    ("DELETE", f"/api/v2/groups/{MISSING}", None, (403, 403, 404)),
    ("DELETE", f"/api/v2/users/{MISSING}", None, (403, 403, 404)),
    ("DELETE", f"/api/v2/tickets/{MISSING}", None, (403, 404, 404)),
    ("GET", f"/api/v2/tickets/{MISSING}/audits", None, (403, 404, 404)),
    ("PUT", f"/api/v2/tickets/update_many?ids={MISSING}", {"ticket": {"status": "open"}}, (403, 404, 404)),
    ("POST", "/api/v2/tickets/create_many", {"tickets": [{"comment": {}}]}, (403, 422, 422)),
]
COLUMN = {"end user": 0, "agent": 1, "admin": 2, "admin token": 2, "admin bearer": 2}


def call(server: Server, authorization: str | None, method: str, path: str, body: object) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization else {}
    with server.client(None) as client:
        return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "expected"), ENDPOINTS, ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS])
@pytest.mark.parametrize("caller", REFUSED)
def test_bad_or_missing_credentials_are_401_with_zendesks_body(
    server: Server, caller: str, method: str, path: str, body: object, expected: tuple[int, int, int]
) -> None:
    response = call(server, CALLERS[caller], method, path, body)
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(("method", "path", "body", "expected"), ENDPOINTS, ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS])
@pytest.mark.parametrize("caller", list(COLUMN))
def test_each_role_gets_what_its_role_allows_and_zendesks_403_otherwise(
    server: Server, caller: str, method: str, path: str, body: object, expected: tuple[int, int, int]
) -> None:
    response = call(server, CALLERS[caller], method, path, body)
    assert response.status_code == expected[COLUMN[caller]], response.text
    if response.status_code == 403:
        assert response.json() == FORBIDDEN


def test_a_suspended_user_cannot_sign_in(admin: httpx.Client, server: Server) -> None:
    body = {"user": {"email": "suspended@example.com", "name": "S", "password": "pw-suspended", "role": "agent"}}
    user = admin.post("/api/v2/users", json=body).json()["user"]
    assert call(server, basic("suspended@example.com", "pw-suspended"), "GET", "/api/v2/users/me", None).is_success
    admin.put(f"/api/v2/users/{user['id']}", json={"user": {"suspended": True}})
    response = call(server, basic("suspended@example.com", "pw-suspended"), "GET", "/api/v2/users/me", None)
    assert (response.status_code, response.json()) == (401, UNAUTHENTICATED)


def test_a_user_without_a_password_cannot_sign_in_with_an_empty_or_any_password(
    admin: httpx.Client, server: Server
) -> None:
    admin.post("/api/v2/users", json={"user": {"email": "tokens-only@example.com", "name": "T"}})
    for secret in ("", "anything"):
        response = call(server, basic("tokens-only@example.com", secret), "GET", "/api/v2/users/me", None)
        assert response.status_code == 401


def test_passwords_and_tokens_are_stored_only_as_argon2_hashes(admin: httpx.Client, server: Server) -> None:
    password = "plaintext-canary-0f3c"
    admin.post("/api/v2/users", json={"user": {"email": "canary@example.com", "name": "C", "password": password}})
    with server.read() as conn:
        password_hashes = conn.execute(
            select(schema.users.c.password_hash).where(schema.users.c.password_hash.is_not(None))
        ).scalars().all()
        token_hashes = conn.execute(select(schema.api_tokens.c.token_hash)).scalars().all()
    assert len(password_hashes) >= 4 and token_hashes
    assert all(h.startswith("$argon2id$") for h in [*password_hashes, *token_hashes])
    database = Path(server.db_url.removeprefix("sqlite:///"))
    stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert password.encode() not in stored
    assert demo.ADMIN_TOKEN.encode() not in stored
