"""HyperCRL's Panda pusher (``dynadapt/PandaPusher-v0``): push a two-part block to a goal without turning it.

HyperCRL (Huang et al. 2021; ``hypercrl/envs/cl_env.py``, reference §4.7, §7) pushes a block made of two
boxes (each of half-size 0.08 x 0.04 x 0.04 m) across a table with a Panda under operational-space position
control, x-y actions only. Its five tasks change the *densities* of the block's two halves, although the
project page speaks of friction (pitfall H8). dynadapt's ``panda_pusher`` varies the densities, as the
release does: the point of this family is to reproduce the paper's experiment on the paper's robot, and
friction halves are what the stand-in ``pusher`` family already varies. A heavier half presses harder on the
table, so its friction force is larger and a push through the block's centre turns the block towards it
(a test checks that the mirrored tasks turn it in mirrored directions).

Scene (dynadapt's MJCF around robosuite's Panda, see :mod:`dynadapt.envs.panda.robot`): the table top is the
plane z = 0 (friction 1, 5e-3, 1e-4 as HyperCRL's), the Panda's base stands at (-0.67, 0, 0) facing +x;
the block (0.16 x 0.16 x 0.08 m; left half y > 0, right half y < 0) starts around (-0.10, 0); the goal is the
block translated by +0.25 m in x and not turned. The gripper is closed and pointing down, leaning forward
by 0.25 rad, its fingertips' centre held 0.035 m above the table and inside the reachable box
x in [-0.35, 0.12], y in [-0.2, 0.2] (:data:`WORKSPACE_LOW`, :data:`WORKSPACE_HIGH`).

Why these numbers: the pose must be reachable with every joint away from its limits over the whole box,
or the controller loses a degree of freedom and the hand sags (a 0.5 rad lean with the base at -0.62 put
the wrist joint 6 on its limit at every point of the box; the hand then settled ~2.5 cm low and turned).
With the base at -0.67 and a 0.25 rad lean, IK reaches every point of the box with each joint at least
0.06 rad from its limits; beyond x = 0.16 the arm is stretched out (singular) and the controller chatters,
hence the box. The controller's posture target (:attr:`PandaPusherEnv.home_qpos`) is the IK solution at
the block's start, so that the null-space term does not pull the wrist away from the pushing pose.

* control at 10 Hz (50 physics steps of 0.002 s), 100 steps (reference §7); never terminates;
* action (2, in [-1, 1]): goal displacement of the gripper in x and y, 0.05 m per unit (robosuite's OSC
  position step), the goal clipped to the reachable box; the controller holds the height and the
  orientation;
* observation (10; HyperCRL's layout): block centre - gripper (x, y), then the block's four corners (x, y)
  in the order (-, +), (-, -), (+, +), (+, -) of the block frame's (x, y) half-extents (world frame, m);
* reward (HyperCRL ``hypercrl/control/reward.py``, reference §4.7): ``Σ_i (1 - tanh(10 ‖c_i - g_i‖)) -
  0.25 ‖u‖`` over the corners of ``next_obs`` with goals (0.07, 0.08), (0.07, -0.08), (0.23, 0.08),
  (0.23, -0.08) and ``u`` the clipped action; at most 4 per step (the same function as ``pusher``'s);
* reset: block centre (-0.10, 0) + U(±0.01)², yaw U(±0.05); gripper (-0.25, 0) + U(±0.02)², at rest.

Task sequence ``hypercrl``: (left, right) densities (500, 500), (100, 500), (500, 100), (500, 250),
(250, 500) kg/m³, the release's first five tasks.

Feasibility: :class:`ScriptedPusher` pushes the block from x = -0.10 to 0.144 (goal 0.15) in about 20
steps, the reward rising from -0.2 to 3.7 per step; with densities (100, 500) and (500, 100) it turns by
-0.015 and +0.015 rad (equal halves: 0.002), measured from a symmetric start (tests check both).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import spaces

from dynadapt.envs.base import fmt
from dynadapt.envs.family import Param, TaskFamily
from dynadapt.envs.panda.robot import POS_STEP, PandaTaskEnv
from dynadapt.envs.pusher import CORNER_SIGNS, CTRL_COST, GOALS, HALF_EXTENT, pusher_reward

PARAMS: tuple[Param, ...] = (
    Param("density_left", 500.0, "density of the block's left half (y > 0), kg/m³", low=10.0, high=10000.0),
    Param("density_right", 500.0, "density of the block's right half (y < 0), kg/m³", low=10.0, high=10000.0),
)

PUSH_HEIGHT = 0.035
"""m above the table of the point between the fingertips while pushing."""
BLOCK_START = (-0.10, 0.0)
GRIPPER_START = (-0.25, 0.0)
WORKSPACE_LOW = (-0.35, -0.2)
"""Lower (x, y) corner of the box the gripper's goal is clipped to, m (module docs)."""
WORKSPACE_HIGH = (0.12, 0.2)
"""Upper (x, y) corner of that box, m; the block's goal needs the gripper at x ≈ 0.07."""
TILT = 0.25
"""rad the fingers lean forward (about y) so that the fingertips push and the hand trails above the block."""
DOWN = np.array(
    [[0.0, math.cos(TILT), math.sin(TILT)], [1.0, 0.0, 0.0], [0.0, math.sin(TILT), -math.cos(TILT)]]
)
"""Gripper rotation while pushing (columns: grip-site axes): fingers pointing down and leaning forward by
:data:`TILT`, the hand's long side (site x axis) along y."""
TABLE_FRICTION = "1 0.005 0.0001"
"""HyperCRL's table friction (sliding, torsional, rolling)."""


