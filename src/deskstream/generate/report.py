"""The generator on a terminal: a progress bar while it writes, a summary table (or, for the demo, a summary line)
when it is done."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deskstream import demo
from deskstream.domain.timefmt import iso
from deskstream.generate.workload import Summary, generate
from deskstream.store import Store

_COLUMNS = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


def generate_with_progress(
    console: Console, store: Store, tickets: int, days: int, seed: int, label: str = "Generating tickets"
) -> Summary:
    with Progress(*_COLUMNS, console=console, transient=True) as progress:
        task = progress.add_task(label, total=tickets)
        return generate(store, tickets, days, seed, progress=lambda n: progress.advance(task, n))


def install_demo(console: Console, store: Store, now: int) -> demo.Installed:
    """``serve --demo`` on a database without the demo: a progress bar on a terminal (a line saying what is
    happening elsewhere) while it generates or copies, then one summary line."""
    label = f"Demo history: {demo.DEMO_TICKETS:,} tickets over {demo.DEMO_DAYS} days"
    if console.is_terminal:
        with Progress(*_COLUMNS, console=console, transient=True) as progress:
            task = progress.add_task(f"{label}, generating", total=demo.DEMO_TICKETS)
            done = demo.install(store, now, progress=lambda n: progress.advance(task, n))
    else:
        console.print(f"{label}: generating, or copying the cached history...")
        done = demo.install(store, now)
    how = "copied from the cache" if done.cached else "generated (the next demo on this machine copies it)"
    console.print(f"Demo history: {done.tickets:,} tickets, {done.events:,} events, {how} in {done.seconds:.1f} s")
    return done


def summary_table(summary: Summary) -> Table:
    """Tickets, audits, comments, metric events, storms and the rate, as the run's closing words."""
    c = summary.counts
    table = Table(title=f"History {iso(summary.start)} → {iso(summary.end)}", show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    rows: list[tuple[str, int | str]] = [
        ("tickets", c.get("tickets", 0)),
        ("ticket versions", c.get("versions", 0)),
        ("audits (ticket events)", c.get("audits", 0)),
        ("child events", c.get("child_events", 0)),
        ("comments", c.get("comments", 0)),
        ("metric events", c.get("metric_events", 0)),
        ("system updates", c.get("system_updates", 0)),
        ("deleted tickets", summary.deleted),
        ("users / organizations", f"{c.get('users', 0)} / {c.get('organizations', 0)}"),
        ("same-second storms", ", ".join(str(n) for n in summary.storms) or "none"),
        ("events", summary.events),
        ("time", f"{summary.seconds:.1f} s"),
        ("rate", f"{summary.events_per_second:,.0f} events/s"),
    ]
    for name, value in rows:
        table.add_row(name, f"{value:,}" if isinstance(value, int) else value)
    return table
