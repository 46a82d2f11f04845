"""Kind ``mbpo``: model-based policy optimisation (Janner et al. 2019, Alg. 2), SAC trained mostly on short
branched rollouts of a learned ensemble.

::

    for each episode:
        for each env step:
            every `mbpo.model_train_freq` env steps from the end of the random phase:
                fit the ensemble on all real data (early stopping, elites)
                k ← schedule(epoch); resize the model buffer to `mbpo.retain_epochs` epochs of rollouts
                k-step branched rollouts of π in the elites from `mbpo.rollout_batch_size` real states
            act: uniformly random for the first `random_steps` env steps, then a ~ π(·|s)
            store the transition in the real buffer
            after the random phase: G SAC updates on real_ratio real + (1 − real_ratio) model transitions
        every `eval.every` episodes: `eval.episodes` deterministic episodes (a = tanh(μ), no data kept)

The rollouts score transitions with the task's reward and termination, or with the model's learned heads
(``model.learn_reward``, ``model.learn_termination``). One step of the run skeleton is one training
episode (and its evaluation when due).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from dynadapt.models.dynamics import DynamicsModel, FitResult, ModelConfig
from dynadapt.policy.mbpo import (
    MBPOConfig,
    ModelPool,
    branched_rollout,
    mixed_batch,
    rollout_length,
    start_states,
)
from dynadapt.policy.sac import SACConfig
from dynadapt.runs.checkpoint import Stateful
from dynadapt.runs.policy.base import EvaluatedPolicyRun, Means, check_policy_settings
from dynadapt.runs.settings import Evaluation, OneTask, RunConfig, check
from dynadapt.types import Params, RewardFn, TerminationFn


def mbpo_settings(model: ModelConfig, mbpo: MBPOConfig) -> dict[str, Any]:
    """The model and rollout settings reported in the summary of every MBPO kind."""
    return {
        "ensemble_size": model.ensemble_size,
        "num_elites": model.num_elites or model.ensemble_size,
        "model_hidden": list(model.hidden),
        "rollout_schedule": list(mbpo.rollout_schedule),
        "rollout_batch_size": mbpo.rollout_batch_size,
        "model_train_freq": mbpo.model_train_freq,
        "real_ratio": mbpo.real_ratio,
    }


@dataclass
class MBPORunConfig(RunConfig):
    """MBPO (Janner et al. 2019): SAC trained mostly on short branched rollouts of a learned ensemble."""

    task: OneTask = field(default_factory=OneTask)
    """The task played."""
    episodes: int = 50
    """Training episodes in total."""
    random_steps: int = 5000
    """Initial env steps with uniformly random actions (MBPO: 5000); the model is first fit after them."""
    updates_per_step: int = 20
    """SAC gradient steps per env step (G; MBPO: 20, HalfCheetah 40)."""
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
            ensemble_size=7, num_elites=5, hidden=(200, 200, 200, 200), batch_size=256, max_epochs=1000
        )
    )
    """Dynamics model (MBPO: 7 members, 5 elites, 4x200 swish, Gaussian, batch 256)."""
    mbpo: MBPOConfig = field(default_factory=MBPOConfig)
    """Model rollout settings."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_policy_settings(self)
        check(
            (not self.stop_at_target or self.target_return is not None, "stop_at_target needs target_return")
        )


