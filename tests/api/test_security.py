"""Who a change is by, who can always sign in, and what guessing passwords costs.

- A comment is its author's: an end user's is always their own (``author_id`` is ignored, as the other fields an
  end user may not set are); an agent or admin may name another user only if that user exists and is not deleted.
- The account always keeps an admin who can sign in: the last one can be neither deleted, demoted nor suspended,
  even by two admins demoting each other at the same moment on PostgreSQL.
- Wrong passwords are throttled per (email, client address) and per client address, in counters every server
  process shares; tokens never are; the 401 body is the same whatever was wrong.
- A credential that is not well-formed text (a NUL, bytes that are not UTF-8) is a plain 401, on PostgreSQL too.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient
from tests.conftest import ADMIN, AGENT, END_USER, AppServer, Server, http_client, seed_accounts, start_server
from tests.helpers import clock, create_ticket, pg_database

from deskstream import demo
from deskstream.api.app import create_app
from deskstream.clock import RealClock
from deskstream.domain.people import UserInput
from deskstream.exceptions import Unprocessable
from deskstream.service.people import PeopleService, RecordChange
from deskstream.service.throttle import FAILURE_WINDOW, FAILURES_PER_ACCOUNT_AND_ADDRESS, FAILURES_PER_ADDRESS
from deskstream.settings import Settings
from deskstream.store import Store, schema
from deskstream.store.writer import Writer

UNAUTHENTICATED = {"error": "Couldn't authenticate you"}
THROTTLED = {
    "error": "APIRateLimitExceeded",
    "description": "Number of allowed failed sign-in attempts exceeded. Try again later",
}
WRONG = "not-the-password-7c1e"


def me(client: httpx.Client) -> dict[str, Any]:
    answer = client.get("/api/v2/users/me")
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["user"])


def comments(admin: httpx.Client, ticket_id: int) -> list[dict[str, Any]]:
    return list(admin.get(f"/api/v2/tickets/{ticket_id}/comments").json()["comments"])


def details_of(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert (body["error"], body["description"]) == ("RecordInvalid", "Record validation errors")
    return dict(body["details"])


# impersonation -------------------------------------------------------------------------------------------------
def test_an_end_users_comment_is_their_own_whatever_author_id_names(
    admin: httpx.Client, end_user: httpx.Client
) -> None:
    admin_id, own_id = me(admin)["id"], me(end_user)["id"]
    for named in (admin_id, 987_654_321):
        ticket = create_ticket(end_user, comment={"body": "Refund me", "author_id": named})
        updated = end_user.put(f"/api/v2/tickets/{ticket['id']}",
                               json={"ticket": {"comment": {"body": "Now, please", "author_id": named}}})
        assert updated.status_code == 200, updated.text
        assert updated.json()["audit"]["events"][0]["author_id"] == own_id
        assert [c["author_id"] for c in comments(admin, ticket["id"])] == [own_id, own_id]


def test_an_agent_may_comment_as_an_existing_user(agent: httpx.Client, admin: httpx.Client,
                                                  end_user: httpx.Client) -> None:
    customer = me(end_user)["id"]
    ticket = create_ticket(agent, comment={"body": "Called in", "author_id": customer})
    answer = agent.put(f"/api/v2/tickets/{ticket['id']}",
                       json={"ticket": {"comment": {"body": "And again", "author_id": customer}}})
    assert answer.status_code == 200, answer.text
    assert [c["author_id"] for c in comments(admin, ticket["id"])] == [customer, customer]


def _gone_user(admin: httpx.Client) -> int:
    made = admin.post("/api/v2/users", json={"user": {"name": "Gone", "email": f"gone-{id(admin)}@example.com"}})
    assert made.status_code == 201, made.text
    user_id = int(made.json()["user"]["id"])
    assert admin.delete(f"/api/v2/users/{user_id}").status_code == 200
    return user_id


def test_an_agent_naming_an_unknown_or_deleted_author_is_422_on_author_id_and_nothing_is_written(
    agent: httpx.Client, admin: httpx.Client, server: Server
) -> None:
    ticket = create_ticket(agent)
    other = create_ticket(agent)
    for author in (987_654_321, _gone_user(admin)):
        comment = {"body": "As someone else", "author_id": author}
        with server.read() as conn:
            tickets_before = conn.execute(select(func.count()).select_from(schema.tickets)).scalar_one()
        answers = [
            agent.post("/api/v2/tickets", json={"ticket": {"comment": comment}}),
            agent.put(f"/api/v2/tickets/{ticket['id']}", json={"ticket": {"status": "pending", "comment": comment}}),
            agent.put(f"/api/v2/tickets/update_many?ids={other['id']},{ticket['id']}",
                      json={"ticket": {"status": "pending", "comment": comment}}),
            agent.post("/api/v2/tickets/create_many",
                       json={"tickets": [{"comment": {"body": "fine"}}, {"comment": comment}]}),
        ]
        for answer in answers:
            assert details_of(answer) == {
                "author_id": [{"description": f"Author: {author} not found", "error": "InvalidValue"}]
            }
        with server.read() as conn:
            assert conn.execute(select(func.count()).select_from(schema.tickets)).scalar_one() == tickets_before
        for made in (ticket, other):
            assert admin.get(f"/api/v2/tickets/{made['id']}").json()["ticket"]["status"] == made["status"]
            assert len(comments(admin, made["id"])) == 1


# the last admin ------------------------------------------------------------------------------------------------
@pytest.fixture
def desk(make_app: Callable[..., AppServer]) -> AppServer:
    """A server of the test's own, with the demo's accounts: one admin, one agent, one end user."""
    return make_app("--rate-limit", "off")


def test_the_only_admin_can_neither_delete_demote_nor_suspend_themselves(desk: AppServer) -> None:
    admin = desk.client(ADMIN)
    own = me(admin)["id"]
    assert details_of(admin.delete(f"/api/v2/users/{own}")) == {
        "base": [{"description": "The account's last admin cannot be deleted", "error": "InvalidValue"}]
    }
    assert details_of(admin.put(f"/api/v2/users/{own}", json={"user": {"role": "agent"}})) == {
        "role": [{"description": "Role: cannot be changed: this is the account's last admin", "error": "InvalidValue"}]
    }
    assert details_of(admin.put(f"/api/v2/users/{own}", json={"user": {"suspended": True}})) == {
        "suspended": [{"description": "Suspended: the account's last admin cannot be suspended",
                       "error": "InvalidValue"}]
    }
    user = me(admin)  # still signs in, still an admin
    assert (user["role"], user["active"], user["suspended"]) == ("admin", True, False)
    assert admin.put(f"/api/v2/users/{own}", json={"user": {"role": "admin", "name": "Still Admin"}}).is_success


def test_with_a_second_admin_either_may_go_but_the_last_one_stays(desk: AppServer) -> None:
    admin = desk.client(ADMIN)
    second = {"name": "Second Admin", "email": "second.admin@example.com", "password": "second-pw-1", "role": "admin"}
    made = admin.post("/api/v2/users", json={"user": second})
    assert made.status_code == 201, made.text
    assert admin.delete(f"/api/v2/users/{me(admin)['id']}").status_code == 200
    assert desk.client(ADMIN).get("/api/v2/users/me").status_code == 401
    survivor = desk.client((second["email"], second["password"]))
    own = me(survivor)["id"]
    assert details_of(survivor.delete(f"/api/v2/users/{own}"))["base"]
    assert details_of(survivor.put(f"/api/v2/users/{own}", json={"user": {"role": "end-user"}}))["role"]
    assert me(survivor)["role"] == "admin"


def test_a_suspended_admin_does_not_count_as_one_who_can_sign_in(desk: AppServer) -> None:
    admin = desk.client(ADMIN)
    body = {"name": "Benched", "email": "benched.admin@example.com", "role": "admin"}
    benched = admin.post("/api/v2/users", json={"user": body}).json()["user"]
    assert admin.put(f"/api/v2/users/{benched['id']}", json={"user": {"suspended": True}}).status_code == 200
    assert details_of(admin.put(f"/api/v2/users/{me(admin)['id']}", json={"user": {"role": "agent"}}))["role"]
    assert admin.delete(f"/api/v2/users/{benched['id']}").status_code == 200  # the active admin remains


@pytest.fixture(params=["sqlite", "postgresql"])
def people_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'admins.db'}")
        store.migrate()
        yield store
        store.dispose()
        return
    with pg_database("last_admin") as store:
        yield store


def test_two_admins_demoting_each_other_at_once_leave_one_admin(people_store: Store) -> None:
    """The first demotion is held open inside its transaction, after its check and its write; the second, started
    then, must wait for it and then see one admin left. Without the lock both would count two, and commit zero."""
    people = PeopleService(people_store, RealClock())
    first, second = (
        people.create_user(UserInput(name=f"Admin {n}", email=f"admin{n}@example.com", role="admin"))["id"]
        for n in (1, 2)
    )
    inside, release = threading.Event(), threading.Event()

    def hold_the_first(_w: Writer, change: RecordChange) -> None:
        if change.record_id == first:
            inside.set()
            assert release.wait(30)

    people.listeners.append(hold_the_first)
    outcomes: dict[int, object] = {}

    def demote(user_id: int) -> None:
        try:
            outcomes[user_id] = people.update_user(user_id, UserInput(role="agent"))["role"]
        except Unprocessable as error:
            outcomes[user_id] = error.details

    one = threading.Thread(target=demote, args=(first,))
    one.start()
    assert inside.wait(30)
    two = threading.Thread(target=demote, args=(second,))
    two.start()
    two.join(1.0)
    waited = two.is_alive()
    release.set()
    one.join(30)
    two.join(30)
    with people_store.reading() as r:
        assert [a.user_id for a in r.lock_live_admins()] == [second]
    assert outcomes[first] == "agent"
    assert outcomes[second] == {
        "role": [{"description": "Role: cannot be changed: this is the account's last admin", "error": "InvalidValue"}]
    }
    assert waited, "the second demotion waits for the first one's transaction"


# failed sign-ins -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sim(make_app: Callable[..., AppServer]) -> AppServer:
    """This module's server on the simulated clock: a throttle window lasts until a test moves the clock."""
    return make_app("--clock", "sim", "--rate-limit", "off")


