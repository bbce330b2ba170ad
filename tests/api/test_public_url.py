"""``serve --public-url``: items stored with the base clients address the server by, sent as stored to that host,
and rewritten for any other (docs/quickstart.md; the performance lever of docs/benchmarks.md § Export pages)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text

from deskstream.base_url import URL_BASE
from deskstream.generate import generate
from deskstream.store import Store
from deskstream.store.url_bases import KEY
from tests.conftest import AppServer, free_port, seed_accounts, start_app

PUBLIC = "http://help.example.test:8080"
OTHER = "http://other.example.test:9000"
#: Every table whose JSON an answer serves.
SERVED = ("tickets", "ticket_versions", "ticket_events", "comments", "ticket_metric_events", "users",
          "organizations", "groups")


@pytest.fixture
def created_with_public_url(tmp_path: Path) -> Iterator[AppServer]:
    """A server whose database it created itself, given ``--public-url``, then seeded through its own store."""
    server = start_app(tmp_path, "--public-url", PUBLIC, "--clock", "sim", seed=None,
                       db_url=f"sqlite:///{tmp_path / 'public.db'}")
    seed_accounts(server.app.state.store)
    yield server
    server.stop()


def _client(server: AppServer, base: str) -> httpx.Client:
    client = server.client()
    client.base_url = base  # type: ignore[assignment]
    return client


def _urls(value: Any) -> list[str]:
    """Every ``url`` value in a decoded answer, however deep."""
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "url" and isinstance(v, str)] + [
            u for v in value.values() for u in _urls(v)
        ]
    if isinstance(value, list):
        return [u for v in value for u in _urls(v)]
    return []


def _stored_with(store_url: str, needle: str) -> int:
    """How many stored rows of the served tables hold ``needle`` in their JSON."""
    store = Store(store_url)
    try:
        with store.read() as conn:
            return sum(
                int(conn.execute(text(f"SELECT count(*) FROM {t} WHERE CAST(json AS TEXT) LIKE :n"),
                                 {"n": f"%{needle}%"}).scalar_one())
                for t in SERVED
            )
    finally:
        store.dispose()


def _make_tickets(client: httpx.Client, n: int = 3) -> None:
    """``n`` tickets, then the simulated clock moved past the exports' one-minute horizon."""
    for i in range(n):
        created = client.post("/api/v2/tickets", json={"ticket": {"subject": f"t{i}", "comment": {"body": "hi"}}})
        assert created.status_code == 201, created.text
    _past_horizon(client)


def _past_horizon(client: httpx.Client) -> None:
    assert client.post("/_deskstream/clock", json={"advance": 120}).status_code == 200


def _export_urls(client: httpx.Client) -> list[str]:
    urls: list[str] = []
    for path, params in (("/api/v2/incremental/tickets", {"start_time": 0}),
                         ("/api/v2/incremental/tickets/cursor", {"start_time": 0}),
                         ("/api/v2/incremental/ticket_events", {"start_time": 0, "include": "comment_events"}),
                         ("/api/v2/incremental/users", {"start_time": 0}),
                         ("/api/v2/incremental/tickets", {"start_time": 0, "include": "metric_sets,users"}),
                         ("/api/v2/users/me", {})):
        answer = client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        urls += _urls(answer.json())
    assert sum("/api/v2/tickets/" in u for u in urls) >= 3, urls  # the tickets were exported, not only the users
    return urls


def test_a_database_created_with_a_public_url_stores_its_items_naming_it(created_with_public_url: AppServer) -> None:
    server = created_with_public_url
    _make_tickets(_client(server, PUBLIC))
    assert _stored_with(server.db_url, URL_BASE) == 0
    assert _stored_with(server.db_url, PUBLIC) > 0
    assert server.app.state.store.url_bases.all == (PUBLIC,)


def test_the_public_host_gets_every_url_with_the_public_base(created_with_public_url: AppServer) -> None:
    client = _client(created_with_public_url, PUBLIC)
    _make_tickets(client)
    urls = _export_urls(client)
    assert urls and all(u.startswith(PUBLIC + "/api/v2/") for u in urls), urls


