"""The distill loop end to end on a tiny budget: planner evaluation, DAgger, the nested pets run, reuse of a
finished pets run (``model_path``), and the nested run's settings that only the distill run sets."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from dynadapt.errors import DynadaptError
from dynadapt.runs import launch
from dynadapt.runs.config import apply_overrides, parse_override_args
from dynadapt.runs.distill import DistillConfig
from dynadapt.runs.presets import get_preset

TINY = [
    "pets.episodes=2", "task.episode_steps=20", "eval_episodes=2", "iterations=3", "episodes_per_iteration=1",
    "pets.model.ensemble_size=2", "pets.model.hidden=16", "pets.model.max_epochs=3",
    "pets.planner.population=20", "pets.planner.elites=4", "pets.planner.iterations=1", "pets.mpc.horizon=4",
    "pets.mpc.particles=2", "policy.hidden=16", "policy.train_steps=100",
]  # fmt: skip


def tiny(*extra: str, name: str = "distill-pendulum") -> DistillConfig:
    cfg = apply_overrides(get_preset(name).make(), parse_override_args([*TINY, *extra]))
    assert isinstance(cfg, DistillConfig)
    return cfg


def read_rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_distill_run_end_to_end_and_from_a_finished_pets_run(tmp_path: Path) -> None:
    preset = get_preset("distill-pendulum")
    ref = tmp_path / "ref"
    launch.start(preset, tiny("seed=4"), ref, progress=False)
    on_disk = json.loads((ref / "summary.json").read_text())
    assert on_disk["kind"] == "distill" and on_disk["iterations"] == 4
    assert on_disk["dataset"] == 4 * 20 and len(on_disk["dagger"]) == 4
    for key in ("planner_return", "policy_return", "random_return", "normalized_return_ratio", "flops_ratio"):
        assert math.isfinite(on_disk[key]), key
    # planner cost: CEM 20 candidates x 4 steps x 2 particles (one per member) per plan
    assert on_disk["planner_model_rows_per_step"] == pytest.approx(20 * 4 * 2)
    assert 0 < on_disk["flops_ratio"] < 1
    # the distilled policy is the iteration's best on validation episodes, reported on the evaluation seeds
    best = on_disk["selected_iteration"]
    vals = [d["val_return"] for d in on_disk["dagger"]]
    assert vals[best - 1] == max(vals)
    assert on_disk["policy_return"] == on_disk["dagger"][best - 1]["policy_return"]
    assert on_disk["last_policy_return"] == on_disk["dagger"][-1]["policy_return"]
    assert (ref / "plots" / "distill.png").is_file()
    assert (ref / "checkpoints" / "policy_final.safetensors").is_file()
    rows = read_rows(ref)
    assert [r["phase"] for r in rows] == ["planner_eval", "bc", "dagger", "dagger", "dagger"]
    assert [r["dagger/beta"] for r in rows[1:]] == [1.0, 0.5, 0.25, 0.125]
    # the nested pets run plays the distill run's task with its seed
    pets = json.loads((ref / "pets" / "config.json").read_text())
    assert pets["kind"] == "mbrl" and pets["seed"] == 4 and pets["task"]["episode_steps"] == 20
    # the same planner from the finished pets run directory gives the same planner evaluation
    cfg = tiny("seed=4", f"model_path={ref / 'pets'}", "iterations=0")
    again = launch.start(preset, cfg, tmp_path / "from_file", progress=False)
    assert again["planner_returns"] == on_disk["planner_returns"]
    assert not (tmp_path / "from_file" / "pets").exists()


@pytest.mark.parametrize("override", ["pets.seed=5", "pets.threads=2", "pets.task.env=cartpole"])
def test_the_nested_runs_task_seed_and_threads_are_only_the_distill_runs(override: str) -> None:
    # the PETS settings have no task, seed or threads of their own: nothing can disagree or be overwritten
    with pytest.raises(DynadaptError, match="unknown config field"):
        tiny(override)


def test_the_distill_runs_task_seed_and_threads_reach_the_nested_run() -> None:
    cfg = tiny("seed=5", "threads=2", "task.env_params.pole_mass=0.7", name="distill-cartpole")
    pets = cfg.pets_run()
    assert (pets.task, pets.seed, pets.threads) == (cfg.task, 5, 2)
    assert pets.task.env == "cartpole" and pets.task.episode_steps == 20
    assert pets.planner == cfg.pets.planner and pets.episodes == 2
