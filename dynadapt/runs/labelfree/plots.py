"""Figures of a label-free run, regenerated from its ``summary.json``:

* ``plots/situations.png``: the true situation and the one the learner inferred, at every step (inferred
  labels are the learner's own library indices; a good learner's look like a relabelling
  of the true ones);
* ``plots/library.png``: the learner's library size at the end of every episode, against the number of
  true situations seen so far;
* ``plots/switch_error.png``: the one-step prediction error of the parameters planned with, around every
  true switch (mean and each switch);
* ``plots/returns.png``: the return of every episode, coloured by its true situation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from dynadapt.errors import DynadaptError
from dynadapt.io import write_figure
from dynadapt.labelfree.metrics import rle_decode
from dynadapt.runs.rundir import RunDir

BEFORE, AFTER = 20, 100
"""Steps shown before and after each switch in ``switch_error.png``."""


def switch_windows(errors: np.ndarray, switches: list[int]) -> np.ndarray:
    """``[S, BEFORE + AFTER]`` errors around each switch (``errors[t]`` of global step t; NaN outside the
    recorded steps)."""
    out = np.full((len(switches), BEFORE + AFTER), np.nan)
    for i, s in enumerate(switches):
        lo, hi = max(0, s - BEFORE), min(errors.shape[0], s + AFTER)
        out[i, lo - (s - BEFORE) : hi - (s - BEFORE)] = errors[lo:hi]
    return out


def _save(fig: Any, path: Path, out: list[Path]) -> None:
    fig.tight_layout()
    write_figure(fig, path)
    plt.close(fig)
    out.append(path)


def plot_labelfree(rundir: RunDir) -> list[Path]:
    summary = rundir.read_summary()
    if summary is None:
        raise DynadaptError(f"{rundir.path}: the label-free plots need the finished run's summary.json")
    rundir.plots.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    true, inferred = rle_decode(summary["true_rle"]), rle_decode(summary["inferred_rle"])
    warm = int(summary["warmup_steps"])
    switches = [int(s) for s in summary["switch_steps"]]
    fig, axes = plt.subplots(2, 1, figsize=(8, 3.6), sharex=True)
    steps = np.arange(true.shape[0])
    axes[0].step(steps, true, where="post", lw=1, color="k")
    axes[0].set_ylabel("true")
    axes[1].step(steps, inferred, where="post", lw=1, color="tab:blue")
    axes[1].set_ylabel("inferred")
    axes[1].set_xlabel("env step")
    for ax in axes:
        for s in switches:
            ax.axvline(s, color="grey", ls=":", lw=0.6)
        ax.axvspan(0, warm, color="grey", alpha=0.15, lw=0)
    title = f"situations ({summary['method']}, {summary['stream']}); dotted: switches; shaded: warm-up"
    axes[0].set_title(title, fontsize=9)
    _save(fig, rundir.plots / "situations.png", out)

    fig, ax = plt.subplots(figsize=(6, 3.2))
    sizes = summary["library_sizes"]
    seen = [len(set(summary["episode_situations"][: i + 1])) for i in range(len(sizes))]
    ax.plot(range(1, len(sizes) + 1), sizes, "o-", ms=3, label="learner's library")
    ax.plot(range(1, len(seen) + 1), seen, "k--", lw=1, label="true situations seen")
    ax.set_xlabel("episode")
    ax.set_ylabel("situations")
    ax.legend(fontsize=8)
    _save(fig, rundir.plots / "library.png", out)

    errors = np.concatenate([np.full(warm, np.nan), np.asarray(summary["one_step_errors"], dtype=float)])
    if switches and errors.size > warm:
        windows = switch_windows(errors, switches)
        fig, ax = plt.subplots(figsize=(6, 3.6))
        x = np.arange(-BEFORE, AFTER)
        for w in windows:
            ax.plot(x, w, color="grey", lw=0.4, alpha=0.5)
        with np.errstate(all="ignore"):
            ax.plot(x, np.nanmean(windows, axis=0), color="tab:red", lw=1.5, label="mean over switches")
        ax.axvline(0, color="k", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel("steps since the true switch")
        ax.set_ylabel("one-step error (normalised MSE)")
        ax.legend(fontsize=8)
        _save(fig, rundir.plots / "switch_error.png", out)

    fig, ax = plt.subplots(figsize=(6, 3.2))
    rets, situ = summary["returns"], summary["episode_situations"]
    for s in sorted(set(situ)):
        idx = [i for i, v in enumerate(situ) if v == s]
        ax.plot([i + 1 for i in idx], [rets[i] for i in idx], "o", ms=4, label=f"situation {s}")
    ax.set_xlabel("episode")
    ax.set_ylabel("return")
    ax.legend(fontsize=7)
    _save(fig, rundir.plots / "returns.png", out)
    return out
