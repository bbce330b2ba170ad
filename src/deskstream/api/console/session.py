"""Who may use the console: admins, by the API's own credentials or by a session cookie from the sign-in form.

A request with an ``Authorization`` header is authenticated exactly as the API authenticates it (basic password,
basic token, bearer; :func:`deskstream.api.deps.current_user`). Otherwise the ``deskstream_console`` cookie must hold
a session signed with the database's key (:mod:`deskstream.service.console_sessions`) naming a live admin. Anyone
else is refused: 401 (a browser is sent to the sign-in form) or, signed in but not an admin, 403.

The sign-in form checks the email and password as basic auth does, through the same sign-in throttle, and answers
every failure with the same words, whether the email exists or not. The cookie is ``HttpOnly``, ``SameSite=Strict``
(``Secure`` over HTTPS) and scoped to the console's path; signing out clears it and ends the session in the
database too (:meth:`deskstream.service.console_sessions.ConsoleSessions.sign_out`), so a copy of the cookie is no
good either.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from deskstream.api.console.web import BASE, ConsoleRoute, form_of, page, redirect, same_origin
from deskstream.api.deps import current_user, desk_of
from deskstream.exceptions import Forbidden, RateLimited, Unauthenticated
from deskstream.service.auth import Principal
from deskstream.service.console_sessions import SESSION_SECONDS, ConsoleSessions

COOKIE = "deskstream_console"
#: What a failed sign-in says, whatever failed.
WRONG = "Wrong email or password."

router = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)


def _sessions(request: Request) -> ConsoleSessions:
    sessions: ConsoleSessions = request.app.state.console_sessions
    return sessions


def console_admin(request: Request) -> Principal:
    """The admin using the console (401 or 403 otherwise)."""
    if request.headers.get("authorization"):
        principal = current_user(request)
    else:
        user_id = _sessions(request).user_of(request.cookies.get(COOKIE))
        if user_id is None:
            raise Unauthenticated()
        principal = desk_of(request).auth.principal_of(user_id)
        request.state.principal = principal
    if not principal.is_admin:
        raise Forbidden()
    return principal


ConsoleAdmin = Annotated[Principal, Depends(console_admin)]
SameOrigin = Depends(same_origin)


def _next_page(target: str | None) -> str:
    """Where to go after signing in: a console page, never another site."""
    if target and target.startswith(BASE) and "//" not in target and "\\" not in target:
        return target
    return BASE


@router.get("/login")
def login_form(request: Request) -> Response:
    return page(request, "login.html", next=_next_page(request.query_params.get("next")), email="", error=None)


@router.post("/login", dependencies=[SameOrigin])
async def login(request: Request) -> Response:
    form = await form_of(request)
    email, password, target = form.get("email", "").strip(), form.get("password", ""), _next_page(form.get("next"))
    client = request.client.host if request.client else None
    try:
        principal = await run_in_threadpool(desk_of(request).auth.sign_in, email, password, client)
    except Unauthenticated:
        return page(request, "login.html", 401, next=target, email=email, error=WRONG)
    except RateLimited as refused:
        error = f"Too many failed sign-ins from here; try again in {refused.retry_after} s."
        headers = {"Retry-After": str(refused.retry_after)}
        return page(request, "login.html", 429, headers, next=target, email=email, error=error)
    if not principal.is_admin:
        return page(request, "login.html", 403, next=target, email=email, error="Only admins may use the console.")
    session = await run_in_threadpool(_sessions(request).issue, principal.user_id)
    answer = redirect(target)
    answer.set_cookie(COOKIE, session, max_age=SESSION_SECONDS, path=BASE, httponly=True, samesite="strict",
                      secure=request.url.scheme == "https")  # fmt: skip
    return answer


@router.post("/logout", dependencies=[SameOrigin])
def logout(request: Request) -> Response:
    _sessions(request).sign_out(request.cookies.get(COOKIE))
    answer = redirect(f"{BASE}/login")
    answer.delete_cookie(COOKIE, path=BASE, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return answer
