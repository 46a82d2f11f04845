"""Figures of a run, regenerated from its files (``dynadapt plot RUN_DIR``)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from dynadapt.errors import DynadaptError
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


def plot_run(rundir: RunDir) -> list[Path]:
    """Every figure of the run's kind, regenerated from its files; returns the written paths."""
    kind = rundir.read_config()["kind"]
    if kind == "continual":
        from dynadapt.runs.continual import plot_continual

        summary = rundir.read_summary()
        if summary is None:
            raise DynadaptError(f"{rundir.path}: the continual plots need the finished run's summary.json")
        return plot_continual(rundir, summary)
    if kind == "meta":
        from dynadapt.runs.meta import plot_meta

        history = [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rundir.read_metrics()]
        return plot_meta(rundir, history)
    if kind in ("mbpo-continual", "mbpo-meta"):
        from dynadapt.runs.policy_adaptive import plot_policy_adaptive

        return plot_policy_adaptive(rundir)
    if kind in ("sac", "mbpo"):
        from dynadapt.runs.policy import plot_policy

        return plot_policy(rundir)
    if kind == "distill":
        from dynadapt.runs.distill import plot_distill

        return plot_distill(rundir)
    return [plot_learning_curve(rundir)]
