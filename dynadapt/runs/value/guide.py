"""What value-guided MPC adds to a model-based loop: a critic ensemble, a policy that imitates the planner,
and the model rollouts the critic also learns from; wired into the planning objective by two hooks.

After every model fit (:meth:`ValueGuide.learn`)::

    π ← behaviour cloning on the planner's own executed actions (all MPC transitions so far; BMPC,
        Wang et al. 2025, trains its policy by imitating the planner; TD-MPC2's policy prior)
    s_0 ← `rollout_starts` real states; k-step rollouts of π (+ noise) in the model (MBPO's branched
        rollouts, Janner et al. 2019) into the rollout pool
    `updates` TD steps of the critics on minibatches of `real_ratio` real transitions (n-step targets along
        the real trajectories, :func:`~dynadapt.policy.critic.n_step_transitions`) and 1 − real_ratio
        model transitions (1-step targets)

and then (:meth:`ValueGuide.attach`) the objective plans with J = Σ_{t<H} γ^t r_t + γ^H V(s_H) (TD-MPC2,
Hansen et al. 2024, Section 3) and, with ``proposals`` > 0, a fraction of every population comes from π
rolled out in the model (TD-MPC2's 24 of 512 samples).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dynadapt.data.buffer import ReplayBuffer
from dynadapt.envs import TaskFamily
from dynadapt.planning import ModelObjective, PolicyProposals, TerminalValue
from dynadapt.policy.critic import CriticConfig, ValueEnsemble, n_step_transitions, one_step_discount
from dynadapt.policy.distill import DistilledPolicy, PolicyConfig
from dynadapt.policy.mbpo import ModelPool, branched_rollout, start_states
from dynadapt.runs.checkpoint import Stateful
from dynadapt.runs.seeds import Seeds
from dynadapt.runs.settings import check
from dynadapt.types import Params, PredictFn, RewardFn, TerminationFn

KEYS = ("obs", "reward", "next_obs", "discount")
"""What a critic minibatch holds (:meth:`ValueEnsemble.update`)."""


@dataclass
class ValueSettings:
    """The terminal value, its critic's training and the policy proposals."""

    terminal: bool = True
    """Plan with the terminal value γ^H V(s_H) (false: plain MPC, and no critic is trained)."""
    critic: CriticConfig = field(default_factory=CriticConfig)
    """The critic ensemble (critic.gamma is also the planner's discount)."""
    updates: int = 500
    """TD updates of the critics after every model fit."""
    rollout_length: int = 3
    """k: steps of the model rollouts of the policy the critics also learn from (0: real data only)."""
    rollout_starts: int = 1000
    """Real start states of the model rollouts after every fit (the rollout pool keeps the last fit's)."""
    real_ratio: float = 0.5
    """Fraction of real transitions in every critic minibatch (the rest from the model rollouts)."""
    n_step: int = 10
    """n: the real transitions' TD targets sum up to n rewards of their trajectory before bootstrapping
    (1: 1-step TD). 10 because the CPU-scale budget of critic updates (≈ 7,500 per run, τ 0.01) is a tenth
    of what 1-step targets need to propagate values at γ 0.99 (:mod:`dynadapt.policy.critic`); chosen
    from that count, not tuned."""
    proposals: float = 0.0
    """Fraction of every planning population proposed by the policy (0: none; TD-MPC2: 24/512)."""
    noise: float = 0.3
    """Exploration noise of the policy's proposals and model rollouts, in half-widths of the bounds."""
    policy: PolicyConfig = field(default_factory=lambda: PolicyConfig(train_steps=500))
    """The policy cloned from the planner's executed actions (proposals, critic rollouts)."""

    def __post_init__(self) -> None:
        check(
            (self.updates >= 0, "value.updates must be >= 0"),
            (self.rollout_length >= 0, "value.rollout_length must be >= 0"),
            (self.rollout_starts >= 1, "value.rollout_starts must be >= 1"),
            (0 <= self.real_ratio <= 1, "value.real_ratio must be in [0, 1]"),
            (self.n_step >= 1, "value.n_step must be >= 1"),
            (0 <= self.proposals < 1, "value.proposals must be in [0, 1)"),
            (self.noise >= 0, "value.noise must be >= 0"),
        )

    @property
    def needs_policy(self) -> bool:
        """Whether the policy is trained: it proposes, or it acts in the critic's model rollouts."""
        return self.proposals > 0 or (self.terminal and self.rollout_length > 0)

    def summary(self) -> dict[str, Any]:
        """The settings a summary reports."""
        critic = self.critic
        return {
            "terminal_value": self.terminal,
            "aggregate": critic.aggregate if critic.aggregate == "min" else f"mean-{critic.std_coef}std",
            "gamma": critic.gamma,
            "critics": critic.members,
            "proposals": self.proposals,
            "critic_rollout_length": self.rollout_length,
            "critic_n_step": self.n_step,
        }


