"""Evaluation of a meta run: which perturbations its evaluation episodes play, the planner's own noise
while they do, and the one-step prediction error of the parameters the agent planned with."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from dynadapt.models.dynamics import DynamicsModel
from dynadapt.planning import ModelObjective

Pair = tuple[dict[str, Any], dict[str, Any]]
"""A held-out evaluation episode's perturbations: before and after the change."""


def episode_tasks(pool: list[dict[str, Any]], episodes: int, held_out: bool) -> list[Pair | None]:
    """The perturbations of each evaluation episode: held-out tasks in turn, each changing into the next one
    (every task and change is played when ``episodes`` >= their number); None: sampled from the training
    perturbations."""
    return [(pool[k % len(pool)], pool[(k + 1) % len(pool)]) if held_out else None for k in range(episodes)]


@contextmanager
def seeded(generator: torch.Generator, seed: int) -> Iterator[None]:
    """Draw from ``generator`` seeded with ``seed``, then restore its state: evaluating (or not, eval.every)
    never changes what training collects."""
    state = generator.get_state()
    generator.manual_seed(seed)
    try:
        yield
    finally:
        generator.set_state(state)


def one_step_error(
    objective: ModelObjective, model: DynamicsModel, obs: Any, act: Any, next_obs: Any
) -> float:
    """Normalised one-step MSE (per dimension, in units of the target's std) of the parameters planned with,
    ``objective.params``, on one real transition (computed on the device of the model's parameters)."""
    device = next(iter(model.params.values())).device
    with torch.no_grad():
        o = torch.as_tensor(obs, dtype=torch.float32, device=device).view(1, 1, -1)
        a = torch.as_tensor(act, dtype=torch.float32, device=device).view(1, 1, -1)
        pred, _ = objective.predict(objective.params, o, a)
        diff = pred.view(-1) - torch.as_tensor(next_obs, dtype=torch.float32, device=device)
        return float(((diff / model.target_norm.std.to(device)) ** 2).mean())


class PredictionErrors:
    """Normalised one-step MSE of the parameters the agent planned with (``objective.params``), by steps
    since the last change of perturbation (``change``: episode start or mid-episode change) and by steps
    relative to the mid-episode change alone (``switch``: negative before it, 0 on its first transition)."""

    def __init__(self, objective: ModelObjective, model: DynamicsModel) -> None:
        self.objective, self.model = objective, model
        self.by_steps: dict[str, dict[int, list[float]]] = {"change": {}, "switch": {}}

    def clear(self) -> None:
        self.by_steps = {"change": {}, "switch": {}}

    def record(self, obs: Any, act: Any, next_obs: Any, since: int, relative: int | None) -> None:
        """The error on one transition, ``since`` steps after the last change and ``relative`` steps after the
        mid-episode change (negative: before it; None: the episode has no mid-episode change)."""
        err = one_step_error(self.objective, self.model, obs, act, next_obs)
        self.by_steps["change"].setdefault(since, []).append(err)
        if relative is not None:
            self.by_steps["switch"].setdefault(relative, []).append(err)

    def means(self) -> dict[str, dict[str, float]]:
        """The mean error by steps (JSON keys), for ``change`` and ``switch``."""
        return {
            k: {str(s): float(np.mean(v)) for s, v in sorted(curve.items())}
            for k, curve in self.by_steps.items()
        }
