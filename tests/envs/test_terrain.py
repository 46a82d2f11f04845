"""GrBAL's terrain families: the release's terrains and pier, the change along the track, determinism."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from dynadapt.envs import get_family, get_task, set_task
from dynadapt.envs.terrain import (
    HFIELD_GAIT,
    HFIELD_X,
    PIER_BLOCKS,
    PIER_GAIT,
    block_under,
    ground_height,
    pier_training_task,
    terrain_profile,
)
from dynadapt.errors import DynadaptError

HFIELD = get_family("half_cheetah_hfield")
PIER = get_family("half_cheetah_pier")


def _sim(env: gym.Env) -> Any:
    """The dynadapt env under the wrappers (its physics-state and terrain methods)."""
    return env.unwrapped


def _release_row(starts: list[int], width: int, rises: list[float]) -> np.ndarray:
    """The release's construction, step by step: each ramp adds its rise cumulatively over its columns on
    top of the ground before it, and the ground after it stays at its last height; then [0, 1]."""
    row = np.zeros(500)
    for start, rise in zip(starts, rises):
        row[start : start + width] += rise * np.arange(1, width + 1)
        row[start + width :] = row[start + width - 1]
    return (row - row.min()) / (row.max() - row.min())


@pytest.mark.parametrize(
    ("terrain", "rises", "height"),
    [
        ("gentle", [1, 1, 1, 1, 1, 1], 1.0),
        ("steep", [1, 1, 1, 1, 1, 1], 4.0),
        ("hill", [1, -1, 0, 0, 0, 0], 0.6),
        ("basin", [-1, 1, 0, 0, 0, 0], 0.55),
    ],
)
def test_named_terrains_are_the_releases(terrain: str, rises: list[float], height: float) -> None:
    expected = _release_row([250, 265, 280, 295, 310, 325], 15, rises) * height
    np.testing.assert_allclose(terrain_profile(terrain), expected - expected[0], atol=1e-12)
    np.testing.assert_allclose(terrain_profile(terrain, height_scale=2.0), 2 * (expected - expected[0]))
    assert HFIELD_X[250] == pytest.approx(0.1, abs=1e-3)  # the ramps begin just ahead of the start


def test_random_terrains_follow_the_release_distribution() -> None:
    profiles = [terrain_profile("random", seed) for seed in range(40)]
    for seed, profile in enumerate(profiles):
        np.testing.assert_array_equal(profile, terrain_profile("random", seed))  # reproducible
        assert 0.2 <= np.ptp(profile) <= 1.0  # H ~ U(0.2, 1)
        assert np.all(profile[:255] == 0) and np.all(profile[314:] == profile[314])  # ramps: columns 255-314
        rises = np.diff(profile[254:315]).reshape(6, 10)
        assert np.all(rises[:2] > 0)  # the first two ramps climb
        assert np.allclose(rises, rises[:, :1])  # each ramp has one slope
        slopes = np.abs(rises[:, 0])
        assert slopes.max() / slopes.min() <= 3.0 + 1e-9  # |slope| ~ U(0.2, 0.6) before normalising
        starts, rise = [255, 265, 275, 285, 295, 305], rises[:, 0]
        release = _release_row(starts, 10, list(rise)) * np.ptp(profile)
        np.testing.assert_allclose(profile, release - release[0], atol=1e-12)
    assert any(np.any(np.diff(p[274:315]) < 0) for p in profiles)  # later ramps may descend
    assert len({p.tobytes() for p in profiles}) == len(profiles)
    assert not np.any(terrain_profile("flat"))


def test_the_compiled_field_is_the_profile_with_the_start_at_zero() -> None:
    for params in ({"terrain": "basin"}, {"terrain": "random", "terrain_seed": 7, "height_scale": 1.5}):
        env = _sim(HFIELD.make(**params))
        model = env.model
        top = model.hfield_size[0, 2]
        surface = model.hfield_data.reshape(2, 500)[0] * top + model.geom("floor").pos[2]
        # hfield_data is float32 in some MuJoCo versions (3.3.x): a few float32 steps of the field's height
        atol = 4 * np.finfo(np.float32).eps * max(1.0, float(top))
        np.testing.assert_allclose(surface, terrain_profile(**HFIELD.validate(params)), atol=atol)
        np.testing.assert_array_equal(env.profile, terrain_profile(**HFIELD.validate(params)))


def test_the_ground_under_the_cheetah_changes_along_the_track() -> None:
    heights = {}
    for terrain in ("flat", "gentle"):
        env = HFIELD.make(terrain=terrain)
        env.reset(seed=0)
        policy = HFIELD_GAIT.policy()
        obs, rows = None, []
        for _ in range(300):
            obs, _, _, _, info = env.step(policy(obs))
            rows.append((obs[-3], obs[-1], info["ground_height"]))
        heights[terrain] = np.array(rows)
    x, z, ground = heights["gentle"].T
    assert ground[0] == pytest.approx(0.0, abs=0.02) and ground[-1] > 0.1  # ran onto the ramp
    np.testing.assert_allclose(ground, ground_height(x, terrain_profile("gentle")))
    assert z[-50:].mean() > heights["flat"][-50:, 1].mean() + 0.08  # the body climbed with the ground
    assert not np.any(heights["flat"][:, 2])


def _standing_state() -> np.ndarray:
    env = HFIELD.make(terrain="flat")
    env.reset(seed=3)
    for _ in range(30):
        env.step(np.zeros(6, dtype=np.float32))
    return _sim(env).get_physics_state()


def _one_step(terrain: str, state: np.ndarray, x: float) -> np.ndarray:
    """Next observation from ``state`` moved to ``x`` and onto the ground there."""
    env = HFIELD.make(terrain=terrain)
    env.reset(seed=0)
    moved = state.copy()
    moved[0] += x
    moved[1] += float(ground_height(x, terrain_profile(terrain)))
    _sim(env).set_physics_state(moved)
    obs, *_ = env.step(np.full(6, 0.5, dtype=np.float32))
    return obs[:-3]  # without the centre of mass (x moved)


def test_a_steep_ramp_changes_the_one_step_dynamics() -> None:
    state = _standing_state()
    flat_here, flat_there = _one_step("flat", state, 0.0), _one_step("flat", state, 6.0)
    np.testing.assert_allclose(flat_there, flat_here, atol=1e-9)  # flat ground: the place does not matter
    steep = _one_step("steep", state, 6.0)  # 12.5° under the feet, body at the same height above them
    assert np.max(np.abs(steep - flat_here)) > 0.05


def test_set_task_changes_the_terrain_mid_episode() -> None:
    env = HFIELD.make(terrain="gentle")
    env.reset(seed=0)
    for _ in range(20):
        env.step(env.action_space.sample())
    state = _sim(env).get_physics_state()
    set_task(env, terrain="steep")
    assert get_task(env)["terrain"] == "steep"
    np.testing.assert_array_equal(_sim(env).get_physics_state(), state)
    np.testing.assert_array_equal(_sim(env).profile, terrain_profile("steep"))


def test_terrain_parameters_are_validated() -> None:
    assert HFIELD.validate({"terrain_seed": "3"})["terrain_seed"] == 3
    assert isinstance(HFIELD.validate({"terrain_seed": 4.0})["terrain_seed"], int)
    for bad in (1.5, -1, "x"):
        with pytest.raises(DynadaptError, match="terrain_seed"):
            HFIELD.make(terrain_seed=bad)
    with pytest.raises(DynadaptError, match="terrain"):
        HFIELD.make(terrain="cliff")


def test_same_seeds_same_episode() -> None:
    def episode(terrain_seed: int) -> np.ndarray:
        env = HFIELD.make(terrain="random", terrain_seed=terrain_seed)
        obs, _ = env.reset(seed=1)
        policy, rows = HFIELD_GAIT.policy(), [obs]
        for _ in range(200):
            obs, *_ = env.step(policy(obs))
            rows.append(obs)
        return np.array(rows)

    np.testing.assert_array_equal(episode(5), episode(5))
    assert not np.array_equal(episode(5), episode(6))


def test_hfield_splits() -> None:
    train = [HFIELD.validate(t) for t in HFIELD.splits["train"]]
    assert all(t["terrain"] == "random" for t in train)
    assert [t["terrain_seed"] for t in train] == list(range(100))
    assert [t["terrain"] for t in HFIELD.splits["test"]] == ["gentle", "steep", "hill", "basin"]
    assert [t["terrain"] for t in HFIELD.splits["unseen"]] == ["steep"]


# --- pier --------------------------------------------------------------------------------------------------


def test_pier_masses_and_rest_state_are_the_releases() -> None:
    env = _sim(PIER.make())
    env.reset(seed=0)
    model = env.model
    assert model.body_mass.sum() == pytest.approx(14.0)  # settotalmass over the whole model
    blocks = [model.body_mass[model.body(f"block_{k}").id] for k in range(8)]
    assert blocks == pytest.approx([1.3836] * 8, abs=1e-3)
    assert model.body_mass.sum() - sum(blocks) == pytest.approx(2.931, abs=1e-3)  # the cheetah
    height, velocity = env.block_state()
    np.testing.assert_allclose(height, -blocks[0] * 9.81 / 150.0)  # at rest at the equilibrium
    assert not np.any(velocity)
    assert [block_under(x) for x in (-10.0, 0.0, 1.5, 5.0, 21.0, 30.0, 70.0)] == [0, 1, 1, 2, 6, 7, -1]
    assert block_under(2.0) == -1  # the gap between blocks 1 and 2


def _release_block(damping: float, steps: int) -> np.ndarray:
    """Block 4 (never under the cheetah) released 0.1 m above its equilibrium: its height above the
    equilibrium per step."""
    env = PIER.make(damping_4=damping)
    env.reset(seed=0)
    sim = _sim(env)
    rest = sim.block_state()[0][4]
    state = sim.get_physics_state()
    state[sim.model.joint("blockz_4").qposadr[0]] += 0.1
    sim.set_physics_state(state)
    heights = []
    for _ in range(steps):
        env.step(np.zeros(6, dtype=np.float32))
        heights.append(sim.block_state()[0][4] - rest)
    return np.array(heights)


def test_pier_damping_changes_a_blocks_motion() -> None:
    swings = {d: np.abs(_release_block(d, 150)[75:]).max() for d in (0.0, 10.0, 30.0)}
    assert swings[0.0] > 0.05  # undamped: it keeps oscillating (only the joint's limit takes energy)
    assert swings[0.0] > 5 * swings[10.0] > 25 * swings[30.0]


def test_the_cheetah_crosses_blocks_and_set_task_changes_them() -> None:
    env = PIER.make()
    env.reset(seed=0)
    policy, obs, blocks = PIER_GAIT.policy(), None, []
    for t in range(800):
        obs, _, _, _, info = env.step(policy(obs))
        blocks.append(info["block"])
        if t == 400:  # mid-episode: every block changes to held-out damping
            state = _sim(env).get_physics_state()
            set_task(env, **PIER.splits["test"][0])
            np.testing.assert_array_equal(_sim(env).get_physics_state(), state)
            assert _sim(env).model.dof_damping[_sim(env).model.joint("blockz_3").dofadr[0]] == 30.0
    assert blocks[0] == 1 and {2, 3} <= set(blocks)  # the dynamics change along the track by construction


def test_pier_splits_and_training_draws() -> None:
    assert pier_training_task(3) == pier_training_task(3) != pier_training_task(4)
    train = PIER.splits["train"]
    assert len(train) == 20 and train[3] == pier_training_task(3)
    values = np.array([list(t.values()) for t in train])
    assert values.shape == (20, len(PIER_BLOCKS)) and values.min() >= 0 and values.max() <= 10
    for task in PIER.splits["test"]:  # held out: beyond the training range
        assert max(PIER.validate(task).values()) > 10
