"""Plots of a comparison: every method's mean over seeds with the seed spread (± one standard deviation)
shaded or as error bars, each seed as a point where a figure is one number per run, and the IQM of the
headline figure with its bootstrap interval. Continual runs (summaries with a ``reward_matrix``) add the
mean reward and prediction-error matrices side by side and the forgetting and retention bars; summaries
of older versions that lack a key get the plots they have the data for."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from dynadapt.continual.metrics import forgetting_per_task
from dynadapt.io import write_figure
from dynadapt.runs.plots import plain_text
from dynadapt.runs.rundir import RunDir

if TYPE_CHECKING:
    from dynadapt.sweep.compare import Method


def _finite(v: object) -> float | None:
    if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


def curve_points(run_path: Path, kind: str) -> dict[float, float]:
    """x -> y of one run's learning curve (see ``CURVE``)."""
    from dynadapt.sweep.compare import CURVE

    key, xkey, _ = CURVE.get(kind, ("train/return", "", ""))
    out: dict[float, float] = {}
    for i, row in enumerate(RunDir(run_path).read_metrics()):
        y = _finite(row.get(key))
        if y is None:
            continue
        x = (_finite(row.get(xkey)) or float(i + 1)) if xkey else float(len(out) + 1)
        out[x] = y
    return out


def plot_learning_curves(methods: list[Method], path: Path) -> Path | None:
    from dynadapt.sweep.compare import CURVE

    kinds = list(dict.fromkeys(m.kind for m in methods))
    fig, axes = plt.subplots(1, len(kinds), figsize=(6.5 * len(kinds), 4.2), dpi=110, squeeze=False)
    drawn = False
    for ax, kind in zip(axes[0], kinds):
        key, xkey, ylabel = CURVE.get(kind, ("train/return", "", "training return"))
        for m in (m for m in methods if m.kind == kind):
            curves = [curve_points(r.path, kind) for r in m.runs]
            xs = sorted({x for c in curves for x in c})
            if not xs:
                continue
            ys = [[c[x] for c in curves if x in c] for x in xs]
            mean = np.array([np.mean(v) for v in ys])
            std = np.array([np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in ys])
            (line,) = ax.plot(xs, mean, "o-", ms=3, lw=1.6, label=f"{m.label} (n={len(m.runs)})")
            ax.fill_between(xs, mean - std, mean + std, color=line.get_color(), alpha=0.2, lw=0)
            drawn = True
        ax.set_xlabel(xkey or "row of the run's metrics")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{kind}: {key} (mean ± sd over seeds)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    if not drawn:
        plt.close(fig)
        return None
    fig.tight_layout()
    write_figure(fig, path)
    plt.close(fig)
    return path


def plot_headline(methods: list[Method], path: Path) -> Path | None:
    """The headline figure of every method: bar = mean, error bar = sd, dots = seeds, diamond = IQM with
    its 95% bootstrap interval."""
    from dynadapt.sweep.compare import headline_figure

    rows = []
    for m in methods:
        key = headline_figure(m.kind)
        if key is None:
            continue
        vals = [v for x in m.values.get(key, []) if (v := _finite(x)) is not None]
        if vals:
            rows.append((m, key, vals))
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(rows) + 2), 4.2), dpi=110)
    for i, (m, key, vals) in enumerate(rows):
        sd = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
        ax.bar(i, float(np.mean(vals)), yerr=sd, color=f"C{i % 10}", alpha=0.6, capsize=4)
        ax.scatter(
            np.full(len(vals), i) + np.linspace(-0.15, 0.15, len(vals)), vals, color="k", s=12, zorder=3
        )
        iv = m.iqm.get(key)
        if iv is not None and math.isfinite(iv.estimate):
            err = [[iv.estimate - iv.low], [iv.high - iv.estimate]] if iv.has_interval else None
            ax.errorbar(i + 0.3, iv.estimate, yerr=err, fmt="D", color="k", ms=5, capsize=3, zorder=4,
                        label="IQM, 95% bootstrap CI" if i == 0 else None)  # fmt: skip
    ax.set_xticks(range(len(rows)), [m.label for m, _, _ in rows], rotation=20, ha="right", fontsize=7)
    ax.set_ylabel(" / ".join(dict.fromkeys(k for _, k, _ in rows)))
    ax.set_title(
        "headline figure\n(bar: mean, error bar: sd, dots: seeds; diamond: IQM with its 95% bootstrap CI)",
        fontsize=8,
    )
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    write_figure(fig, path)
    plt.close(fig)
    return path


