"""Kind ``mbpo-meta``: MBPO across perturbations whose rollouts use GrBAL's adapted models (Nagabandi,
Clavera et al. 2019, inside Janner et al. 2019).

::

    for each episode: play a perturbation sampled from the training tasks (and `task.train_ranges`)
        for each env step:
            every `mbpo.model_train_freq` env steps from the end of the random phase:
                GrBAL meta-trains θ* and ψ on M + K segments of all real data (GrBAL.fit)
                k ← schedule(epoch); resize the model buffer to `mbpo.retain_epochs` epochs of rollouts
                start states: obs of real transitions at step t >= M of their episode, each with θ'_t
                    adapted on the M real transitions before it in the same episode
                k-step branched rollouts of π, each in its start state's own θ' (per row)
            act: uniformly random for the first `random_steps` env steps, then a ~ π(·|s)
            store the transition in the real buffer
            after the random phase: G SAC updates on real_ratio real + (1 − real_ratio) model transitions
        every `eval.every` episodes: `eval.episodes` deterministic episodes on the held-out perturbations
            (evaluation episode k plays held-out task k mod n)

The policy receives **no context**: the adapted models only shape its training data (a policy robust
across the perturbations, trained on rollouts that each follow their own episode's dynamics rather than
the average θ*). The perturbation does not change within an episode (``task.switch_at`` must be 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import gymnasium as gym
import torch
from torch import Tensor

from dynadapt.envs import Task, set_task
from dynadapt.meta.base import MetaFitResult
from dynadapt.meta.grbal import GrBAL, GrBALConfig
from dynadapt.policy.adaptive import adapted_params, window_starts
from dynadapt.runs.checkpoint import Stateful
from dynadapt.runs.policy.evaluation import EvaluatedPolicyRun
from dynadapt.runs.policy.rollouts import RolloutRun
from dynadapt.runs.policy.settings import EvaluatedSettings, ModelSettings
from dynadapt.runs.settings import Perturbations, check
from dynadapt.types import Params


@dataclass
class MBPOMetaConfig(EvaluatedSettings, ModelSettings):
    """MBPO across perturbations with GrBAL's meta-trained model; rollouts use θ' adapted per start state."""

    task: Perturbations = field(default_factory=Perturbations)
    """Training perturbations (one per episode) and held-out ones (evaluation; empty: the training ones)."""
    grbal: GrBALConfig = field(default_factory=GrBALConfig)
    """GrBAL settings (M: the window each rollout's θ' is adapted on)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        family = self.task.family
        check(
            (
                self.model.ensemble_size == 1,
                "mbpo-meta meta-trains a single model: set model.ensemble_size=1",
            ),
            (
                self.task.switch_at == 0,
                "mbpo-meta plays one perturbation per episode: task.switch_at must be 0",
            ),
            (
                family.reward_factory is None and family.termination_factory is None,
                f"mbpo-meta needs a reward and termination independent of the perturbation ({self.task.env})",
            ),
        )


class MBPOMetaRun(RolloutRun, EvaluatedPolicyRun):
    kind = "mbpo-meta"
    cfg: MBPOMetaConfig
    state_fields = ("episode", "env_steps", "evals", "k", "meta_fit")
    unreported: ClassVar[tuple[str, ...]] = ("model_buffer",)
    per_row: ClassVar[bool] = True

    def build(self) -> None:
        cfg, task = self.cfg, self.cfg.task
        family = task.family
        env = family.make()
        self.build_policy(family, gym.wrappers.TimeLimit(env, task.steps) if task.episode_steps else env)
        self.reward_fn, self.termination_fn = family.reward_fn, family.termination_fn
        self.build_model(family)
        self.learner = GrBAL(self.model, cfg.grbal, self.model.generator)
        self.train_pool = task.train_pool()
        self.test_pool = task.test_pool() or self.train_pool
        self.task_rng = self.seeds.numpy("task")
        self.meta_fit: dict[str, Any] | None = None
        """The last meta-training fit (MetaFitResult fields)."""

    def components(self) -> dict[str, Stateful]:
        return {n: getattr(self, n) for n in ("sac", "buffer", "model", "pool", "learner")}

    # ------------------------------------------------------------------------------------------ one step
    def step(self) -> dict[str, Any]:
        perturbation = self.cfg.task.sample_train(self.train_pool, self.task_rng)
        set_task(self.env, **perturbation)
        row = self.train_episode()
        played = {f"task/{k}": float(v) for k, v in perturbation.items() if isinstance(v, int | float)}
        return row | played | self.evaluation()

    def fit_model(self) -> dict[str, float]:
        """GrBAL meta-trains θ* and ψ on M + K segments of all real data."""
        fit = self.learner.fit(self.buffer)
        self.meta_fit = vars(fit)
        return fit.metrics()

    def rollout_starts(self) -> tuple[Tensor, Params] | None:
        """Obs of real transitions at step t >= M of their episode, each with θ'_t adapted on the M real
        transitions before it in the same episode (None: no real state has M transitions before it yet)."""
        data = self.buffer.all()
        starts = window_starts(data["episode"], data["t"], self.learner.M)
        if starts.numel() == 0:
            return None
        n = self.cfg.mbpo.rollout_batch_size
        pick = starts[torch.randint(0, starts.numel(), (n,), generator=self.rollout_gen)]
        return adapted_params(self.learner, data, pick)

    def eval_episode(self, k: int, seed: int) -> float:
        """Evaluation episode k plays held-out perturbation k mod n."""
        set_task(self.env, **self.test_pool[k % len(self.test_pool)])
        return self.deterministic_return(self.env, seed)

    def watch_tasks(self) -> list[str]:
        return [Task.create(self.family.name, p).label for p in self.test_pool] if self.episode else []

    # --------------------------------------------------------------------------------------- outputs
    def played(self) -> dict[str, Any]:
        return {"env": self.cfg.task.env, "env_params": self.family.validate({})}

    def results(self) -> dict[str, Any]:
        fit = MetaFitResult(**self.meta_fit) if self.meta_fit else None
        return super().results() | {
            "final_model_val_loss": fit.val_loss if fit else math.nan,
            "final_model_val_pre_loss": fit.val_pre_loss if fit else math.nan,
            "policy_context": "none (the GrBAL-adapted models only shape the rollouts)",
            "train_tasks": self.train_pool,
            "train_ranges": self.cfg.task.train_ranges,
            "test_tasks": self.test_pool,
        }

    def settings(self) -> dict[str, Any]:
        return super().settings() | {"M": self.cfg.grbal.M, "K": self.cfg.grbal.K}
