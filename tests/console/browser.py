"""A headless Chromium for the console's browser tests and its screenshots (scripts/console_screenshots.py).

Debian's ``chromium`` and ``chromium-driver`` (installed by .ci/run), driven by Selenium through that chromedriver:
nothing is downloaded. A plain module, not a conftest.py (test modules import ``conftest`` by name).
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

from deskstream import demo

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = ("chromium", "chromium-browser")
CHROMEDRIVER = "chromedriver"
CONSOLE = "/_deskstream/console"


def missing() -> str | None:
    """Why no browser can be driven here (a reason to skip on), or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if not any(shutil.which(name) for name in CHROMIUM):
        return "no chromium on PATH (apt-get install chromium chromium-driver; .ci/run does it as root)"
    if not shutil.which(CHROMEDRIVER):
        return "no chromedriver on PATH (apt-get install chromium-driver; .ci/run does it as root)"
    return None


def chromium(width: int = 1360, height: int = 900) -> WebDriver:
    """A headless Chromium through the system's chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(str(shutil.which(name)) for name in CHROMIUM if shutil.which(name))
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--disable-extensions", "--no-first-run"):  # fmt: skip
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(shutil.which(CHROMEDRIVER))), options=options)
    driver.set_page_load_timeout(30)
    return driver


def sign_in(driver: WebDriver, base_url: str, email: str = demo.ADMIN_EMAIL, password: str = demo.PASSWORD,
            page: str = "") -> None:
    """Open a console page; sign in on the form it redirects to, if it does."""
    from selenium.webdriver.common.by import By

    driver.get(base_url + CONSOLE + page)
    if "/login" in driver.current_url:
        driver.find_element(By.NAME, "email").send_keys(email)
        driver.find_element(By.NAME, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
