"""The planner interface: maximise ``objective(actions[B, H, A]) -> returns[B]`` within action bounds.

A planner knows nothing about models. It is given an objective (usually an imagined rollout, see
:mod:`dynadapt.planning.rollout`, but the true dynamics work as well), per-dimension bounds ``low[A]`` and
``high[A]``, a horizon ``H`` and an explicit ``torch.Generator`` from which all of its randomness comes
(same generator state, same plan). ``plan(objective, warm_start)`` returns a plan ``[H, A]``.

Every planner has a config dataclass (subclass of :class:`PlannerConfig`) whose fields carry the names of
the paper's symbols and are validated in ``__post_init__``; :func:`dynadapt.planning.build_planner` turns a
config into a planner.

Conventions shared by all planners (reference notes §2.7):

* A NaN or infinite return ranks worst (it is replaced by ``-inf`` before ranking), so a diverged rollout
  never becomes an elite and never gets weight.
* The samples that are evaluated are the samples used to refit the distribution (already clipped).
* ``reset()`` clears all state carried between calls (episode start); ``shift(k)`` tells the planner that
  the first ``k`` actions of its last plan were executed, so that planners that carry their own state
  between steps (iCEM's mean and elites, MPPI's mean and previous action) can move it forward.
* Standard deviations in configs (``init_std``, ``sigma``) are fractions of the half-width of the bounds,
  ``(high - low) / 2``; for actions normalised to ``[-1, 1]`` (PDDM, HyperCRL) they are absolute.
* The state carried between calls is exportable as ``dict[str, Tensor]`` (``state_dict`` /
  ``load_state_dict``) for exact resume from a safetensors checkpoint. The generator is owned by the
  caller, who saves its state (``generator.get_state()``) alongside.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from dynadapt.errors import DynadaptError

Objective = Callable[[Tensor], Tensor]
"""``actions[B, H, A] -> returns[B]``: the quantity a planner maximises (higher is better)."""


@dataclass
class PlannerConfig:
    """Base class of the planner configs; ``name`` is the planner's registry name."""

    name: ClassVar[str] = ""

    def _check(self, condition: bool, message: str) -> None:
        if not condition:
            raise DynadaptError(f"invalid {self.name} planner config: {message}")

    def _check_positive_int(self, **fields: int) -> None:
        for key, value in fields.items():
            self._check(
                isinstance(value, int) and value >= 1, f"{key} must be an integer >= 1, got {value!r}"
            )

    def _check_fraction(self, key: str, value: float, *, closed_right: bool = False) -> None:
        ok = 0.0 <= value <= 1.0 if closed_right else 0.0 <= value < 1.0
        interval = "[0, 1]" if closed_right else "[0, 1)"
        self._check(ok, f"{key} must lie in {interval}, got {value!r}")


def sanitize_returns(returns: Tensor) -> Tensor:
    """Replace NaN and ±inf returns by ``-inf`` so that they rank worst. ``[B] -> [B]``."""
    return torch.where(torch.isfinite(returns), returns, torch.full_like(returns, -torch.inf))


