"""The request journal over HTTP (docs/api.md § Request journal): admins only, like all of ``/_deskstream/``.

``GET /_deskstream/requests`` lists entries newest first (``{"requests", "count", "next_page", "journal_size"}``),
filtered by ``client`` (exact), ``path`` (a prefix), ``status``, ``since``/``until`` (unix seconds, inclusive),
``per_page`` at most 1000 a page, older pages by ``before`` (an entry id) as ``next_page`` links them.
``/anomalies`` lists what clients did wrong, newest first; ``/clients`` every client the journal holds, with where
it stands in each export. With ``--journal-size 0`` the journal is off: every list is empty and ``journal_size`` 0.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from deskstream.api.deps import Admin, DeskDep
from deskstream.api.errors import ERRORS
from deskstream.api.responses import json_response, link
from deskstream.exceptions import BadRequest

router = APIRouter(responses=ERRORS, prefix="/_deskstream/requests", tags=["deskstream"])

MAX_PER_PAGE = 1000
DEFAULT_PER_PAGE = 100
#: The largest value an integer filter may take (64-bit signed columns).
_MAX = 2**63 - 1
#: The latest second ``since``/``until`` may name: the journal compares them as milliseconds in those columns.
_MAX_SECOND = _MAX // 1000 - 1


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_CLIENT = _param("client", "A client as the journal names it: its User-Agent, then ` #` and its user id when it "
                 "signed in (`zenpy/2.0.56 #5`)", {"type": "string"})
_PER_PAGE = _param("per_page", f"Entries a page, 1 to {MAX_PER_PAGE} (default {DEFAULT_PER_PAGE})",
                   {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE})
LISTED: dict[str, Any] = {"parameters": [
    _CLIENT,
    _param("path", "Only paths that start with this", {"type": "string"}),
    _param("status", "Only answers with this HTTP status", {"type": "integer", "minimum": 100, "maximum": 599}),
    _param("since", "Only requests that arrived at or after this unix second",
           {"type": "integer", "minimum": 0, "maximum": _MAX_SECOND}),
    _param("until", "Only requests that arrived at or before this unix second",
           {"type": "integer", "minimum": 0, "maximum": _MAX_SECOND}),
    _PER_PAGE,
    _param("before", "Only entries older than this entry id (next_page sets it)", {"type": "integer", "minimum": 1}),
]}


def _int(request: Request, name: str, low: int, high: int = _MAX) -> int | None:
    """An optional whole-number parameter; anything but a number from ``low`` to ``high`` is a 400."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    value = raw.strip()
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}")
    return int(value)


def _per_page(request: Request) -> int:
    per_page = _int(request, "per_page", 1, MAX_PER_PAGE)
    return DEFAULT_PER_PAGE if per_page is None else per_page


@router.get("", openapi_extra=LISTED)
def list_requests(request: Request, desk: DeskDep, _: Admin) -> Response:
    """The journal's entries, newest first: who asked what, the answer, the export position, the anomalies."""
    per_page = _per_page(request)
    query = request.query_params
    entries = desk.journal.entries(
        client=query.get("client") or None, path=query.get("path") or None, status=_int(request, "status", 100, 599),
        since=_int(request, "since", 0, _MAX_SECOND), until=_int(request, "until", 0, _MAX_SECOND), limit=per_page,
        before=_int(request, "before", 1),
    )
    more = len(entries) == per_page
    return json_response(request, {
        "requests": entries,
        "count": len(entries),
        "next_page": link(request, {"before": str(entries[-1]["id"])}) if more else None,
        "journal_size": desk.journal.size,
    })


@router.get("/anomalies", openapi_extra={"parameters": [_CLIENT, _PER_PAGE]})
def list_anomalies(request: Request, desk: DeskDep, _: Admin) -> Response:
    """What clients did wrong in the exports (repeated pages, stalls, early retries, skips, early stops)."""
    found = desk.journal.anomalies(client=request.query_params.get("client") or None, limit=_per_page(request))
    return json_response(request, {"anomalies": found, "count": len(found), "journal_size": desk.journal.size})


@router.get("/clients")
def list_clients(request: Request, desk: DeskDep, _: Admin) -> Response:
    """Every client in the journal, the most recent first: its requests, its place in each export, its anomalies."""
    clients = desk.journal.clients()
    return json_response(request, {"clients": clients, "count": len(clients), "journal_size": desk.journal.size})
