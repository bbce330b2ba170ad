"""Tickets: ``/api/v2/tickets`` and its audits, comments, bulk endpoints and job statuses (spec/model.md)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from deskstream.api.deps import Agent, AnyUser, DeskDep, RecordId, actor_for
from deskstream.api.errors import ERRORS, SAFE_UPDATE, WITH_BODY
from deskstream.api.listing import Decorate, list_page
from deskstream.api.responses import item_response, json_response, raw_response
from deskstream.base_url import URL_BASE
from deskstream.domain.tickets import TicketInput
from deskstream.domain.timefmt import iso
from deskstream.domain.validation import MAX_ID, Text, is_id
from deskstream.exceptions import BadRequest, Forbidden, NotFound
from deskstream.export import sideloads
from deskstream.export.params import parse_includes
from deskstream.service.auth import Principal
from deskstream.store.scans import ListQuery, Scans

router = APIRouter(responses=ERRORS, prefix="/api/v2", tags=["tickets"])


class TicketBody(BaseModel):
    ticket: TicketInput


class TicketsBody(BaseModel):
    tickets: list[TicketInput] = Field(min_length=1, max_length=100)


def _visible_ticket(desk: Any, principal: Principal, ticket_id: int) -> bytes:
    """The ticket's stored JSON if this caller may read it; deleted tickets and their children are 404."""
    with desk.store.scanning() as scans:
        row = scans.record("tickets", ticket_id)
    if row is None or row.deleted_at is not None:
        raise NotFound()
    if not principal.is_agent and row.requester_id != principal.user_id:
        raise Forbidden()
    return bytes(row.json)


def _includes(request: Request, principal: Principal) -> frozenset[str]:
    """``include=slas,metric_sets`` for agents; end users see their tickets without SLA data."""
    if not principal.is_agent:
        return frozenset()
    return parse_includes(request.query_params.get("include")) & set(sideloads.TICKET_API)


def _decorate(scans: Scans, includes: frozenset[str], now: int) -> Decorate | None:
    if not includes:
        return None

    def decorate(items: list[bytes]) -> tuple[list[bytes], dict[str, list[bytes]]]:
        loaded = sideloads.for_ticket_api(scans, items, includes, now)
        return loaded.items, loaded.arrays

    return decorate


@router.post("/tickets", status_code=201, responses=WITH_BODY)
def create_ticket(body: TicketBody, request: Request, desk: DeskDep, principal: AnyUser) -> Response:
    ticket = desk.tickets.create(body.ticket, actor_for(request, principal))
    return json_response(request, {"ticket": ticket}, 201, {"Location": f"/api/v2/tickets/{ticket['id']}.json"})


@router.get("/tickets")
def list_tickets(request: Request, desk: DeskDep, principal: AnyUser) -> Response:
    own = () if principal.is_agent else (("requester_id", principal.user_id),)
    query = ListQuery("tickets", live_only=True, equals=own)
    includes = _includes(request, principal)
    with desk.store.scanning() as scans:
        decorate = _decorate(scans, includes, desk.clock.now())
        return raw_response(request, list_page(request, scans, query, "tickets", decorate=decorate))


@router.get("/tickets/{ticket_id}")
def show_ticket(ticket_id: RecordId, request: Request, desk: DeskDep, principal: AnyUser) -> Response:
    body, includes = _visible_ticket(desk, principal, ticket_id), _includes(request, principal)
    if not includes:
        return item_response(request, "ticket", body)
    with desk.store.scanning() as scans:
        loaded = sideloads.for_ticket_api(scans, [body], includes, desk.clock.now())
    return item_response(request, "ticket", loaded.items[0], loaded.arrays)


