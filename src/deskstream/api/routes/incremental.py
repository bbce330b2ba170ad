"""Zendesk's Incremental Exports (spec/exports.md): time-based, cursor-based and sample pages of every stream.

Each handler admits the request (:func:`deskstream.api.ratelimit.admit_export`: the caller, an admin, the budget),
parses the parameters (:mod:`deskstream.export.params`), reads one page in one read transaction
(:mod:`deskstream.export.pages`) and frames the stored bytes (:mod:`deskstream.export.framing`), all in the one
worker-thread hop FastAPI gives a plain route (the handlers take no dependencies, which would cost a hop each); only
``include=`` decodes items. Links are absolute, built from the request's own scheme and Host, and keep every other
parameter of the request (``per_page``, ``include``, ``exclude_deleted``) as Zendesk's do.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from deskstream.api import metrics, recording
from deskstream.api.deps import desk_of
from deskstream.api.errors import ERRORS
from deskstream.api.faults import FAULT_STATE
from deskstream.api.ratelimit import admit_export
from deskstream.api.responses import link, raw_response
from deskstream.exceptions import NotFound
from deskstream.export import sideloads
from deskstream.export.cursor import Position, decode_cursor, encode_cursor
from deskstream.export.framing import frame
from deskstream.export.horizon import check_start_time, visible_until
from deskstream.export.pages import Hidden, Page, cursor_page, page_before, time_page
from deskstream.export.params import parse_flag, parse_includes, parse_per_page, parse_start_time
from deskstream.export.streams import STREAMS, Selection, Stream
from deskstream.store.scans import Scans

router = APIRouter(responses=ERRORS, prefix="/api/v2/incremental", tags=["incremental exports"])

#: Zendesk's sample endpoints answer at most this many items.
SAMPLE_SIZE = 50
#: ``ticket_metric_events`` with ``page[size]``: Zendesk's list cursor pagination, at most this many a page.
MAX_PAGE_SIZE = 100
EMPTY = Page([], None, None, True)

#: ``start_time`` as the description states it; the handlers parse it by hand (``export.params``) to take every
#: form clients send: ``1704067200``, ``946684800.0``, an ISO 8601 date or date-time.
_START_TIME_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "integer", "minimum": 0}, {"type": "number", "minimum": 0}, {"type": "string"}]
}
#: Time-based exports and samples: ``start_time`` is required.
TIME_BASED: dict[str, Any] = {"parameters": [{
    "name": "start_time", "in": "query", "required": True, "schema": _START_TIME_SCHEMA,
    "description": "Unix seconds (a decimal is floored) or an ISO 8601 date or date-time",
}]}
#: Cursor exports: ``cursor``, or ``start_time`` on the first call; a request with neither is a 400.
CURSOR_BASED: dict[str, Any] = {"parameters": [
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "The previous page's after_cursor; one of cursor and start_time is required"},
    {"name": "start_time", "in": "query", "required": False, "schema": _START_TIME_SCHEMA,
     "description": "Where the first page starts, when there is no cursor; one of cursor and start_time is required"},
]}


def _split_ties(request: Request) -> bool:
    """The ``tie_overflow=stall`` fault (spec/beyond.md): pages cut inside a second, as real Zendesk's may."""
    return bool(request.app.state.faults.plan.stalls_ties)


def _late(request: Request, now: int) -> Hidden | None:
    """The ``late_commit_s`` fault: which items of a page are not visible yet, though the page moves past them."""
    plan = request.app.state.faults.plan
    return (lambda item_id, time: plan.is_late(item_id, time, now)) if plan.late_commit_s else None


def _shaped_by_faults(request: Request, ties: bool, late: Hidden | None) -> None:
    """Name the faults that shaped this page for the request journal, beside any the middleware applied
    (``tie_overflow`` cuts a time-based page inside a second; ``late_commit`` hides items it moves past)."""
    shaped = [name for name, on in (("tie_overflow", ties), ("late_commit", late is not None)) if on]
    if shaped:
        state = request.scope.setdefault("state", {})
        state[FAULT_STATE] = ",".join([*filter(None, [state.get(FAULT_STATE)]), *shaped])


