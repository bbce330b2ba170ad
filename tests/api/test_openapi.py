"""The OpenAPI document matches what is served: every route under /api/v2 is in it, and everything in it answers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.routing import APIRoute

from deskstream.api.routes import ROUTERS

if TYPE_CHECKING:
    from tests.conftest import Server  # the session's server fixture type (tests/conftest.py)


@pytest.fixture(scope="module")
def served_routes() -> set[tuple[str, str]]:
    """(method, path) of every route the application mounts (``ROUTERS`` is what ``create_app`` includes)."""
    routes: set[tuple[str, str]] = set()
    for router in ROUTERS:
        own = {(m, r.path) for r in router.routes if isinstance(r, APIRoute) for m in r.methods}
        assert own, f"router {router.prefix} has no routes of its own (nested routers are not walked here)"
        routes |= own
    return {(method, path) for method, path in routes if path.startswith("/api/v2")}


@pytest.fixture(scope="module")
def openapi(server: Server) -> dict[str, Any]:
    response = server.client(None).get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


@pytest.fixture(scope="module")
def document(openapi: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(openapi["paths"])


def test_every_route_under_api_v2_is_documented(
    served_routes: set[tuple[str, str]], document: dict[str, dict[str, Any]]
) -> None:
    documented = {(method.upper(), path) for path, operations in document.items() for method in operations}
    assert served_routes, "no /api/v2 routes found"
    assert served_routes <= documented, served_routes - documented


def test_every_documented_operation_is_served(
    make_server: Callable[..., Server], document: dict[str, dict[str, Any]]
) -> None:
    """Calling each documented path never meets the router's own 404/405.

    On a server of its own, with ids that do not exist: the calls include DELETEs and admin-only writes.
    """
    client = make_server("--rate-limit", "off").client()
    for path, operations in document.items():
        concrete = re.sub(r"\{[^}]+\}", "987654321", path)
        for method in operations:
            response = client.request(method.upper(), concrete)
            assert response.json().get("error") not in ("InvalidEndpoint", "MethodNotAllowed"), (method, path)


@pytest.mark.parametrize(
    ("path", "method", "wrapper"),
    [("/api/v2/tickets", "post", "ticket"), ("/api/v2/tickets/{ticket_id}", "put", "ticket"),
     ("/api/v2/users", "post", "user"), ("/api/v2/organizations", "post", "organization"),
     ("/api/v2/groups", "post", "group"), ("/api/v2/tickets/create_many", "post", "tickets")],
)  # fmt: skip
def test_write_bodies_are_documented_with_zendesks_wrapping(
    openapi: dict[str, Any], path: str, method: str, wrapper: str
) -> None:
    """``POST /api/v2/tickets`` takes ``{"ticket": {...}}``: the schema says so, so generated clients wrap it."""
    ref = openapi["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = openapi["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert list(schema["properties"]) == [wrapper] and schema["required"] == [wrapper]


def test_the_interactive_docs_answer(server: Server) -> None:
    response = server.client(None).get("/docs")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    assert "/openapi.json" in response.text
