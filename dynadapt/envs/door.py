"""Door opening with different handles (``dynadapt/Door-v0``), after HyperCRL's door tasks.

HyperCRL (Huang et al. 2021; ``hypercrl/envs/rs/door.py``, ``hypercrl/envs/cl_env.py: DOOR_ENV``; reference
§4.7) opens DoorGym doors with a Panda arm. Its five tasks are (handle, handle-joint range in rad):
pull [-1.57, 1.57], round [-1.57, 0], lever [-1.57, 0], round [0, 1.57], lever [0, 1.57]. dynadapt keeps the
tasks and the reward but uses its own small model (``assets/door.xml``) so that it runs fast on a CPU:

* a floating hand (x, y, z slides and a wrist hinge about the door's normal, velocity controlled and gravity
  compensated) with an adhesive pad (MuJoCo ``adhesion`` actuator) stands in for the Panda and its gripper.
  The pad's contacts push at distances below ``PAD_PUSH_DISTANCE`` (5 mm) and its grip reaches handles up to
  ``PAD_GRIP_REACH`` (10 mm) away; MuJoCo 3.9.0 changed what a geom's ``margin`` and ``gap`` mean, so
  ``pad_margin_gap`` writes them for the installed MuJoCo and the door moves alike under MuJoCo 3 and 4;
* the door (0.6 x 1.4 m) hinges about a vertical axis and opens towards the hand (door angle in [0, 1.57]);
* handles: ``pull`` (a bar on two standoffs, no latch; its joint is locked, so the knob angle stays 0 and the
  pull task has no knob term, HyperCRL pitfall H16), ``round`` (a knob that must be turned to release the
  latch; with the pad pressed on its face, the wrist turns it through torsional friction), ``lever`` (an arm
  that must be pressed down). Round knob and lever carry a return spring;
* ``direction`` is the sign of the only allowed turning direction of the handle (-1: range [-1.57, 0],
  +1: range [0, 1.57]); for the lever it also sets the side the arm points to, so that "press down" is
  always the allowed direction;
* latch: while the handle is turned less than 0.6 rad and the door is (almost) closed, the door's range is
  [0, 0.02] rad; otherwise [0, 1.57]. The latch is a function of the state, checked every physics step.

Control at 10 Hz (timestep 0.01, frame_skip 10, dt 0.1), 200 steps, never terminates. Action (5, in
[-1, 1]): hand velocity x, y, z (0.25 m/s), wrist angular velocity (2 rad/s), grip (adhesion
``(a + 1) / 2`` of 30 N).

Observation (15): handle target - pad (3), hand joint positions x, y, z, wrist (4), their velocities (4),
door angle, knob angle, door velocity, knob velocity (4). (HyperCRL's 26-D observation holds the same
quantities for the 7-joint Panda.)

Reward (HyperCRL ``hypercrl/control/reward.py``, reference §4.7), from ``next_obs``:
``-‖d‖ - log(‖d‖² + 5e-3) - 5 + 50 |θ_door| + 20 |θ_knob|`` with d the pad-to-handle vector; the knob term
applies to round and lever handles only. HyperCRL's orientation term ``-‖euler_xy(q_des⁻¹ q_ee)‖`` is
omitted: dynadapt's hand cannot tilt, so the term is always 0. ``info["success"]``: door angle ≥ 0.2 rad
(HyperCRL's success criterion).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache, partial
from typing import Any

import mujoco
import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor

from dynadapt.envs.assets import load_template
from dynadapt.envs.base import MujocoTaskEnv
from dynadapt.envs.family import Param, RewardFn, TaskFamily

HANDLES = ("pull", "round", "lever")

PARAMS: tuple[Param, ...] = (
    Param(
        "handle",
        "round",
        "handle type: 'pull' bar, 'round' knob (turn to unlatch), 'lever' (press down to unlatch)",
        choices=HANDLES,
    ),
    Param(
        "direction", -1, "allowed turning direction of the round knob or lever (-1 or +1)", choices=(-1, 1)
    ),
)

KNOB_RANGE = 1.57
"""rad; HyperCRL's handle-joint ranges [-1.57, 0] and [0, 1.57]."""
UNLATCH_ANGLE = 0.6
"""rad the handle must be turned to release the latch (dynadapt's choice)."""
LATCH_GAP = 0.02
"""rad the latched door can move."""
OPEN_RANGE = 1.57
SUCCESS_ANGLE = 0.2
"""HyperCRL: success means a door angle of at least 0.2 rad (reference §4.7)."""

