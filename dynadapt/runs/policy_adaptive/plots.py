"""Figures of ``mbpo-continual``: those of every SAC-based kind and the reward matrix."""

from __future__ import annotations

from pathlib import Path

from dynadapt.runs.plots import plot_task_matrix
from dynadapt.runs.policy.plots import plot_policy
from dynadapt.runs.rundir import RunDir


def plot_continual(rundir: RunDir) -> list[Path]:
    """The learning curve and diagnostics (:func:`~dynadapt.runs.policy.plots.plot_policy`) and, once the
    run has a summary, ``plots/reward_matrix.png`` (return on task i after training task j)."""
    out = plot_policy(rundir)
    summary = rundir.read_summary()
    if summary is not None and "reward_matrix" in summary:
        path = rundir.plots / "reward_matrix.png"
        title = "policy return on task i after task j"
        out.append(plot_task_matrix(path, summary["reward_matrix"], title, annotate=True))
    return out
