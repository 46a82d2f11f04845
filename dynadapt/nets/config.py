"""The settings every network trained by minibatch Adam regression shares: the base of the configs of the
value critics (:mod:`dynadapt.policy.critic`), the inverse and action-free models
(:mod:`dynadapt.models.inverse`), the distilled policy (:mod:`dynadapt.policy.distill`) and SAC; and
:func:`minibatch_steps`, the fixed-length fit loop of the regressions.

A subclass changes a default by declaring the field again without a docstring (``--help`` keeps this one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor


@dataclass
class NetConfig:
    """A functional MLP (:mod:`dynadapt.nets.mlp`) and its Adam minibatches."""

    hidden: tuple[int, ...] = (200, 200)
    """Hidden layer widths."""
    activation: Literal["relu", "silu", "elu", "tanh"] = "relu"
    """Hidden activation."""
    lr: float = 1e-3
    """Adam learning rate."""
    batch_size: int = 256
    """Minibatch size."""

    def net_checks(self, prefix: str) -> list[tuple[bool, str]]:
        """The conditions on these fields (``hidden`` made a tuple), messages naming ``prefix.field``."""
        self.hidden = tuple(self.hidden)
        return [
            (len(self.hidden) >= 1 and all(h >= 1 for h in self.hidden), f"{prefix}.hidden must be positive"),
            (self.activation in ("relu", "silu", "elu", "tanh"), f"{prefix}.activation is not known"),
            (self.lr > 0, f"{prefix}.lr must be > 0"),
            (self.batch_size >= 1, f"{prefix}.batch_size must be >= 1"),
        ]


def minibatch_steps(optimizer: torch.optim.Optimizer, steps: int, loss: Callable[[], Tensor]) -> float:
    """``steps`` optimiser steps on ``loss()`` (which draws its own minibatch); the mean loss of the last
    tenth of the steps (NaN for no steps)."""
    tail: list[float] = []
    for step in range(steps):
        value = loss()
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        if step >= steps - max(1, steps // 10):
            tail.append(float(value.detach()))
    return float(np.mean(tail)) if tail else float("nan")