PAD_PUSH_DISTANCE = 0.005
"""m: the pad's contacts push (exert contact forces) once the pad is closer than this to a handle."""
PAD_GRIP_REACH = 0.01
"""m: the grip (adhesion) acts on handles up to this distance from the pad (contacts are detected there)."""
MARGIN_GAP_REDEFINED = (3, 9)
"""MuJoCo version that redefined a geom's ``margin`` and ``gap`` (changelog 3.9.0, breaking change 7)."""

_HANDLE_RGBA = "0.85 0.75 0.3 1"


@cache
def _mujoco_version() -> tuple[int, int]:
    """(major, minor) of the loaded MuJoCo library."""
    found = re.match(r"(\d+)\.(\d+)", mujoco.mj_versionString())
    if found is None:  # pragma: no cover  (MuJoCo always reports "major.minor.patch")
        raise RuntimeError(f"cannot read the MuJoCo version {mujoco.mj_versionString()!r}")
    return int(found.group(1)), int(found.group(2))


def pad_margin_gap(
    push: float = PAD_PUSH_DISTANCE, reach: float = PAD_GRIP_REACH, version: tuple[int, int] | None = None
) -> tuple[float, float]:
    """The pad's MJCF ``(margin, gap)``: contacts push below ``push`` m and exist (grip) below ``reach`` m.

    Before MuJoCo 3.9.0 a contact exists at ``dist < margin`` and pushes at ``dist < margin - gap``; from
    3.9.0 on it exists at ``dist < margin + gap`` and pushes at ``dist < margin`` (MuJoCo changelog, 3.9.0,
    breaking change 7). The same two numbers would give a 5 mm grip reach under MuJoCo 3.3 and 10 mm (with
    the pad's surface 5 mm thicker) under 4.0. ``version``: (major, minor); default the loaded MuJoCo's.
    """
    major_minor = _mujoco_version() if version is None else version
    if major_minor >= MARGIN_GAP_REDEFINED:
        return push, reach - push
    return reach, reach - push


def _geom(name: str, kind: str, fromto: str, size: float) -> str:
    return f'<geom name="{name}" type="{kind}" fromto="{fromto}" size="{size!r}" rgba="{_HANDLE_RGBA}"/>'


def _handle_geoms(handle: str, direction: int) -> str:
    """MJCF of the handle body's geoms and its ``target`` site (the point the pad should reach)."""
    if handle == "pull":
        return "".join(
            [
                _geom("standoff_top", "capsule", "0 0 0.08 0.06 0 0.08", 0.012),
                _geom("standoff_bottom", "capsule", "0 0 -0.08 0.06 0 -0.08", 0.012),
                _geom("bar", "capsule", "0.06 0 -0.1 0.06 0 0.1", 0.015),
                '<site name="target" pos="0.075 0 0" size="0.006"/>',
            ]
        )
    if handle == "round":
        return "".join(
            [
                _geom("stem", "cylinder", "0 0 0 0.04 0 0", 0.012),
                _geom("knob", "cylinder", "0.04 0 0 0.07 0 0", 0.035),
                '<site name="target" pos="0.07 0 0" size="0.006"/>',
            ]
        )
    side = -float(direction)  # pressing the arm's end down turns the handle by -side
    return "".join(
        [
            _geom("stem", "cylinder", "0 0 0 0.05 0 0", 0.012),
            _geom("lever", "capsule", f"0.05 0 0 0.05 {0.12 * side!r} 0", 0.015),
            f'<site name="target" pos="0.05 {0.09 * side!r} 0.015" size="0.006"/>',
        ]
    )


