"""HyperCRL's Panda door (``dynadapt/PandaDoor-v0``): open a latched door with a pull bar, knob or lever.

HyperCRL (Huang et al. 2021; ``hypercrl/envs/rs/door.py``, ``hypercrl/envs/cl_env.py``, reference §4.7, §7)
opens DoorGym doors with a Panda under operational-space pose control. Its five tasks are (handle,
handle-joint range in rad): pull [-1.57, 1.57], round [-1.57, 0], lever [-1.57, 0], round [0, 1.57], lever
[0, 1.57]. dynadapt builds the door and its three handles from primitive MJCF geoms (no DoorGym asset is
used) around robosuite's Panda (:mod:`dynadapt.envs.panda.robot`):

* the robot's base stands at (0.70, 0, -0.3), yawed 180° (HyperCRL's placement), facing the door, whose
  front face is the plane x = 0; the 0.5 x 1.0 m door hinges about a vertical axis at y = 0.25 and opens
  towards the robot (door angle in [0, 1.57]);
* handles, on the door's free side at (0, -0.17, 0): ``pull`` (a vertical bar on two standoffs; its joint is
  locked by a stiff equality constraint, so the knob angle stays 0 and the task has no knob term,
  HyperCRL pitfall H16), ``round`` (a knob to grip and turn), ``lever`` (an arm to press down); knob and
  lever turn about the door's normal and carry a preloaded return spring that holds them on their stop;
  ``direction`` is the sign of the handle's only allowed turning direction
  (-1: range [-1.57, 0], +1: [0, 1.57]); for the lever it also sets the side the arm points to, so that
  "press down" is the allowed direction;
* latch (as the stand-in ``door`` family's, :mod:`dynadapt.envs.door`): while the handle is turned less than
  0.6 rad and the door is (almost) closed, the door's range is [0, 0.02] rad; otherwise [0, 1.57]; checked
  every physics step, a function of the state.

Control at 10 Hz (50 physics steps of 0.002 s), 200 steps (reference §7), never terminates. Action (7, in
[-1, 1], robosuite OSC pose deltas): goal displacement of the gripper (x, y, z; 0.05 m per unit), goal
rotation (a rotation vector in the world frame, 0.5 rad per unit), gripper (-1 open, +1 closed).

Observation (26, HyperCRL's layout): ``[0:3]`` grasp point - gripper (world frame, m); ``[3:7]`` the
gripper's orientation relative to the desired grasp orientation on the handle (quaternion w, x, y, z with
w ≥ 0); ``[7]`` finger opening (m); ``[8:15]`` arm joint angles; ``[15:22]`` arm joint velocities;
``[22]`` door velocity, ``[23]`` knob velocity, ``[24]`` door angle, ``[25]`` knob angle. The grasp frame
is fixed to the handle: its z axis points into the door and its x axis, the direction the Panda's fingers
close along, lies across the handle (horizontal for the vertical bar, vertical for the knob and the lever's
horizontal arm). An earlier version had x along the bar and along the lever's arm: a gripper in that pose
closes onto the handle's length and cannot hold it, so neither door could be opened.

Reward (HyperCRL ``hypercrl/control/reward.py``, reference §4.7), from ``next_obs``:
``-‖d‖ - log(‖d‖² + 5e-3) - 5 - ‖(roll, pitch)‖ + 50 |θ_door| + 20 |θ_knob|`` with d the gripper-to-grasp
vector and (roll, pitch) the x and y angles of the relative orientation ``[3:7]`` in the z-y-x (yaw,
pitch, roll) convention, so that turning the gripper about its approach axis is free; the knob term
applies to round and lever handles only. ``info["success"]``: door angle ≥ 0.2 rad (HyperCRL's criterion).
Task sequence ``hypercrl``: the five tasks above, in HyperCRL's order.

Feasibility: :class:`ScriptedOpener` (reach, grip, turn, pull) opens each of the five doors past 0.2 rad
within 30 steps and holds them at ~0.4 rad (a test checks every task, and that pulling without turning
the handle leaves the door latched). Beyond ~0.5 rad the hand, which must yaw with the door, drifts
(the wrist nears its joint limits) and loses the handle: the opener stops at :attr:`ScriptedOpener.open_to`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import mujoco
import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor

from dynadapt.envs.door import (
    HYPERCRL_DOORS,
    KNOB_RANGE,
    LATCH_GAP,
    OPEN_RANGE,
    PARAMS,
    SUCCESS_ANGLE,
    UNLATCH_ANGLE,
    hypercrl_door_reward,
)
from dynadapt.envs.family import RewardFn, TaskFamily
from dynadapt.envs.panda.robot import POS_STEP, ROT_STEP, PandaTaskEnv

HINGE_Y = 0.25
DOOR_POS = (0.0, HINGE_Y, -0.4)
"""The door body's origin (on the hinge axis, the panel's mid-height), world frame."""
HANDLE_POS = (0.0, -0.42, 0.4)
"""The handle's base in the door's (hinge) frame (world (0, -0.17, 0) when closed)."""
START_OFFSET = np.array([0.15, 0.0, 0.0])
"""Where the gripper starts relative to the grasp point (before the noise), m."""
KNOB_PRELOAD = 0.1
"""rad beyond the rest stop to which the return spring of knob and lever is wound (a preloaded handle)."""
LATCH_SLACK = 0.03
"""rad a strong pull may press the latched door past its (soft) limit before the latch lets go."""
_RGBA = "0.85 0.75 0.3 1"


def grasp_offset(handle: str, direction: int) -> tuple[float, float, float]:
    """The grasp point in the handle's frame (whose x axis is the door's normal and the knob's axis), m."""
    if handle == "pull":
        return (0.06, 0.0, 0.0)
    if handle == "round":
        return (0.065, 0.0, 0.0)
    return (0.06, -0.1 * direction, 0.0)


