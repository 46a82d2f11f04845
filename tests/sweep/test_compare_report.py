"""Comparison over seeds and the HTML report of a real sweep, rendered in headless Chromium."""

from __future__ import annotations

import base64
import io
import json
import math
import re
import shutil
import statistics
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dynadapt.sweep.compare import compare, numeric_figures
from dynadapt.sweep.stats import describe, t_quantile
from tests.sweep.conftest import dynadapt, summaries

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
T975 = {1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 9: 2.2622, 30: 2.0423}
"""Two-sided 95% Student-t quantiles from the published tables."""


@pytest.mark.parametrize(("df", "expected"), sorted(T975.items()))
def test_t_quantile_matches_the_tables(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-4)


def test_describe_mean_sd_and_interval() -> None:
    s = describe([1.0, 2.0, 3.0, 4.0, math.nan])
    assert s.n == 4 and s.mean == 2.5 and s.std == pytest.approx(statistics.stdev([1, 2, 3, 4]))
    assert s.ci95 == pytest.approx(T975[3] * s.std / 2, rel=1e-4)
    one = describe([7.0])
    assert one.n == 1 and one.mean == 7.0 and math.isnan(one.ci95)


def test_compare_aggregates_every_numeric_figure_over_seeds(local_sweep: Path, tmp_path: Path) -> None:
    result = compare([local_sweep], tmp_path / "cmp")
    assert {m.label for m in result.methods} == {
        f"{p} mpc.horizon={h}" for p in ("pets-pendulum", "pets-cartpole") for h in (3, 4)
    }
    runs = summaries(local_sweep)
    for m in result.methods:
        assert [r.seed for r in m.runs] == [0, 1]
        name = m.label.replace(" ", "__")
        values = [runs[f"{name}__s{s}"]["final_eval_return"] for s in (0, 1)]
        st = m.stats["final_eval_return"]
        assert st.n == 2 and st.mean == pytest.approx(statistics.mean(values))
        assert st.std == pytest.approx(statistics.stdev(values))
        assert st.ci95 == pytest.approx(T975[1] * statistics.stdev(values) / math.sqrt(2), rel=1e-4)
        # every numeric figure of the summaries is there
        assert set(numeric_figures(runs[f"{name}__s0"])) <= set(m.stats)
    assert result.figures[0] == "final_eval_return"
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| final_eval_return |" in md and "pets-cartpole mpc.horizon=4 (n=2)" in md
    data = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert len(data["methods"]) == 4 and data["methods"][0]["stats"]["final_eval_return"]["n"] == 2
    assert {p.name for p in result.plots} == {"learning_curves.png", "headline.png"}


def decoded_images(page: str) -> list[Image.Image]:
    blobs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    return [Image.open(io.BytesIO(base64.b64decode(b, validate=True))) for b in blobs]


def busy(img: Image.Image) -> tuple[float, int]:
    """(share of pixels that are not background white, number of distinct colours)."""
    rgb = np.asarray(img.convert("RGB"), dtype=np.int16)
    not_white = (rgb < 245).any(axis=2).mean()
    colours = len(np.unique(rgb.reshape(-1, 3), axis=0))
    return float(not_white), colours


def test_report_is_self_contained_and_renders_its_plots_in_chromium(
    local_sweep: Path, tmp_path: Path
) -> None:
    from dynadapt.cli import main

    out = tmp_path / "report.html"
    assert main(["report", str(local_sweep), "--out", str(out)]) == 0
    page = out.read_text()
    # offline: no external resource of any kind
    assert not re.search(r'(src|href)="(?!data:)', page) and "<script" not in page
    images = decoded_images(page)
    assert len(images) == 2
    for img in images:
        img.load()
        assert img.width > 300 and img.height > 200
        share, colours = busy(img)
        assert share > 0.05 and colours > 50, (share, colours)
    for name in (
        "pets-pendulum mpc.horizon=3",
        "final_eval_return",
        "resolved configs",
        "&quot;horizon&quot;",
    ):
        assert name.lower() in page.lower(), name

    if CHROMIUM is None:
        pytest.skip("chromium is not installed (CI installs it: apt-get install -y chromium)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chrome-profile'}",
    ]
    url = out.resolve().as_uri()
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120
    ).stdout
    assert dom.count("<img") == 2 and dom.count("<table") == 2  # the trials and the comparison
    shot = tmp_path / "shot.png"
    subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1280,2600", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    screen = Image.open(shot)
    assert screen.size == (1280, 2600)
    share, colours = busy(screen)
    assert share > 0.05 and colours > 200, (share, colours)
    # The plots are on screen: many pixels of the first two methods' line colours (matplotlib C0, C1).
    rgb = np.asarray(screen.convert("RGB"), dtype=np.int16)
    lines = sum(
        int((np.abs(rgb - np.array(c)).sum(axis=2) < 60).sum()) for c in ((31, 119, 180), (255, 127, 14))
    )
    assert lines > 500, lines


def test_the_same_trials_from_two_sweeps_are_not_pooled(local_sweep: Path, tmp_path: Path) -> None:
    copy = tmp_path / "again"
    shutil.copytree(local_sweep, copy, ignore=shutil.ignore_patterns("compare", "report.html"))
    result = compare([local_sweep, copy], tmp_path / "cmp")
    assert len(result.methods) == 8 and all(len(m.runs) == 2 for m in result.methods)
    assert {m.label.split(":")[0] for m in result.methods} == {local_sweep.name, "again"}


def test_compare_of_run_directories_groups_them_by_preset(local_sweep: Path, tmp_path: Path) -> None:
    runs = [local_sweep / f"pets-cartpole__mpc.horizon=4__s{s}" for s in (0, 1)]
    result = compare(runs, tmp_path / "cmp")
    assert [m.label for m in result.methods] == ["pets-cartpole"] and len(result.methods[0].runs) == 2


def test_continual_runs_get_reward_matrices_side_by_side_and_forgetting_bars(tmp_path: Path) -> None:
    tiny = [
        "task.tasks=2",
        "task.episode_steps=15",
        "random_steps=30",
        "episodes=1",
        "train_every=20",
        "train_steps=3",
        "buffer_capacity=25",
        "pred_horizon=3",
        "eval.episodes=1",
        "planner.population=16",
        "planner.elites=4",
        "planner.iterations=1",
        "mpc.horizon=5",
    ]
    out = tmp_path / "continual"
    proc = dynadapt("sweep", "hypercrl-pendulum", "finetune-pendulum", "--out", str(out), "--quiet", *tiny)
    assert proc.returncode == 0, proc.stderr
    result = compare([out])
    assert [m.label for m in result.methods] == ["hypercrl-pendulum", "finetune-pendulum"]
    assert result.figures[0] == "final_average_return" and "average_forgetting" in result.figures
    plots = {p.stem: Image.open(p) for p in result.plots}
    assert set(plots) == {"learning_curves", "headline", "reward_matrices", "forgetting"}
    matrices = plots["reward_matrices"]
    assert matrices.width > 1.8 * matrices.height  # two matrices side by side (and a colour bar)
    for img in plots.values():
        share, colours = busy(img)
        assert share > 0.03 and colours > 30, (share, colours)
