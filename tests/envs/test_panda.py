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


def _pushed_block(density_left: float, density_right: float) -> tuple[float, float, float]:
    """Block (x, y, yaw) after 30 straight pushes along +x from the same symmetric start."""
    from dynadapt.envs import get_family
    from dynadapt.envs.panda.pusher import DOWN, PUSH_HEIGHT

    env = get_family("panda_pusher").make(density_left=density_left, density_right=density_right).unwrapped
    env.reset(seed=0)
    env.place_arm(np.array([-0.25, 0.0, PUSH_HEIGHT]), DOWN, grip=1.0)
    block = env.model.joint("block").qposadr[0]
    env.data.qpos[block : block + 7] = (-0.1, 0.0, 0.04, 1.0, 0.0, 0.0, 0.0)
    env.data.qvel[:] = 0.0
    env.set_physics_state(env.get_physics_state())
    for _ in range(30):
        env.step(np.array([1.0, 0.0], dtype=np.float32))
    q = env.data.qpos[block : block + 7]
    return float(q[0]), float(q[1]), float(2 * np.arctan2(q[6], q[3]))


@pytest.mark.usefixtures("robosuite")
def test_pusher_densities_set_the_masses_and_turn_the_block() -> None:
    from dynadapt.envs import get_family

    env = get_family("panda_pusher").make(density_left=100.0, density_right=500.0).unwrapped
    volume = 0.16 * 0.08 * 0.08
    assert env.model.body("block").mass[0] == pytest.approx(600.0 * volume)
    x_even, _, yaw_even = _pushed_block(500.0, 500.0)
    _, _, yaw_left = _pushed_block(100.0, 500.0)
    _, _, yaw_right = _pushed_block(500.0, 100.0)
    assert x_even > 0.0 and abs(yaw_even) < 0.02  # equal halves: pushed forward, hardly turned
    assert abs(yaw_left) > 0.05 and abs(yaw_left - yaw_even) > 0.05  # the heavy half holds back
    assert np.sign(yaw_left - yaw_even) == -np.sign(yaw_right - yaw_even)  # mirrored tasks, mirrored turn


@pytest.mark.usefixtures("robosuite")
@pytest.mark.xfail(
    strict=True,
    reason="known: after a sideways move the tilted gripper settles ~2.5 cm low (null-space target is the "
    "untilted home posture; torque limits?); to fix before the pusher is used for learning",
)
def test_pusher_controller_holds_height_and_orientation() -> None:
    from dynadapt.envs import get_family
    from dynadapt.envs.panda.pusher import DOWN, PUSH_HEIGHT

    env = get_family("panda_pusher").make()
    obs, _ = env.reset(seed=1)
    base = env.unwrapped
    start = base.ee_pos()
    for _ in range(5):
        obs, *_ = env.step(np.array([0.0, 1.0], dtype=np.float32))  # sideways, away from the block
    moved = base.ee_pos() - start
    assert 0.05 < moved[1] < 0.25 and abs(moved[0]) < 0.05  # at most 0.05 m per step (the goal step)
    for _ in range(5):  # let the controller settle (full-speed sideways motion sags and tilts it)
        obs, *_ = env.step(np.zeros(2, dtype=np.float32))
    assert abs(base.ee_pos()[2] - PUSH_HEIGHT) < 0.01
    np.testing.assert_allclose(base.ee_rot(), DOWN, atol=0.05)
    np.testing.assert_allclose(obs[:2], base.data.body("block").xpos[:2] - base.ee_pos()[:2], atol=1e-12)


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
