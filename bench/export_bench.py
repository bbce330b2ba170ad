"""Ticket export throughput and page latency, over HTTP and against the in-process limit measured in the same run.

- ``export_{time,cursor}_inprocess``: tickets/s following the whole export page by page in process (the same range
  scan and framing the server does, no HTTP): the limit the HTTP figures are set against.
- ``export_{time,cursor}_http``: tickets/s following ``next_page`` / ``after_url`` (pages of 1000) from a
  ``deskstream serve --public-url`` process (uvicorn) whose database was created with that URL, so its pages go out
  as stored, with an httpx client that reads only what it needs to follow a page.
- ``export_{time,cursor}_http_rewritten``: the same walk by a client that names the server by another host
  (``Host: localhost:PORT``), so every page's URLs are rewritten for it, as every page's were before
  ``--public-url``; its limit is the in-process walk with that rewrite (``export_{kind}_inprocess_rewritten``).
- ``export_page_{p50,p99}_ms_{small,large}``: latency of one time-based HTTP page of 1000 at random start times,
  at the small and the large table size; the large figure's ``limit`` is the small one, so ``ratio`` shows whether
  page cost grows with the table (it must not).

The store is filled directly (no history): N tickets of realistic stored JSON (~1.4 KB, the full Zendesk ticket
object) spread over 30 days, with a few same-second storms.

    python bench/export_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from sqlalchemy import insert

from deskstream import demo
from deskstream.clock import FixedClock
from deskstream.domain.tickets import blank_ticket
from deskstream.domain.timefmt import iso
from deskstream.export.cursor import Position
from deskstream.export.framing import frame
from deskstream.export.pages import Page, cursor_page, time_page
from deskstream.export.streams import STREAMS, Selection
from deskstream.service import Desk
from deskstream.store import Store, schema
from deskstream.store.records import TicketVersion
from deskstream.store.writer import Dumps, ticket_row

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result, free_port, percentile, print_table, result, serve  # noqa: E402  (bench/ is a folder of scripts)

END = 1_700_000_000  # the newest generated_timestamp: far behind the horizon
PER_PAGE = 1000
TICKETS = Selection(STREAMS["tickets"])
#: mode → (small table, large table, latency samples per size)
MODES = {"smoke": (500, 2_000, 5), "quick": (5_000, 20_000, 30), "full": (10_000, 100_000, 100)}


def ticket_json(ticket_id: int, ts: int, rng: random.Random) -> dict[str, Any]:
    """A ticket as the service stores it, about 1.4 KB serialized."""
    t = blank_ticket(ticket_id, ts - rng.randrange(86_400), rng.choice(["web", "email", "api"]))
    requester = rng.randrange(1, 5000)
    t.update(
        subject=f"Order {ticket_id} arrived damaged, please advise on a replacement",
        raw_subject=f"Order {ticket_id} arrived damaged, please advise on a replacement",
        description="Hello, the parcel arrived yesterday and the item inside was broken. " * 3,
        status=rng.choice(["new", "open", "pending", "hold", "solved", "closed"]),
        priority=rng.choice(["low", "normal", "high", "urgent"]),
        type=rng.choice(["question", "incident", "problem", "task"]),
        requester_id=requester, submitter_id=requester, assignee_id=rng.randrange(1, 50),
        group_id=rng.randrange(1, 10), organization_id=rng.randrange(1, 300),
        tags=["shipping", "damaged", rng.choice(["vip", "standard"])],
        custom_fields=[{"id": 360001, "value": "replacement"}, {"id": 360002, "value": None}],
        updated_at=iso(ts), updated_stamp=iso(ts), generated_timestamp=ts,
    )
    t["fields"] = t["custom_fields"]
    return t


def fill(store: Store, n: int, seed: int = 1, dumps: Dumps = orjson.dumps) -> None:
    """``n`` tickets over 30 days before END, with a same-second storm (up to 1,500) every 20,000 tickets."""
    rng = random.Random(seed)
    times = sorted(END - rng.randrange(30 * 86_400) for _ in range(n))
    storm = min(1500, n // 50)
    for i in range(0, n, 20_000):
        times[i : i + storm] = [times[i]] * len(times[i : i + storm])
    with store.write() as conn:
        for start in range(0, n, 5000):
            rows = [ticket_row(TicketVersion(ticket_json(i + 1, times[i], rng), 1, times[i] - 3600, times[i], None),
                               dumps)
                    for i in range(start, min(n, start + 5000))]
            conn.execute(insert(schema.tickets), rows)
    demo.create_accounts(Desk(store, FixedClock(END)))


def in_process(store: Store, kind: str, base: str, rewrite_to: str | None = None) -> float:
    """Tickets/s following the whole export in process: range scan and framing as the server builds pages, and,
    with ``rewrite_to``, the rewrite of the stored base ``base`` that a request by another host costs."""
    needle, host = b'"url":"' + base.encode(), b'"url":"' + (rewrite_to or base).encode()
    served, start, position = 0, 0, Position(0, 0)
    started = time.perf_counter()
    with store.scanning() as scans:
        while True:
            page: Page = (time_page(scans, TICKETS, start, END, PER_PAGE) if kind == "time"
                          else cursor_page(scans, TICKETS, position, END, PER_PAGE))
            body = frame("tickets", page.items, {"count": page.count, "end_time": start, "next_page": base,
                                                 "end_of_stream": page.end_of_stream})
            if rewrite_to:
                body.replace(needle, host)
            served += page.count
            if page.end_of_stream or page.last is None:
                break
            start, position = page.last.time, page.last
    return served / (time.perf_counter() - started)


def _tail_string(body: bytes, key: bytes) -> str:
    """A string value from the answer's tail (where the links are), without parsing 1.4 MB of tickets."""
    at = body.rindex(b'"' + key + b'":"') + len(key) + 4
    return body[at : body.index(b'"', at)].decode()


