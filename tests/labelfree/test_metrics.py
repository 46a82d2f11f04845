"""Identification metrics on hand-built label arrays with known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dynadapt.errors import DynadaptError
from dynadapt.labelfree.metrics import (
    detection_delays,
    false_switches,
    identification_summary,
    library_ratio,
    nmi,
    recall_rate,
)

# A B A: 10 steps each, true switches at 10 and 20
TRUE = [0] * 10 + [1] * 10 + [0] * 10
SWITCHES = [10, 20]
PERMUTED = [4] * 10 + [2] * 10 + [4] * 10
DELAYED = [0] * 13 + [1] * 7 + [1] * 4 + [0] * 6  # the learner notices after 3 and 4 steps


def test_nmi_known_values() -> None:
    assert nmi(TRUE, TRUE) == 1.0
    assert nmi(TRUE, PERMUTED) == 1.0  # labels are only names
    assert nmi(TRUE, [7] * 30) == 0.0  # one inferred situation carries no information
    assert nmi([0, 0, 1, 1], [0, 1, 0, 1]) == 0.0  # independent
    assert nmi([3, 3, 3], [1, 1, 1]) == 1.0  # both one cluster (scikit-learn's convention)
    assert nmi([-1, 0, 1, 1], [0, -1, 1, 1]) == 1.0  # steps unlabelled on either side are left out
    assert math.isnan(nmi([-1, -1], [0, 0]))
    # true (0, 0, 1, 1) vs inferred (0, 0, 0, 1) by hand, in nats:
    # I = 1/2 ln(4/3) + 1/4 ln(2/3) + 1/4 ln 2, H(true) = ln 2, H(inferred) = −3/4 ln(3/4) − 1/4 ln(1/4)
    mi = 0.5 * math.log(4 / 3) + 0.25 * math.log(2 / 3) + 0.25 * math.log(2)
    h_inf = -0.75 * math.log(0.75) - 0.25 * math.log(0.25)
    assert math.isclose(nmi([0, 0, 1, 1], [0, 0, 0, 1]), mi / ((math.log(2) + h_inf) / 2), rel_tol=1e-12)
    assert math.isclose(nmi([0, 0, 1, 1], [0, 0, 0, 1]), 0.3437, abs_tol=1e-4)
    # symmetric in its arguments
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 4, 200), rng.integers(0, 3, 200)
    assert math.isclose(nmi(a, b), nmi(b, a), rel_tol=1e-12)


def test_nmi_matches_sklearn() -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    for _ in range(5):
        a, b = rng.integers(0, 5, 300), rng.integers(0, 4, 300)
        b[:150] = a[:150]  # partly informative
        assert math.isclose(nmi(a, b), metrics.normalized_mutual_info_score(a, b), rel_tol=1e-9)


def test_detection_delays() -> None:
    assert detection_delays(TRUE, TRUE, SWITCHES) == [0, 0]
    assert detection_delays(TRUE, PERMUTED, SWITCHES) == [0, 0]
    assert detection_delays(TRUE, DELAYED, SWITCHES) == [3, 4]
    assert detection_delays(TRUE, [0] * 30, SWITCHES) == [None, None]  # never noticed
    # the change to the label the learner keeps for most of the segment counts, not a brief visit elsewhere:
    # in B, 5 at step 11 is a flicker, 1 from step 15 on is the majority (5 of 10 steps)
    flicker = [0] * 11 + [5] + [0] * 3 + [1] * 5 + [0] * 10
    assert detection_delays(TRUE, flicker, SWITCHES) == [5, 0]
    late = [0] * 12 + [1] * 8 + [1] * 2 + [-1] * 3 + [0] * 5  # -1 steps are skipped
    assert detection_delays(TRUE, late, SWITCHES) == [2, 5]
    assert detection_delays(TRUE, [-1] * 30, SWITCHES) == [None, None]
    assert detection_delays(TRUE, TRUE, []) == []


def test_false_switches() -> None:
    assert false_switches(TRUE, TRUE, SWITCHES, tolerance=5) == 0
    assert false_switches(TRUE, DELAYED, SWITCHES, tolerance=5) == 0
    assert false_switches(TRUE, DELAYED, SWITCHES, tolerance=3) == 1  # the change at 24 is 4 steps late
    one_false = [0] * 5 + [2] * 5 + [1] * 10 + [0] * 10  # 0 → 2 at step 5 with no true switch before
    assert false_switches(TRUE, one_false, SWITCHES, tolerance=5) == 1
    spike = [0] * 5 + [2] + [0] * 4 + TRUE[10:]  # a one-step spike: there and back, two false changes
    assert false_switches(TRUE, spike, SWITCHES, tolerance=5) == 2
    twice = [0] * 11 + [1] * 2 + [3] * 7 + [0] * 10  # 0 → 1 → 3 after one true switch: one is false
    assert false_switches(TRUE, twice, SWITCHES, tolerance=5) == 1
    assert (
        false_switches(TRUE, [-1] * 3 + [0] * 27, SWITCHES, tolerance=5) == 0
    )  # the first label is no change
    with pytest.raises(DynadaptError, match="tolerance"):
        false_switches(TRUE, TRUE, SWITCHES, tolerance=-1)


def test_recall_rate() -> None:
    true = [0] * 5 + [1] * 5 + [0] * 5 + [1] * 5
    assert recall_rate(true, true) == 1.0
    assert recall_rate(true, [3] * 5 + [1] * 5 + [3] * 5 + [1] * 5) == 1.0
    duplicate = [0] * 5 + [1] * 5 + [2] * 5 + [1] * 5  # A's return gets a new label, B's is recalled
    assert recall_rate(true, duplicate) == 0.5
    mostly = [0] * 5 + [1] * 5 + [1, 1] + [0] * 3 + [1] * 5  # the majority of the segment decides
    assert recall_rate(true, mostly) == 1.0
    assert recall_rate(true, [0] * 5 + [1] * 5 + [-1] * 5 + [1] * 5) == 0.5  # no inferred label: a miss
    assert math.isnan(recall_rate([0] * 5 + [1] * 5, [0] * 10))  # nothing recurs


def test_library_ratio() -> None:
    assert library_ratio([-1, 0, 0, 3, 3, 7], n_true=2) == 1.5
    assert library_ratio(PERMUTED, n_true=2) == 1.0
    assert library_ratio([-1, -1], n_true=2) == 0.0
    with pytest.raises(DynadaptError):
        library_ratio([0], n_true=0)


def test_summary_is_json_ready() -> None:
    s = identification_summary(TRUE, DELAYED, SWITCHES, tolerance=3)
    json.dumps(s, allow_nan=False)
    assert s["nmi"] is not None and 0 < s["nmi"] < 1
    expected = {
        "switches": 2.0,
        "detected_fraction": 1.0,
        "mean_delay": 3.5,
        "median_delay": 3.5,
        "false_switches": 1.0,
        "false_switches_per_10k": 1e4 / 30,
        "recall_rate": 1.0,
        "library_ratio": 1.0,
        "situations": 2.0,
    }
    assert {k: v for k, v in s.items() if k != "nmi"} == pytest.approx(expected, rel=1e-12)
    perfect = identification_summary(TRUE, PERMUTED, SWITCHES)
    assert perfect["nmi"] == 1.0 and perfect["median_delay"] == 0.0 and perfect["false_switches"] == 0.0
    # undefined values are None, never NaN
    empty = identification_summary([0] * 5 + [1] * 5, [-1] * 10, [5])
    json.dumps(empty, allow_nan=False)
    assert empty["nmi"] is None and empty["median_delay"] is None and empty["recall_rate"] is None
    assert empty["detected_fraction"] == 0.0 and empty["library_ratio"] == 0.0
    none = identification_summary([], [], [])
    json.dumps(none, allow_nan=False)
    assert none["false_switches_per_10k"] is None and none["detected_fraction"] is None


@pytest.mark.parametrize(
    ("true", "inferred", "switches"),
    [
        ([0, 0, 1], [0, 0], [2]),  # lengths differ
        ([0, 0, 1], [0, 0.5, 1], [2]),  # not integers
        ([0, 0, 1], [0, -2, 1], [2]),  # below -1
        ([[0, 0, 1]], [[0, 0, 1]], [2]),  # not 1-D
        ([0, 0, 1], [0, 0, 1], [2, 2]),  # not increasing
        ([0, 0, 1], [0, 0, 1], [3]),  # past the end
    ],
)
def test_bad_input_raises(true: list[object], inferred: list[object], switches: list[int]) -> None:
    with pytest.raises(DynadaptError):
        identification_summary(true, inferred, switches)  # type: ignore[arg-type]
