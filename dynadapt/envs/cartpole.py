"""Cart-pole swing-up with the PETS reward (``dynadapt/CartpoleSwingup-v0``).

The task follows PETS's MuJoCo cart-pole (Chua et al. 2018, ``dmbrl/env/cartpole.py``; reference §4.7, §7):

* observation ``(x, θ, ẋ, θ̇)`` = ``(qpos, qvel)`` with θ = 0 hanging down (θ is not wrapped);
* physics timestep 0.01 s, frame_skip 2 (dt = 0.02 s), 200 steps per episode, never terminates;
* reset: ``qpos, qvel ~ N(0, 0.1²)`` around the hanging state;
* reward ``exp(-‖ee - (0, L)‖² / L²) - 0.01 ‖a‖²`` with the pole tip ``ee = (x - L sin θ, -L cos θ)``,
  computed from the state *after* the step. PETS fixes ``L = 0.6``; HyperCRL (Huang et al. 2021,
  ``hypercrl/control/reward.py``) takes L from the task, and so does dynadapt. Maximum 1 per step.

The model is dynadapt's own (``assets/cartpole.xml``): a 1 kg cart on a rail (±3 m) driven by a force of up
to 60 N (action in [-3, 3], gear 20), and a capsule pole of mass ``pole_mass`` whose inertia is computed by
MuJoCo from its shape at compile time (RK4 integrator). The force suffices for a swing-up in ≈ 0.5 s: CEM
on the true dynamics (horizon 30, 300 samples, 30 elites, 5 iterations) scores ≈ 182 of 200 with the
default parameters (the swing-up itself costs ≈ 20 steps of low reward); with gear 10 it scores ≈ 172.

HyperCRL's cart-pole sequence varies the pole length 0.6, 0.8, 0.4, 1.0, 1.2 (5 tasks) and
0.6, 0.8, 0.4, 1.0, 1.2, 0.7, 0.5, 0.9, 1.1, 1.3 (10 tasks)
(``hypercrl/envs/cl_env.py``, ``hypercrl/envs/cartpole.py``; reference §4.7).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dynadapt.envs.assets import load_template
from dynadapt.envs.base import MujocoTaskEnv, fmt, positive
from dynadapt.envs.family import Param, RewardFn, TaskFamily

PARAMS: tuple[Param, ...] = (
    positive("pole_length", 0.6, "pole length L (m); also the reward's length scale", high=10.0),
    positive("pole_mass", 0.5, "pole mass (kg)"),
    Param("cart_damping", 1.0, "viscous damping of the cart's slider joint (N s/m)", low=0.0, high=1e3),
)

CART_MASS = 1.0
"""kg"""
GEAR = 20.0
"""Newtons per unit of action."""
MAX_ACTION = 3.0
"""Action bound: force = GEAR * clip(a, -3, 3)."""
HINGE_DAMPING = 0.01
"""Nm s/rad, fixed."""
ACTION_COST = 0.01
"""PETS ``dmbrl/env/cartpole.py``: ``reward -= 0.01 * sum(a**2)``."""


class CartpoleSwingupEnv(MujocoTaskEnv):
    """MuJoCo cart-pole swing-up. Obs ``(x, θ, ẋ, θ̇)`` float64, action ``[force]`` in [-3, 3]."""

    PARAMS = PARAMS
    FAMILY = "cartpole"
    frame_skip = 2
    render_camera = "side"
    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}  # noqa: RUF012  (Gymnasium API)

    def __init__(
        self,
        render_mode: str | None = None,
        pole_length: float = 0.6,
        pole_mass: float = 0.5,
        cart_damping: float = 1.0,
        width: int = 320,
        height: int = 240,
    ) -> None:
        super().__init__(
            render_mode,
            width,
            height,
            pole_length=pole_length,
            pole_mass=pole_mass,
            cart_damping=cart_damping,
        )

    def model_xml(self) -> str:
        p = self.task_params
        return load_template("cartpole.xml").substitute(
            pole_length=fmt(p["pole_length"]),
            pole_mass=fmt(p["pole_mass"]),
            cart_damping=fmt(p["cart_damping"]),
            cart_mass=fmt(CART_MASS),
            hinge_damping=fmt(HINGE_DAMPING),
            gear=fmt(GEAR),
            max_action=fmt(MAX_ACTION),
        )

    def _get_obs(self) -> np.ndarray:
        return np.concatenate([self.data.qpos, self.data.qvel]).astype(np.float64)

    def _reset_state(self) -> None:
        self.data.qpos[:] = self.np_random.normal(0.0, 0.1, size=self.model.nq)
        self.data.qvel[:] = self.np_random.normal(0.0, 0.1, size=self.model.nv)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, dtype=np.float64), -MAX_ACTION, MAX_ACTION)
        self.do_simulation(a)
        obs = self._get_obs()
        length = float(self.task_params["pole_length"])
        x, theta = obs[0], obs[1]
        dist2 = (x - length * np.sin(theta)) ** 2 + (-length * np.cos(theta) - length) ** 2
        reward = float(np.exp(-dist2 / length**2) - ACTION_COST * np.sum(a**2))
        return obs, reward, False, False, {}


def cartpole_reward(obs: Tensor, act: Tensor, next_obs: Tensor, pole_length: float = 0.6) -> Tensor:
    """PETS cart-pole reward of the state after the step (see the module docstring).

    ``obs[..., 4]`` (unused), ``act[..., 1]`` (clipped to [-3, 3] as in the env), ``next_obs[..., 4]``
    -> ``[...]``.
    """
    length = pole_length
    x, theta = next_obs[..., 0], next_obs[..., 1]
    dist2 = (x - length * torch.sin(theta)) ** 2 + (-length * torch.cos(theta) - length) ** 2
    a = act.clamp(-MAX_ACTION, MAX_ACTION)
    return torch.exp(-dist2 / length**2) - ACTION_COST * (a**2).sum(-1)


def _reward_factory(params: Mapping[str, Any]) -> RewardFn:
    return partial(cartpole_reward, pole_length=float(params["pole_length"]))


def cartpole_preproc(obs: Tensor) -> Tensor:
    """``(x, θ, ẋ, θ̇) -> (x, sin θ, cos θ, ẋ, θ̇)``: ``[..., 4] -> [..., 5]`` (PETS ``obs_preproc``)."""
    theta = obs[..., 1:2]
    return torch.cat([obs[..., :1], torch.sin(theta), torch.cos(theta), obs[..., 2:]], dim=-1)


_HYPERCRL_10 = (0.6, 0.8, 0.4, 1.0, 1.2, 0.7, 0.5, 0.9, 1.1, 1.3)

FAMILY = TaskFamily(
    name="cartpole",
    env_id="dynadapt/CartpoleSwingup-v0",
    obs_dim=4,
    act_dim=1,
    episode_steps=200,
    reward_fn=_reward_factory({"pole_length": 0.6}),
    obs_preproc=cartpole_preproc,
    preproc_dim=5,
    params=PARAMS,
    doc="PETS-style MuJoCo cart-pole swing-up; obs (x, θ, ẋ, θ̇), force in [-3, 3]; reward ≤ 1 per step.",
    sequences={
        "hypercrl": tuple({"pole_length": v} for v in _HYPERCRL_10[:5]),
        "hypercrl10": tuple({"pole_length": v} for v in _HYPERCRL_10),
    },
    reward_factory=_reward_factory,
    act_low=(-MAX_ACTION,),
    act_high=(MAX_ACTION,),
)
