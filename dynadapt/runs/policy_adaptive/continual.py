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
        at the task's end: HyperCRL.after_task(t); freeze task t's normalisers; task t's random-action
            floor; the deterministic policy with e_i on every seen task i -> column t of the reward matrix R

The policy's task input is the **detached hypernetwork embedding** ``e_t`` (D = ``strategy.hnet.emb_dim``)
appended to the observation; earlier embeddings freeze when their task ends (unless ``hnet.plastic``), so
``e_i`` at evaluation is the one the policy last trained with on task i. Not done: rehearsing earlier tasks
in their generated models (their start states are not kept): the policy's protection from forgetting is
its task input and the earlier tasks' rollouts still in the model buffer. The model trains on all of the
task's buffer (no prediction-error matrix here). One step of the run skeleton is one training episode.
As in the continual loop, every evaluation of task i (and its floor) starts from the same states, and the
summary has the metrics of R (:func:`~dynadapt.continual.metrics.continual_metrics`) with the floors.
"""

from __future__ import annotations

import math
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
from dynadapt.continual.metrics import continual_metrics, random_return, start_seeds
from dynadapt.data.buffer import ReplayBuffer
from dynadapt.errors import DynadaptError
from dynadapt.policy.adaptive import context_obs, with_context
from dynadapt.policy.mbpo import FIELDS, start_states
from dynadapt.runs.checkpoint import Stateful
from dynadapt.runs.policy.base import PolicyRun
from dynadapt.runs.policy.rollouts import RolloutRun
from dynadapt.runs.policy.settings import ModelSettings
from dynadapt.runs.policy_adaptive.plots import plot_continual
from dynadapt.runs.rundir import RunDir
from dynadapt.runs.settings import TaskSequence, check
from dynadapt.types import Params, PredictFn
from dynadapt.video import Camera


@dataclass
class MBPOContinualConfig(ModelSettings):
    """MBPO over a task sequence with HyperCRL's task-conditioned hypernetwork as the model."""

    episodes: int = 5
    """Episodes per task (its random steps included)."""
    random_steps: int = 200
    """Uniformly random steps at the start of every task (in its first episodes); SAC updates pause."""
    task: TaskSequence = field(default_factory=lambda: TaskSequence(sequence="pendulum:hypercrl_pendulum2"))
    """The task sequence (task.sequence, task.tasks) and the episode length."""
    eval_episodes: int = 3
    """Deterministic episodes per seen task at the end of every task (at least one), from the task's fixed
    start states (also those of its random-action floor)."""
    train_steps: int = 200
    """HyperCRL gradient steps per model training session (minibatches of model.batch_size)."""
    strategy: HyperCRLConfig = field(default_factory=HyperCRLConfig)
    """HyperCRL settings (beta=0: the unregularised hypernetwork)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check(
            (self.eval_episodes >= 0, "eval_episodes must be >= 0"),
            (self.model.ensemble_size == 1, "mbpo-continual needs model.ensemble_size=1"),
            (self.train_steps >= 1, "train_steps must be >= 1"),
        )


class MBPOContinualRun(RolloutRun):
    kind = "mbpo-continual"
    cfg: MBPOContinualConfig
    state_fields = ("episode", "env_steps", "k", "task", "task_start", "norm_seen", "R", "random_returns")
    plots: ClassVar[Callable[[RunDir], list[Path]]] = staticmethod(plot_continual)
    unreported: ClassVar[tuple[str, ...]] = ("nonfinite", "model_buffer")

    def build(self) -> None:
        cfg = self.cfg
        self.tasks = cfg.task.load()
        family, d = cfg.task.family, cfg.strategy.hnet.emb_dim
        self.build_model(family, context_dim=d)
        self.strategy_gen = self.seeds.torch("strategy")
        strategy = cfg.strategy.build(self.model, self.strategy_gen)
        assert isinstance(strategy, HyperCRL)
        self.strategy: HyperCRL = strategy
        self.build_policy(family, self.make_env(0), context_dim=d)
        self.reward_fn, self.termination_fn = self.tasks[0].reward_fn(), self.tasks[0].termination_fn()
        n = len(self.tasks)
        self.task = 0
        self.task_start = 0
        """Env steps at the start of the current task."""
        self.norm_seen = 0
        """Buffer id from which task t's normalisers have not merged the data yet."""
        self.R = [[math.nan] * n for _ in range(n)]
        """R[i][j]: mean evaluation return on task i after training task j."""
        self.random_returns = [math.nan] * n
        """The random-action floor of every task."""
        self.eval_seed = self.seeds.int("eval")  # the evaluation start states
        self.floor_rng = self.seeds.numpy("floor")  # the random actions of the floors

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
        row = {"task": self.task} | self.train_episode()
        return row | (self.end_task() if self.episode % cfg.episodes == 0 else {})

    def start_task(self, t: int) -> None:
        """Task t's env, a fresh buffer, fresh normalisers and the strategy's new embedding."""
        self.task, self.task_start, self.norm_seen = t, self.env_steps, 0
        self.model.normalizers(t)
        self.buffer = ReplayBuffer(self.cfg.buffer_capacity, self.family.obs_dim, self.family.act_dim)
        self.use_task(t)
        self.strategy.before_task(t, self.context())

    def phase_start(self) -> int:
        return self.task_start

    def model_used(self) -> bool:
        return True  # the hypernetwork learns task t even when SAC takes no model data

    def fit_model(self) -> dict[str, float]:
        """Merge the new data into task t's normalisers, then ``train_steps`` HyperCRL updates."""
        cfg, t = self.cfg, self.task
        new = self.buffer.since(self.norm_seen)
        self.norm_seen = self.buffer.total_added
        self.model.observe(new["obs"], new["act"], new["next_obs"], task=t)
        x, y = self.model.transitions(self.buffer.all(), task=t)
        metrics = self.strategy.train_round(t, x, y, cfg.train_steps, cfg.model.batch_size)
        return {f"model/{k.split('/')[-1]}": v for k, v in metrics.items()}

    def rollout_starts(self) -> tuple[Tensor, Params]:
        """Task t's real states, rolled out in the generated model W_t = h(e_t; θ) ([1, ...])."""
        obs0 = start_states(self.buffer, self.cfg.mbpo.rollout_batch_size, self.rollout_gen)
        return obs0, self.strategy.params_for(self.task)

    def rollout_predict(self) -> PredictFn:
        return self.model.task_predict(self.task)

    def stored(self, data: dict[str, Tensor]) -> dict[str, Tensor]:
        """The rollouts with ``e_t`` appended to s and s'."""
        return with_context(data, self.ctx(self.task))

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
        """HyperCRL.after_task; freeze task t's statistics; task t's random-action floor; evaluate every
        seen task (column t of R)."""
        t = self.task
        self.strategy.after_task(t, self.context())
        self.model.freeze_normalizers(t)
        self.random_returns[t] = floor = random_return(
            lambda: self.make_env(t), self.starts(t), self.floor_rng
        )
        rets = [self.evaluate_task(i) for i in range(t + 1)]
        for i, r in enumerate(rets):
            self.R[i][t] = r
        row = {f"eval/task{i}/return": r for i, r in enumerate(rets)} | {f"eval/task{t}/random_return": floor}
        return {"eval/return": float(np.mean(rets)), "eval/return_std": float(np.std(rets))} | row

    def starts(self, i: int, episodes: int | None = None) -> list[int]:
        """The env reset seeds of task i's evaluation episodes (its fixed start states; ``eval_episodes``
        of them, at least one, unless ``episodes`` says how many)."""
        n = max(1, self.cfg.eval_episodes) if episodes is None else episodes
        return start_seeds(self.eval_seed, i, n)

    def evaluate_task(self, i: int, episodes: int | None = None, camera: Camera | None = None) -> float:
        """Mean return of the deterministic episodes on task i from its fixed start states (see
        :meth:`starts`), the policy given ``e_i`` (filmed by ``camera``, if given)."""
        env, e_i = self.make_env(i), self.ctx(i).numpy()
        played = env if camera is None else camera.wrap(env)
        returns = [self.deterministic_return(played, seed, e_i) for seed in self.starts(i, episodes)]
        env.close()
        return float(np.mean(returns))

    def watch_tasks(self) -> list[str]:
        return [t.label for t in self.tasks[: self.task + 1]] if self.episode else []

    def watch(self, camera: Camera, task: int, episodes: int) -> None:
        self.evaluate_task(task, episodes, camera)

    def keep_checkpoint(self, row: dict[str, Any]) -> str | None:
        return f"task{self.task}" if self.episode % self.cfg.episodes == 0 else None

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

    def policy_input(self, obs: np.ndarray) -> np.ndarray:
        """The policy's input ``[s, e_t]`` for an env observation."""
        return np.concatenate([obs, self.ctx(self.task).numpy()]).astype(np.float32)

    def policy(self, obs: Tensor) -> Tensor:
        """The current policy's sampled env actions for rollouts of task t: ``obs[N, O] -> act[N, A]``."""
        return self.sac.to_env(self.sac.sample(context_obs(obs, self.ctx(self.task)))[0])

    # --------------------------------------------------------------------------------------- outputs
    def total_episodes(self) -> int:
        return self.cfg.episodes * len(self.tasks)

    def played(self) -> dict[str, Any]:
        cfg = self.cfg
        context = f"hypernetwork task embedding e_t (D = {cfg.strategy.hnet.emb_dim})"
        return {
            "sequence": cfg.task.sequence,
            "tasks": [t.label for t in self.tasks],
            "policy_context": context,
        }

    def results(self) -> dict[str, Any]:
        return {"reward_matrix": self.R, **continual_metrics(self.R, random_returns=self.random_returns)}

    def settings(self) -> dict[str, Any]:
        return super().settings() | {"beta": self.cfg.strategy.beta, "train_steps": self.cfg.train_steps}

    def save_outputs(self) -> None:  # the generated networks live in the strategy: the policy only
        PolicyRun.save_outputs(self)