_addresses = iter(range(1, 250))


def from_address(server: AppServer, auth: tuple[str, str] | None, address: str | None = None) -> TestClient:
    """A client whose connection comes from ``address`` (a fresh 10.9.x.1 when not given): each test has its own."""
    address = address or f"10.9.{next(_addresses)}.1"
    client = TestClient(server.app, base_url=server.base_url, raise_server_exceptions=False, client=(address, 40000))
    client.auth = auth  # type: ignore[assignment]
    server.clients.append(client)
    return client


def test_wrong_passwords_are_401_until_the_budget_is_spent_then_429_with_retry_after(sim: AppServer) -> None:
    address = "10.5.0.1"
    right, guesser = from_address(sim, ADMIN, address), from_address(sim, (demo.ADMIN_EMAIL, WRONG), address)
    assert right.get("/api/v2/users/me").status_code == 200  # (and now cached in the process)
    for _ in range(FAILURES_PER_ACCOUNT_AND_ADDRESS):
        answer = guesser.get("/api/v2/users/me")
        assert (answer.status_code, answer.json()) == (401, UNAUTHENTICATED)
    answer = guesser.get("/api/v2/users/me")
    assert (answer.status_code, answer.json()) == (429, THROTTLED)
    assert 1 <= int(answer.headers["Retry-After"]) <= FAILURE_WINDOW
    # From that address the right password is refused too, cached or not: a right guess must look like a wrong one.
    assert right.get("/api/v2/users/me").status_code == 429


