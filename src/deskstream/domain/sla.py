"""SLA policies: what a client may send, the policy object Zendesk serves, and which policy a ticket falls under.

A policy has a ``filter`` (``all`` conditions that must all hold and ``any`` conditions of which one must hold) and
``policy_metrics``: per priority, a target in minutes for a metric, in calendar or business hours. A ticket falls
under the first matching policy by ``position`` (then id), as in Zendesk, even if that policy has no target for the
ticket's priority.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from deskstream.base_url import URL_BASE
from deskstream.domain.tickets import PRIORITIES, STATUSES, Priority
from deskstream.domain.timefmt import iso
from deskstream.domain.validation import JsonValue, Text, parse_input
from deskstream.exceptions import Unprocessable

PolicyMetric = Literal[
    "first_reply_time",
    "next_reply_time",
    "periodic_update_time",
    "pausable_update_time",
    "requester_wait_time",
    "agent_work_time",
    "total_resolution_time",
]

#: Condition field → the ticket key it reads (Zendesk's condition names, with a few aliases).
CONDITION_FIELDS: dict[str, str] = {
    "priority": "priority",
    "type": "type",
    "ticket_type_id": "type",
    "status": "status",
    "group_id": "group_id",
    "assignee_id": "assignee_id",
    "requester_id": "requester_id",
    "organization_id": "organization_id",
    "brand_id": "brand_id",
    "ticket_form_id": "ticket_form_id",
    "via_id": "via_id",
    "current_tags": "tags",
    "tags": "tags",
}
OPERATORS = ("is", "is_not", "less_than", "greater_than", "includes", "not_includes")
#: Fields whose values are ordered, for ``less_than``/``greater_than``.
_ORDER: dict[str, tuple[str, ...]] = {"priority": tuple(reversed(PRIORITIES)), "status": STATUSES}


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=False)


class ConditionInput(_Input):
    field: Text
    operator: Text
    value: JsonValue = None

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str) -> str:
        if value not in CONDITION_FIELDS:
            raise ValueError(f"unsupported condition field {value!r}; one of {', '.join(CONDITION_FIELDS)}")
        return value

    @field_validator("operator")
    @classmethod
    def _known_operator(cls, value: str) -> str:
        if value not in OPERATORS:
            raise ValueError(f"unsupported operator {value!r}; one of {', '.join(OPERATORS)}")
        return value


class FilterInput(_Input):
    all: list[ConditionInput] = Field(default_factory=list, max_length=50)
    any: list[ConditionInput] = Field(default_factory=list, max_length=50)


class PolicyMetricInput(_Input):
    priority: Priority
    metric: PolicyMetric
    target: int = Field(ge=1, le=10_000_000)
    business_hours: StrictBool = False


class PolicyInput(_Input):
    """An ``sla_policy`` create or update body (on update, only the keys given change)."""

    title: Text | None = Field(default=None, max_length=255)
    description: Text | None = Field(default=None, max_length=65_536)
    position: int | None = Field(default=None, ge=1, le=1_000_000)
    filter: FilterInput | None = None
    policy_metrics: list[PolicyMetricInput] | None = Field(default=None, max_length=200)


def parse_policy_input(data: Any, creating: bool) -> PolicyInput:
    """Validate an ``sla_policy`` body; Zendesk's 422 ``RecordInvalid`` for what is missing or wrong."""
    policy = parse_input(PolicyInput, data, "sla_policy")
    if creating and not (policy.title or "").strip():
        raise Unprocessable.field("title", "Title: cannot be blank")
    if creating and policy.filter is None:
        raise Unprocessable.field("filter", "Filter: is required")
    if "title" in policy.model_fields_set and not (policy.title or "").strip():
        raise Unprocessable.field("title", "Title: cannot be blank")
    seen: set[tuple[str, str]] = set()
    for metric in policy.policy_metrics or []:
        key = (metric.priority, metric.metric)
        if key in seen:
            message = f"Policy metrics: {metric.metric} is set twice for {metric.priority}"
            raise Unprocessable.field("policy_metrics", message)
        seen.add(key)
    return policy


def _conditions(items: list[ConditionInput]) -> list[dict[str, Any]]:
    return [{"field": c.field, "operator": c.operator, "value": c.value} for c in items]


def new_policy(policy_id: int, data: PolicyInput, now: int, position: int) -> dict[str, Any]:
    """The policy object as ``/api/v2/slas/policies`` serves it."""
    policy: dict[str, Any] = {
        "url": f"{URL_BASE}/api/v2/slas/policies/{policy_id}.json",
        "id": policy_id,
        "title": None,
        "description": "",
        "position": position,
        "filter": {"all": [], "any": []},
        "policy_metrics": [],
        "created_at": iso(now),
        "updated_at": iso(now),
    }
    apply_policy_update(policy, data, now)
    return policy


def apply_policy_update(policy: dict[str, Any], data: PolicyInput, now: int) -> None:
    """Set the given keys; ``filter`` and ``policy_metrics`` are replaced whole, as Zendesk replaces them."""
    given = data.model_fields_set
    if "title" in given:
        policy["title"] = (data.title or "").strip()
    if "description" in given:
        policy["description"] = data.description or ""
    if data.position is not None:
        policy["position"] = data.position
    if data.filter is not None:
        policy["filter"] = {"all": _conditions(data.filter.all), "any": _conditions(data.filter.any)}
    if data.policy_metrics is not None:
        policy["policy_metrics"] = [m.model_dump() for m in data.policy_metrics]
    policy["updated_at"] = iso(now)


def _holds(condition: dict[str, Any], ticket: dict[str, Any]) -> bool:
    field, operator, wanted = condition["field"], condition["operator"], condition["value"]
    actual = ticket.get(CONDITION_FIELDS[field])
    if isinstance(actual, list):  # tags: a space-separated list of tags, any of which is present
        words = set(str(wanted or "").lower().split())
        present = bool(words & set(actual))
        return not present if operator in ("is_not", "not_includes") else present
    normal = "" if actual is None else str(actual)
    target = "" if wanted is None else str(wanted)
    if operator in ("less_than", "greater_than"):
        order = _ORDER.get(field)
        if order is None or normal not in order or target not in order:
            return False
        diff = order.index(normal) - order.index(target)
        return diff < 0 if operator == "less_than" else diff > 0
    if operator in ("is", "includes"):
        return normal == target
    return normal != target


def matches(policy: dict[str, Any], ticket: dict[str, Any]) -> bool:
    """All of ``filter.all`` and, if ``filter.any`` is not empty, at least one of it."""
    conditions = policy["filter"]
    if not all(_holds(c, ticket) for c in conditions["all"]):
        return False
    return not conditions["any"] or any(_holds(c, ticket) for c in conditions["any"])


def select_policy(policies: list[dict[str, Any]], ticket: dict[str, Any]) -> dict[str, Any] | None:
    """The first policy (in matching order) whose filter the ticket matches."""
    return next((p for p in policies if matches(p, ticket)), None)


def sla_payload(policy: dict[str, Any], priority: str | None, policy_metric: str) -> dict[str, Any] | None:
    """The ``sla`` object of an ``apply_sla`` event for this metric and priority, or None without a target."""
    for item in policy["policy_metrics"]:
        if item["priority"] == priority and item["metric"] == policy_metric:
            return {
                "target": item["target"],
                "business_hours": item["business_hours"],
                "policy": {"id": policy["id"], "title": policy["title"], "description": policy["description"]},
            }
    return None
