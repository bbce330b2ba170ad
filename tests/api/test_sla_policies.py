"""``/api/v2/slas/policies``: Zendesk's SLA policy resource, admins writing and agents reading."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Server

BODY = {"title": "Gold", "description": "Gold customers", "filter": {
    "all": [{"field": "type", "operator": "is", "value": "incident"}], "any": []},
    "policy_metrics": [{"priority": "high", "metric": "first_reply_time", "target": 30, "business_hours": True}]}


def create(admin: httpx.Client, **changes: Any) -> dict[str, Any]:
    answer = admin.post("/api/v2/slas/policies", json={"sla_policy": {**BODY, **changes}})
    assert answer.status_code == 201, answer.text
    return dict(answer.json()["sla_policy"])


def test_a_created_policy_has_zendesks_shape(admin: httpx.Client, server: Server) -> None:
    made = create(admin)
    assert made["url"] == f"{server.base_url}/api/v2/slas/policies/{made['id']}.json"
    assert made["filter"] == BODY["filter"] and made["policy_metrics"] == BODY["policy_metrics"]
    assert {"title", "description", "position", "created_at", "updated_at"} <= set(made)
    assert admin.get(f"/api/v2/slas/policies/{made['id']}.json").json()["sla_policy"] == made


def test_new_policies_go_last_and_reorder_renumbers_them(admin: httpx.Client) -> None:
    first, second = create(admin, title="A"), create(admin, title="B")
    assert second["position"] > first["position"]
    order = admin.put("/api/v2/slas/policies/reorder", json={"sla_policy_ids": [second["id"], first["id"]]})
    positions = {p["id"]: p["position"] for p in order.json()["sla_policies"]}
    assert positions[second["id"]] == 1 and positions[first["id"]] == 2


def test_update_replaces_the_given_keys_only(admin: httpx.Client) -> None:
    made = create(admin)
    metrics = [{"priority": "urgent", "metric": "agent_work_time", "target": 120, "business_hours": False}]
    changed = admin.put(f"/api/v2/slas/policies/{made['id']}", json={"sla_policy": {"policy_metrics": metrics}})
    assert changed.status_code == 200
    policy = changed.json()["sla_policy"]
    assert policy["policy_metrics"] == metrics and policy["title"] == "Gold" and policy["filter"] == BODY["filter"]


def test_a_deleted_policy_is_gone(admin: httpx.Client) -> None:
    made = create(admin)
    assert admin.delete(f"/api/v2/slas/policies/{made['id']}").status_code == 204
    assert admin.get(f"/api/v2/slas/policies/{made['id']}").status_code == 404
    assert made["id"] not in [p["id"] for p in admin.get("/api/v2/slas/policies").json()["sla_policies"]]


def test_agents_read_policies_but_only_admins_write_them(admin: httpx.Client, agent: httpx.Client) -> None:
    made = create(admin)
    assert agent.get("/api/v2/slas/policies").status_code == 200
    assert agent.get(f"/api/v2/slas/policies/{made['id']}").status_code == 200
    assert agent.post("/api/v2/slas/policies", json={"sla_policy": BODY}).status_code == 403
    assert agent.delete(f"/api/v2/slas/policies/{made['id']}").status_code == 403


@pytest.mark.parametrize(
    "policy",
    [
        {**BODY, "title": ""},
        {k: v for k, v in BODY.items() if k != "filter"},
        {**BODY, "filter": {"all": [{"field": "colour", "operator": "is", "value": "red"}], "any": []}},
        {**BODY, "filter": {"all": [{"field": "type", "operator": "resembles", "value": "x"}], "any": []}},
        {**BODY, "policy_metrics": [{"priority": "high", "metric": "happiness", "target": 5}]},
        {**BODY, "policy_metrics": [{"priority": "high", "metric": "first_reply_time", "target": 0}]},
        {**BODY, "policy_metrics": BODY["policy_metrics"] * 2},
        "not an object",
    ],
)
def test_invalid_policies_are_refused_with_422(admin: httpx.Client, policy: object) -> None:
    answer = admin.post("/api/v2/slas/policies", json={"sla_policy": policy})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "RecordInvalid"


def test_an_unknown_policy_is_404(admin: httpx.Client) -> None:
    assert admin.get("/api/v2/slas/policies/999999").status_code == 404
    assert admin.put("/api/v2/slas/policies/999999", json={"sla_policy": {"title": "x"}}).status_code == 404
