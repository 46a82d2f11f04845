"""Task families: parametric Gymnasium envs with batched reward/termination functions.

Importing this package registers every ``dynadapt/<Name>-v0`` env with Gymnasium and every family with
:func:`get_family`.
"""

from __future__ import annotations

import os
import sys

# Headless MuJoCo rendering needs an offscreen OpenGL backend chosen before ``mujoco`` is imported.
if "MUJOCO_GL" not in os.environ and sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "egl"

import gymnasium as gym

from dynadapt.envs import cartpole, pendulum
from dynadapt.envs.base import get_task, set_task
from dynadapt.envs.family import Param, TaskFamily
from dynadapt.envs.registry import family_names, get_family, register_family

_ENTRY_POINTS = {
    "pendulum": (pendulum.FAMILY, "dynadapt.envs.pendulum:ParametricPendulumEnv"),
    "cartpole": (cartpole.FAMILY, "dynadapt.envs.cartpole:CartpoleSwingupEnv"),
}

for _family, _entry_point in _ENTRY_POINTS.values():
    if _family.env_id not in gym.registry:
        gym.register(id=_family.env_id, entry_point=_entry_point, max_episode_steps=_family.episode_steps)
    register_family(_family)

__all__ = [
    "Param",
    "TaskFamily",
    "family_names",
    "get_family",
    "get_task",
    "register_family",
    "set_task",
]
