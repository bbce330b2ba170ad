"""The export and update levers of the performance work, side by side with another checkout's code in one run.

    git worktree add /tmp/base-main <commit>
    python bench/levers_ab.py --baseline /tmp/base-main [--rounds 3]

- export pages: the same 20k-ticket table (export_bench's), created with ``--public-url`` so that pages go out as
  stored, served by the baseline and by this tree, each ``--workers 1``; both exports walked with export_bench's
  lean httpx client; tickets/s, and the server's own CPU per page (``/proc/<pid>/stat``: less noisy than the wall
  clock on a shared machine, and the figure a lever on the server's path moves), the median of ``--rounds`` rounds
  taken in turn;
- updates: one client updating its ticket 600 times, then 8 concurrent clients each updating its own 150 times,
  against each tree's server with ``--workers 1`` and with the default ``--workers``; updates/s, median.

Each server runs the code of its tree (``PYTHONPATH=<tree>/src``); the clients and the table are this tree's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port, seed_accounts, start_server  # noqa: E402  (bench/ is a folder of scripts, not a package)
from deskstream import demo  # noqa: E402
from deskstream.store import Store  # noqa: E402
from export_bench import fill, over_http  # noqa: E402
from update_latency import CLIENTS, change  # noqa: E402

HERE = Path(__file__).resolve().parent.parent / "src"
AUTH = {"Authorization": f"Bearer {demo.ADMIN_TOKEN}"}


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def export_rates(src: Path, db: str, port: int, *extra: str) -> dict[str, float]:
    """Tickets/s over HTTP and the server's CPU ms per page, for both exports."""
    process, base = start_server(db, "--workers", "1", *extra, port=port, src=src)
    try:
        with httpx.Client(base_url=base, headers=AUTH, timeout=60) as client:
            client.get("/api/v2/users/me")
            out: dict[str, float] = {}
            for kind in ("time", "cursor"):
                before = cpu_seconds(process.pid)
                rate, latencies = over_http(client, kind)
                out[kind] = rate
                out[f"{kind}_cpu_ms"] = (cpu_seconds(process.pid) - before) * 1000 / len(latencies)
            return out
    finally:
        process.terminate()
        process.wait()


def updates(src: Path, directory: Path, clients: int, *extra: str) -> float:
    """Updates/s: ``clients`` concurrent clients, each updating its own ticket (``150 × 8 / clients`` times)."""
    db = f"sqlite:///{directory / f'updates-{time.monotonic_ns()}.db'}"
    seed_accounts(db)
    process, base = start_server(db, *extra, src=src)
    each = 150 * CLIENTS // clients
    pool_of_clients = [httpx.Client(base_url=base, headers=AUTH, timeout=60) for _ in range(clients)]
    try:
        body = {"ticket": {"subject": "s", "comment": {"body": "b"}}}
        paths = [f"/api/v2/tickets/{c.post('/api/v2/tickets', json=body).json()['ticket']['id']}"
                 for c in pool_of_clients]

        def run(k: int) -> None:
            for i in range(each):
                pool_of_clients[k].put(paths[k], json={"ticket": change(i)}).raise_for_status()

        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(run, range(clients)))
        return clients * each / (time.perf_counter() - started)
    finally:
        for c in pool_of_clients:
            c.close()
        process.terminate()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout (its src/ is served)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = {"baseline": args.baseline.resolve() / "src", "this tree": HERE}
    with tempfile.TemporaryDirectory(prefix="levers-ab-") as tmp:
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        db = f"sqlite:///{Path(tmp) / 'public.db'}"
        store = Store(db, public_url=public)
        store.migrate()
        fill(store, 20_000, dumps=store.url_bases.dumps)
        store.dispose()
        exports = {tree: (lambda src=src: export_rates(src, db, port, "--public-url", public))
                   for tree, src in trees.items()}
        update_cases = {
            f"{tree}, {clients} client{'s' if clients > 1 else ''}, {' '.join(extra) or 'default --workers'}":
            (lambda src=src, clients=clients, extra=extra: updates(src, Path(tmp), clients, *extra))
            for tree, src in trees.items()
            for clients in (1, CLIENTS)
            for extra in (("--workers", "1"), ())
        }
        export_runs: dict[str, dict[str, list[float]]] = {tree: {} for tree in exports}
        update_runs: dict[str, list[float]] = {name: [] for name in update_cases}
        for _ in range(args.rounds):  # in turn, so that a busy spell of the machine falls on every case
            for tree, measure in exports.items():
                for figure, value in measure().items():
                    export_runs[tree].setdefault(figure, []).append(value)
            for name, count in update_cases.items():
                update_runs[name].append(count())
    median = statistics.median
    print(f"export over HTTP, 20k tickets, pages of 1000, --public-url (median of {args.rounds})")
    for tree, runs in export_runs.items():
        print(f"  {tree:<10} time-based {median(runs['time']):>9,.0f} tickets/s ({median(runs['time_cpu_ms']):.2f} "
              f"ms server CPU a page)   cursor {median(runs['cursor']):>9,.0f} tickets/s "
              f"({median(runs['cursor_cpu_ms']):.2f} ms)")
    print(f"updates over HTTP (updates/s, median of {args.rounds})")
    for name, runs in update_runs.items():
        print(f"  {name:<48} {median(runs):>7,.0f}")


if __name__ == "__main__":
    main()
