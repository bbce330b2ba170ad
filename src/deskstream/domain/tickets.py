"""Tickets: what a client may send, the ticket object Zendesk serves, and what an update changes.

A ticket is a plain dict shaped exactly like Zendesk's ticket object (every field of seed 000's sample), so that the
stored JSON *is* the export item. :func:`apply_changes` is the one place that decides what a create or an update
changes; the audit is built from its result (``domain.audits``), so the audit and the new version cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from deskstream.base_url import URL_BASE
from deskstream.domain.timefmt import iso, parse_iso
from deskstream.domain.validation import Id, JsonValue, Moment, Text
from deskstream.domain.via import CHANNEL_IDS, via_object
from deskstream.exceptions import Conflict, Unprocessable

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("urgent", "high", "normal", "low")
TYPES = ("problem", "incident", "question", "task")

Status = Literal["new", "open", "pending", "hold", "solved", "closed"]
Priority = Literal["urgent", "high", "normal", "low"]
TicketType = Literal["problem", "incident", "question", "task"]

#: Fields whose changes are recorded as audit child events, in the order events are written.
TRACKED_FIELDS: tuple[str, ...] = (
    "subject",
    "status",
    "priority",
    "type",
    "requester_id",
    "submitter_id",
    "assignee_id",
    "group_id",
    "organization_id",
    "brand_id",
    "ticket_form_id",
    "problem_id",
    "due_at",
    "external_id",
    "tags",
    "collaborator_ids",
    "follower_ids",
    "email_cc_ids",
)
_LIST_FIELDS = ("tags", "collaborator_ids", "follower_ids", "email_cc_ids")


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False)


class CommentInput(_Input):
    body: Text | None = Field(default=None, max_length=65_536)
    html_body: Text | None = Field(default=None, max_length=131_072)
    public: StrictBool = True
    author_id: Id | None = None


class RequesterInput(_Input):
    email: Text = Field(min_length=3, max_length=320)
    name: Text | None = Field(default=None, max_length=255)


class CustomFieldInput(_Input):
    id: Id
    value: JsonValue = None


class TicketInput(_Input):
    """A ticket create or update as Zendesk accepts it (unknown keys are ignored, as Zendesk ignores them)."""

    subject: Text | None = Field(default=None, max_length=150)
    comment: CommentInput | None = None
    description: Text | None = Field(default=None, max_length=65_536)
    status: Status | None = None
    priority: Priority | None = None
    type: TicketType | None = None
    requester_id: Id | None = None
    requester: RequesterInput | None = None
    submitter_id: Id | None = None
    assignee_id: Id | None = None
    group_id: Id | None = None
    organization_id: Id | None = None
    brand_id: Id | None = None
    ticket_form_id: Id | None = None
    problem_id: Id | None = None
    due_at: Moment | None = None
    external_id: Text | None = Field(default=None, max_length=255)
    tags: list[Text] | None = None
    additional_tags: list[Text] | None = None
    remove_tags: list[Text] | None = None
    collaborator_ids: list[Id] | None = None
    follower_ids: list[Id] | None = None
    email_cc_ids: list[Id] | None = None
    custom_fields: list[CustomFieldInput] | None = None
    fields: list[CustomFieldInput] | None = None
    safe_update: StrictBool = False
    updated_stamp: Text | None = None

    @field_validator("requester", mode="before")
    @classmethod
    def _placeholder_names_no_requester(cls, requester: Any) -> Any:
        """``{}`` is the placeholder a served ticket carries: a client sending back what it read names nobody."""
        return None if requester == {} else requester

    @field_validator("tags", "additional_tags", "remove_tags")
    @classmethod
    def _tags_are_words(cls, tags: list[str] | None) -> list[str] | None:
        return None if tags is None else normalize_tags(tags)


def normalize_tags(tags: list[str]) -> list[str]:
    """Zendesk's tag rules: lower case, whitespace splits a tag in two, order kept, duplicates dropped."""
    seen: dict[str, None] = {}
    for tag in tags:
        for word in str(tag).lower().split():
            seen.setdefault(word[:80], None)
    return list(seen)


