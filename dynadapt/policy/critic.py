"""An ensemble of state-value critics trained by temporal differences: the terminal value of value-guided MPC.

TD-MPC2 (Hansen et al. 2024, Section 3; reference §11.4) plans over a short horizon and bootstraps the rest
of the return with a learned value, an ensemble of critics with Polyak-averaged target copies, aggregated
pessimistically. The planner chooses every action of the imagined sequence, so only the last imagined state
needs a value, and this module learns the state-value V(s) (the lecture's "plan with a terminal value")::

    y   = r + γ (1 − d) · agg_k V̄_k(s')            d: terminated (a time-limit truncation bootstraps)
    L   = Σ_k mean_batch (V_k(s) − y)²
    V̄_k ← τ V_k + (1 − τ) V̄_k                     after every update

Real trajectories can give n-step targets instead (:func:`n_step_transitions`; Sutton 1988, Watkins 1989;
the n-step returns of Rainbow, Hessel et al. 2018, and R2D2)::

    y   = Σ_{i<k} γ^i r_{t+i} + γ^k (1 − d_{t+k−1}) · agg_k V̄_k(s_{t+k})    k = n (fewer at an episode's end)

Why they matter at CPU scale: with Polyak targets the 1-step backup contracts the value error by γ per
≈ 1/τ updates, so reaching 10% of the error takes ≈ ln 10 / (τ (1 − γ)) ≈ 23,000 updates at τ 0.01,
γ 0.99, three times a CPU-scale run's whole critic budget (15 fits x 500 updates): measured on a
value-cartpole run's final buffer (seed 0, development), 1-step critics trained from scratch for 7,500
updates valued the swing-up's first 100 steps at 34 against a truncated discounted return of at least 62;
10-step critics at 72. An n-step backup contracts by γ^n per target update, n times faster.

``agg`` is the same pessimistic aggregation the planner uses, chosen in :class:`CriticConfig`: ``min`` over
the members, or ``mean_std``: mean − k · std over the members (biased std). TD-MPC2 bootstraps from the
minimum of two randomly chosen target critics; the minimum over all members (or a multiple of the spread
below the mean) is a deterministic variant of the same pessimism. The transitions are real ones and short
model rollouts (the branched rollouts of MBPO, Janner et al. 2019), mixed by the caller
(:mod:`dynadapt.runs.value`).

The members are the functional MLPs of :mod:`dynadapt.nets.mlp` (stacked params, one batched forward), on
the family's observation features z-scored by a running :class:`~dynadapt.models.normalizer.Normalizer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from dynadapt.checks import check
from dynadapt.errors import CorruptFileError
from dynadapt.io import flatten, unflatten
from dynadapt.models.normalizer import Normalizer
from dynadapt.nets.config import NetConfig
from dynadapt.nets.ensemble import load_into
from dynadapt.nets.mlp import MLPSpec, forward, init_params
from dynadapt.policy.sac import _load_optim_state, _optim_state, polyak_update
from dynadapt.types import ObsPreproc, Params

Aggregate = Literal["min", "mean_std"]


@dataclass
class CriticConfig(NetConfig):
    """The value ensemble and its TD updates (TD-MPC2: 5 critics, τ 0.01, γ about 0.99)."""

    hidden: tuple[int, ...] = (128, 128)
    activation: Literal["relu", "silu", "elu", "tanh"] = "silu"
    members: int = 5
    """K: critics in the ensemble."""
    gamma: float = 0.99
    """γ: discount of the TD target and of the planner's value-guided return."""
    tau: float = 0.01
    """Polyak coefficient of the target critics (TD-MPC2: 0.01)."""
    aggregate: Aggregate = "min"
    """How the members' values become one: min, or mean_std (mean − std_coef · std)."""
    std_coef: float = 1.0
    """k of mean_std: how many standard deviations below the members' mean."""

    def __post_init__(self) -> None:
        checks = [
            *self.net_checks("critic"),
            (self.members >= 1, "critic.members must be >= 1"),
            (0 < self.gamma <= 1, "critic.gamma must be in (0, 1]"),
            (0 < self.tau <= 1, "critic.tau must be in (0, 1]"),
            (self.aggregate in ("min", "mean_std"), "critic.aggregate must be min or mean_std"),
            (self.std_coef >= 0, "critic.std_coef must be >= 0"),
        ]
        check(*checks)


