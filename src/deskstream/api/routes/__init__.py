"""One module per resource; :data:`ROUTERS` is what the app mounts."""

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

ROUTERS = [tickets.router, people.router, discovery.router, incremental.router, sla.router,
           deskstream_admin.router, journal.router, ticket_metrics.router]
