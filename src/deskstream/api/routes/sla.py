"""SLA policies: ``/api/v2/slas/policies`` as Zendesk serves them (spec/model.md § Resources).

Admins manage policies; agents may read them (tap-zendesk's discovery lists them with an agent's token).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Body, Request, Response

from deskstream.api.deps import Admin, Agent, DeskDep, RecordId
from deskstream.api.errors import ERRORS, WITH_BODY
from deskstream.api.listing import list_items
from deskstream.api.responses import json_response, raw_response
from deskstream.domain.sla import parse_policy_input
from deskstream.domain.validation import is_id
from deskstream.exceptions import Unprocessable

router = APIRouter(responses=ERRORS, prefix="/api/v2/slas", tags=["SLA policies"])


def _policy(body: Any) -> Any:
    return body.get("sla_policy") if isinstance(body, dict) else None


@router.get("/policies")
def list_policies(request: Request, desk: DeskDep, _: Agent) -> Response:
    items = [orjson.dumps(p) for p in desk.sla.list_policies()]
    return raw_response(request, list_items(request, "sla_policies", items))


@router.post("/policies", status_code=201, responses=WITH_BODY)
def create_policy(request: Request, desk: DeskDep, _: Admin, body: Any = Body(...)) -> Response:
    policy = desk.sla.create_policy(parse_policy_input(_policy(body), creating=True))
    location = {"Location": f"/api/v2/slas/policies/{policy['id']}.json"}
    return json_response(request, {"sla_policy": policy}, 201, location)


@router.put("/policies/reorder", responses=WITH_BODY)
def reorder_policies(request: Request, desk: DeskDep, _: Admin, body: Any = Body(...)) -> Response:
    ids = body.get("sla_policy_ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(is_id(i) for i in ids):
        raise Unprocessable.field("sla_policy_ids", "Sla policy ids: must be a list of policy ids")
    return json_response(request, {"sla_policies": desk.sla.reorder(ids)})


@router.get("/policies/{policy_id}")
def show_policy(policy_id: RecordId, request: Request, desk: DeskDep, _: Agent) -> Response:
    return json_response(request, {"sla_policy": desk.sla.get_policy(policy_id)})


@router.put("/policies/{policy_id}", responses=WITH_BODY)
def update_policy(policy_id: RecordId, request: Request, desk: DeskDep, _: Admin, body: Any = Body(...)) -> Response:
    policy = desk.sla.update_policy(policy_id, parse_policy_input(_policy(body), creating=False))
    return json_response(request, {"sla_policy": policy})


@router.delete("/policies/{policy_id}", status_code=204, responses=WITH_BODY)
def delete_policy(policy_id: RecordId, desk: DeskDep, _: Admin) -> Response:
    desk.sla.delete_policy(policy_id)
    return Response(status_code=204)