def test_an_unknown_email_is_throttled_alike_so_a_429_reveals_no_account(sim: AppServer) -> None:
    guesser = from_address(sim, ("nobody-here@example.com", WRONG))
    statuses = [guesser.get("/api/v2/tickets").status_code for _ in range(FAILURES_PER_ACCOUNT_AND_ADDRESS + 1)]
    assert statuses == [401] * FAILURES_PER_ACCOUNT_AND_ADDRESS + [429]


def test_the_owner_is_not_locked_out_from_elsewhere_nor_with_a_token(sim: AppServer) -> None:
    address = "10.8.0.1"
    guesser = from_address(sim, (demo.ADMIN_EMAIL, WRONG), address)
    for _ in range(FAILURES_PER_ACCOUNT_AND_ADDRESS + 5):
        guesser.get("/api/v2/users/me")
    assert guesser.get("/api/v2/users/me").status_code == 429
    assert from_address(sim, ADMIN).get("/api/v2/users/me").status_code == 200  # the password, from elsewhere
    same_address = from_address(sim, (f"{demo.ADMIN_EMAIL}/token", demo.ADMIN_TOKEN), address)
    assert same_address.get("/api/v2/users/me").status_code == 200  # the token, from the guesser's address
    bearer = from_address(sim, None, address)
    assert bearer.get("/api/v2/users/me", headers={"Authorization": f"Bearer {demo.ADMIN_TOKEN}"}).status_code == 200
    # Nor are wrong tokens counted: they cannot be guessed, so they spend no budget.
    other_address = from_address(sim, (f"{demo.AGENT_EMAIL}/token", "not-the-token"))
    assert [other_address.get("/api/v2/users/me").status_code for _ in range(FAILURES_PER_ADDRESS + 1)] == [401] * (
        FAILURES_PER_ADDRESS + 1
    )


