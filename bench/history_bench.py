"""Benchmarks on generated history: the generator itself, the ticket_events export, page latency as tables grow.

- ``generator_events_per_s``: audits + child events + comments + metric events written per second by
  ``deskstream.generate`` on SQLite (target ≥ 100,000).
- ``ticket_events_http[_with_comments]``: items/s following ``/incremental/ticket_events`` pages of 1000 over HTTP
  (uvicorn, httpx; the server has `--public-url` and its database was created with it, so its pages go out as
  stored), beside the in-process limit measured in the same run (the same pages built by
  ``export.pages.time_page`` + ``export.framing.frame`` with no HTTP); target ratio ≥ 0.8.
- ``tickets_page_p50/p99_<size>``: latency of one time-based page of 1000 tickets at random start times, at 10k,
  100k and 1M tickets (full mode; quick mode at the generated size only). Past the generated tickets the table is
  grown by copying them with new ids, earlier in time (``grow``): page cost depends on the index and the table's
  size, not on how the rows were made, and generating a million tickets' whole history would take an hour.

    python bench/history_bench.py [--quick|--smoke]
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import text

from deskstream import demo
from deskstream.export.framing import frame
from deskstream.export.pages import time_page
from deskstream.export.streams import STREAMS, Selection
from deskstream.generate import generate
from deskstream.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402  (bench/ is a folder of scripts, not a package)
    Result,
    free_port,
    mode_of_arguments,
    percentile,
    result,
    seed_accounts,
    serve,
)

#: mode → (tickets, days, latency samples per size, table sizes for page latency)
MODES: dict[str, tuple[int, int, int, tuple[int, ...]]] = {
    "smoke": (300, 14, 10, ()),
    "quick": (3000, 60, 40, (3000,)),
    "full": (10_000, 90, 500, (10_000, 100_000, 1_000_000)),
}
#: History ends an hour ago: past the horizon, and the server's SLA scheduler finds little left to breach.
END = int(time.time()) - 3600
PER_PAGE = 1000


def in_process_rate(store: Store, with_comments: bool) -> float:
    """Items/s of the ticket_events stream built page by page in process: range scan and framing (the server's
    pages go out as stored: its database was created with its ``--public-url``)."""
    selection = Selection(STREAMS["ticket_events"], with_comments=with_comments)
    started, items, start = time.perf_counter(), 0, 0
    while True:
        with store.scanning() as scans:
            page = time_page(scans, selection, start, int(time.time()) - 60, PER_PAGE)
        end_time = page.last.time if page.last else start
        frame("ticket_events", page.items, {"count": page.count, "end_time": end_time, "next_page": "",
                                            "end_of_stream": page.end_of_stream})
        items += page.count
        if page.end_of_stream:
            return items / (time.perf_counter() - started)
        start = end_time


def tail(body: bytes) -> dict[str, Any]:
    """The page's ``count``/``end_time``/``next_page``/``end_of_stream``, decoded without the items before them.

    A lean client, like export_bench's: decoding every item (orjson) costs about as much as the request itself.
    """
    return orjson.loads(b"{" + body[body.rindex(b'],"count":') + 2 :])  # type: ignore[no-any-return]


def http_rate(client: httpx.Client, with_comments: bool) -> float:
    """Items/s following ``next_page`` from ``start_time=0`` to the end of the stream, as a client does."""
    first: dict[str, Any] = {"start_time": 0, "per_page": PER_PAGE}
    if with_comments:
        first["include"] = "comment_events"
    params: dict[str, Any] | None = first
    started, items = time.perf_counter(), 0
    url: str | None = "/api/v2/incremental/ticket_events"
    while url:
        answer = client.get(url, params=params)  # params=None keeps next_page's own query (httpx replaces it)
        answer.raise_for_status()
        meta = tail(answer.content)
        items += meta["count"]
        url, params = None if meta["end_of_stream"] else meta["next_page"], None
    return items / (time.perf_counter() - started)


def grow(store: Store, size: int) -> None:
    """Copy the tickets table onto itself (new ids, shifted earlier by whole copies of its span) up to ``size``."""
    with store.write() as conn:
        (count, low, top), = conn.execute(text("SELECT count(*), min(generated_timestamp), max(id) FROM tickets"))
        original, span, copy = count, END - low + 86_400, 1
        while count < size:
            n = min(original, size - count)
            conn.execute(
                text(
                    "INSERT INTO tickets SELECT id + :offset, status, priority, requester_id, assignee_id, "
                    "organization_id, group_id, created_at - :shift, updated_at - :shift, "
                    "generated_timestamp - :shift, deleted_at, version, CAST(json_set(CAST(json AS TEXT), "
                    "'$.id', id + :offset, '$.generated_timestamp', generated_timestamp - :shift) AS BLOB) "
                    "FROM tickets WHERE id <= :top ORDER BY id LIMIT :n"
                ),
                {"offset": copy * top, "shift": copy * span, "top": top, "n": n},
            )
            count, copy = count + n, copy + 1
    # A live database of that size has long been checkpointed; a reader behind a 2 GB WAL would measure the WAL.
    raw = store.engine.raw_connection()
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()


def page_latency(client: httpx.Client, store: Store, samples: int, rng: random.Random) -> tuple[float, float]:
    """p50 and p99 (ms) of single time-based pages of 1000 tickets, each from a random ticket's time (so full)."""
    with store.read() as conn:
        count = conn.execute(text("SELECT count(*) FROM tickets")).scalar_one()
        starts = [
            conn.execute(
                text("SELECT generated_timestamp FROM tickets ORDER BY generated_timestamp, id LIMIT 1 OFFSET :k"),
                {"k": rng.randrange(max(1, count - PER_PAGE))},
            ).scalar_one()
            for _ in range(samples)
        ]
    durations = []
    for start in starts:
        params = {"start_time": start, "per_page": PER_PAGE}
        started = time.perf_counter()
        client.get("/api/v2/incremental/tickets", params=params).raise_for_status()
        durations.append(time.perf_counter() - started)
    return percentile(durations, 50) * 1000, percentile(durations, 99) * 1000