def grasp_axes(handle: str) -> np.ndarray:
    """``float64[3, 3]``: the grasp frame's axes (columns) in the handle's frame: z into the door and x the
    direction the fingers close along (the grip site's x axis), across the handle: horizontal for the
    vertical pull bar, vertical for the round knob and for the lever's horizontal arm."""
    x, y = ((0.0, -1.0, 0.0), (0.0, 0.0, 1.0)) if handle == "pull" else ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0))
    return np.stack([x, y, np.cross(x, y)], axis=1)


def _site(handle: str, direction: int) -> str:
    px, py, pz = grasp_offset(handle, direction)
    axes = grasp_axes(handle)
    xyaxes = " ".join(f"{v:g}" for v in (*axes[:, 0], *axes[:, 1]))
    return f'<site name="grasp" pos="{px!r} {py!r} {pz!r}" xyaxes="{xyaxes}" size="0.006"/>'


def _geom(name: str, kind: str, fromto: str, size: float) -> str:
    return f'<geom name="{name}" type="{kind}" fromto="{fromto}" size="{size!r}" rgba="{_RGBA}"/>'


def _handle_xml(handle: str, direction: int) -> str:
    """The handle body's geoms and its ``grasp`` site (the desired gripper pose)."""
    if handle == "pull":
        return "".join(
            [
                _geom("standoff_top", "capsule", "0 0 0.08 0.06 0 0.08", 0.012),
                _geom("standoff_bottom", "capsule", "0 0 -0.08 0.06 0 -0.08", 0.012),
                _geom("bar", "capsule", "0.06 0 -0.1 0.06 0 0.1", 0.013),
                _site(handle, direction),
            ]
        )
    if handle == "round":
        return "".join(
            [
                _geom("stem", "cylinder", "0 0 0 0.04 0 0", 0.012),
                _geom("knob", "cylinder", "0.04 0 0 0.08 0 0", 0.028),
                _site(handle, direction),
            ]
        )
    side = -float(direction)  # pressing the arm's end down turns the handle by -side = direction
    return "".join(
        [
            _geom("stem", "cylinder", "0 0 0 0.06 0 0", 0.012),
            _geom("lever", "capsule", f"0.06 0 0 0.06 {0.13 * side!r} 0", 0.012),
            _site(handle, direction),
        ]
    )


