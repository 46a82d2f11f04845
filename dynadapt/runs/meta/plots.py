"""Figures of a meta run, regenerated from its ``metrics.jsonl``: ``plots/return.png`` (evaluation return
per iteration on the training and the held-out perturbations) and ``plots/prediction_error.png`` (the
one-step prediction error of the model the agent planned with, against steps since the last change)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from dynadapt.io import write_figure
from dynadapt.runs.rundir import RunDir


def evaluated(value: float | None) -> float | None:
    """An evaluation return, None where the iteration was not evaluated (NaN, or null in the JSON)."""
    return None if value is None or math.isnan(value) else float(value)


def plot_meta(rundir: RunDir) -> list[Path]:
    """``plots/return.png``, and ``plots/prediction_error.png`` once a held-out evaluation recorded errors."""
    rows = rundir.read_metrics()
    rundir.plots.mkdir(parents=True, exist_ok=True)
    out = []
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for key, style, label in (
        ("eval/return_train", "o-", "training perturbations"),
        ("eval/return_test", "s-", "held-out perturbations"),
    ):
        pts = [(int(r["iteration"]), evaluated(r.get(key))) for r in rows]
        ax.plot(
            [i for i, v in pts if v is not None], [v for _, v in pts if v is not None], style, label=label
        )
    ax.set_xlabel("iteration")
    ax.set_ylabel("evaluation return")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.append(rundir.plots / "return.png")
    write_figure(fig, out[-1])
    plt.close(fig)
    last = rows[-1] if rows else {}
    curve = last.get("eval/pred_error_by_steps_since_change") or {}
    switch = last.get("eval/pred_error_by_steps_since_switch") or {}
    if curve:
        fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
        ax.plot([int(k) for k in curve], list(curve.values()), lw=1, label="since episode start or change")
        if switch:
            label = "relative to the mid-episode change (negative: before it)"
            ax.plot([int(k) for k in switch], list(switch.values()), lw=1, label=label)
            ax.legend(fontsize=8)
        ax.set_xlabel("steps since the last change of perturbation (or relative to the mid-episode one)")
        ax.set_ylabel("one-step prediction error (normalised MSE)")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        out.append(rundir.plots / "prediction_error.png")
        write_figure(fig, out[-1])
        plt.close(fig)
    return out