class PandaPusherEnv(PandaTaskEnv):
    """Panda pushes a two-density block. Obs float64 ``[10]``, action ``[2]`` in [-1, 1]."""

    PARAMS = PARAMS
    FAMILY = "panda_pusher"
    render_camera = "view"
    base_pos = (-0.67, 0.0, 0.0)
    home_qpos = (0.0, 0.578, 0.0, -2.263, 0.0, 3.09, 0.786)
    """The pushing pose (:data:`DOWN`) at the block's start (-0.10, 0, :data:`PUSH_HEIGHT`), by IK from
    robosuite's rest posture: the IK start and the controller's null-space target."""

    def __init__(
        self,
        render_mode: str | None = None,
        density_left: float = 500.0,
        density_right: float = 500.0,
        width: int = 320,
        height: int = 240,
    ) -> None:
        super().__init__(render_mode, width, height, density_left=density_left, density_right=density_right)

    @classmethod
    def scene_xml(cls, params: dict[str, Any]) -> tuple[str, str]:
        h = HALF_EXTENT / 2
        goal_x = BLOCK_START[0] + 0.25
        scene = f"""
<light pos="0 0 2.5" dir="0 0 -1" directional="true" diffuse="0.8 0.8 0.8"/>
<camera name="view" pos="0.35 -1.25 1.0" xyaxes="0.96 0.28 0 -0.16 0.55 0.82"/>
<camera name="top" pos="0 0 1.6" xyaxes="1 0 0 0 1 0"/>
<geom name="floor" type="plane" size="3 3 0.1" pos="0 0 -0.8" rgba="0.55 0.55 0.6 1"/>
<geom name="table" type="box" size="0.5 0.5 0.4" pos="0 0 -0.4" friction="{TABLE_FRICTION}"
      rgba="0.75 0.7 0.6 1"/>
<geom name="pedestal" type="cylinder" size="0.1 0.4" pos="{cls.base_pos[0]!r} 0 -0.4" rgba="0.2 0.2 0.2 1"/>
<site name="goal" type="box" size="{HALF_EXTENT!r} {HALF_EXTENT!r} 0.0005" pos="{goal_x!r} 0 0.0005"
      rgba="0.2 0.8 0.2 0.5"/>
<body name="block" pos="{BLOCK_START[0]!r} {BLOCK_START[1]!r} {h!r}">
  <freejoint name="block"/>
  <geom name="half_left" type="box" size="{HALF_EXTENT!r} {h!r} {h!r}" pos="0 {h!r} 0"
        density="{fmt(params["density_left"])}" rgba="0.8 0.3 0.2 1"/>
  <geom name="half_right" type="box" size="{HALF_EXTENT!r} {h!r} {h!r}" pos="0 {-h!r} 0"
        density="{fmt(params["density_right"])}" rgba="0.2 0.3 0.8 1"/>
</body>
"""
        return scene, ""

    def _action_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)

    def corners(self) -> np.ndarray:
        """``float64[4, 2]``: the block's corners in the table plane (observation order)."""
        body = self.data.body("block")
        rot = body.xmat.reshape(3, 3)[:2, :2]
        return body.xpos[:2] + (HALF_EXTENT * np.asarray(CORNER_SIGNS)) @ rot.T

    def _get_obs(self) -> np.ndarray:
        rel = self.data.body("block").xpos[:2] - self.ee_pos()[:2]
        return np.concatenate([rel, self.corners().ravel()]).astype(np.float64)

    def _reset_state(self) -> None:
        rng = self.np_random
        start = np.array([*GRIPPER_START, PUSH_HEIGHT]) + np.array([*rng.uniform(-0.02, 0.02, 2), 0.0])
        self.place_arm(start, DOWN, grip=1.0)
        block = self.model.joint("block").qposadr[0]
        yaw = rng.uniform(-0.05, 0.05)
        self.data.qpos[block : block + 3] = (
            BLOCK_START[0] + rng.uniform(-0.01, 0.01),
            BLOCK_START[1] + rng.uniform(-0.01, 0.01),
            HALF_EXTENT / 2,
        )
        self.data.qpos[block + 3 : block + 7] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
        self.data.qvel[:] = 0.0

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        goal = self.ee_pos()
        goal[:2] = np.clip(goal[:2] + POS_STEP * a, WORKSPACE_LOW, WORKSPACE_HIGH)
        goal[2] = PUSH_HEIGHT
        self.control(goal, DOWN, grip=1.0)
        obs = self._get_obs()
        dist = np.linalg.norm(obs[2:].reshape(4, 2) - np.asarray(GOALS), axis=-1)
        reward = float(np.sum(1.0 - np.tanh(10.0 * dist)) - CTRL_COST * np.linalg.norm(a))
        return obs, reward, False, False, {"corner_distance": float(dist.mean())}


