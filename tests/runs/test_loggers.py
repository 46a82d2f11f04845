"""Live metrics: TensorBoard event files read back with TensorBoard's own reader, and a W&B offline run."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

import pytest

from dynadapt.errors import DynadaptError
from dynadapt.runs import launch
from dynadapt.runs.loggers import scalars
from dynadapt.runs.rundir import RunDir
from tests.runs.interrupt import start_killed
from tests.runs.tiny import tiny


def read_events(logdir: Path) -> Any:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    return events


def test_tensorboard_holds_the_metrics_plots_and_videos_of_a_killed_and_resumed_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    preset, cfg = tiny("mbrl", "logger=tensorboard", "video_every=2")
    start_killed(monkeypatch, preset, cfg, tmp_path / "run", 3)
    launch.resume(tmp_path / "run", progress=False)

    rows = RunDir(tmp_path / "run").read_metrics()
    assert len(list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))) == 2  # one per process
    events = read_events(tmp_path / "run" / "tensorboard")
    tags = events.Tags()
    expected = {name for row in rows for name in scalars(row)}
    assert expected <= set(tags["scalars"]) and "train/return" in expected and "eval/return" in expected
    for name in expected:  # every row once, as metrics.jsonl has it (the row the kill cut is not repeated)
        logged = [(e.step, e.value) for e in events.Scalars(name)]
        written = [(i, scalars(row)[name]) for i, row in enumerate(rows, 1) if name in scalars(row)]
        assert [s for s, _ in logged] == [s for s, _ in written], name
        assert [v for _, v in logged] == pytest.approx([v for _, v in written], rel=1e-6), name
    assert "plots/learning_curve" in tags["images"]
    plot = events.Images("plots/learning_curve")[-1]
    assert plot.step == len(rows) and plot.width > 300 and plot.encoded_image_string[:4] == b"\x89PNG"
    videos = [t for t in tags["images"] if t.startswith("videos/")]
    assert videos and all(t.startswith("videos/step") for t in videos)
    gif = events.Images(videos[-1])[-1]
    assert gif.encoded_image_string[:6] == b"GIF89a" and gif.width == 320
    assert "config/text_summary" in tags["tensors"]


def test_a_missing_logger_package_is_one_actionable_line(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    missing = lambda name, *args: None if name == "wandb" else real(name, *args)  # noqa: E731
    monkeypatch.setattr(importlib.util, "find_spec", missing)
    with pytest.raises(DynadaptError, match=r"logger=wandb needs wandb: pip install 'dynadapt\[wandb\]'"):
        tiny("mbrl", "logger=wandb")
    with pytest.raises(DynadaptError, match=r"choose one of none, tensorboard, wandb"):
        tiny("mbrl", "logger=mlflow")


def test_wandb_offline_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("wandb", reason="wandb is optional (pip install 'dynadapt[wandb]')")
    monkeypatch.delenv("WANDB_MODE", raising=False)  # offline is the default
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    preset, cfg = tiny("mbrl", "logger=wandb", "video_every=3")
    launch.start(preset, cfg, tmp_path / "run", progress=False)
    folder = tmp_path / "run" / "wandb"
    (offline,) = folder.glob("offline-run-*")  # what `wandb sync` uploads later
    (log,) = offline.glob("run-*.wandb")
    assert log.name == f"run-{(folder / 'run-id').read_text().strip()}.wandb"
    # W&B's record log (protocol buffers, read by its Go core, not from Python), which W&B's service
    # process may still be writing when wandb.finish returns
    keys = (b"train/return", b"eval/return", b"plots/learning_curve", b"videos/step0003_task0", b"kind")
    deadline = time.monotonic() + 30
    while not all(key in log.read_bytes() for key in keys) and time.monotonic() < deadline:
        time.sleep(0.1)
    data = log.read_bytes()
    for key in keys:
        assert key in data, key
    media = offline / "files" / "media"
    (png,) = (media / "images").glob("plots/learning_curve_*.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert [v.suffix for v in (media / "videos").rglob("*.*")] == [".mp4"]
