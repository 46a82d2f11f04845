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

from dynadapt.sweep.compare import (
    Run,
    aggregate,
    compare,
    group,
    improvements,
    label_tasks,
    markdown_table,
    numeric_figures,
)
from dynadapt.sweep.compare_plots import (
    forgetting_of,
    plot_forgetting,
    plot_headline,
    plot_prediction_error_matrices,
    plot_reward_matrices,
    retention_of,
)
from dynadapt.sweep.stats import describe, t_quantile
from tests.runs.tiny import TINY
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
        # the IQM (n = 2: nothing trimmed, the mean) with its bootstrap interval, within the seeds' range
        iv = m.iqm["final_eval_return"]
        assert iv.estimate == pytest.approx(statistics.mean(values))
        assert min(values) <= iv.low <= iv.estimate <= iv.high <= max(values)
        assert {r.task for r in m.runs} == {m.label.split("-")[1].split()[0]}  # pendulum / cartpole
    assert result.figures[0] == "final_eval_return"
    md = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| final_eval_return |" in md and "pets-cartpole mpc.horizon=4 (n=2)" in md
    assert "| final_eval_return IQM |" in md and "## P(row > column): final_eval_return" in md
    data = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert len(data["methods"]) == 4 and data["methods"][0]["stats"]["final_eval_return"]["n"] == 2
    assert data["bootstrap"]["seed"] == 0 and data["bootstrap"]["resamples"] >= 1000
    assert set(data["tasks"]) == {"pendulum", "cartpole"}
    assert set(data["methods"][0]["iqm"]["final_eval_return"]) == {"estimate", "low", "high"}
    # P(row > column): the methods of one environment against each other, not across environments
    (poi,) = data["probability_of_improvement"]
    assert poi["figure"] == "final_eval_return" and len(poi["methods"]) == 4
    env = [label.split()[0] for label in poi["methods"]]
    for a in range(4):
        for b in range(4):
            cell = poi["p"][a][b]
            if a == b or env[a] != env[b]:
                assert cell is None
            else:  # P(A > B) + P(B > A) = 1 (ties count 1/2 both ways)
                assert cell["estimate"] + poi["p"][b][a]["estimate"] == pytest.approx(1.0)
                assert cell["low"] <= cell["estimate"] <= cell["high"]
    # the same numbers again (fixed bootstrap seed)
    again = compare([local_sweep], tmp_path / "cmp2")
    assert again.markdown == result.markdown
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


