"""The model-based RL loop of PETS (Chua et al. 2018, Alg. 1) and the MBRL lecture notes.

::

    collect `random_episodes` episodes with uniformly random actions
    fit the dynamics model on all data
    for each further episode:
        for each step: plan with MPC on the model (warm-started CEM or another planner), execute a_0
        aggregate the transitions into the buffer
        refit the model every `train_every` steps (0: after every episode)
        every `eval_every` episodes: `eval_episodes` evaluation episodes (no data kept)

A run is reproducible and resumable: one seed becomes explicit generators (model init and minibatches,
planner sampling, random actions) and per-episode env seeds; after every episode a single atomic
checkpoint stores the model, optimiser, normalisers, buffer, RNG states and loop counters, so
``dynadapt resume`` after ``kill -9`` repeats only the interrupted episode and ends with the same results.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.envs import TaskFamily, get_family
from dynadapt.envs.family import RewardFn, TerminationFn
from dynadapt.errors import DynadaptError
from dynadapt.io import flatten, load_tensors, save_tensors, unflatten
from dynadapt.models.dynamics import DynamicsModel, FitResult, ModelConfig
from dynadapt.planning import PLANNER_CONFIGS, MPCConfig, PlannerConfig, imagine
from dynadapt.planning.cem import CEMConfig
from dynadapt.runs.common import RunBase, action_bounds, derive_seeds, make_mpc_agent
from dynadapt.runs.launch import register_kind
from dynadapt.runs.rundir import RunDir

CHECKPOINT_FORMAT = "dynadapt.MBRLCheckpoint"


@dataclass
class MBRLConfig:
    """A PETS-style model-based RL experiment on one task."""

    env: str = "pendulum"
    """Task family (see `dynadapt envs`)."""
    env_params: dict[str, Any] = field(default_factory=dict)
    """Physical parameters of the task, e.g. env_params.gravity=12 (defaults: the family's)."""
    seed: int = 0
    """Seed of every random number in the run."""
    episodes: int = 10
    """Training episodes in total, random ones included."""
    episode_steps: int = 0
    """Truncate episodes after this many steps (0: the family's own episode length)."""
    random_episodes: int = 1
    """Initial episodes with uniformly random actions."""
    train_every: int = 0
    """Refit the model every this many env steps (0: after every episode)."""
    eval_every: int = 1
    """Evaluate every this many training episodes once MPC has started (0: only at the end)."""
    eval_episodes: int = 3
    """Evaluation episodes per evaluation (MPC, no data kept)."""
    buffer_capacity: int = 100_000
    """Replay buffer size; the oldest transitions are dropped beyond it."""
    target_return: float | None = None
    """Report the first episode at which the mean evaluation return reaches this (None: not reported)."""
    threads: int = 1
    """torch CPU threads (1: fastest for CPU-scale models and parallel runs; 0: torch's default)."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """Dynamics model."""
    planner: PlannerConfig = field(default_factory=CEMConfig, metadata={"choices": PLANNER_CONFIGS})
    """Trajectory optimiser (choose with planner=NAME)."""
    mpc: MPCConfig = field(default_factory=MPCConfig)
    """Receding-horizon control and imagined-rollout settings."""

    def __post_init__(self) -> None:
        checks = [
            (self.episodes >= 1, "episodes must be >= 1"),
            (self.episode_steps >= 0, "episode_steps must be >= 0"),
            (0 <= self.random_episodes <= self.episodes, "random_episodes must be in [0, episodes]"),
            (self.train_every >= 0, "train_every must be >= 0"),
            (self.eval_every >= 0, "eval_every must be >= 0"),
            (self.eval_episodes >= 0, "eval_episodes must be >= 0"),
            (self.buffer_capacity >= 1, "buffer_capacity must be >= 1"),
            (self.threads >= 0, "threads must be >= 0"),
        ]
        for ok, msg in checks:
            if not ok:
                raise DynadaptError(msg)
        family = get_family(self.env)
        self.env_params = family.validate(self.env_params)


class MBRLRun(RunBase):
    """One run of :class:`MBRLConfig` in a run directory (create with :meth:`start`, or :meth:`resume`)."""

    kind = "mbrl"

    def __init__(self, cfg: MBRLConfig, rundir: RunDir, preset: str = "", progress: bool = True) -> None:
        super().__init__(cfg, rundir, preset, progress)
        self.cfg: MBRLConfig = cfg
        self.family: TaskFamily = get_family(cfg.env)
        self.env = self.family.make(**cfg.env_params)
        self.episode_steps = cfg.episode_steps or self.family.episode_steps
        if cfg.episode_steps:
            self.env = gym.wrappers.TimeLimit(self.env, cfg.episode_steps)
        self.reward_fn = self.family.reward_fn_for(**cfg.env_params)
        self.termination_fn = self.family.termination_fn_for(**cfg.env_params)
        self.low, self.high = action_bounds(self.env)
        s_model, s_plan, s_act, self.env_seed = derive_seeds(cfg.seed, 4)
        self.model = DynamicsModel(
            self.family.obs_dim,
            self.family.act_dim,
            cfg.model,
            obs_preproc=self.family.obs_preproc,
            feature_dim=self.family.feature_dim,
            family=self.family.name,
            generator=torch.Generator().manual_seed(s_model),
        )
        self.plan_gen = torch.Generator().manual_seed(s_plan)
        self.act_rng = np.random.default_rng(s_act)
        self.buffer = ReplayBuffer(cfg.buffer_capacity, self.family.obs_dim, self.family.act_dim)
        self.agent = make_mpc_agent(
            cfg.planner, cfg.mpc, self.objective_for, self.low, self.high, self.plan_gen
        )
        # loop state (all of it is checkpointed)
        self.episode = 0
        self.env_steps = 0
        self.steps_since_fit = 0
        self.rows = 0
        self.wall = 0.0
        self.last_fit: FitResult | None = None
        self.evals: list[tuple[int, float, float]] = []

    # ---------------------------------------------------------------------------------- the objective
    def objective_for(self, obs0: Tensor) -> Callable[[Tensor], Tensor]:
        """The planning objective at observation ``obs0[O]``: imagined return of ``actions[B, H, A]``."""
        params = {k: v.detach() for k, v in self.model.params.items()}
        mpc = self.cfg.mpc
        reward_fn, termination_fn = self.task_fns(params)

        def objective(actions: Tensor) -> Tensor:
            return imagine(
                self.model.predict,
                params,
                obs0,
                actions,
                reward_fn,
                termination_fn,
                propagation=mpc.propagation,
                particles=mpc.particles,
                generator=self.plan_gen,
            )

        return objective

    def task_fns(self, params: dict[str, Tensor]) -> tuple[RewardFn, TerminationFn]:
        """The reward and termination the planner scores with: the task family's, or the model's learned
        heads bound to ``params`` when the run sets ``model.learn_reward`` / ``model.learn_termination``."""
        reward_fn = self.model.learned_reward_fn(params) if self.cfg.model.learn_reward else self.reward_fn
        termination_fn = (
            self.model.learned_termination_fn(params)
            if self.cfg.model.learn_termination
            else self.termination_fn
        )
        return reward_fn, termination_fn

    # ------------------------------------------------------------------------------------ one episode
    def run_episode(self, mode: Literal["random", "mpc", "eval"], seed: int) -> dict[str, float]:
        """Play one episode; keep its data unless evaluating. Returns its statistics."""
        obs, _ = self.env.reset(seed=seed)
        self.agent.reset()
        total, steps = 0.0, 0
        plan_ms_before = self.agent.mean_plan_ms * self.agent.num_plans
        bar = tqdm(
            total=self.family.episode_steps,
            desc=f"{mode} ep {self.episode}",
            leave=False,
            disable=not self.progress,
            unit="step",
        )
        while True:
            if mode == "random":
                act = self.act_rng.uniform(self.low, self.high).astype(np.float32)
            else:
                act = self.agent.act(obs)
            next_obs, reward, terminated, truncated, _ = self.env.step(act)
            if not np.all(np.isfinite(next_obs)):
                raise DynadaptError(f"the env returned a non-finite observation at step {steps}")
            total += float(reward)
            if mode != "eval":
                self.buffer.add(
                    obs, act, next_obs, float(reward), terminated, truncated, episode=self.episode, t=steps
                )
                self.env_steps += 1
                self.steps_since_fit += 1
                if self.cfg.train_every and self.steps_since_fit >= self.cfg.train_every and mode == "mpc":
                    self.fit()
            obs = next_obs
            steps += 1
            bar.update(1)
            if terminated or truncated:
                break
        bar.close()
        plan_ms = self.agent.mean_plan_ms * self.agent.num_plans - plan_ms_before
        return {
            "return": total,
            "length": steps,
            "plan_ms": plan_ms / steps if mode != "random" else math.nan,
        }

    def fit(self) -> FitResult:
        bar = tqdm(total=self.cfg.model.max_epochs, desc="fit", leave=False, disable=not self.progress)
        result = self.model.fit(self.buffer, progress=lambda e, v: bar.update(1))
        bar.close()
        self.steps_since_fit = 0
        self.last_fit = result
        return result

    def evaluate(self) -> tuple[float, float]:
        returns = [
            self.run_episode("eval", seed=self.env_seed + 1_000_000 + 1000 * self.episode + k)["return"]
            for k in range(self.cfg.eval_episodes)
        ]
        return float(np.mean(returns)), float(np.std(returns))

    # ------------------------------------------------------------------------------------------ loop
    def run(self) -> dict[str, Any]:
        """Run (or continue) the loop to the end; returns the summary."""
        cfg = self.cfg
        while self.episode < cfg.episodes:
            start = time.perf_counter()
            mode: Literal["random", "mpc"] = "random" if self.episode < cfg.random_episodes else "mpc"
            stats = self.run_episode(mode, seed=self.env_seed + self.episode)
            fit_s = time.perf_counter()
            fitted = False
            if cfg.train_every == 0 or (mode == "random" and self.episode + 1 == cfg.random_episodes):
                self.fit()
                fitted = True
            fit_s = time.perf_counter() - fit_s
            self.episode += 1
            row: dict[str, Any] = {
                "episode": self.episode,
                "phase": mode,
                "train/return": stats["return"],
                "train/length": stats["length"],
                "train/env_steps": self.env_steps,
                "planner/ms_per_step": stats["plan_ms"],
            }
            if self.last_fit is not None:
                row |= self.last_fit.metrics()
            if fitted:
                row["time/fit_s"] = fit_s
            if self._eval_due(mode):
                mean, std = self.evaluate()
                self.evals.append((self.episode, mean, std))
                row |= {"eval/return": mean, "eval/return_std": std}
            self.wall += time.perf_counter() - start
            row["time/wall_s"] = self.wall
            self.rundir.append_metrics(row)
            self.rows += 1
            self._console(row)
            self.save_checkpoint()
        return self.finish()

    def _eval_due(self, mode: str) -> bool:
        cfg = self.cfg
        if cfg.eval_episodes == 0 or self.episode < cfg.random_episodes:
            return False
        if self.episode == cfg.episodes:
            return True
        done_mpc = self.episode - cfg.random_episodes
        return cfg.eval_every > 0 and (done_mpc == 0 or done_mpc % cfg.eval_every == 0)

    def _console(self, row: dict[str, Any]) -> None:
        if not self.progress:
            return
        parts = [
            f"ep {row['episode']:>3}/{self.cfg.episodes}",
            f"{row['phase']:<6}",
            f"return {row['train/return']:9.2f}",
            f"steps {row['train/env_steps']:>7}",
        ]
        if "model/val_loss" in row:
            parts.append(f"val {row['model/val_loss']:.4g}")
        if not math.isnan(row["planner/ms_per_step"]):
            parts.append(f"plan {row['planner/ms_per_step']:.1f} ms/step")
        if "eval/return" in row:
            parts.append(f"eval {row['eval/return']:.2f} ± {row['eval/return_std']:.2f}")
        parts.append(f"{row['time/wall_s']:.0f}s")
        tqdm.write(" | ".join(parts))

    def finish(self) -> dict[str, Any]:
        """Write the final model, the summary and the plots."""
        self.model.save(self.rundir.checkpoints / "model_final.safetensors")
        summary = self.summary()
        self.rundir.write_summary(summary)
        from dynadapt.runs.plots import plot_run

        plot_run(self.rundir)
        return summary

    def summary(self) -> dict[str, Any]:
        cfg = self.cfg
        final = self.evals[-1] if self.evals else (self.episode, math.nan, math.nan)
        reached = None
        if cfg.target_return is not None:
            reached = next((ep for ep, mean, _ in self.evals if mean >= cfg.target_return), None)
        return {
            "kind": "mbrl",
            "preset": self.preset,
            "env": cfg.env,
            "env_params": cfg.env_params,
            "seed": cfg.seed,
            "episodes": self.episode,
            "env_steps": self.env_steps,
            "final_eval_return": final[1],
            "final_eval_return_std": final[2],
            "best_eval_return": max((m for _, m, _ in self.evals), default=math.nan),
            "target_return": cfg.target_return,
            "episodes_to_target": reached,
            "eval": [{"episode": ep, "return": m, "return_std": s} for ep, m, s in self.evals],
            "final_model_val_loss": self.last_fit.val_loss if self.last_fit else math.nan,
            "settings": {
                "ensemble_size": cfg.model.ensemble_size,
                "hidden": list(cfg.model.hidden),
                "head": cfg.model.head,
                "planner": type(cfg.planner).name,
                "horizon": cfg.mpc.horizon,
                "particles": cfg.mpc.particles,
                "propagation": cfg.mpc.propagation,
                **({"learn_reward": True} if cfg.model.learn_reward else {}),
                **({"learn_termination": True} if cfg.model.learn_termination else {}),
            },
        }

    # ------------------------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> None:
        tensors = flatten("model", self.model.state_dict())
        tensors |= flatten("buffer", self.buffer.state_dict())
        tensors["rng.model"] = self.model.generator.get_state()
        tensors["rng.plan"] = self.plan_gen.get_state()
        meta = {
            "version": 1,
            "episode": self.episode,
            "env_steps": self.env_steps,
            "steps_since_fit": self.steps_since_fit,
            "rows": self.rows,
            "wall": self.wall,
            "evals": self.evals,
            "last_fit": None if self.last_fit is None else vars(self.last_fit),
            "act_rng": self.act_rng.bit_generator.state,
        }
        save_tensors(self.rundir.checkpoint_path, tensors, CHECKPOINT_FORMAT, meta)

    def load_checkpoint(self, path: Path) -> None:
        tensors, meta = load_tensors(path, CHECKPOINT_FORMAT)
        try:
            self.model.load_state_dict(unflatten("model", tensors))
            self.buffer.load_state_dict(unflatten("buffer", tensors))
            self.model.generator.set_state(tensors["rng.model"])
            self.plan_gen.set_state(tensors["rng.plan"])
            self.act_rng.bit_generator.state = meta["act_rng"]
            self.episode = int(meta["episode"])
            self.env_steps = int(meta["env_steps"])
            self.steps_since_fit = int(meta["steps_since_fit"])
            self.rows = int(meta["rows"])
            self.wall = float(meta["wall"])
            self.evals = [(int(e[0]), float(e[1]), float(e[2])) for e in meta["evals"]]
            self.last_fit = None if meta["last_fit"] is None else FitResult(**meta["last_fit"])
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise DynadaptError(f"{path}: checkpoint does not match this run ({e})") from None
        self.rundir.truncate_metrics(self.rows)


register_kind("mbrl", MBRLConfig, MBRLRun)
