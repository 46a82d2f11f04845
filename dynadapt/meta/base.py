"""Shared parts of the meta-learners: segment batches, the recent-transition window, the meta-fit loop.

GrBAL and ReBAL (Nagabandi, Clavera et al. 2019, "Learning to Adapt in Dynamic, Real-World Environments
through Meta-Reinforcement Learning", Alg. 1; reference §5.1) both train on trajectory segments
``τ(t−M, t+K)``: the first ``M`` transitions are the adaptation data (past), the next ``K`` the evaluation
data (future). Here ``M`` and ``K`` are independent (pitfall G7), a segment never crosses an episode
(:meth:`ReplayBuffer.segment_starts`) nor a mid-episode change of perturbation (``task_id``), and the
segments of one batch are drawn from as many different perturbations as the buffer holds ("a task
batch").

Normalisation (pitfall G4): inputs and Δ targets are z-scored with statistics of the *whole* buffer, merged
once at the start of every fit and constant during the fit and during every inner step; the buffer stores
raw data.

Validation and early stopping (pitfall G5): whole episodes are held out (:func:`holdout_mask` on the
episode index) and the monitored loss is the **post-adaptation** loss on their segments.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor

from dynadapt.data.buffer import ReplayBuffer, holdout_mask
from dynadapt.errors import DynadaptError
from dynadapt.models.dynamics import DynamicsModel
from dynadapt.types import Params


@dataclass
class Segments:
    """A batch of normalised segments: ``x[B, L, F + A]`` (model inputs), ``y[B, L, O]`` (normalised Δ).

    ``L = M + K``; ``task_id[B]`` and ``episode[B]`` identify where each segment comes from.
    """

    x: Tensor
    y: Tensor
    task_id: Tensor
    episode: Tensor

    def past(self, m: int) -> tuple[Tensor, Tensor]:
        """The adaptation part ``x[B, M, ·], y[B, M, O]``."""
        return self.x[:, :m], self.y[:, :m]

    def future(self, m: int) -> tuple[Tensor, Tensor]:
        """The evaluation part ``x[B, K, ·], y[B, K, O]``."""
        return self.x[:, m:], self.y[:, m:]


class SegmentSource:
    """All length-``L`` single-episode segments of a buffer, normalised once, split by episode.

    Built at the start of a fit: the model's normalisers must already hold the whole-buffer statistics.
    """

    def __init__(
        self, model: DynamicsModel, buffer: ReplayBuffer, length: int, holdout_ratio: float = 0.1
    ) -> None:
        data = buffer.all()
        with torch.no_grad():
            self.x, self.y = model.transitions(data)
        self.length = length
        self.episode = data["episode"]
        self.task = data["task_id"]
        starts = buffer.segment_starts(length)
        # one perturbation per segment: a segment across a mid-episode change (``task_id`` changes inside
        # the episode) would ask the inner step to adapt on one task and predict another (reference §5.1)
        ids = self.task[starts[:, None] + torch.arange(length)[None, :]]
        starts = starts[(ids == ids[:, :1]).all(dim=1)]
        if starts.numel() == 0:
            raise DynadaptError(
                f"no episode in the buffer has {length} consecutive steps (M + K) of one perturbation"
            )
        held = holdout_mask(self.episode[starts], holdout_ratio)
        if held.all() or (holdout_ratio > 0 and not held.any() and starts.numel() > 1):
            # too few episodes for the hash split: hold out the last episode's segments instead
            held = self.episode[starts] == self.episode[starts].max()
            if held.all():
                held[:] = False
        self.train_starts = starts[~held]
        self.val_starts = starts[held]
        self.num_train_transitions = int(
            (~holdout_mask(self.episode, holdout_ratio)).sum() if self.val_starts.numel() else self.x.shape[0]
        )

    def batch(self, starts: Tensor) -> Segments:
        idx = starts[:, None] + torch.arange(self.length)[None, :]
        return Segments(self.x[idx], self.y[idx], self.task[starts], self.episode[starts])

    def sample(self, batch_size: int, generator: torch.Generator) -> Segments:
        """``batch_size`` training segments, cycling over the perturbations in a random order so that one
        batch holds segments of as many different tasks as possible (uniform start within a task)."""
        starts = self.train_starts
        tasks = self.task[starts]
        uniq = torch.unique(tasks)
        order = uniq[torch.randperm(uniq.numel(), generator=generator)]
        picks = []
        for b in range(batch_size):
            pool = starts[tasks == order[b % order.numel()]]
            picks.append(pool[torch.randint(0, pool.numel(), (1,), generator=generator)])
        return self.batch(torch.cat(picks))

    def val_batches(self, batch_size: int, max_segments: int) -> Iterator[Segments]:
        """Fixed, evenly spaced validation segments (at most ``max_segments``) in batches."""
        starts = self.val_starts
        if starts.numel() > max_segments:
            starts = starts[torch.linspace(0, starts.numel() - 1, max_segments).long()]
        for i in range(0, starts.numel(), batch_size):
            yield self.batch(starts[i : i + batch_size])


@dataclass
class MetaFitResult:
    """What one meta-training fit did; losses are MSEs of the normalised Δ."""

    epochs: int
    steps: int
    train_loss: float
    """Mean post-adaptation training loss of the last epoch."""
    val_loss: float
    """Post-adaptation loss on held-out episodes of the kept parameters (NaN without held-out data)."""
    val_pre_loss: float = math.nan
    """The same segments' loss without adaptation (GrBAL's reported pre-update error)."""
    history: list[float] = field(default_factory=list)

    def metrics(self, prefix: str = "model/") -> dict[str, float]:
        return {
            f"{prefix}epochs": float(self.epochs),
            f"{prefix}train_loss": self.train_loss,
            f"{prefix}val_loss": self.val_loss,
            f"{prefix}val_pre_loss": self.val_pre_loss,
        }


class Window:
    """The last ``M`` real transitions of the current episode, newest included (pitfall G6).

    ``add(obs, act, next_obs)`` right after each env step; ``tensors()`` gives ``obs[n, O], act[n, A],
    next_obs[n, O]`` with ``n = min(M, steps so far)``; ``clear()`` at episode start.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise DynadaptError(f"adaptation window M must be >= 1, got {size}")
        self.size = size
        self._items: list[tuple[Tensor, Tensor, Tensor]] = []
        self.steps = 0
        """Transitions added since the last clear."""

    def __len__(self) -> int:
        return len(self._items)

    def add(self, obs: object, act: object, next_obs: object) -> None:
        item = tuple(torch.as_tensor(v, dtype=torch.float32).reshape(-1) for v in (obs, act, next_obs))
        self._items.append(item)  # type: ignore[arg-type]
        if len(self._items) > self.size:
            self._items.pop(0)
        self.steps += 1

    def clear(self) -> None:
        self._items.clear()
        self.steps = 0

    def tensors(self) -> tuple[Tensor, Tensor, Tensor]:
        if not self._items:
            raise DynadaptError("the adaptation window is empty")
        obs, act, nxt = zip(*self._items)
        return torch.stack(obs), torch.stack(act), torch.stack(nxt)


