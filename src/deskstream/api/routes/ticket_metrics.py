"""Zendesk's Ticket Metrics API: ``/tickets/{id}/metrics``, ``/ticket_metrics`` and ``/ticket_metrics/{id}``.

The same metric set as the ``metric_sets`` sideload (:mod:`deskstream.export.metrics`), folded from the audits
when asked. A ticket's metric set has the ticket's id, so ``/ticket_metrics/{id}`` takes either. Agents only, as in
Zendesk; deleted tickets have no metrics (404), as Zendesk's API returns none for them.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from deskstream.api.deps import Agent, DeskDep, RecordId
from deskstream.api.errors import ERRORS
from deskstream.api.listing import Decorate, list_page
from deskstream.api.responses import item_response, raw_response
from deskstream.api.routes.tickets import _visible_ticket
from deskstream.export import sideloads
from deskstream.service import Desk
from deskstream.service.auth import Principal
from deskstream.store.scans import ListQuery, Scans

router = APIRouter(responses=ERRORS, prefix="/api/v2", tags=["ticket metrics"])


def _one(request: Request, desk: Desk, principal: Principal, ticket_id: int) -> Response:
    ticket = orjson.loads(_visible_ticket(desk, principal, ticket_id))
    with desk.store.scanning() as scans:
        (metric_set,) = sideloads.metric_sets(scans, [ticket])
    return item_response(request, "ticket_metric", metric_set)


@router.get("/tickets/{ticket_id}/metrics")
def ticket_metric_of_ticket(ticket_id: RecordId, request: Request, desk: DeskDep, principal: Agent) -> Response:
    """The ticket's metric set."""
    return _one(request, desk, principal, ticket_id)


@router.get("/ticket_metrics/{ticket_metric_id}")
def show_ticket_metric(ticket_metric_id: RecordId, request: Request, desk: DeskDep, principal: Agent) -> Response:
    """A metric set by its id (which is its ticket's id)."""
    return _one(request, desk, principal, ticket_metric_id)


@router.get("/ticket_metrics")
def list_ticket_metrics(request: Request, desk: DeskDep, _: Agent) -> Response:
    """Every live ticket's metric set, in ticket id order, with Zendesk's list pagination."""
    query = ListQuery("tickets", live_only=True)
    with desk.store.scanning() as scans:
        body = list_page(request, scans, query, "ticket_metrics", decorate=_metric_sets(scans))
    return raw_response(request, body)


def _metric_sets(scans: Scans) -> Decorate:
    """A page of tickets becomes the page of their metric sets (one query for the page)."""
    def decorate(items: list[bytes]) -> tuple[list[bytes], dict[str, list[bytes]]]:
        return sideloads.metric_sets(scans, [orjson.loads(item) for item in items]), {}

    return decorate
