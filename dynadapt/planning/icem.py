"""iCEM: the improved, sample-efficient cross-entropy method (Pinneri et al. 2020, Section 3, Algorithm 1;
``martius-lab/iCEM``, ``icem/controllers/icem.py``; reference notes §2.4).

The nine rules, as implemented here:

1. **Coloured noise**: per action dimension, the noise along the time axis has power spectrum ∝ 1/f^β
   (``beta``; β = 0 is white noise). See :func:`dynadapt.planning.noise.colored_noise`.
2. **Clip, not truncate**: a = clip(μ + σ ⊙ ε, lb, ub).
3. **Population decay**: N_0 = N, N_i = max(2K, ⌊N_{i−1} / γ⌋) (``gamma``).
4. **Keep elites**: for i ≥ 1 the best ⌊ξ K⌋ elites of the previous iteration are evaluated again with the
   fresh samples (ξ = ``keep_fraction``).
5. **Shift elites**: at the next env step, iteration 0 also evaluates the best ⌊ξ K⌋ elites of the last
   step, shifted by the executed steps, their new last actions taken from fresh samples.
6. **Use the mean**: in the last iteration the first fresh sample is replaced by μ.
7. **Execute the best**: the plan is the best sequence of the last iteration's evaluated set (kept elites
   included), not the mean (``execute="best"``).
8. **Update**: μ ← (1 − α) mean(elites) + α μ, σ ← (1 − α) std(elites) + α σ with K_eff = min(K, ⌊N_i/2⌋).
9. **Between env steps**: μ is shifted (its last entry repeated), σ is reset to ``init_std`` times the
   half-width, and the elite set is cleared at every episode start (``reset()``).

The candidate count per call is Σ_i N_i plus the kept elites (defaults: 40 + 32 + 25 + 3 + 3 + 3 = 106).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor

from dynadapt.planning.base import Objective, Planner, PlannerConfig
from dynadapt.planning.noise import colored_noise


@dataclass
class ICEMConfig(PlannerConfig):
    """iCEM. Defaults: the "i-cem-blitz" setting of ``martius-lab/iCEM`` (reference §2.4)."""

    name: ClassVar[str] = "icem"

    population: int = 40
    """N: fresh samples in the first iteration (blitz: 40)."""
    elites: int = 10
    """K: elites the distribution is refit to (blitz: 10)."""
    iterations: int = 3
    """I: iterations per planning call (blitz: 3)."""
    alpha: float = 0.1
    """α: momentum of the mean and the standard deviation (blitz: 0.1)."""
    init_std: float = 0.5
    """Initial σ as a fraction of the half-width (ub − lb)/2, restored at every call (blitz: 0.5)."""
    beta: float = 3.0
    """β: coloured-noise exponent, power spectrum ∝ 1/f^β (blitz: 3.0; README per task: 0.25 to 3.5)."""
    gamma: float = 1.25
    """γ: population decay factor, N_i = max(2K, ⌊N_{i−1}/γ⌋) (blitz: 1.25)."""
    keep_fraction: float = 0.3
    """ξ: fraction of the elites kept across iterations and shifted across steps (iCEM: 0.3; 0: off)."""
    shift_elites: bool = True
    """Rule 5: evaluate the previous step's elites, shifted, in the first iteration."""
    use_mean: bool = True
    """Rule 6: evaluate the mean μ itself in the last iteration."""
    execute: Literal["best", "mean"] = "best"
    """Execute the best evaluated sequence (iCEM, rule 7) or the final mean (mbrl-lib's deviation, M4)."""

    def __post_init__(self) -> None:
        self._check_positive_int(population=self.population, elites=self.elites, iterations=self.iterations)
        self._check(
            self.elites <= self.population,
            f"elites ({self.elites}) must not exceed population ({self.population})",
        )
        self._check_fraction("alpha", self.alpha)
        self._check_fraction("keep_fraction", self.keep_fraction, closed_right=True)
        self._check(self.init_std > 0, f"init_std must be > 0, got {self.init_std}")
        self._check(math.isfinite(self.beta) and self.beta >= 0, f"beta must be >= 0, got {self.beta}")
        self._check(self.gamma >= 1.0, f"gamma must be >= 1 (a decay), got {self.gamma}")
        self._check(self.execute in ("best", "mean"), f"execute must be best or mean, got {self.execute!r}")

    def populations(self) -> list[int]:
        """Fresh samples per iteration, N_0..N_{I−1} (rule 3)."""
        sizes = [self.population]
        for _ in range(1, self.iterations):
            sizes.append(max(2 * self.elites, int(sizes[-1] / self.gamma)))
        return sizes

    @property
    def num_kept(self) -> int:
        """⌊ξ K⌋: elites kept across iterations and steps."""
        return int(self.keep_fraction * self.elites)


