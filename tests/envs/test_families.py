"""Family-specific behaviour: parity with the reference envs, perturbations, splits, latch, friction."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from dynadapt.envs import get_family, set_task
from dynadapt.envs.door import PAD_GRIP_REACH, PAD_PUSH_DISTANCE, DoorEnv, ScriptedOpener, pad_margin_gap


def _push(family: str, params: dict, actions: np.ndarray, state: np.ndarray | None = None) -> gym.Env:
    env = get_family(family).make(**params)
    env.reset(seed=0)
    if state is not None:
        env.unwrapped.set_physics_state(state)
    for a in actions:
        env.step(a.astype(np.float32))
    return env


# --- pendulum --------------------------------------------------------------------------------------------


def test_pendulum_defaults_equal_gymnasium_pendulum_v1() -> None:
    ours, ref = gym.make("dynadapt/Pendulum-v0"), gym.make("Pendulum-v1")
    np.testing.assert_array_equal(ours.reset(seed=5)[0], ref.reset(seed=5)[0])
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = rng.uniform(-3, 3, size=1).astype(np.float32)
        o1, r1, te1, tr1, _ = ours.step(a)
        o2, r2, te2, tr2, _ = ref.step(a)
        np.testing.assert_array_equal(o1, o2)
        assert r1 == r2 and te1 == te2 and tr1 == tr2
    assert tr1  # both truncate after 200 steps


def test_pendulum_gravity_sequence_changes_the_swing() -> None:
    family = get_family("pendulum")
    finals = []
    for task in family.sequence("hypercrl"):
        env = family.make(**task)
        env.reset(seed=0)
        env.unwrapped.set_physics_state(np.array([0.5, 0.0]))
        obs, *_ = env.step(np.zeros(1, dtype=np.float32))
        finals.append(obs[2])
    assert np.all(np.diff(finals) > 0)  # stronger gravity, faster fall (θ̇ grows with g)


# --- cart-pole ---------------------------------------------------------------------------------------------


def test_cartpole_timing_and_pole_geometry() -> None:
    env = get_family("cartpole").make(pole_length=1.2).unwrapped
    assert env.dt == pytest.approx(0.02)
    env.reset(seed=0)
    env.set_physics_state(np.array([0.3, np.pi, 0.0, 0.0]))
    tip = env.data.geom("pole").xpos + env.data.geom("pole").xmat.reshape(3, 3)[:, 2] * 0.6
    # the capsule's far end is at the pole tip ee = (x - L sin θ, L) used by the reward
    assert abs(abs(tip[2]) - 0.6) < 1e-9 or abs(env.data.geom("pole").xpos[2] - 0.6) < 1e-9


def test_cartpole_pole_mass_is_the_parameter() -> None:
    for mass in (0.2, 0.5, 1.0):
        env = get_family("cartpole").make(pole_mass=mass).unwrapped
        assert env.model.body("pole").mass[0] == pytest.approx(mass)


# --- reacher -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("l0", "l1"), [(0.1, 0.1), (0.07, 0.09), (0.13, 0.13)])
def test_reacher_reach_is_the_sum_of_link_lengths(l0: float, l1: float) -> None:
    env = get_family("reacher").make(link0_length=l0, link1_length=l1).unwrapped
    env.reset(seed=0)
    env.set_physics_state(np.zeros(8))  # arm stretched along x, target at the origin
    obs = env._get_obs()
    assert np.linalg.norm(obs[8:11]) == pytest.approx(l0 + l1 + 0.01)


# --- half-cheetah ------------------------------------------------------------------------------------------


def test_cheetah_body_sizes_and_mass() -> None:
    family = get_family("half_cheetah_body")
    base = family.make().unwrapped.model
    for task, geoms in zip(
        family.sequence("hypercrl")[1:], (["torso"], ["bthigh", "fthigh"], ["bshin"], ["bfoot"])
    ):
        model = family.make(**task).unwrapped.model
        assert model.body_mass.sum() == pytest.approx(14.0)
        for geom in geoms:
            ratio = model.geom(geom).size / base.geom(geom).size
            n = 1 if geom == "torso" else 2  # the torso's fromto capsule only scales its radius
            np.testing.assert_allclose(ratio[:n], 1.25)


def test_cheetah_body_velocity_is_the_finite_difference() -> None:
    env = get_family("half_cheetah_body").make().unwrapped
    env.reset(seed=0)
    assert env.dt == pytest.approx(0.05)
    x0 = env.data.qpos[0]
    obs, reward, *_ = env.step(np.full(6, 0.5, dtype=np.float32))
    assert obs[0] == pytest.approx((env.data.qpos[0] - x0) / 0.05)
    assert reward == pytest.approx(obs[0] - 0.1 * 6 * 0.25)


def test_cheetah_cripple_masks_the_joint_and_switches_mid_episode() -> None:
    family = get_family("half_cheetah_cripple")
    assert [t["crippled_joint"] for t in family.splits["train"]] == [
        "bshin",
        "bfoot",
        "fthigh",
        "fshin",
        "ffoot",
    ]
    assert [t["crippled_joint"] for t in family.splits["test"]] == ["bthigh"]
    env = family.make(crippled_joint="fshin")
    env.reset(seed=0)
    base = env.unwrapped
    env.step(np.ones(6, dtype=np.float32))
    assert base.data.actuator_force[4] == 0.0 and np.all(base.data.actuator_force[[0, 1, 2, 3, 5]] != 0.0)
    assert np.all(base.model.geom("fshin").rgba[:3] == [1, 0, 0])
    time_before = base.data.time
    set_task(env, crippled_joint="bthigh")  # no reset: the episode goes on
    assert base.data.time == time_before
    env.step(np.ones(6, dtype=np.float32))
    assert base.data.actuator_force[0] == 0.0 and base.data.actuator_force[4] != 0.0
    with pytest.raises(Exception, match="crippled_joint"):
        set_task(env, crippled_joint="tail")


# --- ant ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("leg", "masked"), [(0, [2, 3]), (1, [4, 5]), (2, [6, 7]), (3, [0, 1])])
def test_ant_cripple_masks_grbal_actions(leg: int, masked: list[int]) -> None:
    env = get_family("ant_cripple").make(crippled_leg=leg)
    env.reset(seed=0)
    env.step(np.ones(8, dtype=np.float32))
    force = env.unwrapped.data.actuator_force
    assert np.all(force[masked] == 0.0)
    assert np.all(np.delete(force, masked) != 0.0)
    intact = get_family("ant_cripple").make().unwrapped.model
    assert env.unwrapped.model.body_mass.sum() < intact.body_mass.sum()  # the crippled leg shrank


def test_ant_split_and_timing() -> None:
    family = get_family("ant_cripple")
    assert [t["crippled_leg"] for t in family.splits["train"]] == [0, 1, 2]
    assert [t["crippled_leg"] for t in family.splits["test"]] == [3]
    assert family.make().unwrapped.dt == pytest.approx(0.02)


# --- pusher ------------------------------------------------------------------------------------------------


def _pushed_block(friction_left: float, friction_right: float) -> tuple[float, float]:
    """Block (y, yaw) after a straight push along +x from a mirror-symmetric start."""
    env = get_family("pusher").make(friction_left=friction_left, friction_right=friction_right).unwrapped
    env.reset(seed=0)
    state = env.get_physics_state()
    state[: env.model.nq] = [-0.1, 0, 0.04, 1, 0, 0, 0, -0.25, 0]
    state[env.model.nq :] = 0.0
    env.set_physics_state(state)
    for _ in range(25):
        env.step(np.array([1.0, 0.0], dtype=np.float32))
    q = env.data.qpos
    return float(q[1]), float(2 * np.arctan2(q[6], q[3]))


def test_pusher_friction_changes_how_the_block_slides() -> None:
    y_even, yaw_even = _pushed_block(1.0, 1.0)
    y_left, yaw_left = _pushed_block(0.2, 1.0)
    y_right, yaw_right = _pushed_block(1.0, 0.2)
    assert abs(yaw_even) < 1e-6 and abs(y_even) < 1e-6  # symmetric table: straight push
    assert abs(yaw_left) > 2e-3 and abs(y_left) > 0.01  # unequal halves turn and shift the block
    assert yaw_left == pytest.approx(-yaw_right, rel=0.05)  # mirrored friction, mirrored motion
    assert y_left == pytest.approx(-y_right, rel=0.05)


def test_pusher_contacts_use_the_table_friction() -> None:
    env = get_family("pusher").make(friction_left=0.3, friction_right=2.5).unwrapped
    env.reset(seed=0)
    mujoco.mj_forward(env.model, env.data)
    seen = {}
    for contact in env.data.contact[: env.data.ncon]:
        names = {env.model.geom(contact.geom1).name, env.model.geom(contact.geom2).name}
        table = names & {"table_left", "table_right"}
        if table:
            seen[table.pop()] = contact.friction[0]
    assert seen == {"table_left": pytest.approx(0.3), "table_right": pytest.approx(2.5)}


# --- door --------------------------------------------------------------------------------------------------


def _open_door(params: dict, turn_direction: int | None = None, steps: int = 120) -> np.ndarray:
    env = get_family("door").make(**params)
    obs, _ = env.reset(seed=0)
    direction = params.get("direction", -1) if turn_direction is None else turn_direction
    policy = ScriptedOpener(params["handle"], direction)
    for _ in range(steps):
        obs, *_ = env.step(policy(obs))
    return obs


@pytest.mark.parametrize("task", get_family("door").sequences["hypercrl"])
def test_door_every_task_can_be_opened(task: dict) -> None:
    assert _open_door(dict(task))[11] > 0.5


def test_door_latch_holds_unless_the_knob_is_turned_the_right_way() -> None:
    wrong = _open_door({"handle": "round", "direction": -1}, turn_direction=1, steps=80)
    assert wrong[11] <= 0.021 and abs(wrong[12]) < 0.05  # knob blocked, door latched
    assert _open_door({"handle": "round", "direction": -1}, turn_direction=-1, steps=80)[11] > 0.5


def _pad_bar_contacts(gap: float) -> list[int]:
    """``exclude`` of each pad-bar contact, the pad's face ``gap`` m in front of the pull bar (0: pushes)."""
    env = get_family("door").make(handle="pull").unwrapped
    assert isinstance(env, DoorEnv)
    env.reset(seed=0)
    model, data = env.model, env.data
    data.qpos[:] = 0.0
    mujoco.mj_forward(model, data)
    to_bar = data.site("target").xpos - data.site("grip").xpos  # the grip site is on the pad's face
    data.qpos[env._qpos_idx[:3]] = to_bar + np.array([gap, 0.0, 0.0])
    mujoco.mj_forward(model, data)
    bar, pad = model.geom("bar").id, model.geom("pad").id
    found = [c for c in data.contact[: data.ncon] if {c.geom1, c.geom2} == {bar, pad}]
    assert all(c.dist == pytest.approx(gap, abs=1e-9) for c in found)
    return [int(c.exclude) for c in found]