def _matrix(v: object) -> np.ndarray | None:
    """A summary's task matrix (a list of rows, None for NaN) as an array; None when it is not one."""
    if not isinstance(v, list) or not v or not all(isinstance(row, list) for row in v):
        return None
    width = max(len(row) for row in v)
    rows = [[math.nan if (f := _finite(x)) is None else f for x in row] for row in v]
    return np.array([row + [math.nan] * (width - len(row)) for row in rows])


def _mean_matrix(m: Method, key: str) -> np.ndarray:
    mats = [a for r in m.runs if (a := _matrix(r.summary.get(key))) is not None]
    shapes = {a.shape for a in mats}
    if len(shapes) != 1:  # none, or runs of different task counts: nothing to average
        return np.zeros((0, 0))
    with warnings.catch_warnings():  # entries NaN for every seed (j < i) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.stack(mats), axis=0)


def _plot_matrices(
    methods: list[Method], key: str, path: Path, cmap: str, label: str, text: str
) -> Path | None:
    """Each method's mean matrix ``summary[key]`` (rows: task i, columns: after training task j), side by
    side, on one colour scale."""
    mats = [(m, _mean_matrix(m, key)) for m in methods]
    mats = [(m, r) for m, r in mats if r.size]
    if not mats:
        return None
    finite = np.concatenate([r[np.isfinite(r)] for _, r in mats])
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    fig, axes = plt.subplots(1, len(mats), figsize=(3.6 * len(mats) + 0.8, 3.6), dpi=110, squeeze=False)
    im = None
    for ax, (m, r) in zip(axes[0], mats):
        im = ax.imshow(np.ma.masked_invalid(r), cmap=cmap, vmin=vmin, vmax=vmax)
        for (i, j), v in np.ndenumerate(r):
            if math.isfinite(v):
                red, green, blue, _ = im.cmap(im.norm(v))  # dark text on bright cells
                colour = "k" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "w"
                ax.text(j, i, format(v, text), ha="center", va="center", fontsize=7, color=colour)
        ax.set_title(f"{m.label}\n(mean of {len(m.runs)} seeds)", fontsize=8)
        ax.set_xlabel("after training task j")
        ax.set_ylabel("evaluated on task i")
        ax.set_xticks(range(r.shape[1]))
        ax.set_yticks(range(r.shape[0]))
    if im is not None:
        fig.colorbar(im, ax=list(axes[0]), shrink=0.8, label=label)
    write_figure(fig, path, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_reward_matrices(methods: list[Method], path: Path) -> Path | None:
    """Continual runs: each method's mean reward matrix R[i][j], side by side, on one colour scale."""
    return _plot_matrices(methods, "reward_matrix", path, "viridis", "return (higher is better)", ".0f")


def plot_prediction_error_matrices(methods: list[Method], path: Path) -> Path | None:
    """Continual runs: each method's mean prediction-error matrix P[i][j] (the multi-step error of the
    model of task i on held-out data of task i, after training task j: retention at the level of the
    model), side by side, on one colour scale (reversed: better is bright as in the reward matrices)."""
    label = "multi-step L1 prediction error (lower is better)"
    return _plot_matrices(methods, "prediction_error_matrix", path, "viridis_r", label, ".3g")


def forgetting_of(summary: dict[str, Any]) -> list[float] | None:
    """Forgetting per old task of a continual run (Chaudhry et al. 2018): max_{i <= l < T-1} R[i][l] -
    R[i][T-1], the drop from the best return task i had before the last task (return units; > 0 lost,
    0 nothing lost, < 0 improved), from the summary's reward matrix, as ``summary["forgetting"]`` is in
    run directories written since this definition (older ones hold the ratio R(i,T-1)/R(i,i) there, which
    is not shown); None without a square reward matrix."""
    r = _matrix(summary.get("reward_matrix"))
    if r is None or r.shape[0] != r.shape[1] or r.shape[0] < 2:
        return None
    return forgetting_per_task(r.tolist())


def retention_of(summary: dict[str, Any]) -> list[float] | None:
    """Floor-normalised retention per old task, (R(i,T) - floor_i)/(R(i,i) - floor_i), as the run wrote it
    (``retention_floor_normalised``; absent in older runs and in runs without a random-action floor)."""
    v = summary.get("retention_floor_normalised")
    if not isinstance(v, list) or not v:
        return None
    return [x if (x := _finite(e)) is not None else math.nan for e in v]


def _task_bars(
    ax: Any, methods: list[Method], per_run: Callable[[dict[str, Any]], list[float] | None]
) -> int:
    """Bars of a per-old-task figure: mean per method and task, error bar sd, dots seeds; the task count."""
    data = [(m, [v for r in m.runs if (v := per_run(r.summary)) is not None]) for m in methods]
    data = [(m, vs) for m, vs in data if vs]
    n_tasks = max((len(v) for _, vs in data for v in vs), default=0)
    width = 0.8 / max(1, len(data))
    for k, (m, vs) in enumerate(data):
        for i in range(n_tasks):
            vals = [x for v in vs if i < len(v) and math.isfinite(x := v[i])]
            if not vals:
                continue
            x = i + (k - (len(data) - 1) / 2) * width
            sd = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
            ax.bar(x, float(np.mean(vals)), width, yerr=sd, color=f"C{k % 10}", alpha=0.7, capsize=3,
                   label=m.label if i == 0 else None)  # fmt: skip
            ax.scatter(np.full(len(vals), x), vals, color="k", s=8, zorder=3)
    ax.set_xticks(range(n_tasks), [f"task {i}" for i in range(n_tasks)])
    ax.grid(alpha=0.3, axis="y")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return n_tasks


def plot_forgetting(methods: list[Method], path: Path) -> Path | None:
    """Continual runs, per old task i and method (bar: mean, error bar: sd, dots: seeds): the forgetting
    max_l R(i,l) - R(i,T) in return units (lower is better) and, where the runs wrote it, the
    floor-normalised retention (1 kept, 0 random-action level; higher is better) in a second panel."""

    def some(per_run: Callable[[dict[str, Any]], list[float] | None], m: Method) -> bool:
        return any(math.isfinite(x) for r in m.runs for x in per_run(r.summary) or [])

    forget = [m for m in methods if some(forgetting_of, m)]
    retain = [m for m in methods if some(retention_of, m)]  # a panel only where it is defined somewhere
    if not forget and not retain:
        return None
    panels = [p for p in ((forget, "forgetting"), (retain, "retention")) if p[0]]
    n_tasks = max(
        len(forgetting_of(r.summary) or retention_of(r.summary) or [])
        for m in forget + retain
        for r in m.runs
    )
    n_methods = max(len(ms) for ms, _ in panels)
    size = (len(panels) * max(5.0, 1.0 * n_tasks * n_methods + 2), 4.2)
    fig, axes = plt.subplots(1, len(panels), figsize=size, dpi=110, squeeze=False)
    for ax, (ms, what) in zip(axes[0], panels):
        if what == "forgetting":
            _task_bars(ax, ms, forgetting_of)
            ax.axhline(0.0, color="gray", ls="--", lw=1)
            ax.set_ylabel("max_l R(i,l) − R(i,T)  (return units)")
            ax.set_title(
                "forgetting: drop from the best earlier return\n"
                "(lower is better; 0 = nothing lost, < 0 = improved)",
                fontsize=9,
            )
        else:
            _task_bars(ax, ms, retention_of)
            ax.axhline(1.0, color="gray", ls="--", lw=1)
            ax.axhline(0.0, color="gray", ls=":", lw=1)
            ax.set_ylabel("(R(i,T) − floor_i) / (R(i,i) − floor_i)")
            ax.set_title(
                "floor-normalised retention\n(higher is better; 1 = kept, 0 = random-action level)",
                fontsize=9,
            )
    fig.suptitle("continual runs, per old task i (bar: mean, error bar: sd, dots: seeds)", fontsize=9)
    fig.tight_layout()
    write_figure(fig, path)
    plt.close(fig)
    return path


@plain_text
def plot_comparison(methods: list[Method], out: Path) -> list[Path]:
    """Every comparison plot that applies to these methods, written to ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    made = [
        plot_learning_curves(methods, out / "learning_curves.png"),
        plot_headline(methods, out / "headline.png"),
        plot_reward_matrices(methods, out / "reward_matrices.png"),
        plot_prediction_error_matrices(methods, out / "prediction_error_matrices.png"),
        plot_forgetting(methods, out / "forgetting.png"),
    ]
    return [p for p in made if p is not None]