class DoorEnv(MujocoTaskEnv):
    """Door opening with a pull bar, a round knob or a lever. Obs float64 ``[15]``, action ``[5]``."""

    PARAMS = PARAMS
    FAMILY = "door"
    frame_skip = 10
    render_camera = "view"
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}  # noqa: RUF012  (Gymnasium API)

    def __init__(
        self,
        render_mode: str | None = None,
        handle: str = "round",
        direction: int = -1,
        width: int = 320,
        height: int = 240,
    ) -> None:
        super().__init__(render_mode, width, height, handle=handle, direction=direction)

    def model_xml(self) -> str:
        handle, direction = self.task_params["handle"], int(self.task_params["direction"])
        if handle == "pull":  # HyperCRL lists [-1.57, 1.57] but never applies it; the joint is locked
            knob_range, equality = (
                f"{-KNOB_RANGE!r} {KNOB_RANGE!r}",
                '<joint joint1="knob" polycoef="0 0 0 0 0"/>',
            )
        elif direction < 0:
            knob_range, equality = f"{-KNOB_RANGE!r} 0", ""
        else:
            knob_range, equality = f"0 {KNOB_RANGE!r}", ""
        margin, gap = pad_margin_gap()
        return load_template("door.xml").substitute(
            knob_range=knob_range,
            handle_geoms=_handle_geoms(handle, direction),
            equality=equality,
            pad_margin=repr(margin),
            pad_gap=repr(gap),
        )

    def _compile(self) -> mujoco.MjModel:
        model = super()._compile()
        joints = [model.joint(n).id for n in ("hand_x", "hand_y", "hand_z", "wrist", "door", "knob")]
        self._qpos_idx = np.array([model.jnt_qposadr[j] for j in joints])
        self._qvel_idx = np.array([model.jnt_dofadr[j] for j in joints])
        self._door_joint = joints[4]
        self._door_qpos, self._knob_qpos = int(self._qpos_idx[4]), int(self._qpos_idx[5])
        return model

    def _action_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, shape=(5,), dtype=np.float32)

    # --- latch -------------------------------------------------------------------------------------------
    def _latched(self) -> bool:
        if self.task_params["handle"] == "pull":
            return False
        knob = float(self.data.qpos[self._knob_qpos])
        door = float(self.data.qpos[self._door_qpos])
        return abs(knob) < UNLATCH_ANGLE and door <= LATCH_GAP

    def _update_latch(self) -> None:
        self.model.jnt_range[self._door_joint, 1] = LATCH_GAP if self._latched() else OPEN_RANGE

    def set_physics_state(self, state: np.ndarray) -> None:
        super().set_physics_state(state)
        self._update_latch()

    def do_simulation(self, ctrl: np.ndarray) -> None:
        self.data.ctrl[:] = ctrl
        for _ in range(self.frame_skip):
            self._update_latch()
            mujoco.mj_step(self.model, self.data)

    # --- observation, reset, step ------------------------------------------------------------------------
    def _get_obs(self) -> np.ndarray:
        d = self.data.site("target").xpos - self.data.site("grip").xpos
        q, qd = self.data.qpos[self._qpos_idx], self.data.qvel[self._qvel_idx]
        return np.concatenate([d, q[:4], qd[:4], q[4:], qd[4:]]).astype(np.float64)

    def _reset_state(self) -> None:
        rng = self.np_random
        self.data.qpos[:] = 0.0
        self.data.qpos[self._qpos_idx[:3]] = rng.uniform(-0.05, 0.05, size=3)
        self.data.qvel[:] = 0.0
        self._update_latch()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        ctrl = np.concatenate([a[:4], [(a[4] + 1.0) / 2.0]])
        self.do_simulation(ctrl)
        obs = self._get_obs()
        reward = door_reward(
            torch.from_numpy(obs), torch.from_numpy(a), torch.from_numpy(obs), knob_term=self._knob_term()
        ).item()
        return obs, reward, False, False, {"success": bool(obs[11] >= SUCCESS_ANGLE)}

    def _knob_term(self) -> bool:
        return self.task_params["handle"] != "pull"


