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
import time
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import torch
from torch import Tensor

from dynadapt.envs import set_task
from dynadapt.meta.base import MetaFitResult
from dynadapt.meta.grbal import GrBAL, GrBALConfig
from dynadapt.models.dynamics import DynamicsModel, ModelConfig
from dynadapt.policy.adaptive import adapted_params, window_starts
from dynadapt.policy.mbpo import MBPOConfig, ModelPool, branched_rollout, mixed_batch, rollout_length
from dynadapt.policy.sac import SACConfig
from dynadapt.runs.checkpoint import Stateful
from dynadapt.runs.policy.base import EvaluatedPolicyRun, Means, check_policy_settings
from dynadapt.runs.policy.mbpo import mbpo_settings
from dynadapt.runs.settings import Evaluation, Perturbations, RunConfig, check


@dataclass
class MBPOMetaConfig(RunConfig):
    """MBPO across perturbations with GrBAL's meta-trained model; rollouts use θ' adapted per start state."""

    task: Perturbations = field(default_factory=Perturbations)
    """Training perturbations (one per episode) and held-out ones (evaluation; empty: the training ones)."""
    episodes: int = 50
    """Training episodes in total."""
    random_steps: int = 5000
    """Initial env steps with uniformly random actions; the model is first meta-trained after them."""
    updates_per_step: int = 20
    """SAC gradient steps per env step (G)."""
    eval: Evaluation = field(default_factory=Evaluation)
    """Deterministic evaluation every eval.every episodes and after the last (0: only at the end)."""
    buffer_capacity: int = 1_000_000
    """Real replay buffer size."""
    target_return: float | None = None
    """Report the env steps at which the mean evaluation return first reaches this (None: not reported)."""
    stop_at_target: bool = False
    """End the run at the first evaluation that reaches target_return."""
    sac: SACConfig = field(default_factory=SACConfig)
    """Soft actor-critic settings."""
    model: ModelConfig = field(
        default_factory=lambda: ModelConfig(
            ensemble_size=1, hidden=(64, 64), activation="relu", head="deterministic"
        )
    )
    """Dynamics model (GrBAL: one deterministic MLP, MSE on the normalised Δ; ensemble_size must be 1)."""
    grbal: GrBALConfig = field(default_factory=GrBALConfig)
    """GrBAL settings (M: the window each rollout's θ' is adapted on)."""
    mbpo: MBPOConfig = field(default_factory=MBPOConfig)
    """Model rollout settings."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_policy_settings(self)
        family = self.task.family
        check(
            (not self.stop_at_target or self.target_return is not None, "stop_at_target needs target_return"),
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


class MBPOMetaRun(EvaluatedPolicyRun):
    kind = "mbpo-meta"
    cfg: MBPOMetaConfig
    state_fields = ("episode", "env_steps", "evals", "k", "meta_fit")

    def build(self) -> None:
        cfg, task = self.cfg, self.cfg.task
        family = task.family
        env = family.make()
        self.build_policy(family, gym.wrappers.TimeLimit(env, task.steps) if task.episode_steps else env)
        self.model = DynamicsModel.for_family(family, cfg.model, self.seeds.torch("model"))
        self.learner = GrBAL(self.model, cfg.grbal, self.model.generator)
        self.rollout_gen = self.seeds.torch("rollout")
        self.k = rollout_length(0, cfg.mbpo.rollout_schedule)
        """The current rollout length."""
        self.pool = ModelPool(cfg.mbpo.pool_capacity(self.k), family.obs_dim, family.act_dim)
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
        obs, _ = self.env.reset(seed=self.env_seed + self.episode)
        ret, t, done, logged = 0.0, 0, False, Means()
        while not done:
            if self.rollouts_due():
                logged.add(self.meta_train_and_roll_out())
            act = self.random_action() if self.warmup() else self.sac.act(obs).numpy()
            obs, reward, done = self.env_step(obs, act, t)
            ret, t = ret + reward, t + 1
            if not self.warmup():
                logged.add(*self.sac_updates(self.mixed_batch))
        self.episode += 1
        played = {f"task/{k}": float(v) for k, v in perturbation.items() if isinstance(v, int | float)}
        return self.episode_row(ret, t) | logged.result() | played | self.evaluation()

    def rollouts_due(self) -> bool:
        """Every model_train_freq env steps from the end of the random phase (never without model data)."""
        m, since = self.cfg.mbpo, self.env_steps - self.cfg.random_steps
        return since >= 0 and since % m.model_train_freq == 0 and m.real_ratio < 1.0 and len(self.buffer) > 0

    def meta_train_and_roll_out(self) -> dict[str, float]:
        """Meta-train GrBAL, set k and the model buffer's size, add rollouts in per-start adapted models."""
        m, since = self.cfg.mbpo, self.env_steps - self.cfg.random_steps
        fit_s = time.perf_counter()
        fit = self.learner.fit(self.buffer)
        self.meta_fit = vars(fit)
        fit_s = time.perf_counter() - fit_s
        self.k = rollout_length(since // m.epoch_length, m.rollout_schedule)
        self.pool.resize(m.pool_capacity(self.k))
        rollout_s = time.perf_counter()
        data = self.buffer.all()
        starts = window_starts(data["episode"], data["t"], self.learner.M)
        if starts.numel() == 0:  # no real state has M transitions of its episode before it yet
            return fit.metrics()
        pick = starts[torch.randint(0, starts.numel(), (m.rollout_batch_size,), generator=self.rollout_gen)]
        obs0, params = adapted_params(self.learner, data, pick)
        out, stats = branched_rollout(
            self.policy,
            self.model.predict,
            params,
            obs0,
            self.k,
            self.family.reward_fn,
            self.family.termination_fn,
            self.rollout_gen,
            per_row=True,
        )
        self.pool.add(out)
        return fit.metrics() | {
            "mbpo/rollout_length": float(self.k),
            "mbpo/mean_rollout_steps": stats["mean_length"],
            "mbpo/nonfinite": stats["nonfinite"],
            "mbpo/model_reward": float(out["reward"].mean()),
            "time/fit_s": fit_s,
            "time/rollout_s": time.perf_counter() - rollout_s,
        }

    def policy(self, obs: Tensor) -> Tensor:
        """The current policy's sampled env actions for model rollouts: ``obs[N, O] -> act[N, A]``."""
        return self.sac.to_env(self.sac.sample(obs)[0])

    def mixed_batch(self) -> dict[str, Tensor]:
        m = self.cfg.mbpo
        return mixed_batch(self.buffer, self.pool, self.cfg.sac.batch_size, m.real_ratio, self.sac.generator)

    def eval_episode(self, k: int, seed: int) -> float:
        """Evaluation episode k plays held-out perturbation k mod n."""
        set_task(self.env, **self.test_pool[k % len(self.test_pool)])
        return self.deterministic_return(self.env, seed)

    # --------------------------------------------------------------------------------------- outputs
    def save_outputs(self) -> None:
        self.model.save(self.rundir.checkpoints / "model_final.safetensors")
        super().save_outputs()

    def summary(self) -> dict[str, Any]:
        cfg = self.cfg
        fit = MetaFitResult(**self.meta_fit) if self.meta_fit else None
        return {
            "kind": self.kind,
            "preset": self.preset,
            "env": cfg.task.env,
            "env_params": self.family.validate({}),
            "seed": cfg.seed,
            "episodes": self.episode,
            "env_steps": self.env_steps,
            "gradient_steps": self.sac.updates,
            **self.eval_results(),
            "final_model_val_loss": fit.val_loss if fit else math.nan,
            "final_model_val_pre_loss": fit.val_pre_loss if fit else math.nan,
            "policy_context": "none (the GrBAL-adapted models only shape the rollouts)",
            "train_tasks": self.train_pool,
            "train_ranges": cfg.task.train_ranges,
            "test_tasks": self.test_pool,
            "settings": self.settings()
            | mbpo_settings(cfg.model, cfg.mbpo)
            | {"M": cfg.grbal.M, "K": cfg.grbal.K},
        }
