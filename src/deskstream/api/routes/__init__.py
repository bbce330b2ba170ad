"""One module per resource; :data:`ROUTERS` is what the app mounts, in this order."""

from deskstream.api.routes import (
    deskstream_admin,
    discovery,
    incremental,
    journal,
    people,
    sla,
    ticket_metrics,
    tickets,
)

#: The exports first: a request is matched against the routes in this order, one after another (FastAPI 0.165
#: spends 4–5 µs on each route it passes), and the export pages are what clients ask for most; no other router's
#: paths overlap theirs.
ROUTERS = [incremental.router, tickets.router, people.router, discovery.router, sla.router,
           deskstream_admin.router, journal.router, ticket_metrics.router]