class ScriptedOpener:
    """A hand-written policy that opens the door of any task (a feasibility check and a demo).

    Reach the handle's target with the grip off (above it for the lever), then grip and unlatch (turn the
    wrist in ``direction`` for the round knob, press down for the lever), then pull the hand back.
    Call with an observation ``float[15]``; returns an action ``float32[5]``. Create one per episode.
    """

    def __init__(self, handle: str = "round", direction: int = -1) -> None:
        self.handle, self.direction = handle, direction
        self.phase = "reach"

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        d = obs[:3]
        if self.phase == "reach" and np.linalg.norm(d) < (0.02 if self.handle == "lever" else 0.008):
            self.phase = "pull" if self.handle == "pull" else "turn"
        if self.handle != "pull" and abs(obs[12]) > UNLATCH_ANGLE + 0.2:
            self.phase = "pull"
        a = np.zeros(5)
        turn = float(self.direction) if self.handle == "round" else 0.0
        if self.phase == "reach":
            above = np.array([0.0, 0.0, 0.01 if self.handle == "lever" else 0.0])
            a[:3] = np.clip((d + above) * 20.0, -1.0, 1.0)
            a[4] = -1.0
        elif self.phase == "turn":
            a[:3] = np.clip(d * 20.0, -1.0, 1.0) + np.array([-0.1, 0.0, 0.0])
            if self.handle == "lever":
                a[2] = -1.0
            a[3], a[4] = turn, 1.0
        else:
            a[0], a[3], a[4] = 1.0, turn, 1.0
            if self.handle == "lever":
                a[2] = -0.5
        return a.astype(np.float32)


def door_reward(obs: Tensor, act: Tensor, next_obs: Tensor, knob_term: bool = True) -> Tensor:
    """HyperCRL's door reward without the (here constant) orientation term; see the module docstring.

    ``obs[..., 15]`` (unused), ``act[..., 5]`` (unused), ``next_obs[..., 15]`` -> ``[...]``.
    """
    return hypercrl_door_reward(next_obs[..., 0:3], next_obs[..., 11], next_obs[..., 12], knob_term)


def hypercrl_door_reward(to_handle: Tensor, door: Tensor, knob: Tensor, knob_term: bool) -> Tensor:
    """HyperCRL's door reward without its orientation term (reference §4.7):
    ``−‖d‖ − log(‖d‖² + 5e-3) − 5 + 50|θ_door| (+ 20|θ_knob| for a knob or lever)``, from the
    gripper-to-handle vector ``d[..., 3]`` and the angles ``door[...]``, ``knob[...]`` (shared by the
    Panda door)."""
    dist2 = (to_handle**2).sum(-1)
    reward = -torch.sqrt(dist2) - torch.log(dist2 + 5e-3) - 5.0 + 50.0 * door.abs()
    return reward + 20.0 * knob.abs() if knob_term else reward


def _reward_factory(params: Mapping[str, Any]) -> RewardFn:
    return partial(door_reward, knob_term=params["handle"] != "pull")


HYPERCRL_DOORS: tuple[dict[str, Any], ...] = (
    {"handle": "pull"},
    {"handle": "round", "direction": -1},
    {"handle": "lever", "direction": -1},
    {"handle": "round", "direction": 1},
    {"handle": "lever", "direction": 1},
)
"""HyperCRL's five door tasks in order (reference §4.7): pull, round−, lever−, round+, lever+."""


FAMILY = TaskFamily(
    name="door",
    env_id="dynadapt/Door-v0",
    obs_dim=15,
    act_dim=5,
    episode_steps=200,
    reward_fn=_reward_factory({"handle": "round"}),
    params=PARAMS,
    doc="Open a latched door: pull bar, round knob or lever, turning direction ±1; HyperCRL's reward.",
    sequences={"hypercrl": HYPERCRL_DOORS},
    reward_factory=_reward_factory,
    act_low=(-1.0,) * 5,
    act_high=(1.0,) * 5,
)
