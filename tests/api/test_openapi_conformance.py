"""schemathesis against the app in process, on SQLite and on PostgreSQL: every operation of the OpenAPI description,
called as the admin with generated parameters and bodies, answers no 5xx, only documented statuses, and the
documented content type and body schema."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from tests.conftest import ADMIN, AppServer, seed_accounts, start_app
from tests.helpers import pg_database

AUTH = {"Authorization": "Basic " + base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


#: schemathesis reads the description when the module is collected, so the app is built then (stopped after). Its
#: own database: the generated calls change and delete what they find (the admin's password too).
SERVER = start_app(Path(tempfile.mkdtemp(prefix="deskstream-conformance-")), "--rate-limit", "off")
schema = schemathesis.openapi.from_asgi("/openapi.json", SERVER.app)


@pytest.fixture(scope="module", autouse=True)
def _stop_server() -> Iterator[None]:
    yield
    SERVER.stop()


@pytest.fixture(scope="module")
def postgresql() -> Iterator[AppServer | str]:
    """The same app on a PostgreSQL database of its own, or why there is none (no PostgreSQL answers)."""
    try:
        databases = pg_database("conformance")
        store = databases.__enter__()
    except pytest.skip.Exception as skipped:
        yield str(skipped)
        return
    seed_accounts(store)
    server = start_app(Path(tempfile.mkdtemp(prefix="deskstream-conformance-pg-")), "--rate-limit", "off",
                       db_url=store.url)  # fmt: skip
    yield server
    server.stop()
    databases.__exit__(None, None, None)


#: Every operation of the description, each a test of its own: an item that pytest-xdist's workers collect alike
#: (schemathesis's own ``schema.parametrize()`` runs no case at all in a worker).
OPERATIONS = [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_the_wire_matches_the_description_on_both_backends(operation: Any, postgresql: AppServer | str) -> None:
    """Each generated case is sent to both apps (generating the cases is most of this test's time)."""

    @given(case=operation.as_strategy())
    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def conforms(case: Any) -> None:
        case.call_and_validate(headers=AUTH, checks=CHECKS)
        if isinstance(postgresql, AppServer):
            case.call_and_validate(headers=AUTH, checks=CHECKS, app=postgresql.app)

    conforms()


def test_postgresql_takes_part_in_the_conformance_run(postgresql: AppServer | str) -> None:
    if not isinstance(postgresql, AppServer):
        pytest.skip(postgresql)
    assert postgresql.db_url.startswith("postgresql")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/api/v2/tickets/1", "GET, PUT, DELETE"),
        ("HEAD", "/api/v2/tickets/1.json", "GET, PUT, DELETE"),
        ("GET", "/api/v2/tickets/update_many", "PUT"),
        ("GET", "/api/v2/tickets/create_many.json", "POST"),
        ("DELETE", "/api/v2/users/me", "GET"),
        ("GET", "/api/v2/slas/policies/reorder", "PUT"),
        ("PATCH", "/api/v2/tickets", "GET, POST"),
    ],
)
def test_a_405_allows_every_method_of_the_path(admin: httpx.Client, method: str, path: str, allow: str) -> None:
    response = admin.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow


def test_booleans_are_strict(admin: httpx.Client) -> None:
    response = admin.post("/api/v2/groups", json={"group": {"name": "0", "is_public": 0}})
    assert response.status_code == 422, response.text
    assert "is_public" in response.json()["details"]


def test_start_time_is_required_where_the_wire_requires_it(anonymous: httpx.Client) -> None:
    paths = anonymous.get("/openapi.json").json()["paths"]

    def start_time(path: str) -> dict[str, Any]:
        return next(p for p in paths[path]["get"]["parameters"] if p["name"] == "start_time")

    for stream in ("tickets", "ticket_events", "ticket_metric_events", "users", "organizations"):
        assert start_time(f"/api/v2/incremental/{stream}")["required"] is True
    assert start_time("/api/v2/incremental/{resource}/sample")["required"] is True
    for stream in ("tickets", "users"):
        assert start_time(f"/api/v2/incremental/{stream}/cursor")["required"] is False
