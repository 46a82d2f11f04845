"""What the SAC-based kinds (``sac``, ``mbpo``, ``mbpo-continual``, ``mbpo-meta``) share.

:class:`PolicyRun` holds SAC, its real replay buffer and the env, and plays one training episode the same
way for every kind (:meth:`PolicyRun.train_episode`)::

    for each env step:
        [the kind's model phase: refit the model and roll it out when due (see :mod:`.rollouts`)]
        act: uniformly random during the random phase, then a ~ π(·|s) (s with the task input, if any)
        store the transition in the real buffer
        after the random phase: G SAC updates, each on a fresh minibatch (the kind's)

It also writes the summary (the kind supplies what it played, its results and settings) and the progress
line. :class:`Means` averages the metrics logged many times per episode (one per SAC update or rollout
phase). The periodic evaluation of the kinds that have one is :mod:`.evaluation`'s, the model phase of the
MBPO kinds :mod:`.rollouts`'.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.envs import TaskFamily, action_bounds
from dynadapt.errors import DynadaptError
from dynadapt.policy.sac import SAC
from dynadapt.runs.policy.plots import plot_policy
from dynadapt.runs.policy.settings import PolicySettings
from dynadapt.runs.run import Run
from dynadapt.runs.rundir import RunDir
from dynadapt.types import ObsPreproc

CONSOLE = (
    ("train/return", "return {:9.2f}"),
    ("train/env_steps", "steps {:>7}"),
    ("sac/alpha", "alpha {:.3f}"),
    ("model/val_loss", "model val {:.4g}"),
    ("mbpo/rollout_length", "k {:.0f}"),
)
"""The parts of the progress line after the episode: (metric, format), where the row has the metric."""


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

    # ------------------------------------------------------------------------------ one training episode
    def train_episode(self) -> dict[str, Any]:
        """One training episode (the module docstring's loop); its row: counts, return, mean metrics."""
        obs, _ = self.env.reset(seed=self.env_seed + self.episode)
        ret, t, done, logged = 0.0, 0, False, Means()
        while not done:
            logged.add(*self.model_phase())
            act = self.random_action() if self.warmup() else self.sac.act(self.policy_input(obs)).numpy()
            obs, reward, done = self.env_step(obs, act, t)
            ret, t = ret + reward, t + 1
            if not self.warmup():
                logged.add(*[self.sac.update(self.sac_batch()) for _ in range(self.cfg.updates_per_step)])
        self.episode += 1
        counts = {"episode": self.episode, "train/env_steps": self.env_steps}
        return counts | {"train/return": ret, "train/length": t} | logged.result()

    def model_phase(self) -> list[dict[str, float]]:
        """The metrics of the model work due before this env step (none: SAC is model-free)."""
        return []

    def phase_start(self) -> int:
        """Env steps at the start of the current random phase (0: the run's start)."""
        return 0

    def since_warmup(self) -> int:
        """Env steps since the end of the random phase (negative during it)."""
        return self.env_steps - self.phase_start() - self.cfg.random_steps

    def warmup(self) -> bool:
        """Whether the run is in its random phase (the first ``random_steps`` env steps): random actions
        and no gradient steps."""
        return self.since_warmup() < 0

    def random_action(self) -> np.ndarray:
        return self.act_rng.uniform(self.low, self.high).astype(np.float32)

    def policy_input(self, obs: np.ndarray) -> np.ndarray:
        """The policy's input for an env observation (the observation itself: no task input)."""
        return obs

    def env_step(self, obs: np.ndarray, act: np.ndarray, t: int) -> tuple[np.ndarray, float, bool]:
        """Execute ``act`` at step ``t`` of the episode and store the transition in the real buffer;
        returns (next observation, reward, whether the episode ended)."""
        next_obs, reward, terminated, truncated, _ = self.env.step(act)
        if not np.all(np.isfinite(next_obs)):
            raise DynadaptError(f"the env returned a non-finite observation at step {t}")
        self.buffer.add(obs, act, next_obs, float(reward), terminated, truncated, episode=self.episode, t=t)
        self.env_steps += 1
        return next_obs, float(reward), bool(terminated or truncated)

    def sac_batch(self) -> dict[str, Tensor]:
        """The minibatch of one SAC update (here: real transitions)."""
        return self.buffer.sample(self.cfg.sac.batch_size, self.sac.generator)

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

    def summary(self) -> dict[str, Any]:
        """Kind, preset, what was played, seed, counts, the kind's results and its settings."""
        counts = {"episodes": self.episode, "env_steps": self.env_steps, "gradient_steps": self.sac.updates}
        head = {"kind": self.kind, "preset": self.preset, **self.played(), "seed": self.cfg.seed}
        return head | counts | self.results() | {"settings": self.settings()}

    def played(self) -> dict[str, Any]:
        """What the run played (summary keys before the seed)."""
        raise NotImplementedError

    def results(self) -> dict[str, Any]:
        """The kind's results in the summary (after the counts)."""
        return {}

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
        parts = [f"ep {row['episode']:>3}/{self.total_episodes()}"]
        parts += [fmt.format(row[key]) for key, fmt in CONSOLE if key in row]
        if "eval/return" in row:
            parts.append(f"eval {row['eval/return']:.2f} ± {row['eval/return_std']:.2f}")
        return " | ".join([*parts, f"{row['time/wall_s']:.0f}s"])

    def save_outputs(self) -> None:
        self.sac.save(self.rundir.checkpoints / "policy_final.safetensors")
