"""The export and update levers of the performance work, side by side with another checkout's code in one run.

    git worktree add /tmp/base-main 8606605
    python bench/levers_ab.py --baseline /tmp/base-main [--rounds 3]

- export pages: the same 20k-ticket table (export_bench's) served by the baseline, by this tree on a database
  whose items carry the URL placeholder (rewritten per request, as before ``--public-url``), and by this tree with
  ``--public-url`` on a database created with it (pages sent as stored); each server ``--workers 1``, both
  exports walked with export_bench's lean httpx client; tickets/s, the median of ``--rounds`` rounds taken in turn;
- updates: 8 concurrent clients, each updating its own ticket 150 times, against each tree's server with
  ``--workers 1``, ``--workers 2`` and ``--workers 1 --synchronous full`` (group commit); updates/s, median.

Each server runs the code of its tree (``PYTHONPATH=<tree>/src``); the clients and the table are this tree's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port, seed_accounts  # noqa: E402  (bench/ is a folder of scripts, not a package)
from deskstream import demo  # noqa: E402
from deskstream.store import Store  # noqa: E402
from export_bench import fill, over_http  # noqa: E402
from update_latency import CLIENTS, change  # noqa: E402

HERE = Path(__file__).resolve().parent.parent / "src"
AUTH = {"Authorization": f"Bearer {demo.ADMIN_TOKEN}"}


def serving(src: Path, db: str, port: int, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKSTREAM_")} | {"PYTHONPATH": str(src)}
    command = [sys.executable, "-m", "deskstream", "serve", "--db", db, "--port", str(port), "--rate-limit", "off",
               *extra]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/openapi.json", timeout=1)
            return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start")


def export_rates(src: Path, db: str, port: int, *extra: str) -> dict[str, float]:
    process, base = serving(src, db, port, "--workers", "1", *extra)
    try:
        with httpx.Client(base_url=base, headers=AUTH, timeout=60) as client:
            client.get("/api/v2/users/me")
            return {kind: over_http(client, kind)[0] for kind in ("time", "cursor")}
    finally:
        process.terminate()
        process.wait()


def concurrent_updates(src: Path, directory: Path, *extra: str) -> float:
    db = f"sqlite:///{directory / f'updates-{time.monotonic_ns()}.db'}"
    seed_accounts(db)
    process, base = serving(src, db, free_port(), *extra)
    clients = [httpx.Client(base_url=base, headers=AUTH, timeout=60) for _ in range(CLIENTS)]
    try:
        paths = [f"/api/v2/tickets/{c.post('/api/v2/tickets', json={'ticket': {'subject': 's', 'comment': {'body': 'b'}}}).json()['ticket']['id']}"  # noqa: E501
                 for c in clients]
        def run(k: int) -> None:
            for i in range(150):
                clients[k].put(paths[k], json={"ticket": change(i)}).raise_for_status()

        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(run, range(CLIENTS)))
        return CLIENTS * 150 / (time.perf_counter() - started)
    finally:
        for c in clients:
            c.close()
        process.terminate()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout (its src/ is served)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    there = args.baseline.resolve() / "src"
    with tempfile.TemporaryDirectory(prefix="levers-ab-") as tmp:
        placeholder = f"sqlite:///{Path(tmp) / 'placeholder.db'}"
        store = Store(placeholder)
        store.migrate()
        fill(store, 20_000)
        store.dispose()
        public_port = free_port()
        public = f"http://127.0.0.1:{public_port}"
        stored = f"sqlite:///{Path(tmp) / 'public.db'}"
        store = Store(stored, public_url=public)
        store.migrate()
        fill(store, 20_000, dumps=store.url_bases.dumps)
        store.dispose()
        exports = {
            "baseline": lambda: export_rates(there, placeholder, free_port()),
            "this tree, placeholder": lambda: export_rates(HERE, placeholder, free_port()),
            "this tree, --public-url": lambda: export_rates(HERE, stored, public_port, "--public-url", public),
        }
        updates = {
            f"{tree}, {' '.join(extra)}": (lambda src=src, extra=extra: concurrent_updates(src, Path(tmp), *extra))
            for tree, src in (("baseline", there), ("this tree", HERE))
            for extra in (("--workers", "1"), ("--workers", "2"), ("--workers", "1", "--synchronous", "full"))
        }
        export_runs: dict[str, dict[str, list[float]]] = {name: {"time": [], "cursor": []} for name in exports}
        update_runs: dict[str, list[float]] = {name: [] for name in updates}
        for _ in range(args.rounds):  # in turn, so that a busy spell of the machine falls on every case
            for name, measure in exports.items():
                for kind, rate in measure().items():
                    export_runs[name][kind].append(rate)
            for name, count in updates.items():
                update_runs[name].append(count())
    print(f"export over HTTP, 20k tickets, pages of 1000 (tickets/s, median of {args.rounds})")
    for name, runs in export_runs.items():
        print(f"  {name:<28} time-based {statistics.median(runs['time']):>9,.0f}   "
              f"cursor {statistics.median(runs['cursor']):>9,.0f}")
    print(f"{CLIENTS} concurrent clients updating (updates/s, median of {args.rounds})")
    for name, runs in update_runs.items():
        print(f"  {name:<50} {statistics.median(runs):>7,.0f}")


if __name__ == "__main__":
    main()
