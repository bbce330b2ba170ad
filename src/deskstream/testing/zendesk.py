"""The ``zendesk`` fixture's object: where the server is, who may sign in, and helpers that go through its API.

Every helper speaks HTTP to the server as the admin's API token, like any client, with :data:`HELPER_HEADER`, so
that its requests stay out of :meth:`Zendesk.requests` and never spend anything the client under test would notice
(no helper calls an export, so the export budget is the client's alone). Two helpers write the database directly,
because what they write has no API: :meth:`Zendesk.history` (the workload generator) and :meth:`Zendesk.scenario`
(a scenario's history, stamped in the past); the server is then read through its API like any other.

The clock is simulated and stands still: everything a test writes between two moves of the clock shares one second,
and nothing younger than a minute is exported (Zendesk's horizon) until :meth:`Zendesk.past_horizon` or
:meth:`Zendesk.advance` moves it.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from deskstream import faults as fault_plans
from deskstream.testing.journal import HELPER_HEADER, Request
from deskstream.testing.options import Options
from deskstream.testing.scenario import Scenario
from deskstream.testing.servers import Running, Template, copy_template, settings_for, start

if TYPE_CHECKING:
    from deskstream.generate import Summary

#: Zendesk's export horizon (``deskstream.export.horizon.HORIZON_SECONDS``): nothing younger is exported.
HORIZON_SECONDS = 60
#: Zendesk's bulk endpoints take at most this many tickets a request.
BULK = 100
Ticket = Mapping[str, Any] | int


class HelperError(RuntimeError):
    """A helper's request was refused (the server's answer is in the message)."""


def _id(ticket: Ticket) -> int:
    return ticket if isinstance(ticket, int) else int(ticket["id"])


def _unix(t: int | float | datetime | str) -> int:
    if isinstance(t, str):
        t = datetime.fromisoformat(t.replace("Z", "+00:00"))
    if isinstance(t, datetime):
        if t.tzinfo is None:
            raise ValueError("set_time: give a datetime with a time zone (or Unix seconds)")
        return int(t.timestamp())
    return int(t)


class Zendesk:
    """A running deskstream: ``url``; ``admin``, ``agent``, ``end_user`` as (email, password); ``token``, the
    admin's API token; and helpers. Made by the ``zendesk`` and ``zendesk_factory`` fixtures."""

    def __init__(self, template: Template, workdir: Path, options: Options) -> None:
        started = time.perf_counter()
        self.options = options
        #: (email, password) of the demo accounts (docs/quickstart.md), and the admin's API token.
        self.admin, self.agent, self.end_user = template.admin, template.agent, template.end_user
        self.token = template.token
        self.user_ids = dict(template.user_ids)
        self._directory = Path(tempfile.mkdtemp(prefix="zendesk-", dir=workdir))
        self._counter = itertools.count(1)
        try:
            self.db_url = copy_template(template, self._directory)
            self._server: Running = start(settings_for(self.db_url, options.settings_values()), self._directory,
                                          options.process)  # fmt: skip
        except BaseException:
            shutil.rmtree(self._directory, ignore_errors=True)
            raise
        self.url = self._server.url
        #: The server's process id: the test's own, or the one started for it (``process=True``).
        self.pid = self._server.pid
        self.process = options.process
        #: Seconds from the fixture's call to a server answering (database copied, app built, port bound).
        self.started_in = time.perf_counter() - started
        headers = {"Authorization": f"Bearer {self.token}", HELPER_HEADER: "1"}
        #: An httpx client signed in as the admin's token, for requests the helpers do not cover (left out of
        #: :meth:`requests`, as the helpers' own are).
        self.api = httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def __repr__(self) -> str:
        return f"<Zendesk {self.url}{' (process)' if self.process else ''}>"

    def close(self) -> None:
        """Stop the server, wait until it has, and remove its files."""
        self.close_soon()()

    def close_soon(self) -> Callable[[], None]:
        """Ask the server to stop and return what finishes the job (waits, removes the files). uvicorn takes 0.1 to
        0.2 s to stop; the fixtures end a test at once and finish every server at the end of the session."""
        self.api.close()
        self._server.signal_stop()

        def finish() -> None:
            try:
                self._server.stop()
            finally:
                shutil.rmtree(self._directory, ignore_errors=True)

        return finish

    # HTTP ---------------------------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: object = None) -> Any:
        response = self.api.request(method, path, json=body)
        if response.status_code >= 300:
            raise HelperError(f"{method} {path} answered {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    # records ------------------------------------------------------------------------------------------------------
    def create_tickets(self, n: int = 1, **fields: Any) -> list[dict[str, Any]]:
        """``n`` tickets through ``POST /api/v2/tickets``, as the API answered them. Each has a subject and a
        comment and the end user as its requester unless ``fields`` say otherwise."""
        return [self._call("POST", "/api/v2/tickets", {"ticket": self._ticket(fields)})["ticket"] for _ in range(n)]

    def _ticket(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        k = next(self._counter)
        return {
            "subject": f"Ticket {k}", "comment": {"body": f"Ticket {k}, filed by the zendesk fixture."},
            "requester_id": self.user_ids["end-user"], **fields,
        }  # fmt: skip

    def update(self, ticket: Ticket, **fields: Any) -> dict[str, Any]:
        """Change a ticket (``PUT /api/v2/tickets/{id}``): ``update(t, status="solved")``; the ticket as answered."""
        return dict(self._call("PUT", f"/api/v2/tickets/{_id(ticket)}", {"ticket": fields})["ticket"])

    def delete(self, ticket: Ticket) -> None:
        """Delete a ticket (a ticket or its id): the export then serves it with status ``deleted``."""
        self._call("DELETE", f"/api/v2/tickets/{_id(ticket)}")

    def storm(self, n: int, **fields: Any) -> list[int]:
        """``n`` tickets filed in one second, as an outage's monitoring integration files them (bulk creates of
        100, ``POST /api/v2/tickets/create_many``, while the clock stands still); their ids. More than a page (1000)
        is what breaks a naive time-based client."""
        ids: list[int] = []
        before = self.now()
        for first in range(0, n, BULK):
            items = [self._ticket(fields) for _ in range(min(BULK, n - first))]
            job = self._call("POST", "/api/v2/tickets/create_many", {"tickets": items})["job_status"]
            ids += [int(result["id"]) for result in job["results"]]
        if self.now() != before:
            raise HelperError("storm: the clock moved while the tickets were filed (a client ran at the same time?)")
        return ids

    def create_users(self, n: int = 1, **fields: Any) -> list[dict[str, Any]]:
        """``n`` end users (``POST /api/v2/users``) with unique names and emails unless ``fields`` say otherwise."""
        users = []
        for _ in range(n):
            k = next(self._counter)
            user = {"name": f"Customer {k}", "email": f"customer{k}@fixture.example.com", "role": "end-user", **fields}
            users.append(self._call("POST", "/api/v2/users", {"user": user})["user"])
        return users

    def create_organizations(self, n: int = 1, **fields: Any) -> list[dict[str, Any]]:
        """``n`` organizations (``POST /api/v2/organizations``) with unique names unless ``fields`` say otherwise."""
        made = []
        for _ in range(n):
            organization = {"name": f"Organization {next(self._counter)}", **fields}
            made.append(self._call("POST", "/api/v2/organizations", {"organization": organization})["organization"])
        return made

    # the clock ----------------------------------------------------------------------------------------------------
    def now(self) -> int:
        """The server's clock, in Unix seconds."""
        return int(self._call("GET", "/_deskstream/clock")["now"])

    def advance(self, seconds: int) -> int:
        """Move the clock forward (SLA breaches it passes are written on the way); the new time."""
        return int(self._call("POST", "/_deskstream/clock", {"advance": int(seconds)})["now"])

    def set_time(self, t: int | float | datetime | str) -> int:
        """Set the clock to ``t`` (Unix seconds, an aware datetime, or ISO 8601), never backwards; the new time."""
        return int(self._call("POST", "/_deskstream/clock", {"set": _unix(t)})["now"])

    def past_horizon(self) -> int:
        """Move the clock past the one-minute export horizon, so everything written so far is exported."""
        return self.advance(HORIZON_SECONDS + 1)

    # faults -------------------------------------------------------------------------------------------------------
    @contextmanager
    def faults(self, spec: str = "", **values: Any) -> Iterator[dict[str, Any]]:
        """Faults while the block runs (``with zendesk.faults(http429_every=2, seed=7):``, or a ``--faults`` spec);
        the ones in force before come back after. Yields the faults in force, as ``GET /_deskstream/faults``."""
        before = self._call("GET", "/_deskstream/faults")["faults"]
        try:
            yield self._set_faults(spec, values)
        finally:
            self._call("PUT", "/_deskstream/faults", before)

    def _set_faults(self, spec: str, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        plan = fault_plans.plan_of({**fault_plans.parse(spec).as_dict(), **(values or {})})
        return dict(self._call("PUT", "/_deskstream/faults", plan.as_dict())["faults"])

    # histories ----------------------------------------------------------------------------------------------------
    def history(self, tickets: int = 200, days: int = 30, seed: int = 1) -> Summary:
        """A generated history (``deskstream generate``): ``tickets`` tickets' lives over ``days`` days ending at the
        horizon, so it is exported at once; storms, renames, deletes, SLA policies and breaches included. Same
        seed, same history. A ticket whose SLA target falls after the end gets its breach, a system update, when
        the server's clock passes the target (the first pass of its scheduler, for a target already past)."""
        from deskstream.generate import generate
        from deskstream.store import Store

        end = self.now() - HORIZON_SECONDS
        store = Store(self.db_url)
        try:
            # writer_process=False: one write transaction at a time from this generation, held from one batch to the
            # next, so the server's SLA scheduler cannot change a generated ticket between two of its batches.
            return generate(store, tickets, days, seed, end=end, agent_ids=[self.user_ids["agent"]],
                            customer_ids=[self.user_ids["end-user"]], writer_process=False)  # fmt: skip
        finally:
            store.dispose()

    def scenario(self, name: str) -> Scenario:
        """Load scenario ``name`` (docs/testing.md § Scenarios) on this server, which must hold no tickets yet, and
        turn on its faults (with the fixture's own): the :class:`Scenario` to play and check. Its history is written
        into the database (stamped in the past, which no API can do); the rest goes through the API."""
        from deskstream.scenarios import history
        from deskstream.store import Store

        store = Store(self.db_url)
        try:
            history.load(store, name, self.now())
        finally:
            store.dispose()
        spec = history.faults_with(name, self.options.faults)
        self._set_faults(spec)

        def read() -> dict[str, Any]:
            return dict(self._call("GET", "/_deskstream/scenario")["scenario"])

        def next_step() -> object:
            return self._call("POST", "/_deskstream/scenario/next")

        return Scenario.of(read(), spec, read, next_step)

    # what the client sent -----------------------------------------------------------------------------------------
    def requests(self, clear: bool = False) -> list[Request]:
        """The requests the client under test sent, in the order they were answered (the helpers' are left out),
        each journaled before its answer's last bytes went out; ``clear=True`` forgets them once read."""
        return self._server.journal.read(clear)
