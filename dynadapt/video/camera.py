"""Filming the episodes an agent plays: a Gymnasium wrapper that records a frame after every reset and step.

A :class:`Camera` hands out :class:`Filmed` wrappers (``camera.wrap(env)``, or ``camera.filming(obj)``,
which wraps the env an object keeps in ``obj.env`` for the duration of a ``with`` block). Every reset of a
filmed env starts a :class:`Clip`; every step adds the frame of the new state, the return so far and the
task parameters the env has then, so that a change of the physical parameters in the middle of an episode
(``set_task``, e.g. GrBAL's crippled joint) is recorded at the step it took effect. Frames come from the
env's own renderer (MuJoCo offscreen through EGL or OSMesa; the pendulum is drawn with NumPy): a filmed env
created without a render mode renders ``rgb_array`` frames of the camera's size while it is filmed, and is
given its render mode and size back by :meth:`Camera.release`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from dynadapt.envs.base import TaskEnvMixin
from dynadapt.envs.render import render_now


@dataclass
class Change:
    """A change of the task parameters in the middle of an episode."""

    frame: int
    """Index of the first frame whose next step runs under the new parameters (the state at that step)."""
    text: str
    """What changed, e.g. ``"crippled_joint none -> fshin"``."""
    params: dict[str, Any]
    """The task parameters from then on."""


@dataclass
class Clip:
    """One filmed episode: a frame per state (reset and every step) and what to print on them."""

    label: str
    """The task, e.g. ``"task 1: pendulum(gravity=12)"``."""
    fps: float
    """Frames per second of real time (the env's ``render_fps``)."""
    params: dict[str, Any] = field(default_factory=dict)
    """The task parameters at the episode's start."""
    frames: list[np.ndarray] = field(default_factory=list)
    """RGB frames ``uint8[H, W, 3]``; frame t shows the state after t steps."""
    returns: list[float] = field(default_factory=list)
    """The return collected up to each frame (0 at the reset)."""
    changes: list[Change] = field(default_factory=list)
    """Mid-episode changes of the task parameters."""

    @property
    def ret(self) -> float:
        """The episode's return (so far)."""
        return self.returns[-1] if self.returns else 0.0

    @property
    def steps(self) -> int:
        return max(0, len(self.frames) - 1)


def change_text(before: dict[str, Any], after: dict[str, Any]) -> str:
    """``"name old -> new"`` for every parameter that differs (floats in ``%g``)."""

    def value(x: Any) -> str:
        return f"{x:g}" if isinstance(x, float) else str(x)

    return ", ".join(
        f"{k} {value(before.get(k))} -> {value(v)}" for k, v in after.items() if before.get(k) != v
    )


def _task_params(env: gym.Env) -> dict[str, Any]:
    base = env.unwrapped
    return dict(base.task_params) if isinstance(base, TaskEnvMixin) else {}


class Camera:
    """Records the episodes played in the envs it films, one :class:`Clip` per reset.

    ``width`` x ``height`` is the size of the frames asked of MuJoCo envs (the pendulum draws a square of
    the smaller side); :attr:`label` names the clips started from now on.
    """

    def __init__(self, width: int = 320, height: int = 240, label: str = "") -> None:
        self.width, self.height, self.label = width, height, label
        self.clips: list[Clip] = []
        self._restore: dict[int, tuple[Any, dict[str, Any]]] = {}

    def wrap(self, env: gym.Env) -> Filmed:
        """``env`` filmed by this camera (until :meth:`release`)."""
        base: Any = env.unwrapped
        if id(base) not in self._restore and getattr(base, "render_mode", None) is None:
            saved = {k: getattr(base, k) for k in ("render_mode", "width", "height") if hasattr(base, k)}
            self._restore[id(base)] = (base, saved)
            base.render_mode = "rgb_array"
            if "width" in saved:
                base.width, base.height = self.width, self.height
        return Filmed(env, self)

    @contextmanager
    def filming(self, obj: Any, attr: str = "env") -> Iterator[None]:
        """Film the env ``obj`` keeps in ``attr`` while the block runs (the attribute is restored after)."""
        env = getattr(obj, attr)
        setattr(obj, attr, self.wrap(env))
        try:
            yield
        finally:
            setattr(obj, attr, env)

    def release(self) -> None:
        """Give every filmed env its render mode and frame size back and free its renderer."""
        for base, saved in self._restore.values():
            base.close()  # dynadapt's envs: frees the offscreen renderer only
            for k, v in saved.items():
                setattr(base, k, v)
        self._restore.clear()

    # ------------------------------------------------------------------------------ called by Filmed
    def start(self, env: gym.Env) -> None:
        fps = float(env.unwrapped.metadata.get("render_fps", 30))
        self.clips.append(Clip(self.label, fps, _task_params(env)))
        self.shoot(env, 0.0)

    def before_step(self, env: gym.Env) -> None:
        """Record a change of the task parameters made since the last frame (it acts from this state)."""
        clip = self.clips[-1]
        now, last = _task_params(env), clip.changes[-1].params if clip.changes else clip.params
        if now != last:
            clip.changes.append(Change(len(clip.frames) - 1, change_text(last, now), now))

    def shoot(self, env: gym.Env, reward: float) -> None:
        clip = self.clips[-1]
        clip.frames.append(render_now(env.unwrapped))
        clip.returns.append(clip.ret + reward)


class Filmed(gym.Wrapper[Any, Any, Any, Any]):
    """An env whose episodes a :class:`Camera` records (a frame after the reset and after every step)."""

    def __init__(self, env: gym.Env, camera: Camera) -> None:
        super().__init__(env)
        self.camera = camera

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self.camera.start(self.env)
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        self.camera.before_step(self.env)
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.camera.shoot(self.env, float(reward))
        return obs, reward, terminated, truncated, info
