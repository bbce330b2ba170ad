"""One module per resource; :data:`ROUTERS` is what the app mounts."""

from deskstream.api.routes import people, tickets

ROUTERS = [tickets.router, people.router]
