"""The console in a real headless browser against a real ``deskstream serve`` process (docs/console.md): signing in,
the live journal showing a client's request without a reload, a naive client's loop flagged, the clock moved and a
fault switched on from the console's forms, and their effect on API requests.

Skipped, with the reason, where Debian's chromium and chromium-driver or selenium are missing (.ci/run installs
them when it runs as root).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from tests.conftest import ADMIN, ProcessServer
from tests.console.browser import CONSOLE, chromium, missing, sign_in

pytestmark = pytest.mark.skipif(missing() is not None, reason=f"no browser to drive: {missing()}")

if missing() is None:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait

WAIT = 15
TICKETS = "/api/v2/incremental/tickets.json"


@pytest.fixture(scope="module")
def server(make_server: Callable[..., ProcessServer]) -> ProcessServer:
    return make_server("--clock", "sim", "--rate-limit", "off")


@pytest.fixture(scope="module")
def driver(server: ProcessServer) -> Iterator[WebDriver]:
    browser = chromium()
    try:
        sign_in(browser, server.base_url)
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def admin(server: ProcessServer) -> Iterator[httpx.Client]:
    """The API as an admin; faults are off again after each test."""
    client = server.client(ADMIN)
    yield client
    client.put("/_deskstream/faults", json={})


def now(admin: httpx.Client) -> int:
    return int(admin.get("/_deskstream/clock").json()["now"])


def text_of(driver: WebDriver, selector: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, selector).text)


def wait_for(driver: WebDriver, selector: str, text: str) -> None:
    """Until ``text`` is in the element (through the page loads and live refreshes that replace it)."""
    waiting = WebDriverWait(driver, WAIT, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))
    waiting.until(lambda d: text in d.find_element(By.CSS_SELECTOR, selector).text,
                  f"{text!r} never appeared in {selector}")  # fmt: skip


def submit(driver: WebDriver, form: str, **fields: str) -> None:
    for name, value in fields.items():
        field = driver.find_element(By.CSS_SELECTOR, f"{form} [name={name}]")
        field.clear()
        field.send_keys(value)
    driver.find_element(By.CSS_SELECTOR, f"{form} button[type=submit]").click()


def test_a_browser_signs_in_on_the_form_and_lands_on_the_journal(server: ProcessServer) -> None:
    browser = chromium()
    try:
        browser.get(server.base_url + CONSOLE + "/tickets")
        assert "/login" in browser.current_url
        sign_in(browser, server.base_url, password="wrong")
        wait_for(browser, "main", "Wrong email or password.")
        sign_in(browser, server.base_url, page="/tickets")
        WebDriverWait(browser, WAIT).until(lambda d: d.current_url.endswith(CONSOLE + "/tickets"))
        assert "admin@example.com" in text_of(browser, "header .who")
        browser.find_element(By.CSS_SELECTOR, "header form button").click()  # sign out
        WebDriverWait(browser, WAIT).until(lambda d: "/login" in d.current_url)
        browser.get(server.base_url + CONSOLE)
        assert "/login" in browser.current_url
    finally:
        browser.quit()


def test_a_request_a_client_makes_appears_in_the_live_journal_without_a_reload(
    driver: WebDriver, server: ProcessServer
) -> None:
    driver.get(server.base_url + CONSOLE)
    marker = driver.find_element(By.CSS_SELECTOR, "h1")
    server.client(ADMIN, headers={"User-Agent": "watched-client/1.0"}).get("/api/v2/users/me.json")
    wait_for(driver, "#journal-rows", "watched-client/1.0")
    assert "/api/v2/users/me" in text_of(driver, "#journal-rows")
    assert marker.is_displayed()  # the same page, refreshed in place: the element is still attached


def test_advancing_the_simulated_clock_from_the_console_moves_the_servers_clock(
    driver: WebDriver, server: ProcessServer, admin: httpx.Client
) -> None:
    before = now(admin)
    driver.get(server.base_url + CONSOLE + "/clock")
    submit(driver, "#advance", advance="3600")
    wait_for(driver, "main", "The clock moved.")
    assert now(admin) == before + 3600
    assert str(before + 3600) in text_of(driver, "#clock-now")
    submit(driver, "#advance", advance="backwards")
    wait_for(driver, "#error", "Advance: must be a whole number of seconds")
    assert now(admin) == before + 3600


def test_a_fault_switched_on_in_the_console_takes_effect_on_an_api_request(
    driver: WebDriver, server: ProcessServer, admin: httpx.Client
) -> None:
    driver.get(server.base_url + CONSOLE + "/faults")
    submit(driver, "#faults", spec="http429_every=1,retry_after=2")
    wait_for(driver, "main", "Faults set.")
    assert "http429_every" in text_of(driver, "#plan-table")
    refused = server.client(ADMIN, headers={"User-Agent": "faulted-client/1.0"}).get(TICKETS, params={"start_time": 0})
    assert refused.status_code == 429 and refused.headers["retry-after"] == "2"
    driver.get(server.base_url + CONSOLE)
    wait_for(driver, "#journal-rows", "http429")
    driver.get(server.base_url + CONSOLE + "/faults")
    driver.find_element(By.CSS_SELECTOR, "#faults button[name=off]").click()
    wait_for(driver, "#plan", "No fault is on.")
    assert admin.get(TICKETS, params={"start_time": 0}).status_code == 200


def test_a_naive_client_trapped_by_tie_overflow_stall_is_flagged_on_its_page(
    driver: WebDriver, server: ProcessServer, admin: httpx.Client
) -> None:
    for n in range(3):  # the simulated clock stands still: three tickets in one second
        assert admin.post("/api/v2/tickets", json={"ticket": {"subject": f"tie {n}", "comment": {"body": "x"}}}
                          ).status_code == 201  # fmt: skip
    admin.post("/_deskstream/clock", json={"advance": 120})  # past the horizon
    driver.get(server.base_url + CONSOLE + "/faults")
    submit(driver, "#faults", spec="tie_overflow=stall")
    wait_for(driver, "main", "Faults set.")
    naive = server.client(ADMIN, headers={"User-Agent": "naive-loop/1.0"})
    start = now(admin) - 200  # just before the three tickets: the first page is cut inside their second
    for _ in range(4):  # follows end_time only, as a naive time-based client does
        page = naive.get(TICKETS, params={"start_time": start, "per_page": 2}).json()
        if page["end_of_stream"]:
            break
        start = page["end_time"]
    driver.get(server.base_url + CONSOLE + "/clients")
    driver.find_element(By.PARTIAL_LINK_TEXT, "naive-loop/1.0").click()
    wait_for(driver, "#anomalies", "position_stalled")
    assert driver.find_elements(By.CSS_SELECTOR, "svg circle.flagged")
