"""The console (docs/console.md) through HTTP, in process: who may open it, the sign-in form and its session cookie,
every page, the CSRF guard, and the clock and fault forms doing what their JSON endpoints do.

The browser's own view (the live journal refreshing, the forms clicked) is tests/console/'s.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import ADMIN, AGENT, AppServer, Server, start_app
from tests.helpers import clock, create_ticket, seeded_database_url

from deskstream import demo
from deskstream.service.throttle import FAILURES_PER_ACCOUNT_AND_ADDRESS

CONSOLE = "/_deskstream/console"
HTML = {"Accept": "text/html"}
SAME_SITE = {"Origin": "http://testserver"}


@pytest.fixture(scope="module")
def sim(make_app: Callable[..., AppServer]) -> AppServer:
    """A server on the simulated clock with a ticket (audits, SLA-free) and a client's export requests journaled."""
    server = make_app("--clock", "sim", "--rate-limit", "off")
    admin = server.client()
    create_ticket(admin, subject="Console ticket")
    clock(admin, advance=120)
    reader = server.client(ADMIN, headers={"User-Agent": "console-reader/1.0"})
    assert reader.get("/api/v2/incremental/tickets.json", params={"start_time": 0}).status_code == 200
    return server


def browser(server: Server) -> httpx.Client:
    """A client as a browser is: no credentials but what the sign-in form gives it, and asking for HTML."""
    return server.client(None, headers=HTML, follow_redirects=False)


def signed_in(server: Server, email: str = demo.ADMIN_EMAIL) -> httpx.Client:
    client = browser(server)
    answer = client.post(f"{CONSOLE}/login", data={"email": email, "password": demo.PASSWORD}, headers=SAME_SITE)
    assert answer.status_code == 303, answer.text
    return client


# who may open it ----------------------------------------------------------------------------------------------------
def test_a_client_without_credentials_is_refused_401_as_the_api_refuses_it(sim: AppServer) -> None:
    answer = sim.client(None).get(CONSOLE)
    assert answer.status_code == 401 and answer.json() == {"error": "Couldn't authenticate you"}


def test_a_browser_without_a_session_is_sent_to_the_sign_in_form_and_back(sim: AppServer) -> None:
    answer = browser(sim).get(f"{CONSOLE}/tickets", params={"page": 2})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{CONSOLE}/login?next=%2F_deskstream%2Fconsole%2Ftickets%3Fpage%3D2"
    form = browser(sim).get(answer.headers["location"])
    assert form.status_code == 200 and 'name="password"' in form.text
    assert 'value="/_deskstream/console/tickets?page=2"' in form.text


def test_an_agent_is_refused_403_with_basic_auth_and_at_the_sign_in_form(sim: AppServer) -> None:
    assert sim.client(AGENT).get(CONSOLE).status_code == 403
    client = browser(sim)
    answer = client.post(f"{CONSOLE}/login", data={"email": demo.AGENT_EMAIL, "password": demo.PASSWORD},
                         headers=SAME_SITE)  # fmt: skip
    assert answer.status_code == 403 and "Only admins" in answer.text
    assert "deskstream_console" not in client.cookies


def test_an_admin_opens_the_console_with_basic_auth_or_the_api_token(sim: AppServer) -> None:
    assert sim.client(ADMIN, headers=HTML).get(CONSOLE).status_code == 200
    token = sim.client(None, headers={"Authorization": f"Bearer {demo.ADMIN_TOKEN}"}).get(CONSOLE)
    assert token.status_code == 200 and "Request journal" in token.text


def test_signing_in_sets_a_signed_http_only_strict_cookie_for_the_console_only(sim: AppServer) -> None:
    client = browser(sim)
    answer = client.post(f"{CONSOLE}/login", headers=SAME_SITE, data={
        "email": demo.ADMIN_EMAIL, "password": demo.PASSWORD, "next": f"{CONSOLE}/clock"})
    assert answer.status_code == 303 and answer.headers["location"] == f"{CONSOLE}/clock"
    cookie = answer.headers["set-cookie"].lower()
    for attribute in ("deskstream_console=", "httponly", "samesite=strict", "path=/_deskstream/console", "max-age="):
        assert attribute in cookie
    page = client.get(f"{CONSOLE}/clock")
    assert page.status_code == 200 and demo.ADMIN_EMAIL in page.text
    assert client.get("/api/v2/users/me").status_code == 401  # the session opens the console, not the API