class PandaDoorEnv(PandaTaskEnv):
    """Panda opens a door with a pull bar, round knob or lever. Obs float64 ``[26]``, action ``[7]``."""

    PARAMS = PARAMS
    FAMILY = "panda_door"
    render_camera = "view"
    base_pos = (0.70, 0.0, -0.3)
    base_yaw = float(np.pi)
    home_qpos = (-0.1, -0.18, 0.58, -2.69, -2.57, 2.14, -1.01)
    """A posture near the start pose, gripper level and facing the door (found by IK from random starts,
    keeping the joints furthest from their limits): the IK start and the controller's null-space target."""

    def __init__(
        self,
        render_mode: str | None = None,
        handle: str = "round",
        direction: int = -1,
        width: int = 320,
        height: int = 240,
    ) -> None:
        super().__init__(render_mode, width, height, handle=handle, direction=direction)

    @classmethod
    def scene_xml(cls, params: dict[str, Any]) -> tuple[str, str]:
        handle, direction = params["handle"], int(params["direction"])
        if handle == "pull":  # HyperCRL lists [-1.57, 1.57] but never applies it; the joint is locked
            knob_range, equality = (
                f"{-KNOB_RANGE!r} {KNOB_RANGE!r}",
                '<joint joint1="knob" polycoef="0 0 0 0 0" solref="0.004 1"/>',
            )
        elif direction < 0:
            knob_range, equality = f"{-KNOB_RANGE!r} 0", ""
        else:
            knob_range, equality = f"0 {KNOB_RANGE!r}", ""
        hx, hy, hz = HANDLE_POS
        scene = f"""
<light pos="1.5 -1 2" dir="-0.5 0.4 -0.8" directional="true" diffuse="0.8 0.8 0.8"/>
<camera name="view" pos="1.3 -1.3 0.5" xyaxes="0.7 0.71 0 -0.2 0.2 0.96"/>
<geom name="floor" type="plane" size="3 3 0.1" pos="0 0 -1" rgba="0.55 0.55 0.6 1"/>
<geom name="pedestal" type="cylinder" size="0.1 0.35" pos="{cls.base_pos[0]!r} 0 -0.65" rgba="0.2 0.2 0.2 1"/>
<geom name="wall_left" type="box" size="0.05 0.3 0.6" pos="-0.05 0.58 -0.4" rgba="0.8 0.8 0.75 1"/>
<geom name="wall_right" type="box" size="0.05 0.3 0.6" pos="-0.05 -0.58 -0.4" rgba="0.8 0.8 0.75 1"/>
<body name="door" pos="{DOOR_POS[0]!r} {DOOR_POS[1]!r} {DOOR_POS[2]!r}">
  <joint name="door" type="hinge" axis="0 0 1" range="0 {OPEN_RANGE!r}" damping="2" frictionloss="0.5"
         solreflimit="0.004 1"/>
  <geom name="panel" type="box" size="0.02 0.25 0.5" pos="-0.02 -0.25 0" density="300"
        rgba="0.55 0.35 0.2 1"/>
  <body name="handle" pos="{hx!r} {hy!r} {hz!r}">
    <joint name="knob" type="hinge" axis="1 0 0" range="{knob_range}" stiffness="1" damping="0.05"
           springref="{-direction * KNOB_PRELOAD!r}"/>
    {_handle_xml(handle, direction)}
  </body>
</body>
"""
        return scene, equality

    def _compile(self) -> mujoco.MjModel:
        model = super()._compile()
        self._door_joint = model.joint("door").id
        self._door_q, self._knob_q = model.joint("door").qposadr[0], model.joint("knob").qposadr[0]
        self._door_v, self._knob_v = model.joint("door").dofadr[0], model.joint("knob").dofadr[0]
        self._grasp = model.site("grasp").id
        return model

    def _action_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, shape=(7,), dtype=np.float32)

    # --- latch -------------------------------------------------------------------------------------------
    def _latched(self) -> bool:
        if self.task_params["handle"] == "pull":
            return False
        knob, door = float(self.data.qpos[self._knob_q]), float(self.data.qpos[self._door_q])
        return abs(knob) < UNLATCH_ANGLE and door <= LATCH_GAP + LATCH_SLACK

    def before_physics_step(self) -> None:
        self.model.jnt_range[self._door_joint, 1] = LATCH_GAP if self._latched() else OPEN_RANGE

    def set_physics_state(self, state: np.ndarray) -> None:
        super().set_physics_state(state)
        self.before_physics_step()

    # --- observation, reset, step ------------------------------------------------------------------------
    def _relative_quat(self) -> np.ndarray:
        grasp = self.data.site_xmat[self._grasp].reshape(3, 3)
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, (grasp.T @ self.ee_rot()).ravel())
        return quat if quat[0] >= 0 else -quat

    def _get_obs(self) -> np.ndarray:
        d, q, v = self.data.site_xpos[self._grasp] - self.ee_pos(), self.data.qpos, self.data.qvel
        opening = q[self._finger_q[0]] - q[self._finger_q[1]]
        return np.concatenate(
            [
                d,
                self._relative_quat(),
                [opening],
                q[self._arm_q],
                v[self._arm_v],
                [v[self._door_v], v[self._knob_v], q[self._door_q], q[self._knob_q]],
            ]
        ).astype(np.float64)

    def _reset_state(self) -> None:
        mujoco.mj_kinematics(self.model, self.data)
        grasp_pos = self.data.site_xpos[self._grasp].copy()
        grasp_rot = self.data.site_xmat[self._grasp].reshape(3, 3).copy()
        start = grasp_pos + START_OFFSET + self.np_random.uniform(-0.02, 0.02, size=3)
        self.place_arm(start, grasp_rot, grip=-1.0)
        self.data.qvel[:] = 0.0
        self.before_physics_step()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        goal_pos = self.ee_pos() + POS_STEP * a[:3]
        turn = np.zeros(9)
        mujoco.mju_axisAngle2Quat(quat := np.zeros(4), *_axis_angle(ROT_STEP * a[3:6]))
        mujoco.mju_quat2Mat(turn, quat)
        goal_rot = turn.reshape(3, 3) @ self.ee_rot()
        self.control(goal_pos, goal_rot, grip=float(a[6]))
        obs = self._get_obs()
        reward = door_reward(
            torch.from_numpy(obs), torch.from_numpy(a), torch.from_numpy(obs), knob_term=self._knob_term()
        ).item()
        return obs, reward, False, False, {"success": bool(obs[24] >= SUCCESS_ANGLE)}

    def _knob_term(self) -> bool:
        return self.task_params["handle"] != "pull"


