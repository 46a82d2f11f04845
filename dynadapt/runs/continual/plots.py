"""The continual figures, regenerated from a finished run's ``summary.json``: the reward matrix, the
prediction-error matrix and the per-task evaluation returns across the sequence (with each task's
random-action floor)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from dynadapt.errors import DynadaptError
from dynadapt.io import write_figure
from dynadapt.runs.plots import plot_task_matrix
from dynadapt.runs.rundir import RunDir


def plot_continual(rundir: RunDir) -> list[Path]:
    """Reward-matrix heatmap, per-task return curves with task boundaries and random-action floors (dashed,
    where the summary has them), prediction-error matrix."""
    summary = rundir.read_summary()
    if summary is None:
        raise DynadaptError(f"{rundir.path}: the continual plots need the finished run's summary.json")
    rundir.plots.mkdir(parents=True, exist_ok=True)
    out = []
    for key, title, fname in (
        ("reward_matrix", "return on task i after training task j", "reward_matrix.png"),
        ("prediction_error_matrix", "multi-step L1 prediction error", "prediction_error.png"),
    ):
        out.append(plot_task_matrix(rundir.plots / fname, summary[key], title))
    episodes = max((c["episode"] for c in summary["curves"]), default=0) or 1
    fig, ax = plt.subplots(figsize=(7, 3.5))
    n = len(summary["reward_matrix"])
    floors = summary.get("random_returns") or [None] * n
    for i in range(n):
        pts = [
            (c["task"] * episodes + c["episode"], c["returns"][i])
            for c in summary["curves"]
            if len(c["returns"]) > i
        ]
        if pts:
            (line,) = ax.plot(*zip(*pts), marker="o", ms=3, label=f"task {i}")
            if floors[i] is not None:
                ax.hlines(floors[i], pts[0][0], n * episodes, colors=line.get_color(), ls="--", lw=0.8)
    for t in range(1, n):
        ax.axvline(t * episodes, color="grey", ls=":", lw=1)
    ax.set_xlabel("MPC episodes (task boundaries dotted; dashed: each task's random-action return)")
    ax.set_ylabel("evaluation return")
    ax.legend(fontsize=7)
    fig.tight_layout()
    write_figure(fig, rundir.plots / "task_returns.png", dpi=100)
    plt.close(fig)
    out.append(rundir.plots / "task_returns.png")
    return out