def test_after_signing_in_the_browser_goes_to_console_pages_only(sim: AppServer) -> None:
    for elsewhere in ("https://evil.example/", "//evil.example/x", "/api/v2/tickets"):
        answer = browser(sim).post(f"{CONSOLE}/login", headers=SAME_SITE, data={
            "email": demo.ADMIN_EMAIL, "password": demo.PASSWORD, "next": elsewhere})
        assert answer.headers["location"] == CONSOLE


def test_a_wrong_password_and_an_unknown_email_get_the_same_plain_refusal(sim: AppServer) -> None:
    answers = [browser(sim).post(f"{CONSOLE}/login", data={"email": email, "password": "wrong"}, headers=SAME_SITE)
               for email in (demo.ADMIN_EMAIL, "nobody@example.com")]  # fmt: skip
    assert [answer.status_code for answer in answers] == [401, 401]
    assert all("Wrong email or password." in answer.text for answer in answers)
    assert all("set-cookie" not in answer.headers for answer in answers)


def test_failed_sign_ins_spend_the_sign_in_throttle_that_basic_auth_spends(make_app: Callable[..., AppServer]) -> None:
    server = make_app("--rate-limit", "off", "--clock", "sim")  # the budget's window stays put while it is spent
    client = browser(server)
    wrong = {"email": demo.ADMIN_EMAIL, "password": "wrong"}
    for _ in range(FAILURES_PER_ACCOUNT_AND_ADDRESS):
        assert client.post(f"{CONSOLE}/login", data=wrong, headers=SAME_SITE).status_code == 401
    refused = client.post(f"{CONSOLE}/login", data={**wrong, "password": demo.PASSWORD}, headers=SAME_SITE)
    assert refused.status_code == 429 and "Retry-After" in refused.headers and "Too many" in refused.text
    assert server.client(ADMIN).get("/api/v2/users/me").status_code == 429  # the same budget as basic auth


def test_signing_out_ends_the_session(sim: AppServer) -> None:
    client = signed_in(sim)
    assert client.get(CONSOLE).status_code == 200
    answer = client.post(f"{CONSOLE}/logout", headers=SAME_SITE)
    assert answer.status_code == 303 and answer.headers["location"] == f"{CONSOLE}/login"
    assert client.get(CONSOLE).status_code == 303


def test_a_copy_of_the_cookie_is_no_session_once_its_user_signed_out_and_a_new_sign_in_is(sim: AppServer) -> None:
    client = signed_in(sim)
    copied = browser(sim)
    copied.cookies.set("deskstream_console", client.cookies["deskstream_console"], path=CONSOLE)
    assert copied.get(CONSOLE).status_code == 200
    assert client.post(f"{CONSOLE}/logout", headers=SAME_SITE).status_code == 303
    assert copied.get(CONSOLE).status_code == 303
    assert signed_in(sim).get(CONSOLE).status_code == 200


@pytest.mark.parametrize("value", ["1.1700000000.forged", "x", "", "9" * 300, "1.1700000000"])
def test_a_session_cookie_not_signed_by_the_server_is_no_session(sim: AppServer, value: str) -> None:
    client = browser(sim)
    client.cookies.set("deskstream_console", value, path=CONSOLE)
    assert client.get(CONSOLE).status_code == 303


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_session_holds_on_every_server_of_the_database(tmp_path: Path, backend: str) -> None:
    """The signing key lives in the database, so another process (a worker, a second server) accepts the session."""
    with seeded_database_url(backend, tmp_path, "console_sessions") as db_url:
        first, second = start_app(tmp_path, db_url=db_url), start_app(tmp_path, db_url=db_url)
        try:
            session = signed_in(first).cookies["deskstream_console"]
            client = browser(second)
            client.cookies.set("deskstream_console", session, path=CONSOLE)
            assert client.get(CONSOLE).status_code == 200
        finally:
            first.stop()
            second.stop()


# the CSRF guard -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"Origin": "null"},
                                     {"Referer": "https://evil.example/page"}])  # fmt: skip
