"""``benchmarks/labelfree_bound.py``: the oracle filter recovers separable situations, the Student-t
likelihood survives an outlier the Gaussian one switches on, and the script runs end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.bench_modules import REPO, load

bound = load("labelfree_bound")


def _errors(labels: np.ndarray, outlier_at: int | None = None) -> np.ndarray:
    """Squared errors [T, K, D=2]: each situation's oracle predicts its own transitions with error 1, the
    others with error 4 (per dimension), with noise; optionally one transition that its own oracle misses
    20-fold."""
    rng = np.random.default_rng(0)
    t, k = len(labels), int(labels.max()) + 1
    err = np.full((t, k, 2), 4.0) * rng.uniform(0.5, 1.5, (t, k, 2))
    err[np.arange(t), labels] = rng.uniform(0.5, 1.5, (t, 2))
    if outlier_at is not None:
        err[outlier_at, labels[outlier_at]] = 20.0
    return err


def test_the_filter_recovers_separable_situations() -> None:
    labels = np.repeat([0, 1, 0, 2, 1], 200)
    fitted = np.zeros(len(labels), dtype=bool)
    fitted[::2] = True
    ll = bound.log_likelihoods(_errors(labels), labels, fitted, 0.0)
    inferred = bound.forward_filter(ll, 0.999)
    assert (inferred == labels).mean() > 0.98
    assert inferred[0] == 0 and inferred[-1] == 1


def test_student_t_survives_an_outlier_the_gaussian_switches_on() -> None:
    labels = np.zeros(400, dtype=int)
    labels[200:] = 1
    fitted = np.ones(len(labels), dtype=bool)
    errors = _errors(labels, outlier_at=100)
    gauss = bound.forward_filter(bound.log_likelihoods(errors, labels, fitted, 0.0), 0.999)
    robust = bound.forward_filter(bound.log_likelihoods(errors, labels, fitted, bound.NU), 0.999)
    assert gauss[100] != 0  # one transition carries tens of nats under the Gaussian
    assert robust[100] == 0 and (robust == labels).mean() > 0.98


def test_the_script_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "bound.json"
    cmd = [sys.executable, str(REPO / "benchmarks" / "labelfree_bound.py"), "--quick", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, cwd=REPO)
    data = json.loads(out.read_text())
    assert data["steps"] == 500 and data["situations"] == 3 and data["quick"]
    for name in ("gaussian", "student_t"):
        assert 0 <= data[name]["one_step_accuracy_unseen"] <= 1
        assert len(data[name]["one_step_accuracy_unseen_by_size_quartile"]) == 4
        assert set(data[name]["filter"]) == {str(s) for s in bound.STAYS}
        assert 0 <= data[name]["filter"]["0.9999"]["nmi"] <= 1
