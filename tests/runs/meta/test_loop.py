"""The meta loop end to end on tiny budgets: every method, presets of the three families, evaluation."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pytest

from dynadapt.runs import launch
from dynadapt.runs.config import apply_overrides, parse_override_args
from dynadapt.runs.meta import MetaConfig, MetaRun
from dynadapt.runs.presets import PRESETS, get_preset
from dynadapt.runs.rundir import RunDir

TINY = [
    "iterations=2", "episodes_per_iter=2", "task.episode_steps=24", "task.switch_at=12", "eval.episodes=1",
    "planner.population=32", "mpc.horizon=5", "grbal.max_epochs=2", "rebal.max_epochs=2",
    "model.max_epochs=2", "grbal.M=4", "grbal.K=4", "rebal.M=4", "rebal.K=4",
]  # fmt: skip


def tiny(name: str, *extra: str) -> MetaConfig:
    cfg = apply_overrides(get_preset(name).make(), parse_override_args([*TINY, *extra]))
    assert isinstance(cfg, MetaConfig)
    return cfg


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
    assert (tmp_path / "run" / "plots" / "prediction_error.png").exists()


def test_prediction_error_is_recorded_before_and_after_the_mid_episode_change(tmp_path: Path) -> None:
    cfg = tiny("mb-pendulum", "iterations=1", "episodes_per_iter=1")
    summary = launch.start(get_preset("mb-pendulum"), cfg, tmp_path / "run", progress=False)
    relative = sorted(int(k) for k in summary["pred_error_by_steps_since_switch"])
    assert relative == list(range(-12, 12))  # 24 steps, the change at step 12
    since = sorted(int(k) for k in summary["pred_error_by_steps_since_change"])
    assert since == list(range(12))  # both halves start counting at their change


def test_crippled_presets_change_mid_episode_between_held_out_joint_and_intact_robot() -> None:
    for name, key, held_out in (
        ("grbal-half_cheetah_cripple", "crippled_joint", "bthigh"),
        ("mb-ant_cripple", "crippled_leg", 3),
    ):
        cfg = get_preset(name).make()
        assert isinstance(cfg, MetaConfig)
        assert 0 < cfg.task.switch_at < cfg.task.episode_steps
        assert [t[key] for t in cfg.task.test_pool()] == [held_out, "none"]
        assert all(t[key] not in (held_out, "none") for t in cfg.task.train_pool())
        paper = get_preset(f"{name}-paper").make()
        assert isinstance(paper, MetaConfig) and paper.task.episode_steps == 1000 and paper.iterations == 50


@pytest.mark.parametrize("name", ["grbal-half_cheetah_cripple", "rebal-ant_cripple"])
def test_mujoco_presets_run_end_to_end(tmp_path: Path, name: str) -> None:
    cfg = tiny(name, "task.episode_steps=20", "task.switch_at=0", "iterations=2", "episodes_per_iter=1")
    summary = launch.start(get_preset(name), cfg, tmp_path / "run", progress=False)
    assert math.isfinite(summary["final_return_test"])


def test_eval_every_thins_evaluations_and_the_last_iteration_is_evaluated(tmp_path: Path) -> None:
    cfg = tiny("mb-pendulum", "iterations=3", "eval.every=2", "episodes_per_iter=1")
    summary = launch.start(get_preset("mb-pendulum"), cfg, tmp_path / "run", progress=False)
    assert summary["return_test"][0] is None and summary["return_train"][0] is None
    assert all(isinstance(v, float) for v in summary["return_test"][1:])
    assert summary["pred_error_by_steps_since_switch"]  # the last iteration recorded the change


def test_held_out_evaluation_plays_every_task_and_changes_into_the_next(tmp_path: Path) -> None:
    run = MetaRun(tiny("mb-pendulum", "eval.episodes=3"), RunDir(tmp_path), progress=False)
    played: list[tuple[float, float]] = []

    def fake(mode: str, seed: int, rng: object, tasks: tuple | None = None) -> dict:
        assert mode == "eval" and tasks is not None
        played.append((tasks[0]["mass"], tasks[1]["mass"]))
        return {"return": 0.0}

    run.play = fake  # type: ignore[method-assign,assignment]
    run.evaluate(held_out=True)
    masses = [t["mass"] for t in run.test_tasks]
    assert len(masses) == 3
    assert played == [(masses[k], masses[(k + 1) % 3]) for k in range(3)]


def test_every_evaluation_plays_the_same_start_states_and_noise(tmp_path: Path) -> None:
    """Common random numbers: evaluations after different iterations (and of different methods with the same
    seed) differ by their models only, so the same model evaluated at two iterations scores the same."""
    run = MetaRun(tiny("mb-pendulum", "eval.episodes=3"), RunDir(tmp_path), progress=False)
    run.step()  # one iteration: a fitted model
    first_train, first_test = run.evaluate(held_out=False), run.evaluate(held_out=True)
    first_returns = list(run.held_out_returns)
    run.iteration += 5  # a later column, the same model
    assert (run.evaluate(held_out=False), run.evaluate(held_out=True)) == (first_train, first_test)
    assert run.held_out_returns == first_returns and len(first_returns) == 3


def test_planning_time_excludes_the_adaptation_done_before_planning(tmp_path: Path) -> None:
    """The loop adapts before the agent's timed planning call, so the reported planning time holds no
    adaptation and the ratio (adapt + plan) / plan is right."""
    run = MetaRun(tiny("grbal-pendulum"), RunDir(tmp_path), progress=False)
    adapter = run.adapter
    original = adapter.params

    def slow() -> dict:
        time.sleep(0.02)
        adapter.adapt_ms_total += 20.0
        return original()

    adapter.params = slow  # type: ignore[method-assign]
    stats = run.play("eval", 0, np.random.default_rng(0))
    assert stats["adapt_ms"] >= 20.0
    assert stats["plan_ms"] < 15.0


def test_evaluation_does_not_change_what_training_collects(tmp_path: Path) -> None:
    runs = []
    for every in (1, 0):
        cfg = tiny("grbal-pendulum", f"eval.every={every}", "iterations=3", "episodes_per_iter=1")
        launch.start(get_preset("grbal-pendulum"), cfg, tmp_path / str(every), progress=False)
        rows = [json.loads(x) for x in (tmp_path / str(every) / "metrics.jsonl").read_text().splitlines()]
        runs.append([r["train/return"] for r in rows])
    assert runs[0] == runs[1]
