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
* Policy proposals (TD-MPC2's policy prior, Hansen et al. 2024, Section 3.3; BMPC): ``plan`` may be given
  candidate sequences ``proposals[M, H, A]`` sampled from a learned policy. Every population a planner
  samples passes through :meth:`Planner.propose`, which puts the proposals in its last ``M`` rows, so they
  are evaluated, ranked and refitted to like the planner's own samples; without a warm start the first
  proposal is the initial mean (the policy warm-starts the distribution).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from dynadapt.checks import as_tensor, short
from dynadapt.errors import DynadaptError, WrongTypeError

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
        low = as_tensor(low, "action bounds low")
        high = as_tensor(high, "action bounds high", low.dtype, low.device)
        if not low.is_floating_point():
            low, high = low.float(), high.float()
        if low.dim() != 1 or low.shape != high.shape or low.numel() == 0:
            raise DynadaptError(
                f"action bounds must be 1-D of equal shape [A], got {tuple(low.shape)}, {tuple(high.shape)}"
            )
        if not (torch.isfinite(low).all() and torch.isfinite(high).all() and (low < high).all()):
            raise DynadaptError(f"action bounds must be finite with low < high, got {low} and {high}")
        if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
            raise DynadaptError(f"planning horizon must be an integer >= 1, got {horizon!r}")
        if not isinstance(generator, torch.Generator):
            raise WrongTypeError(f"a planner draws from a torch.Generator, got {short(generator)}")
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
        self._proposals: Tensor | None = None

    # ------------------------------------------------------------------ public API
    def plan(
        self, objective: Objective, warm_start: Tensor | None = None, proposals: Tensor | None = None
    ) -> Tensor:
        """Maximise ``objective`` and return the plan ``[H, A]`` (within the bounds unless documented).

        ``warm_start[H, A]`` (optional) is the initial mean, typically the previous plan shifted by the
        executed steps; planners that keep their own mean between calls (iCEM, MPPI) use theirs instead
        and fall back to ``warm_start`` only when they have none. Without either, the midpoint, or the
        first of the ``proposals[M, H, A]`` (optional, clipped to the bounds; see :meth:`propose`).
        """
        warm_start = None if warm_start is None else self.clip(self._sequences(warm_start, "warm start"))
        if proposals is not None:
            self._proposals = self.clip(self._sequences(proposals, "proposals", stacked=True))
            warm_start = self._proposals[0].clone() if warm_start is None else warm_start
        self.last_num_evaluations = 0
        self.last_num_iterations = 0
        try:
            if self.needs_grad:
                return self._plan(objective, warm_start).detach()
            with torch.no_grad():
                return self._plan(objective, warm_start)
        finally:
            self._proposals = None

    def _sequences(self, x: Tensor, what: str, stacked: bool = False) -> Tensor:
        """``x`` as a detached tensor of the planner's dtype, checked to be ``[H, A]`` (or ``[M, H, A]``)."""
        x = as_tensor(x, what, self.low.dtype, self.low.device).detach()
        want = (self.horizon, self.act_dim)
        ok = x.dim() == 3 and x.shape[0] >= 1 and x.shape[1:] == want if stacked else x.shape == want
        if not ok:
            layout = "[M, H, A]" if stacked else "[H, A]"
            raise DynadaptError(
                f"{what} must have shape {layout}, [H, A] = {list(want)}; got {list(x.shape)}"
            )
        if not torch.isfinite(x).all():
            raise DynadaptError(f"{what} holds NaN or infinite actions")
        return x

    def propose(self, samples: Tensor) -> Tensor:
        """The population ``samples[N, H, A]`` with its last ``min(M, N)`` rows replaced by the proposals of
        the current :meth:`plan` call (in place; unchanged without proposals)."""
        if self._proposals is not None:
            m = min(self._proposals.shape[0], samples.shape[0])
            samples[samples.shape[0] - m :] = self._proposals[:m]
        return samples

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
