"""The figure of a distill run, regenerated from its files: ``plots/distill.png``."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from dynadapt.runs.plots import plain_text, plot_band, save_curves
from dynadapt.runs.rundir import RunDir


@plain_text
def plot_distill(rundir: RunDir) -> list[Path]:
    """``plots/distill.png``: the policy's evaluation return per DAgger iteration against the planner's
    return and the random floor (from ``metrics.jsonl`` and ``summary.json``)."""
    rows = rundir.read_metrics()
    cfg = rundir.read_config()
    it = [r for r in rows if r.get("eval/policy_return") is not None]
    planner = next((r["eval/planner_return"] for r in rows if r.get("eval/planner_return") is not None), None)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    if it:
        x = [r["iteration"] - 1 for r in it]
        mean = [float(r["eval/policy_return"]) for r in it]
        std = [float(r.get("eval/policy_return_std") or 0.0) for r in it]
        plot_band(ax, x, mean, std, "o-", "distilled policy")
        collect = [float(r["dagger/collect_return"]) for r in it]
        ax.plot(x, collect, "x--", ms=4, lw=1, label="data collection")
    if planner is not None:
        ax.axhline(float(planner), color="gray", ls="--", lw=1, label="MPC planner")
    summary = rundir.read_summary()
    if summary is not None and summary.get("random_return") is not None:
        ax.axhline(float(summary["random_return"]), color="red", ls=":", lw=1, label="random actions")
    title = f"{cfg.get('preset') or cfg.get('task', {}).get('env')} (seed {cfg.get('seed')})"
    xlabel = "DAgger iteration (0: behaviour cloning on planner rollouts)"
    return [save_curves(fig, ax, rundir.plots / "distill.png", xlabel, "evaluation return", title)]
