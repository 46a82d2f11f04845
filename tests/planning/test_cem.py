"""PETS CEM: optima, bounds, elites, NaN handling, determinism, config validation."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from dynadapt.errors import DynadaptError
from dynadapt.planning import CEMConfig, CEMPlanner, Objective, build_planner, planner_config

from .problems import point_mass_objective, point_mass_optimum, quadratic


def make(cfg: CEMConfig, low: Tensor, high: Tensor, horizon: int, seed: int = 0) -> CEMPlanner:
    planner = build_planner(cfg, low, high, horizon, torch.Generator().manual_seed(seed))
    assert isinstance(planner, CEMPlanner)
    return planner


def recording(objective: Objective, store: list[Tensor]) -> Objective:
    def wrapped(actions: Tensor) -> Tensor:
        store.append(actions.clone())
        return objective(actions)

    return wrapped


def test_quadratic_optimum() -> None:
    g = torch.Generator().manual_seed(1)
    target = torch.rand(8, 2, generator=g) * 1.6 - 0.8
    planner = make(CEMConfig(population=200, elites=20, iterations=8), -torch.ones(2), torch.ones(2), 8)
    plan = planner.plan(quadratic(target))
    assert plan.shape == (8, 2)
    assert (plan - target).abs().max() < 0.05
    assert planner.last_num_evaluations == 200 * planner.last_num_iterations


def test_point_mass_optimum() -> None:
    obs0 = torch.tensor([0.5, 0.0])
    H = 10
    optimum = point_mass_optimum(obs0, H)
    low, high = torch.full((1,), -5.0), torch.full((1,), 5.0)
    assert optimum.abs().max() < 5.0  # the unconstrained optimum is feasible
    planner = make(CEMConfig(population=400, elites=40, iterations=10, alpha=0.1), low, high, H)
    objective = point_mass_objective(obs0)
    plan = planner.plan(objective)
    gap = objective(optimum.unsqueeze(0)) - objective(plan.unsqueeze(0))
    assert 0 <= gap.item() < 1e-3
    assert abs(plan[0, 0] - optimum[0, 0]) < 0.25


def test_samples_respect_bounds_and_plan_sticks_to_the_active_bound() -> None:
    low, high = torch.tensor([-1.0, 0.0]), torch.tensor([0.5, 3.0])
    target = torch.tensor([[2.0, 1.0]]).expand(6, 2)  # first dim beyond its upper bound
    seen: list[Tensor] = []
    planner = make(CEMConfig(population=100, elites=10, iterations=10), low, high, 6)
    plan = planner.plan(recording(quadratic(target), seen))
    samples = torch.cat(seen)
    assert (samples >= low).all() and (samples <= high).all()
    assert (plan >= low).all() and (plan <= high).all()
    # PETS's bound-aware variance shrinks as the mean nears the bound: it approaches it geometrically.
    assert (plan[:, 0] > 0.3).mean(dtype=torch.float32) > 0.5
    assert (plan[:, 1] - 1.0).abs().max() < 0.25
    # One dimension, short horizon: close to the bound.
    plan = make(CEMConfig(population=100, elites=10, iterations=10), low[:1], high[:1], 2).plan(
        quadratic(torch.full((2, 1), 2.0))
    )
    assert (plan > 0.45).all() and (plan <= 0.5).all()


def test_elites_are_the_true_top_k() -> None:
    # With alpha = 0 and one iteration the mean is exactly the mean of the K best evaluated samples.
    seen: list[Tensor] = []
    target = torch.full((5, 1), 0.3)
    planner = make(
        CEMConfig(population=50, elites=7, iterations=1, alpha=0.0), -torch.ones(1), torch.ones(1), 5
    )
    plan = planner.plan(recording(quadratic(target), seen))
    samples = seen[0]
    top = quadratic(target)(samples).topk(7).indices
    torch.testing.assert_close(plan, samples[top].mean(0))


def test_nan_candidates_never_become_elites() -> None:
    # The return grows with the first action, but every candidate with a_0 > 0 diverges (NaN). If NaN were
    # scored as a good value, the mean would move to a_0 > 0.
    def objective(actions: Tensor) -> Tensor:
        ret = actions[:, 0, 0] * 10
        return torch.where(actions[:, 0, 0] > 0, torch.full_like(ret, torch.nan), ret)

    for execute in ("mean", "best"):
        seen: list[Tensor] = []
        planner = make(
            CEMConfig(population=100, elites=20, iterations=5, execute=execute),
            -torch.ones(1),
            torch.ones(1),
            3,
        )
        plan = planner.plan(recording(objective, seen))
        assert plan[0, 0] <= 0.0
        assert plan[0, 0] > -0.5  # it went towards 0 from below


def test_all_candidates_failing_keeps_the_warm_start() -> None:
    planner = make(CEMConfig(population=20, elites=5, iterations=3), -torch.ones(1), torch.ones(1), 4)
    warm = torch.full((4, 1), 0.25)
    plan = planner.plan(lambda a: torch.full((a.shape[0],), torch.nan), warm)
    torch.testing.assert_close(plan, warm)


def test_execute_best_returns_an_evaluated_sequence_with_the_highest_return() -> None:
    seen: list[Tensor] = []
    target = torch.full((4, 2), -0.2)
    planner = make(
        CEMConfig(population=30, elites=5, iterations=3, execute="best"), -torch.ones(2), torch.ones(2), 4
    )
    plan = planner.plan(recording(quadratic(target), seen))
    samples = torch.cat(seen)
    returns = quadratic(target)(samples)
    torch.testing.assert_close(plan, samples[returns.argmax()])


def test_warm_start_is_the_initial_mean() -> None:
    seen: list[Tensor] = []
    warm = torch.linspace(-0.5, 0.5, 6).unsqueeze(-1)
    planner = make(CEMConfig(population=4000, elites=10, iterations=1), -torch.ones(1), torch.ones(1), 6)
    planner.plan(recording(quadratic(torch.zeros(6, 1)), seen), warm)
    torch.testing.assert_close(seen[0].mean(0), warm, atol=0.03, rtol=0)


def test_truncated_sampling_std_matches_pets() -> None:
    # Initial sigma^2 = (ub - lb)^2 / 16 = 0.25, truncated at 2 sigma: std = 0.5 * 0.8796.
    seen: list[Tensor] = []
    planner = make(CEMConfig(population=20000, elites=10, iterations=1), -torch.ones(1), torch.ones(1), 2)
    planner.plan(recording(quadratic(torch.zeros(2, 1)), seen))
    assert abs(seen[0].std().item() - 0.5 * 0.8796) < 0.01
    assert seen[0].abs().max() <= 1.0


def test_early_stop_on_small_variance() -> None:
    planner = make(
        CEMConfig(population=50, elites=5, iterations=20, epsilon=0.05), -torch.ones(1), torch.ones(1), 3
    )
    planner.plan(quadratic(torch.zeros(3, 1)))
    assert 1 <= planner.last_num_iterations < 20
    assert planner.last_num_evaluations == 50 * planner.last_num_iterations


def test_same_seed_same_plan() -> None:
    target = torch.rand(5, 2)
    plans = [
        make(CEMConfig(population=50, elites=5), -torch.ones(2), torch.ones(2), 5, seed=s).plan(
            quadratic(target)
        )
        for s in (3, 3, 4)
    ]
    assert torch.equal(plans[0], plans[1])
    assert not torch.equal(plans[0], plans[2])


def test_config_validation() -> None:
    with pytest.raises(DynadaptError, match="elites"):
        CEMConfig(population=10, elites=20)
    with pytest.raises(DynadaptError, match="alpha"):
        CEMConfig(alpha=1.0)
    with pytest.raises(DynadaptError, match="population"):
        CEMConfig(population=0)
    with pytest.raises(DynadaptError, match="execute"):
        CEMConfig(execute="median")  # type: ignore[arg-type]
    with pytest.raises(DynadaptError, match="unknown planner"):
        planner_config("cme")
    with pytest.raises(DynadaptError, match="field"):
        planner_config("cem", popsize=3)
    cfg = planner_config("cem", population=7, elites=2)
    assert isinstance(cfg, CEMConfig) and cfg.population == 7
    with pytest.raises(DynadaptError, match="bounds"):
        build_planner(CEMConfig(), torch.ones(1), -torch.ones(1), 3, torch.Generator())
    with pytest.raises(DynadaptError, match="warm start"):
        make(CEMConfig(), -torch.ones(1), torch.ones(1), 3).plan(
            quadratic(torch.zeros(3, 1)), torch.zeros(2, 1)
        )