class ICEMPlanner(Planner):
    """iCEM; see the module docstring. Carries μ and the last elites between calls."""

    name: ClassVar[str] = "icem"
    cfg: ICEMConfig

    def __init__(
        self, cfg: ICEMConfig, low: Tensor, high: Tensor, horizon: int, generator: torch.Generator
    ) -> None:
        super().__init__(cfg, low, high, horizon, generator)
        self._mean: Tensor | None = None
        self._elites: Tensor | None = None  # [K', H, A], best first, already shifted by _shifted steps
        self._shifted = 0  # executed steps since the elites were stored: their last entries need fresh values

    def reset(self) -> None:
        self._mean = None
        self._elites = None
        self._shifted = 0

    def shift(self, steps: int) -> None:
        if steps <= 0:
            return
        steps = min(steps, self.horizon)
        if self._mean is not None:
            tail = self._mean[-1:].expand(steps, self.act_dim)
            self._mean = torch.cat([self._mean[steps:], tail])  # rule 9: last entry repeated
        if self._elites is not None:
            pad = torch.zeros_like(self._elites[:, :steps])  # filled with fresh samples at the next call
            self._elites = torch.cat([self._elites[:, steps:], pad], dim=1)
            self._shifted = min(self._shifted + steps, self.horizon)

    def state_dict(self) -> dict[str, Tensor]:
        state: dict[str, Tensor] = {}
        if self._mean is not None:
            state["mean"] = self._mean.clone()
        if self._elites is not None:
            state["elites"] = self._elites.clone()
            state["shifted"] = torch.tensor(self._shifted, dtype=torch.int64)
        return state

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        H, A = self.horizon, self.act_dim
        self._check_state(state, {"mean": (H, A), "elites": (None, H, A), "shifted": ()})
        kw = self._tensor_kwargs()
        self._mean = state["mean"].to(**kw).clone() if "mean" in state else None
        self._elites = state["elites"].to(**kw).clone() if "elites" in state else None
        self._shifted = int(state["shifted"]) if "shifted" in state else 0

    def _plan(self, objective: Objective, warm_start: Tensor | None) -> Tensor:
        cfg = self.cfg
        H, A = self.horizon, self.act_dim
        mean = self._mean if self._mean is not None else self.initial_mean(warm_start)
        std = (cfg.init_std * self.half).expand(H, A).clone()  # rule 9: σ restarts at every call
        kept: Tensor | None = None
        if cfg.shift_elites and self._elites is not None and cfg.num_kept > 0:
            kept = self._elites[: cfg.num_kept]
        best, best_return = mean, -math.inf
        elites = None
        populations = cfg.populations()
        for i, n_fresh in enumerate(populations):
            self.last_num_iterations += 1
            noise = colored_noise(
                (n_fresh, A, H), cfg.beta, generator=self.generator, **self._tensor_kwargs()
            )
            fresh = self.propose(self.clip(torch.addcmul(mean, std, noise.transpose(1, 2))))  # rules 1, 2
            if i == len(populations) - 1 and cfg.use_mean:
                fresh[0] = mean  # rule 6
            if kept is not None and i == 0 and self._shifted > 0:
                # rule 5: the shifted elites' new last actions come from fresh samples
                n = min(kept.shape[0], n_fresh)
                kept = kept[:n].clone()
                kept[:, H - self._shifted :] = fresh[:n, H - self._shifted :]
            candidates = fresh if kept is None else torch.cat([fresh, kept])
            returns = self.evaluate(objective, candidates)
            k_eff = min(cfg.elites, max(1, n_fresh // 2))  # rule 8
            top_returns, top = returns.topk(min(k_eff, candidates.shape[0]))
            n_finite = int(torch.isfinite(top_returns).sum())
            if n_finite == 0:
                kept = None
                continue
            elites = candidates[top[:n_finite]]
            best, best_return = elites[0], float(top_returns[0])  # rule 7: of the last iteration's set
            mean = (1.0 - cfg.alpha) * elites.mean(dim=0) + cfg.alpha * mean  # rule 8
            std = (1.0 - cfg.alpha) * elites.std(dim=0, unbiased=False) + cfg.alpha * std
            kept = elites[: cfg.num_kept] if cfg.num_kept > 0 else None  # rule 4
        self._mean = mean
        self._elites = elites
        self._shifted = 0
        if cfg.execute == "mean" or best_return == -math.inf:
            return mean.clone()
        return best.clone()
