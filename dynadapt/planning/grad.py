"""Gradient-based planning: Adam on the action sequences through the differentiable objective.

After HyperCRL's gradient planner (``hypercrl/control/grad.py``; reference notes §2.6), with its weaknesses
fixed (H15): the candidates are projected onto the action bounds after every step, and the best candidate
is chosen by returns re-evaluated **after** the last step. Adam replaces HyperCRL's RMSprop (lr 0.1).

* ``grad``: K candidates (restarts; the first one is the warm start when given) optimised for
  ``iterations`` Adam steps; each time step's gradient is clipped to norm ≤ ``max_grad_norm`` per
  candidate, as HyperCRL does.
* ``cem-grad``: PETS CEM (:mod:`dynadapt.planning.cem`) first, then the same gradient refinement of its
  final mean and best elites.

The actions are optimised in normalised coordinates z ∈ [−1, 1]^A, a = mid + z · (ub − lb)/2, so ``lr``
is a fraction of the half-width. Non-finite gradients (from diverged rollouts) are zeroed; such candidates
keep their actions and rank last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from dynadapt.errors import DynadaptError
from dynadapt.planning.base import Objective, Planner, PlannerConfig
from dynadapt.planning.cem import CEMConfig, CEMPlanner


def _check_grad_fields(cfg: PlannerConfig, iterations: int, lr: float, max_grad_norm: float) -> None:
    cfg._check(
        isinstance(iterations, int) and iterations >= 0, f"iterations must be >= 0, got {iterations!r}"
    )
    cfg._check(lr > 0, f"lr must be > 0, got {lr}")
    cfg._check(max_grad_norm >= 0, f"max_grad_norm must be >= 0 (0: no clipping), got {max_grad_norm}")


@dataclass
class GradConfig(PlannerConfig):
    """Gradient-based planner (HyperCRL ``grad.py`` with bounds and a final re-evaluation)."""

    name: ClassVar[str] = "grad"

    population: int = 16
    """K: candidate sequences optimised in parallel (restarts)."""
    iterations: int = 30
    """Adam steps per planning call (HyperCRL ``opt_iters``)."""
    lr: float = 0.1
    """Adam step size as a fraction of the half-width (HyperCRL's RMSprop: 0.1 for actions in [−1, 1])."""
    init_std: float = 0.5
    """σ of the random initial candidates around the warm start, as a fraction of the half-width."""
    max_grad_norm: float = 1.0
    """Clip each time step's action gradient to this norm per candidate (HyperCRL: 1; 0: no clipping)."""

    def __post_init__(self) -> None:
        self._check_positive_int(population=self.population)
        _check_grad_fields(self, self.iterations, self.lr, self.max_grad_norm)
        self._check(self.init_std > 0, f"init_std must be > 0, got {self.init_std}")


def refine(
    planner: Planner, objective: Objective, init: Tensor, iterations: int, lr: float, max_grad_norm: float
) -> tuple[Tensor, Tensor]:
    """Projected Adam ascent on ``init[K, H, A]``; returns ``(candidates[K, H, A], returns[K])``.

    The returns are re-evaluated after the last step (no stale costs, H15); evaluations are counted on
    ``planner``.
    """
    half, mid = planner.half, planner.mid
    z = ((init - mid) / half).clamp(-1.0, 1.0).detach().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=lr)
    with torch.enable_grad():
        for _ in range(iterations):
            optimizer.zero_grad(set_to_none=False)
            returns = planner.evaluate(objective, torch.addcmul(mid, z, half))
            finite = torch.isfinite(returns)
            loss = -torch.where(finite, returns, torch.zeros_like(returns)).sum()
            if loss.requires_grad:
                loss.backward()
            grad = z.grad
            if grad is None:
                raise DynadaptError("the gradient planner needs an objective differentiable in the actions")
            torch.nan_to_num_(grad, nan=0.0, posinf=0.0, neginf=0.0)
            grad.mul_(finite[:, None, None])
            if max_grad_norm > 0:  # per candidate and time step
                norm = grad.norm(dim=-1, keepdim=True)
                grad.mul_((max_grad_norm / (norm + 1e-12)).clamp(max=1.0))
            optimizer.step()
            with torch.no_grad():
                z.clamp_(-1.0, 1.0)  # projection onto the bounds
    with torch.no_grad():
        candidates = torch.addcmul(mid, z.detach(), half)
        return candidates, planner.evaluate(objective, candidates)


class GradPlanner(Planner):
    """Gradient-based planner; see the module docstring."""

    name: ClassVar[str] = "grad"
    needs_grad: ClassVar[bool] = True
    cfg: GradConfig

    def __init__(
        self, cfg: GradConfig, low: Tensor, high: Tensor, horizon: int, generator: torch.Generator
    ) -> None:
        super().__init__(cfg, low, high, horizon, generator)

    def _plan(self, objective: Objective, warm_start: Tensor | None) -> Tensor:
        cfg = self.cfg
        center = self.initial_mean(warm_start)
        shape = (cfg.population, self.horizon, self.act_dim)
        noise = torch.randn(shape, generator=self.generator, **self._tensor_kwargs())
        init = self.propose(self.clip(torch.addcmul(center, noise, cfg.init_std * self.half)))
        if warm_start is not None:
            init[0] = warm_start
        self.last_num_iterations = cfg.iterations
        candidates, returns = refine(self, objective, init, cfg.iterations, cfg.lr, cfg.max_grad_norm)
        if not torch.isfinite(returns).any():
            return center
        return candidates[returns.argmax()]


@dataclass
class CEMGradConfig(CEMConfig):
    """PETS CEM followed by gradient refinement of its mean and best elites."""

    name: ClassVar[str] = "cem-grad"

    refine: int = 4
    """Sequences refined by gradient: the CEM mean and the ``refine − 1`` best last-iteration elites."""
    grad_iterations: int = 10
    """Adam steps of the refinement."""
    lr: float = 0.05
    """Adam step size of the refinement, as a fraction of the half-width."""
    max_grad_norm: float = 1.0
    """Per candidate and time step gradient-norm clip (0: none)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_positive_int(refine=self.refine)
        _check_grad_fields(self, self.grad_iterations, self.lr, self.max_grad_norm)


class CEMGradPlanner(CEMPlanner):
    """CEM, then projected Adam refinement; executes the best refined sequence (re-evaluated)."""

    name: ClassVar[str] = "cem-grad"
    needs_grad: ClassVar[bool] = True
    cfg: CEMGradConfig

    def __init__(
        self, cfg: CEMGradConfig, low: Tensor, high: Tensor, horizon: int, generator: torch.Generator
    ) -> None:
        super().__init__(cfg, low, high, horizon, generator)

    def _plan(self, objective: Objective, warm_start: Tensor | None) -> Tensor:
        cfg = self.cfg
        with torch.no_grad():
            result = self.optimize(objective, warm_start)
        init = torch.cat([result.mean.unsqueeze(0), result.elites[: cfg.refine - 1]])
        candidates, returns = refine(self, objective, init, cfg.grad_iterations, cfg.lr, cfg.max_grad_norm)
        if not torch.isfinite(returns).any():
            return result.mean
        return candidates[returns.argmax()]