GOAL_CENTRE = np.asarray(GOALS).mean(axis=0)
"""The goal's centre (0.15, 0) in the table plane."""


class ScriptedPusher:
    """A hand-written policy that pushes the block along x until its centre reaches the goal's x (a
    feasibility check and a demo): the gripper is steered to :attr:`standoff` behind the block's centre, at
    the centre's y, moved on by the remaining distance (at most one step). It pushes through the centre
    and corrects neither the block's yaw nor its y, so a block of unequal halves turns towards its heavier
    half. Call with an observation ``float[10]``; returns an action ``float32[2]``. Stateless.
    """

    standoff = HALF_EXTENT + 0.01
    """m between the block's centre and the gripper's site while pushing (half the block, the fingertip)."""

    def __init__(self, tolerance: float = 0.003) -> None:
        self.tolerance = tolerance

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        centre = np.asarray(obs[2:10], dtype=np.float64).reshape(4, 2).mean(axis=0)
        gripper = centre - np.asarray(obs[0:2], dtype=np.float64)
        left = float(GOAL_CENTRE[0] - centre[0])
        if left < self.tolerance:
            return np.zeros(2, dtype=np.float32)
        target = np.array([centre[0] - self.standoff + min(left, POS_STEP), centre[1]])
        return np.clip((target - gripper) / POS_STEP, -1.0, 1.0).astype(np.float32)


FAMILY = TaskFamily(
    name="panda_pusher",
    env_id="dynadapt/PandaPusher-v0",
    obs_dim=10,
    act_dim=2,
    episode_steps=100,
    reward_fn=pusher_reward,
    params=PARAMS,
    doc="HyperCRL's Panda pusher: push a block of two densities 0.25 m without turning it; OSC x-y, 10 Hz.",
    sequences={
        "hypercrl": (
            {"density_left": 500.0, "density_right": 500.0},
            {"density_left": 100.0, "density_right": 500.0},
            {"density_left": 500.0, "density_right": 100.0},
            {"density_left": 500.0, "density_right": 250.0},
            {"density_left": 250.0, "density_right": 500.0},
        )
    },
    act_low=(-1.0, -1.0),
    act_high=(1.0, 1.0),
)
"""The ``panda_pusher`` family (registered by :mod:`dynadapt.envs.registry` when robosuite is installed)."""
