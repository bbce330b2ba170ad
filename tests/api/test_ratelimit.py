"""Rate limits (spec/exports.md § Rate limit): the limiters in process, then the budgets through real servers.

The HTTP tests run servers with ``--clock sim`` and move the stored clock, so a window passes without sleeping.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import ADMIN, AGENT, Server
from tests.helpers import pg_database

from deskstream.api.ratelimit import Bucket, DatabaseLimiter, Limiter, MemoryLimiter
from deskstream.store import Store

TICKETS = "/api/v2/incremental/tickets.json"
SAMPLE = "/api/v2/incremental/tickets/sample.json"
PARAMS = {"start_time": 0}
OVER_BODY = {
    "error": "APIRateLimitExceeded",
    "description": "Number of allowed incremental export API requests per minute exceeded",
}
PER_MINUTE = 4


# in process ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('ratelimit') / 'limits.db'}")
    store.migrate()
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def pg_store() -> Iterator[Store]:
    with pg_database("ratelimit") as store:
        yield store


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def limiter(request: pytest.FixtureRequest) -> Limiter:
    if request.param == "memory":
        return MemoryLimiter()
    return DatabaseLimiter(request.getfixturevalue("store" if request.param == "sqlite" else "pg_store"))


_NAMES = itertools.count()


def _bucket(limit: int = 3, window: int = 60) -> Bucket:
    """A bucket of its own, so tests sharing the database's counters never see each other's counts."""
    return Bucket(f"test-{next(_NAMES)}", limit, window, "X-Test")


def test_a_limiter_allows_the_limit_then_refuses_until_the_window_ends(limiter: Limiter) -> None:
    bucket = _bucket(limit=3)
    start = 1_700_000_040  # a multiple of 60: a window begins here
    windows = [limiter.hit(bucket, start + i) for i in range(4)]
    assert [w.allowed for w in windows] == [True, True, True, False]
    assert [w.remaining for w in windows] == [2, 1, 0, 0]
    assert windows[-1].resets == 57
    assert not limiter.hit(bucket, start + 59).allowed
    recovered = limiter.hit(bucket, start + 60)
    assert recovered.allowed and recovered.remaining == 2 and recovered.resets == 60


def test_a_limiter_restarts_when_the_clock_is_set_back(limiter: Limiter) -> None:
    bucket = _bucket(limit=1)
    assert limiter.hit(bucket, 1_700_000_400).allowed
    assert limiter.hit(bucket, 1_700_000_000).allowed


def test_two_database_limiters_on_one_database_share_one_budget(store: Store) -> None:
    other = Store(store.url)
    bucket = _bucket(limit=2)
    now = 1_700_000_100
    assert DatabaseLimiter(store).hit(bucket, now).allowed
    assert DatabaseLimiter(other).hit(bucket, now).allowed
    assert not DatabaseLimiter(store).hit(bucket, now).allowed
    other.dispose()


def test_concurrent_requests_never_get_more_than_the_limit_through(limiter: Limiter) -> None:
    bucket = _bucket(limit=30)
    with ThreadPoolExecutor(max_workers=6) as pool:
        windows = list(pool.map(lambda _: limiter.hit(bucket, 1_700_000_200), range(60)))
    assert sum(w.allowed for w in windows) == 30
    assert sorted(w.used for w in windows) == list(range(1, 61))


@settings(max_examples=25, deadline=None)
@given(
    limit=st.integers(1, 5),
    gaps=st.lists(st.integers(0, 50), min_size=1, max_size=25),
)
def test_both_limiters_agree_and_never_allow_more_than_the_limit_in_a_window(
    store: Store, limit: int, gaps: list[int]
) -> None:
    bucket = _bucket(limit=limit)
    memory, database = MemoryLimiter(), DatabaseLimiter(store)
    now = 1_700_000_000
    allowed_per_window: dict[int, int] = {}
    for gap in gaps:
        now += gap
        a, b = memory.hit(bucket, now), database.hit(bucket, now)
        assert a == b
        assert 1 <= a.resets <= bucket.window
        if a.allowed:
            allowed_per_window[now // bucket.window] = allowed_per_window.get(now // bucket.window, 0) + 1
    assert all(count <= limit for count in allowed_per_window.values())


# through real servers --------------------------------------------------------------------------------------------
def advance(server: Server, seconds: int) -> int:
    """Move the server's simulated clock (``POST /_deskstream/clock``); returns the new "now"."""
    answer = server.client(ADMIN).post("/_deskstream/clock", json={"advance": seconds})
    assert answer.status_code == 200, answer.text
    return int(answer.json()["now"])


def fresh_windows(server: Server) -> None:
    """Step to the start of a new 20-minute window: both the minute and the sample budgets start over."""
    now = advance(server, 0)
    advance(server, 1200 - now % 1200)


@pytest.fixture(scope="module")
def limited(make_server: Callable[..., Server]) -> Server:
    return make_server("--rate-limit", str(PER_MINUTE), "--clock", "sim")


@pytest.fixture
def client(limited: Server) -> httpx.Client:
    fresh_windows(limited)
    return limited.client(ADMIN)


