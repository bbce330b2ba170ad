"""Users, organizations and groups.

Every change to one is told to the :attr:`PeopleService.listeners` inside its transaction, as a
:class:`RecordChange`: tickets listen (a renamed requester is a system update of their tickets; a deleted agent's
tickets are reassigned), without this module knowing tickets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deskstream.clock import Clock
from deskstream.domain import people as rules
from deskstream.domain.people import GroupInput, OrganizationInput, UserInput
from deskstream.domain.tickets import RequesterInput
from deskstream.domain.timefmt import iso
from deskstream.exceptions import NotFound, Unprocessable
from deskstream.service.context import SYSTEM, Actor, ServiceBase
from deskstream.service.passwords import hash_secret
from deskstream.store.engine import Store
from deskstream.store.errors import DuplicateRecord
from deskstream.store.writer import Writer


@dataclass(frozen=True)
class RecordChange:
    """A user, organization or group changed (``deleted``: soft-deleted), by ``actor``, at ``now``."""

    table: str
    record_id: int
    before: dict[str, Any]
    after: dict[str, Any]
    now: int
    actor: Actor = SYSTEM
    deleted: bool = False


PeopleListener = Callable[[Writer, RecordChange], None]


def _email_taken(email: str) -> Unprocessable:
    return Unprocessable.field("email", f"Email: {email} is already being used by another user")


class PeopleService(ServiceBase):
    def __init__(self, store: Store, clock: Clock) -> None:
        super().__init__(store, clock)
        self.listeners: list[PeopleListener] = []

    def _changed(self, w: Writer, change: RecordChange) -> None:
        for listener in self.listeners:
            listener(w, change)

    # users ------------------------------------------------------------------------------------------------------
    def create_user(self, data: UserInput, writer: Writer | None = None) -> dict[str, Any]:
        with self.writing(writer) as w:
            now = self.clock.now()
            if data.email and self._user_id_by_email(w, data.email) is not None:
                raise _email_taken(data.email)
            self._check_organization(w, data.organization_id)
            user_id = w.allocate("users")
            user = rules.new_user(user_id, data, now)
            try:
                w.insert_record("users", self._user_values(user, now, created=True, password=data.password), user)
            except DuplicateRecord:
                # A concurrent writer took the email between the check and the insert (PostgreSQL).
                raise _email_taken(data.email or "") from None
            return user

    def update_user(self, user_id: int, data: UserInput) -> dict[str, Any]:
        with self.writing(None) as w:
            user = self._load_live(w, "users", user_id)
            if data.email and data.email.lower() != user["email"]:
                if self._user_id_by_email(w, data.email) is not None:
                    raise _email_taken(data.email)
            self._check_organization(w, data.organization_id)
            if user["role"] == "admin" and data.role is not None and data.role != "admin":
                self._keep_an_admin(w, user_id, "role", "Role: cannot be changed: this is the account's last admin")
            if user["role"] == "admin" and data.suspended and not user.get("suspended"):
                self._keep_an_admin(w, user_id, "suspended", "Suspended: the account's last admin cannot be suspended")
            before = dict(user)
            if not rules.apply_user(user, data) and data.password is None:
                return user
            now = self.clock.now()
            rules.touch(user, now)
            try:
                w.update_record("users", user_id, self._user_values(user, now, password=data.password), user)
            except DuplicateRecord:
                raise _email_taken(data.email or "") from None
            self._changed(w, RecordChange("users", user_id, before, user, now))
            return user

    def delete_user(self, user_id: int, actor: Actor = SYSTEM) -> dict[str, Any]:
        """Soft-delete a user. Their tickets that are not closed are reassigned first, as Zendesk does when an agent
        is removed: to the admin removing them (``actor``), or unassigned when the system removes them. Each
        reassignment is an audited change in the same transaction; closed tickets keep their assignee.
        """
        with self.writing(None) as w:
            user = self._load_live(w, "users", user_id)
            if user["role"] == "admin":
                self._keep_an_admin(w, user_id, "base", "The account's last admin cannot be deleted")
            before = dict(user)
            now = self.clock.now()
            self._changed(w, RecordChange("users", user_id, before, user, now, actor, deleted=True))
            user["active"] = False
            user["deleted_at"] = iso(now)
            rules.touch(user, now)
            w.update_record("users", user_id, {"updated_at": now, "deleted_at": now}, user)
            return user

    @staticmethod
    def _keep_an_admin(w: Writer, user_id: int, field: str, message: str) -> None:
        """Refuse (422 on ``field``) to delete, demote or suspend ``user_id`` if no other admin could then sign in.

        Otherwise nobody could sign in as an admin again: no one could create or promote one. The live admins are
        counted under their row locks, in the change's own transaction, so two admins demoting each other at once
        on PostgreSQL cannot both see the other still there
        (:meth:`~deskstream.store.accounts.Accounts.lock_live_admins`).
        """
        others = [a for a in w.lock_live_admins() if a.user_id != user_id and not a.item.get("suspended")]
        if not others:
            raise Unprocessable.field(field, message)

    def find_or_create_end_user(self, w: Writer, requester: RequesterInput, now: int) -> int:
        """A ticket's ``requester: {email, name}``: the existing user with that email, or a new end user."""
        found = self._user_id_by_email(w, requester.email)
        if found is not None:
            return found
        return int(self.create_user(UserInput(email=requester.email, name=requester.name, role="end-user"), w)["id"])

    def _user_values(
        self, user: dict[str, Any], now: int, created: bool = False, password: str | None = None
    ) -> dict[str, Any]:
        values: dict[str, Any] = {
            "email": user["email"],
            "role": user["role"],
            "organization_id": user["organization_id"],
            "updated_at": now,
        }
        if created:
            values.update(id=user["id"], created_at=now, deleted_at=None, password_hash=None)
        if password is not None:
            values["password_hash"] = hash_secret(password)
        return values

    def _user_id_by_email(self, w: Writer, email: str) -> int | None:
        return w.user_id_by_email(email)

    # organizations and groups -----------------------------------------------------------------------------------
    def create_organization(self, data: OrganizationInput, writer: Writer | None = None) -> dict[str, Any]:
        if not data.name:
            raise Unprocessable.field("name", "Name: cannot be blank")
        with self.writing(writer) as w:
            if w.live_organization_named(data.name) is not None:
                raise Unprocessable.field("name", "Name: has already been taken")
            now = self.clock.now()
            org = rules.new_organization(w.allocate("organizations"), data, now)
            w.insert_record("organizations", self._times(org, now), org)
            return org

    def create_group(self, data: GroupInput, writer: Writer | None = None) -> dict[str, Any]:
        if not data.name:
            raise Unprocessable.field("name", "Name: cannot be blank")
        with self.writing(writer) as w:
            now = self.clock.now()
            group = rules.new_group(w.allocate("groups"), data, now)
            w.insert_record("groups", self._times(group, now), group)
            return group

    def update_record(self, table: str, record_id: int, data: OrganizationInput | GroupInput) -> dict[str, Any]:
        """Update an organization or a group."""
        with self.writing(None) as w:
            record = self._load_live(w, table, record_id)
            before = dict(record)
            if not rules.apply_fields(record, data):
                return record
            now = self.clock.now()
            rules.touch(record, now)
            w.update_record(table, record_id, {"name": record["name"], "updated_at": now}, record)
            self._changed(w, RecordChange(table, record_id, before, record, now))
            return record

    def delete_record(self, table: str, record_id: int) -> None:
        """Soft-delete an organization or a group (exports show it with ``deleted_at``)."""
        with self.writing(None) as w:
            record = self._load_live(w, table, record_id)
            now = self.clock.now()
            rules.touch(record, now)
            record["deleted_at"] = iso(now)
            if table == "groups":
                record["deleted"] = True
            w.update_record(table, record_id, {"updated_at": now, "deleted_at": now}, record)

    def _times(self, record: dict[str, Any], now: int) -> dict[str, Any]:
        return {"id": record["id"], "name": record["name"], "created_at": now, "updated_at": now, "deleted_at": None}

    # shared -----------------------------------------------------------------------------------------------------
    def get(self, table: str, record_id: int, w: Writer | None = None) -> dict[str, Any]:
        with self.writing(w) as writer:
            return self._load_live(writer, table, record_id)

    def _load_live(self, w: Writer, table: str, record_id: int) -> dict[str, Any]:
        found = w.load_record(table, record_id)
        if found is None or not found.live:
            raise NotFound()
        return found.item

    def _check_organization(self, w: Writer, organization_id: int | None) -> None:
        if organization_id is None:
            return
        found = w.load_record("organizations", organization_id)
        if found is None or not found.live:
            raise Unprocessable.field("organization_id", f"Organization: {organization_id} not found")
