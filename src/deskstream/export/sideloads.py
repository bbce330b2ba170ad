"""``include=`` on the exports (spec/exports.md § Sideloads). Off the hot path: only here are items decoded.

Tickets: ``users``, ``groups``, ``organizations`` (top-level arrays of the records the page's tickets refer to),
``brands`` and ``ticket_forms`` (empty arrays: the model has neither), and per ticket ``comment_count``, ``dates``
and ``metric_set`` (``include=metric_sets``, what tap-zendesk reads), folded from the ticket's audits by
:mod:`deskstream.export.metrics`, and ``slas`` (the SLA engine's targets, :mod:`deskstream.export.slas`).
``last_audits`` is refused, as Zendesk refuses it on the exports. The Tickets API (``/api/v2/tickets``) takes
``slas`` per ticket and ``metric_sets`` as a top-level array, as Zendesk's list endpoints sideload them.
Users: ``identities`` (one email identity per user with an email), ``organizations``, ``groups``.
Unknown names are ignored, as Zendesk ignores them. Each sideload costs one batched query for the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from deskstream.base_url import URL_BASE
from deskstream.exceptions import BadRequest
from deskstream.export.framing import splice
from deskstream.export.metrics import fold_audits
from deskstream.export.slas import load_slas
from deskstream.store.scans import Scans

TICKET_RECORDS = ("users", "groups", "organizations")
TICKET_EMPTY = ("brands", "ticket_forms")
TICKET_PER_ITEM = ("comment_count", "dates", "metric_sets", "slas")
TICKET_API = ("metric_sets", "slas")
USER_RECORDS = ("identities", "organizations", "groups")

_USER_KEYS = ("requester_id", "submitter_id", "assignee_id")
_USER_LISTS = ("collaborator_ids", "follower_ids", "email_cc_ids")


@dataclass
class Sideloaded:
    """Items with per-item keys spliced in, and the top-level arrays to append."""

    items: list[bytes]
    arrays: dict[str, list[bytes]] = field(default_factory=dict)


def refuse_unsupported(includes: frozenset[str]) -> None:
    if "last_audits" in includes:
        raise BadRequest("The last_audits side-load is not supported on incremental exports", error="InvalidValue")


def for_tickets(scans: Scans, items: list[bytes], includes: frozenset[str], now: int) -> Sideloaded:
    """The exports' ticket sideloads; ``now`` is the clock's time, which ``slas`` counts the time left from."""
    wanted = includes & {*TICKET_RECORDS, *TICKET_EMPTY, *TICKET_PER_ITEM}
    if not wanted or not items:
        return Sideloaded(items, {name: [] for name in sorted(wanted & {*TICKET_RECORDS, *TICKET_EMPTY})})
    tickets = [orjson.loads(item) for item in items]
    out = Sideloaded(items)
    if wanted & set(TICKET_PER_ITEM):
        extra: list[dict[str, Any]] = [{} for _ in tickets]
        if wanted & {"comment_count", "dates", "metric_sets"}:
            folds = fold_audits(scans, tickets)
            for ticket, fields in zip(tickets, extra, strict=True):
                fold = folds[ticket["id"]]
                if "comment_count" in wanted:
                    fields["comment_count"] = fold.comment_count
                if "dates" in wanted:
                    fields["dates"] = fold.dates()
                if "metric_sets" in wanted:
                    fields["metric_set"] = fold.metric_set(ticket)
        if "slas" in wanted:
            found = load_slas(scans, tickets, now)
            for ticket, fields in zip(tickets, extra, strict=True):
                fields["slas"] = found[ticket["id"]]
        out.items = [splice(item, fields) for item, fields in zip(items, extra, strict=True)]
    if "users" in wanted:
        ids = [t.get(k) for t in tickets for k in _USER_KEYS]
        ids += [i for t in tickets for k in _USER_LISTS for i in t.get(k) or []]
        out.arrays["users"] = scans.json_by_ids("users", ids)
    if "groups" in wanted:
        out.arrays["groups"] = scans.json_by_ids("groups", (t.get("group_id") for t in tickets))
    if "organizations" in wanted:
        out.arrays["organizations"] = scans.json_by_ids("organizations", (t.get("organization_id") for t in tickets))
    for name in TICKET_EMPTY:
        if name in wanted:
            out.arrays[name] = []
    return out


def for_ticket_api(scans: Scans, items: list[bytes], includes: frozenset[str], now: int) -> Sideloaded:
    """``/api/v2/tickets`` sideloads: ``slas`` in each ticket, ``metric_sets`` as a top-level array."""
    wanted = includes & set(TICKET_API)
    if not wanted or not items:
        return Sideloaded(items, {"metric_sets": []} if "metric_sets" in wanted else {})
    tickets = [orjson.loads(item) for item in items]
    out = Sideloaded(items)
    if "slas" in wanted:
        found = load_slas(scans, tickets, now)
        out.items = [splice(item, {"slas": found[t["id"]]}) for item, t in zip(items, tickets, strict=True)]
    if "metric_sets" in wanted:
        out.arrays["metric_sets"] = metric_sets(scans, tickets)
    return out


def metric_sets(scans: Scans, tickets: list[dict[str, Any]]) -> list[bytes]:
    """The tickets' metric sets (the Ticket Metrics API objects), in the tickets' order, from one query."""
    folds = fold_audits(scans, tickets)
    return [orjson.dumps(folds[t["id"]].metric_set(t)) for t in tickets]


def identity(user: dict[str, Any]) -> dict[str, Any]:
    """A user's email identity as ``/api/v2/users/{id}/identities`` shows it (one per user: its id is the user's)."""
    return {
        "url": f"{URL_BASE}/api/v2/users/{user['id']}/identities/{user['id']}.json",
        "id": user["id"],
        "user_id": user["id"],
        "type": "email",
        "value": user["email"],
        "verified": bool(user.get("verified")),
        "primary": True,
        "created_at": user["created_at"],
        "updated_at": user["updated_at"],
        "undeliverable_count": 0,
        "deliverable_state": "deliverable",
    }


def for_users(scans: Scans, items: list[bytes], includes: frozenset[str]) -> Sideloaded:
    wanted = includes & set(USER_RECORDS)
    out = Sideloaded(items, {})
    if not wanted:
        return out
    users = [orjson.loads(item) for item in items]
    if "identities" in wanted:
        out.arrays["identities"] = [orjson.dumps(identity(u)) for u in users if u.get("email")]
    if "organizations" in wanted:
        out.arrays["organizations"] = scans.json_by_ids("organizations", (u.get("organization_id") for u in users))
    if "groups" in wanted:
        out.arrays["groups"] = scans.json_by_ids("groups", (u.get("default_group_id") for u in users))
    return out
