"""deskstream sync's throughput and memory, beside the server's own HTTP export rate measured in the same run.

    python bench/sync_bench.py [--quick | --smoke]
    python bench/sync_bench.py --ratio-only SIZE [--rounds N]

For two history sizes (10k and 100k tickets; 1k and 5k with ``--quick``): the five streams read over HTTP by a bare
loop that only decodes pages (the limit: what a client that writes nothing can do), then ``deskstream sync`` into
SQLite with the rate limit off (items/s and its ratio to the limit, peak RSS of the process), then a naive client
(tickets' time-based export, following ``next_page`` until ``end_of_stream``, keeping the last version per id) and
how many of the tickets it read. At the smaller size (not with ``--smoke``), tap-zendesk 2.8.2 (Singer, from PyPI
into the compatibility suite's cached environment) on the streams it shares with deskstream's client (tickets,
users, organizations, ticket_metric_events): its records/s and whether its record set equals the source's. Then a
sync killed with SIGKILL at random points (20 times; 3 with ``--quick``) and finished, and whether ``verify``
passes. Peak RSS flat in N: the ratio of the larger history's to the smaller's.

``--ratio-only SIZE`` measures only the limit and the sync into SQLite, over one history of SIZE tickets, ``--rounds``
times (3 by default), each sync against the limit of its own round: what to watch while working on the sync's rate,
which moves from run to run on a shared machine.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from common import Result, mode_of, print_table, result, seed_accounts, serve, size_parser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the compatibility suite's client environments
from tests.compat.runners import Tap, client_env  # noqa: E402
from tests.helpers import PEAK_RSS  # noqa: E402

from deskstream import demo
from deskstream.generate import generate
from deskstream.store import Store

STREAMS = {
    "tickets": ("/api/v2/incremental/tickets/cursor", True),
    "users": ("/api/v2/incremental/users/cursor", True),
    "ticket_events": ("/api/v2/incremental/ticket_events", False),
    "ticket_metric_events": ("/api/v2/incremental/ticket_metric_events", False),
    "organizations": ("/api/v2/incremental/organizations", False),
}
MODES = {"smoke": ((300,), 1), "quick": ((1_000, 5_000), 3), "full": ((10_000, 100_000), 20)}
AUTH = (demo.ADMIN_EMAIL, demo.PASSWORD)


def pages(client: httpx.Client, name: str) -> Iterator[dict[str, Any]]:
    """Every page of one stream, decoded, from the start to ``end_of_stream``."""
    path, cursor = STREAMS[name]
    page = client.get(path, params={"start_time": 0, "per_page": 1000}).json()
    while True:
        yield page
        if page["end_of_stream"]:
            return
        page = client.get(page["after_url"] if cursor else page["next_page"]).json()


def http_walk(client: httpx.Client) -> tuple[int, float]:
    """Every stream to its end, decoding each page and nothing more: (items, seconds)."""
    started = time.perf_counter()
    items = sum(len(page[name]) for name in STREAMS for page in pages(client, name))
    return items, time.perf_counter() - started


def feed_walk(client: httpx.Client) -> tuple[int, float]:
    """The change feed from the start to its end, decoding each page and nothing more: (changes, seconds)."""
    started, count = time.perf_counter(), 0
    page = client.get("/api/v2/incremental/changes", params={"since": 0, "per_page": 1000}).json()
    while True:
        count += len(page["changes"])
        if page["end_of_stream"]:
            return count, time.perf_counter() - started
        page = client.get(page["next_page"]).json()


def sync(base: str, to: str, *extra: str) -> tuple[int, float, int]:
    """``deskstream sync`` as a process: (exit status, seconds, peak RSS in KiB)."""
    with tempfile.NamedTemporaryFile(prefix="deskstream-peak-") as peak:
        command = [sys.executable, "-c", PEAK_RSS, peak.name, "sync", "--from", base, "--email", AUTH[0],
                   "--password", AUTH[1], "--to", to, *extra]  # fmt: skip
        started = time.perf_counter()
        status = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        took = time.perf_counter() - started
        return status, took, int(Path(peak.name).read_text() or 0)


def naive(client: httpx.Client) -> tuple[int, float]:
    seen: dict[int, int] = {}
    started = time.perf_counter()
    page = client.get("/api/v2/incremental/tickets", params={"start_time": 0}).json()
    while True:
        seen.update({t["id"]: t["generated_timestamp"] for t in page["tickets"]})
        if page["end_of_stream"]:
            break
        page = client.get(page["next_page"]).json()
    return len(seen), time.perf_counter() - started


#: The streams tap-zendesk and deskstream's client both mirror.
TAP_STREAMS = ("tickets", "users", "organizations", "ticket_metric_events")


def source_ids(client: httpx.Client) -> dict[str, set[int]]:
    """Each tap stream's ids, as the upstream serves them."""
    return {name: {item["id"] for page in pages(client, name) for item in page[name]} for name in TAP_STREAMS}


def tap_zendesk(base: str, home: Path, source: dict[str, set[int]]) -> tuple[int, float, bool]:
    """tap-zendesk 2.8.2 over the four shared streams: (records, seconds, whether its set equals the source's)."""
    home.mkdir()
    tap = Tap(client_env("tap-zendesk==2.8.2"), base, home)
    catalog = Tap.select(tap.discover(), TAP_STREAMS)
    started = time.perf_counter()
    messages = tap.start(catalog, "bench").messages()
    took = time.perf_counter() - started
    records = [m for m in messages if m["type"] == "RECORD"]
    emitted = {name: {m["record"]["id"] for m in records if m["stream"] == name} for name in TAP_STREAMS}
    return len(records), took, emitted == source


