"""How well a label-free learner identifies situations: metrics over per-step label arrays (issue 16).

Every function takes integer arrays of one label per env step: ``true [T]`` the stream's situation index,
``inferred [T]`` the learner's own library index (:attr:`StreamLearner.situation`); ``-1`` means none (before
the first decision, or a learner without situations) and such steps are left out. Labels of the two arrays
live in different index spaces (the learner numbers its library in order of creation), so every metric is
invariant to a permutation of the inferred labels. ``switch_steps`` lists the first step of every new true
segment (strictly increasing, in ``[0, T)``).

* :func:`nmi`: normalised mutual information, arithmetic-mean normalisation (Strehl & Ghosh 2002;
  scikit-learn's default ``average_method``), in nats.
* :func:`detection_delays`, :func:`false_switches`: speed and cleanliness of change detection.
* :func:`recall_rate`: recurring situations recognised as the same library entry.
* :func:`library_ratio`: library size relative to the number of true situations (1 is ideal; > 1:
  duplicates, < 1: situations conflated).
* :func:`identification_summary`: all of them as one JSON-ready dict (None where undefined).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence

import numpy as np

from dynadapt.errors import DynadaptError

ArrayLike = Sequence[int] | np.ndarray


def _labels(x: ArrayLike, name: str) -> np.ndarray:
    """``x`` as a 1-D int64 array of labels >= -1 (raises :class:`DynadaptError` otherwise)."""
    a = np.asarray(x)
    if a.ndim != 1:
        raise DynadaptError(f"{name} must be a 1-D array of labels, got shape {a.shape}")
    integral = np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.bool_)
    if a.size and not integral:
        whole = np.issubdtype(a.dtype, np.floating) and np.isfinite(a).all() and (a == np.round(a)).all()
        if not whole:
            raise DynadaptError(f"{name} must hold integer labels, got dtype {a.dtype}")
    a = a.astype(np.int64)
    if a.size and a.min() < -1:
        raise DynadaptError(f"{name} labels must be >= -1 (-1: none), got {int(a.min())}")
    return a


def _pair(true: ArrayLike, inferred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t, i = _labels(true, "true"), _labels(inferred, "inferred")
    if t.shape != i.shape:
        raise DynadaptError(f"true and inferred must have the same length, got {t.shape[0]} and {i.shape[0]}")
    return t, i


def _switches(switch_steps: Sequence[int] | np.ndarray, length: int) -> list[int]:
    s = [int(v) for v in np.asarray(switch_steps, dtype=np.int64).reshape(-1)]
    if any(b <= a for a, b in itertools.pairwise(s)) or (s and (s[0] < 0 or s[-1] >= length)):
        raise DynadaptError(f"switch_steps must be strictly increasing steps in [0, {length}), got {s}")
    return s


def _mode(labels: np.ndarray) -> int | None:
    """The most frequent label >= 0 (the smallest on a tie), None when there is none."""
    valid = labels[labels >= 0]
    return int(np.bincount(valid).argmax()) if valid.size else None


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def rle_decode(rle: Sequence[Sequence[int]]) -> np.ndarray:
    """A run-length encoding ``[[label, count], ...]`` (how the run kind records labels) as ``labels[T]``
    (int64)."""
    if not len(rle):
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([np.full(int(n), int(v), dtype=np.int64) for v, n in rle])


def nmi(true: ArrayLike, inferred: ArrayLike) -> float:
    """Normalised mutual information ``I(true; inferred) / ((H(true) + H(inferred)) / 2)`` in [0, 1] over
    the steps where both labels are >= 0; 1.0 when both put every step in one situation (scikit-learn's
    convention), NaN when no step is labelled by both.

    ``true [T]``, ``inferred [T]``: integer labels, -1 = none.
    """
    t, i = _pair(true, inferred)
    both = (t >= 0) & (i >= 0)
    if not both.any():
        return math.nan
    _, tc = np.unique(t[both], return_inverse=True)
    _, ic = np.unique(i[both], return_inverse=True)
    nt, ni = int(tc.max()) + 1, int(ic.max()) + 1
    if nt == ni == 1:
        return 1.0
    joint = np.bincount(tc * ni + ic, minlength=nt * ni).reshape(nt, ni).astype(np.float64)
    total = joint.sum()
    pt, pi = joint.sum(1) / total, joint.sum(0) / total
    nz = joint > 0
    pj = joint[nz] / total
    mi = float((pj * (np.log(pj) - np.log(np.outer(pt, pi)[nz]))).sum())
    norm = 0.5 * (_entropy(pt) + _entropy(pi))
    return min(max(mi, 0.0) / norm, 1.0) if norm > 0 else 0.0


def detection_delays(
    true: ArrayLike, inferred: ArrayLike, switch_steps: Sequence[int] | np.ndarray
) -> list[int | None]:
    """For each true switch at step ``s``: the steps from ``s`` until the inferred label first *changes to*
    the label the learner uses most in that true segment (``[s, next switch)``), so a switch at ``s``
    itself has delay 0. None when it never changes to it within the segment (including when the learner
    already had that label before ``s`` and kept it: the switch went unnoticed). Later departures from the
    label are counted by :func:`false_switches`, not here.

    ``true [T]``, ``inferred [T]``: integer labels, -1 = none (skipped); ``switch_steps``: first steps of
    new true segments.
    """
    _, i = _pair(true, inferred)
    steps = _switches(switch_steps, i.shape[0])
    bounds = [*steps, i.shape[0]]
    delays: list[int | None] = []
    for start, end in itertools.pairwise(bounds):
        target = _mode(i[start:end])
        before = i[:start][i[:start] >= 0]
        last = int(before[-1]) if before.size else None
        found: int | None = None
        for t in range(start, end):
            label = int(i[t])
            if label < 0:
                continue
            if label == target and last != target:
                found = t - start
                break
            last = label
        delays.append(found)
    return delays


def _changes(inferred: np.ndarray) -> list[int]:
    """Steps where the inferred label (ignoring -1 steps) differs from the previous one."""
    idx = np.flatnonzero(inferred >= 0)
    labels = inferred[idx]
    return [int(s) for s in idx[1:][labels[1:] != labels[:-1]]]


def false_switches(
    true: ArrayLike, inferred: ArrayLike, switch_steps: Sequence[int] | np.ndarray, tolerance: int
) -> int:
    """Inferred label changes not attributable to a true switch. A change at step ``t`` belongs to the latest
    true switch ``s <= t``; it is attributable when ``t − s <= tolerance`` and it is the first change that
    switch gets. Every other change (spurious, too late, or a second change after one switch) is false.

    ``true [T]``, ``inferred [T]``: integer labels, -1 = none (skipped: the first label is no change);
    ``tolerance`` >= 0 steps.
    """
    _, i = _pair(true, inferred)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not tolerance >= 0:
        raise DynadaptError(f"tolerance must be a number >= 0, got {tolerance!r}")
    steps = _switches(switch_steps, i.shape[0])
    claimed: set[int] = set()
    false = 0
    for t in _changes(i):
        j = bisect.bisect_right(steps, t) - 1
        if j < 0 or t - steps[j] > tolerance or j in claimed:
            false += 1
        else:
            claimed.add(j)
    return false


def recall_rate(true: ArrayLike, inferred: ArrayLike) -> float:
    """Over returns to a true situation already seen (a maximal run of one true label whose label occurred
    in an earlier run), the fraction whose most used inferred label equals the inferred label most used for
    that true situation over all its earlier steps (a run or history without inferred labels is a miss).
    NaN when no situation recurs.

    ``true [T]``, ``inferred [T]``: integer labels, -1 = none.
    """
    t, i = _pair(true, inferred)
    cut = np.flatnonzero(t[1:] != t[:-1]) + 1
    starts = [0, *(int(c) for c in cut)]
    ends = [*starts[1:], t.shape[0]]
    seen: set[int] = set()
    hits = returns = 0
    for start, end in zip(starts, ends):
        if start >= end:
            continue
        label = int(t[start])
        if label < 0:
            continue
        if label in seen:
            returns += 1
            before = _mode(i[:start][t[:start] == label])
            now = _mode(i[start:end])
            hits += int(before is not None and before == now)
        seen.add(label)
    return hits / returns if returns else math.nan


def library_ratio(inferred: ArrayLike, n_true: int) -> float:
    """Distinct inferred labels (>= 0) divided by the number of true situations ``n_true`` (>= 1).

    ``inferred [T]``: integer labels, -1 = none.
    """
    if n_true < 1:
        raise DynadaptError(f"n_true must be >= 1, got {n_true}")
    i = _labels(inferred, "inferred")
    return float(np.unique(i[i >= 0]).size) / n_true


def _defined(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def identification_summary(
    true: ArrayLike, inferred: ArrayLike, switch_steps: Sequence[int] | np.ndarray, tolerance: int = 50
) -> dict[str, float | None]:
    """Every identification metric as one JSON-serialisable dict, None where undefined (no NaN).

    Keys: ``nmi``, ``switches`` (true switches), ``detected_fraction`` (switches with a delay),
    ``mean_delay`` and ``median_delay`` (over the detected ones), ``false_switches``,
    ``false_switches_per_10k`` (per 10,000 steps), ``recall_rate``, ``library_ratio`` (over the distinct
    true labels), ``situations`` (distinct inferred labels). ``true [T]``, ``inferred [T]``: integer labels,
    -1 = none; ``tolerance``: see :func:`false_switches`.
    """
    t, i = _pair(true, inferred)
    steps = _switches(switch_steps, t.shape[0])
    delays = [d for d in detection_delays(t, i, steps) if d is not None]
    fs = false_switches(t, i, steps, tolerance)
    n_true = int(np.unique(t[t >= 0]).size)
    return {
        "nmi": _defined(nmi(t, i)),
        "switches": float(len(steps)),
        "detected_fraction": len(delays) / len(steps) if steps else None,
        "mean_delay": float(np.mean(delays)) if delays else None,
        "median_delay": float(np.median(delays)) if delays else None,
        "false_switches": float(fs),
        "false_switches_per_10k": fs * 1e4 / t.shape[0] if t.shape[0] else None,
        "recall_rate": _defined(recall_rate(t, i)),
        "library_ratio": library_ratio(i, n_true) if n_true else None,
        "situations": float(np.unique(i[i >= 0]).size),
    }
