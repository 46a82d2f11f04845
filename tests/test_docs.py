"""The documentation's videos: one per task family, made by docs/videos/make.sh, small, decodable and not
blank. (The site itself is built, its examples executed and its warnings made errors, by `make docs`.)"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from dynadapt.envs import family_names
from dynadapt.envs.registry import OPTIONAL_FAMILIES
from dynadapt.video import read_video

EVERY_FAMILY = sorted({*family_names(), *(name for _, name, _ in OPTIONAL_FAMILIES)})
"""The registered families and those of optional extras (their videos are made in the extra's environment)."""

DOCS = Path(__file__).resolve().parent.parent / "docs"
VIDEOS = DOCS / "videos"


def test_the_video_script_films_every_family() -> None:
    filmed = re.findall(r"^\s*film \S+ (\S+)", (VIDEOS / "make.sh").read_text(), flags=re.MULTILINE)
    assert sorted(filmed) == EVERY_FAMILY
    gallery = (DOCS / "index.md").read_text()
    assert all(f'src="videos/{name}.mp4"' in gallery for name in EVERY_FAMILY)


@pytest.mark.parametrize("name", EVERY_FAMILY)
def test_every_family_has_a_small_video_of_an_episode(name: str) -> None:
    frames = read_video(VIDEOS / f"{name}.mp4")
    assert len(frames) >= 20
    # the scene (below the banner) changes and is never blank; the banner has text
    scenes = [f[-180:].astype(np.int16) for f in frames]
    assert all(s.std() > 3 and np.ptp(s) > 60 for s in scenes)
    assert any(np.abs(scenes[0] - s).mean() > 1 for s in scenes[1:])
    assert all(f[:-180].min() < 90 for f in frames)


def test_the_videos_stay_small() -> None:
    sizes = {p.name: p.stat().st_size for p in VIDEOS.iterdir() if p.suffix in (".mp4", ".gif")}
    assert sum(sizes.values()) < 4_000_000, sizes
    assert max(sizes.values()) < 1_500_000, sizes
