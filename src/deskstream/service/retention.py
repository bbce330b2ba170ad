"""The change log's retention: every server process drops, now and then, the changes older than ``--retention``.

Every write logs its changes whether or not the feed is served (``--change-sequence`` may be turned on later, and
then serves what is in the window), so the pruning runs in every server, not on feed requests. It is storage only:
the feed refuses a ``since`` whose next change has left the window whether it is pruned yet or not. Several
processes may prune at once: each batch runs under the stamp lock, and a batch finds what the others left.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from deskstream.clock import Clock
from deskstream.service.periodic import Periodic
from deskstream.store import Store

log = logging.getLogger("deskstream.retention")

#: Seconds between two prunings in one process (the first comes a few seconds after start).
EVERY = 600.0
FIRST = 5.0


def pruner(store: Store, clock: Clock, retention: int) -> Periodic:
    """The pruner's thread: the changes that left the window, every :data:`EVERY` seconds."""
    return Periodic("change-log-pruner", lambda: store.prune_changes(clock.now() - retention), EVERY, FIRST, log)


@asynccontextmanager
async def retention_lifespan(app: Any) -> AsyncIterator[None]:
    """Part of the application's lifespan: the pruner runs while the server serves."""
    with pruner(app.state.store, app.state.clock, app.state.settings.retention):
        yield
