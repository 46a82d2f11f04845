"""What a continual run measures: the record of an episode, the metrics rows of an evaluation of every seen
task, the multi-step prediction errors of a task's end (column t of the matrix P) and the results of the
summary (R, the random-action floors and the metrics of R of
:func:`~dynadapt.continual.metrics.continual_metrics`; P and the growth of its errors; the curves)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dynadapt.continual import Strategy
from dynadapt.continual.metrics import continual_metrics, prediction_error
from dynadapt.models.dynamics import DynamicsModel
from dynadapt.runs.checkpoint import IndexedTensors


class Episode:
    """The return and the transitions (obs, act, next obs) of one episode."""

    def __init__(self) -> None:
        self.ret = 0.0
        self.transitions: list[tuple[Any, Any, Any]] = []

    def __len__(self) -> int:
        return len(self.transitions)

    def add(self, obs: Any, act: Any, next_obs: Any, reward: float) -> None:
        self.ret += reward
        self.transitions.append((obs, act, next_obs))

    def last(self) -> tuple[Tensor, Tensor, Tensor]:
        """The last transition as a batch of one: float32 ``obs[1, O]``, ``act[1, A]``, ``next_obs[1, O]``."""
        obs, act, next_obs = _tensors(self.transitions[-1:])
        return obs, act, next_obs

    def tensors(self) -> dict[str, Tensor]:
        """Every transition: float32 ``obs[N, O]``, ``act[N, A]``, ``next_obs[N, O]``."""
        return dict(zip(("obs", "act", "next_obs"), _tensors(self.transitions)))


def _tensors(transitions: list[tuple[Any, Any, Any]]) -> list[Tensor]:
    return [torch.as_tensor(np.asarray(v, dtype=np.float32)) for v in zip(*transitions)]


def returns_row(returns: list[float]) -> dict[str, float]:
    """The metrics of an evaluation of tasks ``0..t``: ``eval/task<i>/return``."""
    return {f"eval/task{i}/return": r for i, r in enumerate(returns)}


def prediction_errors(
    model: DynamicsModel, strategy: Strategy, heldout: IndexedTensors, horizon: int, upto: int
) -> list[float]:
    """Column ``upto`` of P: the ``horizon``-step prediction error of the model with the strategy's
    parameters of each task ``0..upto`` on that task's held-out episode."""
    return [prediction_error(model, strategy.params_for(i), heldout[i], horizon, i) for i in range(upto + 1)]


def task_end_row(returns: list[float], errors: list[float], train_times: list[float]) -> dict[str, float]:
    """The metrics of a task's end: the return and prediction error of every seen task, and the mean CPU
    time of the task's training sessions."""
    row = returns_row(returns) | {f"model/task{i}/pred_error": e for i, e in enumerate(errors)}
    return row | {"time/train_session_s": float(np.mean(train_times)) if train_times else math.nan}


def model_error_growth(P: list[list[float]]) -> list[float]:
    """``P[i][T−1] / P[i][i]`` for every earlier task i < T−1: the factor by which the multi-step prediction
    error of task i's model grew from the end of task i to the end of the sequence (model-level forgetting:
    lower is better, 1 = as accurate as when task i ended; errors are >= 0, so the ratio reads one way)."""
    t_n = len(P)
    return [P[i][t_n - 1] / P[i][i] if P[i][i] > 0 else math.nan for i in range(t_n - 1)]


def results(
    R: list[list[float]],
    P: list[list[float]],
    curves: list[tuple[int, int, list[float]]],
    random_returns: list[float],
) -> dict[str, Any]:
    """The results of a continual run in its summary: R[i][j] (return on task i after training through task
    j), its metrics with the random-action floors ``random_returns``, P (the prediction errors), the growth
    of the earlier tasks' errors (``model_error_growth`` and its mean) and the evaluation curves."""
    growth = model_error_growth(P)
    finite = [g for g in growth if math.isfinite(g)]
    return {
        "reward_matrix": R,
        **continual_metrics(R, random_returns=random_returns),
        "prediction_error_matrix": P,
        "model_error_growth": growth,
        "average_model_error_growth": float(np.mean(finite)) if finite else math.nan,
        "curves": [{"task": t, "episode": e, "returns": r} for t, e, r in curves],
    }
