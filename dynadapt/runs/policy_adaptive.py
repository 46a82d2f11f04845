"""MBPO with adaptive dynamics models: the policy-learning variants of the continual and meta settings.

Kind ``"mbpo-continual"`` (HyperCRL's hypernetwork inside MBPO; Huang et al. 2021, Janner et al. 2019)::

    for each task t of the sequence (task identity given):
        HyperCRL.before_task(t) (new embedding e_t); a fresh bounded buffer of task t's data; fresh
        normalisers (they merge task t's data and freeze at its end, as in the continual loop)
        `episodes` episodes on task t: the first `random_steps` steps uniformly random, then π(a | [s, e_t])
        every model_train_freq env steps of task t (from the end of its random phase):
            `train_steps` HyperCRL updates on the buffer (task loss + output regulariser, §4.3)
            branched rollouts of π(·|[s, e_t]) in the generated model W_t = h(e_t; θ) (params_for(t))
            from task t's real states; stored with e_t appended to s and s'
        every env step after the random phase: G SAC updates on real_ratio real + model transitions
        at the task's end: HyperCRL.after_task(t); the deterministic policy with e_i is evaluated on every
            seen task i -> column t of the reward matrix R (summary.json, plots/reward_matrix.png)

The policy's task input is the **detached hypernetwork embedding** ``e_t`` (D = ``strategy.hnet.emb_dim``),
appended to the observation (:func:`dynadapt.policy.adaptive.context_obs`). Earlier embeddings are frozen
when their task ends (unless ``hnet.plastic``), so ``e_i`` at evaluation is the one the policy last trained
with on task i; during task t, ``e_t`` moves with training, and model transitions keep the ``e_t`` of
their rollout phase. Not done: rehearsing earlier tasks in their generated models (their start states are
not kept), so the policy's protection from forgetting is only its task input and the earlier tasks'
rollouts still in the model buffer. The model trains on all of the task's buffer (no 25 % held out: no
prediction-error matrix here).

Kind ``"mbpo-meta"`` (GrBAL's adapted models inside MBPO; Nagabandi, Clavera et al. 2019)::

    each training episode plays a perturbation sampled from the training tasks (and `train_ranges`)
    every model_train_freq env steps after the random phase:
        GrBAL meta-trains θ* and ψ on M + K segments of all real data (GrBAL.fit)
        start states: obs of real transitions at step t >= M of their episode; each rollout uses
            θ'_t adapted on the M real transitions before its start state in the same episode
        branched rollouts of π in each start state's own θ' (per-row)
    every env step after the random phase: G SAC updates on real_ratio real + model transitions
    evaluation: the deterministic policy on the held-out perturbations (episode k plays task k mod n)

The meta variant's policy receives **no context**: the adapted models only shape its training data (a
policy robust across the perturbations, trained on rollouts that each follow their own episode's
dynamics rather than the average θ*). No mid-episode change of perturbation (``switch_at``) here.

Both loops are :class:`dynadapt.runs.policy.MBPORun`'s with the model fitting and rollouts replaced; one
checkpoint per episode (every component, generator and normaliser), so ``dynadapt resume`` continues
after ``kill -9``; ``summary.json`` has no timings.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from dynadapt.continual import ContinualContext, HyperCRLConfig
from dynadapt.continual.hypercrl import HyperCRL
from dynadapt.data.buffer import ReplayBuffer
from dynadapt.envs import load_sequence
from dynadapt.envs.base import set_task
from dynadapt.errors import DynadaptError
from dynadapt.io import flatten, unflatten
from dynadapt.meta.base import MetaFitResult
from dynadapt.meta.grbal import GrBAL, GrBALConfig
from dynadapt.models.dynamics import ModelConfig
from dynadapt.models.normalizer import Normalizer
from dynadapt.policy.adaptive import adapted_params, context_obs, window_starts, with_context
from dynadapt.policy.mbpo import FIELDS, ModelPool, branched_rollout, rollout_length, start_states
from dynadapt.policy.sac import SAC
from dynadapt.runs.common import derive_seeds
from dynadapt.runs.continual import continual_metrics, plot_task_matrix
from dynadapt.runs.launch import register_kind
from dynadapt.runs.meta import validated_perturbations
from dynadapt.runs.policy import MBPORun, MBPORunConfig
from dynadapt.runs.rundir import RunDir


def _single_model() -> ModelConfig:
    return ModelConfig(ensemble_size=1, hidden=(64, 64), activation="relu", head="deterministic")


# ============================================================================================ continual
@dataclass
class MBPOContinualConfig(MBPORunConfig):
    """MBPO over a task sequence with HyperCRL's task-conditioned hypernetwork as the model."""

    sequence: str = "pendulum:hypercrl_pendulum2"
    """Task sequence: "<family>:<name>" or a JSON/TOML file (see `dynadapt envs`)."""
    tasks: int = 0
    """Use only the first this many tasks (0: all)."""
    env: str = "pendulum"
    """Task family (set from the sequence)."""
    env_params: dict[str, Any] = field(default_factory=dict)
    """The first task's parameters (set from the sequence)."""
    eval_every: int = 0
    """Unused: every seen task is evaluated at the end of each task (eval_episodes each)."""
    episodes: int = 5
    """Episodes per task (its random steps included)."""
    random_steps: int = 200
    """Uniformly random steps at the start of every task (in its first episodes); SAC updates pause."""
    train_steps: int = 200
    """HyperCRL gradient steps per model training session (minibatches of model.batch_size)."""
    model: ModelConfig = field(default_factory=_single_model)
    """Generated (target) dynamics network (ensemble_size must be 1: one network per task)."""
    strategy: HyperCRLConfig = field(default_factory=HyperCRLConfig)
    """HyperCRL settings (beta=0: the unregularised hypernetwork)."""

    def __post_init__(self) -> None:
        tasks = load_sequence(self.sequence)
        tasks = tasks[: self.tasks] if self.tasks else tasks
        if self.tasks < 0 or len({t.family for t in tasks}) != 1:
            raise DynadaptError("tasks must be >= 0 and the sequence must use one task family")
        if self.model.ensemble_size != 1 or self.train_steps < 1:
            raise DynadaptError("mbpo-continual needs model.ensemble_size=1 and train_steps >= 1")
        self.env = tasks[0].family
        self.env_params = dict(tasks[0].params)
        super().__post_init__()