def test_a_form_posted_from_another_site_is_refused(sim: AppServer, headers: dict[str, str]) -> None:
    client = signed_in(sim)
    before = clock(sim.client())
    for path, form in (("/clock", {"move": "advance", "advance": "60"}), ("/faults", {"spec": "http429_every=1"}),
                       ("/logout", {})):  # fmt: skip
        answer = client.post(f"{CONSOLE}{path}", data=form, headers=headers)
        assert answer.status_code == 403 and "another site" in answer.text
    assert clock(sim.client()) == before
    assert sim.client().get("/_deskstream/faults").json()["faults"] == {}


def test_a_sign_in_posted_from_another_site_is_refused(sim: AppServer) -> None:
    answer = browser(sim).post(f"{CONSOLE}/login", headers={"Origin": "https://evil.example"},
                               data={"email": demo.ADMIN_EMAIL, "password": demo.PASSWORD})  # fmt: skip
    assert answer.status_code == 403 and "set-cookie" not in answer.headers


# the pages ----------------------------------------------------------------------------------------------------------
def ticket_id(server: Server) -> int:
    tickets = server.client().get("/api/v2/tickets.json").json()["tickets"]
    return int(next(t["id"] for t in tickets if t["subject"] == "Console ticket"))


PAGES: list[tuple[str, list[str]]] = [
    ("", ["Request journal", "console-reader/1.0", "/api/v2/incremental/tickets.json", "start_time 0"]),
    ("/journal/rows", ["console-reader/1.0", "end_time"]),
    ("/clients", ["console-reader/1.0", "tickets"]),
    ("/timeline", ["Changes per second", "<svg", "horizon", "Busiest seconds"]),
    ("/timeline?window=86400&end=2026-01-01T00:00:00Z", ["Changes per second", "<svg"]),
    ("/tickets", ["Console ticket", "generated_timestamp"]),
    ("/clock", ["Advance by", "sim"]),
    ("/faults", ["No fault is on", "tie_overflow=stall"]),
    ("/login", ['name="email"']),
]


@pytest.mark.parametrize(("path", "expected"), PAGES, ids=[path or "/" for path, _ in PAGES])
def test_every_page_renders_with_what_it_shows(sim: AppServer, path: str, expected: list[str]) -> None:
    answer = signed_in(sim).get(CONSOLE + path)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store" and "frame-ancestors 'none'" in answer.headers[
        "content-security-policy"]  # fmt: skip
    for text in expected:
        assert text in answer.text, text


def test_a_client_page_plots_its_position_in_each_export(sim: AppServer) -> None:
    clients = sim.client().get("/_deskstream/requests/clients").json()["clients"]
    key = next(c["client"] for c in clients if c["user_agent"] == "console-reader/1.0")
    answer = signed_in(sim).get(f"{CONSOLE}/client", params={"key": key})
    assert answer.status_code == 200
    assert "<h3>tickets</h3>" in answer.text and '<polyline class="progress"' in answer.text


def test_a_ticket_page_shows_its_audits_their_events_and_its_metric_events(sim: AppServer) -> None:
    number = ticket_id(sim)
    answer = signed_in(sim).get(f"{CONSOLE}/tickets/{number}")
    assert answer.status_code == 200
    assert f"Ticket {number}: Console ticket" in answer.text
    assert "The printer is on fire" in answer.text  # the first audit's Comment event
    assert 'id="metric-events"' in answer.text


def test_the_timeline_shows_a_same_second_storm(make_app: Callable[..., AppServer]) -> None:
    server = make_app("--clock", "sim", "--rate-limit", "off")
    admin = server.client()
    tickets = [{"subject": f"storm {n}", "comment": {"body": "x"}} for n in range(40)]
    assert admin.post("/api/v2/tickets/create_many", json={"tickets": tickets}).status_code == 200
    second = clock(admin)  # the simulated clock stood still: all 40 in this second
    answer = signed_in(server).get(f"{CONSOLE}/timeline", params={"window": 60})
    busiest = answer.text.split('id="busiest"', 1)[1]
    assert f"({second})</small></td><td class=\"num\">40" in busiest


