"""``bench/run.py`` runs end to end (CI's smoke test: sizes tiny, no assertion on speed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]


def test_bench_run_smoke_prints_a_table_and_writes_the_pinned_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--json", str(out)],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = orjson.loads(out.read_bytes())
    assert {"generator_events_per_s", "ticket_events_http", "ticket_events_with_comments_http"} <= set(results)
    for name, result in results.items():
        assert set(result) == {"value", "unit", "limit", "ratio"}, name
        assert isinstance(result["value"], float) and result["value"] > 0, name
        assert (result["limit"] is None) == (result["ratio"] is None), name
    assert "generator_events_per_s" in done.stdout