def run(mode: str = "quick") -> dict[str, Result]:
    tickets, days, samples, sizes = MODES[mode]
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="deskstream-history-") as tmp:
        db, port = f"sqlite:///{Path(tmp) / 'http.db'}", free_port()
        base = f"http://127.0.0.1:{port}"
        store = Store(db, public_url=base)  # created with the server's public URL: its pages go out as stored
        store.migrate()
        summary = generate(store, tickets, days, seed=1, end=END)
        results["generator_events_per_s"] = result(summary.events_per_second, "events/s")
        results["generator_tickets_per_s"] = result(summary.counts["tickets"] / summary.seconds, "tickets/s")
        seed_accounts(db)
        with serve(db, "--public-url", base, port=port), httpx.Client(
            base_url=base, auth=(demo.ADMIN_EMAIL, demo.PASSWORD), timeout=120
        ) as client:
            client.get("/api/v2/users/me")  # the first request verifies the password (argon2): not a page's cost
            for with_comments, name in ((False, "ticket_events"), (True, "ticket_events_with_comments")):
                limit = max(in_process_rate(store, with_comments) for _ in range(2))  # best of two walks
                rate = max(http_rate(client, with_comments) for _ in range(2))
                results[f"{name}_http"] = result(rate, "items/s", limit)
            rng, first_p99 = random.Random(1), None
            for size in sizes:
                grow(store, size)
                p50, p99 = page_latency(client, store, samples, rng)
                label = f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}M"
                results[f"tickets_page_p50_{label}"] = result(p50, "ms")
                results[f"tickets_page_p99_{label}"] = result(p99, "ms", first_p99)
                first_p99 = first_p99 or p99
        store.dispose()
    return results


def main() -> None:
    for name, r in run(mode_of_arguments(__doc__)).items():
        limit = f"limit {r['limit']:,.1f}, ratio {r['ratio']:.2f}" if r["limit"] else ""
        print(f"{name:<40}{r['value']:>14,.1f} {r['unit']:<10}{limit}")


if __name__ == "__main__":
    main()
