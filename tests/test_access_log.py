"""``serve``'s access log: one line per request on stderr by default, none with ``--no-access-log``, and only the JSON
line with ``--log-json`` (real ``deskstream serve`` processes: the log is theirs, not the test's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson
from tests.conftest import ADMIN

if TYPE_CHECKING:
    from tests.conftest import Server  # the session's server fixture type (tests/conftest.py)

REQUEST_LINE = '"GET /api/v2/users/me.json HTTP/1.1" 200'


def _log_after_a_request(server: Server) -> list[str]:
    assert server.client(ADMIN).get("/api/v2/users/me.json").status_code == 200
    server.stop()  # the log is complete once the process has ended
    return server.log_path.read_text().splitlines()


def test_by_default_every_request_is_one_line_of_the_access_log(make_server: Callable[..., Server]) -> None:
    lines = _log_after_a_request(make_server())
    assert len([line for line in lines if REQUEST_LINE in line]) == 1


def test_no_access_log_logs_no_request(make_server: Callable[..., Server]) -> None:
    lines = _log_after_a_request(make_server("--no-access-log"))
    assert not [line for line in lines if "/api/v2/users/me.json" in line]


def test_with_log_json_the_json_line_is_the_requests_only_line(make_server: Callable[..., Server]) -> None:
    lines = _log_after_a_request(make_server("--log-json"))
    mentions = [line for line in lines if "/api/v2/users/me.json" in line]
    assert len(mentions) == 1
    assert orjson.loads(mentions[0])["path"] == "/api/v2/users/me.json"
