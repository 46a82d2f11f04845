"""Encoding and decoding video files with imageio: MP4 (H.264 through the ffmpeg that imageio-ffmpeg ships)
and GIF (through Pillow). imageio is imported on first use (``pip install 'dynadapt[video]'``; without it
the error says so). Files are written atomically (encoded in memory, then written under a
temporary name and renamed).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from dynadapt.errors import DynadaptError
from dynadapt.extras import require
from dynadapt.io import atomic_write_bytes

FORMATS = ("mp4", "gif")
GIF_MAX_FPS = 20.0
"""GIFs keep at most this many frames per second (every k-th frame), which keeps README animations small."""


def _imageio() -> Any:
    require("video", "videos")  # imageio, and imageio-ffmpeg, whose ffmpeg binary the FFMPEG plugin runs
    import imageio.v3 as iio

    return iio


def encode(frames: list[np.ndarray], fps: float, fmt: str) -> bytes:
    """The bytes of a ``fmt`` (``"mp4"`` or ``"gif"``) video of RGB ``frames`` (``uint8[H, W, 3]``, one
    size, for MP4 multiples of 16) played at ``fps`` frames per second."""
    if fmt not in FORMATS:
        raise DynadaptError(f"unknown video format {fmt!r}; known: {', '.join(FORMATS)}")
    if not frames:
        raise DynadaptError("a video needs at least one frame")
    iio, stack = _imageio(), np.stack(frames)
    if fmt == "gif":
        every = max(1, math.ceil(fps / GIF_MAX_FPS))
        shown = stack[::every]
        return iio.imwrite("<bytes>", shown, extension=".gif", duration=1000.0 * every / fps, loop=0)
    return iio.imwrite(
        "<bytes>",
        stack,
        extension=".mp4",
        plugin="FFMPEG",
        fps=fps,
        codec="libx264",
        macro_block_size=16,
        ffmpeg_log_level="error",
        output_params=["-movflags", "+faststart"],  # playable while it loads (the report's <video>)
    )


def write_video(path: str | os.PathLike[str], frames: list[np.ndarray], fps: float) -> Path:
    """Write ``frames`` to ``path`` (MP4 or GIF by its suffix) atomically; returns the path."""
    path = Path(path)
    atomic_write_bytes(path, encode(frames, fps, path.suffix.lstrip(".").lower()))
    return path


def read_video(path: str | os.PathLike[str]) -> list[np.ndarray]:
    """Every frame of an MP4 or GIF file as RGB ``uint8[H, W, 3]``."""
    iio, path = _imageio(), Path(path)
    if path.suffix.lower() == ".mp4":
        return [np.asarray(f)[..., :3] for f in iio.imiter(path, plugin="FFMPEG")]
    return [np.asarray(f)[..., :3] for f in iio.imiter(path)]
