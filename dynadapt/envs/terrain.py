"""GrBAL's terrain families: the half-cheetah on sloped height-field terrain and on a floating-block pier.

Nagabandi, Clavera et al. 2019 (GrBAL/ReBAL, ICLR 2019), Section 6, and the release
``learning_to_adapt/envs/half_cheetah_hfield_env.py`` / ``half_cheetah_blocks_env.py`` with their assets
(reference §5.4, §7). Both are dynadapt's half-cheetah (``assets/half_cheetah.xml``, the morphology of
:mod:`dynadapt.envs.half_cheetah`) with its floor replaced, and both follow ``half_cheetah_cripple``'s
conventions (GrBAL's):

* frame_skip 1 at timestep 0.01 (dt 0.01), 1000 steps, never terminates; actions in [-1, 1];
* observation (20): the cheetah's ``qpos`` without ``rootx`` (8: rootz, rooty, bthigh, bshin, bfoot, fthigh,
  fshin, ffoot), its ``qvel`` (9: rootx, rootz, rooty and the six joints), its centre of mass (3:
  ``subtree_com`` of the torso). Neither the terrain nor the blocks' states are observed: the model adapts
  to them;
* reward: GrBAL's planning reward ``(com_x' - com_x) / dt - 0.05 ‖clip(a, -1, 1)‖²`` for env and planner
  alike (the family's reward function is :func:`~dynadapt.envs.half_cheetah.cheetah_cripple_reward`);
* reset: the cheetah's joints as in the other cheetah families (``qpos`` + U(±0.1), ``qvel`` ~ N(0, 0.1²));
* ``info`` of every step: ``reward_forward`` and where the cheetah is (``ground_height`` under its centre of
  mass on the terrain; ``block``, the index of the block under it on the pier, -1 between blocks).

The dynamics change in the middle of an episode by construction: the cheetah runs from flat ground onto the
ramps, or from block to block. :meth:`~dynadapt.envs.base.TaskEnvMixin.set_task` may also change the terrain
or the dampings at any step (the state is kept).

**Sloped terrain** (``dynadapt/HalfCheetahHField-v0``, family ``half_cheetah_hfield``; the release's
``HalfCheetahHFieldEnv``). The floor is a MuJoCo height field of 500 columns over x ∈ [-50, 50] m (column c at
x = -50 + c · 100/499 m, so column 250 lies at 0.10 m, just ahead of the start) and 2 rows over y ∈ [-5, 5] m
(the release: 528 identical rows), base depth 0.1 m. A terrain is a row of ramps: ramp i spans ``width``
columns from column ``c_i`` and raises the ground by ``s_i`` per column; the profile is normalised to [0, 1]
and scaled by the terrain's height H (the release's construction), times ``height_scale``:

* ``random`` (the release's training terrain, ``task='hfield'``): six ramps of 10 columns at columns
  255, 265, ..., 305 (x ≈ 1.1-13.1 m; the release draws the six starts from these six candidates without
  replacement, so it always takes all of them), slopes U(0.2, 0.6) with random signs (the first two
  positive), H ~ U(0.2, 1). Drawn with ``numpy.random.default_rng(terrain_seed)``: H, then the signs, then
  the slopes; the release draws a fresh terrain at every reset, here a terrain is a task (split ``train``:
  seeds 0-99);
* ``gentle``: six ramps of 15 columns from column 250, all rising by 1 per column, H = 1: one straight ramp
  rising 1 m over x ≈ 0.1-18.1 m (3.2°), then a plateau;
* ``steep``: the same with H = 4 (12.5°), the release's unseen test terrain (split ``unseen``);
* ``hill``: up over columns 250-264, down over 265-279, H = 0.6: a 0.6 m hill, 6 m long;
* ``basin``: down then up, H = 0.55: a 0.55 m deep trough, 6 m long;
* ``flat``: no ramps (dynadapt's addition: the intact cheetah on the height field).

Split ``test``: gentle, steep, hill, basin (the release's named terrains, none of them in training).
Departure: the field is lowered so that the flat ground behind the start is at z = 0 and the cheetah starts
0.7 m above it as in every cheetah family. The release kept the field's lowest point at z = 0 and started the
torso at z = 1, so on ``basin`` (and on random terrains that descend below the start) the legs began inside
the ground.

**Pier** (``dynadapt/HalfCheetahPier-v0``, family ``half_cheetah_pier``; the release's
``HalfCheetahBlocksEnv(task='damping')``). Eight boxes 0.1 m thick and 1.98 m wide float on vertical slide
joints (stiffness 150 N/m around their rest position, top at z = 0.1; range ±0.15 m; armature 0.1), centred
at x = -8 m (12 m long), 0, 4, ..., 20 m (4 m long each; the cheetah starts on block 1) and 42 m (40 m long);
block k's joint damping is ``damping_k`` (N s/m). The floor plane beneath is only drawn.

* Masses: the release's XML gives each block 10 kg, but its ``settotalmass="14"`` rescales *every* body of the
  model, blocks included, to a total of 14 kg: each block weighs 1.38 kg and the cheetah 2.93 kg. dynadapt
  compiles the same way (:func:`mujoco.mj_setTotalmass` over the whole model), so the dynamics are the
  release's. (With 10 kg blocks and a 14 kg cheetah the blocks' own weight exceeds the springs' force at the
  lower limit: they rest on it about 98 % of the time and the damping barely matters.)
* Reset: every block at rest at its static equilibrium (-m g / k ≈ -0.09 m); the release started them at the
  springs' rest position, from which they dropped.
* Training (the release): damping_k ~ U(0, 10) per block per episode (the presets draw them with
  ``train_ranges``); split ``train``: 20 fixed draws of :func:`pier_training_task`.
* Held-out (split ``test``; the release has none): dampings outside the training range, see
  :data:`PIER_TEST`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from dynadapt.envs.base import MujocoTaskEnv, fmt
from dynadapt.envs.family import Param, TaskFamily
from dynadapt.envs.half_cheetah import (
    CRIPPLE_CTRL_COST,
    JOINTS,
    _cheetah_xml,
    _compile_cheetah,
    cheetah_cripple_reward,
)
from dynadapt.errors import DynadaptError

CHEETAH_JOINTS: tuple[str, ...] = ("rootx", "rootz", "rooty", *JOINTS)
"""The cheetah's joints in ``qpos`` order (one dof each)."""


