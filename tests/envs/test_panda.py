"""The Panda families (robosuite extra): physics of the tasks, observation layout, controller, latch, and the
import guard. The checks every family passes (check_env, batched reward == env reward, parameters change the
dynamics, set_task mid-episode, seeded reset) run on them through the ``family`` fixture where robosuite is
installed (``make test-robosuite``); here, what is particular to them. Tests that need robosuite skip
without it."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
import pytest
import torch

from dynadapt.errors import DynadaptError
from dynadapt.extras import require


@pytest.fixture
def robosuite() -> None:
    pytest.importorskip("robosuite")


def test_importing_dynadapt_does_not_import_robosuite() -> None:
    code = "import sys, dynadapt, dynadapt.envs; assert 'robosuite' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_missing_robosuite_is_an_actionable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from dynadapt.envs import get_family

    if importlib.util.find_spec("robosuite") is None:
        with pytest.raises(DynadaptError, match=r"task family 'panda_door' needs robosuite: pip install"):
            get_family("panda_door")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *args: None if name == "robosuite" else real(name, *args)
    )
    with pytest.raises(DynadaptError, match=r"pip install 'dynadapt\[robosuite\]'"):
        require("robosuite", "the panda_* task families")


def test_door_roll_pitch_of_known_rotations() -> None:
    from dynadapt.envs.panda.door import roll_pitch

    def quat(axis: tuple[float, float, float], angle: float) -> list[float]:
        s = math.sin(angle / 2)
        return [math.cos(angle / 2), axis[0] * s, axis[1] * s, axis[2] * s]

    q = torch.tensor(
        [quat((1, 0, 0), 0.3), quat((0, 1, 0), -0.2), quat((0, 0, 1), 1.0), [2.0, 0.0, 0.0, 0.0]],
        dtype=torch.float64,
    )
    expected = torch.tensor([[0.3, 0.0], [0.0, -0.2], [0.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    torch.testing.assert_close(roll_pitch(q), expected, atol=1e-12, rtol=0)


# --- with robosuite ----------------------------------------------------------------------------------------


@cache
def _pushed_block(density_left: float, density_right: float) -> tuple[float, float, float, tuple[float, ...]]:
    """Block (x, y, yaw) and the rewards after 40 steps of the scripted pusher from a symmetric start
    (block at (-0.1, 0) not turned, gripper at (-0.25, 0))."""
    from dynadapt.envs import get_family
    from dynadapt.envs.panda.pusher import DOWN, PUSH_HEIGHT, ScriptedPusher

    env = get_family("panda_pusher").make(density_left=density_left, density_right=density_right).unwrapped
    env.reset(seed=0)
    env.place_arm(np.array([-0.25, 0.0, PUSH_HEIGHT]), DOWN, grip=1.0)
    block = env.model.joint("block").qposadr[0]
    env.data.qpos[block : block + 7] = (-0.1, 0.0, 0.04, 1.0, 0.0, 0.0, 0.0)
    env.data.qvel[:] = 0.0
    env.set_physics_state(env.get_physics_state())
    obs, policy, rewards = env._get_obs(), ScriptedPusher(), []
    for _ in range(40):
        obs, reward, *_ = env.step(policy(obs))
        rewards.append(float(reward))
    q = env.data.qpos[block : block + 7]
    return float(q[0]), float(q[1]), float(2 * np.arctan2(q[6], q[3])), tuple(rewards)


@pytest.mark.usefixtures("robosuite")
def test_scripted_push_brings_the_block_to_the_goal() -> None:
    x, y, yaw, rewards = _pushed_block(500.0, 500.0)
    assert x == pytest.approx(0.15, abs=0.01) and abs(y) < 0.01 and abs(yaw) < 0.01  # straight, not turned
    r = np.array(rewards)
    assert r[0] < 0.0 and r[-1] > 3.0  # 4 corners at their goals would score 4
    assert np.all(np.diff(r[2:12]) > 0.0)  # once in contact, the reward rises as the block nears the goal
    for densities in ((100.0, 500.0), (500.0, 100.0)):
        x, *_, rewards = _pushed_block(*densities)
        assert x == pytest.approx(0.15, abs=0.01) and rewards[-1] > 2.0


@pytest.mark.usefixtures("robosuite")
def test_pusher_densities_set_the_masses_and_turn_the_block() -> None:
    from dynadapt.envs import get_family

    env = get_family("panda_pusher").make(density_left=100.0, density_right=500.0).unwrapped
    volume = 0.16 * 0.08 * 0.08
    assert env.model.body("block").mass[0] == pytest.approx(600.0 * volume)
    *_, yaw_even, _ = _pushed_block(500.0, 500.0)
    *_, yaw_left, _ = _pushed_block(100.0, 500.0)
    *_, yaw_right, _ = _pushed_block(500.0, 100.0)
    assert abs(yaw_left - yaw_even) > 0.01 and abs(yaw_right - yaw_even) > 0.01  # the heavy half holds back
    assert np.sign(yaw_left - yaw_even) == -np.sign(yaw_right - yaw_even)  # mirrored tasks, mirrored turn


@pytest.mark.usefixtures("robosuite")
def test_pusher_controller_holds_height_and_orientation() -> None:
    from dynadapt.envs import get_family
    from dynadapt.envs.panda.pusher import DOWN, PUSH_HEIGHT, WORKSPACE_HIGH

    env = get_family("panda_pusher").make()
    obs, _ = env.reset(seed=1)
    base = env.unwrapped
    start = base.ee_pos()
    assert abs(start[2] - PUSH_HEIGHT) < 1e-6  # the start pose is reachable
    for _ in range(5):
        obs, *_ = env.step(np.array([0.0, 1.0], dtype=np.float32))  # sideways, away from the block
    moved = base.ee_pos() - start
    assert 0.05 < moved[1] < 0.25 and abs(moved[0]) < 0.05  # at most 0.05 m per step (the goal step)
    for _ in range(5):  # let the controller settle
        obs, *_ = env.step(np.zeros(2, dtype=np.float32))
    assert abs(base.ee_pos()[2] - PUSH_HEIGHT) < 0.005
    np.testing.assert_allclose(base.ee_rot(), DOWN, atol=0.01)
    np.testing.assert_allclose(obs[:2], base.data.body("block").xpos[:2] - base.ee_pos()[:2], atol=1e-12)
    for _ in range(25):  # forward and to the side, past the reachable box: the goal is clipped to it
        env.step(np.array([1.0, -1.0], dtype=np.float32))
    assert base.ee_pos()[0] < WORKSPACE_HIGH[0] + 0.01 and abs(base.ee_pos()[2] - PUSH_HEIGHT) < 0.01


@pytest.mark.usefixtures("robosuite")
def test_door_observation_layout_and_start_pose() -> None:
    from dynadapt.envs import get_family

    env = get_family("panda_door").make(handle="lever", direction=1)
    obs, _ = env.reset(seed=0)
    base = env.unwrapped
    assert obs.shape == (26,)
    assert 0.12 < -obs[0] < 0.18 and np.all(np.abs(obs[1:3]) < 0.03)  # 0.15 m before the grasp point
    np.testing.assert_allclose(obs[3:7], [1.0, 0.0, 0.0, 0.0], atol=1e-5)  # the grasp orientation
    arm = [base.model.joint(f"robot0_joint{i}").qposadr[0] for i in range(1, 8)]
    np.testing.assert_array_equal(obs[8:15], base.data.qpos[arm])
    assert obs[7] > 0.07  # the gripper starts open
    door, knob = base.model.joint("door"), base.model.joint("knob")
    assert obs[24] == base.data.qpos[door.qposadr[0]] and obs[25] == base.data.qpos[knob.qposadr[0]]
    assert tuple(base.model.jnt_range[knob.id]) == pytest.approx((0.0, 1.57))


@pytest.mark.usefixtures("robosuite")
def test_door_latch_holds_until_the_handle_is_turned() -> None:
    from dynadapt.envs import get_family
    from dynadapt.envs.door import LATCH_GAP, OPEN_RANGE
    from dynadapt.envs.panda.door import LATCH_SLACK

    env = get_family("panda_door").make(handle="round", direction=-1).unwrapped
    env.reset(seed=0)
    door, knob = env.model.joint("door"), env.model.joint("knob")
    state = env.get_physics_state()
    state[env.model.nq + door.dofadr[0]] = 5.0  # the door swings open fast: the latch stops it
    env.set_physics_state(state)
    obs, *_ = env.step(np.zeros(7, dtype=np.float32))
    assert obs[24] < LATCH_GAP + LATCH_SLACK
    state[knob.qposadr[0]] = -0.8  # the knob turned past the unlatching angle: the door swings open
    env.set_physics_state(state)
    assert env.model.jnt_range[door.id, 1] == OPEN_RANGE
    for _ in range(10):  # 20 ms, before the knob's return spring turns it back and the latch catches again
        env.before_physics_step()
        mujoco.mj_step(env.model, env.data)
    assert env.data.qpos[door.qposadr[0]] > LATCH_GAP + LATCH_SLACK


@pytest.mark.usefixtures("robosuite")
def test_door_pull_handle_is_locked_and_has_no_knob_term() -> None:
    from dynadapt.envs import get_family

    family = get_family("panda_door")
    env = family.make(handle="pull")
    env.reset(seed=0)
    state = env.unwrapped.get_physics_state()
    knob = env.unwrapped.model.joint("knob")
    state[env.unwrapped.model.nq + knob.dofadr[0]] = 3.0
    env.unwrapped.set_physics_state(state)
    obs, *_ = env.step(np.zeros(7, dtype=np.float32))
    assert abs(obs[25]) < 0.02
    probe = torch.zeros(1, 26, dtype=torch.float64)
    probe[0, 3], probe[0, 25] = 1.0, 0.5
    act = torch.zeros(1, 7, dtype=torch.float64)
    with_knob = family.reward_fn_for(handle="round")(probe, act, probe)
    without = family.reward_fn_for(handle="pull")(probe, act, probe)
    assert (with_knob - without).item() == pytest.approx(10.0)


@pytest.mark.usefixtures("robosuite")
def test_panda_sequences_are_the_releases() -> None:
    from dynadapt.envs import get_family

    densities = [
        (t["density_left"], t["density_right"]) for t in get_family("panda_pusher").sequence("hypercrl")
    ]
    assert densities == [(500, 500), (100, 500), (500, 100), (500, 250), (250, 500)]
    door = [(t["handle"], t["direction"]) for t in get_family("panda_door").sequence("hypercrl")]
    assert door == [("pull", -1), ("round", -1), ("lever", -1), ("round", 1), ("lever", 1)]


def _open_door(task: dict[str, Any], steps: int, skip_turn: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Door and knob angles ``[steps]`` while the scripted opener works on ``task`` (optionally pulling
    without turning the handle first)."""
    from dynadapt.envs import get_family
    from dynadapt.envs.panda.door import ScriptedOpener

    env = get_family("panda_door").make(**task)
    obs, _ = env.reset(seed=0)
    opener = ScriptedOpener(task["handle"], task.get("direction", -1))
    door, knob = [], []
    for _ in range(steps):
        obs, _, _, _, info = env.step(opener(obs))
        if skip_turn and opener.phase == "turn":  # pull at once, holding the handle at rest
            opener.phase, opener.turn_to = "pull", 0.0
        assert info["success"] == (obs[24] >= 0.2)
        door.append(obs[24])
        knob.append(obs[25])
    return np.array(door), np.array(knob)