@router.put("/tickets/update_many", responses=WITH_BODY)
def update_many(
    body: TicketBody, request: Request, desk: DeskDep, principal: AnyUser, ids: str = Query(...)
) -> Response:
    """One bulk change: every ticket stamped in the same second, as a macro or a bulk edit in Zendesk."""
    if not principal.is_agent:
        raise Forbidden()
    try:
        ticket_ids = [int(part) for part in ids.split(",") if part.strip()]
    except ValueError:
        raise BadRequest("ids must be a comma-separated list of ticket ids") from None
    if not all(is_id(ticket_id) for ticket_id in ticket_ids):
        raise BadRequest(f"ids must be ticket ids, from 1 to {MAX_ID}")
    if not ticket_ids or len(ticket_ids) > 100:
        raise BadRequest("ids must name between 1 and 100 tickets")
    tickets = desk.tickets.update_many(ticket_ids, body.ticket, actor_for(request, principal))
    results = [{"id": t["id"], "action": "update", "success": True, "status": "Updated"} for t in tickets]
    return _job(request, desk, results)


@router.post("/tickets/create_many", responses=WITH_BODY)
def create_many(body: TicketsBody, request: Request, desk: DeskDep, principal: AnyUser) -> Response:
    if not principal.is_agent:
        raise Forbidden()
    tickets = desk.tickets.create_many(body.tickets, actor_for(request, principal))
    results = [{"id": t["id"], "index": i, "action": "create", "success": True, "status": "Created"}
               for i, t in enumerate(tickets)]
    return _job(request, desk, results)


def _job(request: Request, desk: Any, results: list[dict[str, Any]]) -> Response:
    """Bulk work completes before we answer, so the job status is born ``completed`` (Zendesk's shape)."""
    job_id = uuid.uuid4().hex
    now = desk.clock.now()
    job = {
        "id": job_id,
        "url": f"{URL_BASE}/api/v2/job_statuses/{job_id}.json",
        "total": len(results),
        "progress": len(results),
        "status": "completed",
        "message": f"Completed at {iso(now)}",
        "results": results,
    }
    with desk.store.writing() as w:
        w.save_job_status(job, now)
    return json_response(request, {"job_status": job})


@router.get("/job_statuses/{job_id}")
def show_job_status(job_id: Text, request: Request, desk: DeskDep, principal: Agent) -> Response:
    """Agents only, as the bulk writes that make a job are (a job's results name other people's tickets)."""
    with desk.store.scanning() as scans:
        body = scans.job_status(job_id)
    if body is None:
        raise NotFound()
    return item_response(request, "job_status", body)


@router.put("/tickets/{ticket_id}", responses=SAFE_UPDATE)
def update_ticket(
    ticket_id: RecordId, body: TicketBody, request: Request, desk: DeskDep, principal: AnyUser
) -> Response:
    ticket, audit = desk.tickets.update_with_audit(ticket_id, body.ticket, actor_for(request, principal))
    return json_response(request, {"ticket": ticket, "audit": audit} if audit else {"ticket": ticket})


@router.delete("/tickets/{ticket_id}", status_code=204, responses=WITH_BODY)
def delete_ticket(ticket_id: RecordId, request: Request, desk: DeskDep, principal: AnyUser) -> Response:
    if not principal.is_agent:
        raise Forbidden()
    desk.tickets.delete(ticket_id, actor_for(request, principal))
    return Response(status_code=204)


@router.get("/tickets/{ticket_id}/audits")
def ticket_audits(ticket_id: RecordId, request: Request, desk: DeskDep, principal: AnyUser) -> Response:
    """The ticket's audits in Zendesk's audits-API form (``events`` with ``field_name``/``value``)."""
    if not principal.is_agent:
        raise Forbidden()
    _visible_ticket(desk, principal, ticket_id)
    query = ListQuery("ticket_events", column="audit_json", equals=(("ticket_id", ticket_id),))
    with desk.store.scanning() as scans:
        return raw_response(request, list_page(request, scans, query, "audits"))


@router.get("/tickets/{ticket_id}/comments")
def ticket_comments(ticket_id: RecordId, request: Request, desk: DeskDep, principal: AnyUser) -> Response:
    _visible_ticket(desk, principal, ticket_id)
    query = ListQuery("comments", equals=(("ticket_id", ticket_id),), public_only=not principal.is_agent)
    with desk.store.scanning() as scans:
        return raw_response(request, list_page(request, scans, query, "comments"))