class Adapter(Protocol):
    """Online adaptation inside the MPC loop (one per agent).

    ``reset()`` at episode start; ``observe`` after each env step; ``params()`` before planning returns the
    parameters to plan with (for :meth:`predict`); ``clear()`` after each fit (pitfall G12).
    """

    adapt_ms_total: float
    adapt_calls: int

    def reset(self) -> None: ...

    def clear(self) -> None: ...

    def observe(self, obs: object, act: object, next_obs: object) -> None: ...

    def params(self) -> Params: ...


def detached(params: Params) -> Params:
    return {k: v.detach() for k, v in params.items()}


@dataclass
class FitSettings:
    """The part of a meta-learner's config that the shared fit loop reads."""

    meta_batch: int
    max_epochs: int
    patience: int
    holdout_ratio: float
    max_val_segments: int
    grad_clip: float
    steps_per_epoch: int


class SegmentLearner:
    """Base of the segment-trained meta-learners: the shared early-stopped fit loop.

    Subclasses set ``self.model``, ``self.M``, ``self.K``, ``self.generator``, ``self.optimizer`` and
    implement :meth:`segment_losses` and :meth:`trainable`.
    """

    model: DynamicsModel
    M: int
    K: int
    generator: torch.Generator
    optimizer: torch.optim.Optimizer

    def fit_settings(self) -> FitSettings:
        raise NotImplementedError

    def trainable(self) -> dict[str, Tensor]:
        """Every tensor the outer (meta) optimiser updates, by name."""
        raise NotImplementedError

    def segment_losses(self, seg: Segments, create_graph: bool = True) -> tuple[Tensor, Tensor]:
        """``(post-adaptation loss[B], pre-adaptation loss[B])`` of the future part of each segment."""
        raise NotImplementedError

    def loss(self, seg: Segments) -> Tensor:
        """The meta-objective: mean post-adaptation loss over the task batch (scalar)."""
        return self.segment_losses(seg)[0].mean()

    def validate(self, source: SegmentSource) -> tuple[float, float]:
        """Mean post- and pre-adaptation loss over the held-out segments (NaN, NaN without any)."""
        s = self.fit_settings()
        post, pre, n = 0.0, 0.0, 0
        for seg in source.val_batches(max(s.meta_batch, 32), s.max_val_segments):
            a, b = self.segment_losses(seg, create_graph=False)
            post += float(a.detach().sum())
            pre += float(b.detach().sum())
            n += a.shape[0]
        return (post / n, pre / n) if n else (math.nan, math.nan)

    def fit(self, buffer: ReplayBuffer, steps: int | None = None) -> MetaFitResult:
        """Meta-train on all of ``buffer``.

        The normalisers first merge the new data (whole-buffer statistics, G4); then epochs of
        ``steps_per_epoch`` outer steps (0: ``#train transitions / (meta_batch · (M + K))``, the release's
        epoch) until the held-out post-adaptation loss has not improved by 1 % for ``patience`` epochs
        (G5) or ``max_epochs``; the best parameters are restored. With ``steps``: exactly that many outer
        steps, no early stopping.
        """
        s = self.fit_settings()
        self.model.update_normalizers(buffer)
        source = SegmentSource(self.model, buffer, self.M + self.K, s.holdout_ratio)
        per_epoch = s.steps_per_epoch or max(
            1, source.num_train_transitions // (s.meta_batch * (self.M + self.K))
        )
        max_epochs = s.max_epochs if steps is None else math.ceil(steps / per_epoch)
        params = self.trainable()
        best, _ = self.validate(source)
        best_state = {k: v.detach().clone() for k, v in params.items()}
        history: list[float] = []
        since, done, epochs, train_loss = 0, 0, 0, math.nan
        for _ in range(max_epochs):
            epochs += 1
            losses = []
            for _ in range(per_epoch):
                if steps is not None and done >= steps:
                    break
                loss = self.loss(source.sample(s.meta_batch, self.generator))
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if s.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(list(params.values()), s.grad_clip)
                self.optimizer.step()
                losses.append(float(loss.detach()))
                done += 1
            train_loss = sum(losses) / max(len(losses), 1)
            current, _ = self.validate(source)
            history.append(current)
            if steps is None and not math.isnan(current):
                if math.isnan(best) or (best - current) / max(abs(best), 1e-12) > 0.01:
                    best = current
                    best_state = {k: v.detach().clone() for k, v in params.items()}
                    since = 0
                else:
                    since += 1
                if since >= s.patience:
                    break
            if steps is not None and done >= steps:
                break
        if steps is None and not math.isnan(best):
            with torch.no_grad():
                for k, v in params.items():
                    v.copy_(best_state[k])
        post, pre = self.validate(source)
        return MetaFitResult(epochs, done, train_loss, post, pre, history)
