"""The console's views of what the desk holds: the timeline of changes per second, and the tickets (a page of
them; one with its audits, their events, and its SLA metric events).

Records are read as the API reads them (``store.scanning`` and :class:`~deskstream.store.scans.ListQuery`), deleted
tickets included: the console shows what an export serves, and an export serves deleted tickets.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from deskstream.api.console.session import ConsoleAdmin
from deskstream.api.console.svg import timeline_chart
from deskstream.api.console.web import BASE, ConsoleRoute, page, redirect, whole_number
from deskstream.domain.timefmt import parse_iso
from deskstream.domain.validation import MAX_ID
from deskstream.exceptions import NotFound
from deskstream.service.timeline import STORM, TimelineService
from deskstream.store.scans import ListQuery

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)

#: The timeline's windows: (query value, seconds, label).
WINDOWS = [("60", 60, "1 minute"), ("600", 600, "10 minutes"), ("3600", 3600, "1 hour"), ("21600", 21_600, "6 hours"),
           ("86400", 86_400, "1 day"), ("604800", 604_800, "7 days"), ("2592000", 2_592_000, "30 days"),
           ("7776000", 7_776_000, "90 days")]  # fmt: skip
#: Tickets a page lists.
PER_PAGE = 50
#: Audits and metric events one ticket's page shows, at most (a ticket of the demo has a few dozen).
CHILDREN = 500


def _end(text: str | None) -> tuple[int | None, str | None]:
    """The timeline's end from the form (Unix seconds or ISO 8601; empty is now), or what is wrong with it."""
    text = (text or "").strip()
    if not text:
        return None, None
    if text.isascii() and text.isdigit() and len(text) < 12:
        return int(text), None
    try:
        return parse_iso(text), None
    except (ValueError, OverflowError, OSError):
        return None, f"End: {text!r} is neither Unix seconds nor an ISO 8601 time; showing the window up to now."


@router.get("/timeline")
def timeline_page(request: Request, _: ConsoleAdmin) -> Response:
    seconds = whole_number(request.query_params.get("window"), 600, 1, WINDOWS[-1][1])
    end, problem = _end(request.query_params.get("end"))
    every_change = request.query_params.get("count") == "all"
    timeline = TimelineService(request.app.state.desk.store, request.app.state.desk.clock).window(seconds, end)
    return page(request, "timeline.html", timeline=timeline, chart=timeline_chart(timeline, every_change),
                windows=WINDOWS, seconds=seconds, end=request.query_params.get("end", ""), problem=problem,
                storm=STORM, every_change=every_change)  # fmt: skip


@router.get("/tickets")
def tickets_page(request: Request, _: ConsoleAdmin) -> Response:
    query = ListQuery("tickets")
    with request.app.state.desk.store.scanning() as scans:
        total = scans.list_count(query)
        pages = max(-(-total // PER_PAGE), 1)
        number = whole_number(request.query_params.get("page"), 1, 1, pages)
        tickets = [orjson.loads(item) for item in scans.list_offset(query, (number - 1) * PER_PAGE, PER_PAGE)]
    return page(request, "tickets.html", tickets=tickets, number=number, pages=pages, total=total)


def _children(scans: Any, table: str, ticket_id: int, column: str = "json") -> list[dict[str, Any]]:
    query = ListQuery(table, column=column, equals=(("ticket_id", ticket_id),))
    return [orjson.loads(item) for item in scans.list_offset(query, 0, CHILDREN)]


@router.get("/tickets/go")
def go_to_ticket(request: Request, _: ConsoleAdmin) -> Response:
    """The "Ticket #" form: that ticket's page (which says when there is none)."""
    wanted = (request.query_params.get("id") or "").strip().lstrip("#")
    return redirect(f"{BASE}/tickets/{quote(wanted, safe='')}" if wanted else f"{BASE}/tickets")


@router.get("/tickets/{ticket_id}")
def ticket_page(ticket_id: str, request: Request, _: ConsoleAdmin) -> Response:
    if not (ticket_id.isascii() and ticket_id.isdigit() and 1 <= int(ticket_id) <= MAX_ID):
        raise NotFound(f"No ticket {ticket_id!r}: a ticket's id is a number from 1 to {MAX_ID}")
    number = int(ticket_id)
    with request.app.state.desk.store.scanning() as scans:
        row = scans.record("tickets", number)
        if row is None:
            raise NotFound(f"No ticket {number}")
        audits = _children(scans, "ticket_events", number, "audit_json")
        metric_events = _children(scans, "ticket_metric_events", number)
    return page(request, "ticket.html", ticket=orjson.loads(row.json), deleted=row.deleted_at is not None,
                audits=audits, metric_events=metric_events, limit=CHILDREN)  # fmt: skip
