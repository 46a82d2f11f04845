"""Online adaptation by gradient steps inside the MPC loop: GrBAL, MB+DE, "continue adapting", MB.

One :class:`GradientAdapter` serves four methods that differ only in how θ' is formed before each plan
(reference §5.1, §5.5, §5.6):

* ``mode="reset"`` — GrBAL and MB+DE (dynamic evaluation): every step restarts from θ* and takes the
  inner step(s) on the last ``M`` transitions of the current episode (GrBAL Alg. 1, test time: "updates
  are not cumulative"). With a meta-trained θ* and ψ this is GrBAL; with a plainly trained model and a
  fixed α it is MB+DE.
* ``mode="continue"`` — MOLe's "continued adaptation" baseline: the step(s) on the same window start from
  the previous step's θ' instead of θ* (Nagabandi et al. 2019, "Deep Online Learning via Meta-Learning";
  reference §5.6), so updates accumulate over the episode.
* ``mode="none"`` — MB: plan with θ*.

Pitfalls handled: the window includes the newest transition (G6); θ* is read from the model at every
adaptation and :meth:`clear` (after each fit) and :meth:`reset` (episode start) drop every adapted
parameter, so nothing adapted before a fit or in a previous episode is ever used again (G12).
"""

from __future__ import annotations

import time
from typing import Literal

import torch

from dynadapt.errors import DynadaptError
from dynadapt.meta.base import Window, detached
from dynadapt.meta.grbal import StepSize, inner_update
from dynadapt.models.dynamics import DynamicsModel
from dynadapt.types import Params

AdaptMode = Literal["reset", "continue", "none"]
ADAPT_MODES: tuple[str, ...] = ("reset", "continue", "none")


class GradientAdapter:
    """Gradient-step online adaptation of ``model`` (see the module docstring).

    Args:
        model: the dynamics model; ``model.params`` is θ* (read afresh at every adaptation).
        M: window length.
        lr: α (float) or per-element ψ (dict shaped like the network params; detached on use).
        steps: gradient steps per adaptation.
        mode: ``"reset"``, ``"continue"`` or ``"none"``.
        min_window: adapt only once the window holds at least this many transitions (θ* before); 1
            adapts from the first transition of an episode.
    """

    def __init__(
        self,
        model: DynamicsModel,
        M: int,
        lr: StepSize,
        steps: int = 1,
        mode: AdaptMode = "reset",
        min_window: int = 1,
    ) -> None:
        if mode not in ADAPT_MODES:
            raise DynadaptError(f"unknown adaptation mode {mode!r}; valid: {', '.join(ADAPT_MODES)}")
        if not 1 <= min_window <= M:
            raise DynadaptError(f"min_window must be in [1, M = {M}], got {min_window}")
        self.min_window = min_window
        self.model = model
        self.window = Window(M)
        self.lr: StepSize = detached(lr) if isinstance(lr, dict) else lr
        self.steps = steps
        self.mode: AdaptMode = mode
        self.adapted: Params | None = None
        """The last θ' (None after reset/clear or before the first adaptation)."""
        self.adapt_ms_total = 0.0
        self.adapt_calls = 0

    def reset(self) -> None:
        """Episode start: empty the window and drop the adapted parameters (G12)."""
        self.window.clear()
        self.adapted = None

    def clear(self) -> None:
        """After a fit: drop the adapted parameters so the next adaptation starts from the new θ* (G12)."""
        self.adapted = None

    def observe(self, obs: object, act: object, next_obs: object) -> None:
        """Record the transition just executed (it is part of the next adaptation window, G6)."""
        self.window.add(obs, act, next_obs)

    def _mse(self, params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.model.mse(params, x, y).sum()

    def params(self) -> Params:
        """θ' to plan with now (stacked ``[1, ...]``, detached); θ* when nothing can be adapted yet."""
        theta = detached(self.model.params)
        if self.mode == "none" or len(self.window) < self.min_window:
            return theta
        start = time.perf_counter()
        obs, act, nxt = self.window.tensors()
        base = self.adapted if self.mode == "continue" and self.adapted is not None else theta
        with torch.no_grad():
            x, y = self.model.transitions({"obs": obs, "act": act, "next_obs": nxt})
            new = inner_update(
                self._mse, base, x.unsqueeze(0), y.unsqueeze(0), self.lr, self.steps, first_order=True
            )
            self.adapted = detached(new)
        self.adapt_ms_total += (time.perf_counter() - start) * 1e3
        self.adapt_calls += 1
        return self.adapted

    @property
    def mean_adapt_ms(self) -> float:
        return self.adapt_ms_total / self.adapt_calls if self.adapt_calls else 0.0
