"""Half-cheetah task families: HyperCRL's body-part sizes and GrBAL's crippled joint.

Both use dynadapt's half-cheetah model (``assets/half_cheetah.xml``, the standard half-cheetah morphology,
total mass fixed at 14 kg by ``settotalmass``).

**Body** (``dynadapt/HalfCheetahBody-v0``; Huang et al. 2021, HyperCRL, ``hypercrl/envs/half_cheetah.py``,
``hypercrl/envs/mujoco/modified_half_cheetah.py``; reference §4.7):

* a "big" body part multiplies every number of the named geoms' ``size`` by the scale (1.25 in HyperCRL's
  tasks): for the torso capsule (``fromto``) that is its radius only, for thighs, shins ("leg") and feet
  the radius and half-length. Body positions are unchanged. The total mass stays 14 kg and is
  redistributed, because mass and inertia are recomputed when the XML is compiled;
* frame_skip 5 at timestep 0.01 (dt 0.05), 1000 steps, never terminates;
* observation (18): ``v_x = (x_after - x_before) / dt`` (finite difference of ``qpos[0]`` over the step;
  0 right after reset), ``qpos[1:]`` (8), ``qvel`` (9);
* reward ``v_x - 0.1 ‖a‖²`` with ``v_x`` = ``next_obs[0]`` and ``a`` clipped to [-1, 1];
* reset: ``qpos += U(±0.1)``, ``qvel ~ N(0, 0.1²)``.

HyperCRL's five tasks, in order: normal, big torso, big thigh, big leg, big foot.

**Crippled joint** (``dynadapt/HalfCheetahCripple-v0``; Nagabandi et al. 2019, GrBAL, Section 6 and
``learning_to_adapt/envs/half_cheetah_env.py``; reference §5.4):

* the crippled joint's action is multiplied by 0 before simulation (its geom is drawn red);
  :meth:`~dynadapt.envs.base.TaskEnvMixin.set_task` may switch it at any step (the paper's mid-rollout
  changes, which the reference code lacks, pitfall G11);
* frame_skip 1 at timestep 0.01 (dt 0.01), 1000 steps, never terminates;
* observation (20): ``qpos[1:]`` (8), ``qvel`` (9), centre of mass of the whole body (3; GrBAL's
  ``get_body_com("torso")`` reads ``com_subtree`` of the root body);
* reward: GrBAL's planning reward ``(com_x' - com_x) / dt - 0.05 ‖a‖²``, where ``a`` is the *commanded*
  action clipped to [-1, 1] (the planner does not know which joint is crippled). The env uses the same
  formula, so that the planner's reward equals the env's (GrBAL's env reported the COM velocity instead);
* split (the reference code): training joints 1-5 (bshin, bfoot, fthigh, fshin, ffoot), held-out joint 0
  (bthigh); "none" is the intact robot;
* reset: as for the body family (the GrBAL reset noise is not documented in the reference).
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from torch import Tensor

from dynadapt.envs.assets import load_template
from dynadapt.envs.base import MujocoTaskEnv, fmt
from dynadapt.envs.family import Param, TaskFamily

JOINTS: tuple[str, ...] = ("bthigh", "bshin", "bfoot", "fthigh", "fshin", "ffoot")
"""Actuated joints in action order."""

_BASE_SIZES: dict[str, tuple[float, ...]] = {
    "torso": (0.046,),
    "bthigh": (0.046, 0.145),
    "bshin": (0.046, 0.15),
    "bfoot": (0.046, 0.094),
    "fthigh": (0.046, 0.133),
    "fshin": (0.046, 0.106),
    "ffoot": (0.046, 0.07),
}
"""Geom ``size`` attributes of the standard half-cheetah (capsule radius, half-length)."""

_PARTS: dict[str, tuple[str, ...]] = {
    "torso_scale": ("torso",),
    "thigh_scale": ("bthigh", "fthigh"),
    "leg_scale": ("bshin", "fshin"),
    "foot_scale": ("bfoot", "ffoot"),
}
"""HyperCRL's body parts (``hypercrl/envs/mujoco/__init__.py``: BigTorso, BigThigh, BigLeg, BigFoot)."""

_NORMAL_RGBA = "0.8 0.6 0.4 1"
_CRIPPLED_RGBA = "1 0 0 1"