def test_a_request_by_another_host_gets_its_own_base_in_every_url(created_with_public_url: AppServer) -> None:
    _make_tickets(_client(created_with_public_url, PUBLIC))
    urls = _export_urls(_client(created_with_public_url, OTHER))
    assert urls and all(u.startswith(OTHER + "/api/v2/") for u in urls), urls


def test_text_a_user_wrote_naming_the_public_url_is_never_rewritten(created_with_public_url: AppServer) -> None:
    written = f'see "url":"{PUBLIC}/api/v2/tickets/1.json" and {PUBLIC}/x'
    client = _client(created_with_public_url, OTHER)
    created = client.post("/api/v2/tickets", json={"ticket": {"subject": written, "comment": {"body": written}}})
    assert created.json()["ticket"]["subject"] == written
    _past_horizon(client)
    page = client.get("/api/v2/incremental/tickets", params={"start_time": 0}).json()
    assert [t["subject"] for t in page["tickets"]] == [written]
    assert page["tickets"][0]["url"].startswith(OTHER)


def test_a_public_url_given_to_an_older_database_serves_old_and_new_items_right(tmp_path: Path) -> None:
    before = start_app(tmp_path, "--clock", "sim")
    _make_tickets(before.client(), 2)
    before.stop()
    after = start_app(tmp_path, "--public-url", PUBLIC, "--clock", "sim", db_url=before.db_url)
    try:
        _make_tickets(_client(after, PUBLIC), 2)
        assert after.app.state.store.url_bases.all == (URL_BASE, PUBLIC)
        for base in (PUBLIC, OTHER):
            tickets = _client(after, base).get("/api/v2/incremental/tickets", params={"start_time": 0}).json()
            assert len(tickets["tickets"]) == 4
            assert all(t["url"].startswith(base + "/api/v2/tickets/") for t in tickets["tickets"])
    finally:
        after.stop()


def test_a_second_public_url_keeps_the_first_ones_items_rewritten(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'moved.db'}"
    first = start_app(tmp_path, "--public-url", PUBLIC, "--clock", "sim", seed=None, db_url=db_url)
    seed_accounts(first.app.state.store)
    _make_tickets(_client(first, PUBLIC), 2)
    first.stop()
    moved = "https://new.example.test"
    second = start_app(tmp_path, "--public-url", moved, "--clock", "sim", db_url=db_url)
    try:
        assert second.app.state.store.url_bases.all == (PUBLIC, moved)
        tickets = _client(second, moved).get("/api/v2/incremental/tickets", params={"start_time": 0}).json()
        assert [t["url"].split("/api/")[0] for t in tickets["tickets"]] == [moved, moved]
    finally:
        second.stop()


def test_a_process_without_the_setting_writes_with_the_base_the_database_names(
    created_with_public_url: AppServer,
) -> None:
    """``deskstream generate`` (or any other writer) on a database created with a public URL writes that URL."""
    generate(Store(created_with_public_url.db_url), tickets=20, days=2, seed=3)
    assert _stored_with(created_with_public_url.db_url, URL_BASE) == 0
    urls = _export_urls(_client(created_with_public_url, OTHER))
    assert len(urls) > 40 and all(u.startswith(OTHER + "/api/v2/") for u in urls)
    stored = Store(created_with_public_url.db_url)
    try:
        assert orjson.loads(stored.kv_get(KEY) or "[]") == [PUBLIC]
    finally:
        stored.dispose()


@pytest.mark.parametrize("bad", ["ftp://help.example.test", "help.example.test", "http://h.test/desk",
                                 "http://h.test:99999", "http://h.test/?a=1"])
def test_serve_refuses_a_public_url_that_is_not_a_scheme_and_host(tmp_path: Path, bad: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deskstream", "serve", "--db", f"sqlite:///{tmp_path / 'x.db'}",
         "--port", str(free_port()), "--public-url", bad],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "--public-url" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