class Planner(abc.ABC):
    """Base class: bounds, horizon, generator, evaluation counting, warm-start handling and state I/O.

    Subclasses implement :meth:`_plan`. Attributes after each :meth:`plan` call:

    * ``last_num_evaluations``: candidate action sequences (objective rows) evaluated by the last plan;
    * ``last_num_iterations``: optimisation iterations the last plan ran (less than configured when a
      planner stops early).
    """

    name: ClassVar[str] = ""
    needs_grad: ClassVar[bool] = False
    """Whether the planner differentiates the objective (gradient planners); others run under no_grad."""

    def __init__(
        self, cfg: PlannerConfig, low: Tensor, high: Tensor, horizon: int, generator: torch.Generator
    ) -> None:
        low = torch.as_tensor(low)
        high = torch.as_tensor(high, dtype=low.dtype, device=low.device)
        if not low.is_floating_point():
            low, high = low.float(), high.float()
        if low.dim() != 1 or low.shape != high.shape or low.numel() == 0:
            raise DynadaptError(
                f"action bounds must be 1-D of equal shape [A], got {tuple(low.shape)}, {tuple(high.shape)}"
            )
        if not (torch.isfinite(low).all() and torch.isfinite(high).all() and (low < high).all()):
            raise DynadaptError(f"action bounds must be finite with low < high, got {low} and {high}")
        if not isinstance(horizon, int) or horizon < 1:
            raise DynadaptError(f"planning horizon must be an integer >= 1, got {horizon!r}")
        self.cfg = cfg
        self.low = low
        self.high = high
        self.horizon = horizon
        self.act_dim = low.shape[0]
        self.generator = generator
        self.mid = (low + high) / 2
        """Midpoint of the bounds ``[A]``."""
        self.half = (high - low) / 2
        """Half-width of the bounds ``[A]``: the unit of every configured standard deviation."""
        self.last_num_evaluations = 0
        self.last_num_iterations = 0

    # ------------------------------------------------------------------ public API
    def plan(self, objective: Objective, warm_start: Tensor | None = None) -> Tensor:
        """Maximise ``objective`` and return the plan ``[H, A]`` (within the bounds unless documented).

        ``warm_start[H, A]`` (optional) is the initial mean, typically the previous plan shifted by the
        executed steps; planners that keep their own mean between calls (iCEM, MPPI) use theirs instead
        and fall back to ``warm_start`` only when they have none. Without either, the midpoint.
        """
        if warm_start is not None:
            warm_start = torch.as_tensor(warm_start, dtype=self.low.dtype, device=self.low.device)
            if warm_start.shape != (self.horizon, self.act_dim):
                raise DynadaptError(
                    f"warm start must have shape [H, A] = {[self.horizon, self.act_dim]}, "
                    f"got {list(warm_start.shape)}"
                )
            warm_start = self.clip(warm_start.detach())
        self.last_num_evaluations = 0
        self.last_num_iterations = 0
        if self.needs_grad:
            return self._plan(objective, warm_start).detach()
        with torch.no_grad():
            return self._plan(objective, warm_start)

    def reset(self) -> None:  # noqa: B027 (no state by default)
        """Forget everything carried between calls (call at episode start)."""

    def shift(self, steps: int) -> None:  # noqa: B027 (no state by default)
        """The first ``steps`` actions of the last plan were executed: move carried state forward."""

    def state_dict(self) -> dict[str, Tensor]:
        """The state carried between calls, as tensors (empty for planners without such state)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        """Restore what :meth:`state_dict` returned."""
        if state:
            raise DynadaptError(f"{self.name} planner carries no state, got keys {sorted(state)}")

    # ------------------------------------------------------------------ helpers for subclasses
    @abc.abstractmethod
    def _plan(self, objective: Objective, warm_start: Tensor | None) -> Tensor:
        """Planner-specific optimisation; ``warm_start`` is already validated and clipped."""

    def evaluate(self, objective: Objective, actions: Tensor) -> Tensor:
        """Evaluate ``actions[B, H, A]`` -> ``returns[B]``; counts rows and maps NaN/inf to ``-inf``."""
        returns = objective(actions)
        if returns.shape != actions.shape[:1]:
            raise DynadaptError(
                f"objective must return one value per candidate, shape [{actions.shape[0]}], "
                f"got {list(returns.shape)}"
            )
        self.last_num_evaluations += actions.shape[0]
        return sanitize_returns(returns)

    def clip(self, actions: Tensor) -> Tensor:
        """Clip ``[..., A]`` to the bounds (a new tensor)."""
        return torch.maximum(torch.minimum(actions, self.high), self.low)

    def initial_mean(self, warm_start: Tensor | None) -> Tensor:
        """``warm_start`` or, without one, the midpoint of the bounds repeated over the horizon. ``[H, A]``"""
        if warm_start is not None:
            return warm_start.clone()
        return self.mid.expand(self.horizon, self.act_dim).clone()

    def _tensor_kwargs(self) -> dict[str, Any]:
        return {"dtype": self.low.dtype, "device": self.low.device}

    def _check_state(
        self, state: Mapping[str, Tensor], allowed: Mapping[str, tuple[int | None, ...]]
    ) -> None:
        """Raise unless every key of ``state`` is allowed and has the given shape (None: any size)."""
        for key, value in state.items():
            if key not in allowed:
                raise DynadaptError(f"unexpected key {key!r} in {self.name} planner state")
            shape = allowed[key]
            if value.dim() != len(shape) or any(s is not None and s != v for s, v in zip(shape, value.shape)):
                raise DynadaptError(
                    f"{self.name} planner state {key!r} has shape {list(value.shape)}, expected {list(shape)}"
                )


def shift_plan(plan: Tensor, steps: int, fill: Tensor) -> Tensor:
    """Drop the first ``steps`` rows of ``plan[H, A]`` and append ``fill[A]`` as often. ``-> [H, A]``"""
    if steps <= 0:
        return plan.clone()
    horizon = plan.shape[0]
    tail = fill.expand(min(steps, horizon), plan.shape[1])
    return torch.cat([plan[steps:], tail], dim=0)
