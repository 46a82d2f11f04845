"""Changing any parameter changes the dynamics; set_task changes them mid-episode without a reset."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from dynadapt.envs import get_task, set_task
from dynadapt.envs.family import TaskFamily
from dynadapt.envs.terrain import ground_height, terrain_profile
from dynadapt.envs.testing import changed_value


def _observed(family: TaskFamily, env: gym.Env, obs: np.ndarray) -> np.ndarray:
    """The observation, and on the pier also the blocks' state (not observed; each damping acts on its own
    block, which the cheetah need not touch)."""
    if family.name == "half_cheetah_pier":
        return np.concatenate([obs, env.unwrapped.get_physics_state()])
    return obs


def _next_obs(family: TaskFamily, params: dict, state: np.ndarray, act: np.ndarray) -> np.ndarray:
    env = family.make(**params)
    env.reset(seed=0)
    env.unwrapped.set_physics_state(state)
    obs, *_ = env.step(act)
    return _observed(family, env, obs)


def _probe(family: TaskFamily) -> tuple[np.ndarray, np.ndarray]:
    env = family.make()
    env.reset(seed=3)
    for _ in range(5):  # move away from rest so that velocity-dependent terms act
        env.step(env.action_space.high * 0.7)
    state = env.unwrapped.get_physics_state()
    if family.name == "door":  # the handle only matters once it is turned: turn it (allowed range of -1)
        model = env.unwrapped.model
        state[model.joint("knob").qposadr[0]] = -0.3
        state[model.nq + model.joint("knob").dofadr[0]] = 0.5
    if family.name == "half_cheetah_hfield":  # onto the ramps (from x = 1.1 m), standing on the default ones
        state[0] += 4.0
        state[1] += float(ground_height(4.0, terrain_profile()))
    if family.name == "half_cheetah_pier":  # every block moving, so that every block's damping acts
        model = env.unwrapped.model
        for k in range(8):
            state[model.nq + model.joint(f"blockz_{k}").dofadr[0]] = 0.3
    return state, env.action_space.high * 0.5


def test_each_parameter_changes_the_next_state(family: TaskFamily) -> None:
    state, act = _probe(family)
    base = _next_obs(family, {}, state, act)
    np.testing.assert_array_equal(base, _next_obs(family, {}, state, act))  # deterministic
    for param in family.params:
        other = _next_obs(family, {param.name: changed_value(param)}, state, act)
        assert np.max(np.abs(other - base)) > 1e-6, f"{family.name}: {param.name} has no effect"


def test_set_task_mid_episode_keeps_the_state(family: TaskFamily) -> None:
    state, act = _probe(family)
    for param in family.params:
        value = changed_value(param)
        env = family.make()
        env.reset(seed=0)
        env.unwrapped.set_physics_state(state)
        set_task(env, **{param.name: value})
        assert get_task(env)[param.name] == value
        np.testing.assert_array_equal(env.unwrapped.get_physics_state(), state)
        obs, *_ = env.step(act)
        expected = _next_obs(family, {param.name: value}, state, act)
        np.testing.assert_allclose(_observed(family, env, obs), expected, atol=1e-12)


def test_reset_is_seeded(family: TaskFamily) -> None:
    a, b = family.make(), family.make()
    np.testing.assert_array_equal(a.reset(seed=7)[0], b.reset(seed=7)[0])
    assert not np.array_equal(a.reset(seed=7)[0], a.reset(seed=8)[0])
