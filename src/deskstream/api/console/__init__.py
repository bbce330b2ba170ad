"""The console at ``/_deskstream/console``: what clients did and what the desk holds, in a browser (docs/console.md).

Server-rendered pages (Jinja2 templates and a stylesheet and script shipped in this package; nothing is fetched from
anywhere else), admins only (:mod:`.session`). Its routes are not in the OpenAPI description: they are pages.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from starlette.responses import Response

from deskstream.api.console import controls, journal, records, session
from deskstream.api.console.web import BASE, ConsoleRoute
from deskstream.exceptions import NotFound

__all__ = ["router"]

#: The console's own assets: name → content type.
ASSETS = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}

assets = APIRouter(prefix=BASE, route_class=ConsoleRoute, include_in_schema=False)


@assets.get("/static/{name}")
def asset(name: str) -> Response:
    """A stylesheet or script of the console's (public: they hold nothing of the desk's)."""
    if name not in ASSETS:
        raise NotFound()
    body = resources.files(__package__).joinpath("static", name).read_bytes()
    return Response(body, media_type=ASSETS[name], headers={"Cache-Control": "max-age=300"})


router = APIRouter()
for part in (session.router, journal.router, controls.router, records.router, assets):
    router.include_router(part)
