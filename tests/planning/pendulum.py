"""Gymnasium ``Pendulum-v1`` dynamics and reward as batched torch functions (the true model, no learning).

From gymnasium's classic-control ``PendulumEnv``: g = 10, m = 1, l = 1, dt = 0.05, max speed 8, max torque 2;
observation (cos θ, sin θ, θ̇), θ = 0 upright; reward −(θ² + 0.1 θ̇² + 0.001 u²) on the state before the step
with θ normalised to [−π, π).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

G = 10.0
M = 1.0
L = 1.0
DT = 0.05
MAX_SPEED = 8.0
MAX_TORQUE = 2.0


def pendulum_step(obs: Tensor, act: Tensor) -> Tensor:
    """``obs[..., 3], act[..., 1] -> next_obs[..., 3]``."""
    cos, sin, thdot = obs[..., 0], obs[..., 1], obs[..., 2]
    th = torch.atan2(sin, cos)
    u = act[..., 0].clamp(-MAX_TORQUE, MAX_TORQUE)
    new_thdot = (thdot + (3 * G / (2 * L) * sin + 3.0 / (M * L**2) * u) * DT).clamp(-MAX_SPEED, MAX_SPEED)
    new_th = th + new_thdot * DT
    return torch.stack([torch.cos(new_th), torch.sin(new_th), new_thdot], dim=-1)


def pendulum_reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """``-(θ² + 0.1 θ̇² + 0.001 u²)`` of the pre-step state, ``[...]``."""
    th = torch.atan2(obs[..., 1], obs[..., 0])  # already in (−π, π]
    u = act[..., 0].clamp(-MAX_TORQUE, MAX_TORQUE)
    return -(th.square() + 0.1 * obs[..., 2].square() + 0.001 * u.square())


def angle_normalize(x: float) -> float:
    return ((x + math.pi) % (2 * math.pi)) - math.pi
