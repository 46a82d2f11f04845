"""Metrics of a continual-learning reward matrix (reference §4.8)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def continual_metrics(R: list[list[float]], single: list[float] | None = None) -> dict[str, Any]:
    """Metrics of a reward matrix ``R[i][j]`` (reference §4.8; 0-based, T tasks).

    forgetting_i = R[i][T−1] / R[i][i] (i < T−1); forward_transfer_i = R[i][i] / single[i];
    bwt = mean_{i<T−1}(R[i][T−1] − R[i][i]); acc = final average = mean_i R[i][T−1].
    """
    t_n = len(R)
    final = [R[i][t_n - 1] for i in range(t_n)]
    diag = [R[i][i] for i in range(t_n)]
    forgetting = [final[i] / diag[i] if diag[i] else math.nan for i in range(t_n - 1)]
    out: dict[str, Any] = {
        "final_average_return": float(np.mean(final)) if final else math.nan,
        "forgetting": forgetting,
        "average_forgetting": float(np.mean(forgetting)) if forgetting else math.nan,
        "bwt": float(np.mean([final[i] - diag[i] for i in range(t_n - 1)])) if t_n > 1 else math.nan,
        "acc": float(np.mean(final)) if final else math.nan,
        "average_curve": [float(np.mean([R[i][j] for i in range(j + 1)])) for j in range(t_n)],
    }
    if single is not None:
        out["forward_transfer"] = [diag[i] / single[i] if single[i] else math.nan for i in range(t_n)]
    return out
