"""Take the screenshots of docs/console.md: a real server, real clients, the console in headless Chromium.

    python scripts/console_screenshots.py [--out docs/images]

It starts ``deskstream serve --scenario storm_over_page --clock sim`` (1,050 tickets stamped in one second, pages cut
inside a second by ``tie_overflow=stall``) on a free port over a fresh SQLite file, runs two connectors against it
(a naive time-based loop that follows ``end_time`` the way many zenpy-based connectors do, and a cursor-based one),
then signs in to the console and captures its main views as PNG files. Needs Debian's chromium and chromium-driver
(and selenium, from the dev extra), as tests/console does.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.console.browser import CONSOLE, chromium, missing, sign_in  # noqa: E402

from deskstream import demo  # noqa: E402

ADMIN = (demo.ADMIN_EMAIL, demo.PASSWORD)
EXPORT = "/api/v2/incremental/tickets.json"
CURSOR = "/api/v2/incremental/tickets/cursor.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "deskstream", "serve", "--db", f"sqlite:///{directory / 'console.db'}",
               "--port", str(port), "--clock", "sim", "--scenario", "storm_over_page"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base_url}/openapi.json", timeout=2).status_code == 200:
                return process, base_url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def naive_connector(base_url: str) -> None:
    """Follows ``end_time`` only, and gives up after a few pages that did not move: trapped in the storm."""
    with httpx.Client(base_url=base_url, auth=ADMIN, headers={"User-Agent": "naive-connector/1.0"}) as client:
        client.get("/api/v2/users/me.json")
        start = 0
        for _ in range(5):
            page = client.get(EXPORT, params={"start_time": start}).json()
            if page.get("end_of_stream"):
                return
            start = page["end_time"]


def cursor_connector(base_url: str) -> None:
    """The cursor export, followed to its end: crosses the storm."""
    with httpx.Client(base_url=base_url, auth=ADMIN, headers={"User-Agent": "cursor-connector/1.0"}) as client:
        page: dict[str, Any] = client.get(CURSOR, params={"start_time": 0}).json()
        while not page.get("end_of_stream"):
            page = client.get(CURSOR, params={"cursor": page["after_cursor"]}).json()


def recent_writes(base_url: str) -> None:
    """A few minutes of bulk edits on the simulated clock: bursts of new tickets, 45 s apart, up to now."""
    with httpx.Client(base_url=base_url, auth=ADMIN, headers={"User-Agent": "bulk-writer/1.0"}) as client:
        for burst in range(8):
            tickets = [{"subject": f"Burst {burst} ticket {n}", "comment": {"body": "Bulk import"}}
                       for n in range(10 + 15 * (burst % 3))]  # fmt: skip
            client.post("/api/v2/tickets/create_many.json", json={"tickets": tickets}).raise_for_status()
            client.post("/_deskstream/clock", json={"advance": 45}).raise_for_status()


def capture(driver: Any, base_url: str, page: str, path: Path, height: int | None = None) -> None:
    driver.get(base_url + CONSOLE + page)
    time.sleep(0.3)
    full = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(1360, height or min(max(full, 600), 1600))
    time.sleep(0.2)
    driver.save_screenshot(str(path))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    out = parser.parse_args().out
    if missing() is not None:
        raise SystemExit(f"no browser to drive: {missing()}")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        process, base_url = serve(Path(directory))
        driver = chromium(1360, 900)
        try:
            driver.get(base_url + CONSOLE)
            capture(driver, base_url, "/login", out / "console-login.png", height=520)
            naive_connector(base_url)
            cursor_connector(base_url)
            sign_in(driver, base_url)
            capture(driver, base_url, "", out / "console-journal.png", height=900)
            capture(driver, base_url, "/clients", out / "console-clients.png")
            capture(driver, base_url, "/client?key=naive-connector%2F1.0%20%231", out / "console-client.png")
            with httpx.Client(base_url=base_url, auth=ADMIN) as admin:
                scenario = admin.get("/_deskstream/scenario").json()["scenario"]
                stamps = Counter(t["generated_timestamp"] for t in scenario["expected"]["tickets"])
                storm = stamps.most_common(1)[0][0]  # the second of the storm
            capture(driver, base_url, f"/timeline?window=600&end={storm + 300}", out / "console-timeline.png")
            recent_writes(base_url)
            capture(driver, base_url, "/timeline?window=600", out / "console-timeline-now.png")
            capture(driver, base_url, "/tickets", out / "console-tickets.png", height=900)
            capture(driver, base_url, "/tickets/1", out / "console-ticket.png", height=1000)
            capture(driver, base_url, "/clock", out / "console-clock.png", height=520)
            capture(driver, base_url, "/faults", out / "console-faults.png", height=760)
        finally:
            driver.quit()
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
