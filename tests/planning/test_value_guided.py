"""The two planning hooks: a terminal value (value-guided MPC) and policy-proposed candidates, with every
planner and every kind of dynamics parameters (ensembles, hypernetwork-generated, GrBAL-adapted)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor

from dynadapt.errors import DynadaptError
from dynadapt.meta.grbal import GrBAL, GrBALConfig
from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.nets.hypernet import HyperNetConfig, HyperNetwork, mlp_targets
from dynadapt.planning import (
    PLANNER_CONFIGS,
    ModelObjective,
    MPCConfig,
    PlannerConfig,
    PolicyProposals,
    TerminalValue,
    build_planner,
    imagine,
    mpc_agent,
    planner_config,
    policy_proposals,
)
from dynadapt.types import Params


def small(name: str, population: int, iterations: int) -> PlannerConfig:
    """Planner ``name`` with the given population and iterations (where it has them), a quarter elites."""
    fields = PLANNER_CONFIGS[name].__dataclass_fields__
    wanted = {"population": population, "iterations": iterations, "elites": max(1, population // 4)}
    return planner_config(name, **{k: v for k, v in wanted.items() if k in fields})


def shift_predict(params: Params, obs: Tensor, act: Tensor) -> tuple[Tensor, Tensor | None]:
    """Member e moves x by ``a + c[e]``; with ``"std"`` in params, Gaussian with that std."""
    mean = obs + act + params["c"][:, None, None]
    return mean, (params["std"][:, None, None].expand_as(mean) if "std" in params else None)


def pay_now(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """Moving right pays now: r = a."""
    return act[..., 0]


def far_right_is_bad(obs: Tensor) -> Tensor:
    return -10.0 * obs[..., 0]


def test_terminal_value_term_by_hand_in_every_propagation() -> None:
    # J = sum_t γ^t r_t + γ^H V(s_H): all +1 → 1 + 0.9 − 0.81·20 = −14.3; all −1 → +14.3
    actions = torch.stack([torch.ones(2, 1), -torch.ones(2, 1)]).double()
    terminal = TerminalValue(far_right_is_bad, discount=0.9)
    for prop in ("ts_inf", "ts1", "expectation"):
        params = {"c": torch.zeros(3, dtype=torch.float64)}
        plain = imagine(
            shift_predict, params, torch.zeros(1).double(), actions, pay_now, None, propagation=prop
        )
        valued = imagine(
            shift_predict, params, torch.zeros(1).double(), actions, pay_now, None, propagation=prop,
            terminal=terminal,
        )  # fmt: skip
        assert plain.tolist() == [2.0, -2.0], prop
        assert valued.tolist() == pytest.approx([1.9 - 16.2, -1.9 + 16.2], abs=1e-12), prop


def test_terminal_value_uses_each_particles_own_last_state_and_skips_terminated_ones() -> None:
    # two members at offsets 0 and 2: after H = 1 step of a = 0 the particles sit at 0 and 2
    params = {"c": torch.tensor([0.0, 2.0])}
    terminal = TerminalValue(lambda obs: obs[..., 0] ** 2, discount=0.5)
    zero = torch.zeros(1, 1, 1)
    ret = imagine(shift_predict, params, torch.zeros(1), zero, pay_now, None, particles=2, terminal=terminal)
    assert ret.tolist() == [0.5 * (0.0 + 4.0) / 2]  # mean over particles of γ V(s_1)

    def done_past_1(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
        return next_obs[..., 0] > 1

    ret = imagine(
        shift_predict, params, torch.zeros(1), zero, pay_now, done_past_1, particles=2, terminal=terminal
    )
    assert ret.tolist() == [0.0]  # the particle at 2 terminated: no value after termination


def test_the_terminal_value_changes_which_plan_wins() -> None:
    """MPC on a 1-D integrator: without the value it moves right (reward now), with it left."""
    mpc = MPCConfig(horizon=2, particles=1, propagation="expectation")
    objective = ModelObjective(shift_predict, mpc, torch.Generator().manual_seed(0), pay_now, None,
                               {"c": torch.zeros(1)})  # fmt: skip
    low, high = np.array([-1.0], dtype=np.float32), np.array([1.0], dtype=np.float32)
    for name in ("cem", "rs", "mppi"):
        agent = mpc_agent(planner_config(name), objective, low, high)
        objective.terminal = None
        assert agent.act(np.zeros(1))[0] > 0.5, name
        agent.reset()
        objective.terminal = TerminalValue(far_right_is_bad, discount=0.9)
        assert agent.act(np.zeros(1))[0] < -0.5, name


def test_discount_must_be_a_fraction() -> None:
    with pytest.raises(DynadaptError, match="discount"):
        TerminalValue(far_right_is_bad, discount=0.0)


@pytest.mark.parametrize("name", sorted(PLANNER_CONFIGS))
def test_policy_proposals_appear_in_every_population(name: str) -> None:
    seen: list[Tensor] = []

    def recording(actions: Tensor) -> Tensor:
        seen.append(actions.detach().clone())
        return -(actions - 0.3).square().sum(dim=(1, 2))

    planner = build_planner(
        small(name, 12, 2), -torch.ones(2), torch.ones(2), 4, torch.Generator().manual_seed(1)
    )
    proposals = torch.stack([torch.full((4, 2), 0.37), torch.full((4, 2), -0.61)])
    planner.plan(recording, None, proposals)
    fresh = seen if name not in ("grad", "cem-grad") else seen[:1]  # gradient steps move the candidates
    for batch in fresh:
        for proposal in proposals:
            assert (batch == proposal).all(dim=(1, 2)).any(), name
    seen.clear()
    planner.reset()
    planner.plan(recording)  # no proposals: none of them appears
    assert not any((b == proposals[0]).all(dim=(1, 2)).any() for b in seen)


def test_proposals_warm_start_the_distribution_and_are_checked() -> None:
    planner = build_planner(planner_config("rs", population=2), -torch.ones(1), torch.ones(1), 3,
                            torch.Generator().manual_seed(0))  # fmt: skip
    best = torch.full((1, 3, 1), 0.25)
    plan = planner.plan(lambda a: -(a - 0.25).square().sum(dim=(1, 2)), None, torch.cat([best, best]))
    assert torch.equal(plan, best[0])  # both candidates are the proposals: RS returns the best exactly
    with pytest.raises(DynadaptError, match="proposals"):
        planner.plan(lambda a: a.sum(dim=(1, 2)), None, torch.zeros(2, 4, 1))


def test_policy_proposals_are_the_policys_closed_loop_rollouts() -> None:
    def policy(obs: Tensor) -> Tensor:
        return -0.5 * obs  # drives x to 0

    params = {"c": torch.zeros(2)}
    spec = PolicyProposals(policy, count=5, noise=0.2, low=-torch.ones(1), high=torch.ones(1))
    out = policy_proposals(
        shift_predict, params, torch.tensor([0.8]), spec, 3, torch.Generator().manual_seed(0)
    )
    assert out.shape == (5, 3, 1) and (out.abs() <= 1).all()
    # the first proposal is noise-free: x = 0.8 → a = −0.4, x = 0.4 → a = −0.2, x = 0.2 → a = −0.1
    assert out[0, :, 0].tolist() == pytest.approx([-0.4, -0.2, -0.1])
    assert not torch.allclose(out[1:], out[:1].expand(4, 3, 1))


def _ensemble(members: int, gaussian: bool = True) -> tuple[DynamicsModel, Params]:
    cfg = ModelConfig(ensemble_size=members, hidden=(8,), head="gaussian" if gaussian else "deterministic")
    model = DynamicsModel(2, 1, cfg, generator=torch.Generator().manual_seed(2))
    return model, model.detached_params()


def _hypernet() -> tuple[DynamicsModel, Params]:
    model, _ = _ensemble(1)
    hnet = HyperNetwork(mlp_targets(model.spec, logvar_dim=2), HyperNetConfig(hidden=(8,)),
                        generator=torch.Generator().manual_seed(3))  # fmt: skip
    hnet.add_task()
    return model, hnet.weights(0)


def _grbal() -> tuple[DynamicsModel, Params]:
    model, theta = _ensemble(1, gaussian=False)
    learner = GrBAL(model, GrBALConfig(M=4, K=4), torch.Generator().manual_seed(4))
    x, y = torch.randn(4, 3), torch.randn(4, 2)
    return model, learner.adapt(theta, x, y)


@pytest.mark.parametrize("models", ["ensemble", "hypernet", "grbal"])
@pytest.mark.parametrize("name", sorted(PLANNER_CONFIGS))
def test_both_hooks_work_with_every_planner_and_every_kind_of_params(models: str, name: str) -> None:
    model, params = {"ensemble": lambda: _ensemble(3), "hypernet": _hypernet, "grbal": _grbal}[models]()
    calls = []

    def value(obs: Tensor) -> Tensor:
        calls.append(obs.shape)
        return -obs.square().sum(-1)

    mpc = MPCConfig(horizon=3, particles=3)
    objective = ModelObjective(model.predict, mpc, torch.Generator().manual_seed(0),
                               lambda o, a, n: -n.square().sum(-1), None, params)  # fmt: skip
    objective.terminal = TerminalValue(value, 0.95)
    low, high = -torch.ones(1), torch.ones(1)
    objective.proposals = PolicyProposals(lambda o: -o[..., :1], 2, 0.1, low, high)
    agent = mpc_agent(small(name, 8, 1), objective, low.numpy(), high.numpy())
    action = agent.act(np.array([0.3, -0.2], dtype=np.float32))
    assert action.shape == (1,) and np.isfinite(action).all() and abs(action[0]) <= 1
    assert calls, "the terminal value was never evaluated"
    assert objective.imagined >= agent.last_num_evaluations * 3 * 3 + 2 * 3  # candidates × P × H + M × H
