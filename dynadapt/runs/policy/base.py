"""What the SAC-based kinds (``sac``, ``mbpo``, ``mbpo-continual``, ``mbpo-meta``) share.

:class:`PolicyRun` holds SAC, its real replay buffer and the env, and supplies the pieces each kind's
``step`` is written with: a uniformly random warm-up action, one env step stored in the real buffer, G SAC
updates, a deterministic evaluation episode, the SAC settings of the summary and the progress line.
:class:`Means` averages the metrics logged many times per episode (one per SAC update or rollout phase).
:class:`EvaluatedPolicyRun` adds the periodic evaluation of the kinds that have one (``sac``, ``mbpo``,
``mbpo-meta``; ``mbpo-continual`` evaluates every seen task at each task's end instead).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.envs import TaskFamily, action_bounds
from dynadapt.errors import DynadaptError
from dynadapt.policy.sac import SAC, SACConfig
from dynadapt.runs.policy.plots import plot_policy
from dynadapt.runs.run import Run
from dynadapt.runs.rundir import RunDir
from dynadapt.runs.settings import Evaluation, check
from dynadapt.types import ObsPreproc


class PolicySettings(Protocol):
    """The fields of a SAC-based kind's config that :class:`PolicyRun` reads (each config declares them)."""

    episodes: int
    random_steps: int
    updates_per_step: int
    buffer_capacity: int
    sac: SACConfig


def check_policy_settings(cfg: PolicySettings) -> None:
    check(
        (cfg.episodes >= 1, "episodes must be >= 1"),
        (cfg.random_steps >= 0, "random_steps must be >= 0"),
        (cfg.updates_per_step >= 0, "updates_per_step must be >= 0"),
        (cfg.buffer_capacity >= 1, "buffer_capacity must be >= 1"),
    )


def context_features(obs_preproc: ObsPreproc, obs_dim: int) -> ObsPreproc:
    """``[s, c][..., O + C] -> [obs_preproc(s), c]``: the observation's features, then the context."""

    def features(x: Tensor) -> Tensor:
        return torch.cat([obs_preproc(x[..., :obs_dim]), x[..., obs_dim:]], dim=-1)

    return features


