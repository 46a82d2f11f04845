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
episode (and its evaluation when due); the model phase is that of
:class:`~dynadapt.runs.policy.rollouts.RolloutRun`, with this kind's fit and start states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from dynadapt.models.dynamics import FitResult, ModelConfig
from dynadapt.policy.mbpo import start_states
from dynadapt.runs.checkpoint import Stateful
from dynadapt.runs.policy.evaluation import EvaluatedPolicyRun
from dynadapt.runs.policy.rollouts import RolloutRun
from dynadapt.runs.policy.settings import EvaluatedSettings, ModelSettings
from dynadapt.runs.settings import OneTask
from dynadapt.types import Params, RewardFn, TerminationFn


@dataclass
class MBPORunConfig(EvaluatedSettings, ModelSettings):
    """MBPO (Janner et al. 2019): SAC trained mostly on short branched rollouts of a learned ensemble."""

    model: ModelConfig = field(
        default_factory=lambda: ModelConfig(
            ensemble_size=7, num_elites=5, hidden=(200, 200, 200, 200), batch_size=256, max_epochs=1000
        )
    )
    """Dynamics model (MBPO: 7 members, 5 elites, 4x200 swish, Gaussian, batch 256)."""
    task: OneTask = field(default_factory=OneTask)
    """The task played."""


class MBPORun(RolloutRun, EvaluatedPolicyRun):
    kind = "mbpo"
    cfg: MBPORunConfig
    state_fields = ("episode", "env_steps", "evals", "k", "fit")

    def build(self) -> None:
        task = self.cfg.task
        self.build_policy(task.family, task.make())
        self.reward_fn = task.family.reward_fn_for(**task.env_params)
        self.termination_fn = task.family.termination_fn_for(**task.env_params)
        self.build_model(task.family)
        self.fit: dict[str, Any] | None = None
        """The last model fit (FitResult fields)."""

    def components(self) -> dict[str, Stateful]:
        return {"sac": self.sac, "buffer": self.buffer, "model": self.model, "pool": self.pool}

    # ------------------------------------------------------------------------------------ model phase
    def fit_model(self) -> dict[str, float]:
        """Fit the ensemble on all real data (early stopping, elites)."""
        self.fit = vars(self.model.fit(self.buffer))
        return FitResult(**self.fit).metrics()

    def rollout_starts(self) -> tuple[Tensor, Params]:
        """``mbpo.rollout_batch_size`` real states, rolled out in the elites."""
        params = {name: v.detach()[self.model.elites] for name, v in self.model.params.items()}
        return start_states(self.buffer, self.cfg.mbpo.rollout_batch_size, self.rollout_gen), params

    def task_fns(self, params: Params) -> tuple[RewardFn, TerminationFn]:
        """Reward and termination of the model rollouts: the task's, or the model's learned heads bound to
        ``params`` (the elites) with ``model.learn_reward`` / ``model.learn_termination``."""
        mc = self.cfg.model
        reward_fn = self.model.learned_reward_fn(params) if mc.learn_reward else self.reward_fn
        termination_fn = (
            self.model.learned_termination_fn(params) if mc.learn_termination else self.termination_fn
        )
        return reward_fn, termination_fn

    # --------------------------------------------------------------------------------------- outputs
    def played(self) -> dict[str, Any]:
        return {"env": self.cfg.task.env, "env_params": self.cfg.task.env_params}

    def results(self) -> dict[str, Any]:
        return super().results() | {"final_model_val_loss": self.fit["val_loss"] if self.fit else math.nan}
