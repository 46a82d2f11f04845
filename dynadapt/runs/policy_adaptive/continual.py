"""Kind ``mbpo-continual``: MBPO over a task sequence with HyperCRL's task-conditioned hypernetwork as the
model (Huang et al. 2021, inside Janner et al. 2019).

::

    for each task t of the sequence (task identity given):
        HyperCRL.before_task(t) (new embedding e_t); a fresh bounded buffer of task t's data; fresh
            normalisers of task t (they merge its data and freeze at its end, as in the continual loop)
        `episodes` episodes on task t; for each env step:
            every `mbpo.model_train_freq` env steps of task t from the end of its random phase:
                merge the new data into task t's normalisers; `train_steps` HyperCRL updates on the
                    task's buffer (task loss + output regulariser, §4.3)
                k ← schedule(epoch); resize the model buffer to `mbpo.retain_epochs` epochs of rollouts
                branched rollouts of π(·|[s, e_t]) in the generated model W_t = h(e_t; θ) from task t's
                    real states, stored with e_t appended to s and s'
            act: uniformly random for the first `random_steps` steps of the task, then a ~ π(·|[s, e_t])
            store the transition in the real buffer
            after the task's random phase: G SAC updates on real_ratio real + model transitions
        at the task's end: HyperCRL.after_task(t); freeze task t's normalisers; the deterministic policy
            with e_i on every seen task i -> column t of the reward matrix R

The policy's task input is the **detached hypernetwork embedding** ``e_t`` (D = ``strategy.hnet.emb_dim``)
appended to the observation; earlier embeddings freeze when their task ends (unless ``hnet.plastic``), so
``e_i`` at evaluation is the one the policy last trained with on task i. Not done: rehearsing earlier tasks
in their generated models (their start states are not kept): the policy's protection from forgetting is
its task input and the earlier tasks' rollouts still in the model buffer. The model trains on all of the
task's buffer (no prediction-error matrix here). One step of the run skeleton is one training episode.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from dynadapt.continual import ContinualContext, HyperCRLConfig
from dynadapt.continual.hypercrl import HyperCRL
from dynadapt.continual.metrics import continual_metrics
from dynadapt.data.buffer import ReplayBuffer
from dynadapt.errors import DynadaptError
from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.policy.adaptive import context_obs, with_context
from dynadapt.policy.mbpo import FIELDS, MBPOConfig, ModelPool, branched_rollout, rollout_length, start_states
from dynadapt.policy.sac import SACConfig
from dynadapt.runs.checkpoint import Stateful
from dynadapt.runs.policy.base import Means, PolicyRun, check_policy_settings
from dynadapt.runs.policy.mbpo import mbpo_settings
from dynadapt.runs.policy_adaptive.plots import plot_continual
from dynadapt.runs.rundir import RunDir
from dynadapt.runs.settings import RunConfig, TaskSequence, check


@dataclass
class MBPOContinualConfig(RunConfig):
    """MBPO over a task sequence with HyperCRL's task-conditioned hypernetwork as the model."""

    task: TaskSequence = field(default_factory=lambda: TaskSequence(sequence="pendulum:hypercrl_pendulum2"))
    """The task sequence (task.sequence, task.tasks) and the episode length."""
    episodes: int = 5
    """Episodes per task (its random steps included)."""
    random_steps: int = 200
    """Uniformly random steps at the start of every task (in its first episodes); SAC updates pause."""
    updates_per_step: int = 20
    """SAC gradient steps per env step (G)."""
    eval_episodes: int = 3
    """Deterministic episodes per seen task at the end of every task (at least one)."""
    buffer_capacity: int = 1_000_000
    """Size of each task's real replay buffer."""
    train_steps: int = 200
    """HyperCRL gradient steps per model training session (minibatches of model.batch_size)."""
    sac: SACConfig = field(default_factory=SACConfig)
    """Soft actor-critic settings."""
    model: ModelConfig = field(
        default_factory=lambda: ModelConfig(
            ensemble_size=1, hidden=(64, 64), activation="relu", head="deterministic"
        )
    )
    """Generated (target) dynamics network (ensemble_size must be 1: one network per task)."""
    strategy: HyperCRLConfig = field(default_factory=HyperCRLConfig)
    """HyperCRL settings (beta=0: the unregularised hypernetwork)."""
    mbpo: MBPOConfig = field(default_factory=MBPOConfig)
    """Model rollout settings."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_policy_settings(self)
        check(
            (self.eval_episodes >= 0, "eval_episodes must be >= 0"),
            (self.model.ensemble_size == 1, "mbpo-continual needs model.ensemble_size=1"),
            (self.train_steps >= 1, "train_steps must be >= 1"),
        )


class MBPOContinualRun(PolicyRun):
    kind = "mbpo-continual"
    cfg: MBPOContinualConfig
    state_fields = ("episode", "env_steps", "k", "task", "task_start", "norm_seen", "R")
    plots: ClassVar[Callable[[RunDir], list[Path]]] = staticmethod(plot_continual)

    def build(self) -> None:
        cfg = self.cfg
        self.tasks = cfg.task.load()
        family = cfg.task.family
        self.model = DynamicsModel.for_family(family, cfg.model, self.seeds.torch("model"))
        self.strategy_gen = self.seeds.torch("strategy")
        strategy = cfg.strategy.build(self.model, self.strategy_gen)
        assert isinstance(strategy, HyperCRL)
        self.strategy: HyperCRL = strategy
        d = cfg.strategy.hnet.emb_dim
        self.build_policy(family, self.make_env(0), context_dim=d)
        self.rollout_gen = self.seeds.torch("rollout")
        self.k = rollout_length(0, cfg.mbpo.rollout_schedule)
        """The current rollout length."""
        self.pool = ModelPool(cfg.mbpo.pool_capacity(self.k), family.obs_dim + d, family.act_dim)
        self.reward_fn, self.termination_fn = self.tasks[0].reward_fn(), self.tasks[0].termination_fn()
        n = len(self.tasks)
        self.task = 0
        self.task_start = 0
        """Env steps at the start of the current task."""
        self.norm_seen = 0
        """Buffer id from which task t's normalisers have not merged the data yet."""
        self.R = [[math.nan] * n for _ in range(n)]
        """R[i][j]: mean evaluation return on task i after training task j."""

    def components(self) -> dict[str, Stateful]:
        return {n: getattr(self, n) for n in ("sac", "buffer", "model", "pool", "strategy")}

    def done(self) -> bool:
        return self.episode >= self.total_episodes()

    def restored(self) -> None:
        if self.episode % self.cfg.episodes:  # in the middle of a task: play it again
            self.use_task(self.task)
            self.strategy.resumed(self.task, self.context())

    # ------------------------------------------------------------------------------------------ one step
    def step(self) -> dict[str, Any]:
        cfg = self.cfg
        if self.episode % cfg.episodes == 0:
            self.start_task(self.episode // cfg.episodes)
        obs, _ = self.env.reset(seed=self.env_seed + self.episode)
        ret, t, done, logged = 0.0, 0, False, Means()
        while not done:
            if self.training_due():
                logged.add(self.train_and_roll_out())
            act = self.random_action() if self.warmup() else self.sac.act(self.with_task(obs)).numpy()
            obs, reward, done = self.env_step(obs, act, t)
            ret, t = ret + reward, t + 1
            if not self.warmup():
                logged.add(*self.sac_updates(self.mixed_batch))
        self.episode += 1
        row = {"task": self.task, **self.episode_row(ret, t), **logged.result()}
        return row | (self.end_task() if self.episode % cfg.episodes == 0 else {})

    def start_task(self, t: int) -> None:
        """Task t's env, a fresh buffer, fresh normalisers and the strategy's new embedding."""
        self.task, self.task_start, self.norm_seen = t, self.env_steps, 0
        self.model.normalizers(t)
        self.buffer = ReplayBuffer(self.cfg.buffer_capacity, self.family.obs_dim, self.family.act_dim)
        self.use_task(t)
        self.strategy.before_task(t, self.context())

    def warmup(self) -> bool:
        return self.env_steps - self.task_start < self.cfg.random_steps

    def training_due(self) -> bool:
        """Every model_train_freq env steps of the task from the end of its random phase."""
        since = self.env_steps - self.task_start - self.cfg.random_steps
        return since >= 0 and since % self.cfg.mbpo.model_train_freq == 0 and len(self.buffer) > 0

    def train_and_roll_out(self) -> dict[str, float]:
        """Train the hypernetwork on task t, set k and the model buffer's size, add rollouts in W_t."""
        cfg, m, t = self.cfg, self.cfg.mbpo, self.task
        fit_s = time.perf_counter()
        metrics = self.train_model()
        fit_s = time.perf_counter() - fit_s
        since = self.env_steps - self.task_start - cfg.random_steps
        self.k = rollout_length(since // m.epoch_length, m.rollout_schedule)
        self.pool.resize(m.pool_capacity(self.k))
        rollout_s = time.perf_counter()
        params = self.strategy.params_for(t)  # W_t = h(e_t; θ), [1, ...]
        obs0 = start_states(self.buffer, m.rollout_batch_size, self.rollout_gen)
        predict, reward_fn, termination_fn = self.model.task_predict(t), self.reward_fn, self.termination_fn
        data, stats = branched_rollout(
            self.policy, predict, params, obs0, self.k, reward_fn, termination_fn, self.rollout_gen
        )
        self.pool.add(with_context(data, self.ctx(t)))
        return metrics | {
            "mbpo/rollout_length": float(self.k),
            "mbpo/mean_rollout_steps": stats["mean_length"],
            "mbpo/model_reward": float(data["reward"].mean()),
            "time/fit_s": fit_s,
            "time/rollout_s": time.perf_counter() - rollout_s,
        }

    def train_model(self) -> dict[str, float]:
        """Merge the new data into task t's normalisers, then ``train_steps`` HyperCRL updates."""
        cfg, t = self.cfg, self.task
        new = self.buffer.since(self.norm_seen)
        self.norm_seen = self.buffer.total_added
        self.model.observe(new["obs"], new["act"], new["next_obs"], task=t)
        x, y = self.model.transitions(self.buffer.all(), task=t)
        metrics: dict[str, float] = {}
        for _ in range(cfg.train_steps):
            n = min(cfg.model.batch_size, x.shape[0])
            idx = torch.randint(0, x.shape[0], (n,), generator=self.strategy_gen)
            metrics = self.strategy.update(t, x[idx], y[idx])
        self.strategy.end_round(t)
        return {f"model/{k.split('/')[-1]}": v for k, v in metrics.items()}

    def mixed_batch(self) -> dict[str, Tensor]:
        """``⌊B · real_ratio⌋`` real transitions of the current task (with ``e_t``), the rest model data."""
        n, gen = self.cfg.sac.batch_size, self.sac.generator
        n_real = n if len(self.pool) == 0 else int(n * self.cfg.mbpo.real_ratio)
        parts = []
        if n_real > 0:
            real = self.buffer.sample(n_real, gen)
            parts.append(with_context({k: real[k] for k in FIELDS}, self.ctx(self.task)))
        if n > n_real:
            parts.append(self.pool.sample(n - n_real, gen))
        return {k: torch.cat([p[k] for p in parts]) for k in FIELDS}

    def end_task(self) -> dict[str, float]:
        """HyperCRL.after_task; freeze task t's statistics; evaluate every seen task (column t of R)."""
        t = self.task
        self.strategy.after_task(t, self.context())
        self.model.freeze_normalizers(t)
        rets = [self.evaluate_task(i) for i in range(t + 1)]
        for i, r in enumerate(rets):
            self.R[i][t] = r
        row = {"eval/return": float(np.mean(rets)), "eval/return_std": float(np.std(rets))}
        return row | {f"eval/task{i}/return": r for i, r in enumerate(rets)}

    def evaluate_task(self, i: int) -> float:
        """Mean return of ``eval_episodes`` deterministic episodes on task i, the policy given ``e_i``."""
        env, e_i = self.make_env(i), self.ctx(i).numpy()
        seed = self.env_seed + 1_000_000 + 10_000 * self.task + 100 * i
        returns = [
            self.deterministic_return(env, seed + k, e_i) for k in range(max(1, self.cfg.eval_episodes))
        ]
        env.close()
        return float(np.mean(returns))

    # ------------------------------------------------------------------------------------ task pieces
    def make_env(self, t: int) -> gym.Env:
        env = self.tasks[t].make()
        steps = self.cfg.task.episode_steps
        return gym.wrappers.TimeLimit(env, steps) if steps else env

    def use_task(self, t: int) -> None:
        """Play task t: its env and its reward and termination functions."""
        self.env.close()
        self.env = self.make_env(t)
        self.reward_fn, self.termination_fn = self.tasks[t].reward_fn(), self.tasks[t].termination_fn()

    def context(self) -> ContinualContext:
        def task_data(i: int) -> tuple[Tensor, Tensor]:
            if i != self.task:
                raise DynadaptError(f"the data of task {i} is no longer kept")
            return self.model.transitions(self.buffer.all(), task=i)

        return ContinualContext(task_data, self.task + 1)

    def ctx(self, t: int) -> Tensor:
        """The policy's task input: the detached embedding ``e_t[D]``."""
        return self.strategy.hnet.embeddings[t].detach().clone()

    def with_task(self, obs: np.ndarray) -> np.ndarray:
        """The policy's input ``[s, e_t]`` for an env observation."""
        return np.concatenate([obs, self.ctx(self.task).numpy()]).astype(np.float32)

    def policy(self, obs: Tensor) -> Tensor:
        """The current policy's sampled env actions for rollouts of task t: ``obs[N, O] -> act[N, A]``."""
        return self.sac.to_env(self.sac.sample(context_obs(obs, self.ctx(self.task)))[0])

    # --------------------------------------------------------------------------------------- outputs
    def total_episodes(self) -> int:
        return self.cfg.episodes * len(self.tasks)

    def summary(self) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "kind": self.kind,
            "preset": self.preset,
            "sequence": cfg.task.sequence,
            "tasks": [t.label for t in self.tasks],
            "seed": cfg.seed,
            "policy_context": f"hypernetwork task embedding e_t (D = {cfg.strategy.hnet.emb_dim})",
            "episodes": self.episode,
            "env_steps": self.env_steps,
            "gradient_steps": self.sac.updates,
            "reward_matrix": self.R,
            **continual_metrics(self.R),
            "settings": self.settings()
            | mbpo_settings(cfg.model, cfg.mbpo)
            | {"beta": cfg.strategy.beta, "train_steps": cfg.train_steps},
        }
