"""MPC on the true Pendulum-v1 dynamics swings up and balances ``gymnasium.make("Pendulum-v1")``.

Slow (about a minute on two cores: 3 planners x 10 episodes x 200 planning calls); the same measurement
is in ``benchmarks/planner.py --pendulum``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from dynadapt.planning import (
    CEMConfig,
    ICEMConfig,
    MPCAgent,
    MPPIConfig,
    PlannerConfig,
    build_planner,
    true_dynamics_objective,
)

from .pendulum import MAX_TORQUE, pendulum_reward, pendulum_step

HORIZON = 30
PLANNERS: dict[str, PlannerConfig] = {
    "cem": CEMConfig(population=200, elites=20, iterations=5),
    "icem": ICEMConfig(population=40, elites=10, iterations=3, beta=2.0),
    "mppi": MPPIConfig(population=400, gamma=1.0, sigma=0.5, beta=0.7),
}


def run_episodes(cfg: PlannerConfig, episodes: int = 10, seed: int = 0) -> tuple[float, float]:
    """Mean return over ``episodes`` seeded episodes and mean candidate evaluations per planning step."""
    low, high = torch.tensor([-MAX_TORQUE]), torch.tensor([MAX_TORQUE])
    planner = build_planner(cfg, low, high, HORIZON, torch.Generator().manual_seed(seed))
    agent = MPCAgent(
        planner,
        lambda obs: true_dynamics_objective(pendulum_step, obs, pendulum_reward),
        HORIZON,
        1,
        low,
        high,
    )
    env = gym.make("Pendulum-v1")
    returns, evaluations = [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        agent.reset()
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.act(obs))
            total += float(reward)
            evaluations.append(agent.last_num_evaluations)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return float(np.mean(returns)), float(np.mean(evaluations))


def test_true_dynamics_match_gymnasium() -> None:
    env = gym.make("Pendulum-v1")
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(50):
        act = rng.uniform(-2.5, 2.5, size=1).astype(np.float32)
        nxt, reward, *_ = env.step(act)
        o, a = torch.as_tensor(obs, dtype=torch.float64), torch.as_tensor(act, dtype=torch.float64)
        pred = pendulum_step(o, a)
        np.testing.assert_allclose(pred.numpy(), nxt, atol=1e-5)
        np.testing.assert_allclose(pendulum_reward(o, a, pred).item(), float(reward), atol=1e-5)
        obs = nxt


@pytest.mark.slow
def test_mpc_swings_up_and_balances_pendulum_and_icem_needs_a_quarter_of_the_evaluations() -> None:
    results = {name: run_episodes(cfg) for name, cfg in PLANNERS.items()}
    for name, (mean_return, _) in results.items():
        assert mean_return >= -200.0, (name, mean_return)
    assert results["icem"][1] <= results["cem"][1] / 4, results
