"""Statistics over seeds: the mean with its Student-t 95% confidence interval, and the aggregates of
Agarwal et al. 2021 (the interquartile mean, the probability of improvement) with bootstrap intervals.

For n replicates with mean m and sample standard deviation s (divisor n - 1), the two-sided 95% interval
for the expected value is m +- t(0.975, n-1) * s / sqrt(n) (Student, "The probable error of a mean",
Biometrika 6, 1908), exact when the replicates are normal.

With a handful of runs the mean is at the mercy of one outlier and a t-interval assumes normal returns.
Agarwal et al. ("Deep Reinforcement Learning at the Edge of the Statistical Precipice", NeurIPS 2021)
recommend the interquartile mean (IQM: the mean of the middle 50% of the runs, robust to outliers and less
noisy than the median) and the probability of improvement P(X > Y) (does a run of X beat a run of Y?),
each with a stratified percentile bootstrap interval (runs resampled within each task, so that every
resample has as many runs per task as the data). The estimates are theirs exactly (``rliable.metrics``:
``aggregate_iqm``, ``probability_of_improvement``); the intervals come from ``scipy.stats.bootstrap``
with a fixed seed (:data:`BOOTSTRAP_SEED`), so a comparison is reproducible.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.stats


@functools.lru_cache(maxsize=256)
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (0.5 < p < 1) of Student's t with ``df`` >= 1 degrees of freedom."""
    if not 0.5 < p < 1 or df < 1:
        raise ValueError("t_quantile needs 0.5 < p < 1 and df >= 1")
    return float(scipy.stats.t.ppf(p, df))


@dataclass(frozen=True)
class Stats:
    """Mean, sample standard deviation and 95% t-interval half-width of ``n`` finite values."""

    n: int
    mean: float
    std: float
    ci95: float
    """Half-width of the two-sided 95% confidence interval (NaN for n < 2)."""

    def to_dict(self) -> dict[str, float | int | None]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.__dict__.items()}


def describe(values: Sequence[float]) -> Stats:
    """Statistics of the finite ``values`` (NaN and inf are left out; n counts the rest)."""
    xs = [float(v) for v in values if v is not None and math.isfinite(v)]
    n = len(xs)
    if n == 0:
        return Stats(0, math.nan, math.nan, math.nan)
    mean = math.fsum(xs) / n
    if n == 1:
        return Stats(1, mean, math.nan, math.nan)
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    return Stats(n, mean, std, t_quantile(0.975, n - 1) * std / math.sqrt(n))


# Aggregates of Agarwal et al. 2021, "Deep Reinforcement Learning at the Edge of the Statistical Precipice"
# (NeurIPS; the ``rliable`` library): the interquartile mean and the probability of improvement, each with
# a stratified percentile bootstrap confidence interval.

BOOTSTRAP_SEED = 0
"""Seed of every bootstrap (a fresh generator per interval: an interval does not depend on what else is
computed, so a comparison gives the same numbers whatever methods and figures it holds)."""
BOOTSTRAP_RESAMPLES = 10_000
CONFIDENCE = 0.95

Strata = Mapping[str, Sequence[float]]
"""Values by task: the runs of a method on each task it ran (one key when all its runs share a task)."""


@dataclass(frozen=True)
class Interval:
    """A point estimate with the bounds of its two-sided bootstrap confidence interval (NaN bounds where
    there is no interval: fewer than two runs on every task)."""

    estimate: float
    low: float
    high: float

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    def to_dict(self) -> dict[str, float | None]:
        return {k: (None if math.isnan(v) else v) for k, v in self.__dict__.items()}


NO_INTERVAL = Interval(math.nan, math.nan, math.nan)


