"""Headless rendering of a task: an image strip of frames from one episode.

MuJoCo envs render offscreen with ``mujoco.Renderer``; on Linux without a display,
``dynadapt.envs`` selects ``MUJOCO_GL=egl`` before MuJoCo is imported (set ``MUJOCO_GL=osmesa`` for a pure
software renderer where EGL is unavailable). The pendulum draws its frames with NumPy.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dynadapt.envs.registry import resolve_family
from dynadapt.errors import DynadaptError


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
    if frames < 1:
        raise DynadaptError(f"frames must be at least 1, got {frames}")
    steps = min(family.episode_steps, 200) if steps is None else steps
    env = family.make(render_mode="rgb_array", **dict(params or {}))
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
                out.append(_render(base))
            if t < steps:
                act = env.action_space.sample() if policy is None else policy(obs)
                obs, *_ = env.step(act)
        return out
    finally:
        env.close()


def _render(env: Any) -> np.ndarray:
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

    The file is written atomically (temporary name, then rename). Returns the path.
    """
    from PIL import Image

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
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        Image.fromarray(strip).save(tmp, format="PNG")
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
