"""Run one zenpy call against deskstream and print what it yielded as one JSON line (run in zenpy's environment).

    python zenpy_calls.py BASE_URL CALL [TICKET_ID]

zenpy is pointed at deskstream with its own documented variables (``ZENPY_FORCE_SCHEME``/``ZENPY_FORCE_NETLOC``),
set before zenpy builds a URL; it authenticates as the demo admin with the demo API token.
"""

import json
import os
import sys

base, call = sys.argv[1], sys.argv[2]
os.environ["ZENPY_FORCE_SCHEME"], os.environ["ZENPY_FORCE_NETLOC"] = base.split("://", 1)

from zenpy import Zenpy  # noqa: E402  (after the variables it reads)

zd = Zenpy(subdomain="local", email="admin@example.com", token="demo-token-0000")
CALLS = {
    "tickets_cursor": lambda: zd.tickets.incremental(start_time=0),
    "tickets_by_time": lambda: zd.tickets.incremental(start_time=0, paginate_by_time=True),
    "users": lambda: zd.users.incremental(start_time=0),
    "organizations": lambda: zd.organizations.incremental(start_time=0),
    "ticket_metric_events": lambda: zd.tickets.metrics_incremental(start_time=0),
    "ticket_events": lambda: zd.tickets.events(start_time=0),
    "ticket_events_with_comments": lambda: zd.tickets.events(start_time=0, include="comment_events"),
    "audits": lambda: zd.tickets.audits(ticket=int(sys.argv[3])),
    "comments": lambda: zd.tickets.comments(ticket=int(sys.argv[3])),
    "ticket": lambda: [zd.tickets(id=int(sys.argv[3]))],
}

ids, comment_ids, requesters, statuses, emails = [], [], [], {}, []
for item in CALLS[call]():
    ids.append(item.id)
    for child in getattr(item, "child_events", None) or []:
        if child.get("event_type") == "Comment":
            comment_ids.append(child["id"])
    if call.startswith("tickets") or call == "ticket":
        # The objects zenpy builds from the ticket's ids: its requester is a lookup, never a parsed dict.
        requesters.append(item.requester_id)
        statuses[item.id] = item.status
    if call == "ticket":
        emails.append(item.requester.email)  # zenpy's lookup of the requester through /users/{id}
print(json.dumps({"ids": ids, "comment_ids": comment_ids, "requester_ids": requesters, "statuses": statuses,
                  "requester_emails": emails}))
