"""``deskstream sync`` and ``verify`` as processes, against a real server that misbehaves on purpose (spec/sync.md):
the mirror equals the source on every target, whatever the faults, however often the sync is killed."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import create_engine, text
from tests.conftest import ADMIN, AGENT, ProcessServer, seed_accounts, start_server
from tests.helpers import pg_database

from deskstream import demo
from deskstream.clock import FixedClock, SimClock
from deskstream.domain.people import OrganizationInput
from deskstream.service import Desk
from deskstream.store import Store

TARGETS = ("sqlite", "postgresql", "duckdb", "jsonl", "parquet")
#: Retry-After 0: the client waits as told without the suite waiting a second each time.
FAULTS = {"http429_every": 4, "http503_rate": 0.1, "http504_rate": 0.1, "non_json_429": True, "truncate_rate": 0.1,
          "tie_overflow": "stall", "retry_after": 0, "seed": 7}  # fmt: skip


def seed_small_demo(store: Store) -> None:
    """The demo's history at 300 tickets, and the breaches due by the frozen clock's start, so nothing moves."""
    demo.seed(store, int(time.time()), tickets=300)
    Desk(store, SimClock(store)).sla.tick()


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessServer]:
    server = start_server(tmp_path_factory.mktemp("upstream"), "--clock", "sim", "--rate-limit", "off",
                          seed=seed_small_demo)  # fmt: skip
    httpx.post(f"{server.base_url}/_deskstream/clock", json={"advance": 120}, auth=ADMIN)
    yield server
    server.stop()


@pytest.fixture
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    kind = request.param
    if kind == "postgresql":
        with pg_database(f"mirror_{random.randrange(10**6)}", migrated=False) as store:
            yield store.url
        return
    yield {"sqlite": f"sqlite:///{tmp_path}/mirror.db", "duckdb": f"duckdb:///{tmp_path}/mirror.duckdb",
           "jsonl": f"jsonl:{tmp_path}/mirror", "parquet": f"parquet:{tmp_path}/mirror"}[kind]  # fmt: skip


def command(verb: str, server: ProcessServer, to: str, *extra: str, user: tuple[str, str] = ADMIN) -> list[str]:
    return [sys.executable, "-m", "deskstream", verb, "--from", server.base_url, "--email", user[0],
            "--password", user[1], "--to", to, *extra]  # fmt: skip


def deskstream(
    verb: str, server: ProcessServer, to: str, *extra: str, user: tuple[str, str] = ADMIN
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(verb, server, to, *extra, user=user), capture_output=True, text=True, timeout=300)


def faults(server: ProcessServer, **on: object) -> None:
    answer = httpx.put(f"{server.base_url}/_deskstream/faults", json=on, auth=ADMIN)
    assert answer.status_code == 200, answer.text


def verified(server: ProcessServer, to: str) -> str:
    faults(server)  # the upstream as it is, read without faults
    checked = deskstream("verify", server, to)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    return checked.stdout


def rows_of(to: str, stream: str) -> list[tuple[int, int, str]]:
    """(id, version, content) of every row the target holds for ``stream``: a duplicate would show twice."""
    if to.startswith("jsonl:"):
        path = Path(to.removeprefix("jsonl:")) / f"{stream}.jsonl"
        items = [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []
        return [(i["id"], 0, orjson.dumps(i).decode()) for i in items]
    if to.startswith("parquet:"):
        import pyarrow.parquet as pq

        directory = Path(to.removeprefix("parquet:")) / stream
        if not directory.exists():
            return []
        table = pq.read_table(directory).to_pydict()
        return list(zip(table["id"], table["version"], table["data"], strict=True))
    url = to.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    with engine.connect() as conn:
        found = [(r[0], r[1], r[2]) for r in conn.execute(text(f"SELECT id, version, data FROM {stream}"))]
    engine.dispose()
    return found


def assert_no_duplicate_rows(to: str) -> None:
    for stream in ("tickets", "users", "ticket_events", "ticket_metric_events", "organizations"):
        counted = Counter(rows_of(to, stream))
        assert [row for row, n in counted.items() if n > 1] == [], stream


#: What the summary names each injected fault as (a 429 and a 503 are waited as told; the others backed off).
MET = {
    "http429_every + non_json_429": "429 with a body that is not JSON (text/plain) and Retry-After",
    "http503_rate": "503 with a JSON body and Retry-After",
    "http504_rate": "504 with a body that is not JSON (text/html)",
    "truncate_rate": "connection closed mid-body",
}
LATE = 3600


def faults_met(summary: Path) -> dict[str, str]:
    """Every fault the ``--json`` summary says was met, and how it was handled."""
    return {f["fault"]: f["handled"] for s in orjson.loads(summary.read_bytes()).values() for f in s["faults"]}


@pytest.mark.parametrize("target", ["sqlite", "jsonl"], indirect=True)  # the faults are the client's; every target
def test_a_sync_through_every_fault_leaves_a_mirror_that_verify_passes(
    upstream: ProcessServer, target: str, tmp_path: Path
) -> None:
    faults(upstream, **FAULTS, late_commit_s=LATE)
    synced = deskstream("sync", upstream, target, "--json", str(tmp_path / "summary.json"))
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "faults met" in synced.stdout and "retries" in synced.stdout
    met = faults_met(tmp_path / "summary.json")
    assert {fault: met.get(said) for fault, said in MET.items()} == {
        "http429_every + non_json_429": "waited as Retry-After said, asked again",
        "http503_rate": "waited as Retry-After said, asked again",
        "http504_rate": "backed off with jitter, asked again",
        "truncate_rate": "backed off with jitter, asked again",
    }, met
    # The late commits show once the fault is lifted (the other faults stay on); a resumed run that looks back as
    # far as they were late catches them. (Moving the clock instead would pass SLA targets, whose breaches land
    # within the new horizon: verify would then see the mirror ahead of what the upstream serves yet.)
    faults(upstream, **FAULTS)
    caught = deskstream("sync", upstream, target, "--lookback", str(LATE + 120))
    assert caught.returncode == 0, caught.stdout + caught.stderr
    verified(upstream, target)
    assert_no_duplicate_rows(target)


@pytest.mark.parametrize("target", TARGETS, indirect=True)
def test_killed_at_random_points_and_rerun_the_mirror_equals_the_source_without_duplicates(
    upstream: ProcessServer, target: str
) -> None:
    faults(upstream, slow_ms=40, seed=3)  # slow enough that the kills land mid-sync
    rng = random.Random(target)
    for _ in range(1):  # one kill per target (five in the suite)
        process = subprocess.Popen(command("sync", upstream, target), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(rng.uniform(0.8, 2.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
    finished = deskstream("sync", upstream, target)
    assert finished.returncode == 0, finished.stderr
    verified(upstream, target)
    assert_no_duplicate_rows(target)


def assert_ctrl_c_stops_a_waiting_sync_at_once(upstream: ProcessServer, to: str) -> None:
    """Every request is told to wait ten minutes; SIGINT three seconds in ends the sync within five, exit 130,
    with the summary so far."""
    faults(upstream, http429_every=1, retry_after=600)
    try:
        process = subprocess.Popen(command("sync", upstream, to), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)  # fmt: skip
        time.sleep(3)
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:  # the process and its pipes go with the test, whatever happened
            process.kill()
            process.communicate()
        faults(upstream)
    assert time.monotonic() - interrupted < 5 and process.returncode == 130, err
    assert "interrupted; run it again to resume" in out and err.strip() == "error: interrupted"


def test_ctrl_c_stops_a_sync_that_waits_at_once_with_the_summary_and_exit_130(
    upstream: ProcessServer, tmp_path: Path
) -> None:
    assert_ctrl_c_stops_a_waiting_sync_at_once(upstream, f"sqlite:///{tmp_path}/mirror.db")


def test_a_no_op_rerun_exits_0_in_seconds(upstream: ProcessServer, tmp_path: Path) -> None:
    to = f"sqlite:///{tmp_path}/mirror.db"
    assert deskstream("sync", upstream, to).returncode == 0
    started = time.monotonic()
    again = deskstream("sync", upstream, to, "--json", str(tmp_path / "summary.json"))
    assert again.returncode == 0 and time.monotonic() - started < 10
    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    assert sum(s["stored"] for s in summary.values()) == 0


def test_verify_names_a_missing_ticket_and_a_stale_version(upstream: ProcessServer, tmp_path: Path) -> None:
    to = f"sqlite:///{tmp_path}/mirror.db"
    assert deskstream("sync", upstream, to).returncode == 0
    engine = create_engine(to)
    with engine.begin() as conn:
        gone, stale = [r[0] for r in conn.execute(text("SELECT id FROM tickets ORDER BY id LIMIT 2"))]
        conn.execute(text("DELETE FROM tickets WHERE id = :id"), {"id": gone})
        conn.execute(text("UPDATE tickets SET version = version - 1 WHERE id = :id"), {"id": stale})
    engine.dispose()
    checked = deskstream("verify", upstream, to)
    assert checked.returncode == 1
    line = next(line for line in checked.stdout.splitlines() if "tickets" in line and "ticket_" not in line)
    assert f"e.g. {gone}" in line and f"e.g. {stale}" in line and "DIFFERS" in line


def test_changes_during_a_sync_are_levelled_by_the_next_after_the_horizon(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--clock", "sim", "--rate-limit", "off", seed=seed_small_demo)
    to = f"sqlite:///{tmp_path}/mirror.db"
    try:
        admin = server.client(ADMIN)
        ids = [t["id"] for t in admin.get("/api/v2/tickets", params={"per_page": 50}).json()["tickets"]]
        faults(server, slow_ms=30)
        process = subprocess.Popen(command("sync", server, to), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        n = 0
        while process.poll() is None:
            n += 1
            admin.put(f"/api/v2/tickets/{ids[n % len(ids)]}", json={"ticket": {"subject": f"during {n}"}})
            if n % 10 == 0:
                admin.post("/_deskstream/clock", json={"advance": 5})
        _, errors = process.communicate()
        assert process.returncode == 0 and n > 10, errors
        admin.post("/_deskstream/clock", json={"advance": 120})
        assert deskstream("sync", server, to).returncode == 0
        verified(server, to)
    finally:
        server.stop()


def seed_organizations_in_one_second(store: Store) -> None:
    """1,100 organizations made in one second ten minutes ago: more than an export page."""
    now = int(time.time())
    seed_accounts(store, now)
    desk = Desk(store, FixedClock(now - 600))
    for n in range(1100):
        desk.people.create_organization(OrganizationInput(name=f"Org {n}"))


def test_a_second_cut_inside_on_organizations_is_drained_through_the_organizations_list(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--rate-limit", "off", "--faults", "tie_overflow=stall",
                          seed=seed_organizations_in_one_second)  # fmt: skip
    to = f"sqlite:///{tmp_path}/mirror.db"
    try:
        synced = deskstream("sync", server, to, "--streams", "organizations", "--json", str(tmp_path / "s.json"))
        assert synced.returncode == 0, synced.stdout + synced.stderr
        assert faults_met(tmp_path / "s.json") == {
            "a time-based page cut inside a second that holds more than a page": "drained through /api/v2/organizations"
        }
        checked = deskstream("verify", server, to, "--streams", "organizations")
        assert checked.returncode == 0 and "1,100" in checked.stdout, checked.stdout
    finally:
        server.stop()


def test_late_commits_are_caught_by_a_resumed_run_that_looks_back(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--clock", "sim", "--rate-limit", "off", seed=seed_small_demo)
    to = f"jsonl:{tmp_path}/mirror"
    try:
        admin = server.client(ADMIN)
        admin.post("/_deskstream/clock", json={"advance": 120})
        faults(server, late_commit_s=100_000_000, seed=2)  # some changes stay invisible until the fault is lifted
        assert deskstream("sync", server, to, "--streams", "tickets").returncode == 0
        faults(server)
        checked = deskstream("verify", server, to, "--streams", "tickets")
        assert checked.returncode == 1, "the late commits were passed: the mirror lacks them"
        caught = deskstream("sync", server, to, "--streams", "tickets", "--lookback", "100000000")
        assert caught.returncode == 0
        verified_tickets = deskstream("verify", server, to, "--streams", "tickets")
        assert verified_tickets.returncode == 0, verified_tickets.stdout
        assert_no_duplicate_rows(to)
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("--streams", "tickets,bogus"), 2, "bogus"),
        (("--token", "t"), 2, "exactly one of --token, --password and --bearer"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(upstream: ProcessServer, tmp_path: Path, args: tuple[str, ...], code: int,
                                         says: str) -> None:  # fmt: skip
    done = deskstream("sync", upstream, f"sqlite:///{tmp_path}/m.db", *args)
    assert done.returncode == code and says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_refused_credentials_exit_3_without_printing_them(upstream: ProcessServer, tmp_path: Path) -> None:
    done = deskstream("sync", upstream, f"sqlite:///{tmp_path}/m.db", user=(ADMIN[0], "wrong-secret-42"))
    assert done.returncode == 3, done.stderr
    assert "wrong-secret-42" not in done.stdout + done.stderr and "Traceback" not in done.stderr


def test_an_agent_is_refused_with_exit_3_and_told_that_exports_are_admins_only(
    upstream: ProcessServer, tmp_path: Path
) -> None:
    done = deskstream("sync", upstream, f"sqlite:///{tmp_path}/m.db", user=AGENT)
    assert done.returncode == 3 and "admins' only" in done.stderr, done.stderr


@pytest.mark.parametrize("kind", ["jsonl:{}/typo", "sqlite:///{}/typo.db"])
def test_verify_of_a_mirror_that_is_not_there_is_one_line_exit_2_and_makes_nothing(
    upstream: ProcessServer, tmp_path: Path, kind: str
) -> None:
    done = deskstream("verify", upstream, kind.format(tmp_path))
    assert done.returncode == 2 and "run deskstream sync first" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and list(tmp_path.iterdir()) == []


def test_a_target_that_cannot_be_written_is_exit_2(upstream: ProcessServer) -> None:
    done = deskstream("sync", upstream, "mysql://nowhere/db")
    assert done.returncode == 2 and "--to" in done.stderr