def _start_time(request: Request, stream: Stream, now: int) -> tuple[int, bool]:
    """The request's ``start_time`` and whether it may be served (a too recent one is 422 unless the stream
    answers it with an empty page)."""
    start = parse_start_time(request.query_params.get("start_time"))
    if stream.refuses_recent_start:
        check_start_time(start, now)
    return start, start <= visible_until(now)


def _includes(request: Request, stream: Stream) -> frozenset[str]:
    includes = parse_includes(request.query_params.get("include"))
    if stream.key == "tickets":
        sideloads.refuse_unsupported(includes)
    return includes


def _selection(request: Request, stream: Stream, includes: frozenset[str]) -> Selection:
    return Selection(stream, parse_flag(request.query_params.get("exclude_deleted")), "comment_events" in includes)


def _sideload(
    scans: Scans, stream: Stream, page: Page, includes: frozenset[str], now: int
) -> sideloads.Sideloaded:
    if includes and stream.key == "tickets":
        return sideloads.for_tickets(scans, page.items, includes, now)
    if includes and stream.key == "users":
        return sideloads.for_users(scans, page.items, includes)
    return sideloads.Sideloaded(page.items)


def time_export(request: Request, key: str, sample: bool = False) -> Response:
    """A time-based page: items with ``start_time <= time``, ending on a whole second (spec/exports.md)."""
    admit_export(request, sample)
    if sample and key not in SAMPLED:  # after admission: an unknown path spends the budget as the rest do
        raise NotFound()
    desk = desk_of(request)
    stream = STREAMS[key]
    includes = _includes(request, stream)
    per_page = parse_per_page(request.query_params.get("per_page"))
    if sample:
        per_page = min(per_page, SAMPLE_SIZE)
    now = desk.clock.now()
    start, servable = _start_time(request, stream, now)
    page, loaded = EMPTY, sideloads.Sideloaded([])
    if servable:
        with desk.store.scanning() as scans:
            # A sample has no next page to stall on, so it is cut at 50 even inside a second.
            split_ties = sample or _split_ties(request)
            selection = _selection(request, stream, includes)
            late = _late(request, now)
            page = time_page(scans, selection, start, visible_until(now), per_page, split_ties, late)
            loaded = _sideload(scans, stream, page, includes, now)
        _shaped_by_faults(request, split_ties and not sample, late)
    metrics.export_page(request, key, page.count)
    end_time = page.last.time if page.last else start
    if not sample:
        recording.page_served(request, {"end_time": end_time}, page.end_of_stream)
    meta = {
        "count": page.count,
        "end_time": end_time,
        "next_page": None if sample else link(request, {"start_time": str(end_time)}),
        "end_of_stream": page.end_of_stream,
    }
    return raw_response(request, frame(key, loaded.items, meta, loaded.arrays), only_stored=not includes)


def cursor_export(request: Request, key: str) -> Response:
    """A cursor page: items strictly after the cursor's (time, id); ``start_time`` on the first call only."""
    admit_export(request)
    desk = desk_of(request)
    stream = STREAMS[key]
    query = request.query_params
    includes = _includes(request, stream)
    per_page = parse_per_page(query.get("per_page"))
    now = desk.clock.now()
    cursor = query.get("cursor")
    after = decode_cursor(cursor) if cursor else Position(_start_time(request, stream, now)[0], 0)
    with desk.store.scanning() as scans:
        selection = _selection(request, stream, includes)
        late = _late(request, now)
        page = cursor_page(scans, selection, after, visible_until(now), per_page, late)
        loaded = _sideload(scans, stream, page, includes, now)
    _shaped_by_faults(request, False, late)
    metrics.export_page(request, key, page.count)
    after_cursor = encode_cursor(page.last or after)
    recording.page_served(request, {"after_cursor": after_cursor}, page.end_of_stream)
    meta = {
        "after_cursor": after_cursor,
        "after_url": link(request, {"cursor": after_cursor}, drop=("start_time",)),
        "before_cursor": cursor or None,
        "before_url": link(request, {"cursor": cursor}, drop=("start_time",)) if cursor else None,
        "end_of_stream": page.end_of_stream,
    }
    return raw_response(request, frame(key, loaded.items, meta, loaded.arrays), only_stored=not includes)


