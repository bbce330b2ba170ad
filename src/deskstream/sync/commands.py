"""``deskstream sync`` and ``deskstream verify`` as commands (spec/README.md § Interfaces; exit codes there).

Credentials come from the options or the environment (``DESKSTREAM_TOKEN``, ``DESKSTREAM_PASSWORD``,
``DESKSTREAM_BEARER``) and are never printed. The root group renders whatever escapes as one line; it loads this
module only for these two commands, and this module loads SQLAlchemy only for a target that is written with it.
"""

from __future__ import annotations

import gc
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import click
import orjson
from rich.console import Console

from deskstream.sync import runner
from deskstream.sync.report import Report
from deskstream.sync.streams import STREAMS
from deskstream.sync.targets import Target, open_target
from deskstream.sync.upstream import AuthRefused, Credentials, SyncError, Upstream, base_url

F = TypeVar("F", bound=Callable[..., Any])
_ENV: dict[str, Any] = {"auto_envvar_prefix": "DESKSTREAM"}
console = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)
output = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def _streams(_ctx: click.Context, _param: click.Parameter, value: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in STREAMS]
    if unknown or not names:
        raise click.BadParameter(f"{', '.join(unknown) or 'none given'}; the streams are {', '.join(STREAMS)}")
    return list(dict.fromkeys(names))


def _upstream_options(command: F) -> F:
    options = [
        click.option("--from", "source", required=True, help="Base URL, SUBDOMAIN.zendesk.com, or a bare subdomain."),
        click.option("--email", required=True, help="The user to sign in as (an admin: exports are admins' only)."),
        click.option("--token", default=None, help="An API token (EMAIL/token:TOKEN)."),
        click.option("--password", default=None, help="The user's password."),
        click.option("--bearer", default=None, help="An OAuth access token."),
        click.option("--to", "target_url", required=True, metavar="TARGET",
                     help="sqlite:///FILE, postgresql://…, duckdb:///FILE, jsonl:DIR or parquet:DIR."),
        click.option("--streams", default=",".join(STREAMS), show_default=True, callback=_streams,
                     help="Comma-separated streams."),
        click.option("--start-time", type=click.IntRange(0), default=0, show_default=True,
                     help="Unix time the first run starts from (a resumed run starts from its checkpoint)."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def _connect(source: str, email: str, token: str | None, password: str | None, bearer: str | None,
             target_url: str, report: Report, existing: bool = False) -> tuple[Upstream, Target]:  # fmt: skip
    if sum(x is not None for x in (token, password, bearer)) != 1:
        raise click.UsageError("give exactly one of --token, --password and --bearer")
    try:
        url = base_url(source)
    except SyncError as error:
        raise click.BadParameter(str(error), param_hint="--from") from None
    try:
        target = open_target(target_url, existing)
    except SyncError as error:
        raise click.BadParameter(str(error), param_hint="--to") from None
    upstream = Upstream(url, Credentials(email, token, password, bearer), report.on_wait, report.on_fault)
    return upstream, target


def _exit_for(errors: list[SyncError]) -> None:
    if errors:
        first = next((e for e in errors if isinstance(e, AuthRefused)), errors[0])
        raise SystemExit(_fail(str(first), 3 if isinstance(first, AuthRefused) else 1))


def _fail(message: str, code: int) -> int:
    click.echo(f"{click.style('error:', fg='red')} {' '.join(message.split())}", err=True)
    return code


@contextmanager
def _stopping_on_ctrl_c(upstream: Upstream) -> Iterator[None]:
    """Ctrl-C stops every thread at once, wherever the main thread is when it comes: the upstream is told to stop
    first (every request and wait in every thread ends with :class:`Interrupted`, each stream after the page it is
    writing, its checkpoint whole), then the main thread gets its ``KeyboardInterrupt`` and waits for them."""

    def interrupt(number: int, frame: FrameType | None) -> None:
        upstream.stop()
        signal.default_int_handler(number, frame)

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@click.command("sync", context_settings=_ENV)
@_upstream_options
@click.option("--lookback", type=click.IntRange(0), default=0, show_default=True,
              help="Seconds a resumed run re-reads before the newest version it had (for upstreams whose changes "
              "can become visible after their timestamp; what it re-reads is deduplicated).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the summary as JSON to this file.")  # fmt: skip
def sync_command(source: str, email: str, token: str | None, password: str | None, bearer: str | None,
                 target_url: str, streams: list[str], start_time: int, lookback: int,
                 json_path: Path | None) -> None:  # fmt: skip
    """Mirror an upstream's exports into TARGET; run it again to resume or to catch up."""
    report = Report(streams, console, live=console.is_terminal)
    upstream, target = _connect(source, email, token, password, bearer, target_url, report)
    # What the process holds by now (the imports' objects) is never garbage: frozen, it is left out of the full
    # collections that decoding millions of dicts keeps starting, each of which walked it all (a sixth of a 10k
    # sync's CPU time, docs/benchmarks.md § Sync). The collector runs as often as before: no cycle lives longer.
    gc.freeze()
    try:
        with report, _stopping_on_ctrl_c(upstream):
            errors = runner.run(upstream, target, streams, start_time, lookback, report)
    except KeyboardInterrupt:
        output.print(report.summary_table(f"deskstream sync from {upstream.url}: interrupted; run it again to resume"))
        raise
    finally:
        upstream.close()
        target.close()
    output.print(report.summary_table(f"deskstream sync from {upstream.url}"))
    if (faults := report.faults_table()) is not None:
        output.print(faults)
    for stats in report.stats.values():
        for overflow in stats.overflows:
            console.print(f"[yellow]{stats.name}: {overflow}[/]")
    if json_path is not None:
        json_path.write_bytes(orjson.dumps({s.name: s.summary() for s in report.stats.values()},
                                           option=orjson.OPT_INDENT_2))  # fmt: skip
    _exit_for(errors)


@click.command("verify", context_settings=_ENV)
@_upstream_options
def verify_command(source: str, email: str, token: str | None, password: str | None, bearer: str | None,
                   target_url: str, streams: list[str], start_time: int) -> None:  # fmt: skip
    """Compare the mirror in TARGET with the upstream, stream by stream; exit 1 on any difference."""
    # verify loads SQLAlchemy (its scratch copy is a SQLite target), which a jsonl or parquet sync goes without
    from deskstream.sync.verify import check_stream, table_of

    report = Report(streams, console, live=False)
    upstream, target = _connect(source, email, token, password, bearer, target_url, report, existing=True)
    try:
        with console.status("reading the upstream…"):
            checks = [check_stream(upstream, target, name, start_time) for name in streams]
    except SyncError as error:
        raise SystemExit(_fail(str(error), 3 if isinstance(error, AuthRefused) else 1)) from None
    finally:
        upstream.close()
        target.close()
    output.print(table_of(checks))
    if not all(c.ok for c in checks):
        raise SystemExit(1)
