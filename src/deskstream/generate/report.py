"""The generator on a terminal: a progress bar while it writes, a summary table when it is done (the demo's
summary line is ``serve --demo``'s, in ``cli/server.py``)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from deskstream.domain.timefmt import iso
from deskstream.generate.workload import Summary, generate
from deskstream.store import Store

PROGRESS_COLUMNS = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


def generate_with_progress(
    console: Console, store: Store, tickets: int, days: int, seed: int, label: str = "Generating tickets"
) -> Summary:
    with Progress(*PROGRESS_COLUMNS, console=console, transient=True) as progress:
        task = progress.add_task(label, total=tickets)
        return generate(store, tickets, days, seed, progress=lambda n: progress.advance(task, n))


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
