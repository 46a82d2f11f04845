"""Figures of a run, regenerated from its files (``dynadapt plot RUN_DIR``)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from dynadapt.runs.rundir import RunDir


def _num(v: object) -> float:
    return float(v) if isinstance(v, int | float) else math.nan


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
        m = [_num(r["eval/return"]) for r in ev]
        s = [_num(r.get("eval/return_std")) for r in ev]
        ax.plot(x, m, "s-", ms=4, lw=1.5, label="evaluation (mean)")
        ax.fill_between(x, [a - b for a, b in zip(m, s)], [a + b for a, b in zip(m, s)], alpha=0.2)
    if cfg.get("target_return") is not None:
        ax.axhline(cfg["target_return"], color="gray", ls="--", lw=1, label="target")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.set_title(f"{cfg.get('preset') or cfg.get('env')} (seed {cfg.get('seed')})")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    rundir.plots.mkdir(parents=True, exist_ok=True)
    out = rundir.plots / "learning_curve.png"
    fig.savefig(out)
    plt.close(fig)
    return out


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
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_run(rundir: RunDir) -> list[Path]:
    """Every figure of the run's kind, regenerated from its files; returns the written paths."""
    from dynadapt.runs.kinds import get_kind

    return get_kind(rundir.read_config()["kind"]).plots(rundir)
