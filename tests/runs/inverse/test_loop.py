"""Kinds inverse and goal-reach end to end on tiny budgets: the reach trials replay what they claim, the
evaluation reports model and least squares, and goal reaching counts each controller's cost."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from dynadapt.models.inverse import SegmentModel
from dynadapt.runs import launch
from dynadapt.runs.inverse import InverseRun
from dynadapt.runs.rundir import RunDir
from tests.runs.tiny import tiny


def test_a_reach_trial_is_reached_exactly_by_the_actions_that_made_it(tmp_path: Path) -> None:
    _, cfg = tiny("inverse")
    run = InverseRun(cfg, RunDir(tmp_path / "run"), progress=False)
    run.collect()
    n = cfg.model.n
    state, start, target, _, actions = run.trial(1)
    distance = run.state_distance()
    replayed = run.execute(state, start, lambda obs, left: actions[n - left], n)  # one action at a time
    assert float(distance(replayed, target)) < 1e-6
    chunk = run.execute(state, start, lambda obs, left: actions, n)  # a whole chunk, open loop
    assert float(distance(chunk, target)) < 1e-6
    again = run.trial(1)
    assert torch.equal(again[2], target) and torch.equal(again[4], actions)  # the same trial every time
    wrong = run.execute(state, start, lambda obs, left: -actions[n - left], n)
    assert float(distance(wrong, target)) > 1e-3


def test_inverse_run_reports_model_least_squares_and_reach_rates(tmp_path: Path) -> None:
    preset, cfg = tiny("inverse")
    summary = launch.start(preset, cfg, tmp_path / "run", progress=False)
    assert summary["model_kind"] == "inverse" and summary["output"] == "chunk" and summary["n"] == 3
    for key in ("error", "error_least_squares"):
        assert math.isfinite(summary[f"final_{key}"]) and summary[f"final_{key}"] >= 0
    for key in ("reach_model", "reach_least_squares", "reach_random"):
        assert summary[f"final_{key}"] in (0.0, 1 / 3, 2 / 3, 1.0)
    rows = RunDir(tmp_path / "run").read_metrics()
    assert [r["train/env_steps"] for r in rows] == [24, 48]
    model = SegmentModel.load(tmp_path / "run" / "checkpoints" / "model_final.safetensors")
    assert model.cfg.output == "chunk" and model.family.name == "reacher"


def test_action_free_run_has_no_reach_trials(tmp_path: Path) -> None:
    preset, cfg = tiny("inverse", "model.kind=action_free")
    summary = launch.start(preset, cfg, tmp_path / "run", progress=False)
    assert summary["model_kind"] == "action_free" and "final_reach_model" not in summary
    assert math.isfinite(summary["final_error"]) and math.isfinite(summary["final_error_least_squares"])


def test_goal_reach_compares_controllers_on_the_same_goals_with_their_cost(tmp_path: Path) -> None:
    preset, cfg = tiny("goal-reach", "controllers=inverse,mpc,random")
    summary = launch.start(preset, cfg, tmp_path / "run", progress=False)
    goals = summary["goals"]
    assert list(goals) == ["inverse", "mpc", "random"]
    assert goals["inverse"]["model_rows_per_step"] == 1.0 and goals["random"]["model_rows_per_step"] == 0.0
    assert goals["mpc"]["model_rows_per_step"] == 12 * 3 * 2  # CEM 12 x 1 iteration, H 3, 2 particles
    for name, result in goals.items():
        assert 0 <= result["success_rate"] <= 1 and summary[f"success_{name}"] == result["success_rate"]
        assert result["closest_distance"] <= result["final_distance"]
        assert 0 <= result["final_success_rate"] <= result["success_rate"]  # held at the end => reached
    rows = RunDir(tmp_path / "run").read_metrics()
    assert [r.get("controller") for r in rows] == [None, None, "inverse", "mpc", "random"]
    assert all(r["goal/ms_per_step"] > 0 for r in rows[2:4])
