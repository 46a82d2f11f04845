"""Building blocks of dynadapt's parametric envs.

* :class:`TaskEnvMixin`: the physical parameters of an env (``task_params``), validated against the
  family's :class:`~dynadapt.envs.family.Param` list, and :meth:`TaskEnvMixin.set_task`, which changes them
  at any step *without* resetting the episode (GrBAL's mid-episode perturbations, reference §7 port notes
  and pitfall G11).
* :class:`MujocoTaskEnv`: a MuJoCo env whose model is compiled from an XML *string* built from the task
  parameters (mass and inertia are derived at compile time, so sizes and masses must be changed in the XML
  and recompiled, never by editing ``geom_size`` at run time; reference §7 port notes).
* :func:`set_task` / :func:`get_task`: the same through any stack of Gymnasium wrappers.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces

from dynadapt.envs.family import Param, validate_params
from dynadapt.errors import DynadaptError


class TaskEnvMixin:
    """Mixin for envs with physical parameters. Subclasses set :attr:`PARAMS` and implement
    :meth:`_apply_task` (make the current :attr:`task_params` take effect, keeping the state)."""

    PARAMS: ClassVar[tuple[Param, ...]] = ()
    FAMILY: ClassVar[str] = "env"
    task_params: dict[str, Any]

    def _init_task(self, params: Mapping[str, Any]) -> None:
        self.task_params = validate_params(self.PARAMS, params, owner=f"family {self.FAMILY!r}")

    def set_task(self, **params: Any) -> None:
        """Change some physical parameters now, keeping the current state (no reset).

        Parameters not named keep their current values. Raises :class:`DynadaptError` for unknown names
        or invalid values (and then changes nothing).
        """
        merged = {**self.task_params, **params}
        self.task_params = validate_params(self.PARAMS, merged, owner=f"family {self.FAMILY!r}")
        self._apply_task()

    @abstractmethod
    def _apply_task(self) -> None: ...

    @abstractmethod
    def get_physics_state(self) -> np.ndarray:
        """The full simulator state as a flat float64 vector (enough to reproduce the next step)."""

    @abstractmethod
    def set_physics_state(self, state: np.ndarray) -> None:
        """Restore a state returned by :meth:`get_physics_state` (the observation is recomputed)."""


def _unwrap(env: gym.Env) -> TaskEnvMixin:
    base = env.unwrapped
    if not isinstance(base, TaskEnvMixin):
        raise DynadaptError(f"env {env} is not a dynadapt task env (it has no physical parameters to set)")
    return base


def set_task(env: gym.Env, **params: Any) -> None:
    """Change the physical parameters of ``env`` (through any wrappers) without resetting it.

    Example: ``set_task(env, crippled_joint="fshin")`` in the middle of an episode.
    """
    _unwrap(env).set_task(**params)


def get_task(env: gym.Env) -> dict[str, Any]:
    """The current physical parameters of ``env`` (a copy)."""
    return dict(_unwrap(env).task_params)


def fmt(x: float) -> str:
    """A float for an XML attribute (full precision, no exponent surprises)."""
    return repr(float(x))


class MujocoTaskEnv(TaskEnvMixin, gym.Env[np.ndarray, np.ndarray]):
    """A MuJoCo env compiled from an XML string that depends on the task parameters.

    Subclasses implement :meth:`model_xml`, :meth:`_get_obs`, :meth:`_reset_state` and ``step``; they may
    override :meth:`_action_space`. Observations are float64, actions float32 (as Gymnasium's MuJoCo envs).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}  # noqa: RUF012  (Gymnasium API)
    frame_skip: ClassVar[int] = 1
    render_camera: ClassVar[str | int] = -1
    """Camera used by :meth:`render`: a camera name in the XML, or -1 for the free camera."""

    def __init__(
        self, render_mode: str | None = None, width: int = 320, height: int = 240, **params: Any
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise DynadaptError(
                f"render_mode {render_mode!r} not supported; supported: {self.metadata['render_modes']}"
            )
        self.render_mode = render_mode
        self.width, self.height = width, height
        self._init_task(params)
        self.model = self._compile()
        self.data = mujoco.MjData(self.model)
        mujoco.mj_forward(self.model, self.data)
        self._renderer: mujoco.Renderer | None = None
        self.action_space = self._action_space()
        obs = self._get_obs()
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=obs.shape, dtype=np.float64)
        expected_fps = round(1.0 / self.dt)
        if self.metadata["render_fps"] != expected_fps:
            raise AssertionError(f"{type(self).__name__}: render_fps must be {expected_fps}")

    # --- model -------------------------------------------------------------------------------------------
    @abstractmethod
    def model_xml(self) -> str:
        """The MJCF model of the current :attr:`task_params`."""

    def _compile(self) -> mujoco.MjModel:
        return mujoco.MjModel.from_xml_string(self.model_xml())

    @property
    def dt(self) -> float:
        """Seconds per env step (``timestep * frame_skip``)."""
        return float(self.model.opt.timestep) * self.frame_skip

    def _action_space(self) -> spaces.Box:
        low, high = self.model.actuator_ctrlrange.T.astype(np.float32)
        return spaces.Box(low=low.copy(), high=high.copy(), dtype=np.float32)

    def _apply_task(self) -> None:
        state = self.get_physics_state()
        time = self.data.time
        self.model = self._compile()
        self.data = mujoco.MjData(self.model)
        self.data.time = time
        self.set_physics_state(state)
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    # --- state -------------------------------------------------------------------------------------------
    def get_physics_state(self) -> np.ndarray:
        return np.concatenate([self.data.qpos, self.data.qvel]).astype(np.float64)

    def set_physics_state(self, state: np.ndarray) -> None:
        nq, nv = self.model.nq, self.model.nv
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (nq + nv,):
            raise DynadaptError(f"physics state must have shape ({nq + nv},), got {state.shape}")
        self.data.qpos[:] = state[:nq]
        self.data.qvel[:] = state[nq:]
        mujoco.mj_forward(self.model, self.data)

    def do_simulation(self, ctrl: np.ndarray) -> None:
        """Apply ``ctrl`` for ``frame_skip`` physics steps."""
        self.data.ctrl[:] = ctrl
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)

    @abstractmethod
    def _get_obs(self) -> np.ndarray: ...

    @abstractmethod
    def _reset_state(self) -> None:
        """Set ``data.qpos``/``data.qvel`` (using ``self.np_random``) for a new episode."""

    def _reset_hook(self) -> None:
        """Called after the state was reset and forwarded (e.g. to remember the initial position)."""

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        self._reset_state()
        mujoco.mj_forward(self.model, self.data)
        self._reset_hook()
        return self._get_obs(), {}

    # --- rendering ---------------------------------------------------------------------------------------
    def render(self) -> np.ndarray | None:
        """An RGB frame ``uint8[H, W, 3]`` when ``render_mode="rgb_array"``, else ``None``."""
        if self.render_mode != "rgb_array":
            return None
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, height=self.height, width=self.width)
        self._renderer.update_scene(self.data, camera=self.render_camera)
        return self._renderer.render().copy()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def positive(name: str, default: float, doc: str, high: float = math.inf) -> Param:
    """A strictly positive numeric parameter (lower bound 1e-6)."""
    return Param(name, default, doc, low=1e-6, high=high)


def action_bounds(env: gym.Env) -> tuple[np.ndarray, np.ndarray]:
    """``(low[A], high[A])`` of an env's Box action space, as float32."""
    space = env.action_space
    if not isinstance(space, gym.spaces.Box):
        raise TypeError(f"planning needs a Box action space, got {type(space).__name__}")
    return np.asarray(space.low, dtype=np.float32), np.asarray(space.high, dtype=np.float32)
