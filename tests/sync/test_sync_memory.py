"""A sync's memory does not grow with the export: it holds a page or two, never the stream (spec/sync.md).

Through the change feed a page is at most 1000 changes whatever the history (1,200 → 3,600 tickets: 91.7 → 96.1 MiB).
Through the time-based exports a page holds a whole second, and the demo's storms grow with it (3,000 tickets: one
second of 9,750 metric events), so the exports' peak follows the largest second (116 → 154 MiB), as any Zendesk
client's must; bench/sync_bench.py measures that path at 10k and 100k tickets.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
from tests.conftest import ADMIN, start_server
from tests.helpers import PEAK_RSS

from deskstream import demo
from deskstream.clock import SimClock
from deskstream.service import Desk
from deskstream.store import Store

SMALL, LARGE = 1200, 3600


def peak_of_a_sync(directory: Path, tickets: int, *serve: str) -> int:
    """The peak RSS (KiB) of ``deskstream sync`` mirroring an upstream of ``tickets`` tickets into SQLite."""

    def seed(store: Store) -> None:
        demo.seed(store, int(time.time()), tickets=tickets)
        Desk(store, SimClock(store)).sla.tick()

    server = start_server(directory, "--clock", "sim", "--rate-limit", "off", *serve, seed=seed)
    try:
        httpx.post(f"{server.base_url}/_deskstream/clock", json={"advance": 120}, auth=ADMIN)
        out = directory / f"peak-{tickets}"
        synced = subprocess.run(
            [sys.executable, "-c", PEAK_RSS, str(out), "sync", "--from", server.base_url, "--email", ADMIN[0],
             "--password", ADMIN[1], "--to", f"sqlite:///{directory}/mirror-{tickets}.db"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert synced.returncode == 0, synced.stderr
        return int(out.read_text())
    finally:
        server.stop()


def test_peak_memory_of_a_sync_through_the_feed_does_not_grow_with_the_history(tmp_path: Path) -> None:
    feed = ("--change-sequence", "--retention", "3650d")
    small, large = peak_of_a_sync(tmp_path, SMALL, *feed), peak_of_a_sync(tmp_path, LARGE, *feed)
    assert large <= 1.15 * small, f"{SMALL} tickets: {small} KiB, {LARGE} tickets: {large} KiB"