def chromium_flags(tmp_path: Path) -> list[str]:
    """Headless Chromium's flags (an own profile, no network of its own); skips the test without it."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (CI installs it: apt-get install -y chromium)")
    return [
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
        "final_eval_return IQM",
        "P(row &gt; column): final_eval_return",
        "bootstrap intervals: 10000 resamples, seed 0",
        "resolved configs",
        "&quot;horizon&quot;",
    ):
        assert name.lower() in page.lower(), name

    flags = chromium_flags(tmp_path)
    url = out.resolve().as_uri()
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120
    ).stdout
    # the trials, the comparison, P(row > column) of the headline figure
    assert dom.count("<img") == 2 and dom.count("<table") == 3
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


def test_continual_runs_get_reward_and_prediction_error_matrices_and_forgetting_bars(tmp_path: Path) -> None:
    tiny = [o for o in TINY["continual"][1] if not o.startswith("eval.")] + [
        "eval.episodes=1",
        "mpc.horizon=5",
    ]
    out = tmp_path / "continual"
    proc = dynadapt("sweep", "hypercrl-pendulum", "finetune-pendulum", "--out", str(out), "--quiet", *tiny)
    assert proc.returncode == 0, proc.stderr
    result = compare([out])
    assert [m.label for m in result.methods] == ["hypercrl-pendulum", "finetune-pendulum"]
    assert result.figures[0] == "final_average_return" and "average_forgetting" in result.figures
    plots = {p.stem: Image.open(p) for p in result.plots}
    assert set(plots) == {
        "learning_curves",
        "headline",
        "reward_matrices",
        "prediction_error_matrices",
        "forgetting",
    }
    for name in ("reward_matrices", "prediction_error_matrices"):
        matrices = plots[name]
        assert matrices.width > 1.8 * matrices.height  # two matrices side by side (and a colour bar)
    # forgetting (return units) and, where defined (some task gained over random actions), the
    # floor-normalised retention in a second panel
    retention = [x for m in result.methods for r in m.runs for x in retention_of(r.summary) or []]
    two_panels = plots["forgetting"].width > 1.6 * plots["forgetting"].height
    assert two_panels == any(math.isfinite(x) for x in retention)
    for img in plots.values():
        share, colours = busy(img)
        assert share > 0.03 and colours > 30, (share, colours)
    for m in result.methods:
        for r in m.runs:
            # the plotted forgetting is the summary's: the drop from the best earlier return
            assert forgetting_of(r.summary) == pytest.approx(r.summary["forgetting"], nan_ok=True)
            written = [math.nan if x is None else x for x in r.summary["retention_floor_normalised"]]
            assert retention_of(r.summary) == pytest.approx(written, nan_ok=True)
    assert [imp.figure for imp in result.improvements] == ["final_average_return"]
    assert "## P(row > column): final_average_return" in result.markdown


def _run(tmp_path: Path, method: str, seed: int, summary: dict) -> Run:
    return Run(tmp_path / f"{method}{seed}", method, seed, "continual", summary, {"task": {"tasks": 2}})


def test_continual_plots_of_older_summaries_show_what_is_there(tmp_path: Path) -> None:
    """Summaries written before the forgetting changed meaning (a ratio, no retention, no prediction-error
    matrix), or with no reward matrix at all: plots of what they hold, no crash."""
    old = {
        "final_average_return": 10.0,
        "reward_matrix": [[10.0, 6.0], [None, 12.0]],
        "forgetting": [0.6],  # the former ratio R(i,T)/R(i,i): not plotted
        "average_forgetting": 0.6,
    }
    bare = {"final_average_return": 3.0, "forgetting": [0.5]}
    runs = [
        _run(tmp_path, "old", 0, old),
        _run(tmp_path, "old", 1, {**old, "reward_matrix": [[8.0, 8.0], [None, 9.0]]}),
        _run(tmp_path, "bare", 0, bare),
    ]
    label_tasks(runs)
    methods = group(runs)
    assert aggregate(methods)[0] == "final_average_return"
    assert forgetting_of(old) == [4.0] and retention_of(old) is None and forgetting_of(bare) is None
    out = tmp_path / "plots"
    out.mkdir()
    assert plot_forgetting(methods, out / "f.png") is not None  # one panel: the forgetting from R
    assert plot_reward_matrices(methods, out / "r.png") is not None
    assert plot_prediction_error_matrices(methods, out / "p.png") is None
    assert plot_headline(methods, out / "h.png") is not None
    img = Image.open(out / "f.png")
    assert img.width < 1.6 * img.height
    md = markdown_table(methods, aggregate(methods), improvements(methods))
    assert "P(row > column): final_average_return" in md and "| average_forgetting |" in md


def test_runs_of_a_method_on_several_tasks_are_strata(tmp_path: Path) -> None:
    """One method run on two variants of an environment (e.g. run directories of one preset with other
    task parameters): the tasks get distinct labels, the bootstrap resamples within each, and P(A > B)
    compares runs on the same task only."""

    def run(method: str, seed: int, gravity: float, ret: float) -> Run:
        cfg = {"task": {"env": "pendulum", "env_params": {"gravity": gravity}}}
        return Run(tmp_path / f"{method}{seed}", method, seed, "mbrl", {"final_eval_return": ret}, cfg)

    runs = [run("a", s, g, r) for s, (g, r) in enumerate([(10, 1.0), (10, 2.0), (12, 100.0), (12, 101.0)])]
    runs += [run("b", s, g, r) for s, (g, r) in enumerate([(10, 0.0), (10, 3.0), (12, 99.0), (12, 98.0)])]
    sections = label_tasks(runs)
    assert len(sections) == 2 and all(label.startswith("pendulum #") for label in sections)
    methods = group(runs)
    aggregate(methods)
    a = methods[0]
    assert a.iqm["final_eval_return"].estimate == (2.0 + 100.0) / 2
    assert 50.5 <= a.iqm["final_eval_return"].low <= a.iqm["final_eval_return"].high <= 51.5
    (imp,) = improvements(methods)
    p = imp.p[0][1]
    assert p is not None and p.estimate == pytest.approx((0.5 + 1.0) / 2)
    md = markdown_table(methods, ["final_eval_return"], [imp])
    assert "Tasks per method: a: pendulum #" in md and "×2" in md
