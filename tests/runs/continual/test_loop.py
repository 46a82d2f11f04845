"""The continual loop on a tiny pendulum sequence: outputs, bounded buffer, per-task normalisers."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import pytest
import torch

from dynadapt.continual import STRATEGIES, continual_metrics
from dynadapt.continual.metrics import random_return, start_seeds
from dynadapt.planning.cem import CEMConfig
from dynadapt.runs.continual import ContinualConfig, ContinualRun
from dynadapt.runs.continual.evaluation import Episode
from dynadapt.runs.rundir import RunDir
from dynadapt.runs.seeds import Seeds
from dynadapt.runs.settings import Evaluation, TaskSequence

Mode = Literal["random", "mpc", "eval"]


def _cfg(strategy: str = "hypercrl") -> ContinualConfig:
    return ContinualConfig(
        task=TaskSequence(sequence="pendulum:hypercrl", tasks=2, episode_steps=15),
        random_steps=30,
        episodes=1,
        train_every=20,
        train_steps=3,
        buffer_capacity=25,
        pred_horizon=3,
        strategy=STRATEGIES[strategy](),
        planner=CEMConfig(population=16, elites=4, iterations=1),
    )


@pytest.mark.parametrize("strategy", ["hypercrl", "multitask"])
def test_tiny_run_writes_matrices_and_drops_old_data(tmp_path: Path, strategy: str) -> None:
    rundir = RunDir(tmp_path / "run")
    run = ContinualRun(_cfg(strategy), rundir, progress=False)
    rundir.create(run.config_dict())
    summary = run.run()
    R = summary["reward_matrix"]
    assert math.isnan(R[1][0]) and all(not math.isnan(R[i][1]) for i in range(2))
    assert not math.isnan(summary["prediction_error_matrix"][0][1])
    assert len(run.buffer) == 25 and run.buffer.total_added == 45  # bounded: only the last 25 kept
    assert (rundir.plots / "reward_matrix.png").exists() and (rundir.plots / "task_returns.png").exists()
    # the model holds each task's own statistics (all 45 transitions of the task), frozen at its end
    assert run.model.num_tasks == 2
    for t in range(2):
        inp, tgt = run.model.normalizers(t)
        assert inp.count == tgt.count == 45 and inp.frozen and tgt.frozen
    assert not (run.model.normalizers(0)[0].mean == run.model.normalizers(1)[0].mean).all()


Call = tuple[int, int, int, list[float]]


def _record_evaluations(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """(column: the task being trained, evaluated task, reset seed, first observation) of every
    evaluation episode of the runs that follow."""
    calls: list[Call] = []
    play = ContinualRun.play

    def recording(self: ContinualRun, t: int, mode: Mode, seed: int, steps: int) -> Episode:
        episode = play(self, t, mode, seed, steps)
        if mode == "eval":
            calls.append((self.task, t, seed, episode.transitions[0][0].tolist()))
        return episode

    monkeypatch.setattr(ContinualRun, "play", recording)
    return calls


def _evaluated_run(tmp_path: Path, strategy: str) -> dict[str, Any]:
    cfg = _cfg(strategy)
    cfg.episodes, cfg.eval = 2, Evaluation(every=1, episodes=3)  # a mid-task evaluation, then the task end
    run = ContinualRun(cfg, RunDir(tmp_path / strategy), progress=False)
    run.rundir.create(run.config_dict())
    return run.run()


def test_every_evaluation_of_a_task_starts_from_the_same_states(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _record_evaluations(monkeypatch)
    _evaluated_run(tmp_path, "hypercrl")
    first = list(calls)
    starts: dict[tuple[int, int], list[tuple[int, list[float]]]] = {}
    for col, i, seed, obs in first:
        starts.setdefault((col, i), []).append((seed, obs))
    # task 0: evaluated twice in column 0 (after MPC episode 1, at the task's end) and twice in column 1
    assert [len(v) for v in starts.values()] == [6, 6, 6]  # (0, 0), (1, 0), (1, 1)
    task0 = starts[(0, 0)] + starts[(1, 0)]
    assert all(task0[k::3] == [task0[k]] * 4 for k in range(3))  # R(0, 0) and R(0, 1): the same states
    assert [s for s, _ in task0[:3]] == start_seeds(Seeds(0).int("eval"), 0, 3)
    assert [s for s, _ in starts[(1, 1)][:3]] == start_seeds(Seeds(0).int("eval"), 1, 3)
    assert len({tuple(o) for _, o in task0[:3]}) == 3  # three different start states
    # another method run with the same seed is evaluated from the same states (common random numbers)
    calls.clear()
    _evaluated_run(tmp_path, "finetune")
    assert [c[:3] for c in calls] == [c[:3] for c in first] and [c[3] for c in calls] == [c[3] for c in first]


def test_a_model_measured_twice_gives_the_same_returns(tmp_path: Path) -> None:
    # after the last task the model no longer changes: measuring it again reproduces the last column of R
    run = ContinualRun(_cfg(), RunDir(tmp_path / "run"), progress=False)
    run.rundir.create(run.config_dict())
    summary = run.run()
    R = summary["reward_matrix"]
    plan_state = run.objective.generator.get_state()
    assert run.evaluate(1, 0) == run.evaluate(1, 0) == [R[0][1], R[1][1]]
    assert torch.equal(run.objective.generator.get_state(), plan_state)  # training's planner stream intact


def test_the_floor_is_the_return_of_random_actions_from_the_evaluation_start_states(tmp_path: Path) -> None:
    cfg = _cfg()
    cfg.eval = Evaluation(every=0, episodes=2)
    run = ContinualRun(cfg, RunDir(tmp_path / "run"), progress=False)
    run.rundir.create(run.config_dict())
    summary = run.run()
    seeds, rng = Seeds(cfg.seed), Seeds(cfg.seed).numpy("floor")
    floors = [
        random_return(task.make, start_seeds(seeds.int("eval"), i, 2), rng, cfg.task.steps)
        for i, task in enumerate(run.tasks)
    ]
    assert summary["random_returns"] == floors
    rows = [r for r in run.rundir.read_metrics() if r["phase"] == "task_end"]
    assert [r[f"eval/task{i}/random_return"] for i, r in enumerate(rows)] == floors
    m = continual_metrics(summary["reward_matrix"], random_returns=floors)
    assert summary["retention_floor_normalised"] == m["retention_floor_normalised"]


def test_random_phase_spans_episodes_beyond_the_time_limit(tmp_path: Path) -> None:
    # Pendulum's time limit is 200 steps: 250 random steps need two episodes, not one cut short.
    cfg = _cfg()
    cfg.task.tasks, cfg.task.episode_steps = 1, 0
    cfg.episodes, cfg.random_steps, cfg.buffer_capacity = 0, 250, 300
    run = ContinualRun(cfg, RunDir(tmp_path / "run"), progress=False)
    run.rundir.create(run.config_dict())
    run.run()
    assert run.buffer.total_added == 250
