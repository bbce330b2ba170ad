"""The change feed beside the tickets' cursor export, on the same generated history.

- ``feed_http``: changes/s following ``/api/v2/incremental/changes`` (pages of 1000) from a ``deskstream serve
  --change-sequence`` process, beside the in-process limit measured in the same run (the same log scans and framing,
  no HTTP). Every change of every stream: ticket versions, events, metric events, users, organizations.
- ``cursor_export_http``: tickets/s following ``/incremental/tickets/cursor`` on the same server and history, beside
  its own in-process limit; ``feed_mb_per_s`` and ``cursor_mb_per_s``: the bytes each moves per second.

    python bench/feed_bench.py [--quick|--smoke]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import httpx

from deskstream import demo
from deskstream.base_url import URL_BASE
from deskstream.export import changes as feed
from deskstream.export.cursor import Position
from deskstream.export.framing import frame
from deskstream.export.pages import cursor_page
from deskstream.export.streams import STREAMS, Selection
from deskstream.generate import generate
from deskstream.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result, mode_of_arguments, print_table, result, seed_accounts, serve  # noqa: E402  (bench/ is a folder of scripts)
from export_bench import _tail_string  # noqa: E402

#: mode → (tickets, days of history)
MODES = {"smoke": (200, 7), "quick": (3_000, 30), "full": (10_000, 60)}
END = int(time.time()) - 3600
PER_PAGE = 1000
FOREVER = 10 * 365 * 86_400


def feed_in_process(store: Store, base: str) -> tuple[int, int, float]:
    """(changes, bytes, seconds) of the whole feed built page by page in process."""
    started, since, count, size = time.perf_counter(), 0, 0, 0
    placeholder, host = URL_BASE.encode(), base.encode()
    while True:
        with store.change_log() as log:
            page = feed.read_page(log, feed.FeedRequest(since, PER_PAGE, 0), int(time.time()), FOREVER)
        body = feed.frame(page, lambda last: f"{base}/api/v2/incremental/changes?since={last}").replace(
            placeholder, host)
        count, size, since = count + len(page.changes), size + len(body), page.last
        if page.end_of_stream:
            return count, size, time.perf_counter() - started


def cursor_in_process(store: Store, base: str) -> tuple[int, int, float]:
    started, after, count, size = time.perf_counter(), Position(0, 0), 0, 0
    placeholder, host = URL_BASE.encode(), base.encode()
    while True:
        with store.scanning() as scans:
            page = cursor_page(scans, Selection(STREAMS["tickets"]), after, int(time.time()) - 60, PER_PAGE)
        body = frame("tickets", page.items, {"end_of_stream": page.end_of_stream}).replace(placeholder, host)
        count, size, after = count + page.count, size + len(body), page.last or after
        if page.end_of_stream:
            return count, size, time.perf_counter() - started


def walk(client: httpx.Client, url: str, marker: bytes, link: bytes) -> tuple[int, int, float]:
    """(items, bytes, seconds) following an export's ``link`` to its end over HTTP; like a client that stores the
    pages as they come, it reads only the tail of each (where the links are) and counts items by a key each has once."""
    started, count, size = time.perf_counter(), 0, 0
    while True:
        body = client.get(url).content
        count, size = count + body.count(marker), size + len(body)
        if b'"end_of_stream":true' in body[-400:]:
            return count, size, time.perf_counter() - started
        url = _tail_string(body, link)


def run(mode: str = "quick") -> dict[str, Result]:
    tickets, days = MODES[mode]
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="deskstream-feed-") as tmp:
        db = f"sqlite:///{Path(tmp) / 'feed.db'}"
        seed_accounts(db)
        store = Store(db)
        generate(store, tickets, days, seed=1, end=END)
        with serve(db, "--change-sequence", "--retention", f"{FOREVER}") as base, httpx.Client(
            base_url=base, auth=(demo.ADMIN_EMAIL, demo.PASSWORD), timeout=120
        ) as client:
            client.get("/api/v2/users/me")  # the first request verifies the password (argon2): not a page's cost
            best = {}
            for name, local, remote in (
                ("feed", lambda: feed_in_process(store, base),
                 lambda: walk(client, f"/api/v2/incremental/changes?since=0&per_page={PER_PAGE}", b'"seq":',
                              b"next_page")),
                ("cursor_export", lambda: cursor_in_process(store, base),
                 lambda: walk(client, f"/api/v2/incremental/tickets/cursor?start_time=0&per_page={PER_PAGE}",
                              b'"generated_timestamp":', b"after_url")),
            ):  # fmt: skip
                limit = max((lambda n, _b, s: n / s)(*local()) for _ in range(2))  # best of two walks
                walks = [remote() for _ in range(2)]
                count, size, seconds = min(walks, key=lambda w: w[2])
                results[f"{name}_http"] = result(count / seconds, "items/s", limit)
                best[name] = (count, size / seconds / 1e6)
            results["feed_changes"] = result(float(best["feed"][0]), "changes in the history")
            results["feed_mb_per_s"] = result(best["feed"][1], "MB/s")
            results["cursor_export_tickets"] = result(float(best["cursor_export"][0]), "tickets in the history")
            results["cursor_mb_per_s"] = result(best["cursor_export"][1], "MB/s")
        store.dispose()
    return results


def main() -> None:
    print_table(run(mode_of_arguments(__doc__)))


if __name__ == "__main__":
    main()
