"""Rate limiting of the incremental export endpoints (placeholder interface; filled in by the rate-limit work).

``incremental_rate_limit`` is a FastAPI dependency that the incremental routers declare. It must run after
authentication, count one request against the account's budget, raise ``RateLimited`` when over, and leave the
headers to add in ``request.state.rate_limit_headers`` (a dict) for the middleware that writes them.
"""

from __future__ import annotations

from fastapi import Request


def incremental_rate_limit(request: Request) -> None:
    """Count one incremental export request (no limit yet)."""
    request.state.rate_limit_headers = {}


def sample_rate_limit(request: Request) -> None:
    """Count one request to a ``/sample`` endpoint (10 per 20 minutes in Zendesk; no limit yet)."""
    request.state.rate_limit_headers = {}
