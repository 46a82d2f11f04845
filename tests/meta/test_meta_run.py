"""The meta loop end to end on tiny budgets: every method, resume, presets of the three families."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
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
    # every iteration evaluated, so that the 1-iteration run evaluates what the 2-iteration run does
    full_cfg = tiny("grbal-pendulum", "eval_every=1")
    full = launch.start(get_preset("grbal-pendulum"), full_cfg, tmp_path / "a", progress=False)
    short = tiny("grbal-pendulum", "iterations=1", "eval_every=1")
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


def test_eval_every_thins_evaluations_and_the_last_iteration_is_evaluated(tmp_path: Path) -> None:
    cfg = tiny("mb-pendulum", "iterations=3", "eval_every=2", "episodes_per_iter=1")
    summary = launch.start(get_preset("mb-pendulum"), cfg, tmp_path / "run", progress=False)
    assert summary["return_test"][0] is None and summary["return_train"][0] is None
    assert all(isinstance(v, float) for v in summary["return_test"][1:])
    assert summary["pred_error_by_steps_since_switch"]  # the last iteration recorded the change


def test_held_out_evaluation_plays_every_task_and_changes_into_the_next(tmp_path: Path) -> None:
    from dynadapt.runs.meta import MetaRun
    from dynadapt.runs.rundir import RunDir

    cfg = tiny("mb-pendulum", "eval_episodes=3")
    run = MetaRun(cfg, RunDir(tmp_path), progress=False)  # type: ignore[arg-type]
    played: list[tuple[float, float]] = []

    def fake(mode: str, seed: int, pool: list, rng: object, tasks: tuple | None = None) -> dict:
        assert mode == "eval" and tasks is not None
        played.append((tasks[0]["mass"], tasks[1]["mass"]))
        return {"return": 0.0}

    run.run_episode = fake  # type: ignore[method-assign,assignment]
    run.evaluate(run.test_tasks, 0)
    masses = [t["mass"] for t in run.test_tasks]
    assert len(masses) == 3
    assert played == [(masses[k], masses[(k + 1) % 3]) for k in range(3)]


def test_planning_time_excludes_the_adaptation_done_before_planning(tmp_path: Path) -> None:
    """Regression: the agent times ``objective_factory`` (where the adapter adapts) as planning, so the
    reported planning time used to include the adaptation and the ratio (adapt + plan) / plan was off."""
    import time

    from dynadapt.runs.meta import MetaRun
    from dynadapt.runs.rundir import RunDir

    run = MetaRun(tiny("grbal-pendulum"), RunDir(tmp_path), progress=False)  # type: ignore[arg-type]
    adapter = run.adapter
    original = adapter.params

    def slow() -> dict:
        time.sleep(0.02)
        adapter.adapt_ms_total += 20.0
        return original()

    adapter.params = slow  # type: ignore[method-assign]
    stats = run.run_episode("eval", 0, run.train_tasks, np.random.default_rng(0))
    assert stats["adapt_ms"] >= 20.0
    assert stats["plan_ms"] < 15.0


def test_evaluation_does_not_change_what_training_collects(tmp_path: Path) -> None:
    runs = []
    for every in (1, 0):
        cfg = tiny("grbal-pendulum", f"eval_every={every}", "iterations=3", "episodes_per_iter=1")
        launch.start(get_preset("grbal-pendulum"), cfg, tmp_path / str(every), progress=False)
        import json

        rows = [json.loads(x) for x in (tmp_path / str(every) / "metrics.jsonl").read_text().splitlines()]
        runs.append([r["train/return"] for r in rows])
    assert runs[0] == runs[1]
