"""``deskstream sync`` through the change feed, where the upstream offers one (discovered, not configured): the
mirror equals the one the exports make, whatever the faults (a same-second storm included, which the time-based
ticket_events export cannot drain), across kills, and across a position that has left the feed's retention."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from tests.conftest import ADMIN, ProcessServer, http_client, start_server
from tests.sync.test_sync import (
    FAULTS,
    assert_ctrl_c_stops_a_waiting_sync_at_once,
    assert_no_duplicate_rows,
    command,
    deskstream,
    faults,
    rows_of,
    seed_small_demo,
    verified,
)

STREAMS = ("tickets", "users", "ticket_events", "ticket_metric_events", "organizations")
#: Longer than the demo's history: every change is still in the feed.
WHOLE_HISTORY = ("--retention", "3650d")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ProcessServer]]:
    """Two servers on one history: with the feed and without it."""
    directory = tmp_path_factory.mktemp("feed-upstream")
    common = ("--clock", "sim", "--rate-limit", "off")
    feed = start_server(directory, *common, "--change-sequence", *WHOLE_HISTORY, seed=seed_small_demo)
    started = {
        "feed": feed,
        "exports": start_server(directory, *common, db_url=feed.db_url),
    }
    httpx.post(f"{feed.base_url}/_deskstream/clock", json={"advance": 120}, auth=ADMIN)
    yield started
    for server in started.values():
        server.stop()


def mirror(to: str, server: ProcessServer) -> dict[str, list[tuple[int, int, str]]]:
    """Every row of every stream, the upstream's address taken out of the records' ``url``."""
    return {stream: sorted((i, v, data.replace(server.base_url, "URL")) for i, v, data in rows_of(to, stream))
            for stream in STREAMS}  # fmt: skip


def summary(path: Path) -> dict[str, dict[str, object]]:
    return dict(orjson.loads(path.read_bytes()))


def test_a_sync_through_the_feed_equals_a_sync_through_the_exports(
    servers: dict[str, ProcessServer], tmp_path: Path
) -> None:
    through_feed, through_exports = f"sqlite:///{tmp_path}/feed.db", f"sqlite:///{tmp_path}/exports.db"
    synced = deskstream("sync", servers["feed"], through_feed, "--json", str(tmp_path / "feed.json"))
    assert synced.returncode == 0, synced.stdout + synced.stderr
    by_exports = deskstream("sync", servers["exports"], through_exports, "--json", str(tmp_path / "exports.json"))
    assert by_exports.returncode == 0, by_exports.stderr
    used = summary(tmp_path / "feed.json")
    assert "changes" in used and int(str(used["changes"]["pages"])) >= 1  # it went through the feed
    assert "changes" not in summary(tmp_path / "exports.json")  # a 404 fell back to the exports, unreported
    mirrored = mirror(through_feed, servers["feed"])
    assert mirrored == mirror(through_exports, servers["exports"])
    assert all(mirrored[s] for s in STREAMS)


def test_through_every_fault_and_a_same_second_storm_the_feed_leaves_a_mirror_that_verify_passes(
    servers: dict[str, ProcessServer], tmp_path: Path
) -> None:
    to = f"sqlite:///{tmp_path}/mirror.db"
    faults(servers["feed"], **FAULTS, late_commit_s=3600)
    try:
        synced = deskstream("sync", servers["feed"], to, "--json", str(tmp_path / "summary.json"))
    finally:
        faults(servers["feed"])
    assert synced.returncode == 0, synced.stdout + synced.stderr
    met = {f["fault"] for f in summary(tmp_path / "summary.json")["changes"]["faults"]}  # type: ignore[union-attr]
    assert "connection closed mid-body" in met and any(m.startswith("429") for m in met), met
    verified(servers["feed"], to)
    assert_no_duplicate_rows(to)


def test_killed_while_following_the_feed_and_rerun_the_mirror_equals_the_source(
    servers: dict[str, ProcessServer], tmp_path: Path
) -> None:
    to = f"jsonl:{tmp_path}/mirror"
    faults(servers["feed"], slow_ms=60, seed=4)
    try:
        for delay in (random.Random(1).uniform(0.8, 2.0), 1.0):
            process = subprocess.Popen(command("sync", servers["feed"], to), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)  # fmt: skip
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            process.wait()
    finally:
        faults(servers["feed"])
    finished = deskstream("sync", servers["feed"], to)
    assert finished.returncode == 0, finished.stderr
    verified(servers["feed"], to)
    assert_no_duplicate_rows(to)


def test_ctrl_c_stops_a_sync_that_follows_the_feed_at_once_with_exit_130(
    servers: dict[str, ProcessServer], tmp_path: Path
) -> None:
    assert_ctrl_c_stops_a_waiting_sync_at_once(servers["feed"], f"sqlite:///{tmp_path}/mirror.db")


def test_a_position_past_the_retention_is_resynced_through_the_exports_then_followed(tmp_path: Path) -> None:
    """A mirror whose next change entered the feed more than a day ago (one day's retention) is answered 410: the
    run resyncs through the exports, then follows the feed from where the 410 said, and verify passes."""
    server = start_server(tmp_path, "--clock", "sim", "--rate-limit", "off", "--change-sequence", "--retention", "1d")
    to, report = f"sqlite:///{tmp_path}/mirror.db", tmp_path / "summary.json"
    try:
        with http_client(server.base_url, auth=ADMIN) as admin:
            create = {"ticket": {"subject": "Kept", "comment": {"body": "x"}}}
            assert all(admin.post("/api/v2/tickets", json=create).status_code == 201 for _ in range(3))
            assert deskstream("sync", server, to).returncode == 0  # through the feed, up to its high-water mark
            late = admin.post("/api/v2/tickets", json=create).json()["ticket"]["id"]
            admin.post("/_deskstream/clock", json={"advance": 2 * 86_400})
        synced = deskstream("sync", server, to, "--json", str(report))
        assert synced.returncode == 0, synced.stdout + synced.stderr
        assert summary(report)["tickets"]["stored"] == 1 and "changes" in summary(report)
        assert late in {row[0] for row in rows_of(to, "tickets")}
        verified(server, to)
    finally:
        server.stop()