def killed_and_finished(base: str, to: str, kills: int) -> bool:
    rng = random.Random(1)
    command = [sys.executable, "-m", "deskstream", "sync", "--from", base, "--email", AUTH[0], "--password", AUTH[1],
               "--to", to]  # fmt: skip
    for _ in range(kills):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 2.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
    finished = subprocess.run(command, capture_output=True).returncode == 0
    verify = [*command[:3], "verify", *command[4:]]
    return finished and subprocess.run(verify, capture_output=True).returncode == 0


def generated_history(directory: str, name: str, size: int) -> tuple[str, str]:
    """A SQLite upstream in ``directory`` with the demo accounts and ``size`` tickets of generated history over 30
    days, ending ten minutes ago; its URL, and the size as the results' names carry it (``10k``)."""
    db = f"sqlite:///{directory}/{name}.db"
    seed_accounts(db)
    store = Store(db)
    generate(store, size, 30, seed=1, end=int(time.time()) - 600)
    store.dispose()
    return db, f"{size // 1000}k" if size >= 1000 else str(size)


def run(mode: str = "quick") -> dict[str, Result]:
    sizes, kills = MODES[mode]
    results: dict[str, Result] = {}
    rss: list[int] = []
    with tempfile.TemporaryDirectory(prefix="deskstream-sync-bench-") as tmp:
        for size in sizes:
            db, label = generated_history(tmp, f"up-{size}", size)
            with serve(db) as base, httpx.Client(base_url=base, auth=AUTH, timeout=120) as client:
                client.get("/api/v2/users/me")
                items, seconds = min((http_walk(client) for _ in range(2)), key=lambda r: r[1])
                limit = items / seconds
                results[f"export_http_{label}"] = result(limit, "items/s (5 streams)")
                status, took, peak = sync(base, f"sqlite:///{tmp}/mirror-{size}.db")
                assert status == 0, "the sync failed"
                results[f"sync_sqlite_{label}"] = result(items / took, "items/s", limit)
                results[f"sync_peak_rss_{label}"] = result(peak / 1024, "MiB", rss[0] / 1024 if rss else None)
                rss.append(peak)
                count, took = naive(client)
                results[f"naive_time_loop_{label}"] = result(count / took, f"tickets/s ({count:,} of {size:,})")
                if size == sizes[0] and mode != "smoke":  # at 100k the tap would take half an hour
                    records, took, same = tap_zendesk(base, Path(tmp) / f"tap-{size}", source_ids(client))
                    results[f"tap_zendesk_{label}"] = result(records / took, "records/s (4 streams)", limit)
                    results[f"tap_zendesk_{label}_equals_source"] = result(float(same), "1 = same record set")
                if size == sizes[0]:
                    ok = killed_and_finished(base, f"jsonl:{tmp}/killed", kills)
                    results[f"killed_{kills}x_then_verify"] = result(float(ok), "1 = mirror equals source")
            # The same history through the change feed: the sync discovers it and reads it instead of the exports.
            with serve(db, "--change-sequence", "--retention", "3650d") as base, httpx.Client(
                base_url=base, auth=AUTH, timeout=120
            ) as client:
                client.get("/api/v2/users/me")
                changes, seconds = min((feed_walk(client) for _ in range(2)), key=lambda r: r[1])
                results[f"feed_http_{label}"] = result(changes / seconds, "changes/s (5 streams)")
                status, took, peak = sync(base, f"sqlite:///{tmp}/feed-mirror-{size}.db")
                assert status == 0, "the sync through the feed failed"
                results[f"sync_sqlite_feed_{label}"] = result(changes / took, "changes/s", changes / seconds)
                results[f"sync_feed_peak_rss_{label}"] = result(peak / 1024, "MiB")
    return results


def ratio_only(size: int, rounds: int) -> dict[str, Result]:
    """The limit and the sync into SQLite over one history of ``size`` tickets, ``rounds`` times."""
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="deskstream-sync-bench-") as tmp:
        db, label = generated_history(tmp, "up", size)
        with serve(db) as base, httpx.Client(base_url=base, auth=AUTH, timeout=120) as client:
            client.get("/api/v2/users/me")
            for n in range(1, rounds + 1):
                items, seconds = min((http_walk(client) for _ in range(2)), key=lambda r: r[1])
                results[f"export_http_{label}_round{n}"] = result(items / seconds, "items/s (5 streams)")
                status, took, _ = sync(base, f"sqlite:///{tmp}/mirror-{n}.db")
                assert status == 0, "the sync failed"
                results[f"sync_sqlite_{label}_round{n}"] = result(items / took, "items/s", items / seconds)
    return results


def main() -> None:
    parser = size_parser(__doc__)
    parser.add_argument("--ratio-only", type=int, metavar="SIZE",
                        help="only the limit and the sync into SQLite, over a history of SIZE tickets")
    parser.add_argument("--rounds", type=int, default=3, help="with --ratio-only: limit and sync, this many times")
    args = parser.parse_args()
    results = ratio_only(args.ratio_only, args.rounds) if args.ratio_only else run(mode_of(args))
    print_table(results)
    print(orjson.dumps(results).decode())


if __name__ == "__main__":
    main()
