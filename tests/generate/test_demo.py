"""``deskstream serve --demo`` on an empty database: the promised history, then a server with the documented
credentials (spec/README.md § Interfaces)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from tests.conftest import free_port
from tests.generate.histories import rows

from deskstream import demo
from deskstream.clock import FixedClock
from deskstream.domain.people import UserInput
from deskstream.service import Desk
from deskstream.store import Store

if TYPE_CHECKING:
    from tests.conftest import Server  # the session's server fixture type (tests/conftest.py)

ADMIN = (demo.ADMIN_EMAIL, demo.PASSWORD)
SUMMARY = re.compile(r"Demo history: 5,000 tickets, [\d,]+ events, (generated|copied)[^\n]* in [\d.]+ s")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache directory of the module's own (``XDG_CACHE_HOME`` of the servers it starts): the first demo generates
    the template there, the next ones copy it."""
    directory = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(directory))
        yield directory


@pytest.fixture(scope="module", params=["generated", "copied"])
def demo_server(request: pytest.FixtureRequest, cache: Path, make_server: Callable[..., Server]) -> tuple[Server, int]:
    """A real ``serve --demo`` on a fresh SQLite file (no accounts made beforehand), and when it was started:
    the history generated (an empty cache), or copied from the template an earlier demo left in the cache."""
    template = cache / "deskstream" / demo.template_path().name
    if request.param == "generated":
        template.unlink(missing_ok=True)
    elif not template.exists():
        make_server("--demo", seed=None).stop()
    started = int(time.time())
    server = make_server("--demo", "--rate-limit", "off", seed=None)
    assert SUMMARY.search(server.log_path.read_text())[1] == request.param  # type: ignore[index]
    return server, started


def test_it_says_what_it_does_then_prints_one_summary_line(demo_server: tuple[Server, int]) -> None:
    log = demo_server[0].log_path.read_text()
    assert log.startswith("Demo history: 5,000 tickets over 90 days: generating, or copying the cached history")
    assert len(SUMMARY.findall(log)) == 1


def test_it_prints_the_base_url_the_demo_credentials_and_a_ready_curl(demo_server: tuple[Server, int]) -> None:
    server, _ = demo_server
    log = server.log_path.read_text()
    assert server.base_url in log
    for secret in (demo.ADMIN_EMAIL, demo.PASSWORD, demo.ADMIN_TOKEN, demo.AGENT_EMAIL, demo.USER_EMAIL):
        assert secret in log
    assert f"curl -u {demo.ADMIN_EMAIL}:{demo.PASSWORD}" in log and "/api/v2/incremental/tickets" in log


def test_the_seeds_curl_gets_a_full_page_of_demo_tickets(demo_server: tuple[Server, int]) -> None:
    server, _ = demo_server
    answer = server.client(ADMIN).get("/api/v2/incremental/tickets", params={"start_time": 0},
                                      headers={"Accept": "application/json"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] >= 1000 and body["end_of_stream"] is False


def test_the_history_has_about_5000_tickets_over_90_days_ending_ten_minutes_ago(
    demo_server: tuple[Server, int],
) -> None:
    server, started = demo_server
    store = server.store()
    (count, first, last), = rows(store, "SELECT count(*), min(created_at), max(updated_at) FROM tickets")
    (last_event,), = rows(store, "SELECT max(timestamp) FROM ticket_events")
    since = started - 600
    late = rows(store, f"SELECT DISTINCT type FROM ticket_metric_events WHERE time > {since}")
    assert count == demo.DEMO_TICKETS
    assert started - 91 * 86_400 < first < started - 89 * 86_400
    assert max(last, last_event) <= since
    # The running server's SLA scheduler breaches what fell due since then, at its own now (a system update bumps
    # only generated_timestamp): those breaches are all the metric events that may be later.
    assert {kind for kind, in late} <= {"breach"}


def test_the_history_has_a_storm_deletes_breaches_and_system_updates(demo_server: tuple[Server, int]) -> None:
    store = demo_server[0].store()
    (storm,), = rows(store, "SELECT max(n) FROM (SELECT count(*) AS n FROM ticket_events GROUP BY timestamp)")
    (created,), = rows(store, "SELECT max(n) FROM (SELECT count(*) AS n FROM tickets GROUP BY created_at)")
    assert storm > 1000 and created > 1000
    assert rows(store, "SELECT count(*) FROM tickets WHERE status = 'deleted' AND deleted_at IS NOT NULL")[0][0] > 0
    assert rows(store, "SELECT count(*) FROM ticket_metric_events WHERE type = 'breach'")[0][0] > 0
    assert rows(store, "SELECT count(*) FROM ticket_metric_events WHERE type = 'apply_sla'")[0][0] > 0
    assert rows(store, "SELECT count(*) FROM tickets WHERE generated_timestamp > updated_at")[0][0] > 0


def test_the_documented_agent_and_end_user_have_tickets_of_their_own(demo_server: tuple[Server, int]) -> None:
    server, _ = demo_server
    for email in (demo.AGENT_EMAIL, demo.USER_EMAIL):
        column = "assignee_id" if email == demo.AGENT_EMAIL else "requester_id"
        mine = rows(server.store(), f"SELECT count(*) FROM tickets t JOIN users u ON u.id = t.{column} "
                                    f"WHERE u.email = '{email}'")
        assert mine[0][0] > 0, email


def test_a_restart_on_the_filled_database_serves_it_without_generating(
    demo_server: tuple[Server, int], make_server: Callable[..., Server]
) -> None:
    server, _ = demo_server
    again = make_server("--demo", "--rate-limit", "off", db_url=server.db_url)
    assert "Demo history" not in again.log_path.read_text()
    assert again.client(ADMIN).get("/api/v2/users/me.json").json()["user"]["email"] == demo.ADMIN_EMAIL


def _serve_demo(db: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKSTREAM_")}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "deskstream", "serve", "--demo", "--db", f"sqlite:///{db}",
                                 "--port", str(free_port())], stdout=out, stderr=subprocess.STDOUT, env=env)


