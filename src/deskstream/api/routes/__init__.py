"""One module per resource; :data:`ROUTERS` is what the app mounts."""

from deskstream.api.routes import discovery, incremental, people, tickets

ROUTERS = [tickets.router, people.router, discovery.router, incremental.router, incremental.sample_router]