class Means:
    """Means of metrics logged several times per episode."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, *logged: dict[str, float]) -> None:
        for metrics in logged:
            for k, v in metrics.items():
                self.sums[k] = self.sums.get(k, 0.0) + v
                self.counts[k] = self.counts.get(k, 0) + 1

    def result(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] for k in self.sums}


class PolicyRun(Run[Any]):
    """SAC, its real replay buffer and the env (the kind's :meth:`build` calls :meth:`build_policy`)."""

    cfg: PolicySettings
    plots: ClassVar[Callable[[RunDir], list[Path]]] = staticmethod(plot_policy)

    def build_policy(self, family: TaskFamily, env: gym.Env, context_dim: int = 0) -> None:
        """The env, SAC (its policy and critics read the family's features of the observation, and a task
        context of ``context_dim`` numbers appended to the observation), the real buffer, the warm-up
        actions' random stream, the env seeds and the counters at zero."""
        cfg = self.cfg
        self.family, self.env = family, env
        self.low, self.high = action_bounds(env)
        preproc = context_features(family.obs_preproc, family.obs_dim) if context_dim else family.obs_preproc
        self.sac = SAC(
            family.obs_dim + context_dim,
            family.act_dim,
            self.low,
            self.high,
            cfg.sac,
            obs_preproc=preproc,
            feature_dim=family.feature_dim + context_dim,
            generator=self.seeds.torch("sac"),
        )
        self.buffer = ReplayBuffer(cfg.buffer_capacity, family.obs_dim, family.act_dim)
        self.act_rng = self.seeds.numpy("act")
        self.env_seed = self.seeds.int("env")
        self.episode = 0
        self.env_steps = 0

    # ------------------------------------------------------------------------------------ pieces
    def warmup(self) -> bool:
        """Whether the run is in its random phase (the first ``random_steps`` env steps): random actions
        and no gradient steps."""
        return self.env_steps < self.cfg.random_steps

    def random_action(self) -> np.ndarray:
        return self.act_rng.uniform(self.low, self.high).astype(np.float32)

    def env_step(self, obs: np.ndarray, act: np.ndarray, t: int) -> tuple[np.ndarray, float, bool]:
        """Execute ``act`` at step ``t`` of the episode and store the transition in the real buffer;
        returns (next observation, reward, whether the episode ended)."""
        next_obs, reward, terminated, truncated, _ = self.env.step(act)
        if not np.all(np.isfinite(next_obs)):
            raise DynadaptError(f"the env returned a non-finite observation at step {t}")
        self.buffer.add(obs, act, next_obs, float(reward), terminated, truncated, episode=self.episode, t=t)
        self.env_steps += 1
        return next_obs, float(reward), bool(terminated or truncated)

    def sac_updates(self, batch: Callable[[], dict[str, Tensor]]) -> list[dict[str, float]]:
        """``updates_per_step`` SAC gradient steps, each on a fresh minibatch; their metrics."""
        return [self.sac.update(batch()) for _ in range(self.cfg.updates_per_step)]

    def episode_row(self, ret: float, length: int) -> dict[str, Any]:
        """The metrics row of the training episode just played (return ``ret``, ``length`` steps)."""
        return {
            "episode": self.episode,
            "train/env_steps": self.env_steps,
            "train/return": ret,
            "train/length": length,
        }

    @torch.no_grad()
    def deterministic_return(self, env: gym.Env, seed: int, context: np.ndarray | None = None) -> float:
        """The return of one episode with ``a = tanh(μ)`` (the policy given ``context``; no data kept)."""
        obs, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            x = obs if context is None else np.concatenate([obs, context]).astype(np.float32)
            obs, reward, terminated, truncated, _ = env.step(self.sac.act(x, deterministic=True).numpy())
            total += float(reward)
            done = terminated or truncated
        return total

    # --------------------------------------------------------------------------------------- outputs
    def total_episodes(self) -> int:
        return self.cfg.episodes

    def settings(self) -> dict[str, Any]:
        """The settings reported in the summary."""
        cfg = self.cfg
        return {
            "hidden": list(cfg.sac.hidden),
            "batch_size": cfg.sac.batch_size,
            "updates_per_step": cfg.updates_per_step,
            "random_steps": cfg.random_steps,
        }

    def console(self, row: dict[str, Any]) -> str:
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
        return " | ".join([*parts, f"{row['time/wall_s']:.0f}s"])

    def save_outputs(self) -> None:
        self.sac.save(self.rundir.checkpoints / "policy_final.safetensors")


# ------------------------------------------------------------------------------- periodic evaluation
class EvaluatedSettings(PolicySettings, Protocol):
    """The fields of a kind evaluated every ``eval.every`` episodes (sac, mbpo, mbpo-meta)."""

    eval: Evaluation
    target_return: float | None
    stop_at_target: bool


class EvaluatedPolicyRun(PolicyRun):
    """A SAC-based kind evaluated every ``eval.every`` episodes and after the last; its evaluation record
    ``evals`` holds ``(episode, env_steps, mean, std)`` of every evaluation."""

    cfg: EvaluatedSettings

    def build_policy(self, family: TaskFamily, env: gym.Env, context_dim: int = 0) -> None:
        super().build_policy(family, env, context_dim)
        self.evals: list[tuple[int, int, float, float]] = []

    def done(self) -> bool:
        cfg = self.cfg
        return self.episode >= cfg.episodes or (cfg.stop_at_target and self.reached() is not None)

    def evaluation(self) -> dict[str, float]:
        """When due, ``eval.episodes`` deterministic episodes (recorded in ``evals``); their metrics."""
        cfg, episode = self.cfg, self.episode
        if cfg.eval.episodes == 0:
            return {}
        if not (episode == cfg.episodes or (cfg.eval.every > 0 and episode % cfg.eval.every == 0)):
            return {}
        seed = self.env_seed + 1_000_000 + 1000 * episode
        returns = [self.eval_episode(k, seed + k) for k in range(cfg.eval.episodes)]
        mean, std = float(np.mean(returns)), float(np.std(returns))
        self.evals.append((episode, self.env_steps, mean, std))
        return {"eval/return": mean, "eval/return_std": std}

    def eval_episode(self, k: int, seed: int) -> float:
        """The return of evaluation episode ``k`` (reset with ``seed``)."""
        return self.deterministic_return(self.env, seed)

    def reached(self) -> int | None:
        """Env steps at the first evaluation whose mean reached ``target_return`` (None: not reached)."""
        target = self.cfg.target_return
        if target is None:
            return None
        return next((steps for _, steps, mean, _ in self.evals if mean >= target), None)

    def eval_results(self) -> dict[str, Any]:
        """The evaluation part of the summary."""
        final = self.evals[-1] if self.evals else (0, 0, math.nan, math.nan)
        return {
            "final_eval_return": final[2],
            "final_eval_return_std": final[3],
            "best_eval_return": max((m for _, _, m, _ in self.evals), default=math.nan),
            "target_return": self.cfg.target_return,
            "env_steps_to_target": self.reached(),
            "eval": [
                {"episode": ep, "env_steps": st, "return": m, "return_std": s} for ep, st, m, s in self.evals
            ],
        }
