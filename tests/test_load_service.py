"""The load benchmark, run in ``--quick`` mode, so that it cannot rot: no 5xx, ``/healthz`` answered.

The timings it measures are not checked here (they belong in
``benchmarks/``); what is checked is that every request under load is answered
as the contract says.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).parent.parent / "benchmarks" / "load_service.py"


@pytest.mark.slow
def test_the_quick_load_benchmark_gets_no_5xx_and_healthz_always_answers(tmp_path):
    run = subprocess.run(
        [sys.executable, str(BENCHMARK), "--quick", "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads((tmp_path / "load_service.json").read_text())
    rows = {(row["workers"], row["kind"], row["concurrency"]): row for row in result["rows"]}
    assert set(rows) == {(1, "idle", 0)} | {
        (1, kind, n) for kind in ("diagnose", "batch") for n in (1, 8)
    }
    assert rows[1, "idle", 0]["healthz"]["not_200"] == 0
    for row in (row for row in rows.values() if row["kind"] != "idle"):
        assert row["5xx"] == 0
        assert row["malformed"] == row["no_answer"] == 0
        assert row["2xx"] > 0
        # The single requests naming an unknown node are 422s; a batch answers its bad
        # cases in their places, with a 200.
        allowed = {"200", "422"} if row["kind"] == "diagnose" else {"200"}
        assert set(row["statuses"]) <= allowed
        assert row["healthz"]["probes"] > 0
        assert row["healthz"]["not_200"] == 0
    assert not result["server_logged_a_traceback"]
    assert (tmp_path / "load_service.md").read_text() in run.stdout + "\n"