def test_past_the_limit_an_incremental_export_answers_429_with_retry_after_and_zendesks_body(
    client: httpx.Client,
) -> None:
    for _ in range(PER_MINUTE):
        assert client.get(TICKETS, params=PARAMS).status_code == 200
    refused = client.get(TICKETS, params=PARAMS)
    assert refused.status_code == 429
    assert refused.json() == OVER_BODY
    assert refused.headers["content-type"].startswith("application/json")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["ratelimit-remaining"] == "0"


def test_all_incremental_endpoints_spend_one_budget(client: httpx.Client) -> None:
    paths = ["/api/v2/incremental/tickets/cursor", "/api/v2/incremental/users", "/api/v2/incremental/organizations"]
    for path in paths + ["/api/v2/incremental/ticket_events"]:
        assert client.get(path, params=PARAMS).status_code == 200
    assert client.get("/api/v2/incremental/ticket_metric_events", params=PARAMS).status_code == 429


def test_incremental_answers_report_the_budget_in_zendesks_headers(client: httpx.Client) -> None:
    first, second = client.get(TICKETS, params=PARAMS), client.get(TICKETS, params=PARAMS)
    for response, remaining in ((first, PER_MINUTE - 1), (second, PER_MINUTE - 2)):
        fields = dict(
            part.strip().split("=") for part in response.headers["Zendesk-RateLimit-incremental-exports"].split(";")
        )
        assert fields["total"] == str(PER_MINUTE)
        assert fields["remaining"] == str(remaining)
        assert 1 <= int(fields["resets"]) <= 60
        assert response.headers["ratelimit-limit"] == str(PER_MINUTE)
        assert response.headers["ratelimit-remaining"] == str(remaining)
        assert response.headers["ratelimit-reset"] == fields["resets"]


def test_every_answer_carries_the_account_wide_rate_limit_headers(limited: Server, client: httpx.Client) -> None:
    answers = [
        client.get(TICKETS, params=PARAMS),
        client.get("/api/v2/users/me.json"),
        client.get("/api/v2/macros.json"),
        client.get("/api/v2/tickets/999999.json"),
        client.get("/api/v2/no/such/endpoint"),
        limited.client(None).get(TICKETS, params=PARAMS),
        limited.client(AGENT).get(TICKETS, params=PARAMS),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 404, 404, 401, 403]
    for answer in answers:
        assert int(answer.headers["X-Rate-Limit"]) == 700
        assert 0 <= int(answer.headers["X-Rate-Limit-Remaining"]) < 700
    assert "Zendesk-RateLimit-incremental-exports" not in answers[1].headers


def test_refused_credentials_do_not_spend_the_budget(limited: Server, client: httpx.Client) -> None:
    anonymous, agent = limited.client(None), limited.client(AGENT)
    for _ in range(PER_MINUTE + 1):
        assert anonymous.get(TICKETS, params=PARAMS).status_code == 401
        assert agent.get(TICKETS, params=PARAMS).status_code == 403
    assert client.get(TICKETS, params=PARAMS).headers["ratelimit-remaining"] == str(PER_MINUTE - 1)


def test_the_budget_comes_back_when_the_minute_is_over(limited: Server, client: httpx.Client) -> None:
    for _ in range(PER_MINUTE):
        client.get(TICKETS, params=PARAMS)
    refused = client.get(TICKETS, params=PARAMS)
    assert refused.status_code == 429
    advance(limited, int(refused.headers["Retry-After"]) - 1)
    assert client.get(TICKETS, params=PARAMS).status_code == 429
    advance(limited, 1)
    again = client.get(TICKETS, params=PARAMS)
    assert again.status_code == 200
    assert again.headers["ratelimit-remaining"] == str(PER_MINUTE - 1)


def test_sample_endpoints_allow_ten_requests_per_twenty_minutes_on_their_own_budget(
    limited: Server, client: httpx.Client
) -> None:
    for _ in range(10):
        assert client.get(SAMPLE, params=PARAMS).status_code == 200
    refused = client.get("/api/v2/incremental/users/sample", params=PARAMS)
    assert refused.status_code == 429
    assert refused.json()["error"] == "APIRateLimitExceeded"
    assert 60 < int(refused.headers["Retry-After"]) <= 1200
    assert client.get(TICKETS, params=PARAMS).status_code == 200  # the minute budget is untouched
    advance(limited, 61)
    assert client.get(SAMPLE, params=PARAMS).status_code == 429
    advance(limited, int(refused.headers["Retry-After"]))
    assert client.get(SAMPLE, params=PARAMS).status_code == 200


def test_two_server_processes_on_one_database_share_the_limit(
    make_server: Callable[..., Server], limited: Server, client: httpx.Client
) -> None:
    second = make_server("--rate-limit", str(PER_MINUTE), "--clock", "sim", db_url=limited.db_url).client(ADMIN)
    answers = [(client if i % 2 else second).get(TICKETS, params=PARAMS) for i in range(PER_MINUTE)]
    assert [a.status_code for a in answers] == [200] * PER_MINUTE
    assert second.get(TICKETS, params=PARAMS).status_code == 429
    assert client.get(TICKETS, params=PARAMS).status_code == 429


def test_with_the_limit_off_exports_are_never_refused(admin: httpx.Client) -> None:
    answers = [admin.get(TICKETS, params=PARAMS) for _ in range(15)]
    assert {a.status_code for a in answers} == {200}
    assert "Zendesk-RateLimit-incremental-exports" not in answers[-1].headers
    assert "X-Rate-Limit-Remaining" in answers[-1].headers

