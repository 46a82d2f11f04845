"""Block pushing across a table with two friction halves (``dynadapt/PusherFriction-v0``).

HyperCRL's pushing task as its authors describe it (Huang et al. 2021, project page: "different friction
coefficients"): push a block to a goal without turning it. HyperCRL's code changed the *densities* of the
block's two halves instead (pitfall H8), and its friction variant had no physical effect (H7). dynadapt
varies the sliding friction of the table's left (y > 0) and right (y < 0) halves, and the table geoms carry
``priority="1"`` so that MuJoCo uses exactly these coefficients for block-table contacts (a test checks that
the block slides differently). With unequal halves, a straight push drifts and turns the block (friction
(0.2, 1.0): 2.5 cm sideways and 0.005 rad after a 0.6 m push; (1.0, 1.0): exactly straight).

The robot is reduced to a flat finger (a 6 cm wide paddle) that moves in the table plane under velocity
control, standing in for HyperCRL's Panda under OSC position control (x-y actions only). dynadapt's model
(``assets/pusher.xml``): a 0.16 x 0.16 x 0.08 m block of two halves (each 0.08 x 0.04 x 0.04 m half-size,
density 500 kg/m³, as HyperCRL's block), starting 0.25 m before the goal.

* control at 10 Hz: timestep 0.01, frame_skip 10 (dt 0.1); 100 steps (HyperCRL §4.7, §7); never terminates;
* action: finger velocity command in [-1, 1]² (x 0.25 m/s);
* observation (10; HyperCRL's layout): block centre - finger (x, y), then the block's four corners (x, y)
  in the order (-, +), (-, -), (+, +), (+, -) of the block frame's (x, y) half-extents;
* reward (HyperCRL ``hypercrl/control/reward.py``, reference §4.7):
  ``Σ_i (1 - tanh(10 ‖c_i - g_i‖)) - 0.25 ‖u‖`` over the corners of ``next_obs`` with goals (0.07, 0.08),
  (0.07, -0.08), (0.23, 0.08), (0.23, -0.08) (the block translated by 0.25 m, not turned); ``u`` clipped;
  at most 4 per step;
* reset: block centre (-0.10, 0) + U(±0.01)², yaw U(±0.05); finger (-0.25, 0) + U(±0.02)².

Tasks are (left, right) friction pairs. dynadapt's sequence ``hypercrl_friction`` maps HyperCRL's five
density pairs (500, 500), (100, 500), (500, 100), (500, 250), (250, 500) to friction pairs with the same
ratios: (1.0, 1.0), (0.2, 1.0), (1.0, 0.2), (1.0, 0.5), (0.5, 1.0) (HyperCRL's table friction is 1).
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
    Param("friction_left", 1.0, "sliding friction of the table's left half (y > 0)", low=0.0, high=5.0),
    Param("friction_right", 1.0, "sliding friction of the table's right half (y < 0)", low=0.0, high=5.0),
)

HALF_EXTENT = 0.08
"""Half-size of the whole block's footprint in x and y (m)."""
CORNER_SIGNS = ((-1.0, 1.0), (-1.0, -1.0), (1.0, 1.0), (1.0, -1.0))
GOALS = ((0.07, 0.08), (0.07, -0.08), (0.23, 0.08), (0.23, -0.08))
"""HyperCRL pusher goal corners (reference §4.7)."""
CTRL_COST = 0.25
MAX_SPEED = 0.25
"""m/s of the finger at |action| = 1."""


class PusherFrictionEnv(MujocoTaskEnv):
    """Finger pushes a block across a two-friction table. Obs float64 ``[10]``, action ``[2]`` in [-1, 1]."""

    PARAMS = PARAMS
    FAMILY = "pusher"
    frame_skip = 10
    render_camera = "top"
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}  # noqa: RUF012  (Gymnasium API)

    def __init__(
        self,
        render_mode: str | None = None,
        friction_left: float = 1.0,
        friction_right: float = 1.0,
        width: int = 320,
        height: int = 240,
    ) -> None:
        super().__init__(
            render_mode, width, height, friction_left=friction_left, friction_right=friction_right
        )

    def model_xml(self) -> str:
        p = self.task_params
        return load_template("pusher.xml").substitute(
            friction_left=fmt(p["friction_left"]),
            friction_right=fmt(p["friction_right"]),
            gear=fmt(1.0 / MAX_SPEED),
        )

    def corners(self) -> np.ndarray:
        """``float64[4, 2]``: the block's corners in the table plane (observation order)."""
        body = self.data.body("block")
        rot = body.xmat.reshape(3, 3)[:2, :2]
        local = HALF_EXTENT * np.asarray(CORNER_SIGNS)
        return body.xpos[:2] + local @ rot.T

    def _get_obs(self) -> np.ndarray:
        finger = self.data.body("finger").xpos[:2]
        block = self.data.body("block").xpos[:2]
        return np.concatenate([block - finger, self.corners().ravel()]).astype(np.float64)

    def _reset_state(self) -> None:
        rng = self.np_random
        qpos = self.model.qpos0.copy()  # block free joint (7), finger x, y
        qpos[0:2] = (-0.10 + rng.uniform(-0.01, 0.01), rng.uniform(-0.01, 0.01))
        yaw = rng.uniform(-0.05, 0.05)
        qpos[3:7] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
        qpos[7:9] = (-0.25 + rng.uniform(-0.02, 0.02), rng.uniform(-0.02, 0.02))
        self.data.qpos[:] = qpos
        self.data.qvel[:] = 0.0

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        self.do_simulation(a)
        obs = self._get_obs()
        corners = obs[2:].reshape(4, 2)
        dist = np.linalg.norm(corners - np.asarray(GOALS), axis=-1)
        reward = float(np.sum(1.0 - np.tanh(10.0 * dist)) - CTRL_COST * np.linalg.norm(a))
        return obs, reward, False, False, {"corner_distance": float(dist.mean())}


def pusher_reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """HyperCRL pusher reward of the corners after the step (see the module docstring).

    ``obs[..., 10]`` (unused), ``act[..., 2]``, ``next_obs[..., 10]`` -> ``[...]``.
    """
    corners = next_obs[..., 2:10].reshape(*next_obs.shape[:-1], 4, 2)
    goals = torch.tensor(GOALS, dtype=next_obs.dtype, device=next_obs.device)
    dist = torch.linalg.vector_norm(corners - goals, dim=-1)
    ctrl = torch.linalg.vector_norm(act.clamp(-1.0, 1.0), dim=-1)
    return (1.0 - torch.tanh(10.0 * dist)).sum(-1) - CTRL_COST * ctrl


FAMILY = TaskFamily(
    name="pusher",
    env_id="dynadapt/PusherFriction-v0",
    obs_dim=10,
    act_dim=2,
    episode_steps=100,
    reward_fn=pusher_reward,
    params=PARAMS,
    doc="Push a block 0.25 m without turning it across a table with left/right friction halves; 10 Hz.",
    sequences={
        "hypercrl_friction": (
            {"friction_left": 1.0, "friction_right": 1.0},
            {"friction_left": 0.2, "friction_right": 1.0},
            {"friction_left": 1.0, "friction_right": 0.2},
            {"friction_left": 1.0, "friction_right": 0.5},
            {"friction_left": 0.5, "friction_right": 1.0},
        )
    },
    act_low=(-1.0, -1.0),
    act_high=(1.0, 1.0),
)
