"""benchmarks/vs_mbrllib.py (the side-by-side with mbrl-lib) and planner.py's block timing it relies on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench_modules import load

ROOT = Path(__file__).resolve().parents[1]


def run(setting: str, threads: int, theirs: float, ours: float) -> dict[str, object]:
    return {
        "setting": setting,
        "threads": threads,
        "mbrllib_ms": theirs,
        "dynadapt_ms": ours,
        "mbrllib_matmul_ratio": 0.6,
        "dynadapt_matmul_ratio": 0.7,
    }


def test_the_speed_up_is_the_ratio_of_medians_and_each_setting_has_its_target() -> None:
    vs = load("vs_mbrllib")
    rows = vs.summarise(
        [
            run("a", 1, 8000.0, 4000.0),
            run("a", 1, 9000.0, 3000.0),
            run("a", 1, 7000.0, 5000.0),
            run("c", 2, 20.0, 8.0),
            run("c", 2, 24.0, 7.0),
        ]
    )
    a, c = rows
    assert (a["setting"], a["threads"], c["setting"], c["threads"]) == ("a", 1, "c", 2)
    assert a["speedup"] == pytest.approx(8000.0 / 4000.0) and a["target"] == 2.0 and a["met"]
    assert c["speedup"] == pytest.approx(22.0 / 7.5, abs=1e-3) and c["target"] == 3.0 and not c["met"]
    assert a["mbrllib_ms"] == [8000.0, 9000.0, 7000.0] and a["dynadapt_ms"] == [4000.0, 3000.0, 5000.0]


def test_without_the_mbrllib_venv_the_script_says_so_in_one_line(tmp_path: Path) -> None:
    out = tmp_path / "vs.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "vs_mbrllib.py"),
            "--mbrllib-python",
            str(tmp_path / "nowhere" / "python"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "setup-mbrllib.sh" in done.stderr and not out.exists()
    bad = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "vs_mbrllib.py"), "--settings", "ax"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "--settings" in bad.stderr


def test_a_timed_planner_step_can_be_the_median_of_a_block_of_plans() -> None:
    planner = load("planner")
    one = planner.bench_one(planner.SETTINGS["c"], "cem", 1, False)
    block = planner.bench_one(planner.SETTINGS["c"], "cem", 1, False, min_block_s=0.05)
    assert one["min_block_s"] == 0.0 and block["min_block_s"] == 0.05
    # The block holds several plans (a (c) plan takes milliseconds), each counted once: rows per step are
    # the same as a single plan's.
    assert block["model_rows_per_step"] == one["model_rows_per_step"] > 0
    assert block["ms_per_step"] > 0
    # Work per plan over time per plan: the block's throughput is the single plan's, within timing noise
    # (a cold single plan is slower, so the block's figure may be higher, but not by the block's length).
    assert 0.2 < block["ratio_to_matmul"] / one["ratio_to_matmul"] < 5
    assert block["model_gflops"] / one["model_gflops"] < 5
