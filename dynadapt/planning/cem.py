"""The cross-entropy method as in PETS (Chua et al. 2018, Section 5; ``dmbrl/misc/optimizers/cem.py``).

Per planning call (reference notes §2.2):

1. μ ← the warm start (the previous plan shifted by one step, the bound midpoint appended; PETS appends 0,
   the same for symmetric bounds), σ² ← (init_std · (ub − lb)/2)², i.e. (ub − lb)²/16 for init_std = 0.5.
2. For i = 1..I, while max σ² ≥ ε:
   * bound-aware variance σ²_c = min(((μ − lb)/2)², ((ub − μ)/2)², σ²), so μ ± 2σ_c stays in the bounds;
   * sample N sequences from N(μ, σ²_c) truncated at ±2σ_c;
   * elites: the K candidates with the highest returns (true top-K; NaN/inf returns are never elites);
   * μ ← α μ + (1 − α) mean(elites), σ² ← α σ² + (1 − α) var(elites) (biased variance, as PETS).
3. Return μ (``execute="mean"``, PETS and mbrl-lib; mbrl-lib PR #70 found the best sample "too unstable
   due to overfitting to the model") or the best sequence evaluated (``execute="best"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor

from dynadapt.planning.base import Objective, Planner, PlannerConfig
from dynadapt.planning.noise import truncated_normal


@dataclass
class CEMConfig(PlannerConfig):
    """PETS cross-entropy method. Defaults: PETS halfcheetah (Chua et al. 2018, Appendix; reference §2.2)."""

    name: ClassVar[str] = "cem"

    population: int = 500
    """N: candidate sequences sampled per iteration (PETS: 400 cartpole/reacher, 500 pusher/halfcheetah)."""
    elites: int = 50
    """K: number of best candidates the distribution is refit to (PETS: N/10)."""
    iterations: int = 5
    """I: maximum refinement iterations per planning call (PETS: 5)."""
    alpha: float = 0.1
    """α: momentum, μ ← α μ + (1 − α) mean(elites), same for σ² (PETS: 0.1)."""
    init_std: float = 0.5
    """Initial σ as a fraction of the half-width (ub − lb)/2; 0.5 gives PETS's σ² = (ub − lb)²/16."""
    epsilon: float = 1e-3
    """ε: stop early once the largest variance σ² falls below this (PETS ``epsilon``: 0.001)."""
    execute: Literal["mean", "best"] = "mean"
    """Return the final mean μ (PETS) or the best sequence evaluated in any iteration."""

    def __post_init__(self) -> None:
        self._check_positive_int(population=self.population, elites=self.elites, iterations=self.iterations)
        self._check(
            self.elites <= self.population,
            f"elites ({self.elites}) must not exceed population ({self.population})",
        )
        self._check_fraction("alpha", self.alpha)
        self._check(self.init_std > 0, f"init_std must be > 0, got {self.init_std}")
        self._check(self.epsilon >= 0, f"epsilon must be >= 0, got {self.epsilon}")
        self._check(
            self.execute in ("mean", "best"), f"execute must be 'mean' or 'best', got {self.execute!r}"
        )


@dataclass
class CEMResult:
    """What one CEM optimisation produced (used by ``cem-grad`` to refine it)."""

    mean: Tensor
    """Final distribution mean ``[H, A]``."""
    best: Tensor
    """Best sequence evaluated in any iteration ``[H, A]``."""
    best_return: float
    """Its return (``-inf`` if every evaluation failed)."""
    elites: Tensor
    """The last iteration's elites, best first ``[K', H, A]`` (K' ≤ K: only finite returns)."""


class CEMPlanner(Planner):
    """PETS CEM; see the module docstring."""

    name: ClassVar[str] = "cem"
    cfg: CEMConfig

    def __init__(
        self, cfg: CEMConfig, low: Tensor, high: Tensor, horizon: int, generator: torch.Generator
    ) -> None:
        super().__init__(cfg, low, high, horizon, generator)

    def _plan(self, objective: Objective, warm_start: Tensor | None) -> Tensor:
        result = self.optimize(objective, warm_start)
        return result.mean if self.cfg.execute == "mean" else result.best

    def optimize(self, objective: Objective, warm_start: Tensor | None) -> CEMResult:
        """Run the CEM iterations from ``warm_start`` (or the midpoint); see the module docstring."""
        cfg = self.cfg
        H, A = self.horizon, self.act_dim
        mean = self.initial_mean(warm_start)
        var = (cfg.init_std * self.half).square().expand(H, A).clone()
        best, best_return = mean.clone(), -torch.inf
        elites = mean.unsqueeze(0)
        for _ in range(cfg.iterations):
            if float(var.max()) < cfg.epsilon:
                break
            self.last_num_iterations += 1
            # Bound-aware variance: μ ± 2σ_c stays within [lb, ub].
            var_c = torch.minimum(
                torch.minimum((mean - self.low).square_().div_(4), (self.high - mean).square_().div_(4)), var
            )
            noise = truncated_normal(
                (cfg.population, H, A), bound=2.0, generator=self.generator, **self._tensor_kwargs()
            )
            samples = self.propose(self.clip(torch.addcmul(mean, var_c.sqrt(), noise)))
            returns = self.evaluate(objective, samples)
            top_returns, top = returns.topk(cfg.elites)
            finite = torch.isfinite(top_returns)
            n_finite = int(finite.sum())
            if n_finite == 0:
                continue  # every candidate failed: keep the distribution
            elites = samples[top[:n_finite]]
            if float(top_returns[0]) > best_return:
                best_return = float(top_returns[0])
                best = elites[0].clone()
            elite_mean = elites.mean(dim=0)
            elite_var = elites.var(dim=0, unbiased=False)
            mean = cfg.alpha * mean + (1.0 - cfg.alpha) * elite_mean
            var = cfg.alpha * var + (1.0 - cfg.alpha) * elite_var
        return CEMResult(mean=mean, best=best, best_return=best_return, elites=elites)