def metric_events_cursor(request: Request) -> Response:
    """``ticket_metric_events`` with ``page[size]``: Zendesk's list cursor pagination (``meta``, ``links``).

    ``page[after]`` moves forward, ``page[before]`` back; ``has_more`` says whether more lie in that direction.
    """
    admit_export(request)
    desk = desk_of(request)
    stream = STREAMS["ticket_metric_events"]
    query = request.query_params
    size = parse_per_page(query.get("page[size]"), MAX_PAGE_SIZE, MAX_PAGE_SIZE, "page[size]")
    now = desk.clock.now()
    start, servable = _start_time(request, stream, now)
    after, before = query.get("page[after]"), query.get("page[before]")
    backward = bool(before) and not after
    page = EMPTY
    if servable:
        with desk.store.scanning() as scans:
            if backward:
                page = page_before(scans, Selection(stream), decode_cursor(before or ""), start, size)
            else:
                position = decode_cursor(after) if after else Position(start, 0)
                page = cursor_page(scans, Selection(stream), position, visible_until(now), size)
    metrics.export_page(request, stream.key, page.count)
    after_cursor = encode_cursor(page.last) if page.last else None
    if after_cursor and not backward:
        recording.page_served(request, {"after_cursor": after_cursor}, page.end_of_stream)
    before_cursor = encode_cursor(page.first) if page.first else None
    has_more = not page.end_of_stream
    drop = ("page[after]", "page[before]")
    links = {
        "next": link(request, {"page[after]": after_cursor}, drop)
        if after_cursor and (has_more or backward) else None,
        "prev": link(request, {"page[before]": before_cursor}, drop) if before_cursor else None,
    }
    meta = {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": before_cursor}
    return raw_response(request, frame(stream.key, page.items, {"meta": meta, "links": links}), only_stored=True)


# time-based --------------------------------------------------------------------------------------------------------
@router.get("/tickets", openapi_extra=TIME_BASED)
def incremental_tickets(request: Request) -> Response:
    """Tickets changed at or after ``start_time`` (by ``generated_timestamp``), time-based."""
    return time_export(request, "tickets")


@router.get("/ticket_events", openapi_extra=TIME_BASED)
def incremental_ticket_events(request: Request) -> Response:
    """Audit events at or after ``start_time``; ``include=comment_events`` adds each comment as a child event."""
    return time_export(request, "ticket_events")


@router.get("/ticket_metric_events", openapi_extra=TIME_BASED)
def incremental_ticket_metric_events(request: Request) -> Response:
    """SLA metric events at or after ``start_time``; with ``page[size]``, Zendesk's cursor pagination."""
    if "page[size]" in request.query_params:
        return metric_events_cursor(request)
    return time_export(request, "ticket_metric_events")


@router.get("/users", openapi_extra=TIME_BASED)
def incremental_users(request: Request) -> Response:
    """Users changed at or after ``start_time`` (deleted ones with ``active: false``), time-based."""
    return time_export(request, "users")


@router.get("/organizations", openapi_extra=TIME_BASED)
def incremental_organizations(request: Request) -> Response:
    """Organizations changed at or after ``start_time`` (deleted ones with ``deleted_at``), time-based."""
    return time_export(request, "organizations")


# cursor-based ------------------------------------------------------------------------------------------------------
@router.get("/tickets/cursor", openapi_extra=CURSOR_BASED)
def incremental_tickets_cursor(request: Request) -> Response:
    """Tickets in (``generated_timestamp``, id) order after ``cursor`` (or from ``start_time``)."""
    return cursor_export(request, "tickets")


@router.get("/users/cursor", openapi_extra=CURSOR_BASED)
def incremental_users_cursor(request: Request) -> Response:
    """Users in (``updated_at``, id) order after ``cursor`` (or from ``start_time``)."""
    return cursor_export(request, "users")


# samples ------------------------------------------------------------------------------------------------------------
SAMPLED = ("tickets", "ticket_events", "users", "organizations")


@router.get("/{resource}/sample", openapi_extra=TIME_BASED)
def incremental_sample(resource: str, request: Request) -> Response:
    """At most 50 items of a time-based export and no next page (Zendesk's own limit: 10 requests per 20 minutes)."""
    return time_export(request, resource, sample=True)
