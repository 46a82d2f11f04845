"""The contract every learner of a situation stream fulfils (issue 16: continual dynamics without labels).

A *stream* (:mod:`dynadapt.envs.streams`) plays situations (physical parameter settings) one after another,
switching at episode boundaries or mid-episode, and situations recur (A B A C B A ...). A
:class:`StreamLearner` keeps a dynamics model right along the stream. The run loop
(:mod:`dynadapt.runs.labelfree`) drives every learner the same way::

    learner.reset()                                # episode start (the recent window empties)
    for every env step:
        objective.params = learner.params()        # params to plan with now
        act = agent.act(obs)                       # MPC on model.predict(params, obs, act)
        next_obs, ... = env.step(act)
        learner.observe(obs, act, next_obs, label) # label: the true situation (only task-aware reads it)
        if due: metrics = learner.train()          # a training session, every `train_every` steps

Every learner plans through one :class:`~dynadapt.models.dynamics.DynamicsModel` (``learner.model``):
``params()`` returns a params dict stacked ``[1, ...]`` for ``model.predict`` (a generated, selected or
adapted network), so every planner and rollout works unchanged (design principle 1). The model's task-0
normalisers are set by the loop from the warm-up data and then frozen; learners use
``model.transitions(data)`` for their normalised inputs and targets.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from torch import Tensor

from dynadapt.models.dynamics import DynamicsModel
from dynadapt.types import Params


@runtime_checkable
class StreamLearner(Protocol):
    """A dynamics learner living through a stream of situations (see the module docstring)."""

    model: DynamicsModel
    """The network whose ``predict`` the planner calls with :meth:`params`."""
    ident_ms_total: float
    """Wall milliseconds spent identifying or adapting (in :meth:`observe`, :meth:`params`) so far; the loop
    reports it per step beside the planning time."""

    def reset(self) -> None:
        """Episode start: transitions across a reset are not contiguous, so the recent window empties.
        What was learned or identified (the current situation, the library) is kept."""

    def observe(self, obs: np.ndarray, act: np.ndarray, next_obs: np.ndarray, label: int) -> None:
        """Record the transition just executed. ``label`` is the true situation's index in the stream;
        label-free learners must not read it (only the task-aware reference does)."""

    def params(self) -> Params:
        """Detached params stacked ``[1, ...]`` to plan with now (identification/adaptation happens here or
        in :meth:`observe`; what is cached is never regenerated per step)."""

    def train(self) -> dict[str, float]:
        """One training session on the learner's own bounded data; returns namespaced metrics
        (``train/...``, ``model/...``)."""

    @property
    def situation(self) -> int:
        """The situation the learner believes it is in now: an index into its own library (-1 before the
        first); for the task-aware reference, the true label; for learners without a notion of situation
        (GrBAL), -1."""

    def state_dict(self) -> dict[str, Tensor]:
        """Every tensor needed to resume (safetensors-compatible flat dict)."""

    def load_state_dict(self, state: dict[str, Tensor], /) -> None: ...

    def meta(self) -> dict[str, object]:
        """JSON-serialisable non-tensor state needed to resume (counts, current situation, step counters)."""

    def load_meta(self, meta: dict[str, object], /) -> None: ...