def over_http(client: httpx.Client, kind: str) -> tuple[float, list[float]]:
    """Tickets/s following one export from the start, and each page's latency in ms."""
    url = f"/api/v2/incremental/tickets{'' if kind == 'time' else '/cursor'}?start_time=0"
    link = b"next_page" if kind == "time" else b"after_url"
    served, latencies = 0, []
    started = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        body = client.get(url).content
        latencies.append((time.perf_counter() - t0) * 1000)
        served += body.count(b'"generated_timestamp":')
        if body.endswith(b'"end_of_stream":true}'):
            break
        url = _tail_string(body, link)
    return served / (time.perf_counter() - started), latencies


def page_latency(client: httpx.Client, samples: int, rng: random.Random) -> list[float]:
    """Latency (ms) of single time-based pages of 1000 at random start times."""
    out = []
    for _ in range(samples):
        start = END - rng.randrange(30 * 86_400)
        t0 = time.perf_counter()
        response = client.get("/api/v2/incremental/tickets", params={"start_time": start})
        out.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    return out


@contextmanager
def database(tmp: str, n: int, postgres: str | None) -> Iterator[str]:
    """A fresh database for a table of ``n``: a SQLite file, or a database created (then dropped) on ``postgres``."""
    if postgres is None:
        yield f"sqlite:///{Path(tmp) / f'export-{n}.db'}"
        return
    name = f"deskstream_export_bench_{n}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
        try:
            yield postgres.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run(quick: bool, postgres: str | None = None, smoke: bool = False) -> dict[str, Result]:
    small, large, samples = MODES["smoke" if smoke else "quick" if quick else "full"]
    results: dict[str, Result] = {}
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        for label, n in (("small", small), ("large", large)):
            with database(tmp, n, postgres) as db:
                port = free_port()
                base = f"http://127.0.0.1:{port}"
                store = Store(db, public_url=base)
                store.migrate()
                fill(store, n, dumps=store.url_bases.dumps)
                with serve(db, "--public-url", base, port=port), httpx.Client(
                    base_url=base, headers={"Authorization": f"Bearer {demo.ADMIN_TOKEN}"}, timeout=60
                ) as client, httpx.Client(
                    base_url=base, timeout=60,
                    headers={"Authorization": f"Bearer {demo.ADMIN_TOKEN}", "Host": f"localhost:{port}"},
                ) as elsewhere:
                    client.get("/api/v2/users/me")  # the first request verifies the token (argon2): not a page's cost
                    latencies = page_latency(client, samples, rng)
                    for stat in ("p50", "p99"):
                        value = percentile(latencies, 50 if stat == "p50" else 99)
                        limit = results[f"export_page_{stat}_ms_small"]["value"] if label == "large" else None
                        unit = f"ms/page of 1000 @{n // 1000}k"
                        results[f"export_page_{stat}_ms_{label}"] = result(value, unit, limit)
                    if label == "large":
                        other = f"http://localhost:{port}"
                        for kind in ("time", "cursor"):
                            unit = f"tickets/s @{n // 1000}k"
                            for suffix, rewrite_to, http in (("", None, client), ("_rewritten", other, elsewhere)):
                                limit = max(in_process(store, kind, base, rewrite_to) for _ in range(2))
                                rate = max(over_http(http, kind)[0] for _ in range(2))
                                results[f"export_{kind}_inprocess{suffix}"] = result(limit, unit)
                                results[f"export_{kind}_http{suffix}"] = result(rate, unit, limit)
                store.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller tables (5k/20k), fewer samples")
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL: a server URL whose user may create "
                        "databases, e.g. postgresql://postgres@127.0.0.1:5432/postgres (default: SQLite files)")
    args = parser.parse_args()
    print_table(run(args.quick, args.postgres))


if __name__ == "__main__":
    main()
