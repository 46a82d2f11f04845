"""Two-link planar reacher with link lengths as task parameters (``dynadapt/Reacher-v0``).

Follows Gym's ``Reacher-v2`` (observation, reward, 50-step episodes, frame_skip 2 at timestep 0.01) and
HyperCRL's ``ReacherLengthEnv`` (Huang et al. 2021, ``hypercrl/envs/mujoco/modified_reacher.py``), in which
the two capsules end at ``link0_length`` and ``link1_length`` and the fingertip sits 0.01 m beyond the
second link. The model (``assets/reacher.xml``) is dynadapt's own.

* observation (11): ``cos q0, cos q1, sin q0, sin q1, target x, target y, q̇0, q̇1,
  fingertip - target (x, y, z)`` (z is always 0);
* action: two joint torques in [-1, 1] (gear 200);
* reward (Gym ``Reacher-v2``, computed from the state *before* the step):
  ``-‖fingertip - target‖ - ‖a‖²``, with ``a`` clipped to the bounds;
* reset: joint angles ``U(±0.1)``, joint velocities ``U(±0.005)``, target uniform in the disc of radius
  ``link0_length + link1_length`` (0.2 m by default, Gym's disc).

HyperCRL's development sequence (``hypercrl/envs/cl_env.py: REACHER_ENVS``, lengths from
``hypercrl/envs/mujoco/__init__.py``): (0.1, 0.1), (0.09, 0.09), (0.11, 0.11), (0.08, 0.08), (0.12, 0.12),
(0.07, 0.09), (0.13, 0.13), (0.09, 0.07), (0.12, 0.10), (0.08, 0.10).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dynadapt.envs.assets import load_template
from dynadapt.envs.base import MujocoTaskEnv, fmt
from dynadapt.envs.family import Param, TaskFamily

PARAMS: tuple[Param, ...] = (
    Param("link0_length", 0.1, "length of the upper link (m)", low=0.02, high=0.5),
    Param(
        "link1_length",
        0.1,
        "length of the lower link (m); the fingertip is 0.01 m beyond",
        low=0.02,
        high=0.5,
    ),
)

TIP_OFFSET = 0.01
"""Fingertip distance beyond the second link (Gym ``reacher.xml``; HyperCRL ``ReacherLengthEnv``)."""


class ReacherEnv(MujocoTaskEnv):
    """Planar two-link reacher. Obs float64 ``[11]``, action ``[2]`` in [-1, 1]."""

    PARAMS = PARAMS
    FAMILY = "reacher"
    frame_skip = 2
    render_camera = "top"
    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}  # noqa: RUF012  (Gymnasium API)

    def __init__(
        self,
        render_mode: str | None = None,
        link0_length: float = 0.1,
        link1_length: float = 0.1,
        width: int = 320,
        height: int = 240,
    ) -> None:
        super().__init__(render_mode, width, height, link0_length=link0_length, link1_length=link1_length)

    def model_xml(self) -> str:
        p = self.task_params
        return load_template("reacher.xml").substitute(
            link0=fmt(p["link0_length"]),
            link1=fmt(p["link1_length"]),
            tip=fmt(p["link1_length"] + TIP_OFFSET),
        )

    def _get_obs(self) -> np.ndarray:
        q, qd = self.data.qpos, self.data.qvel
        tip = self.data.body("fingertip").xpos
        target = self.data.body("target").xpos
        return np.concatenate([np.cos(q[:2]), np.sin(q[:2]), q[2:4], qd[:2], tip - target]).astype(np.float64)

    def _reset_state(self) -> None:
        rng = self.np_random
        radius = float(self.task_params["link0_length"] + self.task_params["link1_length"])
        r, phi = radius * math.sqrt(rng.uniform()), rng.uniform(-math.pi, math.pi)
        self.data.qpos[:2] = rng.uniform(-0.1, 0.1, size=2)
        self.data.qpos[2:4] = (r * math.cos(phi), r * math.sin(phi))
        self.data.qvel[:2] = rng.uniform(-0.005, 0.005, size=2)
        self.data.qvel[2:4] = 0.0

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        obs = self._get_obs()
        reward_dist = -float(np.linalg.norm(obs[8:11]))
        reward_ctrl = -float(np.sum(a**2))
        self.do_simulation(a)
        return self._get_obs(), reward_dist + reward_ctrl, False, False, {"reward_dist": reward_dist}


def reacher_reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """Gym ``Reacher-v2`` reward of the state before the step: ``-‖obs[8:11]‖ - ‖clip(a, -1, 1)‖²``.

    ``obs[..., 11]``, ``act[..., 2]``, ``next_obs[..., 11]`` (unused) -> ``[...]``.
    """
    return -torch.linalg.vector_norm(obs[..., 8:11], dim=-1) - (act.clamp(-1.0, 1.0) ** 2).sum(-1)


_HYPERCRL = (
    (0.1, 0.1),
    (0.09, 0.09),
    (0.11, 0.11),
    (0.08, 0.08),
    (0.12, 0.12),
    (0.07, 0.09),
    (0.13, 0.13),
    (0.09, 0.07),
    (0.12, 0.10),
    (0.08, 0.10),
)

FAMILY = TaskFamily(
    name="reacher",
    env_id="dynadapt/Reacher-v0",
    obs_dim=11,
    act_dim=2,
    episode_steps=50,
    reward_fn=reacher_reward,
    params=PARAMS,
    doc="Gym-style planar 2-link reacher; link lengths vary; reward -distance - ‖a‖²; 50 steps.",
    sequences={"hypercrl10": tuple({"link0_length": a, "link1_length": b} for a, b in _HYPERCRL)},
    act_low=(-1.0, -1.0),
    act_high=(1.0, 1.0),
)