class MBPOContinualRun(MBPORun):
    """One run of :class:`MBPOContinualConfig` (see the module docstring)."""

    kind = "mbpo-continual"

    def __init__(
        self, cfg: MBPOContinualConfig, rundir: RunDir, preset: str = "", progress: bool = True
    ) -> None:
        super().__init__(cfg, rundir, preset, progress)
        self.cfg: MBPOContinualConfig = cfg
        tasks = load_sequence(cfg.sequence)
        self.tasks = tasks[: cfg.tasks] if cfg.tasks else tasks
        seeds = derive_seeds(cfg.seed, 6)
        self.strat_gen = torch.Generator().manual_seed(seeds[5])
        strategy = cfg.strategy.build(self.model, self.strat_gen)
        assert isinstance(strategy, HyperCRL)
        self.strategy: HyperCRL = strategy
        o, d = self.family.obs_dim, cfg.strategy.hnet.emb_dim
        self.agent = SAC(  # the policy and critics see [s, e_t]
            o + d,
            self.family.act_dim,
            self.low,
            self.high,
            cfg.sac,
            obs_preproc=self.policy_features,
            feature_dim=self.family.feature_dim + d,
            generator=torch.Generator().manual_seed(seeds[0]),
        )
        self.pool = ModelPool(cfg.mbpo.pool_capacity(self.k), o + d, self.family.act_dim)
        n = len(self.tasks)
        self.norms: list[tuple[Normalizer, Normalizer]] = []
        self.task = 0
        self.task_start = 0
        """Env steps at the start of the current task."""
        self.norm_seen = 0
        """Buffer id from which the normalisers have not merged the data yet."""
        self.R = [[math.nan] * n for _ in range(n)]

    # ---------------------------------------------------------------------------------- task helpers
    def policy_features(self, x: Tensor) -> Tensor:
        """``[s, e][..., O + D] -> [preproc(s), e]``: the family's observation features, then the context."""
        o = self.family.obs_dim
        return torch.cat([self.model.obs_preproc(x[..., :o]), x[..., o:]], dim=-1)

    def ctx(self, t: int) -> Tensor:
        """The policy's task input: the detached embedding ``e_t[D]``."""
        return self.strategy.hnet.embeddings[t].detach().clone()

    def policy_input(self, obs: np.ndarray) -> np.ndarray:
        return np.concatenate([obs, self.ctx(self.task).numpy()]).astype(np.float32)

    def policy(self, obs: Tensor) -> Tensor:
        return self.agent.to_env(self.agent.sample(context_obs(obs, self.ctx(self.task)))[0])

    def make_env(self, t: int) -> gym.Env:
        env = self.tasks[t].make()
        return gym.wrappers.TimeLimit(env, self.cfg.episode_steps) if self.cfg.episode_steps else env

    def use_task(self, t: int) -> None:
        """Play task t: its env, reward/termination functions and normalisers."""
        self.env.close()
        self.env = self.make_env(t)
        self.reward_fn, self.termination_fn = self.tasks[t].reward_fn(), self.tasks[t].termination_fn()
        self.model.input_norm, self.model.target_norm = self.norms[t]

    def context(self) -> ContinualContext:
        def task_data(i: int) -> tuple[Tensor, Tensor]:
            if i != self.task:
                raise DynadaptError(f"the data of task {i} is no longer kept")
            return self.normalized(self.buffer.all())

        return ContinualContext(task_data, self.task + 1)

    def normalized(self, data: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        return self.model.features(data["obs"], data["act"]), self.model.target_norm.normalize(
            self.model.targets(data["obs"], data["next_obs"])
        )

    def random_phase(self) -> bool:
        return self.env_steps - self.task_start < self.cfg.random_steps

    def total_episodes(self) -> int:
        return self.cfg.episodes * len(self.tasks)

    # ---------------------------------------------------------------------------------- training
    def start_task(self, t: int) -> None:
        self.task, self.task_start, self.norm_seen = t, self.env_steps, 0
        self.norms.append((Normalizer(self.model.spec.in_dim), Normalizer(self.model.obs_dim)))
        self.buffer = ReplayBuffer(self.cfg.buffer_capacity, self.family.obs_dim, self.family.act_dim)
        self.use_task(t)
        self.strategy.before_task(t, self.context())

    def train_episode(self) -> dict[str, float]:
        if self.episode % self.cfg.episodes == 0:
            self.start_task(self.episode // self.cfg.episodes)
        return super().train_episode()

    def train_model(self) -> dict[str, float]:
        """Merge the new data into task t's normalisers, then ``train_steps`` HyperCRL updates."""
        cfg, t = self.cfg, self.task
        new = self.buffer.since(self.norm_seen)
        self.norm_seen = self.buffer.total_added
        inp, tgt = self.norms[t]
        inp.update(torch.cat([self.model.obs_preproc(new["obs"]), new["act"]], dim=-1))
        tgt.update(self.model.targets(new["obs"], new["next_obs"]))
        x, y = self.normalized(self.buffer.all())
        metrics: dict[str, float] = {}
        for _ in range(cfg.train_steps):
            idx = torch.randint(
                0, x.shape[0], (min(cfg.model.batch_size, x.shape[0]),), generator=self.strat_gen
            )
            metrics = self.strategy.update(t, x[idx], y[idx])
        self.strategy.end_round(t)
        return {f"model/{k.split('/')[-1]}": v for k, v in metrics.items()}

    def before_step(self) -> dict[str, float]:
        cfg, m = self.cfg, self.cfg.mbpo
        since = self.env_steps - self.task_start - cfg.random_steps
        if since < 0 or since % m.model_train_freq != 0 or len(self.buffer) == 0:
            return {}
        t0 = time.perf_counter()
        metrics = self.train_model()
        fit_s = time.perf_counter() - t0
        self.k = rollout_length(since // m.epoch_length, m.rollout_schedule)
        self.pool.resize(m.pool_capacity(self.k))
        t0 = time.perf_counter()
        params = self.strategy.params_for(self.task)  # W_t = h(e_t; θ), [1, ...]
        obs0 = start_states(self.buffer, m.rollout_batch_size, self.rollout_gen)
        data, stats = branched_rollout(
            self.policy,
            self.model.predict,
            params,
            obs0,
            self.k,
            self.reward_fn,
            self.termination_fn,
            self.rollout_gen,
        )
        self.pool.add(with_context(data, self.ctx(self.task)))
        return metrics | {
            "mbpo/rollout_length": float(self.k),
            "mbpo/mean_rollout_steps": stats["mean_length"],
            "mbpo/model_reward": float(data["reward"].mean()),
            "time/fit_s": fit_s,
            "time/rollout_s": time.perf_counter() - t0,
        }

    def batch(self) -> dict[str, Tensor]:
        """``⌊B · real_ratio⌋`` real transitions of the current task (with ``e_t``), the rest model data."""
        n, gen = self.cfg.sac.batch_size, self.agent.generator
        n_real = n if len(self.pool) == 0 else int(n * self.cfg.mbpo.real_ratio)
        parts = []
        if n_real > 0:
            real = self.buffer.sample(n_real, gen)
            parts.append(with_context({k: real[k] for k in FIELDS}, self.ctx(self.task)))
        if n > n_real:
            parts.append(self.pool.sample(n - n_real, gen))
        return {k: torch.cat([p[k] for p in parts]) for k in FIELDS}

    # -------------------------------------------------------------------------------- evaluation
    @torch.no_grad()
    def evaluate_task(self, i: int) -> float:
        """Mean return of ``eval_episodes`` deterministic episodes on task i, the policy given ``e_i``."""
        env, e_i, returns = self.make_env(i), self.ctx(i).numpy(), []
        for k in range(max(1, self.cfg.eval_episodes)):
            obs, _ = env.reset(seed=self.env_seed + 1_000_000 + 10_000 * self.task + 100 * i + k)
            total, done = 0.0, False
            while not done:
                act = self.agent.act(np.concatenate([obs, e_i]).astype(np.float32), deterministic=True)
                obs, reward, terminated, truncated, _ = env.step(act.numpy())
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        env.close()
        return float(np.mean(returns))

    def end_task(self) -> dict[str, Any]:
        t = self.task
        self.strategy.after_task(t, self.context())
        for norm in self.norms[t]:
            norm.freeze()
        rets = [self.evaluate_task(i) for i in range(t + 1)]
        for i, r in enumerate(rets):
            self.R[i][t] = r
        self.evals.append((self.episode, self.env_steps, float(np.mean(rets)), float(np.std(rets))))
        row: dict[str, Any] = {"eval/return": float(np.mean(rets)), "eval/return_std": float(np.std(rets))}
        return row | {f"eval/task{i}/return": r for i, r in enumerate(rets)}

    def run(self) -> dict[str, Any]:
        cfg = self.cfg
        while self.episode < self.total_episodes():
            start = time.perf_counter()
            stats = self.train_episode()
            self.episode += 1
            row: dict[str, Any] = {"episode": self.episode, "task": self.task}
            row |= {"train/env_steps": self.env_steps, **stats}
            if self.episode % cfg.episodes == 0:
                row |= self.end_task()
            self.wall += time.perf_counter() - start
            row["time/wall_s"] = self.wall
            self.rundir.append_metrics(row)
            self.rows += 1
            self._console(row)
            self.save_checkpoint()
        return self.finish()

    # ------------------------------------------------------------------------------------ outputs
    def summary(self) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "kind": self.kind,
            "preset": self.preset,
            "sequence": cfg.sequence,
            "tasks": [t.label for t in self.tasks],
            "seed": cfg.seed,
            "policy_context": f"hypernetwork task embedding e_t (D = {cfg.strategy.hnet.emb_dim})",
            "episodes": self.episode,
            "env_steps": self.env_steps,
            "gradient_steps": self.agent.updates,
            "reward_matrix": self.R,
            **continual_metrics(self.R),
            "settings": self.settings() | {"beta": cfg.strategy.beta, "train_steps": cfg.train_steps},
        }

    def finish(self) -> dict[str, Any]:
        self.agent.save(self.rundir.checkpoints / "policy_final.safetensors")
        summary = self.summary()
        self.rundir.write_summary(summary)
        plot_policy_adaptive(self.rundir)
        return summary

    def checkpoint_tensors(self) -> dict[str, Tensor]:
        out = super().checkpoint_tensors() | flatten("strategy", self.strategy.state_dict())
        for i, (inp, tgt) in enumerate(self.norms):
            out |= flatten(f"norm{i}.in", inp.state_dict()) | flatten(f"norm{i}.tgt", tgt.state_dict())
        out["rng.strat"] = self.strat_gen.get_state()
        return out

    def checkpoint_meta(self) -> dict[str, Any]:
        return super().checkpoint_meta() | {
            "strategy": self.strategy.meta(),
            "task": self.task,
            "task_start": self.task_start,
            "norm_seen": self.norm_seen,
            "norms": len(self.norms),
            "R": self.R,
        }

    def restore(self, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
        super().restore(tensors, meta)
        self.strategy.load_state_dict(unflatten("strategy", tensors), meta["strategy"])
        self.norms = []
        for i in range(int(meta["norms"])):
            inp, tgt = Normalizer(self.model.spec.in_dim), Normalizer(self.model.obs_dim)
            inp.load_state_dict(unflatten(f"norm{i}.in", tensors))
            tgt.load_state_dict(unflatten(f"norm{i}.tgt", tensors))
            self.norms.append((inp, tgt))
        self.strat_gen.set_state(tensors["rng.strat"])
        self.task, self.task_start = int(meta["task"]), int(meta["task_start"])
        self.norm_seen = int(meta["norm_seen"])
        self.R = [[math.nan if v is None else float(v) for v in row] for row in meta["R"]]
        if self.norms:
            self.use_task(self.task)


# ================================================================================================= meta
@dataclass
class MBPOMetaConfig(MBPORunConfig):
    """MBPO across perturbations with GrBAL's meta-trained model; rollouts use θ' adapted per start state."""

    train_tasks: list[dict[str, Any]] = field(default_factory=list)
    """Training perturbations (empty: the family's "train" split, or its defaults)."""
    train_ranges: dict[str, Any] = field(default_factory=dict)
    """Per-episode uniform ranges {param: [low, high]} overriding train_tasks' values (e.g. mass)."""
    test_tasks: list[dict[str, Any]] = field(default_factory=list)
    """Held-out perturbations for evaluation (empty: the family's "test" split, else the training ones)."""
    model: ModelConfig = field(default_factory=_single_model)
    """Dynamics model (GrBAL: one deterministic MLP, MSE on the normalised Δ; ensemble_size must be 1)."""
    grbal: GrBALConfig = field(default_factory=GrBALConfig)
    """GrBAL settings (M: the window each rollout's θ' is adapted on)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        from dynadapt.envs import get_family

        family = get_family(self.env)
        if self.model.ensemble_size != 1:
            raise DynadaptError("mbpo-meta meta-trains a single model: set model.ensemble_size=1")
        if family.reward_factory is not None or family.termination_factory is not None:
            raise DynadaptError(
                f"mbpo-meta needs a reward and termination independent of the perturbation ({self.env})"
            )
        self.train_tasks, self.test_tasks = validated_perturbations(
            family, self.train_tasks, self.test_tasks, self.train_ranges
        )


class MBPOMetaRun(MBPORun):
    """One run of :class:`MBPOMetaConfig` (see the module docstring)."""

    kind = "mbpo-meta"

    def __init__(self, cfg: MBPOMetaConfig, rundir: RunDir, preset: str = "", progress: bool = True) -> None:
        super().__init__(cfg, rundir, preset, progress)
        self.cfg: MBPOMetaConfig = cfg
        fam = self.family
        self.learner = GrBAL(self.model, cfg.grbal, self.model.generator)
        base = {**cfg.env_params}
        self.train_tasks = cfg.train_tasks or [
            fam.validate({**base, **t}) for t in fam.splits.get("train", ({},))
        ]
        self.test_tasks = cfg.test_tasks or [fam.validate(t) for t in fam.splits.get("test", ())]
        self.test_tasks = self.test_tasks or self.train_tasks
        self.task_rng = np.random.default_rng(derive_seeds(cfg.seed, 6)[5])
        self.task_params: dict[str, Any] = {}
        self.meta_fit: MetaFitResult | None = None

    def sample_task(self) -> dict[str, Any]:
        task = dict(self.train_tasks[int(self.task_rng.integers(len(self.train_tasks)))])
        for name, (lo, hi) in self.cfg.train_ranges.items():
            task[name] = float(self.task_rng.uniform(lo, hi))
        return self.family.validate(task)

    def train_episode(self) -> dict[str, float]:
        self.task_params = self.sample_task()
        set_task(self.env, **self.task_params)
        num = {f"task/{k}": float(v) for k, v in self.task_params.items() if isinstance(v, int | float)}
        return super().train_episode() | num

    def before_step(self) -> dict[str, float]:
        cfg, m = self.cfg, self.cfg.mbpo
        since = self.env_steps - cfg.random_steps
        if since < 0 or since % m.model_train_freq != 0 or m.real_ratio >= 1.0 or len(self.buffer) == 0:
            return {}
        t0 = time.perf_counter()
        self.meta_fit = self.learner.fit(self.buffer)
        fit_s = time.perf_counter() - t0
        self.k = rollout_length(since // m.epoch_length, m.rollout_schedule)
        self.pool.resize(m.pool_capacity(self.k))
        t0 = time.perf_counter()
        data = self.buffer.all()
        starts = window_starts(data["episode"], data["t"], self.learner.M)
        if starts.numel() == 0:
            return self.meta_fit.metrics()
        pick = starts[torch.randint(0, starts.numel(), (m.rollout_batch_size,), generator=self.rollout_gen)]
        obs0, params = adapted_params(self.learner, data, pick)
        out, stats = branched_rollout(
            self.policy,
            self.model.predict,
            params,
            obs0,
            self.k,
            self.reward_fn,
            self.termination_fn,
            self.rollout_gen,
            per_row=True,
        )
        self.pool.add(out)
        return self.meta_fit.metrics() | {
            "mbpo/rollout_length": float(self.k),
            "mbpo/mean_rollout_steps": stats["mean_length"],
            "mbpo/nonfinite": stats["nonfinite"],
            "mbpo/model_reward": float(out["reward"].mean()),
            "time/fit_s": fit_s,
            "time/rollout_s": time.perf_counter() - t0,
        }

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float]:
        """Deterministic episodes on the held-out perturbations (episode k plays task k mod n)."""
        returns = []
        for k in range(self.cfg.eval_episodes):
            set_task(self.env, **self.test_tasks[k % len(self.test_tasks)])
            obs, _ = self.env.reset(seed=self.env_seed + 1_000_000 + 1000 * self.episode + k)
            total, done = 0.0, False
            while not done:
                obs, reward, terminated, truncated, _ = self.env.step(
                    self.agent.act(obs, deterministic=True).numpy()
                )
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        return float(np.mean(returns)), float(np.std(returns))

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        out["final_model_val_loss"] = self.meta_fit.val_loss if self.meta_fit else math.nan
        out["final_model_val_pre_loss"] = self.meta_fit.val_pre_loss if self.meta_fit else math.nan
        return out | {
            "policy_context": "none (the GrBAL-adapted models only shape the rollouts)",
            "train_tasks": self.train_tasks,
            "train_ranges": self.cfg.train_ranges,
            "test_tasks": self.test_tasks,
            "settings": out["settings"] | {"M": self.cfg.grbal.M, "K": self.cfg.grbal.K},
        }

    def finish(self) -> dict[str, Any]:
        self.model.save(self.rundir.checkpoints / "model_final.safetensors")
        self.agent.save(self.rundir.checkpoints / "policy_final.safetensors")
        summary = self.summary()
        self.rundir.write_summary(summary)
        plot_policy_adaptive(self.rundir)
        return summary

    def checkpoint_tensors(self) -> dict[str, Tensor]:
        return super().checkpoint_tensors() | flatten("learner", self.learner.state_dict())

    def checkpoint_meta(self) -> dict[str, Any]:
        return super().checkpoint_meta() | {
            "task_rng": self.task_rng.bit_generator.state,
            "meta_fit": None if self.meta_fit is None else vars(self.meta_fit),
        }

    def restore(self, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
        super().restore(tensors, meta)
        self.learner.load_state_dict(unflatten("learner", tensors))
        self.task_rng.bit_generator.state = meta["task_rng"]
        self.meta_fit = None if meta["meta_fit"] is None else MetaFitResult(**meta["meta_fit"])


# =============================================================================================== plots
def plot_policy_adaptive(rundir: RunDir) -> list[Path]:
    """The learning curve and diagnostics of :func:`dynadapt.runs.policy.plot_policy`; for mbpo-continual
    also ``plots/reward_matrix.png`` (return on task i after training task j)."""
    from dynadapt.runs.policy import plot_policy

    out = plot_policy(rundir)
    summary = rundir.read_summary()
    if summary is not None and "reward_matrix" in summary:
        out.append(
            plot_task_matrix(
                rundir.plots / "reward_matrix.png",
                summary["reward_matrix"],
                "policy return on task i after task j",
                annotate=True,
            )
        )
    return out


register_kind("mbpo-continual", MBPOContinualConfig, MBPOContinualRun)
register_kind("mbpo-meta", MBPOMetaConfig, MBPOMetaRun)
