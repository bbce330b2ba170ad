"""Ticket changes, each in one transaction: the new version, its audit, its comment and any metric events.

Every way a ticket changes (the API, bulk updates, the generator, system updates) goes through
:class:`TicketService`, so every change is recorded the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from deskstream.clock import Clock
from deskstream.domain import tickets as rules
from deskstream.domain.audits import SYSTEM_USER_ID, Audit, child_count, comment_object
from deskstream.domain.tickets import CommentInput, FieldChange, TicketInput
from deskstream.exceptions import Forbidden, NotFound, Unprocessable
from deskstream.service.context import Actor, ServiceBase
from deskstream.service.people import PeopleService, RecordChange
from deskstream.store.engine import Store
from deskstream.store.records import AuditRecord, StoredTicket, TicketVersion
from deskstream.store.writer import Writer

#: Called after every ticket change with (writer, ticket before or None, ticket after, audit or None, now);
#: the SLA engine listens here and may add metric events in the same transaction.
TicketListener = Callable[[Writer, "dict[str, Any] | None", dict[str, Any], "Audit | None", int], None]


def _snapshot(ticket: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a ticket (plain JSON values only): an orjson round trip, ten times faster than deepcopy."""
    return orjson.loads(orjson.dumps(ticket))  # type: ignore[no-any-return]


#: The user and organization fields whose change is a system update of the tickets that refer to the record.
_REFERRED_TO_BY_TICKETS = {"users": ("name", "email", "organization_id"), "organizations": ("name",)}


def stored_audit(audit: Audit) -> AuditRecord:
    """The forms an audit is stored in, rendered once (the two export forms from one rendering)."""
    item, with_comments = audit.export_items()
    return AuditRecord(
        id=audit.id,
        ticket_id=audit.ticket_id,
        timestamp=audit.created_at,
        item=item,
        item_with_comments=with_comments,
        api_item=audit.api_item(),
        comment=audit.comment,
        child_events=len(audit.child_ids) - (audit.comment is not None),
    )


