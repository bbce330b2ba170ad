"""Users, organizations and groups: what a client may send and the objects Zendesk serves.

Each object is a plain dict shaped like Zendesk's; the stored JSON is the export item.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from deskstream.base_url import URL_BASE
from deskstream.domain.tickets import normalize_tags
from deskstream.domain.timefmt import iso
from deskstream.domain.validation import Id, JsonValue, Text

ROLES = ("admin", "agent", "end-user")
Role = Literal["admin", "agent", "end-user"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore")


class UserInput(_Input):
    name: Text | None = Field(default=None, min_length=1, max_length=255)
    email: Text | None = Field(default=None, min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    role: Role | None = None
    organization_id: Id | None = None
    phone: Text | None = Field(default=None, max_length=64)
    time_zone: Text | None = Field(default=None, max_length=64)
    locale: Text | None = Field(default=None, max_length=16)
    external_id: Text | None = Field(default=None, max_length=255)
    tags: list[Text] | None = None
    details: Text | None = Field(default=None, max_length=65_536)
    notes: Text | None = Field(default=None, max_length=65_536)
    signature: Text | None = Field(default=None, max_length=65_536)
    verified: StrictBool | None = None
    suspended: StrictBool | None = None
    user_fields: dict[Text, JsonValue] | None = None
    password: Text | None = Field(default=None, min_length=1, max_length=1024)


class OrganizationInput(_Input):
    name: Text | None = Field(default=None, min_length=1, max_length=255)
    external_id: Text | None = Field(default=None, max_length=255)
    domain_names: list[Text] | None = None
    details: Text | None = Field(default=None, max_length=65_536)
    notes: Text | None = Field(default=None, max_length=65_536)
    group_id: Id | None = None
    shared_tickets: StrictBool | None = None
    shared_comments: StrictBool | None = None
    tags: list[Text] | None = None
    organization_fields: dict[Text, JsonValue] | None = None


class GroupInput(_Input):
    name: Text | None = Field(default=None, min_length=1, max_length=255)
    description: Text | None = Field(default=None, max_length=65_536)
    default: StrictBool | None = None
    is_public: StrictBool | None = None


def new_user(user_id: int, data: UserInput, now: int) -> dict[str, Any]:
    role = data.role or "end-user"
    user: dict[str, Any] = {
        "url": f"{URL_BASE}/api/v2/users/{user_id}.json",
        "id": user_id,
        "name": data.name or (data.email or "").split("@")[0] or f"User {user_id}",
        "email": data.email.lower() if data.email else None,
        "created_at": iso(now),
        "updated_at": iso(now),
        "time_zone": "UTC",
        "iana_time_zone": "Etc/UTC",
        "phone": None,
        "shared_phone_number": None,
        "photo": None,
        "locale_id": 1,
        "locale": "en-US",
        "organization_id": None,
        "role": role,
        "verified": False,
        "external_id": None,
        "tags": [],
        "alias": "",
        "active": True,
        "shared": False,
        "shared_agent": False,
        "last_login_at": None,
        "two_factor_auth_enabled": False,
        "signature": None,
        "details": "",
        "notes": "",
        "role_type": None,
        "custom_role_id": None,
        "moderator": role == "admin",
        "ticket_restriction": None if role == "admin" else "requested" if role == "end-user" else None,
        "only_private_comments": False,
        "restricted_agent": role == "end-user",
        "suspended": False,
        "default_group_id": None,
        "report_csv": role == "admin",
        "user_fields": {},
        "deleted_at": None,
    }
    apply_user(user, data)
    return user


def apply_user(user: dict[str, Any], data: UserInput) -> bool:
    """Set the given fields; returns whether anything changed."""
    changed = False
    for name in data.model_fields_set - {"password"}:
        value = getattr(data, name)
        if name == "tags" and value is not None:
            value = normalize_tags(value)
        if name == "email" and value is not None:
            value = value.lower()
        if name == "user_fields":
            value = {**user["user_fields"], **(value or {})}
        if name == "time_zone" and value is None:
            continue
        if user.get(name) != value:
            user[name] = value
            changed = True
    if "role" in data.model_fields_set and data.role:
        user["moderator"] = data.role == "admin"
        user["restricted_agent"] = data.role == "end-user"
        user["ticket_restriction"] = "requested" if data.role == "end-user" else None
        user["report_csv"] = data.role == "admin"
    return changed


def new_organization(org_id: int, data: OrganizationInput, now: int) -> dict[str, Any]:
    org: dict[str, Any] = {
        "url": f"{URL_BASE}/api/v2/organizations/{org_id}.json",
        "id": org_id,
        "name": data.name,
        "shared_tickets": False,
        "shared_comments": False,
        "external_id": None,
        "created_at": iso(now),
        "updated_at": iso(now),
        "domain_names": [],
        "details": None,
        "notes": None,
        "group_id": None,
        "tags": [],
        "organization_fields": {},
        "deleted_at": None,
    }
    apply_fields(org, data)
    return org


def new_group(group_id: int, data: GroupInput, now: int) -> dict[str, Any]:
    group: dict[str, Any] = {
        "url": f"{URL_BASE}/api/v2/groups/{group_id}.json",
        "id": group_id,
        "is_public": True,
        "name": data.name,
        "description": "",
        "default": False,
        "deleted": False,
        "created_at": iso(now),
        "updated_at": iso(now),
    }
    apply_fields(group, data)
    return group


def apply_fields(record: dict[str, Any], data: BaseModel) -> bool:
    """Set the given fields of an organization or group; returns whether anything changed."""
    changed = False
    for name in data.model_fields_set:
        value = getattr(data, name)
        if name == "tags" and value is not None:
            value = normalize_tags(value)
        if name == "organization_fields":
            value = {**record["organization_fields"], **(value or {})}
        if value is None and name in ("name", "shared_tickets", "shared_comments", "default", "is_public"):
            continue
        if record.get(name) != value:
            record[name] = value
            changed = True
    return changed


def touch(record: dict[str, Any], now: int) -> None:
    record["updated_at"] = iso(now)
