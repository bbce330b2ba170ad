"""The demo account: the documented credentials and a generated history to serve on a fresh machine.

The history (``deskstream.generate``: about 5,000 tickets over 90 days, same-second storms over 1000 tickets,
deletes, SLA breaches, system updates) is stamped in the past through a fixed clock, so that the exports have data
older than the one-minute horizon (and than zenpy's five minutes) the moment the server starts.

Generating it takes seconds to tens of seconds, so on an empty SQLite database :func:`install` generates it once
per version of the code into a template file in the user's cache directory, and installs a copy whose times are
all moved so that the history again ends ten minutes before now (``store.timeshift``): the first demo on a machine
pays for the generation, every later one for a copy. Both the template and the copy are written under temporary
names and renamed into place when complete, so a process killed half-way leaves no half demo to be served.
Elsewhere (PostgreSQL, a database that already holds accounts) the history is generated in place; a generation
killed there is recognised on the next start and refused rather than served as complete.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import deskstream
from deskstream.clock import FixedClock
from deskstream.domain.people import UserInput
from deskstream.domain.sla import parse_policy_input
from deskstream.exceptions import Unprocessable
from deskstream.generate import generate
from deskstream.service import Desk
from deskstream.store import Store, timeshift

ADMIN_EMAIL = "admin@example.com"
AGENT_EMAIL = "agent@example.com"
USER_EMAIL = "user@example.com"
PASSWORD = "deskstream"
ADMIN_TOKEN = "demo-token-0000"


SEEDED, SEEDING, EVENTS = "demo.seeded", "demo.seeding", "demo.events"


def is_seeded(store: Store) -> bool:
    return store.kv_get(SEEDED) is not None


def create_accounts(desk: Desk) -> dict[str, int]:
    """The three documented users and the admin's API token."""
    ids = {}
    for email, role, name in (
        (ADMIN_EMAIL, "admin", "Ada Admin"),
        (AGENT_EMAIL, "agent", "Alan Agent"),
        (USER_EMAIL, "end-user", "Una User"),
    ):
        ids[role] = desk.people.create_user(UserInput(email=email, role=role, name=name, password=PASSWORD))["id"]
    desk.auth.create_token(ADMIN_EMAIL, ADMIN_TOKEN)
    return ids


DEMO_TICKETS = 5000
DEMO_DAYS = 90
DEMO_SEED = 7

#: The demo's SLA policy: targets in minutes per priority (agent work time in business hours), so that the history
#: holds apply_sla, fulfill and breach metric events.
DEMO_SLA = {
    "title": "Standard support",
    "description": "Demo targets by priority",
    "filter": {"all": [{"field": "current_tags", "operator": "includes", "value": "demo"}], "any": []},
    "policy_metrics": [
        {"priority": priority, "metric": metric, "target": target * scale,
         "business_hours": metric == "agent_work_time"}
        for priority, scale in (("urgent", 1), ("high", 4), ("normal", 8), ("low", 16))
        for metric, target in (("first_reply_time", 30), ("next_reply_time", 60), ("requester_wait_time", 60),
                               ("agent_work_time", 120))
    ],
}


def seed(store: Store, now: int, tickets: int = DEMO_TICKETS, progress: Callable[[int], None] | None = None) -> int:
    """Create the demo accounts and a generated history of ``DEMO_DAYS`` days ending ten minutes before ``now``.

    The documented agent works in the Support group and the documented end user is the busiest customer, so each
    sees tickets of their own. Returns how many tickets were made.
    """
    store.kv_set(SEEDING, str(now))  # until SEEDED is written, the database holds a half demo
    end = now - 600
    desk = Desk(store, FixedClock(end - DEMO_DAYS * 86_400 - 3600))
    ids = create_accounts(desk)
    desk.sla.create_policy(parse_policy_input(DEMO_SLA, creating=True))
    summary = generate(
        store, tickets, DEMO_DAYS, DEMO_SEED, end=end, progress=progress,
        agent_ids=[ids["agent"]], customer_ids=[ids["end-user"]], tags=["demo"],
    )
    store.kv_set(EVENTS, str(summary.events))
    store.kv_set(SEEDED, str(now))
    return summary.counts.get("tickets", 0)


@dataclass(frozen=True)
class Installed:
    """What :func:`install` did: how many tickets and events, in how long, and whether from the cached template."""

    tickets: int
    events: int
    seconds: float
    cached: bool


def install(store: Store, now: int, progress: Callable[[int], None] | None = None) -> Installed:
    """The demo accounts and history on ``store``, ending ten minutes before ``now`` (see the module docstring).

    ``progress`` is called with the tickets generated, only when generating. ``store``'s connections are closed
    when the database file is replaced; it opens new ones on its next use.
    """
    started = time.perf_counter()
    target = timeshift.sqlite_file(store.url)
    if store.kv_get(SEEDING) is not None:
        raise Unprocessable("the database holds a demo history whose generation was interrupted: give serve --demo "
                            "an empty database")
    with store.reading() as r:
        empty = r.count_records("users") == 0 and r.count_records("tickets") == 0
    template = template_path()
    if target is None or not empty:
        made = seed(store, now, progress=progress)
        return Installed(made, int(store.kv_get(EVENTS) or 0), time.perf_counter() - started, cached=False)
    cached = template.exists()
    if not cached:
        _build(template, now, progress)
    built = Store(f"sqlite:///{template}")
    made_at, events = int(built.kv_get(SEEDED) or now), int(built.kv_get(EVENTS) or 0)
    with built.reading() as r:
        made = r.count_records("tickets")
    built.dispose()
    store.dispose()
    timeshift.copy_shifted(template, target, now - made_at, {SEEDED: str(now)})
    return Installed(made, events, time.perf_counter() - started, cached)


#: The code that decides what the demo's database holds: a template made by other code is not used.
_MAKERS = ("demo.py", "clock.py", "base_url.py", "domain", "generate", "service", "store")


def template_path() -> Path:
    """The cached template of this code's demo: ``$XDG_CACHE_HOME/deskstream`` (``~/.cache/deskstream``), named by
    the package's version and a digest of the source that makes it, so a template never outlives that code."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "deskstream"
    return root / f"demo-{deskstream.__version__}-{_code_digest()}.db"


def _code_digest() -> str:
    package = Path(deskstream.__file__).parent
    digest = hashlib.sha256()
    for name in _MAKERS:
        for path in sorted((package / name).rglob("*.py")) if (package / name).is_dir() else [package / name]:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _build(template: Path, now: int, progress: Callable[[int], None] | None) -> None:
    """Generate the template under a temporary name and rename it into place; older templates are removed."""
    template.parent.mkdir(parents=True, exist_ok=True)
    for stale in template.parent.glob("demo-*.partial*"):
        if not _alive(stale.name.split(".")[-1].removeprefix("partial")):
            stale.unlink(missing_ok=True)
    partial = template.with_name(f"{template.name}.partial{os.getpid()}")
    try:
        store = Store(f"sqlite:///{partial}")
        store.migrate()
        seed(store, now, progress=progress)
        store.dispose()
        timeshift.checkpointed(partial)
        os.replace(partial, template)
    finally:
        for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
            leftover.unlink(missing_ok=True)
    for older in template.parent.glob("demo-*.db"):
        if older != template:
            older.unlink(missing_ok=True)


def _alive(pid: str) -> bool:
    """Whether a process of this id runs (a template another process is building is not litter)."""
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