@pytest.mark.usefixtures("robosuite")
@pytest.mark.parametrize("task", range(5))
def test_scripted_opener_opens_every_hypercrl_door(task: int) -> None:
    from dynadapt.envs import get_family
    from dynadapt.envs.door import UNLATCH_ANGLE

    params = get_family("panda_door").sequence("hypercrl")[task]
    door, knob = _open_door(params, 45)
    assert door[-1] >= 0.3 and np.all(door[-10:] >= 0.2)  # open (HyperCRL's success) and held open
    extreme = knob[np.argmax(np.abs(knob))]
    if params["handle"] == "pull":
        assert abs(extreme) < 0.01  # the bar does not turn
    else:  # the handle was turned past the unlatching angle, the allowed way, and not past its range
        assert np.sign(extreme) == params["direction"] and UNLATCH_ANGLE < abs(extreme) < 1.6


@pytest.mark.usefixtures("robosuite")
def test_door_stays_latched_when_pulled_without_turning_the_handle() -> None:
    from dynadapt.envs.door import LATCH_GAP
    from dynadapt.envs.panda.door import LATCH_SLACK

    door, knob = _open_door({"handle": "lever", "direction": 1}, 35, skip_turn=True)
    assert np.all(door <= LATCH_GAP + LATCH_SLACK + 0.005) and np.all(np.abs(knob) < 0.1)


