"""The methods of kind meta: what each fits on all data (a meta-learner for grbal and rebal, the model alone
for mb, mbde and continue) and how it adapts online before each plan (its adapter)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch

from dynadapt.meta.base import Adapter
from dynadapt.meta.grbal import GrBAL
from dynadapt.meta.online import AdaptMode, GradientAdapter
from dynadapt.meta.rebal import ReBAL
from dynadapt.models.dynamics import DynamicsModel

if TYPE_CHECKING:
    from dynadapt.runs.meta.loop import MetaConfig

Method = Literal["grbal", "rebal", "mb", "mbde", "continue"]
METHODS: tuple[str, ...] = ("grbal", "rebal", "mb", "mbde", "continue")
MODES: dict[str, AdaptMode] = {"mb": "none", "mbde": "reset", "continue": "continue"}
"""How the methods without a meta-learner adapt: not at all, steps from θ*, or steps accumulated."""


def make_learner(cfg: MetaConfig, model: DynamicsModel, generator: torch.Generator) -> GrBAL | ReBAL | None:
    """The meta-learner of grbal / rebal on ``model`` (None for the other methods)."""
    if cfg.method == "grbal":
        return GrBAL(model, cfg.grbal, generator)
    return ReBAL(model, cfg.rebal, generator) if cfg.method == "rebal" else None


def make_adapter(cfg: MetaConfig, model: DynamicsModel, learner: GrBAL | ReBAL | None) -> Adapter:
    """The online adapter: ReBAL's recurrent context, GrBAL's meta-learned gradient step, or plain gradient
    steps (mbde, continue; none for mb) on the last M transitions, from the first full window of
    ``grbal.adapt_from`` (default M) transitions."""
    window = cfg.grbal.adapt_from or cfg.grbal.M
    if isinstance(learner, ReBAL):
        return learner.make_adapter()
    if isinstance(learner, GrBAL):
        steps = cfg.grbal.inner_steps
        return GradientAdapter(model, cfg.grbal.M, learner.step_size, steps, min_window=window)
    mode = MODES[cfg.method]
    return GradientAdapter(model, cfg.grbal.M, cfg.de_lr, cfg.de_steps, mode=mode, min_window=window)