def test_door_pad_grip_reach_and_push_distance_hold_under_any_mujoco() -> None:
    # MuJoCo 3.9 redefined margin and gap: the pad must grip (a contact in the gap) up to PAD_GRIP_REACH and
    # push (an included contact) below PAD_PUSH_DISTANCE under MuJoCo 3 and 4 alike
    assert (PAD_PUSH_DISTANCE, PAD_GRIP_REACH) == (0.005, 0.01)
    assert _pad_bar_contacts(0.003) == [0]
    assert set(_pad_bar_contacts(0.008)) == {1}  # reached by the grip but no contact force
    assert _pad_bar_contacts(0.012) == []


def test_door_pad_margin_gap_per_mujoco_version() -> None:
    assert pad_margin_gap(0.005, 0.01, version=(3, 3)) == pytest.approx((0.01, 0.005))
    assert pad_margin_gap(0.005, 0.01, version=(3, 8)) == pytest.approx((0.01, 0.005))
    assert pad_margin_gap(0.005, 0.01, version=(3, 9)) == pytest.approx((0.005, 0.005))
    assert pad_margin_gap(0.005, 0.01, version=(4, 0)) == pytest.approx((0.005, 0.005))


def test_door_reward_knob_term_only_with_a_knob() -> None:
    import torch

    family = get_family("door")
    obs = torch.zeros(1, 15, dtype=torch.float64)
    obs[0, 0] = 0.1
    obs[0, 12] = 0.5
    act = torch.zeros(1, 5, dtype=torch.float64)
    pull = family.reward_fn_for(handle="pull")(obs, act, obs)
    lever = family.reward_fn_for(handle="lever")(obs, act, obs)
    assert (lever - pull).item() == pytest.approx(20 * 0.5)
