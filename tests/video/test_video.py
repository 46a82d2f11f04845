"""Filming envs, the annotated frames and the MP4 / GIF files (real MuJoCo rendering, real ffmpeg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dynadapt.envs import get_family, set_task
from dynadapt.errors import DynadaptError
from dynadapt.video import Camera, clip_frames, encode, read_video, side_by_side, write_video
from dynadapt.video.frames import HOLD_S, RED


def film_cheetah(steps: int = 12, switch: int = 5) -> Camera:
    """A crippled half-cheetah episode of random actions whose front shin is crippled at step ``switch``."""
    camera = Camera(64, 48, label="task 0: half_cheetah_cripple")
    env = get_family("half_cheetah_cripple").make()
    filmed = camera.wrap(env)
    filmed.reset(seed=0)
    filmed.action_space.seed(0)
    for t in range(steps):
        if t == switch:
            set_task(filmed, crippled_joint="fshin")
        filmed.step(filmed.action_space.sample())
    camera.release()
    return camera


def test_a_filmed_episode_has_a_frame_per_state_its_returns_and_its_change() -> None:
    camera = film_cheetah()
    (clip,) = camera.clips
    assert len(clip.frames) == 13 and clip.steps == 12 and clip.frames[0].shape == (48, 64, 3)
    assert clip.returns[0] == 0.0 and len(clip.returns) == 13 and clip.ret == clip.returns[-1]
    assert all(f.std() > 5 for f in clip.frames)  # a scene, not a blank frame
    assert not np.array_equal(clip.frames[0], clip.frames[-1])  # the cheetah moved
    (change,) = clip.changes
    assert change.frame == 5 and change.text == "crippled_joint none -> fshin"
    assert clip.params["crippled_joint"] == "none" and change.params["crippled_joint"] == "fshin"


def test_release_gives_the_env_back() -> None:
    env = get_family("cartpole").make()
    camera = Camera(64, 48)
    filmed = camera.wrap(env)
    filmed.reset(seed=1)
    filmed.step(filmed.action_space.sample())
    base = env.unwrapped
    assert base.render_mode == "rgb_array" and (base.width, base.height) == (64, 48)
    camera.release()
    assert base.render_mode is None and (base.width, base.height) == (320, 240)
    assert len(camera.clips[0].frames) == 2


def test_frames_print_the_task_and_mark_the_change() -> None:
    camera = film_cheetah()
    clip = camera.clips[0]
    frames = clip_frames(clip, 64, 48, caption="after task 0")
    hold = round(HOLD_S * clip.fps)
    assert len(frames) == 13 + hold and all(np.array_equal(f, frames[12]) for f in frames[13:])
    height, width, _ = frames[0].shape
    assert width % 16 == 0 and height % 16 == 0 and height > 48
    banner = height - 48
    red = [int((np.abs(f.astype(int) - RED).sum(axis=2) < 40).sum()) for f in frames[:13]]
    # a red border (and red text) from the change on, only the progress bar's red tick before it
    assert max(red[:5]) < min(red[5:10]) and red[5] > 2 * (48 + 64)
    assert frames[0][:banner].min() < 100  # dark text in the banner
    assert not np.array_equal(frames[0][:banner], frames[1][:banner])  # the step and return change


def test_side_by_side_holds_the_shorter_sequence() -> None:
    a = [np.full((32, 16, 3), 10, np.uint8)] * 3
    b = [np.full((48, 32, 3), 200, np.uint8)] * 5
    out = side_by_side(a, b, gap=16)
    assert len(out) == 5 and out[4].shape == (48, 16 + 16 + 32, 3)
    assert (out[4][:32, :16] == 10).all() and (out[4][32:, :16] == 255).all()  # padded below
    assert (out[4][:, 32:] == 200).all()


def test_mp4_and_gif_round_trip(tmp_path: Path) -> None:
    frames = clip_frames(film_cheetah().clips[0], 64, 48)
    mp4 = write_video(tmp_path / "clip.mp4", frames, fps=20)
    gif = write_video(tmp_path / "clip.gif", frames, fps=20)
    decoded = read_video(mp4)
    assert len(decoded) == len(frames) and decoded[0].shape == frames[0].shape
    assert np.abs(decoded[3].astype(int) - frames[3]).mean() < 8  # lossy, but the same picture
    assert read_video(gif)[0].shape == frames[0].shape
    assert not list(tmp_path.glob(".*"))  # written atomically: no temporary file left
    with pytest.raises(DynadaptError, match="unknown video format"):
        encode(frames, 20, "avi")