def _cheetah_xml(scales: dict[str, float], crippled: str | None, timestep: float) -> str:
    fields: dict[str, str] = {"timestep": fmt(timestep), "rgba_torso": _NORMAL_RGBA}
    for part, geoms in _PARTS.items():
        for geom in geoms:
            fields[geom] = " ".join(fmt(v * scales.get(part, 1.0)) for v in _BASE_SIZES[geom])
    for joint in JOINTS:
        fields[f"rgba_{joint}"] = _CRIPPLED_RGBA if joint == crippled else _NORMAL_RGBA
    return load_template("half_cheetah.xml").substitute(fields)


TOTAL_MASS = 14.0
"""kg; the standard half-cheetah fixes its total mass (``settotalmass="14"``)."""


def _compile_cheetah(xml: str) -> mujoco.MjModel:
    """Compile, then scale all masses and inertias so that the total mass is 14 kg (as ``settotalmass``,
    deprecated in MuJoCo 4, did at compile time)."""
    model = mujoco.MjModel.from_xml_string(xml)
    mujoco.mj_setTotalmass(model, TOTAL_MASS)
    mujoco.mj_setConst(model, mujoco.MjData(model))
    return model


def _cheetah_reset(env: MujocoTaskEnv) -> None:
    rng = env.np_random
    env.data.qpos[:] = env.model.qpos0 + rng.uniform(-0.1, 0.1, size=env.model.nq)
    env.data.qvel[:] = rng.normal(0.0, 0.1, size=env.model.nv)


# --- HyperCRL body sizes -----------------------------------------------------------------------------------

BODY_PARAMS: tuple[Param, ...] = tuple(
    Param(name, 1.0, f"size scale of the {name.removesuffix('_scale')} geom(s) {', '.join(geoms)}", 0.5, 2.0)
    for name, geoms in _PARTS.items()
)

BODY_CTRL_COST = 0.1
"""HyperCRL ``HalfCheetahEnv.step``: ``reward_ctrl = -0.1 * sum(a**2)``."""


class HalfCheetahBodyEnv(MujocoTaskEnv):
    """HyperCRL's half-cheetah with scaled body parts. Obs float64 ``[18]``, action ``[6]`` in [-1, 1]."""

    PARAMS = BODY_PARAMS
    FAMILY = "half_cheetah_body"
    frame_skip = 5
    render_camera = "track"
    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}  # noqa: RUF012  (Gymnasium API)

    def __init__(
        self,
        render_mode: str | None = None,
        torso_scale: float = 1.0,
        thigh_scale: float = 1.0,
        leg_scale: float = 1.0,
        foot_scale: float = 1.0,
        width: int = 320,
        height: int = 240,
    ) -> None:
        self._vx = 0.0
        super().__init__(
            render_mode,
            width,
            height,
            torso_scale=torso_scale,
            thigh_scale=thigh_scale,
            leg_scale=leg_scale,
            foot_scale=foot_scale,
        )

    def model_xml(self) -> str:
        return _cheetah_xml(dict(self.task_params), crippled=None, timestep=0.01)

    def _compile(self) -> mujoco.MjModel:
        return _compile_cheetah(self.model_xml())

    def _get_obs(self) -> np.ndarray:
        return np.concatenate([[self._vx], self.data.qpos[1:], self.data.qvel]).astype(np.float64)

    def _reset_state(self) -> None:
        _cheetah_reset(self)
        self._vx = 0.0

    def get_physics_state(self) -> np.ndarray:
        """``(qpos, qvel, v_x)``: the observed velocity is part of the state."""
        return np.concatenate([super().get_physics_state(), [self._vx]])

    def set_physics_state(self, state: np.ndarray) -> None:
        state = np.asarray(state, dtype=np.float64)
        super().set_physics_state(state[:-1])
        self._vx = float(state[-1])

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        x_before = float(self.data.qpos[0])
        self.do_simulation(a)
        self._vx = (float(self.data.qpos[0]) - x_before) / self.dt
        reward_ctrl = -BODY_CTRL_COST * float(np.sum(a**2))
        info = {"reward_run": self._vx, "reward_ctrl": reward_ctrl}
        return self._get_obs(), self._vx + reward_ctrl, False, False, info


def cheetah_body_reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """HyperCRL half-cheetah reward ``next_obs[0] - 0.1 ‖clip(a, -1, 1)‖²`` (reference §4.7).

    ``obs[..., 18]`` (unused), ``act[..., 6]``, ``next_obs[..., 18]`` -> ``[...]``.
    """
    return next_obs[..., 0] - BODY_CTRL_COST * (act.clamp(-1.0, 1.0) ** 2).sum(-1)