def _kill_while_generating(db: Path, log: Path, cache: Path | None) -> None:
    """Start ``serve --demo`` and kill it (SIGKILL) once it has written part of the history."""
    process = _serve_demo(db, log)
    watched = cache or db
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            partial = list(watched.glob("*.partial*")) if cache else list(db.parent.glob(db.name + "*"))
            if any(p.exists() and p.stat().st_size > 2_000_000 for p in partial):
                break
            assert process.poll() is None, log.read_text()
            time.sleep(0.05)
    finally:
        process.kill()
        process.wait()


def _on_a_terminal(db: Path) -> str:
    """``serve --demo`` under a pseudo-terminal until it serves; what the terminal showed."""
    import pty

    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKSTREAM_")} | {"COLUMNS": "120"}
    process = subprocess.Popen(
        [sys.executable, "-m", "deskstream", "serve", "--demo", "--db", f"sqlite:///{db}", "--port", str(free_port())],
        stdin=terminal, stdout=terminal, stderr=terminal, env=env,
    )
    os.close(terminal)
    seen = b""
    try:
        deadline = time.monotonic() + 600
        while b"deskstream serving" not in seen and time.monotonic() < deadline:
            try:
                seen += os.read(controller, 65536)
            except OSError:  # the process ended: the terminal is closed
                break
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
        os.close(controller)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))  # without colours and cursor moves


def test_killed_while_generating_a_restart_generates_again_with_a_progress_bar_and_serves_a_whole_demo(
    cache: Path, tmp_path: Path
) -> None:
    kept = tmp_path / "kept"
    kept.mkdir()
    for template in (cache / "deskstream").glob("demo-*.db"):
        template.rename(kept / template.name)  # an empty cache, put back after
    try:
        db = tmp_path / "killed.db"
        _kill_while_generating(db, tmp_path / "killed.log", cache / "deskstream")
        assert not list((cache / "deskstream").glob("demo-*.db"))  # a killed run leaves no template
        shown = _on_a_terminal(db)
        assert re.search(r"generating .*\d+/5000", shown), shown[-2000:]  # rich's bar, drawn on a terminal
        assert SUMMARY.search(shown)[1] == "generated", shown[-2000:]  # type: ignore[index]
        assert rows(Store(f"sqlite:///{db}"), "SELECT count(*) FROM tickets")[0][0] == demo.DEMO_TICKETS
    finally:
        for template in kept.glob("demo-*.db"):
            template.replace(cache / "deskstream" / template.name)


def test_killed_while_generating_in_place_a_restart_refuses_the_half_demo(tmp_path: Path) -> None:
    """A database that holds accounts already gets the history generated in place; killed half-way, it is not
    served as a demo (exit 2 and one line), since it is not one."""
    db = tmp_path / "in-place.db"
    store = Store(f"sqlite:///{db}")
    store.migrate()
    Desk(store, FixedClock(int(time.time()))).people.create_user(
        UserInput(email="someone@example.com", role="agent", name="Some One")
    )
    store.dispose()
    _kill_while_generating(db, tmp_path / "in-place.log", None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKSTREAM_")}
    again = subprocess.run([sys.executable, "-m", "deskstream", "serve", "--demo", "--db", f"sqlite:///{db}",
                            "--port", str(free_port())], capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 2
    assert "generation was interrupted" in again.stderr and "Traceback" not in again.stderr
