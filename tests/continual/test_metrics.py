"""The metrics of a reward matrix (ACC, BWT, forgetting, floor-normalised retention), hand-computed for
positive and negative returns, and the fixed evaluation start states and random-action floor."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

from dynadapt.continual import continual_metrics
from dynadapt.continual.metrics import random_return, start_seeds

nan = math.nan

POSITIVE = [
    [100.0, 120.0, 60.0],
    [nan, 80.0, 90.0],
    [nan, nan, 50.0],
]
"""Cart-pole-like returns: task 0 peaks at 120 after task 1 and falls to 60; task 1 improves to 90."""

NEGATIVE = [
    [-100.0, -400.0, -700.0],
    [nan, -200.0, -150.0],
    [nan, nan, -300.0],
]
"""Pendulum-like costs: task 0 collapses from -100 to -700; task 1 improves from -200 to -150."""


def test_positive_returns_by_hand() -> None:
    m = continual_metrics(POSITIVE, random_returns=[0.0, 20.0, 10.0])
    assert m["acc"] == m["final_average_return"] == pytest.approx((60 + 90 + 50) / 3)
    assert m["bwt"] == pytest.approx(((60 - 100) + (90 - 80)) / 2)  # -15
    # forgetting: the drop from the best return before the last task (task 0's best is 120, not 100)
    assert m["forgetting"] == pytest.approx([120 - 60, 80 - 90])  # [60, -10]
    assert m["average_forgetting"] == pytest.approx(25.0)
    assert m["retention_floor_normalised"] == pytest.approx([(60 - 0) / (100 - 0), (90 - 20) / (80 - 20)])
    assert m["average_retention_floor_normalised"] == pytest.approx((0.6 + 70 / 60) / 2)
    assert m["random_returns"] == [0.0, 20.0, 10.0]
    assert m["average_curve"] == pytest.approx([100.0, 100.0, 200 / 3])


def test_negative_returns_by_hand_a_collapse_reads_as_forgetting() -> None:
    # -100 -> -700 on task 0 with random actions at -800: 600 lost, less than a fifth of the gain kept
    m = continual_metrics(NEGATIVE, random_returns=[-800.0, -900.0, -1000.0])
    assert m["forgetting"] == pytest.approx([600.0, -50.0])  # task 1 improved: negative forgetting
    assert m["average_forgetting"] == pytest.approx(275.0)
    retention = m["retention_floor_normalised"]
    assert retention == pytest.approx([100 / 700, 750 / 700])
    assert retention[0] < 0.2 and retention[1] > 1.0
    assert m["bwt"] == pytest.approx(((-700 + 100) + (-150 + 200)) / 2)  # -275
    assert m["acc"] == pytest.approx((-700 - 150 - 300) / 3)


def test_the_old_ratio_is_gone_it_read_backwards_for_costs() -> None:
    # the former "forgetting" R(i,T)/R(i,i) gave 7.0 for the -100 -> -700 collapse (and 0.6 for a loss of
    # 40 % of a positive return); the Chaudhry forgetting is a drop in return units, > 0 when lost
    m = continual_metrics(NEGATIVE)
    assert m["forgetting"][0] != pytest.approx(7.0) and m["forgetting"][0] > 0
    assert continual_metrics(POSITIVE)["forgetting"][0] > 0  # lost: > 0 in both signs of return
    assert m["forgetting"][1] < 0 and m["bwt"] < 0


def test_without_floors_no_normalised_retention_and_never_a_raw_ratio() -> None:
    m = continual_metrics(NEGATIVE)
    assert not {"retention_floor_normalised", "average_retention_floor_normalised", "random_returns"} & set(m)


def test_retention_undefined_without_a_gain_over_random() -> None:
    m = continual_metrics([[-500.0, -400.0], [nan, -300.0]], random_returns=[-450.0, -1000.0])
    assert math.isnan(m["retention_floor_normalised"][0])  # R(0,0) below the floor: nothing to keep
    assert math.isnan(m["average_retention_floor_normalised"])


def test_one_task_and_forward_transfer() -> None:
    m = continual_metrics([[5.0]], single=[10.0], random_returns=[1.0])
    assert m["forgetting"] == [] and math.isnan(m["average_forgetting"]) and math.isnan(m["bwt"])
    assert m["acc"] == 5.0 and m["forward_transfer"] == [0.5] and m["retention_floor_normalised"] == []
    two = continual_metrics([[10.0, 5.0], [nan, 8.0]], single=[10.0, 4.0])
    assert two["forward_transfer"] == [1.0, 2.0] and two["forgetting"] == [5.0]


def test_start_seeds_depend_on_seed_task_and_episode_only() -> None:
    assert start_seeds(7, 2, 5)[:3] == start_seeds(7, 2, 3)  # episode k's seed whatever the count
    assert start_seeds(7, 2, 3) != start_seeds(7, 1, 3) != start_seeds(8, 2, 3)
    assert len(set(start_seeds(7, 2, 10))) == 10


def test_random_return_is_the_mean_return_of_uniform_random_actions() -> None:
    seeds = start_seeds(0, 0, 3)
    floor = random_return(lambda: gym.make("Pendulum-v1"), seeds, np.random.default_rng(1), steps=20)
    rng, env, returns = np.random.default_rng(1), gym.make("Pendulum-v1"), []
    for seed in seeds:
        env.reset(seed=seed)
        acts = [rng.uniform(-2.0, 2.0, size=1).astype(np.float32) for _ in range(20)]
        returns.append(sum(float(env.step(a)[1]) for a in acts))
    assert floor == pytest.approx(float(np.mean(returns)))
