"""zenpy 2.0.57, unchanged, reads every export and a ticket's audits and comments: what it yields is the source."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.compat.conftest import Source
    from tests.compat.runners import ClientEnv
    from tests.conftest import Server


def zenpy_call(zenpy: ClientEnv, history: Server, call: str, *args: int) -> dict[str, Any]:
    result: dict[str, Any] = zenpy.run_json("zenpy_calls.py", history.base_url, call, *map(str, args))
    return result


@pytest.mark.parametrize("call", ["tickets_cursor", "tickets_by_time"])
def test_zenpy_exports_every_ticket_deleted_ones_included(
    zenpy: ClientEnv, history: Server, source: Source, call: str
) -> None:
    got = zenpy_call(zenpy, history, call)
    assert set(got["ids"]) == source.tickets()
    if call == "tickets_cursor":  # a cursor yields each ticket once; time-based pages repeat their last second
        assert len(got["ids"]) == len(set(got["ids"]))
    assert "deleted" in got["statuses"].values()
    assert None not in got["requester_ids"]


def test_zenpy_exports_every_user(zenpy: ClientEnv, history: Server, source: Source) -> None:
    got = zenpy_call(zenpy, history, "users")
    assert Counter(got["ids"]) == Counter(source.users())


def test_zenpy_exports_every_organization(zenpy: ClientEnv, history: Server, source: Source) -> None:
    assert set(zenpy_call(zenpy, history, "organizations")["ids"]) == source.organizations()


def test_zenpy_exports_every_metric_event_through_same_second_storms(
    zenpy: ClientEnv, history: Server, source: Source
) -> None:
    expected = source.ticket_metric_events()
    # The history holds what breaks naive time-based clients: over 1000 metric events in one second.
    assert source.scalar("SELECT max(n) FROM (SELECT count(*) AS n FROM ticket_metric_events GROUP BY time) s") > 1000
    assert set(zenpy_call(zenpy, history, "ticket_metric_events")["ids"]) == expected


def test_zenpy_exports_every_ticket_event(zenpy: ClientEnv, history: Server, source: Source) -> None:
    got = zenpy_call(zenpy, history, "ticket_events")
    assert set(got["ids"]) == source.ticket_events()
    assert got["comment_ids"] == []


def test_zenpy_exports_every_ticket_event_with_its_comments_as_comment_events(
    zenpy: ClientEnv, history: Server, source: Source
) -> None:
    got = zenpy_call(zenpy, history, "ticket_events_with_comments")
    assert set(got["ids"]) == source.ticket_events()
    assert set(got["comment_ids"]) == source.comments()


def test_zenpy_reads_a_tickets_audits_comments_and_requester(
    zenpy: ClientEnv, history: Server, source: Source
) -> None:
    ticket_id = source.scalar(
        "SELECT ticket_id FROM ticket_events GROUP BY ticket_id ORDER BY count(*) DESC, ticket_id LIMIT 1"
    )
    audits = source.rows("ticket_events", "ticket_id = :t", t=ticket_id)
    assert len(audits) > 2
    assert zenpy_call(zenpy, history, "audits", ticket_id)["ids"] == [a["id"] for a in audits]
    comments = source.rows("comments", "ticket_id = :t", t=ticket_id)
    assert zenpy_call(zenpy, history, "comments", ticket_id)["ids"] == [c["id"] for c in comments]
    (ticket,) = source.rows("tickets", "id = :t", t=ticket_id)
    (requester,) = source.rows("users", "id = :u", u=ticket["requester_id"])
    assert zenpy_call(zenpy, history, "ticket", ticket_id)["requester_emails"] == [requester["email"]]
