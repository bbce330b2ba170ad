"""``deskstream wait URL``: for scripts and CI, until a server answers. It needs httpx and nothing of the server."""

from __future__ import annotations

import time

import click

from deskstream.cli.common import ENV


@click.command(context_settings=ENV)
@click.argument("url")
@click.option("--timeout", type=click.FloatRange(0), default=30.0, show_default=True,
              help="Seconds to keep trying before giving up with exit code 1.")
def wait(url: str, timeout: float) -> None:
    """Wait until a server answers at URL (any HTTP status below 500); exit 0, or 1 after --timeout seconds.

    For scripts and CI: start `deskstream serve` in the background, then `deskstream wait http://127.0.0.1:8000`
    before the first request.
    """
    import httpx

    if not url.startswith(("http://", "https://")):
        raise click.BadParameter(f"expected an http:// or https:// URL, not {url!r}", param_hint="'URL'")
    started = time.monotonic()
    last = "no answer"
    while True:
        left = started + timeout - time.monotonic()
        try:
            status = httpx.get(url, timeout=max(0.1, min(5.0, left))).status_code
            if status < 500:
                click.echo(f"{url} answered {status} after {time.monotonic() - started:.1f}s", err=True)
                return
            last = f"it answered {status}"
        except httpx.HTTPError as error:
            last = str(error) or type(error).__name__
        if time.monotonic() - started >= timeout:
            raise click.ClickException(f"{url} did not answer within {timeout:g}s ({last})")
        time.sleep(min(0.2, max(0.0, left)))