@pytest.mark.usefixtures("robosuite")
@pytest.mark.parametrize("family", ["panda_pusher", "panda_door"])
def test_panda_continual_presets_run(family: str, tmp_path: Path) -> None:
    """HyperCRL's CPU-scale preset of each Panda family runs end to end (tiny budget); its ``-paper`` preset
    has the stand-in's reference §4.6 schedule on the Panda sequence; every strategy has both."""
    from dynadapt.continual import STRATEGIES
    from dynadapt.runs import launch
    from dynadapt.runs.config import apply_overrides
    from dynadapt.runs.presets import PRESETS, get_preset

    assert all(f"{s}-{family}{scale}" in PRESETS for s in STRATEGIES for scale in ("", "-paper"))
    stand_in = family.removeprefix("panda_")
    for scale in ("", "-paper"):
        cfg, ref = (get_preset(f"hypercrl-{f}{scale}").make() for f in (family, stand_in))
        assert cfg.task.sequence == f"{family}:hypercrl" and cfg.episodes == ref.episodes
    tiny = [
        *[(k, "2") for k in ("task.tasks", "pred_horizon", "train_steps", "planner.elites", "mpc.horizon")],
        *[(k, "1") for k in ("episodes", "eval.episodes", "planner.iterations")],
        *[(k, "6") for k in ("task.episode_steps", "random_steps", "train_every")],
        ("model.hidden", "8"),
        ("strategy.hnet.hidden", "4"),
        ("planner.population", "8"),
    ]
    preset = get_preset(f"hypercrl-{family}")
    summary = launch.start(preset, apply_overrides(preset.make(), tiny), tmp_path / "run", progress=False)
    assert len(summary["reward_matrix"]) == 2
