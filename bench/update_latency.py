"""How long one ticket update takes on SQLite: in process through ``Desk``, and over HTTP against a real server.

Each update really changes the ticket (so each writes a version, an audit and its child events in one transaction).
Reports the median, p90 and p99 over N updates (1,000 by default; 200 with ``--quick``). The HTTP figures carry the
in-process figure as their ``limit`` and the ratio to it, so the cost of the HTTP layer is read off directly.

    python bench/update_latency.py [--quick] [-n N]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from deskstream import demo
from deskstream.clock import RealClock
from deskstream.domain.tickets import PRIORITIES, TicketInput
from deskstream.service import Actor, Desk
from deskstream.store import Store

Result = dict[str, Any]


def percentiles(samples: list[float]) -> dict[str, float]:
    """Median, p90 and p99 of durations in seconds, as milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"median": statistics.median(samples) * 1000, "p90": cuts[89] * 1000, "p99": cuts[98] * 1000}


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(directory: Path) -> Iterator[str]:
    """A ``deskstream serve`` process over a fresh SQLite file with the demo accounts; yields its base URL."""
    db = f"sqlite:///{directory / 'http.db'}"
    store = Store(db)
    store.migrate()
    demo.create_accounts(Desk(store, RealClock()))
    store.dispose()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKSTREAM_")}
    command = [sys.executable, "-m", "deskstream", "serve", "--db", db, "--port", str(port), "--rate-limit", "off"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("deskstream serve did not start") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


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


def run(quick: bool = False, n: int | None = None) -> dict[str, Result]:
    """The bench/run.py entry point: ``{name: {"value", "unit", "limit", "ratio"}}`` (ms; HTTP against in-process)."""
    count = n or (200 if quick else 1000)
    with tempfile.TemporaryDirectory(prefix="deskstream-bench-") as tmp:
        local = in_process(Path(tmp), count)
        remote = over_http(Path(tmp), count)
    results: dict[str, Result] = {}
    for stat in ("median", "p90", "p99"):
        results[f"ticket_update_{stat}_inprocess"] = {"value": local[stat], "unit": "ms", "limit": None, "ratio": None}
        results[f"ticket_update_{stat}_http"] = {
            "value": remote[stat],
            "unit": "ms",
            "limit": local[stat],
            "ratio": remote[stat] / local[stat],
        }
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


if __name__ == "__main__":
    main()
