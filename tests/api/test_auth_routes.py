"""No route answers anything but Zendesk's 401 to a caller without valid credentials: the operations are read from
the app's own OpenAPI description, so a route added later cannot escape this matrix."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from deskstream import demo
from tests.conftest import AppServer

#: Who calls, as the ``Authorization`` header they send (``{n}`` makes each wrong password's email differ, so the
#: sign-in throttle, which counts per email and address, never turns these 401s into 429s).
#: (Each wrong secret costs an argon2 verification, so the matrix keeps to one of each kind; test_auth.py has the
#: full table of credential forms on a sample of endpoints.)
CALLERS: dict[str, Callable[[int], str | None]] = {
    "anonymous": lambda n: None,
    "the admin's email, a wrong password": lambda n: "Basic "
    + base64.b64encode(f"{demo.ADMIN_EMAIL}:wrong{n}".encode()).decode(),
    "a wrong bearer token": lambda n: f"Bearer not-a-token-{n}",
}


@pytest.fixture(scope="module")
def app_server(make_app: Callable[..., AppServer]) -> AppServer:
    return make_app("--rate-limit", "off")


def operations(app_server: AppServer) -> list[tuple[str, str]]:
    spec: dict[str, Any] = app_server.app.openapi()
    return [(method.upper(), re.sub(r"\{[^}]+\}", "1", path)) for path, ops in spec["paths"].items() for method in ops]


def test_the_matrix_covers_every_operation_the_app_describes(app_server: AppServer) -> None:
    assert len(operations(app_server)) >= 50


@pytest.mark.parametrize("caller", CALLERS)
def test_every_operation_refuses_a_caller_without_valid_credentials_with_zendesks_401(
    app_server: AppServer, caller: str
) -> None:
    answered: dict[str, int] = {}
    for n, (method, path) in enumerate(operations(app_server)):
        # A distinct client address per request too: the throttle's per-address budget is not what is tested here.
        client = TestClient(app_server.app, raise_server_exceptions=False, client=(f"10.0.{n // 250}.{n % 250}", 1))
        header = CALLERS[caller](n)
        response = client.request(method, path, headers={"Authorization": header} if header else {},
                                  json={} if method in ("POST", "PUT") else None)  # fmt: skip
        answered[f"{method} {path}"] = response.status_code
        if response.status_code == 401:
            assert response.json() == {"error": "Couldn't authenticate you"}, (method, path)
        client.close()
    assert {op: status for op, status in answered.items() if status != 401} == {}
