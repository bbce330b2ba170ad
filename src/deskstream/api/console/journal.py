"""The console's views of the request journal (:mod:`deskstream.service.journal`): the live journal, the clients
it has seen, and one client's position in each export over time with the anomalies found.

The live journal's rows are a fragment of their own (``/journal/rows``), which the page's script fetches again
every two seconds (``static/console.js``); the filters are the query string, so a filtered view is a link.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from deskstream.api.console.session import ConsoleAdmin
from deskstream.api.console.svg import Point, position_chart
from deskstream.api.console.web import BASE, ConsoleRoute, page
from deskstream.service.journal import Journal

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)

#: Rows the live journal shows at once.
ROWS = 100


def _journal(request: Request) -> Journal:
    journal: Journal = request.app.state.desk.journal
    return journal


def _filters(request: Request) -> tuple[dict[str, Any], list[str]]:
    """The journal's filters from the query string, and what was wrong with any (that filter is then left out)."""
    params, problems = request.query_params, []
    wanted: dict[str, Any] = {}
    if params.get("client"):
        wanted["client"] = params["client"]
    if params.get("path"):
        wanted["path"] = params["path"].strip()
    for name, low, high in (("status", 100, 599), ("before", 1, 2**62)):
        raw = (params.get(name) or "").strip()
        if not raw:
            continue
        if raw.isascii() and raw.isdigit() and low <= int(raw) <= high:
            wanted[name] = int(raw)
        else:
            problems.append(f"{name.capitalize()} must be a number from {low} to {high}; {raw!r} is not.")
    return wanted, problems


def _rows(request: Request) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    wanted, problems = _filters(request)
    entries = _journal(request).entries(limit=ROWS, **wanted)
    return entries, wanted, problems


@router.get("")
def journal_page(request: Request, _: ConsoleAdmin) -> Response:
    entries, wanted, problems = _rows(request)
    clients = _journal(request).clients()
    query = request.url.query
    return page(request, "journal.html", entries=entries, wanted=wanted, problems=problems, clients=clients,
                rows_url=f"{BASE}/journal/rows" + (f"?{query}" if query else ""), on=_journal(request).on,
                live="before" not in wanted, older=entries[-1]["id"] if len(entries) == ROWS else None)  # fmt: skip


@router.get("/journal/rows")
def journal_rows(request: Request, _: ConsoleAdmin) -> Response:
    entries, _wanted, _problems = _rows(request)
    return page(request, "journal_rows.html", entries=entries)


@router.get("/clients")
def clients_page(request: Request, _: ConsoleAdmin) -> Response:
    return page(request, "clients.html", clients=_journal(request).clients(), on=_journal(request).on)


def _points(positions: list[dict[str, Any]], flagged: set[int]) -> list[Point]:
    points = []
    for p in positions:
        label = (f"{p.get('at')}: from {p.get('position')} (status {p.get('status')}), {p.get('items') or 0} items"
                 + (", end of stream" if p.get("end_of_stream") else "")
                 + (" — anomaly" if p.get("request_id") in flagged else ""))  # fmt: skip
        points.append(Point(int(p.get("at_unix_ms") or 0), int(p["position"]), int(p.get("items") or 0),
                            bool(p.get("end_of_stream")), p.get("request_id") in flagged, label))  # fmt: skip
    return points


@router.get("/client")
async def client_page(request: Request, _: ConsoleAdmin) -> Response:
    key = request.query_params.get("key", "")
    journal = _journal(request)

    def read() -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
        return journal.anomalies(client=key, limit=200), journal.positions(key), journal.entries(client=key, limit=50)

    anomalies, positions, entries = await run_in_threadpool(read)
    summary = next((c for c in await run_in_threadpool(journal.clients) if c["client"] == key), None)
    flagged = {a["request_id"] for a in anomalies}
    charts = {stream: position_chart(stream, _points(points, flagged)) for stream, points in sorted(positions.items())}
    return page(request, "client.html", key=key, summary=summary, anomalies=anomalies, charts=charts,
                entries=entries)
