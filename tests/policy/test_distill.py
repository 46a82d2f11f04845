"""Planner distillation (the library): DAgger relabelling and behaviour cloning (runs: tests/runs/distill)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dynadapt.envs import action_bounds, get_family
from dynadapt.models import DynamicsModel, ModelConfig
from dynadapt.planning import ModelObjective, MPCConfig, mpc_agent
from dynadapt.planning.cem import CEMConfig
from dynadapt.policy.distill import DistilledPolicy, PolicyConfig, dagger_episode

FAMILY = get_family("pendulum")


def mpc_expert(seed: int):
    """A real MPC agent (CEM on the imagined rollout of a small untrained model), randomness from ``seed``."""
    model = DynamicsModel(
        FAMILY.obs_dim,
        FAMILY.act_dim,
        ModelConfig(ensemble_size=2, hidden=(16,)),
        obs_preproc=FAMILY.obs_preproc,
        feature_dim=FAMILY.feature_dim,
        generator=torch.Generator().manual_seed(0),
    )
    gen = torch.Generator().manual_seed(seed)
    params = {k: v.detach() for k, v in model.params.items()}
    objective = ModelObjective(
        model.predict, MPCConfig(horizon=4, particles=2), gen, FAMILY.reward_fn, None, params
    )
    low, high = action_bounds(FAMILY.make())
    agent = mpc_agent(CEMConfig(population=16, elites=4, iterations=2), objective, low, high)
    return agent, low, high


def small_policy(low: np.ndarray, high: np.ndarray, seed: int = 0) -> DistilledPolicy:
    return DistilledPolicy(
        FAMILY.obs_dim,
        FAMILY.act_dim,
        low,
        high,
        PolicyConfig(hidden=(16,), train_steps=50),
        obs_preproc=FAMILY.obs_preproc,
        feature_dim=FAMILY.feature_dim,
        family="pendulum",
        generator=torch.Generator().manual_seed(seed),
    )


@pytest.mark.parametrize("beta", [0.0, 0.5])
def test_dagger_labels_the_states_the_policy_visited_with_the_planners_action(beta: float) -> None:
    import gymnasium as gym

    env = gym.wrappers.TimeLimit(FAMILY.make(), 25)
    agent, low, high = mpc_expert(seed=3)
    policy = small_policy(low, high)
    ep = dagger_episode(
        env, agent.act, policy.act, beta, np.random.default_rng(0), seed=7, reset_expert=agent.reset
    )
    assert ep.length == 25
    # the executed actions are the policy's except where the expert was drawn (all of them with beta = 0)
    learner = torch.as_tensor(np.stack([policy.act(o.numpy()) for o in ep.obs]))
    mine = ~ep.by_expert
    assert mine.all() if beta == 0 else 0 < int(mine.sum()) < 25
    torch.testing.assert_close(ep.executed[mine], learner[mine])
    torch.testing.assert_close(ep.executed[~mine], ep.labels[~mine])
    assert not torch.allclose(ep.executed, ep.labels)  # the labels are not just the executed actions
    # the recorded states are the ones the executed actions visit
    obs, _ = env.reset(seed=7)
    for t in range(25):
        np.testing.assert_allclose(ep.obs[t].numpy(), obs, rtol=0, atol=1e-6)
        obs, *_ = env.step(ep.executed[t].numpy())
    # each label is the planner's action at that state: a fresh identical agent fed the same states in
    # the same order (its warm start follows the trajectory) plans the same actions
    fresh, _, _ = mpc_expert(seed=3)
    fresh.reset()
    replanned = torch.as_tensor(np.stack([fresh.act(o.numpy()) for o in ep.obs]))
    torch.testing.assert_close(replanned, ep.labels)


def test_behaviour_cloning_recovers_a_known_controller_and_round_trips(tmp_path: Path) -> None:
    low, high = np.array([-2.0], dtype=np.float32), np.array([2.0], dtype=np.float32)
    policy = DistilledPolicy(3, 1, low, high, PolicyConfig(hidden=(32, 32), train_steps=800, lr=3e-3))
    gen = torch.Generator().manual_seed(0)
    obs = torch.rand(2000, 3, generator=gen) * 4 - 2
    act = (-(obs[:, :1] + 0.5 * obs[:, 2:3])).clamp(-2, 2)  # a saturated linear controller
    untrained = policy.mse(obs, act)
    policy.fit(obs, act)
    test = torch.rand(500, 3, generator=gen) * 4 - 2
    assert policy.mse(test, (-(test[:, :1] + 0.5 * test[:, 2:3])).clamp(-2, 2)) < 0.01 < untrained
    assert (policy(test).abs() <= 2).all()
    path = tmp_path / "policy.safetensors"
    policy.save(path)
    back = DistilledPolicy.load(path)
    torch.testing.assert_close(back(test), policy(test))
    assert back.flops_per_step() == 2 * (3 * 32 + 32 * 32 + 32 * 1)
