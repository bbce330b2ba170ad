"""Bad export parameters: each gets the right status and a Zendesk-shaped JSON body, never a 500."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

EXPORTS = "/api/v2/incremental"
#: An hour from now, put into a case's path when its test runs: a case's id must not depend on when it is collected
#: (pytest-xdist's workers collect separately and must agree).
FUTURE = "AN_HOUR_AHEAD"
TOO_RECENT = {"error": "InvalidValue", "description": "Too recent start_time. Use a start_time older than 1 minute"}
BAD_CURSOR = base64.b64encode(b"not a cursor").decode()

#: (path and query, status, the body's ``error``, and its exact body where Zendesk's is known)
CASES = [
    ("tickets", 400, "InvalidValue", None),
    ("tickets?start_time=", 400, "InvalidValue", None),
    ("tickets?start_time=abc", 400, "InvalidValue", None),
    ("tickets?start_time=%3Cinteger%3E", 400, "InvalidValue", None),
    ("tickets?start_time=-1", 400, "InvalidValue", None),
    ("tickets?start_time=1e999", 400, "InvalidValue", None),
    ("tickets?start_time=2024-13-45", 400, "InvalidValue", None),
    (f"tickets?start_time={FUTURE}", 422, "InvalidValue", TOO_RECENT),
    (f"tickets?start_time={'9' * 30}", 422, "InvalidValue", TOO_RECENT),
    (f"ticket_events?start_time={FUTURE}", 422, "InvalidValue", TOO_RECENT),
    (f"users?start_time={FUTURE}", 422, "InvalidValue", TOO_RECENT),
    (f"tickets/cursor?start_time={FUTURE}", 422, "InvalidValue", TOO_RECENT),
    (f"users/cursor?start_time={FUTURE}", 422, "InvalidValue", TOO_RECENT),
    (f"tickets/sample?start_time={FUTURE}", 422, "InvalidValue", TOO_RECENT),
    ("tickets/cursor", 400, "InvalidValue", None),
    ("tickets?start_time=0&per_page=0", 400, "InvalidValue", None),
    ("tickets?start_time=0&per_page=1001", 400, "InvalidValue", None),
    ("tickets?start_time=0&per_page=many", 400, "InvalidValue", None),
    ("users/cursor?start_time=0&per_page=-5", 400, "InvalidValue", None),
    ("tickets/cursor?cursor=zzz", 400, "InvalidCursor", None),
    (f"tickets/cursor?cursor={BAD_CURSOR}", 400, "InvalidCursor", None),
    (f"users/cursor?cursor={base64.b64encode(f'{2**70}.0||1|'.encode()).decode()}", 400, "InvalidCursor", None),
    ("ticket_metric_events?start_time=0&page[size]=0", 400, "InvalidValue", None),
    ("ticket_metric_events?start_time=0&page[size]=10&page[after]=zzz", 400, "InvalidCursor", None),
    ("ticket_metric_events?page[size]=10", 400, "InvalidValue", None),
    ("tickets?start_time=0&include=last_audits", 400, "InvalidValue", None),
    ("widgets/sample?start_time=0", 404, "RecordNotFound", {"error": "RecordNotFound", "description": "Not found"}),
]


@pytest.mark.parametrize(("path", "status", "error", "body"), CASES)
def test_a_bad_parameter_gets_its_status_and_a_zendesk_shaped_body(
    admin: httpx.Client, path: str, status: int, error: str, body: dict[str, str] | None
) -> None:
    response = admin.get(f"{EXPORTS}/{path.replace(FUTURE, str(int(time.time()) + 3600))}")
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == error
    assert isinstance(response.json()["description"], str) and response.json()["description"]
    if body is not None:
        assert response.json() == body


def test_a_start_time_exactly_a_minute_old_is_accepted(admin: httpx.Client) -> None:
    start = int(time.time()) - 61
    response = admin.get(f"{EXPORTS}/tickets", params={"start_time": start})
    assert response.status_code == 200
    # The session's shared server may hold another test's tickets of the last minute: only those may be served.
    assert all(t["generated_timestamp"] >= start for t in response.json()["tickets"])
    assert response.json()["end_of_stream"] is True