@dataclass(frozen=True)
class IntParam(Param):
    """A numeric parameter whose values must be integers (e.g. a seed); validated values are ``int``."""

    def validate(self, value: Any) -> Any:
        number = super().validate(value)
        if not float(number).is_integer():
            raise DynadaptError(f"parameter {self.name!r} must be an integer, got {value!r}")
        return int(number)


def _cheetah_tree() -> tuple[ET.Element, ET.Element, ET.Element]:
    """The half-cheetah MJCF (GrBAL timing) as a tree, its ``<worldbody>`` and its floor geom."""
    root = ET.fromstring(_cheetah_xml({}, crippled=None, timestep=0.01))
    world = root.find("worldbody")
    floor = None if world is None else world.find("geom[@name='floor']")
    if world is None or floor is None:
        raise AssertionError("the half-cheetah template has no <worldbody> floor geom")
    return root, world, floor


class _GrBALGroundEnv(MujocoTaskEnv):
    """The cheetah of ``half_cheetah_cripple`` (obs, reward, reset) on other ground. Obs float64 ``[20]``."""

    frame_skip = 1
    render_camera = "track"
    metadata = {"render_modes": ["rgb_array"], "render_fps": 100}  # noqa: RUF012  (Gymnasium API)

    def _compile(self) -> mujoco.MjModel:
        model = _compile_cheetah(self.model_xml())
        self._qpos_idx = np.array([model.joint(j).qposadr[0] for j in CHEETAH_JOINTS])
        self._dof_idx = np.array([model.joint(j).dofadr[0] for j in CHEETAH_JOINTS])
        self._torso = model.body("torso").id
        return model

    def _get_obs(self) -> np.ndarray:
        com = self.data.subtree_com[self._torso]
        return np.concatenate(
            [self.data.qpos[self._qpos_idx[1:]], self.data.qvel[self._dof_idx], com]
        ).astype(np.float64)

    def _reset_state(self) -> None:
        rng = self.np_random
        self.data.qpos[:] = self.model.qpos0
        self.data.qvel[:] = 0.0
        self.data.qpos[self._qpos_idx] += rng.uniform(-0.1, 0.1, size=len(CHEETAH_JOINTS))
        self.data.qvel[self._dof_idx] = rng.normal(0.0, 0.1, size=len(CHEETAH_JOINTS))
        self._reset_ground()

    def _reset_ground(self) -> None:
        """Set the state of the ground's own joints for a new episode (none by default)."""

    def where(self) -> dict[str, Any]:
        """Where the cheetah is on the ground (for ``info``)."""
        return {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        com_x = float(self.data.subtree_com[self._torso][0])
        self.do_simulation(a)
        obs = self._get_obs()
        forward = (obs[-3] - com_x) / self.dt
        reward = forward - CRIPPLE_CTRL_COST * float(np.sum(a**2))
        return obs, float(reward), False, False, {"reward_forward": forward, **self.where()}


@dataclass(frozen=True)
class SineGait:
    """An open-loop running gait ``a_j(t) = amplitude · sin(2π · frequency · t · dt + phases[j])`` (t: step).

    For image strips, videos and tests: :data:`HFIELD_GAIT` and :data:`PIER_GAIT` were found by random search
    (frequency, phases, amplitude) for the forward progress of 400 steps on flat ground and on the default
    pier.
    """

    frequency: float
    """Hz."""
    phases: tuple[float, ...]
    """rad, one per actuator."""
    amplitude: float = 1.0
    dt: float = 0.01

    def action(self, t: int) -> np.ndarray:
        """``float32[6]``: the action at step ``t``."""
        angle = 2.0 * np.pi * self.frequency * t * self.dt + np.asarray(self.phases)
        return (self.amplitude * np.sin(angle)).astype(np.float32)

    def policy(self) -> Callable[[Any], np.ndarray]:
        """A policy ``obs -> action`` (the observation is ignored) that plays the gait from step 0, one step
        per call."""
        steps = iter(range(2**62))
        return lambda obs: self.action(next(steps))


HFIELD_GAIT = SineGait(2.56, (3.684, 0.771, 5.867, 4.298, 5.176, 5.635))
"""About 1.3 m/s on flat ground (5.2 m in 400 steps); stopped by the ``steep`` ramp and the ``hill``."""
PIER_GAIT = SineGait(2.986, (3.617, 6.074, 2.878, 5.262, 0.351, 2.423), amplitude=0.692)
"""About 1.2 m/s on the default pier (4.8 m in 400 steps), for the pier's light cheetah."""


# --- sloped terrain (height field) -----------------------------------------------------------------------

HFIELD_COLUMNS = 500
"""Columns of the height field along x (the release's)."""
HFIELD_HALF_LENGTH = 50.0
"""m; the field spans x ∈ [-50, 50] (the release's ``hfield_size[0]``)."""
HFIELD_HALF_WIDTH = 5.0
"""m; the field spans y ∈ [-5, 5]."""
HFIELD_BASE = 0.1
"""m; depth of the solid base under the field's lowest point (the release's ``hfield_size[3]``)."""
HFIELD_X: np.ndarray = np.linspace(-HFIELD_HALF_LENGTH, HFIELD_HALF_LENGTH, HFIELD_COLUMNS)
"""``float64[500]``: x of each column (MuJoCo spreads the columns evenly over the field's length)."""

TERRAINS: tuple[str, ...] = ("random", "flat", "gentle", "steep", "hill", "basin")
"""Terrain names: the release's random training terrain, flat ground, and its four named terrains."""

_NAMED: dict[str, tuple[tuple[float, ...], float]] = {
    "gentle": ((1.0, 1.0, 1.0, 1.0, 1.0, 1.0), 1.0),
    "steep": ((1.0, 1.0, 1.0, 1.0, 1.0, 1.0), 4.0),
    "hill": ((1.0, -1.0, 0.0, 0.0, 0.0, 0.0), 0.6),
    "basin": ((-1.0, 1.0, 0.0, 0.0, 0.0, 0.0), 0.55),
}
"""Named terrains: rise per column of the six 15-column ramps from column 250, and the height H [m]."""
_NAMED_START, _NAMED_WIDTH = 250, 15
_RANDOM_START, _RANDOM_WIDTH = 255, 10


def _ramps(terrain: str, terrain_seed: int) -> tuple[int, int, np.ndarray, float]:
    """``(first column, columns per ramp, rise per column of each ramp [6], height H)`` of a terrain."""
    if terrain == "random":
        rng = np.random.default_rng(terrain_seed)
        height = float(rng.uniform(0.2, 1.0))
        signs = rng.choice(np.array([-1.0, 1.0]), size=6)
        signs[:2] = 1.0
        return _RANDOM_START, _RANDOM_WIDTH, rng.uniform(0.2, 0.6, size=6) * signs, height
    if terrain == "flat":
        return _NAMED_START, _NAMED_WIDTH, np.zeros(6), 0.0
    if terrain not in _NAMED:
        raise DynadaptError(f"unknown terrain {terrain!r}; known: {list(TERRAINS)}")
    rises, height = _NAMED[terrain]
    return _NAMED_START, _NAMED_WIDTH, np.asarray(rises, dtype=np.float64), height


def _normalised_row(terrain: str, terrain_seed: int) -> tuple[np.ndarray, float]:
    """The terrain's profile normalised to [0, 1] (``float64[500]``; zeros when flat) and its height H."""
    start, width, rises, height = _ramps(terrain, terrain_seed)
    steps = np.zeros(HFIELD_COLUMNS)
    for i, rise in enumerate(rises):
        steps[start + i * width : start + (i + 1) * width] = rise
    row = np.cumsum(steps)
    span = float(row.max() - row.min())
    return ((row - row.min()) / span if span > 0 else np.zeros(HFIELD_COLUMNS)), height


def terrain_profile(terrain: str = "random", terrain_seed: int = 0, height_scale: float = 1.0) -> np.ndarray:
    """Ground height [m] at each column (``float64[500]``, at :data:`HFIELD_X`), relative to the flat
    ground behind the start (column 0), which the env places at z = 0."""
    row, height = _normalised_row(terrain, terrain_seed)
    heights = row * height * height_scale
    return heights - heights[0]


def ground_height(x: float | np.ndarray, profile: np.ndarray) -> np.ndarray:
    """The ground's height at ``x`` (any shape) on ``profile`` (:func:`terrain_profile`), interpolated
    linearly between columns as MuJoCo's height field is."""
    return np.interp(x, HFIELD_X, profile)


HFIELD_PARAMS: tuple[Param, ...] = (
    Param(
        "terrain",
        "random",
        "the ground: 'random' (training ramps drawn from terrain_seed), 'flat', or a named test terrain",
        choices=TERRAINS,
    ),
    IntParam("terrain_seed", 0, "seed of the 'random' terrain (slopes, signs and height)", 0, 2**31 - 1),
    Param("height_scale", 1.0, "multiplies the terrain's height (1: the release's)", 1e-6, 10.0),
)


class HalfCheetahHFieldEnv(_GrBALGroundEnv):
    """GrBAL's half-cheetah on sloped height-field terrain. Obs float64 ``[20]``, action ``[6]``."""

    PARAMS = HFIELD_PARAMS
    FAMILY = "half_cheetah_hfield"
    render_camera = "terrain"
    profile: np.ndarray
    """``float64[500]``: the current terrain's ground height at each column (:func:`terrain_profile`)."""

    def __init__(
        self,
        render_mode: str | None = None,
        terrain: str = "random",
        terrain_seed: int = 0,
        height_scale: float = 1.0,
        width: int = 320,
        height: int = 240,
    ) -> None:
        super().__init__(
            render_mode,
            width,
            height,
            terrain=terrain,
            terrain_seed=terrain_seed,
            height_scale=height_scale,
        )

    def _compile(self) -> mujoco.MjModel:
        self.profile = terrain_profile(**self.task_params)
        return super()._compile()

    def model_xml(self) -> str:
        p = self.task_params
        row, height = _normalised_row(p["terrain"], p["terrain_seed"])
        top = height * p["height_scale"]
        if not row.any():  # flat: MuJoCo needs a positive elevation range, unused at zero data
            top = 1.0
        root, world, floor = _cheetah_tree()
        asset = root.find("asset")
        if asset is None:
            raise AssertionError("the half-cheetah template has no <asset>")
        ET.SubElement(asset, "material", name="terrain", texture="grid", texrepeat="50 5", reflectance="0.1")
        ET.SubElement(
            asset,
            "hfield",
            name="terrain",
            nrow="2",
            ncol=str(HFIELD_COLUMNS),
            size=f"{fmt(HFIELD_HALF_LENGTH)} {fmt(HFIELD_HALF_WIDTH)} {fmt(top)} {fmt(HFIELD_BASE)}",
            elevation=" ".join(f"{v:.17g}" for v in np.concatenate([row, row])),
        )
        floor.attrib.pop("size", None)
        floor.set("type", "hfield")
        floor.set("hfield", "terrain")
        floor.set("material", "terrain")
        torso = world.find("body[@name='torso']")
        if torso is None:
            raise AssertionError("the half-cheetah template has no torso")
        # a view from above the track, so that the slopes show (the template's camera looks level)
        ET.SubElement(
            torso, "camera", name="terrain", mode="trackcom", pos="0 -4 1.5", xyaxes="1 0 0 0 0.35 1"
        )
        floor.set("pos", f"0 0 {fmt(-row[0] * top)}")  # the flat ground behind the start at z = 0
        return ET.tostring(root, encoding="unicode")

    def where(self) -> dict[str, Any]:
        x = float(self.data.subtree_com[self._torso][0])
        return {"ground_height": float(ground_height(x, self.profile))}


HFIELD_TRAIN_SEEDS = 100
"""Random terrains in the ``train`` split (seeds 0-99)."""

HFIELD_FAMILY = TaskFamily(
    name="half_cheetah_hfield",
    env_id="dynadapt/HalfCheetahHField-v0",
    obs_dim=20,
    act_dim=6,
    episode_steps=1000,
    reward_fn=cheetah_cripple_reward,
    params=HFIELD_PARAMS,
    doc="GrBAL half-cheetah on ramps (train: random terrains by seed; test: gentle, steep, hill, basin).",
    sequences={"grbal_terrains": tuple({"terrain": t} for t in ("gentle", "hill", "basin", "steep"))},
    splits={
        "train": tuple({"terrain": "random", "terrain_seed": s} for s in range(HFIELD_TRAIN_SEEDS)),
        "test": tuple({"terrain": t} for t in ("gentle", "steep", "hill", "basin")),
        "unseen": ({"terrain": "steep"},),
    },
    act_low=(-1.0,) * 6,
    act_high=(1.0,) * 6,
)

# --- pier (floating blocks) ------------------------------------------------------------------------------

PIER_BLOCKS: tuple[tuple[float, float], ...] = (
    (-8.0, 6.0),
    (0.0, 2.0),
    (4.0, 2.0),
    (8.0, 2.0),
    (12.0, 2.0),
    (16.0, 2.0),
    (20.0, 2.0),
    (42.0, 20.0),
)
"""``(centre x, half length)`` of each block [m] (the release's; the boxes are 2 mm shorter, leaving gaps)."""
BLOCK_STIFFNESS = 150.0
"""N/m; the blocks' spring (rest position 0, top of the block at z = 0.1)."""
BLOCK_RANGE = 0.15
"""m; the blocks' travel either side of the rest position."""
BLOCK_NOMINAL_MASS = 10.0
"""kg in the XML, before the whole model is rescaled to 14 kg (see the module docstring)."""
PIER_TRAIN_DAMPING = (0.0, 10.0)
"""The release's training distribution: each block's damping ~ U(0, 10) per episode."""

PIER_PARAMS: tuple[Param, ...] = tuple(
    Param(f"damping_{k}", 5.0, f"damping of block {k}'s slide joint [N s/m] (training: U(0, 10))", 0.0, 100.0)
    for k in range(len(PIER_BLOCKS))
)


def pier_training_task(seed: int) -> dict[str, float]:
    """A training task: each block's damping ~ U(0, 10), drawn with ``numpy.random.default_rng(seed)`` and
    rounded to 1e-3."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(*PIER_TRAIN_DAMPING, size=len(PIER_BLOCKS))
    return {f"damping_{k}": round(float(v), 3) for k, v in enumerate(values)}


def _dampings(values: tuple[float, ...]) -> dict[str, float]:
    return {f"damping_{k}": v for k, v in enumerate(values)}


PIER_TEST: tuple[dict[str, float], ...] = (
    _dampings((30.0,) * 8),
    _dampings((0.0, 30.0, 0.0, 30.0, 0.0, 30.0, 0.0, 30.0)),
    _dampings((0.0, 0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0)),
)
"""Held-out dampings (dynadapt's choice; the release has none): every block at 30 (three times the training
maximum: the blocks are about critically damped), blocks alternating 0 / 30 (a change at every block
boundary, every 4 m), and dampings rising 0, 5, ..., 30 along the track (the cheetah runs from training
values into ever stiffer ones)."""


def block_under(x: float) -> int:
    """Index of the block under ``x`` [m], or -1 (between blocks or off the pier)."""
    for k, (centre, half) in enumerate(PIER_BLOCKS):
        if abs(x - centre) <= half - 0.001:
            return k
    return -1


def _block_rgba(damping: float) -> str:
    """Light sand (damping 0) to dark brown (30 and more): the strips show each block's damping."""
    t = min(damping / 30.0, 1.0)
    light, dark = np.array([0.85, 0.75, 0.55]), np.array([0.35, 0.2, 0.08])
    r, g, b = light + t * (dark - light)
    return f"{r:.3f} {g:.3f} {b:.3f} 1"


class HalfCheetahPierEnv(_GrBALGroundEnv):
    """GrBAL's half-cheetah on floating blocks, damping per block. Obs float64 ``[20]``, action ``[6]``."""

    PARAMS = PIER_PARAMS
    FAMILY = "half_cheetah_pier"

    def __init__(
        self,
        render_mode: str | None = None,
        damping_0: float = 5.0,
        damping_1: float = 5.0,
        damping_2: float = 5.0,
        damping_3: float = 5.0,
        damping_4: float = 5.0,
        damping_5: float = 5.0,
        damping_6: float = 5.0,
        damping_7: float = 5.0,
        width: int = 320,
        height: int = 240,
    ) -> None:
        values = (damping_0, damping_1, damping_2, damping_3, damping_4, damping_5, damping_6, damping_7)
        super().__init__(render_mode, width, height, **_dampings(values))

    def model_xml(self) -> str:
        root, world, floor = _cheetah_tree()
        at = list(world).index(floor)
        world.remove(floor)
        floor.set("pos", "0 0 -0.25")  # drawn only, beneath the blocks' lowest position
        floor.set("contype", "0")
        floor.set("conaffinity", "0")
        blocks = [floor]
        for k, (centre, half) in enumerate(PIER_BLOCKS):
            damping = self.task_params[f"damping_{k}"]
            body = ET.Element("body", name=f"block_{k}", pos=f"{fmt(centre)} 0 0.05")
            ET.SubElement(
                body,
                "joint",
                name=f"blockz_{k}",
                type="slide",
                axis="0 0 1",
                range=f"{fmt(-BLOCK_RANGE)} {fmt(BLOCK_RANGE)}",
                stiffness=fmt(BLOCK_STIFFNESS),
                springref="0",
                damping=fmt(damping),
            )
            ET.SubElement(
                body,
                "geom",
                name=f"block_{k}",
                type="box",
                size=f"{fmt(half - 0.001)} 0.99 0.05",
                mass=fmt(BLOCK_NOMINAL_MASS),
                contype="1",
                conaffinity="1",
                rgba=_block_rgba(damping),
            )
            blocks.append(body)
        for i, element in enumerate(blocks):
            world.insert(at + i, element)
        return ET.tostring(root, encoding="unicode")

    def block_state(self) -> tuple[np.ndarray, np.ndarray]:
        """``(height [8], velocity [8])`` of the blocks' slide joints (not part of the observation)."""
        adr = [self.model.joint(f"blockz_{k}").qposadr[0] for k in range(len(PIER_BLOCKS))]
        dof = [self.model.joint(f"blockz_{k}").dofadr[0] for k in range(len(PIER_BLOCKS))]
        return self.data.qpos[adr].copy(), self.data.qvel[dof].copy()

    def _reset_ground(self) -> None:
        gravity = -float(self.model.opt.gravity[2])
        for k in range(len(PIER_BLOCKS)):
            joint = self.model.joint(f"blockz_{k}")
            mass = float(self.model.body_mass[self.model.body(f"block_{k}").id])
            rest = -mass * gravity / float(joint.stiffness[0])
            self.data.qpos[joint.qposadr[0]] = max(rest, -BLOCK_RANGE)
            self.data.qvel[joint.dofadr[0]] = 0.0

    def where(self) -> dict[str, Any]:
        return {"block": block_under(float(self.data.subtree_com[self._torso][0]))}


PIER_TRAIN_SEEDS = 20
"""Fixed training draws in the ``train`` split (:func:`pier_training_task` of seeds 0-19)."""

PIER_FAMILY = TaskFamily(
    name="half_cheetah_pier",
    env_id="dynadapt/HalfCheetahPier-v0",
    obs_dim=20,
    act_dim=6,
    episode_steps=1000,
    reward_fn=cheetah_cripple_reward,
    params=PIER_PARAMS,
    doc="GrBAL half-cheetah on 8 floating blocks (damping per block: train U(0, 10), test up to 30).",
    sequences={"uniform": tuple(_dampings((d,) * len(PIER_BLOCKS)) for d in (0.0, 10.0, 30.0))},
    splits={
        "train": tuple(pier_training_task(s) for s in range(PIER_TRAIN_SEEDS)),
        "test": PIER_TEST,
    },
    act_low=(-1.0,) * 6,
    act_high=(1.0,) * 6,
)
