"""The Panda arm of the ``panda_*`` families: robosuite's model, dynadapt's scene and controller.

robosuite (Zhu et al. 2020, the simulator HyperCRL's Panda tasks ran on) supplies only the *model*: the Panda
arm and its parallel gripper as MJCF (meshes, inertias, joint limits, armature and damping, torque actuators,
finger position actuators), assembled once per process through robosuite's model classes. Everything else
is dynadapt's own: the scene around the arm (table, block, door) is MJCF written here, the model is
compiled by MuJoCo directly (recompiled when a task parameter changes, as every :class:`MujocoTaskEnv`), and
the operational-space controller (OSC) is the textbook one (Khatib 1987, "A unified approach for motion and
force control of robot manipulators: the operational space formulation"), with robosuite's default gains:

    F = Λ (k_p e - k_d ẋ),  Λ = (J M⁻¹ Jᵀ)⁻¹,  e = (x_goal - x, orientation error),
    τ = Jᵀ F + (I - Jᵀ J̄ᵀ) M (k_p,null (q_home - q) - k_d,null q̇) + c(q, q̇),  J̄ = M⁻¹ Jᵀ Λ,

k_p = 150, k_d = 2 √k_p (critical damping), k_p,null = 10; c = gravity and Coriolis terms (``qfrc_bias``);
τ is clipped to the actuators' torque limits. The orientation error is ``½ Σ_i r_i × r_goal,i`` over the
columns of the current and goal rotation matrices. As robosuite's delta controllers, each action sets the
goal relative to the pose at that moment (position step 0.05 m, rotation step 0.5 rad per unit action), so
the controller has no state of its own: the simulator state (``qpos``, ``qvel``) determines the next step.

Timing: physics at 500 Hz (robosuite's timestep 0.002), control at 10 Hz (HyperCRL's, reference §7), so
50 physics steps per env step; the OSC torque is recomputed every :data:`OSC_EVERY` physics steps
(100 Hz), which keeps a step cheap (a few ms) and is stable at these gains (the closed loop's natural
frequency is √150 ≈ 12 rad/s).

Importing this module does not import robosuite; building the first model does (about a second), after
:func:`dynadapt.extras.require` checked that it is installed.
"""

from __future__ import annotations

import copy
import logging
import math
import re
from functools import cache
from typing import Any, ClassVar

import mujoco
import numpy as np

from dynadapt.envs.base import MujocoTaskEnv
from dynadapt.errors import DynadaptError
from dynadapt.extras import require

ARM_JOINTS = tuple(f"robot0_joint{i}" for i in range(1, 8))
FINGER_JOINTS = ("gripper0_finger_joint1", "gripper0_finger_joint2")
EE_SITE = "gripper0_grip_site"
"""The point between the fingertips; its z axis points out of the hand, along the fingers."""
HOME_QPOS = (0.0, math.pi / 16, 0.0, -math.pi / 2 - math.pi / 3, 0.0, math.pi - 0.2, math.pi / 4)
"""robosuite's Panda rest posture (the IK start and the null-space target unless an env sets its own)."""

KP = 150.0
KD = 2.0 * math.sqrt(KP)
KP_NULL = 10.0
KD_NULL = 2.0 * math.sqrt(KP_NULL)
POS_STEP = 0.05
"""m of goal displacement per unit of position action (robosuite OSC's output limit)."""
ROT_STEP = 0.5
"""rad of goal rotation per unit of rotation action (robosuite OSC's output limit)."""
PHYSICS_DT = 0.002
CONTROL_DT = 0.1
OSC_EVERY = 5
"""Physics steps between two OSC torque updates."""
FINGER_OPEN = 0.04
"""m each finger opens (the finger joints' range)."""