@dataclass(frozen=True)
class FieldChange:
    """One child event: ``Create`` of a field set at creation or ``Change`` of a field on update."""

    kind: Literal["Create", "Change"]
    field: str
    value: Any
    previous: Any = None


@dataclass(frozen=True)
class Person:
    """What a ticket needs of a user when it is created (the requester's organization becomes the ticket's)."""

    id: int
    name: str
    email: str | None
    organization_id: int | None


#: The service's bookkeeping keys on a ticket dict (Unix times of the ``created_at``/``updated_at`` columns).
PRIVATE_KEYS = ("_created_ts", "_updated_ts")


def public(ticket: dict[str, Any]) -> dict[str, Any]:
    """The ticket object as served: a shallow copy without :data:`PRIVATE_KEYS` (a copy and two pops, several
    times cheaper than filtering sixty keys by name on every change)."""
    item = dict(ticket)
    for key in PRIVATE_KEYS:
        item.pop(key, None)
    return item


def blank_ticket(ticket_id: int, now: int, channel: str) -> dict[str, Any]:
    """Every field of Zendesk's ticket object (seed 000), before the create's values are applied.

    The write-only properties (``requester``, ``collaborators``, ``assignee_email``, ``email_ccs``, ``followers``,
    ``comment``, ``voice_comment``) keep the seed's keys but never carry data: real Zendesk never
    serves them, and clients that map them onto objects (zenpy's ``requester`` setter reads ``.id``) crash on a
    filled dict. What they would say is served where Zendesk serves it: ``requester_id``, ``collaborator_ids``,
    ``email_cc_ids``, ``follower_ids``, ``assignee_id``, and the ``users`` sideload.
    """
    return {
        "url": f"{URL_BASE}/api/v2/tickets/{ticket_id}.json",
        "id": ticket_id,
        "external_id": None,
        "via": via_object(channel),
        "via_id": CHANNEL_IDS.get(channel, 5),
        "via_followup_source_id": None,
        "created_at": iso(now),
        "updated_at": iso(now),
        "updated_stamp": iso(now),
        "generated_timestamp": now,
        "type": None,
        "subject": None,
        "raw_subject": None,
        "description": None,
        "priority": None,
        "status": "new",
        "custom_status_id": None,
        "recipient": None,
        "requester_id": None,
        "requester": {},
        "submitter_id": None,
        "assignee_id": None,
        "assignee_email": None,
        "organization_id": None,
        "group_id": None,
        "collaborator_ids": [],
        "collaborators": [],
        "follower_ids": [],
        "followers": {},
        "email_cc_ids": [],
        "email_ccs": {},
        "forum_topic_id": None,
        "problem_id": None,
        "has_incidents": False,
        "is_public": True,
        "due_at": None,
        "tags": [],
        "custom_fields": [],
        "fields": [],
        "satisfaction_rating": None,
        "sharing_agreement_ids": [],
        "followup_ids": [],
        "ticket_form_id": None,
        "brand_id": None,
        "allow_channelback": False,
        "allow_attachments": True,
        "from_messaging_channel": False,
        "attribute_value_ids": [],
        "macro_id": None,
        "macro_ids": [],
        "safe_update": False,
        "comment": {},
        "metadata": {},
        "voice_comment": {},
    }