def _rot(axis: int, angle: float) -> np.ndarray:
    """``float64[3, 3]``: rotation by ``angle`` about the world axis ``axis`` (0: x, 2: z)."""
    c, s = np.cos(angle), np.sin(angle)
    i, j = [k for k in range(3) if k != axis]
    rot = np.eye(3)
    rot[i, i], rot[i, j], rot[j, i], rot[j, j] = c, -s, s, c
    return rot


def _rotvec(rot: np.ndarray) -> np.ndarray:
    """``float64[3]``: the rotation vector (axis times angle) of a rotation matrix ``[3, 3]``."""
    quat, vel = np.zeros(4), np.zeros(3)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(rot).ravel())
    mujoco.mju_quat2Vel(vel, quat, 1.0)
    return vel


class ScriptedOpener:
    """A hand-written policy that opens the door of any task (a feasibility check and a demo).

    It knows the scene's geometry (hinge, handle, grasp point) and reads the door and knob angles, the
    gripper-to-grasp vector and the relative orientation from the observation, so it knows the grasp
    frame and the gripper's pose in the world. It servoes the gripper (at most one action step per
    step) through these phases: ``align`` (open, :attr:`standoff` in front of the grasp point along the
    approach axis, oriented as the grasp frame), ``reach`` (to the grasp point), ``grip`` (close the
    fingers for :attr:`grip_steps` steps), ``turn`` (round knob and lever: follow the grasp frame as the
    handle would turn :attr:`knob_step` further in ``direction``, until it is past the unlatching angle),
    ``pull`` (hold the handle turned and follow the grasp point as the door would open :attr:`door_step`
    further). Call with an observation ``float[26]``; returns an action ``float32[7]``. One per episode.
    """

    standoff = 0.06
    """m in front of the grasp point (along the approach axis) where the open gripper lines up."""
    grip_steps = 5
    knob_step = 0.25
    """rad the commanded handle angle leads the measured one while turning."""
    door_step = 0.1
    """rad the commanded door angle leads the measured one while pulling."""
    turn_to = UNLATCH_ANGLE + 0.2
    """rad the handle is turned to and held at."""
    open_to = 0.4
    """rad the door is opened to and held at."""

    def __init__(self, handle: str = "round", direction: int = -1) -> None:
        self.handle, self.direction = handle, int(direction)
        self.offset = np.asarray(grasp_offset(handle, self.direction))
        self.axes = grasp_axes(handle)
        self.phase, self.count = "align", 0

    def grasp_pose(self, door: float, knob: float) -> tuple[np.ndarray, np.ndarray]:
        """World position ``[3]`` and axes ``[3, 3]`` of the grasp frame at these door and knob angles."""
        hinge, turn = _rot(2, door), _rot(0, knob)
        pos = np.asarray(DOOR_POS) + hinge @ (np.asarray(HANDLE_POS) + turn @ self.offset)
        return pos, hinge @ turn @ self.axes

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float64)
        door, knob = float(obs[24]), float(obs[25])
        grasp_pos, grasp_rot = self.grasp_pose(door, knob)
        rel = np.zeros(9)
        mujoco.mju_quat2Mat(rel, obs[3:7] / np.linalg.norm(obs[3:7]))
        ee_rot, ee_pos = grasp_rot @ rel.reshape(3, 3), grasp_pos - obs[0:3]
        target_door, target_knob = door, knob
        if self.phase == "turn":
            target_knob = knob + self.direction * self.knob_step
            if abs(target_knob) > self.turn_to:
                target_knob = self.direction * self.turn_to
        elif self.phase == "pull":
            target_door = min(door + self.door_step, self.open_to)
            if self.handle != "pull":
                target_knob = self.direction * self.turn_to
        pos, rot = self.grasp_pose(target_door, target_knob)
        if self.phase == "align":
            pos = pos - self.standoff * rot[:, 2]
        pos_err, rot_err = pos - ee_pos, _rotvec(rot @ ee_rot.T)
        self._advance(float(np.linalg.norm(pos_err)), float(np.linalg.norm(rot_err)), knob)
        action = np.zeros(7)
        action[:3] = np.clip(pos_err / POS_STEP, -1.0, 1.0)
        action[3:6] = np.clip(rot_err / ROT_STEP, -1.0, 1.0)
        action[6] = -1.0 if self.phase in ("align", "reach") else 1.0
        return action.astype(np.float32)

    def _advance(self, pos_err: float, rot_err: float, knob: float) -> None:
        if self.phase == "align" and pos_err < 0.01 and rot_err < 0.1:
            self.phase = "reach"
        elif self.phase == "reach" and pos_err < 0.005 and rot_err < 0.1:
            self.phase = "grip"
        elif self.phase == "grip":
            self.count += 1
            if self.count >= self.grip_steps:
                self.phase = "pull" if self.handle == "pull" else "turn"
        elif self.phase == "turn" and abs(knob) > UNLATCH_ANGLE + 0.1:
            self.phase = "pull"