def test_a_right_password_gives_its_place_back(sim: AppServer) -> None:
    address = "10.7.0.1"
    wrong, right = from_address(sim, (demo.AGENT_EMAIL, WRONG), address), from_address(sim, AGENT, address)
    for _ in range(FAILURES_PER_ACCOUNT_AND_ADDRESS - 1):
        assert wrong.get("/api/v2/users/me").status_code == 401
    for _ in range(5):
        sim.app.state.desk.auth.verified.clear()  # each right password checked afresh, not from the cache
        assert right.get("/api/v2/users/me").status_code == 200
    assert wrong.get("/api/v2/users/me").status_code == 401  # the budget's last wrong password
    assert wrong.get("/api/v2/users/me").status_code == 429


def test_an_address_spraying_many_accounts_is_stopped_after_its_own_budget(sim: AppServer) -> None:
    address = "10.6.0.1"
    statuses = [
        from_address(sim, (f"sprayed-{n}@example.com", "Summer2024!"), address).get("/api/v2/users/me").status_code
        for n in range(FAILURES_PER_ADDRESS + 1)
    ]
    assert statuses == [401] * FAILURES_PER_ADDRESS + [429]
    assert from_address(sim, END_USER, address).get("/api/v2/users/me").status_code == 429
    assert from_address(sim, END_USER).get("/api/v2/users/me").status_code == 200


def test_the_budget_comes_back_when_the_window_ends(sim: AppServer) -> None:
    guesser = from_address(sim, (demo.USER_EMAIL, WRONG))
    for _ in range(FAILURES_PER_ACCOUNT_AND_ADDRESS):
        guesser.get("/api/v2/users/me")
    answer = guesser.get("/api/v2/users/me")
    assert answer.status_code == 429
    clock(sim.client(ADMIN), advance=int(answer.headers["Retry-After"]))
    assert guesser.get("/api/v2/users/me").status_code == 401


def test_no_secret_reaches_the_logs_or_an_answer(sim: AppServer, caplog: pytest.LogCaptureFixture) -> None:
    password = "hunter2-canary-5e9a"
    guesser = from_address(sim, (demo.ADMIN_EMAIL, password))
    with caplog.at_level(logging.DEBUG):
        bodies = [guesser.get("/api/v2/users/me").text for _ in range(FAILURES_PER_ACCOUNT_AND_ADDRESS + 2)]
    assert "sign-in throttled" in caplog.text  # the operator is told, once, from which address
    assert caplog.text.count("sign-in throttled") == 1
    for text in [caplog.text, *bodies]:
        assert password not in text and demo.ADMIN_EMAIL not in text


