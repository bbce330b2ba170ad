"""Forwarding headers are believed only from the proxies ``--trusted-proxies`` names (real ``serve`` processes:
uvicorn, not the app, reads them). Anything else could pass for another client address, and around the failed
sign-in budget that counts per address."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from tests.conftest import ADMIN, AGENT, ProcessServer, http_client

from deskstream.service.throttle import FAILURES_PER_ACCOUNT_AND_ADDRESS

WRONG = (ADMIN[0], "not-the-password")


def spoofed_failures(server: ProcessServer) -> list[int]:
    """Wrong passwords for the admin, each claiming another client address: the statuses answered (the admin is
    then locked out from this address; the checks after sign in as the agent)."""
    with http_client(server.base_url, auth=WRONG) as client:
        return [client.get("/api/v2/users/me", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
                for n in range(FAILURES_PER_ACCOUNT_AND_ADDRESS + 2)]  # fmt: skip


def test_by_default_a_forwarded_address_is_not_believed_and_the_sign_in_budget_holds(
    make_server: Callable[..., ProcessServer],
) -> None:
    server = make_server()
    assert spoofed_failures(server)[-1] == 429
    page = httpx.get(f"{server.base_url}/api/v2/users/me", auth=AGENT, headers={"X-Forwarded-Proto": "https"})
    assert page.json()["user"]["url"].startswith("http://")


def test_a_trusted_proxys_forwarded_scheme_and_address_are_believed(
    make_server: Callable[..., ProcessServer],
) -> None:
    server = make_server("--trusted-proxies", "127.0.0.1")
    assert 429 not in spoofed_failures(server)  # each address has its own budget: the proxy said so
    page = httpx.get(f"{server.base_url}/api/v2/users/me", auth=AGENT, headers={"X-Forwarded-Proto": "https"})
    assert page.json()["user"]["url"].startswith("https://")
