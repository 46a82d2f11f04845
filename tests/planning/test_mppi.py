"""PDDM-style MPPI: the noise scale is applied, the filter, the weighting and the shift."""

from __future__ import annotations

import torch
from torch import Tensor

from dynadapt.planning import MPPIConfig, MPPIPlanner, build_planner

from .problems import quadratic
from .test_planners import recording


def make(low: float = -100.0, high: float = 100.0, horizon: int = 6, **overrides: object) -> MPPIPlanner:
    cfg = MPPIConfig(**overrides)  # type: ignore[arg-type]
    planner = build_planner(
        cfg, torch.full((2,), low), torch.full((2,), high), horizon, torch.Generator().manual_seed(0)
    )
    assert isinstance(planner, MPPIPlanner)
    return planner


def spread(sigma: float, beta: float) -> Tensor:
    planner = make(population=20_000, sigma=sigma, beta=beta)
    seen: list[Tensor] = []
    planner.plan(recording(quadratic(torch.zeros(6, 2)), seen))
    return seen[0].std(dim=0)  # [H, A]


def test_spread_scales_with_sigma() -> None:
    half = 100.0
    for beta in (1.0, 0.6):
        small, large = spread(0.01, beta), spread(0.03, beta)
        torch.testing.assert_close(large / small, torch.full_like(small, 3.0), rtol=0.05, atol=0)
        # u_0 = β (μ_0 + ε_0) + (1 − β) a_prev: std β σ; u_t accumulates Σ_j (β (1 − β)^(t − j))^2.
        t = torch.arange(6, dtype=torch.float64)
        lag = t[:, None] - t[None, :]
        gain = torch.where(lag >= 0, beta * (1 - beta) ** lag.clamp(min=0), 0.0).square().sum(1).sqrt()
        expected = (0.01 * half * gain).float().unsqueeze(-1).expand(6, 2)
        torch.testing.assert_close(small, expected, rtol=0.05, atol=0)


def test_filter_starts_from_the_previous_action() -> None:
    planner = make(sigma=1e-6, beta=0.5, population=4, horizon=3)
    warm = torch.tensor([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    plan = planner.plan(quadratic(torch.zeros(3, 2)), warm)
    # Without noise every sample is the filtered mean; a_prev defaults to μ_0 at the first call.
    torch.testing.assert_close(plan[:, 0], torch.tensor([1.0, 1.5, 2.25]), atol=1e-4, rtol=0)
    planner.shift(1)
    assert torch.allclose(planner.state_dict()["prev_action"], plan[0])
    torch.testing.assert_close(
        planner.state_dict()["mean"][:, 0], torch.tensor([1.5, 2.25, 2.25]), atol=1e-4, rtol=0
    )


def test_weights_follow_the_temperature() -> None:
    # Large gamma: the update is (almost) the best sample; small gamma: (almost) the plain sample mean.
    target = torch.full((6, 2), 0.5)
    for gamma, pick in ((1e4, "best"), (1e-6, "mean")):
        seen: list[Tensor] = []
        plan = make(low=-1.0, high=1.0, gamma=gamma, sigma=0.5).plan(recording(quadratic(target), seen))
        samples = seen[0]
        expected = samples[quadratic(target)(samples).argmax()] if pick == "best" else samples.mean(0)
        torch.testing.assert_close(plan, expected, atol=1e-4, rtol=0)


def test_one_refinement_per_step_by_default() -> None:
    planner = make(population=50)
    planner.plan(quadratic(torch.zeros(6, 2)))
    assert planner.last_num_evaluations == 50 and planner.last_num_iterations == 1
