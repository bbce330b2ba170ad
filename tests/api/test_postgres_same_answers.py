"""The same generated history on SQLite and on PostgreSQL: the server gives byte-for-byte the same answers, page by
page, on every export and on the list endpoints (the stored bytes are already equal: tests/generate)."""

from __future__ import annotations

from pathlib import Path

import httpx

from deskstream.clock import SimClock
from deskstream.generate import generate
from deskstream.store import Store
from tests.conftest import ADMIN, seed_accounts, start_app
from tests.generate.histories import END, SMALL
from tests.helpers import pg_database

#: Every export, as a client follows it from the start to the end of the stream (next link by next link).
FOLLOWED = [
    ("/api/v2/incremental/tickets/cursor", {"start_time": "0", "per_page": "100"}, "after_url"),
    ("/api/v2/incremental/tickets", {"start_time": "0", "per_page": "100"}, "next_page"),
    ("/api/v2/incremental/ticket_events", {"start_time": "0", "include": "comment_events"}, "next_page"),
    ("/api/v2/incremental/ticket_metric_events", {"start_time": "0"}, "next_page"),
    ("/api/v2/incremental/users/cursor", {"start_time": "0", "per_page": "100"}, "after_url"),
    ("/api/v2/incremental/organizations", {"start_time": "0"}, "next_page"),
    ("/api/v2/tickets", {"page[size]": "100", "include": "slas,metric_sets"}, "links.next"),
    ("/api/v2/users", {"page[size]": "100"}, "links.next"),
]


def _answers(client: httpx.Client) -> list[bytes]:
    pages: list[bytes] = []
    for path, params, follow in FOLLOWED:
        answer = client.get(path, params=params)
        while True:
            assert answer.status_code == 200, (path, answer.text)
            pages.append(answer.content)
            body = answer.json()
            following = body["links"]["next"] if follow == "links.next" else body[follow]
            if body.get("end_of_stream") is True or not following or len(pages) > 500:
                break
            answer = client.get(following)
    return pages


def _served(directory: Path, store: Store) -> list[bytes]:
    seed_accounts(store, END - 86_400 * 30)
    generate(store, seed=5, end=END, **SMALL)
    SimClock(store).set(END + 3600)  # the same "now" for both: the same horizon and SLA time left
    server = start_app(directory, "--clock", "sim", "--rate-limit", "off", db_url=store.url)
    try:
        return _answers(server.client(ADMIN))
    finally:
        server.stop()


def test_sqlite_and_postgresql_serve_the_same_history_byte_for_byte(tmp_path: Path) -> None:
    sqlite = Store(f"sqlite:///{tmp_path / 'same.db'}")
    sqlite.migrate()
    on_sqlite = _served(tmp_path, sqlite)
    sqlite.dispose()
    with pg_database("same_answers") as pg:
        on_postgresql = _served(tmp_path, pg)
        assert len(on_sqlite) == len(on_postgresql) > len(FOLLOWED)
        for n, (a, b) in enumerate(zip(on_sqlite, on_postgresql, strict=True)):
            assert a == b, f"page {n} differs"
