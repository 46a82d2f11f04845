"""PETS (Chua et al. 2018) on the pendulum, from library parts only: a probabilistic ensemble, CEM over an
imagined TS-infinity rollout, receding-horizon control and data aggregation.

    python examples/pets.py                      # a few minutes on one core
    python examples/pets.py --episodes 2 --steps 20 --hidden 8 --population 16   # a smoke test
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from dynadapt.data import ReplayBuffer
from dynadapt.envs import action_bounds, get_family
from dynadapt.models import DynamicsModel, ModelConfig
from dynadapt.planning import CEMConfig, ModelObjective, MPCConfig, mpc_agent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=6, help="episodes, the first with random actions")
    p.add_argument("--steps", type=int, default=200, help="steps per episode")
    p.add_argument("--hidden", type=int, default=64, help="units per hidden layer of each member")
    p.add_argument("--population", type=int, default=200, help="CEM candidates per iteration")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)

    family = get_family("pendulum")
    env = family.make()
    low, high = action_bounds(env)
    gen = torch.Generator().manual_seed(args.seed)
    model = DynamicsModel.for_family(family, ModelConfig(ensemble_size=5, hidden=(args.hidden,) * 2), gen)
    buffer = ReplayBuffer(10_000, family.obs_dim, family.act_dim)
    objective = ModelObjective(
        model.predict,
        MPCConfig(horizon=25, particles=5, propagation="ts_inf"),
        gen,
        family.reward_fn_for(),
        family.termination_fn_for(),
        params=model.detached_params(),  # shares storage with the model: always the latest fit
    )
    cem = CEMConfig(population=args.population, elites=max(2, args.population // 10), iterations=3)
    agent = mpc_agent(cem, objective, low, high)
    rng = np.random.default_rng(args.seed)

    for episode in range(args.episodes):
        obs, _ = env.reset(seed=args.seed + episode)
        agent.reset()
        total = 0.0
        for t in range(args.steps):
            act = rng.uniform(low, high).astype(np.float32) if episode == 0 else agent.act(obs)
            next_obs, reward, terminated, truncated, _ = env.step(act)
            buffer.add(obs, act, next_obs, float(reward), terminated, truncated, episode=episode, t=t)
            total += float(reward)
            obs = next_obs
            if terminated or truncated:
                break
        fit = model.fit(buffer)
        mode = "random" if episode == 0 else "MPC"
        print(f"episode {episode} ({mode}): return {total:8.1f}, model held-out MSE {fit.val_loss:.4f}")


if __name__ == "__main__":
    main()
