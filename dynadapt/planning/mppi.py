"""MPPI with PDDM's filtered noise and reward-weighted mean (Nagabandi et al. 2019 "Deep Dynamics Models
for Learning Dexterous Manipulation", Section 4.2, Eq. 3-5; ``google-research/pddm``,
``pddm/policies/mppi.py``; reference notes §2.5).

Per call, for each of the ``iterations`` refinements (PDDM: one):

1. ε_{k,t} ~ N(0, σ²), σ = ``sigma`` times the half-width of the bounds (PDDM's actions lie in [−1, 1],
   where that is its ``mppi_mag_noise``). The noise scale is applied (pitfall M1: mbrl-lib ignores it).
2. Filtered samples: u_{k,0} = β (μ_0 + ε_{k,0}) + (1 − β) a_prev and
   u_{k,t} = β (μ_t + ε_{k,t}) + (1 − β) u_{k,t−1}, then clipped to the bounds; a_prev is the action
   executed before this step. The recursion is one [H, H] lower-triangular matmul over the population.
3. Returns R_k of the clipped samples; weights w_k = exp(γ (R_k − max_j R_j)); the mean becomes
   μ_t = Σ_k w_k u_{k,t} / (Σ_k w_k + 1e−10). NaN/inf returns get weight 0.

The plan is μ. Between env steps (``shift``) a_prev ← the last executed action and μ is shifted with its
last entry repeated. PDDM's optional low-noise share (``rand_policy_sample_velocities``) is not included.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from dynadapt.planning.base import Objective, Planner, PlannerConfig


@dataclass
class MPPIConfig(PlannerConfig):
    """PDDM's MPPI. Defaults: PDDM's ant setting (N 500, γ 10, σ 0.8, β 0.7; reference §2.5)."""

    name: ClassVar[str] = "mppi"

    population: int = 500
    """N: filtered samples per refinement (PDDM: 500 to 1000)."""
    gamma: float = 10.0
    """γ: reward-weighting temperature, w = exp(γ (R − max R)) (PDDM ``mppi_kappa``: 0.5 to 20)."""
    sigma: float = 0.8
    """σ: noise std as a fraction of the half-width (PDDM ``mppi_mag_noise``: 0.8 to 0.9)."""
    beta: float = 0.7
    """β: filter coefficient, weight of the new noisy action against the previous one (PDDM: 0.6 to 0.9)."""
    iterations: int = 1
    """Refinements per env step (PDDM: 1; mbrl-lib adds more)."""

    def __post_init__(self) -> None:
        self._check_positive_int(population=self.population, iterations=self.iterations)
        self._check(self.gamma > 0, f"gamma must be > 0, got {self.gamma}")
        self._check(self.sigma > 0, f"sigma must be > 0, got {self.sigma}")
        self._check(0.0 < self.beta <= 1.0, f"beta must lie in (0, 1], got {self.beta}")


class MPPIPlanner(Planner):
    """PDDM-style MPPI; see the module docstring. Carries μ and the previous action between calls."""

    name: ClassVar[str] = "mppi"
    cfg: MPPIConfig

    def __init__(
        self, cfg: MPPIConfig, low: Tensor, high: Tensor, horizon: int, generator: torch.Generator
    ) -> None:
        super().__init__(cfg, low, high, horizon, generator)
        H = horizon
        t = torch.arange(H, dtype=torch.float64)
        decay = 1.0 - cfg.beta
        lag = (t[:, None] - t[None, :]).clamp(min=0)
        # u = L v + c a_prev with L[t, j] = β (1 − β)^(t − j) for j ≤ t, c_t = (1 − β)^(t + 1).
        filt = torch.where(t[:, None] >= t[None, :], cfg.beta * decay**lag, torch.zeros(()))
        kw = self._tensor_kwargs()
        self._filter = filt.to(**kw)
        self._prev_weight = (decay ** (t + 1)).to(**kw).unsqueeze(-1)  # [H, 1]
        self._mean: Tensor | None = None
        self._prev_action: Tensor | None = None

    def reset(self) -> None:
        self._mean = None
        self._prev_action = None

    def shift(self, steps: int) -> None:
        if steps <= 0 or self._mean is None:
            return
        steps = min(steps, self.horizon)
        self._prev_action = self._mean[steps - 1].clone()
        self._mean = torch.cat([self._mean[steps:], self._mean[-1:].expand(steps, self.act_dim)])

    def state_dict(self) -> dict[str, Tensor]:
        state: dict[str, Tensor] = {}
        if self._mean is not None:
            state["mean"] = self._mean.clone()
        if self._prev_action is not None:
            state["prev_action"] = self._prev_action.clone()
        return state

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        self._check_state(state, {"mean": (self.horizon, self.act_dim), "prev_action": (self.act_dim,)})
        kw = self._tensor_kwargs()
        self._mean = state["mean"].to(**kw).clone() if "mean" in state else None
        self._prev_action = state["prev_action"].to(**kw).clone() if "prev_action" in state else None

    def sample(self, mean: Tensor, prev_action: Tensor) -> Tensor:
        """Filtered, clipped samples ``[N, H, A]`` around ``mean[H, A]`` after ``prev_action[A]``."""
        cfg = self.cfg
        shape = (cfg.population, self.horizon, self.act_dim)
        noise = torch.randn(shape, generator=self.generator, **self._tensor_kwargs())
        v = torch.addcmul(mean, noise, cfg.sigma * self.half)  # μ_t + ε_{k,t}
        u = torch.matmul(self._filter, v).addcmul_(self._prev_weight, prev_action)
        return self.clip(u)

    def _plan(self, objective: Objective, warm_start: Tensor | None) -> Tensor:
        cfg = self.cfg
        mean = self._mean if self._mean is not None else self.initial_mean(warm_start)
        prev_action = self._prev_action if self._prev_action is not None else mean[0]
        for _ in range(cfg.iterations):
            self.last_num_iterations += 1
            samples = self.propose(self.sample(mean, prev_action))
            returns = self.evaluate(objective, samples)
            top = returns.max()
            if not torch.isfinite(top):
                continue  # every sample failed: keep the mean
            weights = torch.exp(cfg.gamma * (returns - top))  # -inf returns get weight 0
            mean = torch.einsum("n,nha->ha", weights, samples) / (weights.sum() + 1e-10)
        self._mean = mean
        self._prev_action = prev_action
        return mean.clone()
