"""Random shooting, the gradient planners and HyperCRL's CEM: their specific rules."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from dynadapt.planning import (
    CEMGradConfig,
    GradConfig,
    HyperCRLCEMConfig,
    RSConfig,
    build_planner,
)

from .problems import quadratic
from .test_planners import recording


def bounds(a: int = 1) -> tuple[Tensor, Tensor]:
    return -torch.ones(a), torch.ones(a)


def test_random_shooting_uniform_and_gaussian() -> None:
    seen: list[Tensor] = []
    target = torch.full((3, 1), 0.2)
    planner = build_planner(RSConfig(population=10_000), *bounds(), 3, torch.Generator().manual_seed(0))
    plan = planner.plan(recording(quadratic(target), seen))
    samples = seen[0]
    assert abs(samples.mean().item()) < 0.02 and abs(samples.var().item() - 1 / 3) < 0.01  # U(-1, 1)
    torch.testing.assert_close(plan, samples[quadratic(target)(samples).argmax()])
    seen.clear()
    warm = torch.full((3, 1), 0.5)
    planner = build_planner(
        RSConfig(population=10_000, distribution="gaussian", init_std=0.1), *bounds(), 3, torch.Generator()
    )
    planner.plan(recording(quadratic(target), seen), warm)
    torch.testing.assert_close(seen[0].mean(0), warm, atol=0.01, rtol=0)
    assert abs(seen[0].std().item() - 0.1) < 0.01


def test_grad_selects_by_returns_re_evaluated_after_the_last_step() -> None:
    seen: list[Tensor] = []
    target = torch.full((4, 2), 0.3)
    cfg = GradConfig(population=5, iterations=3)
    planner = build_planner(cfg, *bounds(2), 4, torch.Generator().manual_seed(0))
    plan = planner.plan(recording(quadratic(target), seen))
    assert len(seen) == 4 and planner.last_num_evaluations == 5 * 4  # 3 steps + the final evaluation
    final = seen[-1]
    torch.testing.assert_close(plan, final[quadratic(target)(final).argmax()])
    assert not plan.requires_grad


def test_grad_starts_one_candidate_at_the_warm_start_and_projects_to_the_bounds() -> None:
    seen: list[Tensor] = []
    warm = torch.full((2, 1), -0.4)
    planner = build_planner(GradConfig(population=3, iterations=5, lr=0.5), *bounds(), 2, torch.Generator())
    plan = planner.plan(recording(quadratic(torch.full((2, 1), 5.0)), seen), warm)
    torch.testing.assert_close(seen[0][0], warm)
    assert torch.equal(plan, torch.ones(2, 1))  # pushed onto the upper bound and kept there


def test_grad_works_under_no_grad() -> None:
    planner = build_planner(GradConfig(population=2, iterations=50), *bounds(), 2, torch.Generator())
    with torch.no_grad():
        plan = planner.plan(quadratic(torch.full((2, 1), 0.5)))
    assert (plan - 0.5).abs().max() < 0.05


def test_cem_grad_refines_the_cem_result() -> None:
    target = torch.rand(6, 2, generator=torch.Generator().manual_seed(3)) * 1.6 - 0.8
    coarse: dict[str, Any] = {"population": 50, "elites": 5, "iterations": 2}
    cem = build_planner(
        CEMGradConfig(**coarse, grad_iterations=0), *bounds(2), 6, torch.Generator().manual_seed(0)
    )
    refined = build_planner(
        CEMGradConfig(**coarse, grad_iterations=100), *bounds(2), 6, torch.Generator().manual_seed(0)
    )
    objective = quadratic(target)
    before = objective(cem.plan(objective).unsqueeze(0))
    after = objective(refined.plan(objective).unsqueeze(0))
    assert after > before and after > -1e-3
    assert refined.last_num_evaluations == 2 * 50 + 4 * 101


def test_hypercrl_cem_resets_every_call_and_pays_for_an_extra_population() -> None:
    cfg = HyperCRLCEMConfig(population=20, elites=4, iterations=3)
    target = torch.full((3, 1), 0.1)
    a = build_planner(cfg, *bounds(), 3, torch.Generator().manual_seed(0))
    b = build_planner(cfg, *bounds(), 3, torch.Generator().manual_seed(0))
    seen: list[Tensor] = []
    plan_a = a.plan(recording(quadratic(target), seen), torch.full((3, 1), 0.9))
    plan_b = b.plan(quadratic(target))
    assert torch.equal(plan_a, plan_b)  # the warm start is ignored
    assert a.last_num_evaluations == 20 * 4
    final = seen[-1]
    torch.testing.assert_close(plan_a, final[quadratic(target)(final).argmax()])
    assert abs(seen[0].std().item() - 1.0) < 0.3  # σ0 = 1 x half-width, untruncated
