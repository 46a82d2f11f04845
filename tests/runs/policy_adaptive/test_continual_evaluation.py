"""mbpo-continual's reward matrix: every evaluation of a task starts from the same states, a policy measured
twice gives the same return, and the floors are random-action returns from those states."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from dynadapt.continual.metrics import random_return, start_seeds
from dynadapt.runs.policy_adaptive.continual import MBPOContinualRun
from dynadapt.runs.rundir import RunDir
from dynadapt.runs.seeds import Seeds
from tests.runs.tiny import tiny


def test_fixed_start_states_and_floors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seeds: list[tuple[int, int]] = []  # (column, reset seed) of every evaluation episode
    play = MBPOContinualRun.deterministic_return

    def recording(self: MBPOContinualRun, env: gym.Env, seed: int, context: Any = None) -> float:
        seeds.append((self.task, seed))
        return play(self, env, seed, context)

    monkeypatch.setattr(MBPOContinualRun, "deterministic_return", recording)
    _, cfg = tiny("mbpo-continual", "eval_episodes=2")
    run = MBPOContinualRun(cfg, RunDir(tmp_path / "run"), progress=False)
    run.rundir.create(run.config_dict())
    summary = run.run()
    base = Seeds(cfg.seed).int("eval")
    task0, task1 = start_seeds(base, 0, 2), start_seeds(base, 1, 2)
    assert seeds == [(0, s) for s in task0] + [(1, s) for s in task0 + task1]  # R(0, 0), R(0, 1), R(1, 1)
    # the policy no longer changes after the last task: measuring it again reproduces the last column
    R = summary["reward_matrix"]
    assert (
        [run.evaluate_task(i) for i in range(2)]
        == [R[0][1], R[1][1]]
        == [run.evaluate_task(i) for i in range(2)]
    )
    rng = Seeds(cfg.seed).numpy("floor")
    floors = [random_return(lambda i=i: run.make_env(i), start_seeds(base, i, 2), rng) for i in range(2)]
    assert summary["random_returns"] == floors and np.isfinite(floors).all()
    (retention,) = summary["retention_floor_normalised"]
    if R[0][0] > floors[0]:  # a gain over random actions to keep
        assert retention == (R[0][1] - floors[0]) / (R[0][0] - floors[0])
    else:
        assert math.isnan(retention)
    assert summary["forgetting"] == [R[0][0] - R[0][1]]
