"""What every benchmark script shares: a real ``deskstream serve`` process, percentiles, the result shape, a table.

bench/ is a folder of scripts, not a package: the scripts import this module by name (``bench/`` is on sys.path when
a script runs, and bench/run.py puts it there for the modules it imports).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from deskstream import demo
from deskstream.clock import RealClock
from deskstream.service import Desk
from deskstream.store import Store

#: ``{"value", "unit", "limit", "ratio"}``: the shape bench/run.py tabulates and writes with ``--json``.
Result = dict[str, Any]


def result(value: float, unit: str, limit: float | None = None) -> Result:
    """A figure and, when there is one, the in-process limit it is set against and its ratio to it."""
    return {"value": value, "unit": unit, "limit": limit, "ratio": value / limit if limit else None}


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (inclusive method: the 50th is the median) of at least one value."""
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed_accounts(db: str) -> None:
    """Migrate the SQLite file ``db`` and add the demo accounts, so a server over it answers the demo credentials."""
    store = Store(db)
    store.migrate()
    demo.create_accounts(Desk(store, RealClock()))
    store.dispose()


def start_server(db: str, *extra: str, port: int | None = None, src: Path | None = None
                 ) -> tuple[subprocess.Popen[bytes], str]:
    """A ``deskstream serve`` process (rate limit off) over the database ``db``, on ``port`` (default: a free one),
    running the code of ``src`` (default: the installed deskstream); the process and its base URL once it answers.

    The environment's ``DESKSTREAM_*`` settings are dropped so a developer's shell cannot change what is measured.
    """
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKSTREAM_")}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    command = [sys.executable, "-m", "deskstream", "serve", "--db", db, "--port", str(port), "--rate-limit", "off",
               *extra]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a bound for a busy machine
    while True:
        try:
            httpx.get(f"{base}/openapi.json", timeout=1)
            return process, base
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                process.wait()
                raise RuntimeError("deskstream serve did not start") from None
            time.sleep(0.1)


@contextmanager
def serve(db: str, *extra: str, port: int | None = None) -> Iterator[str]:
    """:func:`start_server`'s base URL, the process stopped after."""
    process, base = start_server(db, *extra, port=port)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def print_table(results: dict[str, Result]) -> None:
    """The results as a plain-text table (bench/run.py draws the richer one for all benchmarks together)."""
    width = max(len(name) for name in results)
    print(f"{'benchmark':<{width}}  {'value':>12}  {'unit':<26}  {'limit':>12}  {'ratio':>6}")
    for name, r in results.items():
        limit = "" if r["limit"] is None else f"{r['limit']:,.1f}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(f"{name:<{width}}  {r['value']:>12,.1f}  {r['unit']:<26}  {limit:>12}  {ratio:>6}")


def size_parser(doc: str) -> argparse.ArgumentParser:
    """A benchmark's command line: its size, ``--smoke`` (tiny: checks that it runs), ``--quick``, or full; a
    script adds its own options to it."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that it runs, measures nothing")
    return parser


def mode_of(args: argparse.Namespace) -> str:
    return "smoke" if args.smoke else "quick" if args.quick else "full"


def mode_of_arguments(doc: str) -> str:
    """The benchmark's size from its command line (:func:`size_parser`)."""
    return mode_of(size_parser(doc).parse_args())


def python_loop_10m_s(runs: int = 3) -> float:
    """Seconds for a pure-Python loop of 10 million additions (the best of ``runs``): the machine's speed."""
    best = float("inf")
    for _ in range(runs):
        started, total = time.perf_counter(), 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return best
