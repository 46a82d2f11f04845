"""The continual loop on a tiny pendulum sequence: outputs, bounded buffer, per-task normalisers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dynadapt.continual import STRATEGIES, continual_metrics
from dynadapt.planning.cem import CEMConfig
from dynadapt.runs.continual import ContinualConfig, ContinualRun
from dynadapt.runs.rundir import RunDir
from dynadapt.runs.settings import TaskSequence


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


def test_metrics_of_a_reward_matrix() -> None:
    nan = math.nan
    m = continual_metrics([[10.0, 5.0], [nan, 8.0]], single=[10.0, 4.0])
    assert m["forgetting"] == [0.5] and m["final_average_return"] == 6.5
    assert m["forward_transfer"] == [1.0, 2.0] and m["bwt"] == -5.0


def test_random_phase_spans_episodes_beyond_the_time_limit(tmp_path: Path) -> None:
    # Pendulum's time limit is 200 steps: 250 random steps need two episodes, not one cut short.
    cfg = _cfg()
    cfg.task.tasks, cfg.task.episode_steps = 1, 0
    cfg.episodes, cfg.random_steps, cfg.buffer_capacity = 0, 250, 300
    run = ContinualRun(cfg, RunDir(tmp_path / "run"), progress=False)
    run.rundir.create(run.config_dict())
    run.run()
    assert run.buffer.total_added == 250
