"""Policy-learning loops: model-free SAC (kind ``"sac"``) and MBPO (kind ``"mbpo"``, Janner et al. 2019).

::

    for each episode:
        for each env step:
            [mbpo] every model_train_freq steps after the random phase:
                fit the ensemble on all real data; k ← schedule(epoch); resize the model buffer;
                branched k-step rollouts of the policy from rollout_batch_size real start states
            act: uniformly random for the first `random_steps` steps, then a ~ π(·|s)
            store the transition in the real buffer
            after the random phase: `updates_per_step` (G) SAC updates on
                sac: real minibatches;  mbpo: real_ratio real + (1 − real_ratio) model transitions
        every `eval_every` episodes: `eval_episodes` deterministic episodes (a = tanh(μ), no data kept)

One metrics row per training episode; a checkpoint (SAC, real buffer, model and model buffer, every
generator, loop counters) after every episode, so ``dynadapt resume`` after ``kill -9`` repeats only the
interrupted episode and ends with the same results. ``summary.json`` holds no timings.
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
from tqdm import tqdm

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.envs import TaskFamily, get_family
from dynadapt.errors import DynadaptError
from dynadapt.io import flatten, load_tensors, save_tensors, unflatten
from dynadapt.models.dynamics import DynamicsModel, FitResult, ModelConfig
from dynadapt.policy.mbpo import (
    MBPOConfig,
    ModelPool,
    RewardFn,
    branched_rollout,
    mixed_batch,
    rollout_length,
    start_states,
)
from dynadapt.policy.sac import SAC, SACConfig
from dynadapt.runs.common import RunBase, action_bounds, derive_seeds
from dynadapt.runs.launch import register_kind
from dynadapt.runs.rundir import RunDir

CHECKPOINT_FORMAT = "dynadapt.PolicyCheckpoint"


@dataclass
class SACRunConfig:
    """Soft actor-critic on one task (the model-free baseline)."""

    env: str = "pendulum"
    """Task family (see `dynadapt envs`)."""
    env_params: dict[str, Any] = field(default_factory=dict)
    """Physical parameters of the task, e.g. env_params.gravity=12 (defaults: the family's)."""
    seed: int = 0
    """Seed of every random number in the run."""
    episodes: int = 50
    """Training episodes in total."""
    episode_steps: int = 0
    """Truncate episodes after this many steps (0: the family's own episode length)."""
    random_steps: int = 1000
    """Initial env steps with uniformly random actions; gradient updates start after them."""
    updates_per_step: int = 1
    """SAC gradient steps per env step (G)."""
    eval_every: int = 1
    """Evaluate every this many training episodes (0: only at the end)."""
    eval_episodes: int = 3
    """Deterministic evaluation episodes per evaluation (no data kept)."""
    buffer_capacity: int = 1_000_000
    """Real replay buffer size."""
    target_return: float | None = None
    """Report the env steps at which the mean evaluation return first reaches this (None: not reported)."""
    stop_at_target: bool = False
    """End the run at the first evaluation that reaches target_return."""
    threads: int = 1
    """torch CPU threads (1: fastest for CPU-scale networks; 0: torch's default)."""
    sac: SACConfig = field(default_factory=SACConfig)
    """Soft actor-critic settings."""

    def __post_init__(self) -> None:
        checks = [
            (self.episodes >= 1, "episodes must be >= 1"),
            (self.episode_steps >= 0, "episode_steps must be >= 0"),
            (self.random_steps >= 0, "random_steps must be >= 0"),
            (self.updates_per_step >= 0, "updates_per_step must be >= 0"),
            (self.eval_every >= 0, "eval_every must be >= 0"),
            (self.eval_episodes >= 0, "eval_episodes must be >= 0"),
            (self.buffer_capacity >= 1, "buffer_capacity must be >= 1"),
            (self.threads >= 0, "threads must be >= 0"),
            (not self.stop_at_target or self.target_return is not None, "stop_at_target needs target_return"),
        ]
        for ok, msg in checks:
            if not ok:
                raise DynadaptError(msg)
        self.env_params = get_family(self.env).validate(self.env_params)


@dataclass
class MBPORunConfig(SACRunConfig):
    """MBPO (Janner et al. 2019): SAC trained mostly on short branched rollouts of a learned ensemble."""

    updates_per_step: int = 20
    """SAC gradient steps per env step (G; MBPO: 20, HalfCheetah 40)."""
    random_steps: int = 5000
    """Initial env steps with uniformly random actions (MBPO: 5000); the model is first fit after them."""
    model: ModelConfig = field(
        default_factory=lambda: ModelConfig(
            ensemble_size=7, num_elites=5, hidden=(200, 200, 200, 200), batch_size=256, max_epochs=1000
        )
    )
    """Dynamics model (MBPO: 7 members, 5 elites, 4x200 swish, Gaussian, batch 256)."""
    mbpo: MBPOConfig = field(default_factory=MBPOConfig)
    """Model rollout settings."""


class SACRun(RunBase):
    """One SAC run of :class:`SACRunConfig` in a run directory."""

    kind = "sac"

    def __init__(self, cfg: SACRunConfig, rundir: RunDir, preset: str = "", progress: bool = True) -> None:
        super().__init__(cfg, rundir, preset, progress)
        self.cfg: SACRunConfig = cfg
        self.family: TaskFamily = get_family(cfg.env)
        self.env = self.family.make(**cfg.env_params)
        if cfg.episode_steps:
            self.env = gym.wrappers.TimeLimit(self.env, cfg.episode_steps)
        self.reward_fn: RewardFn = self.family.reward_fn_for(**cfg.env_params)
        self.termination_fn: RewardFn = self.family.termination_fn_for(**cfg.env_params)
        self.low, self.high = action_bounds(self.env)
        s_sac, s_model, s_roll, s_act, self.env_seed = derive_seeds(cfg.seed, 5)
        self.seeds = {"model": s_model, "rollout": s_roll}
        self.agent = SAC(
            self.family.obs_dim,
            self.family.act_dim,
            self.low,
            self.high,
            cfg.sac,
            obs_preproc=self.family.obs_preproc,
            feature_dim=self.family.feature_dim,
            generator=torch.Generator().manual_seed(s_sac),
        )
        self.act_rng = np.random.default_rng(s_act)
        self.buffer = ReplayBuffer(cfg.buffer_capacity, self.family.obs_dim, self.family.act_dim)
        self.episode = 0
        self.env_steps = 0
        self.rows = 0
        self.wall = 0.0
        self.evals: list[tuple[int, int, float, float]] = []
        """(episode, env_steps, mean, std) of every evaluation."""

    # ------------------------------------------------------------------------------------ hooks
    def before_step(self) -> dict[str, float]:
        """Work done before each env step (MBPO: model fitting and rollouts); returns metrics."""
        return {}

    def batch(self) -> dict[str, Tensor]:
        """One SAC minibatch."""
        return self.buffer.sample(self.cfg.sac.batch_size, self.agent.generator)

    def random_phase(self) -> bool:
        """Act uniformly at random and take no gradient steps now (the first ``random_steps`` steps)."""
        return self.env_steps < self.cfg.random_steps

    def total_episodes(self) -> int:
        """Training episodes of the whole run."""
        return self.cfg.episodes

    def policy_input(self, obs: np.ndarray) -> np.ndarray:
        """What the policy sees of an env observation (default: the observation itself; adaptive variants
        append a task context, :mod:`dynadapt.runs.policy_adaptive`)."""
        return obs

    # ---------------------------------------------------------------------------------- episodes
    def train_episode(self) -> dict[str, float]:
        cfg = self.cfg
        obs, _ = self.env.reset(seed=self.env_seed + self.episode)
        total, steps = 0.0, 0
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}

        def log(metrics: dict[str, float]) -> None:
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + v
                counts[k] = counts.get(k, 0) + 1

        bar = tqdm(desc=f"ep {self.episode}", leave=False, disable=not self.progress, unit="step")
        while True:
            log(self.before_step())
            if self.random_phase():
                act = self.act_rng.uniform(self.low, self.high).astype(np.float32)
            else:
                act = self.agent.act(self.policy_input(obs)).numpy()
            next_obs, reward, terminated, truncated, _ = self.env.step(act)
            if not np.all(np.isfinite(next_obs)):
                raise DynadaptError(f"the env returned a non-finite observation at step {steps}")
            self.buffer.add(
                obs, act, next_obs, float(reward), terminated, truncated, episode=self.episode, t=steps
            )
            self.env_steps += 1
            total += float(reward)
            if not self.random_phase():
                for _ in range(cfg.updates_per_step):
                    log(self.agent.update(self.batch()))
            obs = next_obs
            steps += 1
            bar.update(1)
            if terminated or truncated:
                break
        bar.close()
        return {"train/return": total, "train/length": steps} | {k: sums[k] / counts[k] for k in sums}

    @torch.no_grad()
    def evaluate(self) -> tuple[float, float]:
        """Mean and std of the return of ``eval_episodes`` deterministic episodes."""
        returns = []
        for k in range(self.cfg.eval_episodes):
            obs, _ = self.env.reset(seed=self.env_seed + 1_000_000 + 1000 * self.episode + k)
            total = 0.0
            while True:
                obs, reward, terminated, truncated, _ = self.env.step(
                    self.agent.act(self.policy_input(obs), deterministic=True).numpy()
                )
                total += float(reward)
                if terminated or truncated:
                    break
            returns.append(total)
        return float(np.mean(returns)), float(np.std(returns))

    def _eval_due(self) -> bool:
        cfg = self.cfg
        if cfg.eval_episodes == 0:
            return False
        return self.episode == cfg.episodes or (cfg.eval_every > 0 and self.episode % cfg.eval_every == 0)

    def reached(self) -> int | None:
        """Env steps at the first evaluation whose mean reached ``target_return`` (None: not reached)."""
        t = self.cfg.target_return
        if t is None:
            return None
        return next((steps for _, steps, mean, _ in self.evals if mean >= t), None)

    # ------------------------------------------------------------------------------------------ loop
    def run(self) -> dict[str, Any]:
        """Run (or continue) the loop to the end; returns the summary."""
        cfg = self.cfg
        while self.episode < cfg.episodes:
            if cfg.stop_at_target and self.reached() is not None:
                break
            start = time.perf_counter()
            stats = self.train_episode()
            self.episode += 1
            row: dict[str, Any] = {"episode": self.episode, "train/env_steps": self.env_steps, **stats}
            if self._eval_due():
                mean, std = self.evaluate()
                self.evals.append((self.episode, self.env_steps, mean, std))
                row |= {"eval/return": mean, "eval/return_std": std}
            self.wall += time.perf_counter() - start
            row["time/wall_s"] = self.wall
            self.rundir.append_metrics(row)
            self.rows += 1
            self._console(row)
            self.save_checkpoint()
        return self.finish()

    def _console(self, row: dict[str, Any]) -> None:
        if not self.progress:
            return
        parts = [
            f"ep {row['episode']:>3}/{self.total_episodes()}",
            f"return {row['train/return']:9.2f}",
            f"steps {row['train/env_steps']:>7}",
        ]
        if "sac/alpha" in row:
            parts.append(f"alpha {row['sac/alpha']:.3f}")
        if "model/val_loss" in row:
            parts.append(f"model val {row['model/val_loss']:.4g}")
        if "mbpo/rollout_length" in row:
            parts.append(f"k {row['mbpo/rollout_length']:.0f}")
        if "eval/return" in row:
            parts.append(f"eval {row['eval/return']:.2f} ± {row['eval/return_std']:.2f}")
        parts.append(f"{row['time/wall_s']:.0f}s")
        tqdm.write(" | ".join(parts))

    def finish(self) -> dict[str, Any]:
        """Write the final policy, the summary and the plots."""
        self.agent.save(self.rundir.checkpoints / "policy_final.safetensors")
        summary = self.summary()
        self.rundir.write_summary(summary)
        from dynadapt.runs.plots import plot_run

        plot_run(self.rundir)
        return summary

    def summary(self) -> dict[str, Any]:
        cfg = self.cfg
        final = self.evals[-1] if self.evals else (self.episode, self.env_steps, math.nan, math.nan)
        return {
            "kind": self.kind,
            "preset": self.preset,
            "env": cfg.env,
            "env_params": cfg.env_params,
            "seed": cfg.seed,
            "episodes": self.episode,
            "env_steps": self.env_steps,
            "gradient_steps": self.agent.updates,
            "final_eval_return": final[2],
            "final_eval_return_std": final[3],
            "best_eval_return": max((m for _, _, m, _ in self.evals), default=math.nan),
            "target_return": cfg.target_return,
            "env_steps_to_target": self.reached(),
            "eval": [
                {"episode": ep, "env_steps": st, "return": m, "return_std": s} for ep, st, m, s in self.evals
            ],
            "settings": self.settings(),
        }

    def settings(self) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "hidden": list(cfg.sac.hidden),
            "batch_size": cfg.sac.batch_size,
            "updates_per_step": cfg.updates_per_step,
            "random_steps": cfg.random_steps,
        }

    # ------------------------------------------------------------------------------------ checkpoints
    def checkpoint_tensors(self) -> dict[str, Tensor]:
        return flatten("sac", self.agent.state_dict()) | flatten("buffer", self.buffer.state_dict())

    def checkpoint_meta(self) -> dict[str, Any]:
        return {
            "version": 1,
            "kind": self.kind,
            "episode": self.episode,
            "env_steps": self.env_steps,
            "rows": self.rows,
            "wall": self.wall,
            "evals": self.evals,
            "act_rng": self.act_rng.bit_generator.state,
        }

    def restore(self, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
        self.agent.load_state_dict(unflatten("sac", tensors))
        self.buffer.load_state_dict(unflatten("buffer", tensors))
        self.act_rng.bit_generator.state = meta["act_rng"]
        self.episode = int(meta["episode"])
        self.env_steps = int(meta["env_steps"])
        self.rows = int(meta["rows"])
        self.wall = float(meta["wall"])
        self.evals = [(int(e[0]), int(e[1]), float(e[2]), float(e[3])) for e in meta["evals"]]

    def save_checkpoint(self) -> None:
        save_tensors(
            self.rundir.checkpoint_path, self.checkpoint_tensors(), CHECKPOINT_FORMAT, self.checkpoint_meta()
        )

    def load_checkpoint(self, path: Path) -> None:
        tensors, meta = load_tensors(path, CHECKPOINT_FORMAT)
        if meta.get("kind") != self.kind:
            raise DynadaptError(f"{path}: checkpoint of a {meta.get('kind')!r} run, not {self.kind!r}")
        try:
            self.restore(tensors, meta)
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise DynadaptError(f"{path}: checkpoint does not match this run ({e})") from None
        self.rundir.truncate_metrics(self.rows)


class MBPORun(SACRun):
    """One MBPO run of :class:`MBPORunConfig` in a run directory.

    The rollouts score transitions with :meth:`task_fns`: the task family's known reward and termination,
    or the dynamics model's learned heads (``model.learn_reward=true``, ``model.learn_termination=true``).
    """

    kind = "mbpo"

    def __init__(self, cfg: MBPORunConfig, rundir: RunDir, preset: str = "", progress: bool = True) -> None:
        super().__init__(cfg, rundir, preset, progress)
        self.cfg: MBPORunConfig = cfg
        self.model = DynamicsModel(
            self.family.obs_dim,
            self.family.act_dim,
            cfg.model,
            obs_preproc=self.family.obs_preproc,
            feature_dim=self.family.feature_dim,
            family=self.family.name,
            generator=torch.Generator().manual_seed(self.seeds["model"]),
        )
        self.rollout_gen = torch.Generator().manual_seed(self.seeds["rollout"])
        self.k = rollout_length(0, cfg.mbpo.rollout_schedule)
        self.pool = ModelPool(cfg.mbpo.pool_capacity(self.k), self.family.obs_dim, self.family.act_dim)
        self.last_fit: FitResult | None = None

    def policy(self, obs: Tensor) -> Tensor:
        """The current policy's sampled env actions for model rollouts: ``obs[N, O] -> act[N, A]``."""
        return self.agent.to_env(self.agent.sample(obs)[0])

    def task_fns(self, params: dict[str, Tensor]) -> tuple[RewardFn, RewardFn]:
        """Reward and termination of the model rollouts: the task family's known functions, or the model's
        learned heads bound to ``params`` (mean over the elites) with ``model.learn_reward`` /
        ``model.learn_termination``."""
        mc = self.cfg.model
        reward_fn = self.model.learned_reward_fn(params) if mc.learn_reward else self.reward_fn
        termination_fn = (
            self.model.learned_termination_fn(params) if mc.learn_termination else self.termination_fn
        )
        return reward_fn, termination_fn

    def before_step(self) -> dict[str, float]:
        cfg, m = self.cfg, self.cfg.mbpo
        since = self.env_steps - cfg.random_steps
        if since < 0 or since % m.model_train_freq != 0 or m.real_ratio >= 1.0 or len(self.buffer) == 0:
            return {}
        t0 = time.perf_counter()
        self.last_fit = self.model.fit(self.buffer)
        fit_s = time.perf_counter() - t0
        epoch = since // m.epoch_length
        self.k = rollout_length(epoch, m.rollout_schedule)
        self.pool.resize(m.pool_capacity(self.k))
        elites = self.model.elites
        params = {k: v.detach()[elites] for k, v in self.model.params.items()}
        t0 = time.perf_counter()
        obs0 = start_states(self.buffer, m.rollout_batch_size, self.rollout_gen)
        reward_fn, termination_fn = self.task_fns(params)
        data, stats = branched_rollout(
            self.policy,
            self.model.predict,
            params,
            obs0,
            self.k,
            reward_fn,
            termination_fn,
            self.rollout_gen,
        )
        self.pool.add(data)
        return self.last_fit.metrics() | {
            "mbpo/rollout_length": float(self.k),
            "mbpo/mean_rollout_steps": stats["mean_length"],
            "mbpo/nonfinite": stats["nonfinite"],
            "mbpo/model_buffer": float(len(self.pool)),
            "mbpo/model_reward": float(data["reward"].mean()),
            "time/fit_s": fit_s,
            "time/rollout_s": time.perf_counter() - t0,
        }

    def batch(self) -> dict[str, Tensor]:
        return mixed_batch(
            self.buffer, self.pool, self.cfg.sac.batch_size, self.cfg.mbpo.real_ratio, self.agent.generator
        )

    def finish(self) -> dict[str, Any]:
        self.model.save(self.rundir.checkpoints / "model_final.safetensors")
        return super().finish()

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        out["final_model_val_loss"] = self.last_fit.val_loss if self.last_fit else math.nan
        return out

    def settings(self) -> dict[str, Any]:
        cfg = self.cfg
        return super().settings() | {
            "ensemble_size": cfg.model.ensemble_size,
            "num_elites": cfg.model.num_elites or cfg.model.ensemble_size,
            "model_hidden": list(cfg.model.hidden),
            "rollout_schedule": list(cfg.mbpo.rollout_schedule),
            "rollout_batch_size": cfg.mbpo.rollout_batch_size,
            "model_train_freq": cfg.mbpo.model_train_freq,
            "real_ratio": cfg.mbpo.real_ratio,
        }

    def checkpoint_tensors(self) -> dict[str, Tensor]:
        out = super().checkpoint_tensors()
        out |= flatten("model", self.model.state_dict())
        out |= flatten("pool", self.pool.state_dict())
        out["rng.model"] = self.model.generator.get_state()
        out["rng.rollout"] = self.rollout_gen.get_state()
        return out

    def checkpoint_meta(self) -> dict[str, Any]:
        return super().checkpoint_meta() | {
            "k": self.k,
            "last_fit": None if self.last_fit is None else vars(self.last_fit),
        }

    def restore(self, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
        super().restore(tensors, meta)
        self.model.load_state_dict(unflatten("model", tensors))
        self.pool.load_state_dict(unflatten("pool", tensors))
        self.model.generator.set_state(tensors["rng.model"])
        self.rollout_gen.set_state(tensors["rng.rollout"])
        self.k = int(meta["k"])
        self.last_fit = None if meta["last_fit"] is None else FitResult(**meta["last_fit"])


def plot_policy(rundir: RunDir) -> list[Path]:
    """The learning curve, and SAC/MBPO diagnostics against env steps (``plots/diagnostics.png``)."""
    import matplotlib.pyplot as plt

    from dynadapt.runs.plots import plot_learning_curve

    out = [plot_learning_curve(rundir)]
    rows = rundir.read_metrics()
    panels: list[tuple[str, str]] = [
        ("sac/alpha", "temperature α"),
        ("sac/entropy", "policy entropy"),
        ("sac/critic_loss", "critic loss"),
        ("sac/q", "mean Q"),
    ]
    if any("model/val_loss" in r for r in rows):
        panels += [("model/val_loss", "model held-out MSE"), ("mbpo/rollout_length", "rollout length k")]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3), dpi=110)
    for ax, (key, title) in zip(np.atleast_1d(axes), panels):
        pts = [(r["train/env_steps"], r[key]) for r in rows if isinstance(r.get(key), int | float)]
        if pts:
            ax.plot(*zip(*pts), ".-", lw=1)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("env steps", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = rundir.plots / "diagnostics.png"
    fig.savefig(path)
    plt.close(fig)
    out.append(path)
    return out


register_kind("sac", SACRunConfig, SACRun)
register_kind("mbpo", MBPORunConfig, MBPORun)
