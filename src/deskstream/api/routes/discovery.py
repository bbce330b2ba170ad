"""The list endpoints clients probe while discovering (spec/clients-reference.md § 1 item 8 and § 2 Discovery).

tap-zendesk's ``--discover`` calls each of these once and dies on a 404 or 5xx; zenpy needs each answer under
Zendesk's list key or it raises ``Could not handle response``. Where deskstream's model has nothing of the kind
(macros, ticket and user field definitions, forms, memberships, ratings, phone numbers) the list is empty but
well-formed, with Zendesk's pagination (``page[size]`` cursor or ``per_page`` offset). ``tags`` and ``search``
answer from real data. Agents and admins may read them, as on Zendesk. (``groups`` lives with the people routes;
``slas/policies`` with the SLA routes.) ``account/settings`` is what Airbyte's connection check reads: the
account's features, as deskstream has them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from fastapi import APIRouter, Request, Response

from deskstream.api.deps import Agent, DeskDep
from deskstream.api.errors import ERRORS
from deskstream.api.listing import list_items
from deskstream.api.responses import raw_response
from deskstream.domain.validation import Text
from deskstream.exceptions import BadRequest
from deskstream.export.framing import splice
from deskstream.store.scans import UserSearch

router = APIRouter(responses=ERRORS, prefix="/api/v2", tags=["discovery"])

#: Path → Zendesk's list key, for the kinds of record deskstream's model does not have.
EMPTY_LISTS = {
    "macros": "macros",
    "ticket_fields": "ticket_fields",
    "group_memberships": "group_memberships",
    "satisfaction_ratings": "satisfaction_ratings",
    "user_fields": "user_fields",
    "organization_fields": "organization_fields",
    "ticket_forms": "ticket_forms",
    "channels/voice/phone_numbers": "phone_numbers",
}

#: Zendesk's account settings, the parts that describe what this account can do (Airbyte's check requires
#: ``active_features.organization_access_enabled``); the rest of Zendesk's settings have nothing behind them here.
ACCOUNT_SETTINGS = orjson.dumps(
    {
        "settings": {
            "active_features": {
                "business_hours": True,
                "organization_access_enabled": True,
                "sandbox": False,
                "satisfaction_ratings": False,
                "customer_satisfaction": False,
                "ticket_forms": False,
                "markdown": False,
                "on_hold_status": True,
                "user_tagging": True,
                "allow_ccs": True,
            },
            "tickets": {"comments_public_by_default": True, "list_empty_views": True, "tagging": True},
            "users": {"tagging": True, "time_zone_selection": True, "language_selection": True},
            "api": {"accepted_api_agreement": True, "api_token_access": True, "api_password_access": True},
            "localization": {"locale_ids": [1]},
        }
    }
)

#: Zendesk's tags list covers tags used in the last 60 days, and search stops at 1,000 results; so do we.
TAGS_WINDOW = 60 * 86_400
SEARCH_MAX = 1000


def _empty_list(key: str) -> Callable[[Request, Agent], Response]:
    def endpoint(request: Request, _: Agent) -> Response:
        return raw_response(request, list_items(request, key, []))

    endpoint.__name__ = f"list_{key}"
    endpoint.__doc__ = f"``{key}``: always an empty list (deskstream's model has none)."
    return endpoint


for _path, _key in EMPTY_LISTS.items():
    router.add_api_route(f"/{_path}", _empty_list(_key), methods=["GET"], name=f"list_{_key}")


@router.get("/account/settings")
def account_settings(request: Request, _: Agent) -> Response:
    """The account's settings (Zendesk: agents may read them)."""
    return raw_response(request, ACCOUNT_SETTINGS)


@router.get("/tags")
def list_tags(request: Request, desk: DeskDep, _: Agent) -> Response:
    """Tags on tickets changed in the last 60 days, most used first, as ``{"name", "count"}``.

    Tags live inside the stored ticket JSON, so this reads the recent tickets (bounded by the window, on the export
    index); it is a discovery and admin call, not a hot path.
    """
    counts: Counter[str] = Counter()
    with desk.store.scanning() as scans:
        for ticket in scans.live_tickets_since(desk.clock.now() - TAGS_WINDOW):
            counts.update(orjson.loads(ticket).get("tags") or ())
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    items = [orjson.dumps({"name": name, "count": count}) for name, count in ranked]
    return raw_response(request, list_items(request, "tags", items))


def _search_time(value: str) -> int:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"Unparseable date in search query: {value}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _user_search(query: str) -> UserSearch | None:
    """The users a query finds, or None when it asks for anything but users or uses a term we do not know.

    Understood: ``type:user``, ``email:ADDRESS``, ``updated>DATE``, ``updated<DATE`` (ISO 8601); terms combine with
    AND. Anything else finds nothing rather than everything, so a client never mistakes an unsupported query for a
    match.
    """
    email: str | None = None
    after: int | None = None
    before: int | None = None
    for term in query.split():
        name, sep, value = term.partition(":")
        if sep and name == "type" and value == "user":
            continue
        if sep and name == "email" and value:
            if email is not None and email.lower() != value.lower():
                return None  # one user has one email
            email = value
        elif term.startswith("updated>"):
            moment = _search_time(term[len("updated>") :])
            after = moment if after is None else max(after, moment)
        elif term.startswith("updated<"):
            moment = _search_time(term[len("updated<") :])
            before = moment if before is None else min(before, moment)
        else:
            return None
    return UserSearch(email, after, before)


@router.get("/search")
def search(request: Request, desk: DeskDep, _: Agent, query: Text = "") -> Response:
    """Zendesk's search, over users only: ``{"results": [...], "count", "next_page", "previous_page"}``.

    ``query`` is text: a NUL is a 400, before PostgreSQL would refuse it in the email look-up.
    """
    found = _user_search(query)
    items: list[bytes] = []
    if found is not None:
        with desk.store.scanning() as scans:
            items = [splice(user, {"result_type": "user"}) for user in scans.users_found(found, SEARCH_MAX)]
    return raw_response(request, list_items(request, "results", items))
