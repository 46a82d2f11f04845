"""Metrics of continual learning: those of a reward matrix (reference §4.8), the fixed evaluation start
states and the random-action floor they are normalised by, and the multi-step prediction error of a task's
model on a held-out episode."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from dynadapt.envs import action_bounds
from dynadapt.types import Params

if TYPE_CHECKING:
    from dynadapt.models.dynamics import DynamicsModel


def forgetting_per_task(R: Sequence[Sequence[float]]) -> list[float]:
    """Forgetting of each old task i < T−1 of a reward matrix (Chaudhry et al. 2018):
    max_{l ∈ [i, T−2]} R[i][l] − R[i][T−1], in return units (> 0 lost). A missing (NaN) earlier cell is
    skipped; NaN where every earlier cell of the row is missing."""
    t_n = len(R)
    out = []
    for i in range(t_n - 1):
        earlier = [float(v) for v in R[i][i : t_n - 1] if not math.isnan(v)]
        out.append(max(earlier) - float(R[i][t_n - 1]) if earlier else math.nan)
    return out


def continual_metrics(
    R: list[list[float]], single: list[float] | None = None, random_returns: list[float] | None = None
) -> dict[str, Any]:
    """Metrics of a reward matrix ``R[i][j]``, the return on task i after training through task j
    (0-based, T tasks; every metric is read so that it cannot be mistaken for its opposite, whatever the
    sign of the returns):

    * ``acc`` = ``final_average_return`` = mean_i R[i][T−1] (ACC, Lopez-Paz & Ranzato 2017, "Gradient
      Episodic Memory for Continual Learning"); ``bwt`` = mean_{i<T−1} (R[i][T−1] − R[i][i]) (their
      backward transfer: < 0 means the later tasks cost the earlier ones return);
    * ``forgetting[i]`` = max_{l ∈ [i, T−2]} R[i][l] − R[i][T−1] for i < T−1 (Chaudhry et al. 2018,
      "Riemannian Walk for Incremental Learning"): the drop from the best return task i ever had before the
      last task, in return units, > 0 lost, 0 nothing lost, < 0 improved; ``average_forgetting`` its mean;
    * with ``random_returns`` (floor_i: the return of uniformly random actions on task i, measured in the
      run): ``retention_floor_normalised[i]`` = (R[i][T−1] − floor_i) / (R[i][i] − floor_i) for i < T−1,
      the share of what task i had gained over random actions that is still there at the end (1 kept,
      0 back to random, < 0 worse than random; NaN where R[i][i] <= floor_i: nothing gained to keep), as
      the reference's door normalisation (§4.8) with the random floor for its minimum;
      ``average_retention_floor_normalised`` its mean over the tasks where it is defined; ``random_returns``
      the floors. Without floors these keys are absent (the raw ratio R[i][T−1] / R[i][i] of the reference
      is never reported: it reads backwards for returns <= 0);
    * ``average_curve[j]`` = mean_{i<=j} R[i][j];
    * with ``single``: ``forward_transfer[i]`` = R[i][i] / single[i] (§4.8).
    """
    t_n = len(R)
    final = [R[i][t_n - 1] for i in range(t_n)]
    diag = [R[i][i] for i in range(t_n)]
    forgetting = forgetting_per_task(R)
    acc = float(np.mean(final)) if final else math.nan
    out: dict[str, Any] = {
        "acc": acc,
        "final_average_return": acc,
        "bwt": float(np.mean([final[i] - diag[i] for i in range(t_n - 1)])) if t_n > 1 else math.nan,
        "forgetting": forgetting,
        "average_forgetting": float(np.mean(forgetting)) if forgetting else math.nan,
        "average_curve": [float(np.mean([R[i][j] for i in range(j + 1)])) for j in range(t_n)],
    }
    if random_returns is not None:
        floor = [float(f) for f in random_returns]
        retention = [
            (final[i] - floor[i]) / (diag[i] - floor[i]) if diag[i] > floor[i] else math.nan
            for i in range(t_n - 1)
        ]
        defined = [r for r in retention if math.isfinite(r)]
        out["retention_floor_normalised"] = retention
        out["average_retention_floor_normalised"] = float(np.mean(defined)) if defined else math.nan
        out["random_returns"] = floor
    if single is not None:
        out["forward_transfer"] = [diag[i] / single[i] if single[i] else math.nan for i in range(t_n)]
    return out


def start_seeds(base: int, task: int, episodes: int) -> list[int]:
    """The env reset seeds of the ``episodes`` evaluation episodes of task ``task``: that of episode k
    depends on ``(base, task, k)`` only (``numpy.random.SeedSequence(base, spawn_key=(task, k))``), so that
    every evaluation of task i (each column of R) and every method run with the same seed start from the
    same states (common random numbers)."""
    return [
        int(np.random.SeedSequence(base, spawn_key=(task, k)).generate_state(1)[0]) for k in range(episodes)
    ]


def random_return(
    make: Callable[[], gym.Env], seeds: list[int], rng: np.random.Generator, steps: int | None = None
) -> float:
    """The random-action floor of a task: the mean return of episodes of uniformly random actions (from
    ``rng``) in the env ``make()`` returns, one reset with each of ``seeds``, each ending at termination,
    truncation or after ``steps`` steps."""
    env = make()
    low, high = action_bounds(env)
    returns = []
    for seed in seeds:
        env.reset(seed=seed)
        total, n, done = 0.0, 0, False
        while not done and (steps is None or n < steps):
            _, reward, terminated, truncated, _ = env.step(rng.uniform(low, high).astype(np.float32))
            total, n, done = total + float(reward), n + 1, bool(terminated or truncated)
        returns.append(total)
    env.close()
    return float(np.mean(returns))


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
