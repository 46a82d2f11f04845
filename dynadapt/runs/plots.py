"""Figures of a run, regenerated from its files (``dynadapt plot RUN_DIR``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from dynadapt.io import write_figure
from dynadapt.runs.rundir import RunDir

plain_text = matplotlib.rc_context({"text.parse_math": False})
"""Decorator of the functions that draw names read from files (presets, methods, figures): their texts
are shown as written (a ``$`` would otherwise start matplotlib's maths notation, and a malformed formula
would fail the whole figure)."""


def _num(v: object) -> float:
    return float(v) if isinstance(v, int | float) else math.nan


def plot_band(
    ax: Any, x: Sequence[float], mean: Sequence[float], std: Sequence[float], style: str, label: str
) -> None:
    """``mean`` against ``x`` in ``style`` with a shaded band of one ``std`` either side."""
    ax.plot(x, mean, style, ms=4, lw=1.5, label=label)
    ax.fill_between(x, [a - b for a, b in zip(mean, std)], [a + b for a, b in zip(mean, std)], alpha=0.2)


def save_curves(fig: Any, ax: Any, path: Path, xlabel: str, ylabel: str, title: str) -> Path:
    """Label ``ax`` (grid, legend lower right), write ``fig`` to ``path`` and close it; returns ``path``."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    write_figure(fig, path)
    plt.close(fig)
    return path


@plain_text
def plot_learning_curve(rundir: RunDir) -> Path:
    """Training and evaluation return against environment steps: ``plots/learning_curve.png``."""
    rows = rundir.read_metrics()
    cfg = rundir.read_config()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    steps = [_num(r.get("train/env_steps")) for r in rows]
    ax.plot(steps, [_num(r.get("train/return")) for r in rows], "o-", ms=3, lw=1, label="training episode")
    ev = [r for r in rows if r.get("eval/return") is not None]
    if ev:
        x = [_num(r["train/env_steps"]) for r in ev]
        mean, std = [_num(r["eval/return"]) for r in ev], [_num(r.get("eval/return_std")) for r in ev]
        plot_band(ax, x, mean, std, "s-", "evaluation (mean)")
    if cfg.get("target_return") is not None:
        ax.axhline(cfg["target_return"], color="gray", ls="--", lw=1, label="target")
    title = f"{cfg.get('preset') or cfg.get('env')} (seed {cfg.get('seed')})"
    path = rundir.plots / "learning_curve.png"
    return save_curves(fig, ax, path, "environment steps", "episode return", title)


def plot_task_matrix(
    path: Path, matrix: list[list[float | None]], title: str, annotate: bool = False
) -> Path:
    """Heatmap of a task-by-task matrix (row i: evaluated on task i, column j: after training task j;
    None/NaN cells blank), with the values written in the cells when ``annotate``. Returns ``path``."""
    m = np.array([[math.nan if v is None else v for v in row] for row in matrix], dtype=float)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    im = ax.imshow(m, cmap="viridis")
    if annotate:
        for (i, j), v in np.ndenumerate(m):
            if not math.isnan(v):
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7, color="w")
    ax.set_xlabel("after training task j")
    ax.set_ylabel("evaluated on task i")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    write_figure(fig, path, dpi=100)
    plt.close(fig)
    return path