def test_the_journal_filters_by_client(sim: AppServer) -> None:
    sim.client(ADMIN, headers={"User-Agent": "other-client/2.0"}).get("/api/v2/users/me")
    page = signed_in(sim).get(CONSOLE, params={"client": "other-client/2.0 #1"})
    assert page.status_code == 200
    rows = page.text.split('id="journal-rows"', 1)[1]
    assert "other-client/2.0" in rows and "console-reader/1.0" not in rows


# the forms ----------------------------------------------------------------------------------------------------------
def test_the_clock_form_advances_and_sets_the_simulated_clock(sim: AppServer) -> None:
    client, admin = signed_in(sim), sim.client()
    before = clock(admin)
    answer = client.post(f"{CONSOLE}/clock", data={"move": "advance", "advance": "90"}, headers=SAME_SITE)
    assert answer.status_code == 303 and clock(admin) == before + 90
    assert "The clock moved" in client.get(answer.headers["location"]).text
    target = before + 86_400
    client.post(f"{CONSOLE}/clock", data={"move": "set", "set": str(target)}, headers=SAME_SITE)
    assert clock(admin) == target
    client.post(f"{CONSOLE}/clock", data={"move": "set", "set": "2100-01-01T00:00:00Z"}, headers=SAME_SITE)
    assert clock(admin) == 4_102_444_800


@pytest.mark.parametrize(("form", "message"), [
    ({"move": "advance", "advance": "soon"}, "Advance: must be a whole number of seconds"),
    ({"move": "advance", "advance": "-5"}, "Advance: the clock only moves forward"),
    ({"move": "set", "set": "0"}, "Set: the clock only moves forward"),
    ({"move": "set", "set": "not a date"}, "Set: must be a whole number of seconds"),
    ({"move": "advance", "advance": "9" * 15}, "Advance: at most"),
    ({}, "Advance: must be a whole number of seconds"),
])  # fmt: skip
def test_a_bad_clock_value_is_the_form_again_with_its_error(sim: AppServer, form: dict[str, str],
                                                             message: str) -> None:  # fmt: skip
    before = clock(sim.client())
    answer = signed_in(sim).post(f"{CONSOLE}/clock", data=form, headers=SAME_SITE)
    assert answer.status_code == 422 and message in answer.text and 'id="advance"' in answer.text
    assert clock(sim.client()) == before


def test_the_clock_form_on_a_real_clock_says_it_cannot_move(server: Server) -> None:
    client = signed_in(server)
    assert "runs on the real clock" in client.get(f"{CONSOLE}/clock").text
    answer = client.post(f"{CONSOLE}/clock", data={"move": "advance", "advance": "60"}, headers=SAME_SITE)
    assert answer.status_code == 400 and "--clock sim" in answer.text


def test_the_faults_form_sets_the_plan_export_requests_meet(sim: AppServer) -> None:
    client, admin = signed_in(sim), sim.client()
    answer = client.post(f"{CONSOLE}/faults", data={"spec": "http429_every=1,retry_after=3"}, headers=SAME_SITE)
    assert answer.status_code == 303
    assert admin.get("/_deskstream/faults").json()["faults"] == {"http429_every": 1, "retry_after": 3, "seed": 0}
    refused = admin.get("/api/v2/incremental/tickets.json", params={"start_time": 0})
    assert refused.status_code == 429 and refused.headers["retry-after"] == "3"
    assert "http429_every" in client.get(answer.headers["location"]).text
    client.post(f"{CONSOLE}/faults", data={"spec": "http429_every=1", "off": "1"}, headers=SAME_SITE)
    assert admin.get("/_deskstream/faults").json()["faults"] == {}
    assert admin.get("/api/v2/incremental/tickets.json", params={"start_time": 0}).status_code == 200


@pytest.mark.parametrize(("spec", "message"), [
    ("tie_overflow=sometimes", "tie_overflow takes one value: stall"),
    ("http503_rate=2", "http503_rate is a probability from 0 to 1"),
    ("explode=1", "unknown fault"),
])  # fmt: skip
def test_a_bad_fault_spec_is_the_form_again_with_its_error(sim: AppServer, spec: str, message: str) -> None:
    answer = signed_in(sim).post(f"{CONSOLE}/faults", data={"spec": spec}, headers=SAME_SITE)
    assert answer.status_code == 422 and message in answer.text and f'value="{spec}"' in answer.text
    assert sim.client().get("/_deskstream/faults").json()["faults"] == {}


