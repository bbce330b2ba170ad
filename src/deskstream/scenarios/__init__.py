"""Scenarios: named histories a connector must survive, each with the record set a correct client ends with.

This module is the catalog only (names, what each history holds, the faults it runs under, how a client plays it,
what a correct and a naive client end with), as plain data importing nothing of deskstream, so that
:mod:`deskstream.settings` can check ``serve --scenario NAME`` against it. The histories themselves are written by
:mod:`deskstream.scenarios.history`, through the services, as the demo's is. docs/testing.md § Scenarios is the
reader's version of this table.

A scenario is played in one run of the client, or in two: between them, ``POST /_deskstream/scenario/next`` writes
the history's second part (what happens while the connector is not running) at the server's clock and moves a
simulated clock ``settle`` seconds, past the export horizon, so the second run, resuming where the first stopped,
must pick it up.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The ``kv`` row holding the loaded scenario's record, which ``GET /_deskstream/scenario`` serves.
KEY = "scenario"
#: The seconds a two-run scenario's clock moves between runs: the one-minute export horizon, so the second part,
#: written at the clock's time, is exported.
HORIZON_SETTLE = 60
#: ``late_commit``: how long one change in five stays invisible after its timestamp.
LATE_COMMIT_S = 600


@dataclass(frozen=True)
class ScenarioSpec:
    """One scenario as a client author reads it (``GET /_deskstream/scenario`` answers these fields)."""

    name: str
    summary: str
    #: The ``--faults`` spec the server runs under while the scenario is served ('' for none).
    faults: str
    #: Seconds the clock must move between the client's first and second run; 0 for a scenario played in one run.
    settle: int
    #: What a correct client ends with, and how it gets there.
    correct: str
    #: What a naive client does instead.
    naive: str

    @property
    def runs(self) -> int:
        return 2 if self.settle else 1

    def steps(self) -> list[str]:
        """How to play the scenario against any client, in words."""
        steps = ["Run the client once, from the beginning (start_time=0, or no cursor)."]
        if self.settle:
            steps += [
                "POST /_deskstream/scenario/next: the scenario's second part is written and, on a server started "
                f"with --clock sim, the clock moves {self.settle} s; on a real clock, wait {self.settle} s.",
                "Run the client again: it resumes from what it kept of the first run.",
            ]
        steps.append("Compare the tickets the client holds with expected.tickets (id and the fields listed).")
        return steps


SCENARIOS: dict[str, ScenarioSpec] = {
    spec.name: spec
    for spec in (
        ScenarioSpec(
            "storm_over_page",
            "1,050 tickets created in one second (an outage), more than the largest page (1,000), between 10 "
            "tickets before and 10 after; pages are cut inside a second, as real Zendesk's may be "
            "(tie_overflow=stall).",
            "tie_overflow=stall",
            0,
            "All 1,070 tickets, each once. The cursor export (/api/v2/incremental/tickets/cursor) crosses the "
            "storm; a time-based client must notice that end_time did not move and switch to the cursor export.",
            "Following next_page of the time-based export serves the same page of the storm again, forever; a "
            "client that stops when end_time stops moving ends with about a page of the storm (1,010 tickets at "
            "1,000 a page).",
        ),
        ScenarioSpec(
            "system_updates",
            "20 tickets of 5 customers; after the first run three customers are renamed (their 12 tickets get "
            "a system update) and the other 8 tickets are rated: generated_timestamp moves, updated_at does not.",
            "",
            HORIZON_SETTLE,
            "Every ticket's latest version: generated_timestamp of the system update, updated_at unchanged, "
            "the 8 ratings. A client keeps the last version it was served, whatever its updated_at.",
            "A client that keeps a version only when its updated_at is newer, or dedups on (id, updated_at), "
            "keeps the stale versions: old generated_timestamp, no satisfaction_rating.",
        ),
        ScenarioSpec(
            "deletes",
            "30 tickets; after the first run 10 of them are deleted, and 2 more are created, one of which is "
            "deleted at once.",
            "",
            HORIZON_SETTLE,
            "32 tickets, 11 of them with status 'deleted' (the export serves a deleted ticket with that status).",
            "A client that skips items with status 'deleted', or only inserts ids it has not seen, still shows "
            "the 10 deleted tickets as open and misses or mislabels the one created and deleted in between.",
        ),
        ScenarioSpec(
            "late_commit",
            f"50 tickets, one every 5 s, the newest just past the horizon; one in five commits late "
            f"(late_commit_s={LATE_COMMIT_S}): invisible for {LATE_COMMIT_S} s after its timestamp, so a first run "
            "passes over it.",
            f"late_commit_s={LATE_COMMIT_S},seed=1",
            LATE_COMMIT_S,
            f"All 50 tickets. The second run re-reads at least {LATE_COMMIT_S} s before where the first stopped "
            "(a lookback), or follows the change feed (serve --change-sequence), which cannot miss.",
            "A client that resumes exactly from its cursor or end_time never sees the late tickets: it ends with "
            "about 40 of 50.",
        ),
        ScenarioSpec(
            "rate_limited",
            "1,050 tickets, one every 10 s, so a full export takes more than one page at any page size; every "
            "second export request is refused with 429, a plain-text body and Retry-After: 1 (as Zendesk's "
            "sometimes are), on top of the account's budget.",
            "http429_every=2,non_json_429,retry_after=1",
            0,
            "All 1,050 tickets: the client waits Retry-After and asks for the same page again, without parsing "
            "the 429's body as JSON.",
            "A client that treats a 429 as the end of the stream ends with the first page; one that raises on "
            "it, or parses its body as JSON, fails.",
        ),
        ScenarioSpec(
            "reopened_and_merged",
            "12 tickets: 4 solved; after the first run the 4 solved ones are reopened by their requesters, and "
            "4 open tickets are merged into 4 others (closed, tagged closed_by_merge, with a private comment; "
            "the target gets a private comment).",
            "",
            HORIZON_SETTLE,
            "The 4 reopened tickets open again, the 4 merged ones closed with the tag closed_by_merge, the 4 "
            "targets open with the merge's updated_at.",
            "A client that treats solved or closed tickets as final, or only inserts ids it has not seen, keeps "
            "the 4 reopened tickets solved and the 4 merged ones open.",
        ),
    )
}

NAMES: tuple[str, ...] = tuple(SCENARIOS)


class UnknownScenario(ValueError):
    """A scenario name that is not in :data:`SCENARIOS` (one line, naming the known ones)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown scenario {name!r}; the scenarios are: {', '.join(NAMES)}")


def spec(name: str) -> ScenarioSpec:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise UnknownScenario(name) from None
