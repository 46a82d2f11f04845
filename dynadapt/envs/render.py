"""Headless rendering of a task: an image strip of frames from one episode.

MuJoCo envs render offscreen with ``mujoco.Renderer``; on Linux without a display,
``dynadapt.envs`` selects ``MUJOCO_GL=egl`` before MuJoCo is imported (set ``MUJOCO_GL=osmesa`` for a pure
software renderer where EGL is unavailable). The pendulum draws its frames with NumPy.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dynadapt.checks import check_seed, need_int
from dynadapt.envs.registry import resolve_family
from dynadapt.errors import DynadaptError
from dynadapt.io import atomic_write_bytes, replaceable


def render_frames(
    family_or_env_id: str,
    params: Mapping[str, Any] | None = None,
    *,
    frames: int = 6,
    steps: int | None = None,
    seed: int = 0,
    width: int = 320,
    height: int = 240,
    policy: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[np.ndarray]:
    """``frames`` RGB frames ``uint8[H, W, 3]`` evenly spaced over ``steps`` steps of one episode.

    ``steps`` defaults to the episode length (at most 200). Actions come from ``policy(obs)``, or are drawn
    from the action space with ``seed``; the first frame shows the reset state.
    """
    family = resolve_family(family_or_env_id)
    need_int(frames, "frames", 1, 1000)
    check_seed(seed)
    need_int(width, "width", 1, 4096)
    need_int(height, "height", 1, 4096)
    steps = min(family.episode_steps, 200) if steps is None else need_int(steps, "steps", 0, 100_000)
    env = family.make(render_mode="rgb_array", **family.validate(params or {}))
    base: Any = env.unwrapped
    if hasattr(base, "width"):  # MuJoCo envs: size of the offscreen frame
        base.width, base.height = width, height
    try:
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        at = set(np.linspace(0, steps, frames).round().astype(int).tolist())
        out: list[np.ndarray] = []
        for t in range(steps + 1):
            if t in at:
                out.append(render_now(base))
            if t < steps:
                act = env.action_space.sample() if policy is None else policy(obs)
                obs, *_ = env.step(act)
        return out
    finally:
        env.close()


def render_now(env: Any) -> np.ndarray:
    """The current frame ``uint8[H, W, 3]`` of an env whose render mode is ``"rgb_array"``; an OpenGL
    failure is a :class:`DynadaptError` that suggests another ``MUJOCO_GL`` backend."""
    try:
        frame = env.render()
    except Exception as exc:  # OpenGL context errors are platform specific
        raise DynadaptError(
            f"headless rendering failed ({type(exc).__name__}: {exc}); try MUJOCO_GL=egl or MUJOCO_GL=osmesa"
        ) from exc
    if frame is None:
        raise DynadaptError("the env returned no frame")
    return np.asarray(frame, dtype=np.uint8)


def render_strip(
    family_or_env_id: str,
    params: Mapping[str, Any] | None,
    out_path: str | os.PathLike[str],
    *,
    frames: int = 6,
    steps: int | None = None,
    seed: int = 0,
    width: int = 320,
    height: int = 240,
    policy: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Path:
    """Render ``frames`` frames of one episode (random actions, or ``policy``) side by side into a PNG.

    The file is written atomically (temporary name, then rename), only over a regular file. Returns the
    path.
    """
    from PIL import Image

    out = Path(out_path)
    replaceable(out)  # before the work
    images = render_frames(
        family_or_env_id,
        params,
        frames=frames,
        steps=steps,
        seed=seed,
        width=width,
        height=height,
        policy=policy,
    )
    h = max(img.shape[0] for img in images)
    gap = np.full((h, 4, 3), 255, dtype=np.uint8)
    row: list[np.ndarray] = []
    for img in images:
        if img.shape[0] < h:
            img = np.pad(img, ((0, h - img.shape[0]), (0, 0), (0, 0)), constant_values=255)
        row += [img, gap]
    strip = np.concatenate(row[:-1], axis=1)
    png = io.BytesIO()
    Image.fromarray(strip).save(png, format="PNG")
    atomic_write_bytes(out, png.getvalue())
    return out
