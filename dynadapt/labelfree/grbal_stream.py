"""GrBAL in the stream: meta-learned online adaptation without memory (issue 16's third baseline).

Nagabandi, Clavera et al. 2019, "Learning to Adapt in Dynamic, Real-World Environments through
Meta-Reinforcement Learning" (ICLR; reference §5.1-§5.2). The existing meta-learner
(:class:`dynadapt.meta.grbal.GrBAL`) is reused as it is: each training session is ``steps_per_session``
outer steps of its meta-objective on the ``M + K``-step segments of a bounded FIFO of the stream
(:meth:`GrBAL.fit` with ``steps``); at every step :class:`dynadapt.meta.online.GradientAdapter` in mode
``"reset"`` restarts from θ* and takes the inner step(s) on the last M transitions of the episode.

No memory: every return to a situation is adapted from scratch, and nothing of an adaptation survives an
episode start or a training session (pitfall G12). GrBAL has no notion of a situation: ``situation`` is -1.
The FIFO stores no labels (every ``task_id`` is 0), so a meta-training segment may span a mid-episode
switch, as for every label-free learner.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor

from dynadapt.checks import check, check_fields
from dynadapt.errors import CorruptFileError
from dynadapt.io import flatten, unflatten
from dynadapt.labelfree.baselines import (
    Baseline,
    StreamMemory,
    check_model,
    count,
    load_window,
    set_generator_state,
    window_state,
)
from dynadapt.meta.grbal import GrBAL, GrBALConfig
from dynadapt.meta.online import GradientAdapter
from dynadapt.models.dynamics import DynamicsModel
from dynadapt.types import Params


def _stream_grbal() -> GrBALConfig:
    return GrBALConfig(holdout_ratio=0.0)


@dataclass
class GrBALStreamConfig:
    """GrBAL baseline (Nagabandi, Clavera et al. 2019) trained in sessions on a bounded FIFO of the stream
    and adapted online from the last M transitions (no memory of earlier situations)."""

    name: ClassVar[str] = "grbal"

    meta: GrBALConfig = field(default_factory=_stream_grbal)
    """The meta-learner: M, K, inner step, outer learning rates, meta-batch (the session length is
    ``steps_per_session``, so its epoch and early-stopping fields matter only for validation, which the
    stream's default turns off: holdout_ratio=0)."""
    steps_per_session: int = 100
    """Outer (meta) steps per training session."""
    capacity: int = 20000
    """Transitions kept (a FIFO: the oldest leave first)."""

    def __post_init__(self) -> None:
        check_fields(self, "grbal.")
        check(
            (self.steps_per_session >= 1, "grbal.steps_per_session must be >= 1"),
            (self.capacity >= self.meta.M + self.meta.K, "grbal.capacity must hold M + K transitions"),
        )

    def build(self, model: DynamicsModel, generator: torch.Generator) -> GrBALStreamLearner:
        return GrBALStreamLearner(model, self, generator)


class GrBALStreamLearner(Baseline):
    """The GrBAL baseline as a :class:`~dynadapt.labelfree.base.StreamLearner` (see the module docstring).

    ``grbal`` is the meta-learner (θ = ``model.params``, ψ, the outer optimiser); ``adapter`` the online
    adaptation (its window is the last M transitions of the episode).
    """

    def __init__(self, model: DynamicsModel, cfg: GrBALStreamConfig, generator: torch.Generator) -> None:
        super().__init__()
        self.model = check_model(model, generator, "GrBAL")
        self.cfg = cfg
        self.generator = generator
        meta = cfg.meta
        self.grbal = GrBAL(model, meta, generator)
        self.adapter = GradientAdapter(
            model,
            meta.M,
            self.grbal.step_size,
            meta.inner_steps,
            mode="reset",
            min_window=meta.adapt_from or meta.M,
        )
        self.memory = StreamMemory(cfg.capacity, model.obs_dim, model.act_dim)
        self.sessions = 0
        self._cache: Params | None = None

    def num_params(self) -> int:
        """Meta-trained numbers: θ (+ ψ when the step sizes are learned)."""
        return count(self.grbal.trainable())

    # ---------------------------------------------------------------------------- the StreamLearner API
    def window_add(self, obs: Tensor, act: Tensor, next_obs: Tensor) -> None:
        """The transition joins the adaptation window."""
        self.adapter.observe(obs, act, next_obs)

    def window_clear(self) -> None:
        """Episode start: the adaptation is dropped too (planning uses θ* again, pitfall G12)."""
        self.adapter.reset()

    def params(self) -> Params:
        """θ' adapted from θ* on the last M transitions (θ* until the window holds ``adapt_from``)."""
        if self._cache is None:
            with self.timed():
                self._cache = self.adapter.params()
        return self._cache

    @property
    def situation(self) -> int:
        return -1

    def train(self) -> dict[str, float]:
        """``steps_per_session`` outer steps of GrBAL's meta-objective on the FIFO (skipped while no episode
        holds M + K transitions); every adaptation made before is dropped (G12)."""
        meta = self.cfg.meta
        self._cache = None
        if self.memory.buffer.segment_starts(meta.M + meta.K).numel() == 0:
            return {"train/steps": 0.0, "train/skipped": 1.0}
        res = self.grbal.fit(self.memory.buffer, steps=self.cfg.steps_per_session)
        self.adapter.clear()
        self.sessions += 1
        out = {"train/loss": res.train_loss, "train/steps": float(res.steps), "train/skipped": 0.0}
        held_out = {"model/val_loss": res.val_loss, "model/val_pre_loss": res.val_pre_loss}
        return out | {k: v for k, v in held_out.items() if not math.isnan(v)}

    # -------------------------------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Tensor]:
        """ψ and the outer optimiser's state (GrBAL's own), the FIFO, the window and the random state (θ is
        saved with the model, its owner)."""
        return (
            flatten("grbal", self.grbal.state_dict())
            | flatten("memory", self.memory.state_dict())
            | flatten("window", window_state(self.adapter.window))
            | {"rng": self.generator.get_state()}
        )

    def load_state_dict(self, state: dict[str, Tensor], /) -> None:
        try:
            self.grbal.load_state_dict(unflatten("grbal", state))
            self.memory.load_state_dict(unflatten("memory", state))
            load_window(self.adapter.window, unflatten("window", state))
            set_generator_state(self.generator, state["rng"])
        except KeyError as e:
            raise CorruptFileError(f"GrBAL state: missing {e}") from None
        self.adapter.clear()
        self._cache = None
