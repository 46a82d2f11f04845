"""iCEM's rules (reference §2.4), checked on the candidates it evaluates."""

from __future__ import annotations

import itertools

import torch
from torch import Tensor

from dynadapt.planning import ICEMConfig, ICEMPlanner, build_planner

from .problems import quadratic
from .test_planners import recording

TARGET = torch.tensor([[0.3], [-0.2], [0.1], [0.4], [0.0]])


def make(**overrides: object) -> ICEMPlanner:
    cfg = ICEMConfig(**overrides)  # type: ignore[arg-type]
    planner = build_planner(cfg, -torch.ones(1), torch.ones(1), 5, torch.Generator().manual_seed(0))
    assert isinstance(planner, ICEMPlanner)
    return planner


def test_population_decay_and_evaluation_count() -> None:
    assert ICEMConfig().populations() == [40, 32, 25]  # blitz: 40, 32, 25 (rule 3)
    assert ICEMConfig(population=100, elites=30, iterations=3, gamma=2).populations() == [100, 60, 60]
    planner = make()
    seen: list[Tensor] = []
    planner.plan(recording(quadratic(TARGET), seen))
    # First call: no previous elites; iterations 1 and 2 add the floor(0.3 * 10) = 3 kept elites.
    assert [s.shape[0] for s in seen] == [40, 35, 28]
    assert planner.last_num_evaluations == 103
    planner.shift(1)
    seen.clear()
    planner.plan(recording(quadratic(TARGET), seen))
    assert [s.shape[0] for s in seen] == [43, 35, 28]  # rule 5: shifted elites join iteration 0
    planner.reset()
    seen.clear()
    planner.plan(recording(quadratic(TARGET), seen))
    assert [s.shape[0] for s in seen] == [40, 35, 28]  # rule 9: elites cleared at episode start


def test_kept_elites_are_the_previous_iterations_best() -> None:
    seen: list[Tensor] = []
    objective = quadratic(TARGET)
    make(alpha=0.0).plan(recording(objective, seen))
    for prev, cur in itertools.pairwise(seen):
        top = objective(prev).topk(10).indices[:3]
        torch.testing.assert_close(cur[-3:], prev[top])  # rule 4


def test_shifted_elites_and_shifted_mean() -> None:
    seen: list[Tensor] = []
    objective = quadratic(TARGET)
    planner = make()
    planner.plan(recording(objective, seen))
    last = seen[-1]
    elites = last[objective(last).topk(10).indices[:3]]
    mean_before = planner.state_dict()["mean"]
    planner.shift(2)
    torch.testing.assert_close(planner.state_dict()["mean"][:3], mean_before[2:])
    torch.testing.assert_close(planner.state_dict()["mean"][3:], mean_before[-1:].expand(2, 1))  # rule 9
    seen.clear()
    planner.plan(recording(objective, seen))
    shifted = seen[0][40:]
    torch.testing.assert_close(shifted[:, :3], elites[:, 2:])  # rule 5
    torch.testing.assert_close(shifted[:, 3:], seen[0][:3, 3:])  # fresh last actions


def test_mean_is_evaluated_in_the_last_iteration_and_best_is_executed() -> None:
    seen: list[Tensor] = []
    objective = quadratic(TARGET)
    warm = torch.full((5, 1), 0.2)
    planner = make(iterations=1)
    plan = planner.plan(recording(objective, seen), warm)
    torch.testing.assert_close(seen[0][0], warm)  # rule 6 (the mean is the warm start here)
    torch.testing.assert_close(plan, seen[0][objective(seen[0]).argmax()])  # rule 7
    planner = make(iterations=3)
    seen.clear()
    plan = planner.plan(recording(objective, seen))
    torch.testing.assert_close(plan, seen[-1][objective(seen[-1]).argmax()])
    mean_plan = make(iterations=3, execute="mean").plan(objective)
    assert not torch.equal(mean_plan, plan)


def test_sigma_restarts_at_every_call() -> None:
    # After convergence the next call samples with init_std again (rule 9): its spread is wide.
    seen: list[Tensor] = []
    planner = make(population=200, elites=20, iterations=6, beta=0.0)
    planner.plan(recording(quadratic(TARGET), seen))
    assert seen[-1].std(0).max() < 0.1
    planner.shift(1)
    seen.clear()
    planner.plan(recording(quadratic(TARGET), seen))
    assert seen[0][:200].std(0).mean() > 0.35  # σ = 0.5, clipped at the bounds
