"""Metrics of continual learning: those of a reward matrix (reference §4.8) and the multi-step prediction
error of a task's model on a held-out episode."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from dynadapt.types import Params

if TYPE_CHECKING:
    from dynadapt.models.dynamics import DynamicsModel


def continual_metrics(R: list[list[float]], single: list[float] | None = None) -> dict[str, Any]:
    """Metrics of a reward matrix ``R[i][j]`` (reference §4.8; 0-based, T tasks).

    forgetting_i = R[i][T−1] / R[i][i] (i < T−1); forward_transfer_i = R[i][i] / single[i];
    bwt = mean_{i<T−1}(R[i][T−1] − R[i][i]); acc = final average = mean_i R[i][T−1].
    """
    t_n = len(R)
    final = [R[i][t_n - 1] for i in range(t_n)]
    diag = [R[i][i] for i in range(t_n)]
    forgetting = [final[i] / diag[i] if diag[i] else math.nan for i in range(t_n - 1)]
    out: dict[str, Any] = {
        "final_average_return": float(np.mean(final)) if final else math.nan,
        "forgetting": forgetting,
        "average_forgetting": float(np.mean(forgetting)) if forgetting else math.nan,
        "bwt": float(np.mean([final[i] - diag[i] for i in range(t_n - 1)])) if t_n > 1 else math.nan,
        "acc": float(np.mean(final)) if final else math.nan,
        "average_curve": [float(np.mean([R[i][j] for i in range(j + 1)])) for j in range(t_n)],
    }
    if single is not None:
        out["forward_transfer"] = [diag[i] / single[i] if single[i] else math.nan for i in range(t_n)]
    return out


@torch.no_grad()
def prediction_error(
    model: DynamicsModel, params: Params, episode: dict[str, Tensor], horizon: int, task: int = 0
) -> float:
    """Mean L1 error of the ``horizon``-step open-loop prediction of ``model`` (with ``params`` and the
    normalisers of ``task``) on an episode's ``obs``, ``act``, ``next_obs`` (in order): the last predicted
    observation against the true one, from up to 20 evenly spaced start steps. NaN when the episode is
    shorter than ``horizon``."""
    n = episode["obs"].shape[0] - horizon + 1
    if n < 1:
        return math.nan
    starts = torch.arange(0, n, max(1, n // 20))
    acts = torch.stack([episode["act"][s : s + horizon] for s in starts.tolist()])
    pred = model.rollout(episode["obs"][starts], acts, params, task=task)[0]
    true = torch.stack([episode["next_obs"][s : s + horizon] for s in starts.tolist()])
    return float((pred[:, -1] - true[:, -1]).abs().mean())
