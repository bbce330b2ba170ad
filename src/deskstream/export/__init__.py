"""Incremental export pages built on stored JSON: the hot path (spec/exports.md).

No HTTP here. The routes (``deskstream.api.routes.incremental``) parse nothing themselves: they hand the query
parameters to :mod:`.params`, ask :mod:`.pages` for one page (one indexed range scan, stored bytes concatenated),
and frame it with :mod:`.framing`. :mod:`.cursor` is Zendesk's cursor form, :mod:`.horizon` the one-minute rule,
:mod:`.streams` the table of exported streams and :mod:`.sideloads` the ``include=`` extras.
"""

from deskstream.export.cursor import Position, decode_cursor, encode_cursor
from deskstream.export.horizon import HORIZON_SECONDS, visible_until
from deskstream.export.pages import Page, cursor_page, time_page
from deskstream.export.streams import STREAMS, Selection, Stream

__all__ = [
    "HORIZON_SECONDS",
    "STREAMS",
    "Page",
    "Position",
    "Selection",
    "Stream",
    "cursor_page",
    "decode_cursor",
    "encode_cursor",
    "time_page",
    "visible_until",
]
