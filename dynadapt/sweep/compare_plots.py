"""Plots of a comparison: every method's mean over seeds with the seed spread (± one standard deviation)
shaded or as error bars, and each seed as a point where a figure is one number per run."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

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
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_headline(methods: list[Method], path: Path) -> Path | None:
    """The headline figure of every method: bar = mean, error bar = sd, dots = seeds."""
    from dynadapt.sweep.compare import HEADLINE, numeric_figures

    rows = []
    for m in methods:
        key = HEADLINE.get(m.kind)
        if key is None:
            continue
        vals = [v for r in m.runs if (v := _finite(numeric_figures(r.summary).get(key))) is not None]
        if vals:
            rows.append((m.label, key, vals))
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(rows) + 2), 4.2), dpi=110)
    for i, (_, _, vals) in enumerate(rows):
        sd = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
        ax.bar(i, float(np.mean(vals)), yerr=sd, color=f"C{i % 10}", alpha=0.6, capsize=4)
        ax.scatter(
            np.full(len(vals), i) + np.linspace(-0.15, 0.15, len(vals)), vals, color="k", s=12, zorder=3
        )
    ax.set_xticks(range(len(rows)), [label for label, _, _ in rows], rotation=20, ha="right", fontsize=7)
    ax.set_ylabel(" / ".join(dict.fromkeys(k for _, k, _ in rows)))
    ax.set_title("headline figure (bar: mean, error bar: sd, dots: seeds)", fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _mean_matrix(m: Method) -> np.ndarray:
    mats = [
        np.array([[math.nan if v is None else float(v) for v in row] for row in r.summary["reward_matrix"]])
        for r in m.runs
        if r.summary.get("reward_matrix")
    ]
    if not mats:
        return np.zeros((0, 0))
    with warnings.catch_warnings():  # entries NaN for every seed (j < i) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.stack(mats), axis=0)


def plot_reward_matrices(methods: list[Method], path: Path) -> Path | None:
    """Continual runs: each method's mean reward matrix R[i][j], side by side, on one colour scale."""
    cont = [(m, _mean_matrix(m)) for m in methods if m.kind == "continual"]
    cont = [(m, r) for m, r in cont if r.size]
    if not cont:
        return None
    finite = np.concatenate([r[np.isfinite(r)] for _, r in cont])
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    fig, axes = plt.subplots(1, len(cont), figsize=(3.6 * len(cont) + 0.8, 3.6), dpi=110, squeeze=False)
    im = None
    for ax, (m, r) in zip(axes[0], cont):
        im = ax.imshow(np.ma.masked_invalid(r), cmap="viridis", vmin=vmin, vmax=vmax)
        for (i, j), v in np.ndenumerate(r):
            if math.isfinite(v):
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7, color="w")
        ax.set_title(f"{m.label}\n(mean of {len(m.runs)} seeds)", fontsize=8)
        ax.set_xlabel("after training task j")
        ax.set_ylabel("evaluated on task i")
        ax.set_xticks(range(r.shape[1]))
        ax.set_yticks(range(r.shape[0]))
    if im is not None:
        fig.colorbar(im, ax=list(axes[0]), shrink=0.8, label="return")
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_forgetting(methods: list[Method], path: Path) -> Path | None:
    """Continual runs: forgetting R(i, T)/R(i, i) per old task i, per method (mean ± sd over seeds)."""
    cont = [m for m in methods if m.kind == "continual" and any(r.summary.get("forgetting") for r in m.runs)]
    if not cont:
        return None
    n_tasks = max(len(r.summary.get("forgetting") or []) for m in cont for r in m.runs)
    width = 0.8 / len(cont)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * n_tasks * len(cont) + 2), 4.0), dpi=110)
    for k, m in enumerate(cont):
        for i in range(n_tasks):
            vals = [
                v
                for r in m.runs
                if i < len(r.summary.get("forgetting") or [])
                and (v := _finite(r.summary["forgetting"][i])) is not None
            ]
            if not vals:
                continue
            x = i + (k - (len(cont) - 1) / 2) * width
            sd = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
            ax.bar(x, float(np.mean(vals)), width, yerr=sd, color=f"C{k % 10}", alpha=0.7, capsize=3,
                   label=m.label if i == 0 else None)  # fmt: skip
            ax.scatter(np.full(len(vals), x), vals, color="k", s=8, zorder=3)
    ax.axhline(1.0, color="gray", ls="--", lw=1)
    ax.set_xticks(range(n_tasks), [f"task {i}" for i in range(n_tasks)])
    ax.set_ylabel("R(i, T) / R(i, i)  (1 = nothing forgotten)")
    ax.set_title("forgetting per old task (bar: mean, error bar: sd, dots: seeds)", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_comparison(methods: list[Method], out: Path) -> list[Path]:
    """Every comparison plot that applies to these methods, written to ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    made = [
        plot_learning_curves(methods, out / "learning_curves.png"),
        plot_headline(methods, out / "headline.png"),
        plot_reward_matrices(methods, out / "reward_matrices.png"),
        plot_forgetting(methods, out / "forgetting.png"),
    ]
    return [p for p in made if p is not None]
