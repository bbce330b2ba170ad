"""``deskstream verify``: the mirror against the upstream, stream by stream (spec/sync.md § The user sees).

It reads every stream of the upstream afresh from ``start_time`` and keeps, per id, the newest version served; the
mirror's index gives its own. An id the upstream has and the mirror lacks is *missing*, one only the mirror has is
*extra*, one whose mirrored version is older than the upstream's is *stale*. Run it when nothing writes upstream
(or after the horizon has passed the last write), or it reports the changes the mirror has not fetched yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.table import Table

from deskstream.sync.streams import STREAMS, follow
from deskstream.sync.targets import Target
from deskstream.sync.upstream import Upstream

#: How many ids of each kind of difference are named in the report.
SHOWN = 5


@dataclass
class StreamCheck:
    name: str
    upstream: int = 0
    mirror: int = 0
    missing: list[int] = field(default_factory=list)
    extra: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.stale)


def check_stream(upstream: Upstream, target: Target, name: str, start_time: int) -> StreamCheck:
    stream = STREAMS[name]
    served: dict[int, int] = {}
    for page in follow(upstream, stream, {"start_time": start_time}):
        for item in page.items:
            version = stream.version(item)
            if version >= served.get(int(item["id"]), version):
                served[int(item["id"])] = version
    mirrored = dict(target.versions(name))
    check = StreamCheck(name, len(served), len(mirrored))
    check.missing = sorted(i for i in served if i not in mirrored)
    check.extra = sorted(i for i in mirrored if i not in served)
    check.stale = sorted(i for i, v in served.items() if i in mirrored and mirrored[i] < v)
    return check


def table_of(checks: list[StreamCheck]) -> Table:
    table = Table(title="deskstream verify")
    for column in ("stream", "upstream", "mirror", "missing", "extra", "stale", ""):
        table.add_column(column, justify="left" if column in ("stream", "") else "right")

    def named(ids: list[int]) -> str:
        return f"{len(ids):,}" + (f" (e.g. {', '.join(map(str, ids[:SHOWN]))})" if ids else "")

    for c in checks:
        table.add_row(c.name, f"{c.upstream:,}", f"{c.mirror:,}", named(c.missing), named(c.extra), named(c.stale),
                      "ok" if c.ok else "DIFFERS")  # fmt: skip
    return table
