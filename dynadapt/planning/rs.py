"""Random shooting: sample candidate sequences once and keep the best (reference notes §2.1).

Used by GrBAL/ReBAL (Nagabandi et al. 2019, Section 6: N = 500, H = 10) and as the PETS baseline
(Chua et al. 2018, Appendix: N = 2000 to 2500). Candidates are uniform in the bounds, or Gaussian around the
warm start (the midpoint without one), clipped to the bounds. Executes the best candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor

from dynadapt.planning.base import Objective, Planner, PlannerConfig


@dataclass
class RSConfig(PlannerConfig):
    """Random shooting."""

    name: ClassVar[str] = "rs"

    population: int = 2000
    """N: candidate sequences (PETS RS: 2000 cartpole/reacher, 2500 pusher/halfcheetah; GrBAL: 500)."""
    distribution: Literal["uniform", "gaussian"] = "uniform"
    """``uniform`` in the bounds (PETS, GrBAL) or ``gaussian`` around the warm start, clipped."""
    init_std: float = 0.5
    """Gaussian candidates only: σ as a fraction of the half-width (ub − lb)/2."""

    def __post_init__(self) -> None:
        self._check_positive_int(population=self.population)
        self._check(
            self.distribution in ("uniform", "gaussian"),
            f"distribution must be uniform or gaussian, got {self.distribution!r}",
        )
        self._check(self.init_std > 0, f"init_std must be > 0, got {self.init_std}")


class RSPlanner(Planner):
    """Random shooting; see the module docstring."""

    name: ClassVar[str] = "rs"
    cfg: RSConfig

    def __init__(
        self, cfg: RSConfig, low: Tensor, high: Tensor, horizon: int, generator: torch.Generator
    ) -> None:
        super().__init__(cfg, low, high, horizon, generator)

    def _plan(self, objective: Objective, warm_start: Tensor | None) -> Tensor:
        cfg = self.cfg
        shape = (cfg.population, self.horizon, self.act_dim)
        if cfg.distribution == "uniform":
            u = torch.rand(shape, generator=self.generator, **self._tensor_kwargs())
            samples = torch.addcmul(self.low, u, self.high - self.low)
        else:
            noise = torch.randn(shape, generator=self.generator, **self._tensor_kwargs())
            samples = self.clip(torch.addcmul(self.initial_mean(warm_start), noise, cfg.init_std * self.half))
        returns = self.evaluate(objective, self.propose(samples))
        self.last_num_iterations = 1
        if not torch.isfinite(returns).any():
            return self.initial_mean(warm_start)
        return samples[returns.argmax()]
