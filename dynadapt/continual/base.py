"""The continual-strategy interface: small objects with hooks, sharing one loop, data, planner and
normalisation (design principle 8; reference §4.4: all methods use the same data, schedule, CEM and
per-task input normalisation).

The loop calls, for task ``t``::

    strategy.before_task(t, ctx)        # new embedding / head, targets snapshot, fresh optimisers
    repeat: strategy.train_round(t, x, y, steps, batch)   # update(t, x_b, y_b) on minibatches, end_round(t)
            strategy.params_for(t)      # detached params {name: [1, ...]} for planning and evaluation
    strategy.after_task(t, ctx)         # Fisher, SI importance, coreset, snapshot

``x[B, F + A]`` and ``y[B, O]`` are normalised with task ``t``'s own statistics (the dynamics model holds
the per-task normalisers, §4.5); the strategy evaluates ``DynamicsModel.loss`` on the params it owns, so
every method is scored by the same loss code. ``ctx.task_data(i)`` returns the (normalised) training data
of an earlier task for the strategies that replay (coreset, multitask); a task-agnostic variant would
replace the task index by an inferred one without changing this interface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from dynadapt.errors import UnknownNameError
from dynadapt.models.dynamics import DynamicsModel
from dynadapt.types import Params

TaskData = Callable[[int], tuple[Tensor, Tensor]]


@dataclass
class ContinualContext:
    """What a strategy may see of the loop at a task boundary."""

    task_data: TaskData
    """``task_data(i) -> (x[N, F + A], y[N, O])``: task i's training data normalised with its statistics."""
    num_tasks: int = 0
    """Tasks seen so far (including the current one)."""


@dataclass
class StrategyConfig:
    """Base of every strategy config (each subclass has a ``name`` and builds its strategy)."""

    name: ClassVar[str] = ""
    needs_all_data: ClassVar[bool] = False
    """True when the strategy trains on every old task's full data (the multitask oracle)."""

    def build(self, model: DynamicsModel, generator: torch.Generator) -> Strategy:
        raise NotImplementedError


class Strategy:
    """A continual-learning method. Subclasses implement the hooks they need."""

    def __init__(self, model: DynamicsModel, generator: torch.Generator) -> None:
        self.model = model
        self.generator = generator

    def before_task(self, t: int, ctx: ContinualContext) -> None:
        """Called when task ``t`` starts (before any data of it is trained on)."""

    def update(self, t: int, x: Tensor, y: Tensor) -> dict[str, float]:
        """One gradient step on the minibatch ``x[B, F + A], y[B, O]`` of task ``t``; returns metrics."""
        raise NotImplementedError

    def end_round(self, t: int) -> None:
        """Called after each training round (a block of :meth:`update` calls): invalidate caches."""

    def train_round(self, t: int, x: Tensor, y: Tensor, steps: int, batch_size: int) -> dict[str, float]:
        """One training round on task t's data ``x[N, F + A], y[N, O]``: ``steps`` updates on minibatches
        of ``min(batch_size, N)`` rows drawn uniformly (indices from the strategy's generator), then
        :meth:`end_round`. Returns the last update's metrics."""
        metrics: dict[str, float] = {}
        n = x.shape[0]
        for _ in range(steps):
            idx = torch.randint(0, n, (min(batch_size, n),), generator=self.generator)
            metrics = self.update(t, x[idx], y[idx])
        self.end_round(t)
        return metrics

    def after_task(self, t: int, ctx: ContinualContext) -> None:
        """Called when task ``t`` ends (its data is final)."""

    def params_for(self, t: int) -> Params:
        """Detached params ``{name: [1, ...]}`` of the model used for task ``t``."""
        raise NotImplementedError

    def task_loss(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        """The dynamics model's loss (batch mean) of ``params [1, ...]`` on ``x[B, F+A], y[B, O]``: scalar."""
        return self.model.loss(params, x.unsqueeze(0), y.unsqueeze(0)).sum()

    def resumed(self, t: int, ctx: ContinualContext) -> None:
        """Called instead of :meth:`before_task` when a run continues task ``t`` from a checkpoint."""

    def state_dict(self) -> dict[str, Tensor]:
        """Everything the strategy learned, self-describing: counts (heads, trunks, ...) are int64 scalars
        under ``count.*``, so that :meth:`load_state_dict` needs nothing else."""
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Tensor], /) -> None:
        raise NotImplementedError


def count_tensor(n: int) -> Tensor:
    """A count stored in a strategy's state dict (``count.<name>``): an int64 scalar."""
    return torch.tensor(n, dtype=torch.int64)


def read_count(state: dict[str, Tensor], name: str) -> int:
    """The count ``count.<name>`` of a state dict (0 when absent)."""
    value = state.get(f"count.{name}")
    return 0 if value is None else int(value.item())


STRATEGIES: dict[str, type[StrategyConfig]] = {}
"""Strategy configs by name (the choices of the run config's ``strategy`` field)."""


def register_strategy(cls: type[StrategyConfig]) -> type[StrategyConfig]:
    STRATEGIES[cls.name] = cls
    return cls


def get_strategy(name: str) -> type[StrategyConfig]:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UnknownNameError("continual strategy", name, STRATEGIES) from None


def adam(params: list[Tensor], lr: float) -> torch.optim.Adam:
    """The Adam optimiser every continual strategy uses: PyTorch's fused kernel (one pass per tensor;
    on the CPU 2.5 times faster than the default per-op loop for HyperCRL's 160 k-parameter hypernetwork,
    the same update up to rounding)."""
    return torch.optim.Adam(params, lr=lr, fused=True)


def adam_step_(opt: torch.optim.Optimizer, params: list[Tensor], clip: float) -> None:
    """Clip the gradient norm of ``params`` to ``clip`` (0: no clipping) and step ``opt``."""
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(params, clip)
    opt.step()
