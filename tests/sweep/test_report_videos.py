"""``dynadapt report`` of several run directories with their evaluation videos, played in headless
Chromium."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from dynadapt.cli import main
from dynadapt.runs import launch
from dynadapt.video import read_video
from tests.runs.test_videos import expected_frames, is_scene
from tests.runs.tiny import tiny
from tests.sweep.test_compare_report import CHROMIUM, busy, chromium_flags, decoded_images

ROD = np.array([204, 77, 77])
"""The colour of the pendulum's rod (the filmed scene)."""

PROBE = """<!DOCTYPE html><html><body>VIDEO<pre id="out">pending</pre><script>
const v = document.querySelector("video"), out = document.getElementById("out");
v.addEventListener("error", () => { out.textContent = "error " + (v.error && v.error.code); });
v.addEventListener("loadeddata", () => {
  const c = document.createElement("canvas"); c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext("2d"); g.drawImage(v, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data; let rod = 0;
  for (let i = 0; i < d.length; i += 4)
    if (Math.abs(d[i] - 204) + Math.abs(d[i + 1] - 77) + Math.abs(d[i + 2] - 77) < 60) rod++;
  out.textContent = `decoded ${v.videoWidth}x${v.videoHeight} ${v.duration.toFixed(2)}s rod ${rod}`;
});</script></body></html>"""
"""A test page (not the report, which has no script): Chromium decodes the report's video element and
counts the rod's pixels in its first frame."""


def rod_pixels(image: Image.Image) -> int:
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    return int((np.abs(rgb - ROD).sum(axis=2) < 60).sum())


def test_report_of_run_directories_embeds_their_videos_and_chromium_plays_them(tmp_path: Path) -> None:
    runs = []
    for seed in (0, 1):
        preset, cfg = tiny("mbrl", f"seed={seed}", "video_every=3")
        runs.append(tmp_path / f"pend{seed}")
        launch.start(preset, cfg, runs[-1], progress=False)
    assert main(["video", str(runs[1])]) == 0  # seed 1: the newest recording is dynadapt video's
    out = tmp_path / "report.html"
    assert main(["report", *map(str, runs), "--out", str(out)]) == 0
    assert (tmp_path / "report_compare" / "compare.md").is_file()
    page = out.read_text()
    assert not re.search(r'(src|href)="(?!data:)', page) and "<script" not in page  # still self-contained
    plots = decoded_images(page)
    assert len(plots) == 2  # the learning curves and the headline figure
    assert sum(map(rod_pixels, plots)) == 0  # on screen, the rod's colour can only come from the videos
    videos = re.findall(r'<video [^>]*src="data:video/mp4;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(videos) == 2
    assert "pets-pendulum, seed 0: step0003_task0.mp4" in page and "seed 1: last_task0.mp4" in page
    for k, blob in enumerate(videos):
        (tmp_path / f"embedded{k}.mp4").write_bytes(base64.b64decode(blob, validate=True))
        frames = read_video(tmp_path / f"embedded{k}.mp4")
        assert len(frames) == expected_frames(cfg, 1) and all(map(is_scene, frames))

    flags = chromium_flags(tmp_path)
    probe = tmp_path / "probe.html"
    element = re.search(r"<video [^>]*></video>", page)
    assert element is not None
    probe.write_text(PROBE.replace("VIDEO", element[0]))
    dom = subprocess.run(
        [CHROMIUM, *flags, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    state = re.search(r'<pre id="out">([^<]*)</pre>', dom)
    assert state is not None and state[1].startswith("decoded 320x"), dom[-500:]
    assert int(state[1].rsplit(" ", 1)[1]) > 200  # the rod is in the decoded frame

    shot = tmp_path / "report.png"
    subprocess.run(
        [CHROMIUM, *flags, "--autoplay-policy=no-user-gesture-required", "--virtual-time-budget=10000",
         f"--screenshot={shot}", "--window-size=1280,3600", out.resolve().as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    screen = Image.open(shot)
    share, colours = busy(screen)
    assert share > 0.05 and colours > 200, (share, colours)
    assert rod_pixels(screen) > 2 * 200  # both videos show their pendulum on the page
