"""The aggregates of Agarwal et al. 2021 (IQM, probability of improvement) and their stratified bootstrap
intervals, against hand-computed values, scipy's plain bootstrap and (when installed) rliable."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from dynadapt.sweep.stats import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    improvement_interval,
    iqm,
    iqm_interval,
    probability_of_improvement,
)


def test_iqm_is_the_mean_of_the_middle_half() -> None:
    # n = 8: the 2 lowest and the 2 highest are cut, (3 + 4 + 5 + 6) / 4
    assert iqm([8, 1, 7, 2, 6, 3, 5, 4]) == 4.5
    # n = 5: int(5 / 4) = 1 cut at each end, as scipy.stats.trim_mean(x, 0.25): (2 + 3 + 4) / 3
    assert iqm([1, 2, 3, 4, 100]) == 3.0
    # the outlier does not move it, the mean it moves a lot
    assert iqm([1, 2, 3, 4, 1e6]) == 3.0
    # n < 4: nothing cut, the mean; NaN and None left out
    assert iqm([1.0, 2.0, math.nan, 6.0]) == 3.0
    assert math.isnan(iqm([])) and math.isnan(iqm([math.nan]))


def test_probability_of_improvement_by_hand() -> None:
    # x = 1, 2, 3 against y = 2, 2: pairs 1<2 twice (0), 2=2 twice (1/2 each), 3>2 twice (1) -> 3/6
    assert probability_of_improvement({"t": [1, 2, 3]}, {"t": [2, 2]}) == 0.5
    # x = 3, 4 against y = 1, 2, 3: 3 beats 1 and 2 and ties 3 (2.5), 4 beats all (3) -> 5.5/6
    assert probability_of_improvement({"t": [3, 4]}, {"t": [1, 2, 3]}) == pytest.approx(5.5 / 6)
    assert probability_of_improvement({"t": [1, 2, 3]}, {"t": [3, 4]}) == pytest.approx(0.5 / 6)
    # the mean over tasks (tasks weigh the same, whatever their runs): (5.5/6 + 0) / 2
    two = probability_of_improvement({"a": [3, 4], "b": [0]}, {"a": [1, 2, 3], "b": [1, 2]})
    assert two == pytest.approx(5.5 / 12)
    # only shared tasks count; none shared: undefined
    assert probability_of_improvement({"a": [2], "c": [0]}, {"a": [1], "d": [9]}) == 1.0
    assert math.isnan(probability_of_improvement({"a": [1.0]}, {"b": [0.0]}))


def test_intervals_contain_the_estimate_narrow_with_more_runs_and_are_reproducible() -> None:
    rng = np.random.default_rng(3)
    widths = []
    for n in (5, 20, 80):
        x, y = rng.normal(1.0, 1.0, n), rng.normal(0.0, 1.0, n)
        a, p = iqm_interval({"t": x}), improvement_interval({"t": x}, {"t": y})
        assert a.estimate == iqm(x) and p.estimate == probability_of_improvement({"t": x}, {"t": y})
        assert a.low <= a.estimate <= a.high and p.low <= p.estimate <= p.high
        assert p.low >= 0 and p.high <= 1
        widths.append((a.high - a.low, p.high - p.low))
        assert iqm_interval({"t": x}) == a and improvement_interval({"t": x}, {"t": y}) == p
    assert widths[0][0] > widths[1][0] > widths[2][0]
    assert widths[0][1] > widths[1][1] > widths[2][1]


def test_one_task_is_the_plain_percentile_bootstrap() -> None:
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    plain = scipy.stats.bootstrap(
        (x,),
        lambda s, axis: scipy.stats.trim_mean(s, 0.25, axis=axis),
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    ).confidence_interval
    got = iqm_interval({"only": x})
    assert (got.low, got.high) == pytest.approx((plain.low, plain.high))


def test_the_bootstrap_resamples_within_each_task() -> None:
    # Two runs on a task scoring ~0 and two on one scoring ~100. Pooled, the IQM is (1 + 100) / 2. A
    # stratified resample always holds two runs of each task, so its IQM is (max of a + min of b) / 2,
    # in [50, 51]; resampling the pooled runs would draw e.g. four runs of a (IQM 0 or 1).
    strata = {"a": [0.0, 1.0], "b": [100.0, 101.0]}
    got = iqm_interval(strata)
    assert got.estimate == 50.5 and 50.0 <= got.low < got.high <= 51.0
    # P(x > y) resamples x and y within each task: on task b, x is always ahead
    p = improvement_interval({"a": [0.0, 1.0], "b": [5.0, 6.0]}, {"a": [0.5, 0.7], "b": [1.0, 2.0]})
    assert p.estimate == pytest.approx((0.5 + 1.0) / 2) and 0.5 <= p.low <= p.high <= 1.0


def test_degenerate_cases() -> None:
    same = iqm_interval({"t": [2.0, 2.0, 2.0]})
    assert same.estimate == same.low == same.high == 2.0
    one = iqm_interval({"t": [7.0]})
    assert one.estimate == 7.0 and not one.has_interval
    assert not iqm_interval({"a": [1.0], "b": [3.0]}).has_interval  # one run per task: no spread to draw
    assert math.isnan(iqm_interval({"t": [math.nan]}).estimate)
    assert math.isnan(improvement_interval({"a": [1.0, 2.0]}, {"b": [0.0, 1.0]}).estimate)
    assert iqm_interval({"t": [1.0]}).to_dict() == {"estimate": 1.0, "low": None, "high": None}


def test_point_estimates_equal_rliables() -> None:
    metrics = pytest.importorskip(
        "rliable.metrics", reason="rliable is not installed (pip install .[rliable])"
    )
    rng = np.random.default_rng(0)
    for runs, tasks in ((10, 1), (7, 3), (4, 5)):
        x, y = rng.normal(size=(runs, tasks)), rng.normal(size=(runs, tasks))
        x[0, 0] = y[0, 0] = 0.25  # a tie
        assert iqm(x) == pytest.approx(float(metrics.aggregate_iqm(x)), abs=1e-12)
        strata = [{str(t): x[:, t] for t in range(tasks)}, {str(t): y[:, t] for t in range(tasks)}]
        assert probability_of_improvement(*strata) == pytest.approx(
            float(metrics.probability_of_improvement(x, y)), abs=1e-12
        )
        assert iqm_interval(strata[0]).estimate == pytest.approx(float(metrics.aggregate_iqm(x)), abs=1e-12)
