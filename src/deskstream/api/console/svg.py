"""The console's two plots, drawn here as SVG (no charting library, nothing for the browser to fetch):
the timeline's bars of changes per second, and a client's position in an export over time.

Both are plain SVG with classes the console's stylesheet colours, and a ``<title>`` on every mark (a browser shows
it on hover). Text is escaped (:func:`markupsafe.escape`); numbers are formatted here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup, escape

from deskstream.domain.timefmt import iso
from deskstream.service.timeline import STORM, Timeline

WIDTH, HEIGHT = 960, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 34


@dataclass(frozen=True)
class Scale:
    """A linear map from ``[low, high]`` onto ``[start, stop]`` pixels (a zero-width domain maps to the middle)."""

    low: float
    high: float
    start: float
    stop: float

    def __call__(self, value: float) -> float:
        if self.high == self.low:
            return (self.start + self.stop) / 2
        return self.start + (value - self.low) * (self.stop - self.start) / (self.high - self.low)


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _svg(label: str, parts: Iterable[str]) -> Markup:
    head = (f'<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
            f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">')  # fmt: skip
    return Markup(head + "".join(parts) + "</svg>")


def _axes(x: Scale, y: Scale, x_ticks: Sequence[tuple[float, str]], y_ticks: Sequence[tuple[float, str]]) -> list[str]:
    parts = [f'<line class="axis" x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}"/>',
             f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}"/>']  # fmt: skip
    for n, (value, text) in enumerate(x_ticks):
        anchor = "start" if n == 0 else "end" if n == len(x_ticks) - 1 else "middle"  # the ends stay inside
        parts.append(f'<text class="tick" x="{_n(x(value))}" y="{HEIGHT - BOTTOM + 16}" text-anchor="{anchor}">'
                     f"{escape(text)}</text>")  # fmt: skip
    for value, text in y_ticks:
        py = _n(y(value))
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{py}" x2="{WIDTH - RIGHT}" y2="{py}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{py}" text-anchor="end" dy="4">{escape(text)}</text>')
    return parts


def _time_ticks(low: float, high: float, count: int = 5) -> list[tuple[float, str]]:
    """``count`` evenly spaced times, labelled by as much of their ISO form as tells them apart."""
    span = high - low
    shown = ("%H:%M:%S.%f" if span < 10 else "%H:%M:%S" if span <= 86_400 else "%Y-%m-%d %H:%M"
             if span <= 7 * 86_400 else "%Y-%m-%d")  # fmt: skip
    ticks = [low + span * i / (count - 1) for i in range(count)] if span > 0 else [low]
    labels = [datetime.fromtimestamp(t, UTC).strftime(shown) for t in ticks]
    return [(t, label[:-3] if shown.endswith("%f") else label) for t, label in zip(ticks, labels, strict=True)]


def timeline_chart(timeline: Timeline, every_change: bool = False) -> Markup:
    """Each bucket's busiest second as a bar of its ticket versions (``every_change``: of all its changes, the
    ticket versions in front), the largest export page as a line when a bar reaches it, and the horizon: what is
    right of it is not exported yet."""
    top = max(timeline.peak if every_change else timeline.peak_tickets, 1)
    x = Scale(timeline.start, timeline.end, LEFT, WIDTH - RIGHT)
    y = Scale(0, top * 1.1, HEIGHT - BOTTOM, TOP)
    parts = _axes(x, y, _time_ticks(timeline.start, timeline.end), [(0, "0"), (top / 2, _n(top / 2)), (top, str(top))])
    horizon = min(max(timeline.horizon + 1, timeline.start), timeline.end)
    if horizon < timeline.end:
        hx = _n(x(horizon))
        parts.append(f'<rect class="unexported" x="{hx}" y="{TOP}" width="{_n(WIDTH - RIGHT - x(horizon))}" '
                     f'height="{HEIGHT - BOTTOM - TOP}"><title>Not exported yet: stamped after the horizon '
                     f"(now - 60 s)</title></rect>")  # fmt: skip
        parts.append(f'<line class="horizon" x1="{hx}" y1="{TOP}" x2="{hx}" y2="{HEIGHT - BOTTOM}"/>')
        parts.append(f'<text class="label" x="{hx}" y="{TOP + 12}" dx="-4" text-anchor="end">horizon</text>')
    bar = max(x(timeline.start + timeline.width) - x(timeline.start) - 1, 1)
    for bucket in timeline.buckets:
        bx = _n(x(bucket.start))
        when = iso(bucket.start) or ""
        span = f"{when} (+{timeline.width} s)" if timeline.width > 1 else when
        title = (f"{span}: busiest second {bucket.peak} changes, {bucket.peak_tickets} ticket versions; "
                 f"{bucket.changes} changes in all")  # fmt: skip
        storm = " storm" if bucket.peak_tickets > STORM else ""
        bars = [("changes", bucket.peak)] if every_change else []
        bars.append(("tickets", bucket.peak_tickets))
        rects = "".join(f'<rect class="{kind}" x="{bx}" y="{_n(y(value))}" width="{_n(bar)}" '
                        f'height="{_n(y(0) - y(value))}"/>' for kind, value in bars)  # fmt: skip
        parts.append(f'<g class="bucket{storm}"><title>{escape(title)}</title>{rects}</g>')
    if top >= STORM:
        sy = _n(y(STORM))
        parts.append(f'<line class="pageline" x1="{LEFT}" y1="{sy}" x2="{WIDTH - RIGHT}" y2="{sy}"/>')
        parts.append(f'<text class="label" x="{LEFT + 4}" y="{sy}" dy="-4">largest page ({STORM})</text>')
    return _svg("Changes per second", parts)


@dataclass(frozen=True)
class Point:
    """A client's request in one export: when it was made (ms), the position it asked from, what it got."""

    at_ms: int
    position: int
    items: int
    end_of_stream: bool
    flagged: bool
    label: str


def position_chart(stream: str, points: Sequence[Point]) -> Markup:
    """The position each request asked from, over the time it was asked: a line that climbs while the client
    moves forward, stays flat where it is stuck, and ends on a filled dot at ``end_of_stream``. Requests with an
    anomaly are marked."""
    if not points:
        return _svg(f"{stream}: no requests", [])
    times = [p.at_ms / 1000 for p in points]
    positions = [p.position for p in points]
    x = Scale(min(times), max(times), LEFT + 10, WIDTH - RIGHT - 10)
    y = Scale(min(positions), max(positions), HEIGHT - BOTTOM - 10, TOP + 10)
    low, high = min(positions), max(positions)
    y_ticks = [(float(low), (iso(low) or "")[:19]), (float(high), (iso(high) or "")[:19])] if high != low else [
        (float(low), (iso(low) or "")[:19])]  # fmt: skip
    parts = _axes(x, y, _time_ticks(int(min(times)), int(max(times)) + 1), [])
    for value, text in y_ticks:
        parts.append(f'<text class="tick" x="{LEFT + 4}" y="{_n(y(value))}" dy="-4">{escape(text)}</text>')
    line = " ".join(f"{_n(x(t))},{_n(y(p))}" for t, p in zip(times, positions, strict=True))
    parts.append(f'<polyline class="progress" points="{line}"/>')
    for t, point in zip(times, points, strict=True):
        kind = "flagged" if point.flagged else "done" if point.end_of_stream else "page"
        parts.append(f'<circle class="{kind}" cx="{_n(x(t))}" cy="{_n(y(point.position))}" r="4">'
                     f"<title>{escape(point.label)}</title></circle>")  # fmt: skip
    return _svg(f"{stream}: position over time", parts)
