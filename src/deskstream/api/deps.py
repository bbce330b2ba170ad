"""Request dependencies: the desk, the authenticated caller and the role checks of spec/model.md § Resources."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from deskstream.domain.validation import MAX_ID
from deskstream.exceptions import Forbidden
from deskstream.service import Actor, Desk
from deskstream.service.auth import Principal


def desk_of(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


async def get_desk(request: Request) -> Desk:
    """The app's desk (``async`` as :func:`agent` is: nothing here waits)."""
    return desk_of(request)


def current_user(request: Request) -> Principal:
    """Any authenticated user; 401 otherwise (429 while the caller's failed sign-in budget is spent).

    The client address is the connection's peer (the ASGI ``client``), never a header a client could write.
    """
    client = request.client.host if request.client else None
    principal = desk_of(request).auth.authenticate(request.headers.get("authorization"), client)
    request.state.principal = principal
    return principal


async def agent(principal: Annotated[Principal, Depends(current_user)]) -> Principal:
    """Agents and admins; 403 for end users. (``async``: a check with no I/O runs on the event loop, where a plain
    function would cost a hop to a worker thread and back on every request.)"""
    if not principal.is_agent:
        raise Forbidden()
    return principal


def require_admin(principal: Principal) -> Principal:
    """Admins only; 403 for agents and end users."""
    if not principal.is_admin:
        raise Forbidden()
    return principal


async def admin(principal: Annotated[Principal, Depends(current_user)]) -> Principal:
    """Admins only (``async`` as :func:`agent` is)."""
    return require_admin(principal)


def actor_for(request: Request, principal: Principal) -> Actor:
    """The audit's author and ``metadata.system``: the user and the client and address the request came from."""
    client = request.client.host if request.client else None
    return Actor(principal.user_id, principal.role, "api", request.headers.get("user-agent"), client)


DeskDep = Annotated[Desk, Depends(get_desk)]
AnyUser = Annotated[Principal, Depends(current_user)]
Agent = Annotated[Principal, Depends(agent)]
Admin = Annotated[Principal, Depends(admin)]
#: A record id in a path: ``/tickets/abc`` or an id past 64 bits is a 400, never a database error.
RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]
