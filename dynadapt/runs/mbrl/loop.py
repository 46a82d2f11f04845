"""The model-based RL loop of PETS (Chua et al. 2018, Alg. 1) and the MBRL lecture notes.

::

    collect `random_episodes` episodes with uniformly random actions
    fit the dynamics model on all data
    for each further episode:
        for each step: plan with MPC on the model (warm-started CEM or another planner), execute a_0
        aggregate the transitions into the buffer
        refit the model every `train_every` steps (0: after every episode)
        every `eval.every` episodes: `eval.episodes` evaluation episodes (no data kept)

One step of the run skeleton is one training episode (and its evaluation when due).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.envs import action_bounds
from dynadapt.errors import DynadaptError
from dynadapt.models.dynamics import DynamicsModel, FitResult, ModelConfig
from dynadapt.planning import PLANNER_CONFIGS, ModelObjective, MPCConfig, PlannerConfig, mpc_agent
from dynadapt.planning.cem import CEMConfig
from dynadapt.runs.checkpoint import Stateful
from dynadapt.runs.run import Run
from dynadapt.runs.settings import Evaluation, OneTask, RunConfig, check
from dynadapt.video import Camera


@dataclass
class PETSSettings:
    """How a PETS run learns and plans (all of its config but the task, seed and threads); distillation
    nests these settings for the PETS run it distils."""

    episodes: int = 10
    """Training episodes in total, random ones included."""
    random_episodes: int = 1
    """Initial episodes with uniformly random actions."""
    train_every: int = 0
    """Refit the model every this many env steps (0: after every episode)."""
    eval: Evaluation = field(default_factory=Evaluation)
    """Evaluation with MPC every eval.every episodes once MPC has started (0: only at the end)."""
    buffer_capacity: int = 100_000
    """Replay buffer size; the oldest transitions are dropped beyond it."""
    target_return: float | None = None
    """Report the first episode at which the mean evaluation return reaches this (None: not reported)."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """Dynamics model."""
    planner: PlannerConfig = field(default_factory=CEMConfig, metadata={"choices": PLANNER_CONFIGS})
    """Trajectory optimiser (choose with planner=NAME)."""
    mpc: MPCConfig = field(default_factory=MPCConfig)
    """Receding-horizon control and imagined-rollout settings."""

    def __post_init__(self) -> None:
        check(
            (self.episodes >= 1, "episodes must be >= 1"),
            (0 <= self.random_episodes <= self.episodes, "random_episodes must be in [0, episodes]"),
            (self.train_every >= 0, "train_every must be >= 0"),
            (self.buffer_capacity >= 1, "buffer_capacity must be >= 1"),
        )

    @classmethod
    def of(cls, cfg: PETSSettings) -> PETSSettings:
        """The PETS settings of ``cfg`` (e.g. of an :class:`MBRLConfig` preset) alone."""
        return cls(**{f.name: getattr(cfg, f.name) for f in fields(cls)})


@dataclass
class MBRLConfig(PETSSettings, RunConfig):
    """A PETS-style model-based RL experiment on one task."""

    task: OneTask = field(default_factory=OneTask)
    """The task played."""

    def __post_init__(self) -> None:
        RunConfig.__post_init__(self)
        PETSSettings.__post_init__(self)

    @classmethod
    def of(  # type: ignore[override]
        cls, settings: PETSSettings, task: OneTask, seed: int, threads: int, device: str = "auto"
    ) -> MBRLConfig:
        """A PETS run of ``settings`` on ``task`` with ``seed``, ``threads`` and ``device``."""
        own = {f.name: getattr(settings, f.name) for f in fields(PETSSettings)}
        return cls(task=task, seed=seed, threads=threads, device=device, **own)


class MBRLRun(Run[MBRLConfig]):
    kind = "mbrl"
    state_fields = ("episode", "env_steps", "steps_since_fit", "evals", "fit")

    def build(self) -> None:
        cfg, task = self.cfg, self.cfg.task
        family = task.family
        self.env = task.make()
        self.low, self.high = action_bounds(self.env)
        self.model = DynamicsModel.for_family(family, cfg.model, self.seeds.torch("model"))
        self.buffer = ReplayBuffer(cfg.buffer_capacity, family.obs_dim, family.act_dim)
        m, params = self.model, self.model.detached_params()  # params share storage: always the current fit
        given = task.as_task()  # the task's own reward and termination, unless the model learns them
        reward = m.learned_reward_fn(params) if cfg.model.learn_reward else given.reward_fn()
        done = m.learned_termination_fn(params) if cfg.model.learn_termination else given.termination_fn()
        self.objective = ModelObjective(
            m.predict, cfg.mpc, self.seeds.torch("plan", self.device), reward, done, params
        )
        self.agent = mpc_agent(cfg.planner, self.objective, self.low, self.high)
        self.act_rng = self.seeds.numpy("act")
        self.env_seed = self.seeds.int("env")
        self.episode = self.env_steps = self.steps_since_fit = 0
        self.evals: list[tuple[int, float, float]] = []
        """(episode, mean, std) of every evaluation."""
        self.fit: dict[str, Any] | None = None
        """The last model fit (FitResult fields)."""

    def components(self) -> dict[str, Stateful]:
        return {"model": self.model, "buffer": self.buffer}

    def done(self) -> bool:
        return self.episode >= self.cfg.episodes

    # ------------------------------------------------------------------------------------------ one step
    def step(self) -> dict[str, Any]:
        cfg = self.cfg
        mode: Literal["random", "mpc"] = "random" if self.episode < cfg.random_episodes else "mpc"
        ret, length, plan_ms = self.play(mode, seed=self.env_seed + self.episode)
        fit_s = time.perf_counter()
        fitted = cfg.train_every == 0 or (mode == "random" and self.episode + 1 == cfg.random_episodes)
        if fitted:
            self.fit_model()
        fit_s = time.perf_counter() - fit_s
        self.episode += 1
        row: dict[str, Any] = {
            "episode": self.episode,
            "phase": mode,
            "train/return": ret,
            "train/length": length,
            "train/env_steps": self.env_steps,
            "planner/ms_per_step": plan_ms,
        }
        if self.fit is not None:
            row |= FitResult(**self.fit).metrics()
        if fitted:
            row["time/fit_s"] = fit_s
        if self.eval_due():
            mean, std = self.evaluate()
            self.evals.append((self.episode, mean, std))
            row |= {"eval/return": mean, "eval/return_std": std}
        return row

    def play(self, mode: Literal["random", "mpc", "eval"], seed: int) -> tuple[float, int, float]:
        """One episode; its data is kept unless evaluating. Returns (return, length, planning ms per step)."""
        obs, _ = self.env.reset(seed=seed)
        self.agent.reset()
        total, steps = 0.0, 0
        plan_ms = self.agent.mean_plan_ms * self.agent.num_plans
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
                if mode == "mpc" and self.cfg.train_every and self.steps_since_fit >= self.cfg.train_every:
                    self.fit_model()
            obs = next_obs
            steps += 1
            if terminated or truncated:
                break
        plan_ms = self.agent.mean_plan_ms * self.agent.num_plans - plan_ms
        return total, steps, plan_ms / steps if mode != "random" else math.nan

    def fit_model(self) -> None:
        self.fit = vars(self.model.fit(self.buffer))
        self.steps_since_fit = 0

    def evaluate(self, episodes: int | None = None) -> tuple[float, float]:
        """Mean and std of the returns of ``eval.episodes`` (or ``episodes``) MPC episodes, no data kept."""
        seed = self.env_seed + 1_000_000 + 1000 * self.episode
        n = self.cfg.eval.episodes if episodes is None else episodes
        returns = [self.play("eval", seed + k)[0] for k in range(n)]
        return float(np.mean(returns)), float(np.std(returns))

    def watch_tasks(self) -> list[str]:
        return [self.cfg.task.as_task().label] if self.fit is not None else []

    def watch(self, camera: Camera, task: int, episodes: int) -> None:
        with camera.filming(self):
            self.evaluate(episodes)

    def eval_due(self) -> bool:
        cfg = self.cfg
        if cfg.eval.episodes == 0 or self.episode < cfg.random_episodes:
            return False
        if self.episode == cfg.episodes:
            return True
        done_mpc = self.episode - cfg.random_episodes
        return cfg.eval.every > 0 and (done_mpc == 0 or done_mpc % cfg.eval.every == 0)

    # --------------------------------------------------------------------------------------- outputs
    def console(self, row: dict[str, Any]) -> str:
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
        return " | ".join([*parts, f"{row['time/wall_s']:.0f}s"])

    def save_outputs(self) -> None:
        self.model.save(self.rundir.checkpoints / "model_final.safetensors")

    def summary(self) -> dict[str, Any]:
        cfg = self.cfg
        final = self.evals[-1] if self.evals else (self.episode, math.nan, math.nan)
        reached = None
        if cfg.target_return is not None:
            reached = next((ep for ep, mean, _ in self.evals if mean >= cfg.target_return), None)
        return {
            "kind": "mbrl",
            "preset": self.preset,
            "env": cfg.task.env,
            "env_params": cfg.task.env_params,
            "seed": cfg.seed,
            "episodes": self.episode,
            "env_steps": self.env_steps,
            "final_eval_return": final[1],
            "final_eval_return_std": final[2],
            "best_eval_return": max((m for _, m, _ in self.evals), default=math.nan),
            "target_return": cfg.target_return,
            "episodes_to_target": reached,
            "eval": [{"episode": ep, "return": m, "return_std": s} for ep, m, s in self.evals],
            "final_model_val_loss": self.fit["val_loss"] if self.fit else math.nan,
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