class TicketService(ServiceBase):
    """Tickets; it listens to :class:`PeopleService` for the changes of users and organizations tickets refer to."""

    def __init__(self, store: Store, clock: Clock, people: PeopleService) -> None:
        super().__init__(store, clock)
        self.people = people
        self.listeners: list[TicketListener] = []
        people.listeners.append(self._on_record_change)

    # create -----------------------------------------------------------------------------------------------------
    def create(self, data: TicketInput, actor: Actor, writer: Writer | None = None) -> dict[str, Any]:
        with self.writing(writer) as w:
            return self._create(w, data, actor, self.clock.now())

    def create_many(
        self, items: list[TicketInput], actor: Actor, writer: Writer | None = None
    ) -> list[dict[str, Any]]:
        with self.writing(writer) as w:
            now = self.clock.now()
            return [self._create(w, data, actor, now) for data in items]

    def _create(self, w: Writer, data: TicketInput, actor: Actor, now: int) -> dict[str, Any]:
        body = data.comment.body if data.comment and data.comment.body else data.description
        if data.comment and data.comment.html_body and not body:
            body = data.comment.html_body
        if not body:
            raise Unprocessable.field("description", "Description: cannot be blank")
        ticket_id = w.allocate("tickets")
        ticket = rules.blank_ticket(ticket_id, now, actor.channel)
        wanted = rules.requested_values(ticket, data)
        if actor.role == "end-user":
            wanted = {k: v for k, v in wanted.items() if k in ("subject", "tags", "custom_fields", "collaborator_ids")}
            wanted["requester_id"] = actor.user_id
        elif data.requester is not None and "requester_id" not in wanted:
            wanted["requester_id"] = self.people.find_or_create_end_user(w, data.requester, now)
        wanted.setdefault("requester_id", actor.user_id)
        wanted["submitter_id"] = actor.user_id
        self._check_references(w, wanted)
        author = self._comment_author(w, data.comment, actor)
        if "organization_id" not in wanted:
            requester = w.load_record("users", wanted["requester_id"])
            wanted["organization_id"] = requester.item["organization_id"] if requester and requester.live else None
        rules.default_status(ticket, wanted)
        changes = rules.apply_changes(ticket, wanted, creating=True)
        ticket["description"] = body
        ticket["raw_subject"] = ticket["subject"]
        public_comment = data.comment.public if data.comment else True
        html = data.comment.html_body if data.comment else None
        self._record(w, None, ticket, changes, actor, now, (author, body, public_comment, html), version=1, created=now)
        return ticket

    # update -----------------------------------------------------------------------------------------------------
    def update(self, ticket_id: int, data: TicketInput, actor: Actor, writer: Writer | None = None) -> dict[str, Any]:
        with self.writing(writer) as w:
            return self._update(w, ticket_id, data, actor, self.clock.now())[0]

    def update_with_audit(
        self, ticket_id: int, data: TicketInput, actor: Actor, writer: Writer | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The updated ticket and the audit it wrote (audits-API form), None for an update that changed nothing.

        ``PUT /tickets/{id}`` answers with both, as Zendesk does.
        """
        with self.writing(writer) as w:
            ticket, audit = self._update(w, ticket_id, data, actor, self.clock.now())
            return ticket, audit.api_item() if audit else None

    def update_many(
        self, ticket_ids: list[int], data: TicketInput, actor: Actor, writer: Writer | None = None
    ) -> list[dict[str, Any]]:
        """One bulk change: every ticket in one transaction, stamped with the same second (a macro, a trigger)."""
        with self.writing(writer) as w:
            w.lock_tickets(ticket_ids)  # all at once, in id order: two bulk changes never deadlock
            now = self.clock.now()
            return [self._update(w, ticket_id, data, actor, now)[0] for ticket_id in ticket_ids]

    def _update(
        self, w: Writer, ticket_id: int, data: TicketInput, actor: Actor, now: int
    ) -> tuple[dict[str, Any], Audit | None]:
        stored = self._load_live(w, ticket_id)
        ticket = stored.item
        if actor.role == "end-user" and ticket["requester_id"] != actor.user_id:
            raise Forbidden()
        rules.check_update_allowed(ticket)
        rules.check_safe_update(ticket, data)
        before = _snapshot(ticket)
        wanted = rules.requested_values(ticket, data)
        if actor.role == "end-user":
            wanted = {k: v for k, v in wanted.items() if k in ("subject", "collaborator_ids")}
        self._check_references(w, wanted)
        has_comment = data.comment is not None and bool(data.comment.body or data.comment.html_body)
        author = self._comment_author(w, data.comment, actor) if has_comment else actor.user_id
        changes = rules.apply_changes(ticket, wanted, creating=False)
        comment = None
        if data.comment is not None and has_comment:
            public_comment = True if actor.role == "end-user" else data.comment.public
            body = data.comment.body or data.comment.html_body or ""
            comment = (author, body, public_comment, data.comment.html_body)
        if not changes and comment is None:
            return ticket, None
        audit = self._record(w, before, ticket, changes, actor, now, comment, stored.version + 1, stored.created_at)
        return ticket, audit

    # delete -----------------------------------------------------------------------------------------------------
    def delete(self, ticket_id: int, actor: Actor, writer: Writer | None = None) -> None:
        """Soft delete: the ticket's status becomes ``deleted`` (as exports show it), with an audit."""
        with self.writing(writer) as w:
            now = self.clock.now()
            stored = self._load_live(w, ticket_id)
            ticket = stored.item
            before = _snapshot(ticket)
            changes = [FieldChange("Change", "status", "deleted", ticket["status"])]
            ticket["status"] = "deleted"
            self._record(w, before, ticket, changes, actor, now, None, stored.version + 1, stored.created_at, now)

    # system updates ---------------------------------------------------------------------------------------------
    def system_update(
        self, w: Writer, ticket_id: int, now: int, change: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any] | None:
        """A change that is not a ticket event: moves ``generated_timestamp`` only; no audit, ``updated_at`` stays.

        Used when a record the ticket refers to changes (its requester renamed), and by the SLA engine.
        """
        stored = w.load_ticket(ticket_id)
        if stored is None or not stored.live:
            return None
        ticket = stored.item
        if change is not None:
            change(ticket)
        rules.stamp(ticket, now, audited=False)
        w.save_ticket(TicketVersion(ticket, stored.version + 1, stored.created_at, stored.updated_at, audit_id=None))
        return ticket

    def _on_record_change(self, w: Writer, change: RecordChange) -> None:
        """A user or organization changed: a deleted agent's open tickets go to whoever deleted them (audited
        changes, as Zendesk reassigns them); tickets referring to a renamed record get a system update."""
        if change.table == "users" and change.deleted:
            successor = change.actor.user_id if change.actor.user_id != change.record_id else 0
            for ticket_id in w.ticket_ids_referring_to(user_id=change.record_id):
                stored = w.load_ticket(ticket_id)
                if stored and stored.item["assignee_id"] == change.record_id and stored.item["status"] != "closed":
                    self.update(ticket_id, TicketInput(assignee_id=successor or None), change.actor, w)
            return
        fields = _REFERRED_TO_BY_TICKETS.get(change.table, ())
        if not any(change.before.get(f) != change.after.get(f) for f in fields):
            return
        find: Callable[..., list[int]] = w.ticket_ids_referring_to
        ids = find(user_id=change.record_id) if change.table == "users" else find(organization_id=change.record_id)
        for ticket_id in ids:
            self.system_update(w, ticket_id, change.now)

    # shared -----------------------------------------------------------------------------------------------------
    def _record(
        self,
        w: Writer,
        before: dict[str, Any] | None,
        ticket: dict[str, Any],
        changes: list[FieldChange],
        actor: Actor,
        now: int,
        comment: tuple[int, str, bool, str | None] | None,
        version: int,
        created: int,
        deleted_at: int | None = None,
    ) -> Audit:
        """Write the new version (``ticket``, changed in place) with its audit (and comment); returns the audit.

        Listeners run first, inside the same transaction, so they can add what follows from the change.
        """
        rules.stamp(ticket, now, audited=True)
        first = w.allocate("events", 1 + child_count(changes, comment is not None))
        audit_id, child_ids = first, list(range(first + 1, first + 1 + child_count(changes, comment is not None)))
        comment_obj = None
        if comment is not None:
            author, body, is_public, html = comment
            comment_obj = comment_object(child_ids[0], audit_id, author, body, is_public, now, actor.channel, html)
            if before is None:
                ticket["is_public"] = is_public
        audit = Audit(
            id=audit_id,
            ticket_id=ticket["id"],
            created_at=now,
            author_id=actor.user_id if actor.user_id else SYSTEM_USER_ID,
            channel=actor.channel,
            changes=changes,
            child_ids=child_ids,
            comment=comment_obj,
            system=actor.system(),
        )
        for listener in self.listeners:
            listener(w, before, ticket, audit, now)
        w.save_ticket(TicketVersion(ticket, version, created, now, audit_id, deleted_at))
        w.add_audit(stored_audit(audit))
        return audit

    def _load_live(self, w: Writer, ticket_id: int) -> StoredTicket:
        stored = w.load_ticket(ticket_id)
        if stored is None or not stored.live:
            raise NotFound()
        return stored

    @staticmethod
    def _comment_author(w: Writer, comment: CommentInput | None, actor: Actor) -> int:
        """Whose comment this is. An end user's is always their own: ``author_id`` is ignored, as the fields an end
        user may not set are (Zendesk's end users comment through the Requests API, which has no author). An agent
        or admin may write it as another user, who must exist and not be deleted (else 422 naming ``author_id``).
        """
        wanted = comment.author_id if comment is not None else None
        if actor.role == "end-user" or not wanted or wanted == actor.user_id:
            return actor.user_id
        found = w.load_record("users", wanted)
        if found is None or not found.live:
            raise Unprocessable.field("author_id", f"Author: {wanted} not found")
        return wanted

    def _check_references(self, w: Writer, wanted: dict[str, Any]) -> None:
        """Ids a change points at must exist: Zendesk answers 422 for an unknown assignee, group or organization."""
        for name, table in (
            ("requester_id", "users"),
            ("assignee_id", "users"),
            ("group_id", "groups"),
            ("organization_id", "organizations"),
        ):
            record_id = wanted.get(name)
            if record_id is None:
                continue
            found = w.load_record(table, record_id)
            if found is None or not found.live:
                raise Unprocessable.field(name, f"{name.replace('_id', '').capitalize()}: {record_id} not found")
            if name == "assignee_id" and found.item["role"] == "end-user":
                raise Unprocessable.field(name, "Assignee: must be an agent")
        for name in ("collaborator_ids", "follower_ids", "email_cc_ids"):
            for user_id in wanted.get(name) or []:
                found = w.load_record("users", user_id)
                if found is None or not found.live:
                    raise Unprocessable.field(name, f"{name.capitalize()}: user {user_id} not found")
