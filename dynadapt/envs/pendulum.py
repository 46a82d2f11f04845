"""Pendulum swing-up with gravity, mass and length as task parameters (``dynadapt/Pendulum-v0``).

The dynamics, observation, reward and 200-step episodes are Gymnasium's ``Pendulum-v1``
(classic-control ``PendulumEnv``); only ``g``, ``m`` and ``l`` become ``make`` kwargs. HyperCRL's
development sequence varies gravity, g = 10, 12, 14, 16, 18 (Huang et al. 2021, ``hypercrl/envs/cl_env.py``;
reference §4.7); its variant ``pendulum2`` uses g = 10, 0, 2, 8, 12, 5, 4, 14, 9, 7, 30.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from gymnasium.envs.classic_control.pendulum import PendulumEnv
from torch import Tensor

from dynadapt.envs.base import TaskEnvMixin, positive
from dynadapt.envs.family import Param, TaskFamily

PARAMS: tuple[Param, ...] = (
    Param("gravity", 10.0, "gravitational acceleration g (m/s^2)", low=0.0, high=1000.0),
    positive("mass", 1.0, "pendulum mass m (kg)"),
    positive("length", 1.0, "pendulum length l (m)"),
)

MAX_TORQUE = 2.0
"""Gymnasium ``PendulumEnv.max_torque``."""


class ParametricPendulumEnv(TaskEnvMixin, PendulumEnv):
    """Gymnasium's ``PendulumEnv`` with ``gravity``, ``mass`` and ``length`` as ``make`` kwargs.

    Observation ``(cos θ, sin θ, θ̇)`` (float32), action: torque in [-2, 2]. ``θ = 0`` is upright.
    Renders ``rgb_array`` frames with NumPy (no pygame needed).
    """

    PARAMS = PARAMS
    FAMILY = "pendulum"
    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}  # noqa: RUF012  (Gymnasium API)

    def __init__(
        self,
        render_mode: str | None = None,
        gravity: float = 10.0,
        mass: float = 1.0,
        length: float = 1.0,
    ) -> None:
        super().__init__(render_mode=render_mode, g=10.0)
        self.width = self.height = 256
        """Size of a rendered frame (pixels)."""
        self._init_task({"gravity": gravity, "mass": mass, "length": length})
        self._apply_task()
        self.last_u = None

    def _apply_task(self) -> None:
        self.g = float(self.task_params["gravity"])
        self.m = float(self.task_params["mass"])
        self.l = float(self.task_params["length"])

    def get_physics_state(self) -> np.ndarray:
        return np.asarray(self.state, dtype=np.float64).copy()

    def set_physics_state(self, state: np.ndarray) -> None:
        self.state = np.asarray(state, dtype=np.float64).copy()

    def render(self) -> np.ndarray | None:
        """An RGB frame ``uint8[height, width, 3]``; the rod is drawn in proportion to ``length``."""
        if self.render_mode != "rgb_array" or self.state is None:
            return None
        size = min(self.width, self.height)
        img = np.full((size, size, 3), 245, dtype=np.uint8)
        theta = float(self.state[0])
        centre = np.array([size / 2, size / 2])
        pixels = size / 2 * 0.9 * min(self.l, 1.5) / 1.5
        # θ = 0 points up, positive θ turns counter-clockwise; image rows grow downwards.
        tip = centre + pixels * np.array([-math.sin(theta), -math.cos(theta)])
        ys, xs = np.mgrid[0:size, 0:size]
        pts = np.stack([xs + 0.5, ys + 0.5], axis=-1)
        seg = tip - centre
        t = np.clip(((pts - centre) @ seg) / max(float(seg @ seg), 1e-9), 0.0, 1.0)
        dist = np.linalg.norm(pts - (centre + t[..., None] * seg), axis=-1)
        img[dist < size * 0.035] = (204, 77, 77)
        img[np.linalg.norm(pts - centre, axis=-1) < size * 0.015] = (0, 0, 0)
        pad_w, pad_h = self.width - size, self.height - size
        return np.pad(
            img,
            ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)),
            constant_values=245,
        )


def pendulum_reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """Pendulum-v1's reward ``-(θ² + 0.1 θ̇² + 0.001 u²)`` of the state *before* the step.

    θ = atan2(sin θ, cos θ) ∈ (-π, π] from ``obs``; u is the action clipped to [-2, 2] (Gymnasium
    ``PendulumEnv.step``). Shapes: ``obs[..., 3]``, ``act[..., 1]``, ``next_obs[..., 3]`` -> ``[...]``.
    """
    theta = torch.atan2(obs[..., 1], obs[..., 0])
    u = act[..., 0].clamp(-MAX_TORQUE, MAX_TORQUE)
    return -(theta**2 + 0.1 * obs[..., 2] ** 2 + 0.001 * u**2)


FAMILY = TaskFamily(
    name="pendulum",
    env_id="dynadapt/Pendulum-v0",
    obs_dim=3,
    act_dim=1,
    episode_steps=200,
    reward_fn=pendulum_reward,
    params=PARAMS,
    doc="Gymnasium Pendulum-v1 swing-up; obs (cos θ, sin θ, θ̇), torque in [-2, 2]; never terminates.",
    sequences={
        "hypercrl": tuple({"gravity": 10.0 + 2.0 * t} for t in range(5)),
        "hypercrl_pendulum2": tuple(
            {"gravity": g} for g in (10.0, 0.0, 2.0, 8.0, 12.0, 5.0, 4.0, 14.0, 9.0, 7.0, 30.0)
        ),
    },
    act_low=(-MAX_TORQUE,),
    act_high=(MAX_TORQUE,),
)
