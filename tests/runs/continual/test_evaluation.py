"""What a continual run measures: episode records, task-end rows, summary results; and its presets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dynadapt.errors import DynadaptError
from dynadapt.runs.continual import ContinualConfig
from dynadapt.runs.continual.evaluation import Episode, model_error_growth, results, returns_row, task_end_row
from dynadapt.runs.continual.presets import CPU, DEMO, PAPER


def test_an_episode_keeps_its_return_and_transitions_as_float32_tensors() -> None:
    episode = Episode()
    for k in range(3):
        episode.add(np.full(2, k, dtype=np.float64), np.array([0.5 * k]), np.full(2, k + 1.0), reward=1.5)
    assert len(episode) == 3 and episode.ret == 4.5
    obs, act, next_obs = episode.last()
    assert obs.shape == (1, 2) and act.shape == (1, 1) and obs.dtype == torch.float32
    assert obs.tolist() == [[2.0, 2.0]] and next_obs.tolist() == [[3.0, 3.0]]
    data = episode.tensors()
    assert list(data) == ["obs", "act", "next_obs"] and data["act"].shape == (3, 1)


def test_rows_and_results_of_an_evaluation() -> None:
    assert returns_row([1.0, 2.0]) == {"eval/task0/return": 1.0, "eval/task1/return": 2.0}
    row = task_end_row([1.0, 2.0], [0.1, 0.2], [3.0, 5.0])
    assert row["model/task1/pred_error"] == 0.2 and row["time/train_session_s"] == 4.0
    assert list(row) == [
        "eval/task0/return", "eval/task1/return", "model/task0/pred_error", "model/task1/pred_error",
        "time/train_session_s",
    ]  # fmt: skip
    assert math.isnan(task_end_row([1.0], [0.1], [])["time/train_session_s"])
    out = results([[4.0, 2.0], [math.nan, 3.0]], [[0.1, 0.3], [math.nan, 0.2]], [(0, 5, [4.0])], [0.0, 1.0])
    assert out["curves"] == [{"task": 0, "episode": 5, "returns": [4.0]}]
    assert out["final_average_return"] == out["acc"] == 2.5 and out["forgetting"] == [2.0]
    assert out["retention_floor_normalised"] == [0.5] and out["random_returns"] == [0.0, 1.0]
    # the model-level figure: task 0's multi-step error grew 3x from its end to the sequence's end
    assert out["model_error_growth"] == pytest.approx([3.0]) == [out["average_model_error_growth"]]
    assert out["prediction_error_matrix"] == [[0.1, 0.3], [math.nan, 0.2]]


def test_model_error_growth_reads_one_way() -> None:
    P = [[0.2, 0.1, 0.4], [math.nan, 0.5, 0.5], [math.nan, math.nan, 0.3]]
    assert model_error_growth(P) == pytest.approx([2.0, 1.0])  # lower is better; 1 = as when learnt
    assert model_error_growth([[0.3]]) == []
    assert math.isnan(model_error_growth([[0.0, 0.1], [math.nan, 0.1]])[0])


@pytest.mark.parametrize(
    ("override", "message"),
    [({"train_every": 0}, "train_every must be >= 1"), ({"episodes": -1}, "episodes must be >= 0")],
)
def test_config_checks_name_the_field(override: dict[str, int], message: str) -> None:
    with pytest.raises(DynadaptError, match=message):
        ContinualConfig(**override)


def test_schedules_shared_between_families() -> None:
    # the reacher has no published schedule: the pusher's (but its buffer), on five reacher tasks
    reacher = PAPER["reacher"]
    assert (reacher.sequence, reacher.tasks, reacher.buffer_capacity) == ("reacher:hypercrl10", 5, 2000)
    assert (reacher.episodes, reacher.random_steps, reacher.train_steps) == (40, 2000, 2000)
    assert (reacher.hidden, reacher.trunk, reacher.trunk_activation) == ((200, 200), (50, 50), "elu")
    for family, beta in (("half_cheetah_body", 0.05), ("door", 0.5)):  # §4.2's large networks
        s = PAPER[family]
        assert (s.hidden, s.trunk, s.head, s.beta) == ((200,) * 4, (256, 256), "gaussian", beta)
    assert (DEMO.sequence, DEMO.episodes, DEMO.tasks, DEMO.beta) == ("cartpole:hypercrl", 5, 3, 2.0)


def test_every_continual_preset_evaluates_ten_episodes_per_cell() -> None:
    assert {s.eval_episodes for s in (*CPU.values(), *PAPER.values())} == {10}  # reference §4.8