# bad input ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "params", "status"), [
    ("/tickets/abc", {}, 404),
    ("/tickets/99999999999999999999999", {}, 404),
    ("/tickets/424242", {}, 404),
    ("/tickets", {"page": "-3"}, 200),
    ("/tickets", {"page": "99999999999999999999999999"}, 200),
    ("/tickets/go", {"id": "../../x"}, 303),
    ("/timeline", {"window": "forever", "end": "yesterday-ish"}, 200),
    ("/timeline", {"window": "0", "end": "99999999999"}, 200),
    ("", {"status": "teapot", "before": "-1", "client": "\x00"}, 200),
    ("/client", {"key": "<script>alert(1)</script>"}, 200),
    ("/static/../../settings.py", {}, 404),
])  # fmt: skip
def test_bad_query_values_are_answered_never_a_500(sim: AppServer, path: str, params: dict[str, Any],
                                                   status: int) -> None:  # fmt: skip
    answer = signed_in(sim).get(CONSOLE + path, params=params)
    assert answer.status_code == status, answer.text
    assert "<script>alert(1)</script>" not in answer.text


@pytest.mark.parametrize(("path", "body", "content_type", "status"), [
    ("/clock", b'{"advance": 60}', "application/json", 422),
    ("/clock", b"&".join(b"f%d=1" % n for n in range(50)), "application/x-www-form-urlencoded", 400),
    ("/clock", b"move=advance&advance=%FF%FE", "application/x-www-form-urlencoded", 422),
    ("/faults", b"spec=%00%01", "application/x-www-form-urlencoded", 422),
    ("/login", b"email=%00&password=%00", "application/x-www-form-urlencoded", 401),
    ("/login", b"\xff\xfe", "application/x-www-form-urlencoded", 401),
])  # fmt: skip
def test_bad_form_bodies_are_answered_never_a_500(sim: AppServer, path: str, body: bytes, content_type: str,
                                                  status: int) -> None:  # fmt: skip
    answer = signed_in(sim).post(CONSOLE + path, content=body, headers={**SAME_SITE, "Content-Type": content_type})
    assert answer.status_code == status, answer.text
    assert sim.client().get("/_deskstream/faults").json()["faults"] == {}


SCRIPT = "<script>alert(1)</script>"


def test_what_clients_and_users_wrote_is_shown_escaped_on_every_page(make_app: Callable[..., AppServer]) -> None:
    """A User-Agent, a query string, a path, a ticket's subject and a comment are the outside world's words: every
    page shows them as text, never as markup."""
    server = make_app("--clock", "sim", "--rate-limit", "off")
    admin = server.client()
    ticket = create_ticket(admin, subject=f"<b>bold</b> {SCRIPT}", comment={"body": f"<img src=x onerror=alert(2)>"
                                                                                 f"{SCRIPT}"})  # fmt: skip
    clock(admin, advance=120)
    hostile = server.client(ADMIN, headers={"User-Agent": SCRIPT})
    hostile.get("/api/v2/incremental/tickets.json", params={"start_time": 0, "x": SCRIPT})
    hostile.get(f"/api/v2/{SCRIPT}")
    key = next(c["client"] for c in admin.get("/_deskstream/requests/clients").json()["clients"]
               if c["user_agent"] == SCRIPT)  # fmt: skip
    client = signed_in(server)
    for path, params in (("", {}), ("/journal/rows", {}), ("", {"client": key}), ("/clients", {}),
                         ("/client", {"key": key}), ("/tickets", {}), (f"/tickets/{ticket['id']}", {})):  # fmt: skip
        answer = client.get(CONSOLE + path, params=params)
        assert answer.status_code == 200, (path, answer.text)
        for raw in (SCRIPT, "<b>bold</b>", "<img src=x"):
            assert raw not in answer.text, (path, raw)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text, path


def test_with_the_journal_off_the_console_says_so(make_app: Callable[..., AppServer]) -> None:
    client = signed_in(make_app("--journal-size", "0"))
    for path in ("", "/clients"):
        answer = client.get(CONSOLE + path)
        assert answer.status_code == 200 and "The journal is off on this server" in answer.text