@pytest.fixture
def database_url() -> Iterator[str]:
    """A seeded PostgreSQL database that two server processes will share (the many-servers case; SQLite's processes
    share the same counter rows, as tests/api/test_ratelimit.py shows for the export budget)."""
    with pg_database("throttle") as store:
        seed_accounts(store)
        yield store.url


def test_640_wrong_passwords_from_16_threads_on_two_processes_check_only_the_budget(
    database_url: str, tmp_path: Path
) -> None:
    """The incident: 640 wrong passwords for one account from 16 threads were all 401. Now the two processes share
    one budget, and however many arrive at once, only the budget's number of passwords are ever checked."""
    servers = [start_server(tmp_path, "--clock", "sim", "--rate-limit", "off", db_url=database_url) for _ in range(2)]
    try:
        statuses: Counter[int] = Counter()
        lock = threading.Lock()

        def guess(n: int) -> None:
            with http_client(servers[n % 2].base_url, auth=(demo.ADMIN_EMAIL, WRONG), timeout=60) as c:
                for _ in range(40):
                    status = c.get("/api/v2/users/me").status_code
                    with lock:
                        statuses[status] += 1

        threads = [threading.Thread(target=guess, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert statuses == {401: FAILURES_PER_ACCOUNT_AND_ADDRESS, 429: 640 - FAILURES_PER_ACCOUNT_AND_ADDRESS}
        elsewhere = httpx.HTTPTransport(local_address="127.0.0.2")  # the owner, from another address
        for server in servers:
            with http_client(server.base_url, auth=ADMIN, transport=elsewhere) as owner:
                assert owner.get("/api/v2/users/me").status_code == 200
            token = (f"{demo.ADMIN_EMAIL}/token", demo.ADMIN_TOKEN)
            assert httpx.get(f"{server.base_url}/api/v2/users/me", auth=token).status_code == 200
            assert httpx.get(f"{server.base_url}/api/v2/users/me", auth=ADMIN).status_code == 429
    finally:
        for server in servers:
            server.stop()


# malformed credentials -----------------------------------------------------------------------------------------
MALFORMED = {
    "NUL in the email": b"x\x00@example.com:pw",
    "NUL in the password": demo.ADMIN_EMAIL.encode() + b":pass\x00word",
    "NUL in a token's email": b"x\x00@example.com/token:" + demo.ADMIN_TOKEN.encode(),
    "NUL in the token": demo.ADMIN_EMAIL.encode() + b"/token:\x00" + demo.ADMIN_TOKEN.encode(),
    "a newline in the email": b"x\n@example.com:pw",
    "not UTF-8": b"\xff\xfe@example.com:pw",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database(request: pytest.FixtureRequest, server: Server) -> Iterator[Callable[[], httpx.Client]]:
    """Anonymous clients on the shared SQLite server, or on an in-process server over a fresh PostgreSQL."""
    if request.param == "sqlite":
        yield lambda: server.client(None)
        return
    with pg_database("credentials") as store:
        seed_accounts(store)
        app = create_app(Settings(db=store.url, rate_limit=None))
        with TestClient(app, raise_server_exceptions=False) as client:
            yield lambda: client
        app.state.store.dispose()


@pytest.mark.parametrize("credential", list(MALFORMED), ids=list(MALFORMED))
def test_a_credential_that_is_not_well_formed_text_is_a_plain_401(
    any_database: Callable[[], httpx.Client], credential: str
) -> None:
    header = "Basic " + base64.b64encode(MALFORMED[credential]).decode()
    answer = any_database().get("/api/v2/users/me", headers={"Authorization": header})
    assert (answer.status_code, answer.json()) == (401, UNAUTHENTICATED)
