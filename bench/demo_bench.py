"""How soon ``serve --demo`` answers, and how fast the generator writes, against this machine's speed.

- ``python_loop_10m_s``: a pure-Python loop of 10 million additions (bench/run.py's yardstick), the limit the
  demo's times are set against;
- ``demo_ready_cold_s``: ``deskstream serve --demo`` on an empty SQLite file with an empty cache directory until the
  seeds' curl (the tickets export, as the admin) is answered: the first demo on a machine, which generates the
  history (and leaves it in the cache); ratio to the loop, target ≤ 4;
- ``demo_ready_warm_s``: the same on another empty file with that cache: every later demo, which copies the history
  with its times moved to end now; ratio to the loop, target ≤ 4;
- ``demo_generator_events_per_s``: the generator's events/s (audits, child events, comments, metric events) on the
  demo's 5,000-ticket, 90-day history (300 tickets with ``--smoke``), in a process of its own.

Each figure is the median of several runs (full: 3, quick and smoke: 1); the loop is timed again before each demo
run and a demo's ratio is the median of its runs' ratios, since on a shared machine the load moves between runs
(the limit shown is the median loop). ``--baseline DIR`` measures the same
figures with another checkout's code (``PYTHONPATH=DIR/src``) in the same run, alternating with this tree's, and
prints both (docs/benchmarks.md § Generator and demo was measured so).

    python bench/demo_bench.py [--quick|--smoke] [--baseline DIR]
    python bench/demo_bench.py --baseline DIR --warm-rounds N   # only the warm demo, N pairs in turn
    python bench/demo_bench.py --writer-rounds N   # only the generator, with and without its writing process

``--warm-rounds N`` fills each tree's cache once (untimed), then times N warm demos of each tree in turn: the warm
figure alone, with the spread a single pair cannot show.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Result, free_port, print_table, python_loop_10m_s, result  # noqa: E402  (bench/ is a folder of scripts)

#: mode → (runs per figure, tickets the generator writes)
MODES: dict[str, tuple[int, int]] = {"smoke": (1, 300), "quick": (1, 5000), "full": (3, 5000)}
#: The generator in a process of its own: prints its events/s (a fixed end, so every run writes the same history).
_GENERATE = """
import sys, tempfile, time
from deskstream.generate import generate
from deskstream.store import Store
with tempfile.TemporaryDirectory() as d:
    store = Store(f"sqlite:///{d}/g.db")
    store.migrate()
    writer = {} if sys.argv[2] == "auto" else {"writer_process": sys.argv[2] == "in"}
    summary = generate(store, int(sys.argv[1]), 90, 1, end=1_700_000_000, **writer)
    print(summary.events / summary.seconds)
"""


def _env(src: Path | None, cache: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKSTREAM_")}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    if cache is not None:
        env["XDG_CACHE_HOME"] = str(cache)
    return env


def generator_events_per_s(tickets: int, src: Path | None = None, writer: str = "auto") -> float:
    """``writer``: ``in`` or ``out`` of a second process writing the batches, or ``auto`` (the generator's choice;
    a baseline without that choice takes only ``auto``)."""
    out = subprocess.run([sys.executable, "-c", _GENERATE, str(tickets), writer], env=_env(src), check=True,
                         capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def writer_pairs(tickets: int, rounds: int) -> None:
    """This tree's generator with the batches written by a second process and in its own, ``rounds`` times each
    in turn: the writing process's gain alone."""
    runs: dict[str, list[float]] = {"in": [], "out": []}
    for _ in range(rounds):
        for writer, values in runs.items():
            values.append(generator_events_per_s(tickets, writer=writer))
    medians = {writer: statistics.median(values) for writer, values in runs.items()}
    for writer, label in (("out", "one process"), ("in", "a writing process")):
        print(f"{label:<18} {medians[writer]:>9,.0f} events/s  ({', '.join(f'{v:,.0f}' for v in runs[writer])})")
    print(f"ratio {medians['in'] / medians['out']:.2f}; {tickets:,} tickets, medians of {rounds} pairs in turn")


