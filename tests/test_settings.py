"""How many processes ``deskstream serve`` runs (settings.py ``Settings.processes``)."""

from __future__ import annotations

import os

import pytest

from deskstream.settings import Settings


@pytest.mark.parametrize("given", ["1", "3", 5])
def test_workers_given_are_the_processes_run(given: object) -> None:
    assert Settings(workers=given).processes == int(str(given))  # type: ignore[arg-type]


@pytest.mark.parametrize("given", [None, "", "auto"])
def test_by_default_a_server_runs_one_process_per_core(given: object) -> None:
    assert Settings(workers=given).processes == (os.cpu_count() or 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("double", [{"demo": True}, {"scenario": "deletes"}, {"clock": "sim"},
                                    {"faults": "http429_every=5"}])
def test_a_test_double_runs_one_process_so_its_faults_act_on_every_request(double: dict[str, object]) -> None:
    assert Settings(**double).processes == 1  # type: ignore[arg-type]
    assert Settings(**double, workers="2").processes == 2  # type: ignore[arg-type]