class MBPORun(EvaluatedPolicyRun):
    kind = "mbpo"
    cfg: MBPORunConfig
    state_fields = ("episode", "env_steps", "evals", "k", "fit")

    def build(self) -> None:
        cfg, task = self.cfg, self.cfg.task
        family = task.family
        self.build_policy(family, task.make())
        self.reward_fn = family.reward_fn_for(**task.env_params)
        self.termination_fn = family.termination_fn_for(**task.env_params)
        self.model = DynamicsModel.for_family(family, cfg.model, self.seeds.torch("model"))
        self.rollout_gen = self.seeds.torch("rollout")
        self.k = rollout_length(0, cfg.mbpo.rollout_schedule)
        """The current rollout length."""
        self.pool = ModelPool(cfg.mbpo.pool_capacity(self.k), family.obs_dim, family.act_dim)
        self.fit: dict[str, Any] | None = None
        """The last model fit (FitResult fields)."""

    def components(self) -> dict[str, Stateful]:
        return {"sac": self.sac, "buffer": self.buffer, "model": self.model, "pool": self.pool}

    # ------------------------------------------------------------------------------------------ one step
    def step(self) -> dict[str, Any]:
        obs, _ = self.env.reset(seed=self.env_seed + self.episode)
        ret, t, done, logged = 0.0, 0, False, Means()
        while not done:
            if self.rollouts_due():
                logged.add(self.fit_and_roll_out())
            act = self.random_action() if self.warmup() else self.sac.act(obs).numpy()
            obs, reward, done = self.env_step(obs, act, t)
            ret, t = ret + reward, t + 1
            if not self.warmup():
                logged.add(*self.sac_updates(self.mixed_batch))
        self.episode += 1
        return self.episode_row(ret, t) | logged.result() | self.evaluation()

    def rollouts_due(self) -> bool:
        """Every model_train_freq env steps from the end of the random phase (never without model data)."""
        m, since = self.cfg.mbpo, self.env_steps - self.cfg.random_steps
        return since >= 0 and since % m.model_train_freq == 0 and m.real_ratio < 1.0 and len(self.buffer) > 0

    def fit_and_roll_out(self) -> dict[str, float]:
        """Fit the ensemble, set k and the model buffer's size, add branched rollouts from real states."""
        m, since = self.cfg.mbpo, self.env_steps - self.cfg.random_steps
        fit_s = time.perf_counter()
        self.fit = vars(self.model.fit(self.buffer))
        fit_s = time.perf_counter() - fit_s
        self.k = rollout_length(since // m.epoch_length, m.rollout_schedule)
        self.pool.resize(m.pool_capacity(self.k))
        rollout_s = time.perf_counter()
        params = {name: v.detach()[self.model.elites] for name, v in self.model.params.items()}
        obs0 = start_states(self.buffer, m.rollout_batch_size, self.rollout_gen)
        reward_fn, termination_fn = self.task_fns(params)
        data, stats = branched_rollout(
            self.policy, self.model.predict, params, obs0, self.k, reward_fn, termination_fn, self.rollout_gen
        )
        self.pool.add(data)
        return FitResult(**self.fit).metrics() | {
            "mbpo/rollout_length": float(self.k),
            "mbpo/mean_rollout_steps": stats["mean_length"],
            "mbpo/nonfinite": stats["nonfinite"],
            "mbpo/model_buffer": float(len(self.pool)),
            "mbpo/model_reward": float(data["reward"].mean()),
            "time/fit_s": fit_s,
            "time/rollout_s": time.perf_counter() - rollout_s,
        }

    def policy(self, obs: Tensor) -> Tensor:
        """The current policy's sampled env actions for model rollouts: ``obs[N, O] -> act[N, A]``."""
        return self.sac.to_env(self.sac.sample(obs)[0])

    def task_fns(self, params: Params) -> tuple[RewardFn, TerminationFn]:
        """Reward and termination of the model rollouts: the task's, or the model's learned heads bound to
        ``params`` (the elites) with ``model.learn_reward`` / ``model.learn_termination``."""
        mc = self.cfg.model
        reward_fn = self.model.learned_reward_fn(params) if mc.learn_reward else self.reward_fn
        termination_fn = (
            self.model.learned_termination_fn(params) if mc.learn_termination else self.termination_fn
        )
        return reward_fn, termination_fn

    def mixed_batch(self) -> dict[str, Tensor]:
        m = self.cfg.mbpo
        return mixed_batch(self.buffer, self.pool, self.cfg.sac.batch_size, m.real_ratio, self.sac.generator)

    # --------------------------------------------------------------------------------------- outputs
    def save_outputs(self) -> None:
        self.model.save(self.rundir.checkpoints / "model_final.safetensors")
        super().save_outputs()

    def summary(self) -> dict[str, Any]:
        cfg = self.cfg
        return {
            "kind": self.kind,
            "preset": self.preset,
            "env": cfg.task.env,
            "env_params": cfg.task.env_params,
            "seed": cfg.seed,
            "episodes": self.episode,
            "env_steps": self.env_steps,
            "gradient_steps": self.sac.updates,
            **self.eval_results(),
            "final_model_val_loss": self.fit["val_loss"] if self.fit else math.nan,
            "settings": self.settings() | mbpo_settings(cfg.model, cfg.mbpo),
        }
