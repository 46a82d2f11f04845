"""Ant with a crippled leg (``dynadapt/AntCripple-v0``), GrBAL's ant task.

Nagabandi et al. 2019 (GrBAL), Section 6, and ``learning_to_adapt/envs/ant_env.py`` (reference §5.4):

* crippling leg k multiplies its two actions by 0 before simulation: leg 0 -> actions 2, 3; leg 1 -> 4, 5;
  leg 2 -> 6, 7; leg 3 -> 0, 1 (actuator order hip_4, ankle_4, hip_1, ankle_1, hip_2, ankle_2, hip_3,
  ankle_3). The reference also halves the leg's geoms and draws them red; dynadapt halves the radius and
  length of the crippled leg's thigh and shin capsules *in the XML* (so its mass and inertia follow, unlike
  the reference's run-time ``geom_size`` edit; reference §7 port notes) and keeps the shin attached;
* split: legs 0, 1, 2 for training, leg 3 held out (reference code comment "0 1 2 are train... 3 is test");
  :meth:`~dynadapt.envs.base.TaskEnvMixin.set_task` may cripple a leg at any step (pitfall G11);
* timestep 0.02 with RK4, frame_skip 1 (dt 0.02), 1000 steps, never terminates; actions in [-1, 1] with
  gear 150 (GrBAL's control range ±150);
* observation (41): ``qpos`` (15), ``qvel`` (14), torso rotation matrix (9), centre of mass of the whole
  body (3);
* reward (GrBAL's planning reward, also used by the env): ``(com_x' - com_x) / dt + 0.05``, no control
  or contact cost;
* reset: ``qpos`` += U(±0.1) except the orientation quaternion, ``qvel ~ N(0, 0.1²)`` (dynadapt's choice).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor

from dynadapt.envs.assets import load_template
from dynadapt.envs.base import MujocoTaskEnv, fmt
from dynadapt.envs.family import Param, TaskFamily

LEG_ACTIONS: dict[int, tuple[int, int]] = {0: (2, 3), 1: (4, 5), 2: (6, 7), 3: (0, 1)}
"""GrBAL ``AntEnv.reset_task``: the actions disabled by crippling each leg."""

_LEG_DIRS = {1: (1.0, 1.0), 2: (-1.0, 1.0), 3: (-1.0, -1.0), 4: (1.0, -1.0)}
"""Direction of the XML legs 1-4 in the torso's x-y plane; GrBAL's leg k is XML leg k + 1 (k < 3), leg 3
is XML leg 4."""

SURVIVE_REWARD = 0.05
"""GrBAL ``AntEnv.reward``: ``survive_reward = 0.05``."""
DT = 0.02
"""Seconds per step (timestep 0.02, frame_skip 1); the reward divides by it."""

PARAMS: tuple[Param, ...] = (
    Param(
        "crippled_leg",
        "none",
        "GrBAL leg index (0-3) whose two actuators are disabled and geoms shrunk, or 'none'",
        choices=("none", 0, 1, 2, 3),
    ),
)


def _xml_leg(leg: int) -> int:
    return leg + 1 if leg < 3 else 4


class AntCrippleEnv(MujocoTaskEnv):
    """GrBAL's ant with a crippled leg. Obs float64 ``[41]``, action ``[8]`` in [-1, 1]."""

    PARAMS = PARAMS
    FAMILY = "ant_cripple"
    frame_skip = 1
    render_camera = "track"
    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}  # noqa: RUF012  (Gymnasium API)

    def __init__(
        self,
        render_mode: str | None = None,
        crippled_leg: int | str = "none",
        width: int = 320,
        height: int = 240,
    ) -> None:
        super().__init__(render_mode, width, height, crippled_leg=crippled_leg)

    def model_xml(self) -> str:
        leg = self.task_params["crippled_leg"]
        crippled_xml_leg = None if leg == "none" else _xml_leg(int(leg))
        fields: dict[str, str] = {}
        for i, (dx, dy) in _LEG_DIRS.items():
            s = 0.5 if i == crippled_xml_leg else 1.0
            fields[f"thigh_{i}"] = f"{fmt(0.2 * s * dx)} {fmt(0.2 * s * dy)}"
            fields[f"shin_{i}"] = f"{fmt(0.4 * s * dx)} {fmt(0.4 * s * dy)}"
            fields[f"r_{i}"] = fmt(0.08 * s)
            fields[f"rgba_{i}"] = "1 0 0 1" if i == crippled_xml_leg else "0.8 0.6 0.4 1"
        return load_template("ant.xml").substitute(fields)

    @property
    def action_mask(self) -> np.ndarray:
        """``float64[8]``: 0 for the crippled leg's two actions, 1 elsewhere."""
        mask = np.ones(8)
        if self.task_params["crippled_leg"] != "none":
            mask[list(LEG_ACTIONS[int(self.task_params["crippled_leg"])])] = 0.0
        return mask

    def _get_obs(self) -> np.ndarray:
        torso = self.model.body("torso").id
        return np.concatenate(
            [self.data.qpos, self.data.qvel, self.data.xmat[torso], self.data.subtree_com[torso]]
        ).astype(np.float64)

    def _reset_state(self) -> None:
        rng = self.np_random
        qpos = self.model.qpos0.copy()
        noise = rng.uniform(-0.1, 0.1, size=self.model.nq)
        noise[3:7] = 0.0  # keep the orientation quaternion a unit quaternion
        self.data.qpos[:] = qpos + noise
        self.data.qvel[:] = rng.normal(0.0, 0.1, size=self.model.nv)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        com_x = float(self.data.subtree_com[self.model.body("torso").id][0])
        self.do_simulation(a * self.action_mask)
        obs = self._get_obs()
        forward = (obs[-3] - com_x) / self.dt
        return obs, float(forward + SURVIVE_REWARD), False, False, {"reward_forward": forward}


def ant_reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """GrBAL ant planning reward ``(next_obs[-3] - obs[-3]) / 0.02 + 0.05`` (reference §5.4).

    ``obs[..., 41]``, ``act[..., 8]`` (unused), ``next_obs[..., 41]`` -> ``[...]``.
    """
    return (next_obs[..., -3] - obs[..., -3]) / DT + SURVIVE_REWARD


FAMILY = TaskFamily(
    name="ant_cripple",
    env_id="dynadapt/AntCripple-v0",
    obs_dim=41,
    act_dim=8,
    episode_steps=1000,
    reward_fn=ant_reward,
    params=PARAMS,
    doc="GrBAL ant with a crippled leg (train: legs 0-2, test: leg 3); reward Δcom_x/dt + 0.05; dt 0.02.",
    sequences={"grbal_train": tuple({"crippled_leg": k} for k in (0, 1, 2))},
    splits={
        "train": tuple({"crippled_leg": k} for k in (0, 1, 2)),
        "test": ({"crippled_leg": 3},),
    },
    act_low=(-1.0,) * 8,
    act_high=(1.0,) * 8,
)