def _axis_angle(rotvec: np.ndarray) -> tuple[np.ndarray, float]:
    angle = float(np.linalg.norm(rotvec))
    if angle < 1e-12:
        return np.array([1.0, 0.0, 0.0]), 0.0
    return rotvec / angle, angle


def roll_pitch(quat: Tensor) -> Tensor:
    """``[..., 4]`` quaternions (w, x, y, z) -> ``[..., 2]`` their roll (about x) and pitch (about y) in the
    z-y-x convention. Not-normalised inputs (a model's predictions) are normalised first."""
    q = quat / torch.linalg.vector_norm(quat, dim=-1, keepdim=True).clamp_min(1e-12)
    w, x, y, z = q.unbind(-1)
    roll = torch.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    pitch = torch.asin((2.0 * (w * y - z * x)).clamp(-1.0, 1.0))
    return torch.stack([roll, pitch], dim=-1)


def door_reward(obs: Tensor, act: Tensor, next_obs: Tensor, knob_term: bool = True) -> Tensor:
    """HyperCRL's door reward of ``next_obs`` (see the module docstring).

    ``obs[..., 26]`` (unused), ``act[..., 7]`` (unused), ``next_obs[..., 26]`` -> ``[...]``.
    """
    tilt = torch.linalg.vector_norm(roll_pitch(next_obs[..., 3:7]), dim=-1)
    return hypercrl_door_reward(next_obs[..., 0:3], next_obs[..., 24], next_obs[..., 25], knob_term) - tilt


def _reward_factory(params: Mapping[str, Any]) -> RewardFn:
    return partial(door_reward, knob_term=params["handle"] != "pull")


FAMILY = TaskFamily(
    name="panda_door",
    env_id="dynadapt/PandaDoor-v0",
    obs_dim=26,
    act_dim=7,
    episode_steps=200,
    reward_fn=_reward_factory({"handle": "round"}),
    params=PARAMS,
    doc="HyperCRL's Panda door: pull bar, round knob or lever, turning direction ±1; OSC pose, 10 Hz.",
    sequences={"hypercrl": HYPERCRL_DOORS},
    reward_factory=_reward_factory,
    act_low=(-1.0,) * 7,
    act_high=(1.0,) * 7,
)
"""The ``panda_door`` family (registered by :mod:`dynadapt.envs.registry` when robosuite is installed)."""
