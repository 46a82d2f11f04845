"""HyperCRL (Huang et al. 2021) on two pendulum tasks (gravity 10, then 0), from library parts only: a
hypernetwork generates each task's dynamics network from its embedding; while task 2 is learned, an output
regulariser keeps the network it generates for task 1. After both tasks, both are evaluated with MPC.

    python examples/hypercrl.py                  # a few minutes on one core
    python examples/hypercrl.py --episodes 1 --steps 15 --hidden 8 --population 16 --train-steps 5   # smoke
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from dynadapt.continual import ContinualContext, HyperCRLConfig
from dynadapt.data import ReplayBuffer
from dynadapt.envs import Task, action_bounds
from dynadapt.models import DynamicsModel, ModelConfig
from dynadapt.nets.hypernet import HyperNetConfig
from dynadapt.planning import CEMConfig, ModelObjective, MPCConfig, mpc_agent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=4, help="MPC episodes per task (after one random one)")
    p.add_argument("--steps", type=int, default=200, help="steps per episode")
    p.add_argument("--hidden", type=int, default=64, help="units per hidden layer (target and hypernetwork)")
    p.add_argument("--population", type=int, default=200, help="CEM candidates per iteration")
    p.add_argument("--train-steps", type=int, default=500, help="gradient steps after each episode")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)

    tasks = [Task.create("pendulum", {"gravity": 10.0}), Task.create("pendulum", {"gravity": 0.0})]
    family = tasks[0].task_family
    gen = torch.Generator().manual_seed(args.seed)
    cfg = ModelConfig(ensemble_size=1, hidden=(args.hidden,) * 2, activation="relu", head="deterministic")
    model = DynamicsModel.for_family(family, cfg, gen)
    hnet = HyperNetConfig(hidden=(args.hidden,) * 2)
    strategy = HyperCRLConfig(beta=2.0, lr=1e-3, emb_lr=1e-3, hnet=hnet).build(model, gen)
    objective = ModelObjective(
        model.predict, MPCConfig(horizon=25, particles=1), gen, tasks[0].reward_fn(), None
    )
    env0 = tasks[0].make()
    low, high = action_bounds(env0)
    agent = mpc_agent(
        CEMConfig(population=args.population, elites=max(2, args.population // 10)), objective, low, high
    )
    rng = np.random.default_rng(args.seed)

    def episode(t: int, mode: str, seed: int, buffer: ReplayBuffer | None) -> float:
        """One episode on task t (MPC with task t's generated network, or random actions)."""
        env = tasks[t].make()
        objective.params, objective.predict = strategy.params_for(t), model.task_predict(t)
        objective.reward_fn, objective.termination_fn = tasks[t].reward_fn(), tasks[t].termination_fn()
        obs, _ = env.reset(seed=seed)
        agent.reset()
        total = 0.0
        for step in range(args.steps):
            act = rng.uniform(low, high).astype(np.float32) if mode == "random" else agent.act(obs)
            next_obs, reward, terminated, truncated, _ = env.step(act)
            if buffer is not None:
                buffer.add(obs, act, next_obs, float(reward), terminated, truncated, task_id=t, t=step)
            total += float(reward)
            obs = next_obs
            if terminated or truncated:
                break
        return total

    for t in range(len(tasks)):
        buffer = ReplayBuffer(10_000, family.obs_dim, family.act_dim)  # task t's data only
        context = ContinualContext(lambda i, data=buffer: model.transitions(data.all(), task=i), t + 1)
        strategy.before_task(t, context)
        for k in range(args.episodes + 1):
            seen = buffer.total_added
            ret = episode(t, "random" if k == 0 else "mpc", 1000 * t + k, buffer)
            new = buffer.since(seen)  # task t's statistics: all of its data so far (frozen at its end)
            model.observe(new["obs"], new["act"], new["next_obs"], task=t)
            x, y = model.transitions(buffer.all(), task=t)
            for _ in range(args.train_steps):
                idx = torch.randint(0, x.shape[0], (min(32, x.shape[0]),), generator=gen)
                strategy.update(t, x[idx], y[idx])
            strategy.end_round(t)
            print(f"task {t} episode {k}: return {ret:8.1f}")
        strategy.after_task(t, context)
        model.freeze_normalizers(t)
    for t in range(len(tasks)):
        ret = episode(t, "mpc", 99, None)
        print(f"after both tasks, task {t} (gravity {tasks[t].params['gravity']}): return {ret:8.1f}")


if __name__ == "__main__":
    main()
