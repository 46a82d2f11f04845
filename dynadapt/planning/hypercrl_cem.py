"""CEM as in HyperCRL, kept for parity (Huang et al. 2021; ``hypercrl/control/cem.py``; reference §2.3, H5).

Differences from PETS CEM (:mod:`dynadapt.planning.cem`), all deliberate for reproducing HyperCRL:

* the distribution is reset to N(midpoint, σ₀²) at every call: no warm start;
* no bounds in the planner by default (``bounded=False``; the env clips the executed action);
* no truncation and no momentum: μ = mean(elites), σ = std(elites) (biased) after each of the I iterations;
* after the I iterations one **extra population** is sampled from the final distribution and the best
  sequence of it is executed (``choose_best``), so a call costs N · (I + 1) evaluations.

HyperCRL's σ₀ (``mag_noise``) is 1.0 (0.5 for Door) for actions in [−1, 1]; here it is ``init_std`` times
the half-width, the same for those bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from dynadapt.planning.base import Objective, Planner, PlannerConfig


@dataclass
class HyperCRLCEMConfig(PlannerConfig):
    """HyperCRL's CEM. Defaults: the Pusher setting (reference §4.6: N 500, K 40, I 5, σ 1)."""

    name: ClassVar[str] = "hypercrl-cem"

    population: int = 500
    """N: candidate sequences per iteration (HyperCRL Pusher/Slider 500, Door 2000, cartpole 400)."""
    elites: int = 40
    """K: elites per iteration (HyperCRL: 40; 50 for half-cheetah)."""
    iterations: int = 5
    """I: refinement iterations before the extra population (HyperCRL: 5)."""
    init_std: float = 1.0
    """σ₀ as a fraction of the half-width (HyperCRL ``mag_noise``: 1.0; Door 0.5)."""
    bounded: bool = False
    """Clip the samples to the action bounds (HyperCRL: no; its env clips the executed action)."""

    def __post_init__(self) -> None:
        self._check_positive_int(population=self.population, elites=self.elites, iterations=self.iterations)
        self._check(
            self.elites <= self.population,
            f"elites ({self.elites}) must not exceed population ({self.population})",
        )
        self._check(self.init_std > 0, f"init_std must be > 0, got {self.init_std}")


class HyperCRLCEMPlanner(Planner):
    """HyperCRL's CEM; see the module docstring. The plan may leave the bounds unless ``bounded``."""

    name: ClassVar[str] = "hypercrl-cem"
    cfg: HyperCRLCEMConfig

    def __init__(
        self, cfg: HyperCRLCEMConfig, low: Tensor, high: Tensor, horizon: int, generator: torch.Generator
    ) -> None:
        super().__init__(cfg, low, high, horizon, generator)

    def _sample(self, mean: Tensor, std: Tensor) -> Tensor:
        shape = (self.cfg.population, self.horizon, self.act_dim)
        samples = torch.addcmul(
            mean, std, torch.randn(shape, generator=self.generator, **self._tensor_kwargs())
        )
        return self.propose(self.clip(samples) if self.cfg.bounded else samples)

    def _plan(self, objective: Objective, warm_start: Tensor | None) -> Tensor:
        cfg = self.cfg
        mean = self.initial_mean(None)  # HyperCRL resets the distribution at every step
        std = (cfg.init_std * self.half).expand(self.horizon, self.act_dim).clone()
        for _ in range(cfg.iterations):
            self.last_num_iterations += 1
            samples = self._sample(mean, std)
            returns = self.evaluate(objective, samples)
            top_returns, top = returns.topk(cfg.elites)
            n_finite = int(torch.isfinite(top_returns).sum())
            if n_finite == 0:
                continue
            elites = samples[top[:n_finite]]
            mean = elites.mean(dim=0)
            std = elites.std(dim=0, unbiased=False)
        # choose_best: one more population from the final distribution, execute its best sequence.
        samples = self._sample(mean, std)
        returns = self.evaluate(objective, samples)
        if not torch.isfinite(returns).any():
            return mean
        return samples[returns.argmax()]
