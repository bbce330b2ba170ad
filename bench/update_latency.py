"""How long one ticket update takes on SQLite: in process through ``Desk``, and over HTTP against a real server.

Each update really changes the ticket (so each writes a version, an audit and its child events in one transaction).
Reports the median, p90 and p99 over N updates (1,000 by default; 200 with ``--quick``). The HTTP figures carry the
in-process figure as their ``limit`` and the ratio to it, so the cost of the HTTP layer is read off directly. Then
``ticket_updates_per_s_http_concurrent``: N updates shared by 8 concurrent clients, each on its own ticket, against
a server with its default ``--workers``.

    python bench/update_latency.py [--quick] [-n N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from deskstream import demo
from deskstream.clock import RealClock
from deskstream.domain.tickets import PRIORITIES, TicketInput
from deskstream.service import Actor, Desk
from deskstream.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result, percentile, result, seed_accounts, serve  # noqa: E402  (bench/ is a folder of scripts)

#: Concurrent clients of ``ticket_updates_per_s_http_concurrent``, each updating its own ticket.
CLIENTS = 8


def percentiles(samples: list[float]) -> dict[str, float]:
    """Median, p90 and p99 of durations in seconds, as milliseconds."""
    return {"median": percentile(samples, 50) * 1000, "p90": percentile(samples, 90) * 1000,
            "p99": percentile(samples, 99) * 1000}


def change(i: int) -> dict[str, Any]:
    """The i-th update: always a real change (priority cycles, the subject counts)."""
    return {"priority": PRIORITIES[i % len(PRIORITIES)], "subject": f"update {i}"}


def timed(n: int, update: Callable[[int], None]) -> list[float]:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        update(i)
        samples.append(time.perf_counter() - started)
    return samples


def in_process(directory: Path, n: int) -> dict[str, float]:
    store = Store(f"sqlite:///{directory / 'inprocess.db'}")
    store.migrate()
    desk = Desk(store, RealClock())
    ids = demo.create_accounts(desk)
    actor = Actor(ids["agent"], "agent", "api")
    ticket_id = desk.tickets.create(TicketInput(subject="bench", comment={"body": "b"}), actor)["id"]
    samples = timed(n, lambda i: desk.tickets.update(ticket_id, TicketInput.model_validate(change(i)), actor))
    store.dispose()
    return percentiles(samples)


@contextmanager
def server(directory: Path) -> Iterator[str]:
    """A ``deskstream serve`` process over ``directory``/http.db with the demo accounts added; yields its base URL."""
    db = f"sqlite:///{directory / 'http.db'}"
    seed_accounts(db)
    with serve(db) as base:
        yield base


def over_http(directory: Path, n: int) -> dict[str, float]:
    with server(directory) as base, httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {demo.ADMIN_TOKEN}"}, timeout=30
    ) as client:
        created = client.post("/api/v2/tickets", json={"ticket": {"subject": "bench", "comment": {"body": "b"}}})
        path = f"/api/v2/tickets/{created.json()['ticket']['id']}"

        def update(i: int) -> None:
            response = client.put(path, json={"ticket": change(i)})
            if response.status_code != 200:
                raise RuntimeError(f"update {i} answered {response.status_code}: {response.text}")

        return percentiles(timed(n, update))


def concurrent_over_http(directory: Path, n: int, clients: int = CLIENTS, *serve_options: str) -> float:
    """Updates/s that ``clients`` concurrent clients get, each updating its own ticket ``n`` times, against a server
    started with ``serve_options`` (none: its defaults, so ``--workers`` is the number of cores)."""
    db = f"sqlite:///{directory / ('concurrent' + ''.join(serve_options) + '.db')}"
    seed_accounts(db)
    with serve(db, *serve_options) as base:
        sessions = [httpx.Client(base_url=base, headers={"Authorization": f"Bearer {demo.ADMIN_TOKEN}"}, timeout=60)
                    for _ in range(clients)]
        try:
            paths = []
            for client in sessions:
                created = client.post("/api/v2/tickets", json={"ticket": {"subject": "b", "comment": {"body": "b"}}})
                paths.append(f"/api/v2/tickets/{created.json()['ticket']['id']}")

            def updates(k: int) -> None:
                for i in range(n):
                    response = sessions[k].put(paths[k], json={"ticket": change(i)})
                    if response.status_code != 200:
                        raise RuntimeError(f"update {i} answered {response.status_code}: {response.text}")

            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(updates, range(clients)))
            return clients * n / (time.perf_counter() - started)
        finally:
            for client in sessions:
                client.close()


def run(quick: bool = False, n: int | None = None) -> dict[str, Result]:
    """The bench/run.py entry point: ``{name: {"value", "unit", "limit", "ratio"}}`` (ms; HTTP against in-process)."""
    count = n or (200 if quick else 1000)
    with tempfile.TemporaryDirectory(prefix="deskstream-bench-") as tmp:
        local = in_process(Path(tmp), count)
        remote = over_http(Path(tmp), count)
        together = concurrent_over_http(Path(tmp), max(1, count // CLIENTS))
    results: dict[str, Result] = {}
    for stat in ("median", "p90", "p99"):
        results[f"ticket_update_{stat}_inprocess"] = result(local[stat], "ms")
        results[f"ticket_update_{stat}_http"] = result(remote[stat], "ms", local[stat])
    results["ticket_updates_per_s_http_concurrent"] = result(together, f"updates/s, {CLIENTS} clients")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 updates instead of 1,000")
    parser.add_argument("-n", type=int, default=None, help="number of updates")
    args = parser.parse_args()
    results = run(args.quick, args.n)
    count = args.n or (200 if args.quick else 1000)
    print(f"single-ticket update on SQLite, {count} updates each (ms)")
    print(f"{'path':<12}{'median':>10}{'p90':>10}{'p99':>10}")
    for where in ("inprocess", "http"):
        row = [results[f"ticket_update_{stat}_{where}"]["value"] for stat in ("median", "p90", "p99")]
        print(f"{where:<12}" + "".join(f"{value:>10.2f}" for value in row))
    together = results["ticket_updates_per_s_http_concurrent"]["value"]
    print(f"{CLIENTS} concurrent clients over HTTP, the server's default --workers: {together:,.0f} updates/s")


if __name__ == "__main__":
    main()
