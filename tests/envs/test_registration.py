"""Every registered env passes Gymnasium's checker; names, registry and errors behave."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from dynadapt.envs import family_names, get_family, get_task, set_task
from dynadapt.envs.family import TaskFamily
from dynadapt.errors import DynadaptError, UnknownNameError


def test_every_family_is_registered_with_gymnasium() -> None:
    assert {"pendulum", "cartpole"} <= set(family_names())
    for name in family_names():
        family = get_family(name)
        assert family.env_id.startswith("dynadapt/") and family.env_id.endswith("-v0")
        spec = gym.spec(family.env_id)
        assert spec.max_episode_steps == family.episode_steps


def test_check_env(family: TaskFamily) -> None:
    env = gym.make(family.env_id, render_mode="rgb_array")
    check_env(env.unwrapped)
    frame = env.unwrapped.render()
    assert isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3
    env.close()


def test_spaces_match_family(family: TaskFamily) -> None:
    env = family.make()
    assert env.observation_space.shape == (family.obs_dim,)
    assert env.action_space.shape == (family.act_dim,)
    np.testing.assert_allclose(env.action_space.low, family.act_low)
    np.testing.assert_allclose(env.action_space.high, family.act_high)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (family.obs_dim,)


def test_unknown_family() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown task family 'cartpol'.*did you mean 'cartpole'"):
        get_family("cartpol")


def test_unknown_parameter(family: TaskFamily) -> None:
    with pytest.raises(DynadaptError, match="unknown parameter"):
        family.make(no_such_parameter=1.0)
    with pytest.raises(DynadaptError, match="unknown parameter"):
        family.reward_fn_for(no_such_parameter=1.0)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("pendulum", {"mass": -1.0}, "invalid value -1.0 for parameter 'mass'"),
        ("pendulum", {"length": 0.0}, "parameter 'length'"),
        ("pendulum", {"gravity": "heavy"}, "must be a number"),
        ("cartpole", {"pole_mass": -0.1}, "parameter 'pole_mass'"),
        ("cartpole", {"pole_length": float("nan")}, "parameter 'pole_length'"),
        ("cartpole", {"cart_damping": -1.0}, "parameter 'cart_damping'"),
    ],
)
def test_invalid_values(name: str, params: dict, message: str) -> None:
    family = get_family(name)
    with pytest.raises(DynadaptError, match=message):
        family.make(**params)
    with pytest.raises(DynadaptError, match=message):  # also through gymnasium.make directly
        gym.make(family.env_id, **params)


def test_set_task_rejects_bad_values_and_keeps_the_task() -> None:
    env = get_family("cartpole").make(pole_length=0.8)
    env.reset(seed=0)
    with pytest.raises(DynadaptError):
        set_task(env, pole_mass=-1.0)
    with pytest.raises(UnknownNameError):
        set_task(env, colour="red")
    assert get_task(env)["pole_length"] == 0.8 and get_task(env)["pole_mass"] == 0.5


def test_set_task_on_a_foreign_env() -> None:
    with pytest.raises(DynadaptError, match="not a dynadapt task env"):
        set_task(gym.make("CartPole-v1"), length=1.0)


def test_named_sequences() -> None:
    pendulum = get_family("pendulum")
    assert [t["gravity"] for t in pendulum.sequence("hypercrl")] == [10.0, 12.0, 14.0, 16.0, 18.0]
    cartpole = get_family("cartpole")
    assert [t["pole_length"] for t in cartpole.sequence("hypercrl")] == [0.6, 0.8, 0.4, 1.0, 1.2]
    ten = [t["pole_length"] for t in cartpole.sequence("hypercrl10")]
    assert ten == [0.6, 0.8, 0.4, 1.0, 1.2, 0.7, 0.5, 0.9, 1.1, 1.3]
    with pytest.raises(UnknownNameError, match="task sequence"):
        cartpole.sequence("nope")
    for name in family_names():
        family = get_family(name)
        for seq in family.sequences:
            for task in family.sequence(seq):
                family.make(**task).close()


def test_choice_parameters_accept_their_text_form() -> None:
    assert get_family("ant_cripple").validate({"crippled_leg": "3"}) == {"crippled_leg": 3}
    assert get_family("door").validate({"direction": "1", "handle": "lever"})["direction"] == 1
    assert get_family("door").validate({"direction": 1.0})["direction"] == 1
    with pytest.raises(DynadaptError, match="direction"):
        get_family("door").validate({"direction": True})
    with pytest.raises(DynadaptError, match="valid: \\['none', 'bthigh'"):
        get_family("half_cheetah_cripple").validate({"crippled_joint": "tail"})
    assert get_family("cartpole").validate({"pole_length": "0.8"})["pole_length"] == 0.8
