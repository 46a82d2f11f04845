"""Behaviour shared by every planner: known optima, bounds, NaN handling, determinism, state and reset."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch
from torch import Tensor

from dynadapt.errors import DynadaptError
from dynadapt.planning import PLANNER_CONFIGS, Objective, Planner, build_planner, planner_config

from .problems import point_mass_objective, point_mass_optimum, quadratic

ALL = sorted(PLANNER_CONFIGS)

# Settings under which each planner converges on the small test problems (H <= 10, A <= 2) in one call.
CONVERGING: dict[str, dict[str, Any]] = {
    "rs": {"population": 4000},
    "cem": {"population": 300, "elites": 30, "iterations": 10},
    "icem": {"population": 300, "elites": 30, "iterations": 10, "gamma": 1.1, "beta": 0.5},
    "mppi": {"population": 300, "gamma": 50.0, "sigma": 0.1, "iterations": 30, "beta": 1.0},
    "grad": {"population": 4, "iterations": 200, "lr": 0.05},
    "cem-grad": {"population": 100, "elites": 10, "iterations": 3, "grad_iterations": 200, "lr": 0.05},
    "hypercrl-cem": {"population": 300, "elites": 30, "iterations": 10, "bounded": True},
}
"""Random shooting only converges on tiny problems: it gets horizon 2 below."""


def make(name: str, low: Tensor, high: Tensor, horizon: int, seed: int = 0, **overrides: Any) -> Planner:
    cfg = planner_config(name, **{**CONVERGING[name], **overrides})
    return build_planner(cfg, low, high, horizon, torch.Generator().manual_seed(seed))


def recording(objective: Objective, store: list[Tensor]) -> Objective:
    def wrapped(actions: Tensor) -> Tensor:
        store.append(actions.detach().clone())
        return objective(actions)

    return wrapped


@pytest.mark.parametrize("name", ALL)
def test_quadratic_optimum(name: str) -> None:
    H = 1 if name == "rs" else 6
    target = torch.rand(H, 2, generator=torch.Generator().manual_seed(1)) * 1.6 - 0.8
    planner = make(name, -torch.ones(2), torch.ones(2), H)
    plan = planner.plan(quadratic(target))
    assert plan.shape == (H, 2)
    tol = 0.1 if name == "rs" else 0.05
    assert (plan - target).abs().max() < tol, (plan - target).abs().max()
    assert planner.last_num_evaluations > 0


@pytest.mark.parametrize("name", ALL)
def test_point_mass_optimum(name: str) -> None:
    obs0 = torch.tensor([0.5, 0.0])
    H = 2 if name == "rs" else 8
    optimum = point_mass_optimum(obs0, H)
    low, high = torch.full((1,), -5.0), torch.full((1,), 5.0)
    assert optimum.abs().max() < 5.0  # the unconstrained optimum is feasible
    objective = point_mass_objective(obs0)
    plan = make(name, low, high, H).plan(objective)
    best = objective(optimum.unsqueeze(0)).item()
    gap = best - objective(plan.unsqueeze(0)).item()
    assert -1e-5 <= gap < 0.02 * abs(best), (gap, best)
    assert abs(plan[0, 0] - optimum[0, 0]) < 0.3


@pytest.mark.parametrize("name", ALL)
def test_evaluated_candidates_and_plan_respect_the_bounds(name: str) -> None:
    low, high = torch.tensor([-1.0, 0.0]), torch.tensor([0.5, 3.0])
    target = torch.tensor([[2.0, -1.0]]).expand(4, 2)  # both beyond a bound
    seen: list[Tensor] = []
    planner = make(name, low, high, 4)
    warm = torch.tensor([[0.4, 2.9]]).expand(4, 2)
    for _ in range(2):
        plan = planner.plan(recording(quadratic(target), seen), warm)
        planner.shift(1)
    samples = torch.cat(seen)
    assert (samples >= low).all() and (samples <= high).all()
    assert (plan >= low).all() and (plan <= high).all()


def test_hypercrl_cem_is_unbounded_by_default() -> None:
    seen: list[Tensor] = []
    planner = build_planner(
        planner_config("hypercrl-cem"), -torch.ones(1), torch.ones(1), 3, torch.Generator()
    )
    planner.plan(recording(quadratic(torch.full((3, 1), 3.0)), seen))
    assert torch.cat(seen).abs().max() > 1.0


@pytest.mark.parametrize("name", ALL)
def test_nan_candidates_are_never_preferred(name: str) -> None:
    # The return grows with the first action, but candidates with a_0 > 0 diverge (NaN). Scoring NaN as a
    # good (or zero) value would move the plan to a_0 > 0.
    def objective(actions: Tensor) -> Tensor:
        ret = actions[:, 0, 0] * 10 - 20
        return torch.where(actions[:, 0, 0] > 0, torch.full_like(ret, torch.nan), ret)

    planner = make(name, -torch.ones(1), torch.ones(1), 3)
    plan = planner.plan(objective, torch.full((3, 1), -0.5))
    assert plan[0, 0] <= 0.0


@pytest.mark.parametrize("name", ALL)
def test_all_candidates_failing_still_gives_a_plan_in_bounds(name: str) -> None:
    planner = (
        make(name, -torch.ones(1), torch.ones(1), 3, iterations=2)
        if name not in ("rs",)
        else make(name, -torch.ones(1), torch.ones(1), 3)
    )
    plan = planner.plan(lambda a: a.sum(dim=(1, 2)) * torch.nan, torch.full((3, 1), 0.25))
    assert plan.shape == (3, 1) and torch.isfinite(plan).all()
    if name != "hypercrl-cem":  # HyperCRL ignores the warm start
        assert (plan.abs() <= 1).all()


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_plan(name: str) -> None:
    target = torch.rand(4, 2, generator=torch.Generator().manual_seed(5)) * 2 - 1

    def plans(seed: int) -> list[Tensor]:
        planner = (
            make(name, -torch.ones(2), torch.ones(2), 4, seed=seed, iterations=2)
            if name != "rs"
            else make(name, -torch.ones(2), torch.ones(2), 4, seed=seed)
        )
        first = planner.plan(quadratic(target))
        planner.shift(1)
        return [first, planner.plan(quadratic(target))]

    a, b, c = plans(3), plans(3), plans(4)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("name", ALL)
def test_state_round_trip_resumes_exactly_and_reset_clears_it(name: str) -> None:
    target = torch.rand(5, 1, generator=torch.Generator().manual_seed(2)) * 2 - 1
    kwargs: dict[str, Any] = {} if name == "rs" else {"iterations": 2}
    a = make(name, -torch.ones(1), torch.ones(1), 5, **kwargs)
    a.plan(quadratic(target))
    a.shift(2)
    state = a.state_dict()
    rng = a.generator.get_state()
    b = make(name, -torch.ones(1), torch.ones(1), 5, seed=99, **kwargs)
    b.load_state_dict(state)
    b.generator.set_state(rng)
    assert torch.equal(a.plan(quadratic(target)), b.plan(quadratic(target)))
    if name in ("icem", "mppi"):
        assert state  # these carry state between calls
    a.reset()
    assert a.state_dict() == {}
    with pytest.raises(DynadaptError):
        a.load_state_dict({"bogus": torch.zeros(1)})


@pytest.mark.parametrize("name", ALL)
def test_config_defaults_are_valid_and_bad_values_raise(name: str) -> None:
    cls = PLANNER_CONFIGS[name]
    cfg = cls()
    assert cfg.name == name
    with pytest.raises(DynadaptError, match=name):
        planner_config(name, population=0)


def test_config_fields_have_docstrings() -> None:
    import ast
    import inspect

    for cls in PLANNER_CONFIGS.values():
        for klass in cls.__mro__:
            if klass.__module__.startswith("dynadapt.planning") and "__dataclass_fields__" in vars(klass):
                tree = ast.parse(inspect.getsource(klass))
                body = tree.body[0].body  # type: ignore[attr-defined]
                for node, after in itertools.pairwise(body):
                    if isinstance(node, ast.AnnAssign) and "ClassVar" not in ast.unparse(node.annotation):
                        assert isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant), (
                            f"{klass.__name__}.{ast.unparse(node.target)} has no docstring"
                        )
