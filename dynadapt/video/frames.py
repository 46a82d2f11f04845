"""The frames of a video: each filmed state under a banner that prints the task, the step and the return.

Layout of a frame (width and height rounded up to multiples of 16, as video encoders want)::

    +--------------------------------------------+
    | caption (e.g. "after task 0")               |  only where the clip has one
    | task 1: pendulum(gravity=12)                |
    | step 57/200   return -321.4   changed ...   |  red from a mid-episode change on
    | [progress bar, red ticks at the changes]    |
    +--------------------------------------------+
    |            the rendered scene              |  red border for a second after a change
    +--------------------------------------------+

:func:`clip_frames` draws one episode (its last frame held for half a second), :func:`side_by_side` puts two
sequences next to each other (the shorter one holds its last frame).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dynadapt.video.camera import Clip

HOLD_S = 0.5
"""Seconds the last frame of an episode is held."""
MARK_S = 1.0
"""Seconds the scene keeps a red border after a mid-episode change."""
RED, INK, MUTED, BAR = (200, 30, 30), (20, 20, 20), (95, 95, 95), (50, 110, 200)


def _multiple(n: int, of: int = 16) -> int:
    return of * math.ceil(n / of)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _fit(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: float) -> str:
    """``text`` cut (with an ellipsis) to ``width`` pixels."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def fit_scene(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """``frame`` on a ``height`` x ``width`` canvas: scaled down if it is larger, centred, the rest filled
    with the colour of its top-left pixel (the scene's background)."""
    h, w = frame.shape[:2]
    if h > height or w > width:
        scale = min(height / h, width / w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        frame = np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))
        h, w = frame.shape[:2]
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = frame[0, 0, :3]
    top, left = (height - h) // 2, (width - w) // 2
    canvas[top : top + h, left : left + w] = frame[..., :3]
    return canvas


def clip_frames(clip: Clip, width: int, height: int, caption: str = "") -> list[np.ndarray]:
    """The frames of ``clip`` (scenes fitted to ``width`` x ``height``) under their banners, and the last
    one held for :data:`HOLD_S` seconds."""
    size = max(9, round(width / 27))
    font, line = _font(size), size + 4
    lines = [caption, clip.label] if caption else [clip.label]
    rows = len(lines) + 1 + bool(clip.changes)  # + the status line, + the change line
    out_w = _multiple(width)
    banner = _multiple(height + line * rows + 12) - height
    steps, mark = max(clip.steps, 1), max(1, round(MARK_S * clip.fps))
    frames = []
    for t, scene in enumerate(clip.frames):
        image = Image.new("RGB", (out_w, banner + height), "white")
        image.paste(Image.fromarray(fit_scene(scene, out_w, height)), (0, banner))
        draw = ImageDraw.Draw(image)
        past = [c for c in clip.changes if c.frame <= t]
        texts = [(text, MUTED if k < len(lines) - 1 else INK) for k, text in enumerate(lines)]
        texts.append((f"step {t}/{clip.steps}   return {clip.returns[t]:.1f}", INK))
        if past:
            texts.append((f"changed at step {past[-1].frame}: {past[-1].text}", RED))
        for k, (text, colour) in enumerate(texts):
            draw.text((4, 3 + k * line), _fit(text, font, out_w - 8), fill=colour, font=font)
        bar_y = banner - 6
        draw.rectangle((4, bar_y, out_w - 5, bar_y + 3), fill=(225, 225, 225))
        draw.rectangle((4, bar_y, 4 + round((out_w - 9) * t / steps), bar_y + 3), fill=BAR)
        for c in clip.changes:
            x = 4 + round((out_w - 9) * c.frame / steps)
            draw.rectangle((x - 1, bar_y - 3, x + 1, bar_y + 5), fill=RED)
        if any(c.frame <= t < c.frame + mark for c in clip.changes):
            draw.rectangle((0, banner, out_w - 1, banner + height - 1), outline=RED, width=4)
        frames.append(np.asarray(image))
    return frames + [frames[-1]] * round(HOLD_S * clip.fps)


def side_by_side(left: list[np.ndarray], right: list[np.ndarray], gap: int = 16) -> list[np.ndarray]:
    """Frame k of ``left`` next to frame k of ``right`` (a white gap between); the shorter sequence holds
    its last frame."""
    n = max(len(left), len(right))
    height = max(left[0].shape[0], right[0].shape[0])
    space = np.full((height, gap, 3), 255, dtype=np.uint8)

    def at(frames: list[np.ndarray], k: int) -> np.ndarray:
        frame = frames[min(k, len(frames) - 1)]
        pad = height - frame.shape[0]
        return np.pad(frame, ((0, pad), (0, 0), (0, 0)), constant_values=255) if pad else frame

    return [np.concatenate([at(left, k), space, at(right, k)], axis=1) for k in range(n)]