def finite_strata(strata: Strata) -> dict[str, np.ndarray]:
    """The finite values of every task (NaN, inf and None left out; tasks left with none dropped)."""
    out: dict[str, np.ndarray] = {}
    for task, values in strata.items():
        xs = np.array([float(v) for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
        if xs.size:
            out[task] = xs
    return out


def _trimmed(x: np.ndarray) -> np.ndarray:
    # Agarwal et al.'s IQM is scipy.stats.trim_mean(scores, 0.25) over all runs and tasks: int(0.25 n)
    # values are cut at each end (none for n < 4) and the rest averaged.
    return np.asarray(scipy.stats.trim_mean(x, 0.25, axis=-1))


def iqm(values: Sequence[float] | np.ndarray) -> float:
    """Interquartile mean: the mean of the finite ``values`` left when the lowest and the highest
    ``int(n / 4)`` are cut (Agarwal et al. 2021); NaN when there are none."""
    xs = finite_strata({"": list(np.asarray(values, dtype=np.float64).ravel())}).get("")
    return math.nan if xs is None else float(_trimmed(xs))


def _bootstrap(
    samples: list[np.ndarray],
    statistic: Callable[[list[np.ndarray]], np.ndarray],
    seed: int,
    resamples: int,
    confidence: float,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` (a function of every sample, each with the runs on
    its last axis), every sample resampled with replacement on its own (strata). A sample of one value is
    the same in every resample; (NaN, NaN) when every sample has one value."""
    varying = [i for i, s in enumerate(samples) if s.size > 1]
    if not varying:
        return math.nan, math.nan

    def stat(*resampled: np.ndarray, axis: int = -1) -> np.ndarray:
        batch = resampled[0].shape[:-1]
        it = iter(resampled)
        full = [
            next(it) if i in varying else np.broadcast_to(s, (*batch, s.size)) for i, s in enumerate(samples)
        ]
        return statistic(full)

    width = sum(samples[i].size for i in varying) ** 2
    res = scipy.stats.bootstrap(
        tuple(samples[i] for i in varying),
        stat,
        n_resamples=resamples,
        batch=max(1, min(resamples, 4_000_000 // width)),
        vectorized=True,
        axis=-1,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def iqm_interval(
    strata: Strata,
    *,
    seed: int = BOOTSTRAP_SEED,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> Interval:
    """The IQM of every finite value (all tasks pooled, as Agarwal et al. pool runs and tasks) with its
    stratified percentile bootstrap interval: each resample draws, within every task, as many runs as the
    task has, with replacement (one task: the plain percentile bootstrap)."""
    samples = list(finite_strata(strata).values())
    if not samples:
        return NO_INTERVAL
    estimate = float(_trimmed(np.concatenate(samples)))
    if all(s.size == 1 for s in samples):  # one run per task: nothing to resample
        return Interval(estimate, math.nan, math.nan)
    if all(np.all(s == samples[0][0]) for s in samples):  # the same value in every run: no spread
        return Interval(estimate, estimate, estimate)
    low, high = _bootstrap(
        samples, lambda xs: _trimmed(np.concatenate(xs, axis=-1)), seed, resamples, confidence
    )
    return Interval(estimate, low, high)


def _improvement(xs: list[np.ndarray], ys: list[np.ndarray]) -> np.ndarray:
    # Mann-Whitney U of x against y over n_x n_y, per task, from average ranks (ties count 1/2), then the
    # mean over tasks.
    per_task = []
    for x, y in zip(xs, ys):
        n, k = x.shape[-1], y.shape[-1]
        ranks = scipy.stats.rankdata(np.concatenate([x, y], axis=-1), axis=-1)
        per_task.append((ranks[..., :n].sum(axis=-1) - n * (n + 1) / 2) / (n * k))
    return np.mean(per_task, axis=0)


def probability_of_improvement(x: Strata, y: Strata) -> float:
    """P(X > Y) of Agarwal et al. 2021: on every task both ran, the share of pairs (run of x, run of y) in
    which x's value is higher, a tie counting 1/2 (the Mann-Whitney U statistic over n_x n_y), averaged
    over those tasks; NaN when they share no task."""
    fx, fy = finite_strata(x), finite_strata(y)
    common = [t for t in fx if t in fy]
    if not common:
        return math.nan
    return float(_improvement([fx[t] for t in common], [fy[t] for t in common]))


def improvement_interval(
    x: Strata,
    y: Strata,
    *,
    seed: int = BOOTSTRAP_SEED,
    resamples: int = BOOTSTRAP_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> Interval:
    """:func:`probability_of_improvement` with its stratified percentile bootstrap interval: the runs of x
    and those of y are resampled independently within every task they share."""
    fx, fy = finite_strata(x), finite_strata(y)
    common = [t for t in fx if t in fy]
    if not common:
        return NO_INTERVAL
    xs, ys = [fx[t] for t in common], [fy[t] for t in common]
    estimate = float(_improvement(xs, ys))
    m = len(common)
    low, high = _bootstrap([*xs, *ys], lambda s: _improvement(s[:m], s[m:]), seed, resamples, confidence)
    return Interval(estimate, low, high)


def bootstrap_settings() -> dict[str, object]:
    """What a reader needs to reproduce the intervals (recorded in ``compare.json``)."""
    return {
        "seed": BOOTSTRAP_SEED,
        "resamples": BOOTSTRAP_RESAMPLES,
        "confidence": CONFIDENCE,
        "method": "percentile, stratified: runs resampled with replacement within each task",
        "implementation": f"scipy.stats.bootstrap (scipy {scipy.__version__}), numpy default_rng(seed)",
    }
