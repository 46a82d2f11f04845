"""``dynadapt video`` on a tiny run of every kind, and ``video_every`` during a run (real rendering, real
MP4 files decoded with ffmpeg)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dynadapt.cli import main
from dynadapt.envs import get_family
from dynadapt.envs.streams import get_stream
from dynadapt.runs import launch
from dynadapt.runs.rundir import RunDir
from dynadapt.video import read_video
from dynadapt.video.frames import HOLD_S, RED
from tests.runs.test_resume import untimed
from tests.runs.tiny import TINY, tiny

SCENE = 240
"""Height of the filmed scene (the default size is 320 x 240), below the banner."""


def expected_frames(cfg: object, episodes: int) -> int:
    """Frames of ``episodes`` filmed episodes of the tiny config: one per state, the last one held."""
    if hasattr(cfg, "task"):
        family, steps = cfg.task.family, cfg.task.steps
    else:  # kind labelfree: episodes of the stream's length on its family
        stream = get_stream(cfg.stream)  # type: ignore[attr-defined]
        family, steps = get_family(stream.family), stream.episode_steps
    fps = family.make().unwrapped.metadata["render_fps"]
    return episodes * (steps + 1 + round(HOLD_S * fps))


def is_scene(frame: np.ndarray) -> bool:
    """A rendered scene (not a blank or uniform frame) below a banner with dark text."""
    scene, banner = frame[-SCENE:], frame[:-SCENE]
    coloured = (scene.max(axis=2) - scene.min(axis=2)).max() > 60
    return bool(scene.std() > 3.0 and coloured and banner.min() < 90)


def red_share(frame: np.ndarray) -> float:
    return float((np.abs(frame.astype(int) - RED).sum(axis=2) < 60).mean())


@pytest.mark.parametrize("kind", sorted(TINY))
def test_dynadapt_video_of_every_kind(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    preset, cfg = tiny(kind, "video_every=2")
    run = tmp_path / "run"
    launch.start(preset, cfg, run, progress=False)
    rows = len(RunDir(run).read_metrics())
    during = sorted(p.name for p in (run / "videos").glob("step*.mp4"))  # video_every, and at the end
    assert during and during[-1].startswith(f"step{rows:04d}_task")
    episodes = 2 if kind == "mbrl" else 1
    assert main(["video", str(run), "--episodes", str(episodes)]) == 0
    tasks = launch.restore(run).watch_tasks()
    files = sorted((run / "videos").glob("last_*.mp4"))
    assert [f.name for f in files] == [f"last_task{i}.mp4" for i in range(len(tasks))]
    assert capsys.readouterr().out.split() == [str(f) for f in files]
    for i, f in enumerate(files):
        frames = read_video(f)
        assert len(frames) == expected_frames(cfg, episodes), f.name
        assert all(is_scene(frame) for frame in frames), f.name
        # the continual kinds: an earlier task right after it was learned, beside the same episode now
        side_by_side = kind.endswith("continual") and i < len(tasks) - 1
        assert frames[0].shape[1] == (656 if side_by_side else 320), f.name
    if kind == "meta":  # the mid-episode change (task.switch_at=8) is marked: a red border from then on
        frames = read_video(files[0])
        assert max(map(red_share, frames[:8])) < 0.01 < min(map(red_share, frames[8:12]))


def test_video_options_and_a_run_in_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    preset, cfg = tiny("continual")
    run = tmp_path / "run"
    launch.start(preset, cfg, run, progress=False)
    kept = sorted(p.name for p in (run / "checkpoints").glob("task*"))
    assert kept == ["task0.safetensors", "task1.safetensors"]
    out = tmp_path / "films"
    with RunDir(run).lock():  # as if a process were still running it: filming reads, it takes no lock
        code = main(["video", str(run), "--checkpoint", "task0", "--task", "0", "--gif", "--out", str(out),
                     "--size", "160x120"])  # fmt: skip
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["task0_task0.gif", "task0_task0.mp4"]
    frames = read_video(out / "task0_task0.mp4")
    assert frames[0].shape[1] == 160 and len(frames) == expected_frames(cfg, 1)  # no later task: alone
    assert len(read_video(out / "task0_task0.gif")) > 1
    for bad, message in [
        (["--task", "5"], "no task 5 to film"),
        (["--checkpoint", "nope"], "no such checkpoint"),
        (["--size", "big"], "--size looks like"),
        (["--episodes", "0"], "episodes must be at least 1"),
    ]:
        assert main(["video", str(run), *bad]) == 2
        assert message in capsys.readouterr().err
    assert main(["video", str(tmp_path / "missing")]) == 2


@pytest.mark.parametrize("kind", ["mbrl", "continual", "meta"])
def test_video_every_changes_no_result(kind: str, tmp_path: Path) -> None:
    preset, cfg = tiny(kind)
    plain = launch.start(preset, cfg, tmp_path / "plain", progress=False)
    _, filmed_cfg = tiny(kind, "video_every=1")
    filmed = launch.start(preset, filmed_cfg, tmp_path / "filmed", progress=False)
    assert json.dumps(filmed, sort_keys=True) == json.dumps(plain, sort_keys=True)
    assert untimed(tmp_path / "filmed") == untimed(tmp_path / "plain")
    videos = sorted(p.name for p in (tmp_path / "filmed" / "videos").iterdir())
    rows = RunDir(tmp_path / "filmed").read_metrics()
    last = f"step{len(rows):04d}"
    assert videos and all(v.startswith("step") and v.endswith(".mp4") for v in videos)
    assert any(v.startswith(last) for v in videos)  # and at the end
    assert all(is_scene(f) for f in read_video(tmp_path / "filmed" / "videos" / videos[-1]))