class ValueGuide:
    """The critic, the planner-imitating policy and the rollout pool of one run (see the module docstring).

    ``population`` is the planner's N (the proposals are ``round(proposals · N)`` of it, at least one);
    every random number comes from the run's streams ``critic``, ``policy`` and ``value``.
    """

    def __init__(
        self,
        settings: ValueSettings,
        family: TaskFamily,
        low: np.ndarray,
        high: np.ndarray,
        population: int,
        seeds: Seeds,
    ) -> None:
        self.settings = s = settings
        preproc, features = family.obs_preproc, family.feature_dim
        self.critic = ValueEnsemble(
            family.obs_dim,
            s.critic,
            obs_preproc=preproc,
            feature_dim=features,
            generator=seeds.torch("critic"),
        )
        self.policy = DistilledPolicy(
            family.obs_dim, family.act_dim, low, high, s.policy, obs_preproc=preproc, feature_dim=features,
            family=family.name, generator=seeds.torch("policy"),
        )  # fmt: skip
        self.pool = ModelPool(max(1, s.rollout_starts * s.rollout_length), family.obs_dim, family.act_dim)
        self.generator = seeds.torch("value")
        self.low, self.high = torch.as_tensor(low), torch.as_tensor(high)
        self.count = max(1, round(s.proposals * population)) if s.proposals > 0 else 0
        """M: proposals per planning call."""

    def components(self) -> dict[str, Stateful]:
        return {"critic": self.critic, "policy": self.policy, "rollouts": self.pool}

    def explore(self, obs: Tensor) -> Tensor:
        """Actions of the critic's model rollouts: π plus noise once π is fitted, uniform before."""
        if self.policy.fit_steps == 0:
            u = torch.rand((obs.shape[0], self.low.shape[0]), generator=self.generator).to(obs.device)
            return self.low + u * (self.high - self.low)
        noise = torch.randn((obs.shape[0], self.low.shape[0]), generator=self.generator).to(obs.device)
        act = self.policy(obs) + self.settings.noise * (self.high - self.low) / 2 * noise
        return torch.maximum(torch.minimum(act, self.high), self.low)

    def learn(
        self,
        buffer: ReplayBuffer,
        predict: PredictFn,
        params: Params,
        reward_fn: RewardFn,
        termination_fn: TerminationFn,
        planner_from: int,
    ) -> dict[str, float]:
        """Fit π on the transitions of episodes ``>= planner_from`` (the planner's), roll it out in the
        model with ``params`` and train the critics; the metrics of it."""
        s, row = self.settings, {}
        data = buffer.all()
        planned = data["episode"] >= planner_from
        if s.needs_policy and bool(planned.any()):
            with torch.enable_grad():
                row["policy/bc_loss"] = self.policy.fit(data["obs"][planned], data["act"][planned])
        if not s.terminal:
            return row
        self.critic.observe(buffer.since(self.critic.norm.count)["obs"])  # the real states not merged yet
        if s.rollout_length > 0:
            starts = start_states(buffer, s.rollout_starts, self.generator)
            with torch.no_grad():
                rollouts, _ = branched_rollout(
                    self.explore, predict, params, starts, s.rollout_length, reward_fn, termination_fn,
                    self.generator,
                )  # fmt: skip
            self.pool.add(rollouts)
        real = n_step_transitions(buffer.all(), s.n_step, s.critic.gamma)
        model = self.pool.all()
        model["discount"] = one_step_discount(model["terminated"], s.critic.gamma, model["reward"].dtype)
        stats = [self.critic.update(self.batch(real, model)) for _ in range(s.updates)]
        if stats:
            row |= {k: float(np.mean([st[k] for st in stats])) for k in stats[0]}
        return row

    def batch(self, real: dict[str, Tensor], model: dict[str, Tensor]) -> dict[str, Tensor]:
        """A critic minibatch: ``⌊batch_size · real_ratio⌋`` transitions of ``real`` and the rest of
        ``model`` (all real while there are no model transitions), drawn uniformly with replacement."""
        size = self.settings.critic.batch_size
        n_real = size if model["obs"].shape[0] == 0 else int(size * self.settings.real_ratio)
        drawn = []
        for part, n in ((real, n_real), (model, size - n_real)):
            if n > 0:  # one draw of rows per part: every field of a row from the same transition
                rows = torch.randint(0, part["obs"].shape[0], (n,), generator=self.generator)
                drawn.append({k: part[k][rows] for k in KEYS})
        return {k: torch.cat([d[k] for d in drawn]) for k in KEYS}

    def attach(self, objective: ModelObjective) -> None:
        """Set the objective's terminal value and (once π is fitted) its policy proposals."""
        s = self.settings
        objective.terminal = TerminalValue(self.critic, s.critic.gamma) if s.terminal else None
        ready = self.count > 0 and self.policy.fit_steps > 0
        objective.proposals = (
            PolicyProposals(self.policy, self.count, s.noise, self.low, self.high) if ready else None
        )