def requested_values(ticket: dict[str, Any], data: TicketInput) -> dict[str, Any]:
    """The tracked fields the input asks to set, in the ticket's own representation."""
    given = data.model_fields_set
    wanted: dict[str, Any] = {}
    for name in TRACKED_FIELDS:
        if name in given and name not in ("tags",):
            value = getattr(data, name)
            wanted[name] = iso(int(value.timestamp())) if name == "due_at" and value is not None else value
    if data.tags is not None:
        wanted["tags"] = data.tags
    if data.additional_tags or data.remove_tags:
        tags = list(wanted.get("tags", ticket["tags"]))
        tags += [t for t in data.additional_tags or [] if t not in tags]
        wanted["tags"] = [t for t in tags if t not in set(data.remove_tags or [])]
    for name in _LIST_FIELDS[1:]:
        if name in wanted and wanted[name] is not None:
            wanted[name] = list(dict.fromkeys(wanted[name]))
    custom = data.custom_fields if data.custom_fields is not None else data.fields
    if custom is not None:
        wanted["custom_fields"] = {str(f.id): f.value for f in custom}
    return wanted


def apply_changes(ticket: dict[str, Any], wanted: dict[str, Any], creating: bool) -> list[FieldChange]:
    """Set ``wanted`` on ``ticket`` in place; return one change per field whose value really moved."""
    kind: Literal["Create", "Change"] = "Create" if creating else "Change"
    changes: list[FieldChange] = []
    for name in TRACKED_FIELDS:
        if name not in wanted:
            continue
        new, old = wanted[name], ticket[name]
        if name in _LIST_FIELDS and new is None:
            new = []
        if name == "status" and new is None and not creating:
            raise Unprocessable.field("status", "Status: cannot be blank")  # a ticket always has a status
        # On create every field given a value gets its Create event, even one equal to the blank ticket's
        # default (status "new"), so that replaying the audits alone rebuilds the ticket.
        if (creating and new in (None, [])) or (not creating and new == old):
            continue
        ticket[name] = new
        changes.append(FieldChange(kind, name, new, None if creating else old))
    for field_id, value in (wanted.get("custom_fields") or {}).items():
        current = {str(f["id"]): f["value"] for f in ticket["custom_fields"]}
        old = current.get(field_id)
        if value == old or (creating and value is None):
            continue
        current[field_id] = value
        ticket["custom_fields"] = [{"id": int(k), "value": v} for k, v in sorted(current.items(), key=_by_id)]
        ticket["fields"] = ticket["custom_fields"]
        changes.append(FieldChange(kind, field_id, value, None if creating else old))
    return changes


def _by_id(item: tuple[str, Any]) -> int:
    return int(item[0])


def check_safe_update(ticket: dict[str, Any], data: TicketInput) -> None:
    """``safe_update`` with an ``updated_stamp`` that is not the ticket's ``updated_at`` → 409, nothing written."""
    if not data.safe_update:
        return
    if data.updated_stamp is None:
        raise Unprocessable.field("updated_stamp", "Updated stamp: is required with safe_update")
    try:
        stamp = parse_iso(data.updated_stamp)
    except (ValueError, OverflowError):
        raise Unprocessable.field("updated_stamp", "Updated stamp: is not a valid time") from None
    if stamp != parse_iso(ticket["updated_at"]):  # seconds, not iso(stamp): a year past 9999 cannot be written
        raise Conflict()


def check_update_allowed(ticket: dict[str, Any]) -> None:
    """Zendesk refuses changes to closed tickets."""
    if ticket["status"] == "closed":
        raise Unprocessable.field("status", "Status: closed prevents ticket update")


def stamp(ticket: dict[str, Any], now: int, audited: bool) -> None:
    """Move the ticket's times: ``generated_timestamp`` on every change, ``updated_at`` only with an audit."""
    ticket["generated_timestamp"] = now
    if audited:
        ticket["updated_at"] = iso(now)
        ticket["updated_stamp"] = iso(now)


def default_status(ticket: dict[str, Any], wanted: dict[str, Any]) -> None:
    """A new ticket with an assignee starts ``open``, as in Zendesk; without one it stays ``new``."""
    if "status" not in wanted or wanted["status"] is None:
        wanted["status"] = "open" if wanted.get("assignee_id") else "new"