def demo_ready_s(cache: Path, src: Path | None = None) -> float:
    """Seconds from starting ``serve --demo`` on an empty database until the seeds' curl is answered."""
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        command = [sys.executable, "-m", "deskstream", "serve", "--demo", "--db", f"sqlite:///{directory}/demo.db",
                   "--port", str(port), "--rate-limit", "off"]
        started = time.perf_counter()
        process = subprocess.Popen(command, env=_env(src, cache), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}/api/v2/incremental/tickets"
            while True:
                try:
                    answer = httpx.get(url, params={"start_time": 0}, auth=("admin@example.com", "deskstream"),
                                       headers={"Accept": "application/json"}, timeout=30)
                    if answer.status_code == 200:
                        return time.perf_counter() - started
                except httpx.TransportError:
                    pass
                if process.poll() is not None:
                    raise RuntimeError("deskstream serve --demo exited before answering")
                time.sleep(0.02)
        finally:
            process.terminate()
            process.wait(timeout=30)


def measure(mode: str, src: Path | None = None) -> dict[str, list[float]]:
    """Every figure's runs with one tree's code (``src``; None: the installed deskstream)."""
    runs, tickets = MODES[mode]
    figures: dict[str, list[float]] = {name: [] for name in ("cold", "warm", "loop_cold", "loop_warm", "events")}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            for kind in ("cold", "warm"):
                figures[f"loop_{kind}"].append(python_loop_10m_s())
                figures[kind].append(demo_ready_s(Path(cache), src))
        figures["events"].append(generator_events_per_s(tickets, src))
    return figures


def results(figures: dict[str, list[float]]) -> dict[str, Result]:
    median = statistics.median
    loop = median(figures["loop_cold"] + figures["loop_warm"])
    out = {"python_loop_10m_s": result(loop, "s")}
    for kind, unit in (("cold", "s (empty db and cache) / loop"), ("warm", "s (empty db, cached) / loop")):
        ratio = median([s / lap for s, lap in zip(figures[kind], figures[f"loop_{kind}"], strict=True)])
        out[f"demo_ready_{kind}_s"] = {"value": median(figures[kind]), "unit": unit, "limit": loop, "ratio": ratio}
    out["demo_generator_events_per_s"] = result(median(figures["events"]), "events/s")
    return out


def run(mode: str) -> dict[str, Result]:
    """bench/run.py's entry: this tree's figures, ``{name: {"value", "unit", "limit", "ratio"}}``."""
    return results(measure(mode))


def warm_pairs(there: Path, here: Path, rounds: int) -> None:
    """The warm demo of the baseline and of this tree, ``rounds`` times each in turn, after one untimed run of each
    fills its own cache (the cache's name holds a digest of the code, so the trees cannot share one)."""
    trees = {"baseline": there, "this tree": here}
    with tempfile.TemporaryDirectory() as directory:
        caches = {name: Path(directory) / name.replace(" ", "-") for name in trees}
        for name, src in trees.items():
            demo_ready_s(caches[name], src)
        runs: dict[str, list[float]] = {name: [] for name in trees}
        for _ in range(rounds):
            for name, src in trees.items():
                runs[name].append(demo_ready_s(caches[name], src))
    loop = python_loop_10m_s()
    for name, values in runs.items():
        print(f"{name:<10} demo_ready_warm_s median {statistics.median(values):.2f} s "
              f"({', '.join(f'{v:.2f}' for v in values)}); loop {loop:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run per figure")
    parser.add_argument("--smoke", action="store_true", help="one run, a small generator history")
    parser.add_argument("--baseline", type=Path, help="another checkout, measured alternately with this tree")
    parser.add_argument("--warm-rounds", type=int, metavar="N", help="with --baseline: only the warm demo, N pairs")
    parser.add_argument("--writer-rounds", type=int, metavar="N",
                        help="only the generator, with and without its writing process, N pairs")
    args = parser.parse_args()
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    if args.writer_rounds:
        writer_pairs(MODES[mode][1], args.writer_rounds)
        return
    if args.baseline is None:
        print_table(run(mode))
        return
    runs, _ = MODES[mode]
    here, there = Path(__file__).resolve().parent.parent / "src", args.baseline.resolve() / "src"
    if args.warm_rounds:
        warm_pairs(there, here, args.warm_rounds)
        return
    ours: dict[str, list[float]] = {}
    theirs: dict[str, list[float]] = {}
    for _ in range(runs):  # alternating, so that a busy spell of the machine falls on both
        for tree, into in ((there, theirs), (here, ours)):
            for name, values in measure("quick" if mode == "full" else mode, tree).items():
                into.setdefault(name, []).extend(values)
    for title, figures in ((f"baseline ({args.baseline})", theirs), ("this tree", ours)):
        print(f"\n{title}: runs {figures}")
        print_table(results(figures))


if __name__ == "__main__":
    main()