def orientation_error(goal: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Rotation-vector-like error ``½ Σ_i current[:, i] × goal[:, i]`` of two rotation matrices ``[3, 3]``."""
    return 0.5 * np.cross(current.T, goal.T).sum(axis=0)


@cache
def _panda_xml() -> str:
    """MJCF of robosuite's Panda with its gripper (``robot0_``/``gripper0_`` names), base at the origin."""
    require("robosuite", "the panda_* task families")
    logging.getLogger("robosuite_logs").setLevel(logging.ERROR)
    from robosuite.models.grippers import PandaGripper
    from robosuite.models.robots import Panda
    from robosuite.models.world import MujocoWorldBase

    world = MujocoWorldBase()
    robot = Panda()
    robot.add_gripper(PandaGripper())
    robot.set_base_xpos([0.0, 0.0, 0.0])
    world.merge(robot)
    xml = str(world.get_xml())
    return xml.replace('<size nconmax="5000" njmax="5000" />', "")


OPTION = (
    '<option timestep="0.002" integrator="implicitfast" cone="elliptic" impratio="20">'
    '<flag warmstart="disable"/></option>'
)
"""Physics options: robosuite's timestep, cone and impratio; warm-starting off, so that a step depends only
on ``qpos``, ``qvel`` and the controls (``set_physics_state`` then reproduces a trajectory exactly)."""


FINGER_EXCLUDE = "".join(
    f'<exclude body1="gripper0_{a}" body2="gripper0_{b}"/>'
    for a in ("leftfinger", "finger_joint1_tip")
    for b in ("rightfinger", "finger_joint2_tip")
)
"""The closed fingers touch each other; those contacts only cost solver time."""


def panda_scene_xml(base_pos: tuple[float, float, float], base_yaw: float, scene: str, equality: str) -> str:
    """The Panda at ``base_pos`` yawed by ``base_yaw`` (rad) plus the MJCF ``scene`` (worldbody children) and
    ``equality`` constraints."""
    xml = _panda_xml()
    half = base_yaw / 2
    x, y, z = base_pos
    pose = f'pos="{x!r} {y!r} {z!r}" quat="{math.cos(half)!r} 0 0 {math.sin(half)!r}"'
    patterns = (
        r'<body name="robot0_base"[^>]*>',
        r"<option[^>]*/>",
        "</worldbody>",
        "<equality>",
        "<contact />",
    )
    if not all(len(re.findall(p, xml)) == 1 for p in patterns):
        raise DynadaptError("unexpected robosuite Panda model (dynadapt is tested with robosuite 1.5.2)")
    xml = re.sub(patterns[0], f'<body name="robot0_base" {pose}>', xml)
    xml = re.sub(patterns[1], OPTION, xml)
    xml = xml.replace("</worldbody>", scene + "</worldbody>")
    xml = xml.replace("<contact />", f"<contact>{FINGER_EXCLUDE}</contact>")
    return xml.replace("<equality>", "<equality>" + equality)


_MODELS: dict[str, mujoco.MjModel] = {}
"""Compiled models by XML (compiling the meshes takes a few tenths of a second; a copy, milliseconds)."""


def compile_cached(xml: str) -> mujoco.MjModel:
    """A fresh copy of the model compiled from ``xml`` (compiled once per process and XML)."""
    if xml not in _MODELS:
        if len(_MODELS) > 32:
            _MODELS.clear()
        _MODELS[xml] = mujoco.MjModel.from_xml_string(xml)
    return copy.deepcopy(_MODELS[xml])


def hide_robot_helpers(model: mujoco.MjModel) -> None:
    """Make robosuite's collision geoms (group 0, drawn in flat green and blue over the visual meshes) and
    its marker sites (the grip site's long guide cylinder) transparent: rendering only, physics unchanged."""
    robot = ("robot0_", "gripper0_")
    for g in range(model.ngeom):
        if model.geom_group[g] == 0 and model.geom(g).name.startswith(robot):
            model.geom_rgba[g, 3] = 0.0
    for i in range(model.nsite):
        if model.site(i).name.startswith(robot):
            model.site_rgba[i, 3] = 0.0


class PandaTaskEnv(MujocoTaskEnv):
    """A Panda task under operational-space control. Subclasses write the scene (:meth:`scene_xml`), the
    observation, the reset and ``step``; :meth:`control` runs one 10 Hz control step."""

    frame_skip = round(CONTROL_DT / PHYSICS_DT)
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}  # noqa: RUF012  (Gymnasium API)
    base_pos: ClassVar[tuple[float, float, float]] = (0.0, 0.0, 0.0)
    base_yaw: ClassVar[float] = 0.0
    home_qpos: ClassVar[tuple[float, ...]] = HOME_QPOS

    @classmethod
    def scene_xml(cls, params: dict[str, Any]) -> tuple[str, str]:
        """``(worldbody children, equality constraints)`` of the scene for these task parameters."""
        raise NotImplementedError

    def model_xml(self) -> str:
        scene, equality = self.scene_xml(self.task_params)
        return panda_scene_xml(self.base_pos, self.base_yaw, scene, equality)

    def _compile(self) -> mujoco.MjModel:
        model = compile_cached(self.model_xml())
        self._arm_q = np.array([model.joint(n).qposadr[0] for n in ARM_JOINTS])
        self._arm_v = np.array([model.joint(n).dofadr[0] for n in ARM_JOINTS])
        self._finger_q = np.array([model.joint(n).qposadr[0] for n in FINGER_JOINTS])
        self._arm_u = np.array([model.actuator(f"robot0_torq_j{i}").id for i in range(1, 8)])
        self._finger_u = np.array([model.actuator(f"gripper0_gripper_finger_joint{i}").id for i in (1, 2)])
        self._site = model.site(EE_SITE).id
        self._torque_low, self._torque_high = model.actuator_ctrlrange[self._arm_u].T.copy()
        self._jac = np.zeros((6, model.nv))
        self._mass = np.zeros((model.nv, model.nv))
        hide_robot_helpers(model)
        return model

    # --- kinematics --------------------------------------------------------------------------------------
    def ee_pos(self) -> np.ndarray:
        """``float64[3]``: the grip site's position (world frame)."""
        return self.data.site_xpos[self._site].copy()

    def ee_rot(self) -> np.ndarray:
        """``float64[3, 3]``: the grip site's rotation matrix (columns: its axes in the world frame)."""
        return self.data.site_xmat[self._site].reshape(3, 3).copy()

    def solve_ik(self, pos: np.ndarray, rot: np.ndarray, iterations: int = 300) -> np.ndarray:
        """Arm joint angles ``float64[7]`` putting the grip site at ``pos`` with rotation ``rot`` (damped
        least squares from :attr:`home_qpos`, within the joint limits). Leaves ``data`` at the solution."""
        m, d = self.model, self.data
        q = np.array(self.home_qpos, dtype=np.float64)
        low, high = m.jnt_range[[m.joint(n).id for n in ARM_JOINTS]].T
        for _ in range(iterations):
            d.qpos[self._arm_q] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            err = np.concatenate([pos - d.site_xpos[self._site], orientation_error(rot, self.ee_rot())])
            if np.max(np.abs(err)) < 1e-7:
                break
            mujoco.mj_jacSite(m, d, self._jac[:3], self._jac[3:], self._site)
            jac = self._jac[:, self._arm_v]
            dq = jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(6), err)
            q = np.clip(q + dq * min(1.0, 0.2 / max(float(np.abs(dq).max()), 1e-12)), low, high)
        return q

    # --- control -----------------------------------------------------------------------------------------
    def osc_torque(self, goal_pos: np.ndarray, goal_rot: np.ndarray) -> np.ndarray:
        """Arm torques ``float64[7]`` driving the grip site towards ``(goal_pos, goal_rot)`` (module docs)."""
        m, d = self.model, self.data
        mujoco.mj_jacSite(m, d, self._jac[:3], self._jac[3:], self._site)
        jac = self._jac[:, self._arm_v]
        mujoco.mj_fullM(m, self._mass, d.qM)
        mass = self._mass[np.ix_(self._arm_v, self._arm_v)]
        mass_inv = np.linalg.inv(mass)
        qd = d.qvel[self._arm_v]
        err = np.concatenate([goal_pos - d.site_xpos[self._site], orientation_error(goal_rot, self.ee_rot())])
        lam = np.linalg.inv(jac @ mass_inv @ jac.T + 1e-6 * np.eye(6))
        force = lam @ (KP * err - KD * (jac @ qd))
        jbar = mass_inv @ jac.T @ lam
        posture = mass @ (KP_NULL * (np.asarray(self.home_qpos) - d.qpos[self._arm_q]) - KD_NULL * qd)
        null = posture - jac.T @ (jbar.T @ posture)
        torque = jac.T @ force + null + d.qfrc_bias[self._arm_v]
        return np.clip(torque, self._torque_low, self._torque_high)

    def control(self, goal_pos: np.ndarray, goal_rot: np.ndarray, grip: float) -> None:
        """One control step (:attr:`frame_skip` physics steps) towards the goal pose; ``grip`` in [-1, 1]
        (-1 open, +1 closed) sets the fingers' position targets."""
        opening = FINGER_OPEN * (1.0 - grip) / 2.0
        self.data.ctrl[self._finger_u] = (opening, -opening)
        for i in range(self.frame_skip):
            if i % OSC_EVERY == 0:
                self.data.ctrl[self._arm_u] = self.osc_torque(goal_pos, goal_rot)
            self.before_physics_step()
            mujoco.mj_step(self.model, self.data)

    def before_physics_step(self) -> None:
        """Called before every physics step (e.g. to update a latch)."""

    def do_simulation(self, ctrl: np.ndarray) -> None:
        raise NotImplementedError("Panda envs step through control()")

    def place_arm(self, pos: np.ndarray, rot: np.ndarray, grip: float) -> None:
        """Set the arm (by IK) so that the grip site is at ``pos`` with rotation ``rot``, at rest; fingers at
        ``grip`` (-1 open, +1 closed)."""
        self.data.qpos[self._arm_q] = self.solve_ik(pos, rot)
        opening = FINGER_OPEN * (1.0 - grip) / 2.0
        self.data.qpos[self._finger_q] = (opening, -opening)
        self.data.ctrl[self._finger_u] = (opening, -opening)
