"""Users, organizations and groups (spec/model.md § Resources)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from deskstream.api.deps import Admin, Agent, AnyUser, DeskDep, RecordId, actor_for
from deskstream.api.errors import ERRORS, WITH_BODY
from deskstream.api.listing import list_page
from deskstream.api.responses import item_response, json_response, raw_response
from deskstream.domain.people import GroupInput, OrganizationInput, UserInput
from deskstream.exceptions import Forbidden, NotFound
from deskstream.store.scans import ListQuery

router = APIRouter(responses=ERRORS, prefix="/api/v2", tags=["users, organizations, groups"])


class UserBody(BaseModel):
    user: UserInput


class OrganizationBody(BaseModel):
    organization: OrganizationInput


class GroupBody(BaseModel):
    group: GroupInput


def _show(request: Request, desk: DeskDep, table: str, key: str, record_id: int) -> Response:
    with desk.store.scanning() as scans:
        row = scans.record(table, record_id)
    if row is None or row.deleted_at is not None:
        raise NotFound()
    return item_response(request, key, row.json)


def _list_route(table: str) -> None:
    """``GET /<table>``: the records not deleted, with Zendesk's pagination; for agents and admins.

    The three lists differ only in their table (which is also Zendesk's list key), so one endpoint serves each.
    """

    def endpoint(request: Request, desk: DeskDep, _: Agent) -> Response:
        with desk.store.scanning() as scans:
            return raw_response(request, list_page(request, scans, ListQuery(table, live_only=True), table))

    endpoint.__name__ = f"list_{table}"
    router.add_api_route(f"/{table}", endpoint, methods=["GET"], name=f"list_{table}")


for _table in ("users", "organizations", "groups"):
    _list_route(_table)


# users ----------------------------------------------------------------------------------------------------------
@router.get("/users/me")
def me(request: Request, principal: AnyUser) -> Response:
    return json_response(request, {"user": principal.user})


@router.post("/users", status_code=201, responses=WITH_BODY)
def create_user(body: UserBody, request: Request, desk: DeskDep, principal: Agent) -> Response:
    if body.user.role in ("admin", "agent") and not principal.is_admin:
        raise Forbidden()
    return json_response(request, {"user": desk.people.create_user(body.user)}, 201)


@router.get("/users/{user_id}")
def show_user(user_id: RecordId, request: Request, desk: DeskDep, principal: AnyUser) -> Response:
    if not principal.is_agent and user_id != principal.user_id:
        raise Forbidden()
    return _show(request, desk, "users", "user", user_id)


@router.put("/users/{user_id}", responses=WITH_BODY)
def update_user(user_id: RecordId, body: UserBody, request: Request, desk: DeskDep, principal: Agent) -> Response:
    """Agents may edit end users and themselves, never an admin or another agent, nor anyone's role or password.

    Otherwise an agent could set an admin's password or email and sign in as that admin.
    """
    if not principal.is_admin:
        own = user_id == principal.user_id
        if body.user.role is not None or (body.user.password is not None and not own):
            raise Forbidden()
        with desk.store.scanning() as scans:
            row = scans.record("users", user_id)
        if row is not None and not own and orjson.loads(row.json)["role"] != "end-user":
            raise Forbidden()
    user = desk.people.update_user(user_id, body.user)
    if body.user.password is not None:
        desk.auth.verified.clear()
    return json_response(request, {"user": user})


@router.delete("/users/{user_id}", responses=WITH_BODY)
def delete_user(user_id: RecordId, request: Request, desk: DeskDep, principal: Admin) -> Response:
    user = desk.people.delete_user(user_id, actor_for(request, principal))
    desk.auth.verified.clear()
    return json_response(request, {"user": user})


# organizations --------------------------------------------------------------------------------------------------
@router.post("/organizations", status_code=201, responses=WITH_BODY)
def create_organization(body: OrganizationBody, request: Request, desk: DeskDep, _: Agent) -> Response:
    return json_response(request, {"organization": desk.people.create_organization(body.organization)}, 201)


@router.get("/organizations/{org_id}")
def show_organization(org_id: RecordId, request: Request, desk: DeskDep, principal: AnyUser) -> Response:
    if not principal.is_agent and principal.user.get("organization_id") != org_id:
        raise Forbidden()
    return _show(request, desk, "organizations", "organization", org_id)


@router.put("/organizations/{org_id}", responses=WITH_BODY)
def update_organization(
    org_id: RecordId, body: OrganizationBody, request: Request, desk: DeskDep, _: Agent
) -> Response:
    org = desk.people.update_record("organizations", org_id, body.organization)
    return json_response(request, {"organization": org})


@router.delete("/organizations/{org_id}", status_code=204, responses=WITH_BODY)
def delete_organization(org_id: RecordId, desk: DeskDep, _: Admin) -> Response:
    desk.people.delete_record("organizations", org_id)
    return Response(status_code=204)


# groups ---------------------------------------------------------------------------------------------------------
@router.post("/groups", status_code=201, responses=WITH_BODY)
def create_group(body: GroupBody, request: Request, desk: DeskDep, _: Admin) -> Response:
    return json_response(request, {"group": desk.people.create_group(body.group)}, 201)


@router.get("/groups/{group_id}")
def show_group(group_id: RecordId, request: Request, desk: DeskDep, _: Agent) -> Response:
    return _show(request, desk, "groups", "group", group_id)


@router.put("/groups/{group_id}", responses=WITH_BODY)
def update_group(group_id: RecordId, body: GroupBody, request: Request, desk: DeskDep, _: Admin) -> Response:
    return json_response(request, {"group": desk.people.update_record("groups", group_id, body.group)})


@router.delete("/groups/{group_id}", status_code=204, responses=WITH_BODY)
def delete_group(group_id: RecordId, desk: DeskDep, _: Admin) -> Response:
    desk.people.delete_record("groups", group_id)
    return Response(status_code=204)
