"""The meta loop end to end on tiny budgets: every method, resume, presets of the three families."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dynadapt.runs import launch
from dynadapt.runs.config import apply_overrides, parse_override_args
from dynadapt.runs.presets import PRESETS, get_preset

TINY = [
    "iterations=2", "episodes_per_iter=2", "episode_steps=24", "switch_at=12", "eval_episodes=1",
    "planner.population=32", "mpc.horizon=5", "grbal.max_epochs=2", "rebal.max_epochs=2",
    "model.max_epochs=2", "grbal.M=4", "grbal.K=4", "rebal.M=4", "rebal.K=4",
]  # fmt: skip


def tiny(name: str, *extra: str) -> object:
    return apply_overrides(get_preset(name).make(), parse_override_args([*TINY, *extra]))


def test_presets_exist_for_every_method_and_family() -> None:
    for method in ("grbal", "rebal", "mb", "mbde"):
        for family in ("pendulum", "half_cheetah_cripple", "ant_cripple"):
            assert PRESETS[f"{method}-{family}"].kind == "meta"


@pytest.mark.parametrize("method", ["grbal", "rebal", "mb", "mbde", "continue"])
def test_pendulum_methods_run_and_write_outputs(tmp_path: Path, method: str) -> None:
    cfg = tiny("grbal-pendulum", f"method={method}")
    summary = launch.start(get_preset("grbal-pendulum"), cfg, tmp_path / "run", progress=False)
    assert summary["method"] == method and summary["iterations"] == 2
    assert math.isfinite(summary["final_return_train"]) and math.isfinite(summary["final_return_test"])
    assert summary["pred_error_by_steps_since_change"]
    assert (tmp_path / "run" / "plots" / "return.png").exists()


def test_resume_after_interruption_gives_the_same_summary(tmp_path: Path) -> None:
    full = launch.start(get_preset("grbal-pendulum"), tiny("grbal-pendulum"), tmp_path / "a", progress=False)
    short = tiny("grbal-pendulum", "iterations=1")
    launch.start(get_preset("grbal-pendulum"), short, tmp_path / "b", progress=False)
    # pretend the run was meant to have 2 iterations and was interrupted after the first
    import json

    cfg_path = tmp_path / "b" / "config.json"
    data = json.loads(cfg_path.read_text())
    data["iterations"] = 2
    cfg_path.write_text(json.dumps(data))
    (tmp_path / "b" / "summary.json").unlink()
    resumed = launch.resume(tmp_path / "b", progress=False)
    assert resumed["return_test"] == full["return_test"]


@pytest.mark.parametrize("name", ["grbal-half_cheetah_cripple", "rebal-ant_cripple"])
def test_mujoco_presets_run_end_to_end(tmp_path: Path, name: str) -> None:
    cfg = tiny(name, "episode_steps=20", "switch_at=0", "iterations=2", "episodes_per_iter=1")
    summary = launch.start(get_preset(name), cfg, tmp_path / "run", progress=False)
    assert math.isfinite(summary["final_return_test"])