class ValueEnsemble:
    """K state-value critics with target copies; ``critic(obs[..., O]) -> value[...]`` is the aggregate.

    Args:
        obs_dim: O, size of an observation.
        cfg: settings.
        obs_preproc, feature_dim: the family's observation features (default: the raw observation).
        generator: the source of the initialisation.
    """

    def __init__(
        self,
        obs_dim: int,
        cfg: CriticConfig,
        *,
        obs_preproc: ObsPreproc | None = None,
        feature_dim: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        self.obs_dim, self.cfg = obs_dim, cfg
        self.obs_preproc = obs_preproc
        self.feature_dim = obs_dim if feature_dim is None else feature_dim
        self.spec = MLPSpec(self.feature_dim, 1, cfg.hidden, cfg.activation)
        self.params: Params = init_params(self.spec, generator, ensemble_size=cfg.members)
        self.target: Params = {k: v.clone() for k, v in self.params.items()}
        for p in self.params.values():
            p.requires_grad_(True)
        self.norm = Normalizer(self.feature_dim)
        self.optimizer = torch.optim.Adam(list(self.params.values()), lr=cfg.lr)
        self.updates = 0

    # ------------------------------------------------------------------------------------------- values
    def values(self, obs: Tensor, params: Params | None = None) -> Tensor:
        """Every member's value: ``obs[..., O] -> [K, ...]`` (default: the online critics)."""
        params = self.params if params is None else params
        feats = obs if self.obs_preproc is None else self.obs_preproc(obs)
        x = self.norm.normalize(feats)
        lead = x.shape[:-1]
        rows = x.reshape(1, -1, x.shape[-1]).expand(self.cfg.members, -1, -1)
        return forward(self.spec, params, rows).reshape(self.cfg.members, *lead)

    def aggregate(self, values: Tensor) -> Tensor:
        """``[K, ...] -> [...]``: the minimum, or mean − k · std, over the members."""
        if self.cfg.aggregate == "min":
            return values.min(dim=0).values
        return values.mean(dim=0) - self.cfg.std_coef * values.std(dim=0, unbiased=False)

    def __call__(self, obs: Tensor) -> Tensor:
        """The aggregated value ``obs[..., O] -> [...]`` of the online critics (differentiable in ``obs``)."""
        return self.aggregate(self.values(obs, {k: v.detach() for k, v in self.params.items()}))

    # ----------------------------------------------------------------------------------------- learning
    def observe(self, obs: Tensor) -> None:
        """Merge ``obs[N, O]`` into the input statistics."""
        self.norm.update(obs if self.obs_preproc is None else self.obs_preproc(obs))

    @torch.no_grad()
    def td_targets(self, reward: Tensor, next_obs: Tensor, terminated: Tensor) -> Tensor:
        """``y[N] = r + γ (1 − d) agg V̄(s')`` from ``reward[N]``, ``next_obs[N, O]``, ``terminated[N]``."""
        return self.targets(reward, next_obs, one_step_discount(terminated, self.cfg.gamma, reward.dtype))

    @torch.no_grad()
    def targets(self, reward: Tensor, next_obs: Tensor, discount: Tensor) -> Tensor:
        """``y[N] = r + discount · agg V̄(s')``: the TD target of (n-step) transitions whose ``discount[N]``
        is γ^k (1 − d), k the steps ``reward`` sums."""
        return reward + discount.to(reward.dtype) * self.aggregate(self.values(next_obs, self.target))

    def update(self, batch: Mapping[str, Tensor]) -> dict[str, float]:
        """One TD step on ``batch`` (``obs``, ``reward``, ``next_obs`` and either ``discount``, as
        :func:`n_step_transitions` gives, or ``terminated`` for 1-step transitions), then the target
        update; the step's loss, mean value and mean spread across members."""
        reward = batch["reward"].float()
        if "discount" in batch:
            y = self.targets(reward, batch["next_obs"], batch["discount"])
        else:
            y = self.td_targets(reward, batch["next_obs"], batch["terminated"])
        v = self.values(batch["obs"])
        loss = ((v - y) ** 2).mean(dim=-1).sum()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        polyak_update(self.target, self.params, self.cfg.tau)
        self.updates += 1
        v = v.detach()
        return {
            "critic/loss": float(loss.detach()) / self.cfg.members,
            "critic/value": float(v.mean()),
            "critic/spread": float(v.std(dim=0, unbiased=False).mean()),
        }

    # -------------------------------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Tensor]:
        """Critics, targets, input statistics, optimiser state and the update count."""
        out = flatten("params", {k: v.detach() for k, v in self.params.items()})
        out |= flatten("target", self.target)
        out |= flatten("norm", self.norm.state_dict())
        out |= flatten("optim", _optim_state(self.optimizer, self.params))
        out["updates"] = torch.tensor([self.updates], dtype=torch.int64)
        return out

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        load_into(self.params, unflatten("params", state), "critic parameters")
        load_into(self.target, unflatten("target", state), "target critic parameters")
        try:
            self.norm.load_state_dict(unflatten("norm", state))
            _load_optim_state(self.optimizer, self.params, unflatten("optim", state))
            self.updates = int(state["updates"].item())
        except (KeyError, ValueError) as e:
            raise CorruptFileError(f"incomplete critic state ({e})") from None


def one_step_discount(terminated: Tensor, gamma: float, dtype: torch.dtype) -> Tensor:
    """``discount[N] = γ (1 − d)`` of 1-step transitions, in ``dtype``: the form :meth:`ValueEnsemble.targets`
    and :func:`n_step_transitions` use."""
    return gamma * (~terminated.to(torch.bool)).to(dtype)


def n_step_transitions(data: Mapping[str, Tensor], n: int, gamma: float) -> dict[str, Tensor]:
    """The n-step transitions of real trajectories: for each transition t of ``data`` (a
    :class:`~dynadapt.data.buffer.ReplayBuffer`'s ``all()``, oldest first, with ``episode`` and ``t``),
    ``reward`` = Σ_{i<k} γ^i r_{t+i}, ``next_obs`` = s_{t+k} and ``discount`` = γ^k (1 − d_{t+k−1}), with k
    the most steps up to ``n`` that follow t in its episode without a termination before the last
    (a time-limit truncation bootstraps, as in 1-step TD). ``n`` = 1 gives the 1-step transitions."""
    check((n >= 1, f"n_step_transitions needs n >= 1, got {n}"))
    reward = data["reward"].to(torch.float64)
    episode, t, terminated = data["episode"], data["t"], data["terminated"].to(torch.bool)
    size = reward.shape[0]
    idx = torch.arange(size)
    total = reward.clone()
    last = idx.clone()
    alive = ~terminated  # may the sum go on past the step it has reached
    for k in range(1, n):
        j = (idx + k).clamp(max=size - 1)
        follows = (idx + k < size) & (episode[j] == episode) & (t[j] == t + k) & alive
        total = total + torch.where(follows, gamma**k * reward[j], torch.zeros_like(reward))
        last = torch.where(follows, j, last)
        alive = alive & follows & ~terminated[j]
    steps = (last - idx + 1).to(torch.float64)
    discount = gamma**steps * (~terminated[last]).to(torch.float64)
    return {
        "obs": data["obs"],
        "reward": total.to(data["reward"].dtype),
        "next_obs": data["next_obs"][last],
        "discount": discount.to(data["reward"].dtype),
    }
