"""Headless image strips of every family."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dynadapt.envs.family import TaskFamily
from dynadapt.envs.render import render_frames, render_strip
from dynadapt.errors import DynadaptError, UnknownNameError


def test_render_strip(family: TaskFamily, tmp_path: Path) -> None:
    out = tmp_path / "strips" / f"{family.name}.png"
    try:
        path = render_strip(family.env_id, {}, out, frames=3, steps=6, width=64, height=48)
    except DynadaptError as exc:  # no offscreen OpenGL on this machine
        pytest.skip(str(exc))
    image = np.asarray(Image.open(path))
    assert path == out and image.ndim == 3 and image.shape[2] in (3, 4)
    assert image.shape[1] >= 3 * 48  # three frames side by side
    assert image.std() > 1.0  # not a blank image
    assert not list(out.parent.glob(".*"))  # no temporary file left behind


def test_render_frames_show_the_task(tmp_path: Path) -> None:
    try:
        short = render_frames("cartpole", {"pole_length": 0.4}, frames=1, steps=0, width=64, height=48)
        long = render_frames("cartpole", {"pole_length": 1.2}, frames=1, steps=0, width=64, height=48)
    except DynadaptError as exc:
        pytest.skip(str(exc))
    assert short[0].shape == (48, 64, 3)
    assert not np.array_equal(short[0], long[0])


def test_render_errors(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="task family or env id"):
        render_strip("dynadapt/Nope-v0", {}, tmp_path / "x.png")
    with pytest.raises(DynadaptError, match="pole_mass"):
        render_strip("cartpole", {"pole_mass": -1}, tmp_path / "x.png")
    with pytest.raises(DynadaptError, match="frames"):
        render_frames("cartpole", {}, frames=0)
