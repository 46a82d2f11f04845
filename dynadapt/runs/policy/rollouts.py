"""What the MBPO kinds (``mbpo``, ``mbpo-continual``, ``mbpo-meta``) share: the model phase of
:meth:`~dynadapt.runs.policy.base.PolicyRun.train_episode`::

    every `mbpo.model_train_freq` env steps from the end of the random phase:
        fit the model (the kind's way)
        k ← schedule(epoch); resize the model buffer to `mbpo.retain_epochs` epochs of rollouts
        k-step branched rollouts of π from the kind's start states, in the kind's model parameters
    SAC updates: real_ratio real + (1 − real_ratio) model transitions

:class:`RolloutRun` supplies that loop; a kind supplies :meth:`~RolloutRun.fit_model` and
:meth:`~RolloutRun.rollout_starts` and, where it differs, the model's prediction, the reward and
termination of the rollouts and how the rollouts are stored.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from torch import Tensor

from dynadapt.envs import TaskFamily
from dynadapt.models.dynamics import DynamicsModel
from dynadapt.policy.mbpo import ModelPool, branched_rollout, mixed_batch, rollout_length
from dynadapt.runs.policy.base import PolicyRun
from dynadapt.runs.policy.settings import ModelSettings, mbpo_settings
from dynadapt.types import Params, PredictFn, RewardFn, TerminationFn


class RolloutRun(PolicyRun):
    """SAC trained on real data and on branched rollouts of a learned model (the kind's :meth:`build` calls
    :meth:`build_model` and :meth:`build_policy`)."""

    cfg: ModelSettings
    unreported: ClassVar[tuple[str, ...]] = ()
    """The rollout metrics (``mbpo/<key>``) the kind does not report."""
    reward_fn: RewardFn
    termination_fn: TerminationFn
    """The task's reward and termination (the rollouts' unless the kind's :meth:`task_fns` says otherwise)."""
    per_row: ClassVar[bool] = False
    """Whether each start state has its own model parameters (see ``branched_rollout``)."""

    def build_model(self, family: TaskFamily, context_dim: int = 0) -> None:
        """The dynamics model, the rollouts' random stream, k at epoch 0 and the model buffer (its states
        carry ``context_dim`` numbers of task input)."""
        cfg = self.cfg
        self.model = DynamicsModel.for_family(family, cfg.model, self.seeds.torch("model"))
        self.rollout_gen = self.seeds.torch("rollout")
        self.k = rollout_length(0, cfg.mbpo.rollout_schedule)
        """The current rollout length."""
        self.pool = ModelPool(cfg.mbpo.pool_capacity(self.k), family.obs_dim + context_dim, family.act_dim)

    # ------------------------------------------------------------------------------------ model phase
    def model_phase(self) -> list[dict[str, float]]:
        """Every model_train_freq env steps from the end of the random phase (never without real data):
        refit and roll out."""
        since, m = self.since_warmup(), self.cfg.mbpo
        due = since >= 0 and since % m.model_train_freq == 0 and self.model_used() and len(self.buffer) > 0
        return [self.refit_and_roll_out()] if due else []

    def model_used(self) -> bool:
        """Whether SAC trains on model data at all (``mbpo.real_ratio < 1``)."""
        return self.cfg.mbpo.real_ratio < 1.0

    def refit_and_roll_out(self) -> dict[str, float]:
        """Fit the model, set k and the model buffer's size, add branched rollouts; their metrics."""
        m = self.cfg.mbpo
        fit_s = time.perf_counter()
        fitted = self.fit_model()
        fit_s = time.perf_counter() - fit_s
        self.k = rollout_length(self.since_warmup() // m.epoch_length, m.rollout_schedule)
        self.pool.resize(m.pool_capacity(self.k))
        rollout_s = time.perf_counter()
        starts = self.rollout_starts()
        if starts is None:
            return fitted
        obs0, params = starts
        reward_fn, termination_fn = self.task_fns(params)
        data, stats = branched_rollout(
            self.policy,
            self.rollout_predict(),
            params,
            obs0,
            self.k,
            reward_fn,
            termination_fn,
            self.rollout_gen,
            per_row=self.per_row,
        )
        self.pool.add(self.stored(data))
        every = {
            "rollout_length": float(self.k),
            "mean_rollout_steps": stats["mean_length"],
            "nonfinite": stats["nonfinite"],
            "model_buffer": float(len(self.pool)),
            "model_reward": float(data["reward"].mean()),
        }
        reported = {f"mbpo/{k}": v for k, v in every.items() if k not in self.unreported}
        return fitted | reported | {"time/fit_s": fit_s, "time/rollout_s": time.perf_counter() - rollout_s}

    def fit_model(self) -> dict[str, float]:
        """Fit the model on the real data; the fit's metrics."""
        raise NotImplementedError

    def rollout_starts(self) -> tuple[Tensor, Params] | None:
        """The start states ``obs0[N, O]`` and the model parameters of the rollouts (None: no rollouts)."""
        raise NotImplementedError

    def rollout_predict(self) -> PredictFn:
        return self.model.predict

    def task_fns(self, params: Params) -> tuple[RewardFn, TerminationFn]:
        """Reward and termination of the rollouts in the model with ``params`` (the task's)."""
        return self.reward_fn, self.termination_fn

    def stored(self, data: dict[str, Tensor]) -> dict[str, Tensor]:
        """The rollouts as the model buffer stores them."""
        return data

    def policy(self, obs: Tensor) -> Tensor:
        """The current policy's sampled env actions for model rollouts: ``obs[N, O] -> act[N, A]``."""
        return self.sac.to_env(self.sac.sample(obs)[0])

    def sac_batch(self) -> dict[str, Tensor]:
        return self.mixed_batch()

    def mixed_batch(self) -> dict[str, Tensor]:
        m = self.cfg.mbpo
        return mixed_batch(self.buffer, self.pool, self.cfg.sac.batch_size, m.real_ratio, self.sac.generator)

    # --------------------------------------------------------------------------------------- outputs
    def settings(self) -> dict[str, Any]:
        return super().settings() | mbpo_settings(self.cfg)

    def save_outputs(self) -> None:
        self.model.save(self.rundir.checkpoints / "model_final.safetensors")
        super().save_outputs()
