"""The ``deskstream`` command's entry point: importing the command takes most of a second, and a Ctrl-C in that
second would otherwise print a traceback (the command's own handling, in ``cli``, is not loaded yet)."""

from __future__ import annotations

import signal
import sys
from types import FrameType


def _interrupted(_number: int, _frame: FrameType | None) -> None:
    sys.stderr.write("error: interrupted\n")
    raise SystemExit(130)


def main() -> None:
    previous = signal.signal(signal.SIGINT, _interrupted)
    from deskstream.cli import main as run

    signal.signal(signal.SIGINT, previous)
    run()
