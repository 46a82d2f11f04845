"""Task families: parametric Gymnasium envs with batched reward/termination functions.

Importing this package registers every ``dynadapt/<Name>-v0`` env with Gymnasium and every family with
:func:`get_family`. See ``docs/envs/README.md`` for the families, their parameters and sequences.
"""

from __future__ import annotations

import os
import sys

# Headless MuJoCo rendering needs an offscreen OpenGL backend chosen before ``mujoco`` is imported.
if "MUJOCO_GL" not in os.environ and sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "egl"

import gymnasium as gym

from dynadapt.envs import ant, cartpole, door, half_cheetah, pendulum, pusher, reacher, terrain
from dynadapt.envs.base import action_bounds, get_task, set_task
from dynadapt.envs.describe import describe_families, describe_family
from dynadapt.envs.family import Param, RewardFn, TaskFamily, TerminationFn
from dynadapt.envs.registry import family_names, get_family, register_family, resolve_family
from dynadapt.envs.render import render_frames, render_strip
from dynadapt.envs.sequences import Task, load_sequence, named_sequence, sequence_names, tasks_from_data
from dynadapt.envs.streams import (
    Segment,
    Stream,
    StreamEnv,
    get_stream,
    load_stream,
    save_stream,
    stream_from_data,
    stream_names,
)

_ENV_CLASSES: tuple[tuple[TaskFamily, type], ...] = (
    (pendulum.FAMILY, pendulum.ParametricPendulumEnv),
    (cartpole.FAMILY, cartpole.CartpoleSwingupEnv),
    (reacher.FAMILY, reacher.ReacherEnv),
    (half_cheetah.BODY_FAMILY, half_cheetah.HalfCheetahBodyEnv),
    (half_cheetah.CRIPPLE_FAMILY, half_cheetah.HalfCheetahCrippleEnv),
    (ant.FAMILY, ant.AntCrippleEnv),
    (pusher.FAMILY, pusher.PusherFrictionEnv),
    (door.FAMILY, door.DoorEnv),
    (terrain.HFIELD_FAMILY, terrain.HalfCheetahHFieldEnv),
    (terrain.PIER_FAMILY, terrain.HalfCheetahPierEnv),
)

for _family, _cls in _ENV_CLASSES:
    if _family.env_id not in gym.registry:
        gym.register(
            id=_family.env_id,
            entry_point=f"{_cls.__module__}:{_cls.__name__}",
            max_episode_steps=_family.episode_steps,
        )
    register_family(_family)

__all__ = [
    "Param",
    "RewardFn",
    "Segment",
    "Stream",
    "StreamEnv",
    "Task",
    "TaskFamily",
    "TerminationFn",
    "action_bounds",
    "describe_families",
    "describe_family",
    "family_names",
    "get_family",
    "get_stream",
    "get_task",
    "load_sequence",
    "load_stream",
    "named_sequence",
    "register_family",
    "render_frames",
    "render_strip",
    "resolve_family",
    "save_stream",
    "sequence_names",
    "set_task",
    "stream_from_data",
    "stream_names",
    "tasks_from_data",
]
