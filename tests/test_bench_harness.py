"""``benchmarks/harness.py``: a run's cost is the run's own CPU and wall seconds, also when it is reused."""

from __future__ import annotations

import json
from pathlib import Path

from dynadapt.runs import launch
from tests.bench_modules import load
from tests.runs.tiny import tiny


def test_cost_of_a_reused_run_is_the_runs_own(tmp_path: Path) -> None:
    harness = load("harness")
    preset, cfg = tiny("mbrl")
    launch.start(preset, cfg, tmp_path / "run", progress=False)
    first = harness.run(preset.name, [], cfg.seed, tmp_path / "run", resume=True)  # reused, not rerun
    rows = first["rows"]
    assert first["cost_source"] == "run"
    assert first["cpu_s"] == rows[-1]["time/cpu_s"] > 0 and first["wall_s"] == rows[-1]["time/wall_s"]
    again = harness.run(preset.name, [], cfg.seed, tmp_path / "run", resume=True)
    assert again["cpu_s"] == first["cpu_s"]


def test_cost_of_a_run_without_cpu_seconds(tmp_path: Path) -> None:
    harness = load("harness")
    rows = [{"episode": 1, "time/wall_s": 3.0, "time/cpu_s": None}]
    unknown = harness.cost(tmp_path, rows)
    assert unknown["cpu_s"] is None and unknown["wall_s"] == 3.0
    assert unknown["cost_source"].startswith("unknown")
    (tmp_path / harness.COST_FILE).write_text(json.dumps({"cpu_s": 104.9, "wall_s": 125.2}))
    assert harness.cost(tmp_path, rows) == {"cpu_s": 104.9, "wall_s": 125.2, "cost_source": "log"}
    assert harness.cost(tmp_path, [])["cost_source"] == "log"
