"""A database that fails under a running server is Zendesk's 503 with ``Retry-After`` (clients back off and
retry), never a 500 or a dropped connection."""

from __future__ import annotations

import os
from collections.abc import Callable

import psycopg
import pytest

from deskstream.store import Store
from tests.conftest import ADMIN, AppServer, seed_accounts


def test_a_database_gone_under_the_server_is_zendesks_503_with_retry_after(make_app: Callable[..., AppServer]) -> None:
    server = os.environ.get("DESKSTREAM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        pytest.skip(f"no PostgreSQL at {server}: {exc}")
    name = f"deskstream_gone_{os.getpid()}"
    url = server.rsplit("/", 1)[0] + "/" + name
    admin.execute(f"DROP DATABASE IF EXISTS {name}")
    admin.execute(f"CREATE DATABASE {name}")
    try:
        store = Store(url)
        store.migrate()
        seed_accounts(store)
        store.dispose()
        client = make_app("--rate-limit", "off", db_url=url).client(ADMIN)
        assert client.get("/api/v2/users/me").status_code == 200
        admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        gone = client.get("/api/v2/users/me")
        assert gone.status_code == 503, gone.text
        assert gone.json()["error"] == "DatabaseUnavailable"
        assert gone.headers["Retry-After"] == "1"
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