BODY_FAMILY = TaskFamily(
    name="half_cheetah_body",
    env_id="dynadapt/HalfCheetahBody-v0",
    obs_dim=18,
    act_dim=6,
    episode_steps=1000,
    reward_fn=cheetah_body_reward,
    params=BODY_PARAMS,
    doc="HyperCRL half-cheetah with one body part's geoms scaled; reward v_x - 0.1‖a‖²; dt 0.05.",
    sequences={
        "hypercrl": (
            {},
            {"torso_scale": 1.25},
            {"thigh_scale": 1.25},
            {"leg_scale": 1.25},
            {"foot_scale": 1.25},
        )
    },
    act_low=(-1.0,) * 6,
    act_high=(1.0,) * 6,
)

# --- GrBAL crippled joint ----------------------------------------------------------------------------------

CRIPPLE_PARAMS: tuple[Param, ...] = (
    Param(
        "crippled_joint",
        "none",
        "joint whose actuator is disabled (action multiplied by 0), or 'none'",
        choices=("none", *JOINTS),
    ),
)

CRIPPLE_CTRL_COST = 0.05
"""GrBAL ``HalfCheetahEnv.reward``: ``ctrl_cost = 1e-1 * 0.5 * sum(a**2)``."""


class HalfCheetahCrippleEnv(MujocoTaskEnv):
    """GrBAL's half-cheetah with a disabled joint. Obs float64 ``[20]``, action ``[6]`` in [-1, 1]."""

    PARAMS = CRIPPLE_PARAMS
    FAMILY = "half_cheetah_cripple"
    frame_skip = 1
    render_camera = "track"
    metadata = {"render_modes": ["rgb_array"], "render_fps": 100}  # noqa: RUF012  (Gymnasium API)

    def __init__(
        self,
        render_mode: str | None = None,
        crippled_joint: str = "none",
        width: int = 320,
        height: int = 240,
    ) -> None:
        super().__init__(render_mode, width, height, crippled_joint=crippled_joint)

    def model_xml(self) -> str:
        crippled = self.task_params["crippled_joint"]
        return _cheetah_xml({}, crippled=None if crippled == "none" else crippled, timestep=0.01)

    def _compile(self) -> mujoco.MjModel:
        return _compile_cheetah(self.model_xml())

    @property
    def action_mask(self) -> np.ndarray:
        """``float64[6]``: 0 for the crippled joint's action, 1 elsewhere."""
        mask = np.ones(len(JOINTS))
        if self.task_params["crippled_joint"] != "none":
            mask[JOINTS.index(self.task_params["crippled_joint"])] = 0.0
        return mask

    def _get_obs(self) -> np.ndarray:
        com = self.data.subtree_com[self.model.body("torso").id]
        return np.concatenate([self.data.qpos[1:], self.data.qvel, com]).astype(np.float64)

    def _reset_state(self) -> None:
        _cheetah_reset(self)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        com_x = float(self.data.subtree_com[self.model.body("torso").id][0])
        self.do_simulation(a * self.action_mask)
        obs = self._get_obs()
        forward = (obs[-3] - com_x) / self.dt
        reward = forward - CRIPPLE_CTRL_COST * float(np.sum(a**2))
        return obs, float(reward), False, False, {"reward_forward": forward}


def cheetah_cripple_reward(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """GrBAL half-cheetah planning reward ``(next_obs[-3] - obs[-3]) / 0.01 - 0.05 ‖clip(a, -1, 1)‖²``.

    ``obs[..., 20]``, ``act[..., 6]``, ``next_obs[..., 20]`` -> ``[...]`` (reference §5.4).
    """
    forward = (next_obs[..., -3] - obs[..., -3]) / 0.01
    return forward - CRIPPLE_CTRL_COST * (act.clamp(-1.0, 1.0) ** 2).sum(-1)


CRIPPLE_FAMILY = TaskFamily(
    name="half_cheetah_cripple",
    env_id="dynadapt/HalfCheetahCripple-v0",
    obs_dim=20,
    act_dim=6,
    episode_steps=1000,
    reward_fn=cheetah_cripple_reward,
    params=CRIPPLE_PARAMS,
    doc="GrBAL half-cheetah with a disabled joint (train: joints 1-5, test: bthigh); dt 0.01.",
    sequences={"grbal_train": tuple({"crippled_joint": j} for j in JOINTS[1:])},
    splits={
        "train": tuple({"crippled_joint": j} for j in JOINTS[1:]),
        "test": ({"crippled_joint": "bthigh"},),
    },
    act_low=(-1.0,) * 6,
    act_high=(1.0,) * 6,
)
