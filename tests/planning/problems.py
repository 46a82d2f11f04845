"""Test problems with known optima for the planners."""

from __future__ import annotations

import torch
from torch import Tensor

from dynadapt.planning import Objective, imagined_objective

DT = 0.1
"""Time step of the 1-D point mass."""
LAMBDA = 0.01
"""Action penalty of the point-mass problem."""


def quadratic(target: Tensor) -> Objective:
    """``returns = -sum (a - target)^2``; the optimum is ``target[H, A]``."""

    def objective(actions: Tensor) -> Tensor:
        return -(actions - target).square().sum(dim=(1, 2))

    return objective


def point_mass_predict(params: dict[str, Tensor], obs: Tensor, act: Tensor) -> tuple[Tensor, None]:
    """Exact 1-D point mass (double integrator), state (x, v) and force a.

    ``obs[E, N, 2], act[E, N, 1] -> next_obs[E, N, 2]``.
    """
    x, v = obs[..., 0], obs[..., 1]
    v_next = v + DT * act[..., 0]
    x_next = x + DT * v_next
    return torch.stack([x_next, v_next], dim=-1), None


def point_mass_reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """Drive the mass to x = 0: ``-(x'^2) - LAMBDA * a^2``."""
    return -next_obs[..., 0].square() - LAMBDA * act[..., 0].square()


def point_mass_objective(obs0: Tensor) -> Objective:
    """The point-mass problem as an imagined rollout of the exact model (E = 1)."""
    params = {"unused": torch.zeros(1)}
    return imagined_objective(
        point_mass_predict, params, obs0, point_mass_reward, None, propagation="expectation"
    )


def point_mass_optimum(obs0: Tensor, horizon: int) -> Tensor:
    """Unconstrained optimal action sequence ``[H, 1]`` (the returns are a quadratic in the actions).

    x_{t+1} = x0 + (t+1) dt v0 + dt^2 sum_{j<=t} (t - j + 1) a_j, so x = c + M a and the optimum of
    -|x|^2 - LAMBDA |a|^2 solves (M^T M + LAMBDA I) a = -M^T c.
    """
    x0, v0 = float(obs0[0]), float(obs0[1])
    t = torch.arange(horizon, dtype=torch.float64)
    c = x0 + (t + 1) * DT * v0
    M = torch.zeros(horizon, horizon, dtype=torch.float64)
    for i in range(horizon):
        for j in range(i + 1):
            M[i, j] = DT * DT * (i - j + 1)
    a = torch.linalg.solve(M.T @ M + LAMBDA * torch.eye(horizon, dtype=torch.float64), -M.T @ c)
    return a.to(torch.float32).unsqueeze(-1)
