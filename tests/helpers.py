"""Helpers several test folders share: a server on the simulated clock, moving that clock, a fresh PostgreSQL store.

A plain module, not a conftest.py: test modules import ``conftest`` by name, and a second one would shadow it.
Fixtures defined here are imported by the modules that use them (``from tests.helpers import sim, sim_admin``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from deskstream import demo
from deskstream.store import Store

if TYPE_CHECKING:
    from tests.conftest import Server

#: The demo account's schedule: Monday to Friday, 09:00-17:00 there.
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def sim(make_app: Callable[..., Server]) -> Server:
    """A server of the module's own on ``--clock sim``: the module's tests move its clock, no other module sees it."""
    return make_app("--clock", "sim", "--rate-limit", "off")


@pytest.fixture(name="admin")
def sim_admin(sim: Server) -> httpx.Client:
    """``admin``, but on the module's ``sim`` server (importing this fixture overrides conftest's ``admin``)."""
    return sim.client()


def clock(admin: httpx.Client, **move: int) -> int:
    """The server's simulated time; with ``advance=seconds`` or ``set=timestamp``, after moving it there."""
    if move:
        answer = admin.post("/_deskstream/clock", json=move)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["now"])
    return int(admin.get("/_deskstream/clock").json()["now"])


def next_local(admin: httpx.Client, weekday: int, hour: int, minute: int = 0) -> int:
    """Move the clock to the next ``weekday`` (0 = Monday) at ``hour:minute`` New York time; returns it."""
    now = clock(admin)
    day = datetime.fromtimestamp(now, NEW_YORK).date() + timedelta(days=1)
    day += timedelta(days=(weekday - day.weekday()) % 7)
    return clock(admin, set=int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK).timestamp()))


def create_ticket(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    """Create a ticket through the API (with a first comment unless ``fields`` has one); asserts the 201, returns it."""
    fields.setdefault("comment", {"body": "The printer is on fire"})
    response = client.post("/api/v2/tickets", json={"ticket": fields})
    assert response.status_code == 201, response.text
    return dict(response.json()["ticket"])


def tagged_ticket(admin: httpx.Client, tag: str, priority: str = "urgent", **fields: Any) -> dict[str, Any]:
    """An end user's ticket tagged ``tag``: the SLA tests give each test its own tag, matched by its own policy."""
    return create_ticket(admin, subject="Help", comment={"body": "It broke."}, priority=priority, tags=[tag],
                         requester={"email": demo.USER_EMAIL}, **fields)


def tag_policy(admin: httpx.Client, tag: str, metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """An SLA policy ``Policy <tag>`` for the tickets tagged ``tag``, with these ``policy_metrics``; returns it."""
    body = {"title": f"Policy {tag}", "description": "test", "filter": {
        "all": [{"field": "current_tags", "operator": "includes", "value": tag}], "any": []},
        "policy_metrics": metrics}
    created = admin.post("/api/v2/slas/policies", json={"sla_policy": body})
    assert created.status_code == 201, created.text
    return dict(created.json()["sla_policy"])


@contextmanager
def seeded_database_url(backend: str, directory: Path, purpose: str) -> Iterator[str]:
    """The URL of a fresh database with the demo accounts: a SQLite file in ``directory``, or (``postgresql``) a
    PostgreSQL database named for ``purpose``, dropped after."""
    from tests.conftest import seed_accounts, seeded_database

    if backend == "sqlite":
        yield seeded_database(directory, seed_accounts)
        return
    with pg_database(purpose) as store:
        seed_accounts(store)
        yield store.url


@contextmanager
def migrated_store(backend: str, directory: Path, purpose: str) -> Iterator[Store]:
    """A fresh, migrated database: a SQLite file in ``directory``, or (``postgresql``) a PostgreSQL database named
    for ``purpose`` (:func:`pg_database`); disposed of after."""
    if backend == "postgresql":
        with pg_database(purpose) as store:
            yield store
        return
    store = Store(f"sqlite:///{directory / f'{purpose}.db'}")
    store.migrate()
    try:
        yield store
    finally:
        store.dispose()


@contextmanager
def pg_database(purpose: str, migrated: bool = True) -> Iterator[Store]:
    """A fresh, migrated PostgreSQL database on ``$DESKSTREAM_TEST_PG`` (default: the local server), dropped after;
    ``migrated=False`` leaves it empty (a sync target).

    Skips the test when no PostgreSQL answers. ``purpose`` names the database, so suites running at once never share.
    """
    server = os.environ.get("DESKSTREAM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"deskstream_{purpose}_{os.getpid()}"
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        pytest.skip(f"no PostgreSQL at {server}: {exc}")
    admin.execute(f"DROP DATABASE IF EXISTS {name}")
    admin.execute(f"CREATE DATABASE {name}")
    # Commits need not wait for the disk: the tests kill deskstream's processes, never PostgreSQL's.
    admin.execute(f"ALTER DATABASE {name} SET synchronous_commit = off")
    store = Store(server.rsplit("/", 1)[0] + "/" + name)
    if migrated:
        store.migrate()
    try:
        yield store
    finally:
        store.dispose()
        admin.execute(f"DROP DATABASE {name}")
        admin.close()


def follow_cursor(base_url: str, url: str, seen: list[int], where: list[str]) -> None:
    """Read the tickets' cursor export from ``url`` to its end, as a sync client does: the ids served go to
    ``seen``, and the ``after_url`` it stopped at to ``where`` (to resume from later)."""
    from tests.conftest import http_client

    with http_client(base_url, auth=(demo.ADMIN_EMAIL, demo.PASSWORD), timeout=120) as reader:
        page = reader.get(url).json()
        while True:
            seen.extend(t["id"] for t in page["tickets"])
            if page["end_of_stream"]:
                break
            page = reader.get(page["after_url"]).json()
    where.append(page["after_url"])


#: ``python -c PEAK_RSS OUT deskstream ARGS...``: runs ``deskstream ARGS`` and writes its peak resident set (VmHWM,
#: KiB) to OUT at exit. The process reads its own high-water mark: exec starts it afresh, while the ``ru_maxrss`` a
#: parent reads counts the pages the child had as a fork of that parent.
PEAK_RSS = """
import atexit, runpy, sys
out = sys.argv.pop(1)
def peak():
    with open("/proc/self/status") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(out, "w") as written:
        written.write(kb)
atexit.register(peak)
sys.argv[0] = "deskstream"
runpy.run_module("deskstream", run_name="__main__")
"""
