"""``deskstream verify``: the mirror against the upstream, stream by stream (spec/sync.md § The user sees).

It reads every stream of the upstream afresh from ``start_time`` and keeps, per id, the newest version served; the
mirror's index gives its own. An id the upstream has and the mirror lacks is *missing*, one only the mirror has is
*extra*, one whose mirrored version is older than the upstream's is *stale*. Run it when nothing writes upstream
(or after the horizon has passed the last write), or it reports the changes the mirror has not fetched yet.

Memory does not grow with the export: the upstream's versions are written, page by page, to a scratch index (a
SQLite file in a temporary directory, the file targets' own index), and the two indexes are compared by walking
both in id order; a difference is counted, and only the first few ids are kept to name.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from rich.table import Table

from deskstream.sync.streams import STREAMS, follow
from deskstream.sync.targets import Pending, Row, Target
from deskstream.sync.targets.sql import SqlTarget
from deskstream.sync.upstream import Upstream

#: How many ids of each kind of difference are named in the report.
SHOWN = 5


@dataclass
class Difference:
    """How many ids differ one way, and the first of them."""

    count: int = 0
    first: list[int] = field(default_factory=list)

    def add(self, record_id: int) -> None:
        self.count += 1
        if len(self.first) < SHOWN:
            self.first.append(record_id)

    def __str__(self) -> str:
        return f"{self.count:,}" + (f" (e.g. {', '.join(map(str, self.first))})" if self.count else "")


@dataclass
class StreamCheck:
    name: str
    upstream: int = 0
    mirror: int = 0
    missing: Difference = field(default_factory=Difference)
    extra: Difference = field(default_factory=Difference)
    stale: Difference = field(default_factory=Difference)

    @property
    def ok(self) -> bool:
        return not (self.missing.count or self.extra.count or self.stale.count)


def check_stream(upstream: Upstream, target: Target, name: str, start_time: int) -> StreamCheck:
    stream = STREAMS[name]
    with tempfile.TemporaryDirectory(prefix="deskstream-verify-") as scratch:
        served = SqlTarget(f"sqlite:///{scratch}/served.db", with_data=False)
        try:
            for page in follow(upstream, stream, {"start_time": start_time}):
                rows = [Row(int(i["id"]), stream.version(i), None, "", "") for i in page.items]
                served.write([Pending(name, rows, {})])  # keeps the newest version of each id
            return compare(name, served.versions(name), target.versions(name))
        finally:
            served.close()


def compare(name: str, served: Iterator[tuple[int, int]], mirrored: Iterator[tuple[int, int]]) -> StreamCheck:
    """Two id-ordered walks of ``(id, version)``, merged."""
    check = StreamCheck(name)
    up, down = next(served, None), next(mirrored, None)
    while up is not None or down is not None:
        if up is not None and (down is None or up[0] < down[0]):
            check.missing.add(up[0])
            check.upstream += 1
            up = next(served, None)
        elif down is not None and (up is None or down[0] < up[0]):
            check.extra.add(down[0])
            check.mirror += 1
            down = next(mirrored, None)
        elif up is not None and down is not None:
            if down[1] < up[1]:
                check.stale.add(up[0])
            check.upstream += 1
            check.mirror += 1
            up, down = next(served, None), next(mirrored, None)
    return check


def table_of(checks: list[StreamCheck]) -> Table:
    table = Table(title="deskstream verify")
    for column in ("stream", "upstream", "mirror", "missing", "extra", "stale", ""):
        table.add_column(column, justify="left" if column in ("stream", "") else "right")
    for c in checks:
        table.add_row(c.name, f"{c.upstream:,}", f"{c.mirror:,}", str(c.missing), str(c.extra), str(c.stale),
                      "ok" if c.ok else "DIFFERS")  # fmt: skip
    return table
