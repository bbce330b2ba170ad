"""The pytest plugin as a connector's project uses it: small test files run by pytester against the ``zendesk``
fixture, in a thread and in a process, with the ini options and the marker, and the worked example of
docs/testing.md run exactly as it is written there."""

from __future__ import annotations

import json
import os
import re
import textwrap
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest

from deskstream.testing.options import Options

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module", autouse=True)
def _server_modules_imported(deskstream_session: Any) -> None:
    """pytester's in-process runs forget the modules first imported inside them, and the next import makes new
    classes that FastAPI's and pydantic's caches do not know: a server started out here first imports them once."""
    deskstream_session.start(Options()).close()
    import_module("deskstream.scenarios.history")
    import_module("deskstream.generate")


ROOT = Path(__file__).resolve().parents[2]
TESTING_MD = ROOT / "docs" / "testing.md"


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_test_of_a_few_lines_runs_in_a_thread_and_in_a_process(pytester: pytest.Pytester) -> None:
    """A fresh interpreter, as a project's CI runs pytest: the fixture comes from the entry point alone. Each inner
    test leaves what it saw in a file; the servers, their processes and their files are gone afterwards."""
    pytester.makepyfile(
        test_connector=textwrap.dedent(
            """
            import json
            import os

            import httpx
            import pytest

            def _seen(zendesk, name):
                with open(f"{name}.json", "w") as out:
                    json.dump({"started_in": zendesk.started_in, "pid": zendesk.pid, "test_pid": os.getpid(),
                               "db": zendesk.db_url.removeprefix("sqlite:///")}, out)

            def _sync(zendesk):
                page = httpx.get(f"{zendesk.url}/api/v2/incremental/tickets/cursor.json", params={"start_time": 0},
                                 auth=zendesk.admin).json()
                return [ticket["id"] for ticket in page["tickets"]]

            def test_in_a_thread(zendesk):
                made = zendesk.create_tickets(3)
                zendesk.past_horizon()
                assert _sync(zendesk) == [ticket["id"] for ticket in made]
                assert [(r.path, r.status, r.items) for r in zendesk.requests()] == [
                    ("/api/v2/incremental/tickets/cursor.json", 200, 3)]
                _seen(zendesk, "thread")

            @pytest.mark.deskstream(process=True)
            def test_in_a_process(zendesk):
                made = zendesk.create_tickets(2)
                assert _sync(zendesk) == []           # younger than the horizon
                zendesk.past_horizon()
                assert _sync(zendesk) == [ticket["id"] for ticket in made]
                assert [r.query for r in zendesk.requests()] == ["start_time=0", "start_time=0"]
                _seen(zendesk, "process")
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    thread, process = (json.loads((pytester.path / f"{name}.json").read_text()) for name in ("thread", "process"))
    print(f"fixture start: {thread['started_in']:.3f}s in a thread (the session's first), "
          f"{process['started_in']:.3f}s in a process")  # fmt: skip
    assert thread["pid"] == thread["test_pid"] and process["pid"] != process["test_pid"]
    assert _gone(process["pid"]) and _gone(process["test_pid"])
    for seen in (thread, process):
        assert not Path(seen["db"]).exists() and not Path(seen["db"]).parent.parent.exists()  # the session's dir


def test_ini_options_the_marker_and_the_module_scope(pytester: pytest.Pytester) -> None:
    """``deskstream_rate_limit`` and ``deskstream_scope`` from the ini file; a module's marker wins over them."""
    pytester.makeini(
        """
        [pytest]
        deskstream_rate_limit = 2
        deskstream_scope = module
        deskstream_faults = http503_rate=1,retry_after=0
        """
    )
    common = """
        import httpx
        import pytest

        def exports(zendesk, n):
            return [httpx.get(f"{zendesk.url}/api/v2/incremental/tickets/cursor.json", params={"start_time": 0},
                              auth=zendesk.admin).status_code for _ in range(n)]
    """
    pytester.makepyfile(
        test_limited=textwrap.dedent(common)
        + textwrap.dedent(
            """
            URLS = []

            def test_the_ini_file_sets_the_budget_and_the_faults(zendesk):
                assert exports(zendesk, 1) == [503]
                with zendesk.faults():                      # none while the block runs
                    assert exports(zendesk, 3) == [200, 200, 429]  # a budget of 2 (an injected 503 spends none)
                assert exports(zendesk, 1) == [503]
                URLS.append(zendesk.url)

            def test_the_server_is_the_module_s(zendesk):
                URLS.append(zendesk.url)
                assert URLS[0] == URLS[1]
            """
        ),
        test_unlimited=textwrap.dedent(common)
        + textwrap.dedent(
            """
            pytestmark = pytest.mark.deskstream(rate_limit="off", faults="", change_sequence=True)

            def test_the_marker_wins(zendesk):
                assert exports(zendesk, 4) == [200] * 4
                assert httpx.get(f"{zendesk.url}/api/v2/incremental/changes", params={"since": 0},
                                 auth=zendesk.admin).status_code == 200
            """
        ),
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)


def _documented_files() -> dict[str, str]:
    """The worked example's files, as docs/testing.md shows them (```python title="NAME" blocks)."""
    return dict(re.findall(r'```python title="([^"]+)"\n(.*?)```', TESTING_MD.read_text(), re.S))


def test_the_worked_example_of_the_docs_catches_the_naive_client(pytester: pytest.Pytester) -> None:
    """docs/testing.md's two connectors and their tests, as written: the correct one passes every scenario, the
    naive one fails every one, the storm's failure says which tickets it lost."""
    files = _documented_files()
    assert set(files) == {"connector.py", "test_connector.py"}
    pytester.makepyfile(**{name.removesuffix(".py"): body for name, body in files.items()})
    pytester.syspathinsert()
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning")
    result.assert_outcomes(passed=7, failed=6)
    failed = {line.split("[", 1)[1].split("]", 1)[0] for line in result.outlines if line.startswith("FAILED")}
    assert failed == {
        f"naive_sync-{name}"
        for name in (
            "storm_over_page",
            "system_updates",
            "deletes",
            "late_commit",
            "rate_limited",
            "reopened_and_merged",
        )
    }
    result.stdout.fnmatch_lines([
        "*AssertionError: scenario storm_over_page: the client does not hold what a correct client ends with",
        "*60 of 1070 tickets missing: *",
    ])  # fmt: skip
