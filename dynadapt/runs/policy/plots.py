"""Figures of the SAC-based kinds: the learning curve and SAC/MBPO diagnostics against env steps."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from dynadapt.io import write_figure
from dynadapt.runs.plots import plot_learning_curve
from dynadapt.runs.rundir import RunDir


def plot_policy(rundir: RunDir) -> list[Path]:
    """The learning curve, and SAC/MBPO diagnostics against env steps (``plots/diagnostics.png``)."""
    out = [plot_learning_curve(rundir)]
    rows = rundir.read_metrics()
    panels: list[tuple[str, str]] = [
        ("sac/alpha", "temperature α"),
        ("sac/entropy", "policy entropy"),
        ("sac/critic_loss", "critic loss"),
        ("sac/q", "mean Q"),
    ]
    if any("model/val_loss" in r for r in rows):
        panels += [("model/val_loss", "model held-out MSE"), ("mbpo/rollout_length", "rollout length k")]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3), dpi=110)
    for ax, (key, title) in zip(np.atleast_1d(axes), panels):
        pts = [(r["train/env_steps"], r[key]) for r in rows if isinstance(r.get(key), int | float)]
        if pts:
            ax.plot(*zip(*pts), ".-", lw=1)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("env steps", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = rundir.plots / "diagnostics.png"
    write_figure(fig, path)
    plt.close(fig)
    out.append(path)
    return out
