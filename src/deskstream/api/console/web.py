"""The console's plumbing: its templates, the route class that turns errors into pages, forms and the CSRF guard.

Every console route is a :class:`ConsoleRoute`: a typed error (:mod:`deskstream.exceptions`) raised anywhere under
it becomes, for a browser (``Accept: text/html``), a page with the error's status (a 401 a redirect to the sign-in
form), and for any other client the API's own Zendesk-shaped JSON (:func:`deskstream.api.errors.render`). Nothing a
form or a query string holds reaches a 500: values are parsed here, and a bad one is the form again with its error.

Forms are ``application/x-www-form-urlencoded``, parsed here (no multipart: the console sends no files). A form
posted from another site is refused (403) by :func:`same_origin` on top of the session cookie's ``SameSite=Strict``:
browsers send ``Origin`` on every cross-site POST, so a POST whose ``Origin`` (or, without one, ``Referer``) names
another host is refused; a POST with neither comes from a client that is not a browser (curl with basic auth).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, Undefined, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from deskstream.api.errors import render as render_error
from deskstream.domain.timefmt import iso
from deskstream.exceptions import BadRequest, DeskstreamError, Forbidden, RateLimited, Unauthenticated

#: Where the console lives.
BASE = "/_deskstream/console"
#: Fields one form may hold, at most (the largest form has three).
MAX_FIELDS = 20
#: What every console answer says about itself: never cached, never framed, scripts and styles only its own.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
}


def _position(value: Any) -> str:
    """An export position as the journal holds it, in words: ``start_time 1700000000`` or ``cursor 1700000000/42``."""
    if not isinstance(value, dict) or not value:
        return ""
    cursor = value.get("cursor") or value.get("after_cursor")
    if isinstance(cursor, dict):
        return f"cursor {cursor.get('timestamp')}/{cursor.get('id')}"
    name, number = next(iter(value.items()))
    return f"{name} {number}"


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def _cell(value: Any) -> str:
    """A field's value in a table cell: nothing for a missing one, JSON for an object or a list."""
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _iso(value: Any) -> str:
    return (iso(value) or "") if isinstance(value, int) and not isinstance(value, bool) else ""


templates = Environment(
    loader=PackageLoader("deskstream.api.console", "templates"),
    autoescape=select_autoescape(["html", "svg"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.filters.update(iso=_iso, position=_position, json=_json, cell=_cell)
templates.globals.update(base=BASE)


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def page(request: Request, name: str, status: int = 200, headers: dict[str, str] | None = None,
         **context: Any) -> HTMLResponse:
    """Template ``name`` as the answer, with what every page shows (who is signed in, the server's clock)."""
    desk = request.app.state.desk
    principal = getattr(request.state, "principal", None)
    body = templates.get_template(name).render(
        request=request, principal=principal, now=desk.clock.now(), clock_kind=desk.clock.kind, **context
    )
    return HTMLResponse(body, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


def redirect(location: str) -> RedirectResponse:
    """After a form: see the page again (303, so reloading it does not post the form twice)."""
    return RedirectResponse(location, status_code=303, headers=SECURITY_HEADERS)


def login_location(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{BASE}/login?next={quote(here, safe='')}"


def error_answer(request: Request, error: DeskstreamError) -> Response:
    """A typed error as a browser sees it (a page, or the sign-in form for a 401) or as the API renders it."""
    if not wants_html(request):
        return render_error(error, getattr(error, "headers", None))
    if isinstance(error, Unauthenticated) and request.method == "GET":
        return redirect(login_location(request))
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else {}
    message = error.description or _MESSAGES.get(error.status, "The request was refused")
    return page(request, "error.html", error.status, headers, code=error.status, message=message)


_MESSAGES = {
    401: "Sign in first.",
    403: "Only admins may use the console.",
    404: "Nothing here.",
}


class ConsoleRoute(APIRoute):
    """A console route: typed errors (and FastAPI's own parameter errors) become :func:`error_answer`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except DeskstreamError as error:
                return error_answer(request, error)
            except RequestValidationError:
                return error_answer(request, BadRequest("That is not something the console can show"))

        return console_handler


async def form_of(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (the last value of each); anything else is an empty form."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    body = (await request.body()).decode("utf-8", "replace")
    try:
        return dict(parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FIELDS))
    except ValueError:
        raise BadRequest("Too many form fields") from None


def same_origin(request: Request) -> None:
    """Refuse (403) a form posted from another site: its ``Origin``, or ``Referer`` without one, must be this host."""
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    if origin is not None:
        if origin == "null" or urlsplit(origin).netloc != host:
            raise Forbidden("A form posted from another site is refused")
        return
    referer = request.headers.get("referer")
    if referer is not None and urlsplit(referer).netloc != host:
        raise Forbidden("A form posted from another site is refused")


def message_of(error: DeskstreamError) -> str:
    """What a form shows of an error: its first field's message (a 422's), else its description."""
    for problems in (error.details or {}).values():
        if isinstance(problems, list) and problems and isinstance(problems[0], dict):
            return str(problems[0].get("description", ""))
    return error.description or _MESSAGES.get(error.status, "The request was refused")


def whole_number(text: str | None, default: int, low: int, high: int) -> int:
    """A query parameter that should be a number: the default when it is missing or not one, clamped otherwise."""
    try:
        value = int((text or "").strip())
    except ValueError:
        return default
    return min(max(value, low), high)
