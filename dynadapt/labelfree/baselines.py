"""Label-free baselines for a stream of recurring situations (issue 16): what they share.

Three published ways of keeping one dynamics model right when the dynamics change and nobody says when:

* :class:`~dynadapt.labelfree.cadm.CaDMLearner` (:mod:`.cadm`): a context encoder reads the last K
  transitions and conditions the dynamics network; trained on forward and backward prediction (CaDM: Lee,
  Seo, Lee, Lee, Shin 2020, "Context-aware Dynamics Model for Generalization in Model-Based RL", ICML);
* :class:`~dynadapt.labelfree.tmcl.TMCLLearner` (:mod:`.tmcl`): H output heads on a shared trunk, trained
  winner-take-all per trajectory segment, the head that best explains the recent window selected at every
  step (T-MCL: Seo, Lee, Gupta, Shin, Abbeel 2020, "Trajectory-wise Multiple Choice Learning for Dynamics
  Generalization in RL", NeurIPS);
* :class:`~dynadapt.labelfree.grbal_stream.GrBALStreamLearner` (:mod:`.grbal_stream`): the GrBAL
  meta-learner (Nagabandi, Clavera et al. 2019) meta-trained in sessions on the stream and adapted from the
  last M transitions at every step, without memory of earlier situations.

Each is a :class:`~dynadapt.labelfree.base.StreamLearner`. This module holds their common parts: the bounded
FIFO of everything seen (:class:`StreamMemory`), the CaDM context encoder (:class:`ContextEncoder`) and the
context-as-first-layer-bias identity (:func:`condition`), the checks of a learner's model, and the tensor
state helpers (windows, optimisers, generators) that make a resumed run bit-identical. The configs and
learners are importable from here as well (``from dynadapt.labelfree.baselines import CaDMConfig``).
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dynadapt.checks import check, short
from dynadapt.data.buffer import ReplayBuffer
from dynadapt.errors import CorruptFileError, DynadaptError, WrongTypeError
from dynadapt.io import flatten, unflatten
from dynadapt.meta.base import Window
from dynadapt.models.dynamics import DynamicsModel
from dynadapt.nets.mlp import MLPSpec, forward, init_params
from dynadapt.types import Params

_EXPORTS = {
    "CaDMConfig": "cadm",
    "CaDMLearner": "cadm",
    "TMCLConfig": "tmcl",
    "TMCLLearner": "tmcl",
    "GrBALStreamConfig": "grbal_stream",
    "GrBALStreamLearner": "grbal_stream",
}


def __getattr__(name: str) -> Any:
    """The configs and learners of the three baselines, imported on first use (they import this module)."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"dynadapt.labelfree.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_model(model: Any, generator: Any, who: str) -> DynamicsModel:
    """``model`` if it is a single-network :class:`DynamicsModel` without learned reward/termination heads
    (the baselines train the dynamics only) and ``generator`` a ``torch.Generator``."""
    if not isinstance(model, DynamicsModel):
        raise WrongTypeError(f"{who} needs a DynamicsModel, got {short(model)}")
    if not isinstance(generator, torch.Generator):
        raise WrongTypeError(f"{who} needs a torch.Generator, got {short(generator)}")
    check(
        (model.cfg.ensemble_size == 1, f"{who} trains a single network: set model.ensemble_size=1"),
        (not model.has_heads, f"{who} does not train learned reward/termination heads: turn them off"),
    )
    return model


def param_device(model: DynamicsModel) -> torch.device:
    """Where the model's parameters (and so every tensor a learner computes with) live."""
    return model.params["layers.0.weight"].device


class Timer:
    """The ``ident_ms_total`` / ``ident_calls`` counters of a learner (per-step identification or
    adaptation time, reported by the run loop against the planning time)."""

    ident_ms_total: float
    ident_calls: int

    def __init__(self) -> None:
        self.ident_ms_total = 0.0
        self.ident_calls = 0

    @contextmanager
    def timed(self) -> Iterator[None]:
        """Count the time of the block as one identification/adaptation call."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ident_ms_total += (time.perf_counter() - start) * 1e3
            self.ident_calls += 1

    def timer_meta(self) -> dict[str, object]:
        return {"ident_ms_total": self.ident_ms_total, "ident_calls": self.ident_calls}

    def load_timer_meta(self, meta: Mapping[str, object]) -> None:
        total, calls = meta.get("ident_ms_total", 0.0), meta.get("ident_calls", 0)
        if not isinstance(total, int | float) or not isinstance(calls, int) or isinstance(calls, bool):
            raise CorruptFileError("learner meta: ident_ms_total / ident_calls are not numbers")
        self.ident_ms_total, self.ident_calls = float(total), calls

    @property
    def mean_ident_ms(self) -> float:
        return self.ident_ms_total / self.ident_calls if self.ident_calls else 0.0


class Baseline(Timer):
    """What every baseline does alike in the stream: each transition goes to the bounded FIFO
    (``self.memory``) and to the recent window (``self.window``, or an adapter's: override
    :meth:`window_add` / :meth:`window_clear`), and the planning params cached per transition
    (``self._cache``) are dropped whenever a transition arrives or an episode starts."""

    memory: StreamMemory
    model: DynamicsModel
    _cache: Params | None
    sessions: int
    """Training sessions run so far."""

    def meta(self) -> dict[str, object]:
        return {"sessions": self.sessions, **self.timer_meta()}

    def load_meta(self, meta: dict[str, object], /) -> None:
        sessions = meta.get("sessions", 0)
        if not isinstance(sessions, int) or isinstance(sessions, bool) or sessions < 0:
            raise CorruptFileError(f"learner meta: sessions {sessions!r} is not a count")
        self.sessions = sessions
        self.load_timer_meta(meta)

    def window_add(self, obs: Tensor, act: Tensor, next_obs: Tensor) -> None:
        self.window.add(obs, act, next_obs)  # type: ignore[attr-defined]

    def window_clear(self) -> None:
        self.window.clear()  # type: ignore[attr-defined]

    def reset(self) -> None:
        """Episode start: the window empties (transitions across a reset are not contiguous)."""
        self.window_clear()
        self.memory.new_episode()
        self._cache = None

    def observe(self, obs: object, act: object, next_obs: object, label: int) -> None:
        """Store the transition (``label`` is not read)."""
        del label
        self.memory.add(obs, act, next_obs)
        dev = param_device(self.model)
        self.window_add(as_row(obs, dev), as_row(act, dev), as_row(next_obs, dev))
        self._cache = None


# ---------------------------------------------------------------------------------------- data
class StreamMemory:
    """A bounded FIFO of every transition seen (a :class:`ReplayBuffer` of ``capacity``), with episode and
    step-in-episode columns so that contiguous segments never cross an episode start.

    The label is never stored (``task_id`` is 0 everywhere): a segment may span a mid-episode switch, as it
    would for any learner that is not told about switches.
    """

    def __init__(self, capacity: int, obs_dim: int, act_dim: int) -> None:
        self.buffer = ReplayBuffer(capacity, obs_dim, act_dim)
        self.episode = 0
        """Index of the current episode (advanced by :meth:`new_episode` once it holds a transition)."""
        self.t = 0
        """Transitions of the current episode so far."""

    def __len__(self) -> int:
        return len(self.buffer)

    def add(self, obs: object, act: object, next_obs: object) -> None:
        """Store one transition (wrong shapes, NaN or infinity raise :class:`DynadaptError`)."""
        self.buffer.add(obs, act, next_obs, 0.0, False, False, episode=self.episode, t=self.t)
        self.t += 1

    def new_episode(self) -> None:
        if self.t:
            self.episode, self.t = self.episode + 1, 0

    def sampler(self, length: int) -> SegmentSampler | None:
        """A sampler of the ``length``-step single-episode segments stored now (None when no episode is
        that long yet); made once per training session (the FIFO does not change during one)."""
        starts = self.buffer.segment_starts(length)
        return SegmentSampler(self.buffer.all(), starts, length) if starts.numel() else None

    def state_dict(self) -> dict[str, Tensor]:
        counters = torch.tensor([self.episode, self.t], dtype=torch.int64)
        return flatten("buffer", self.buffer.state_dict()) | {"counters": counters}

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        self.buffer.load_state_dict(unflatten("buffer", dict(state)))
        self.episode, self.t = (int(v) for v in state["counters"].tolist())


class SegmentSampler:
    """Uniform draws of contiguous segments from one snapshot of a FIFO.

    ``data``: the stored columns oldest first (``obs[N, O]``, ...); ``starts[S]``: the logical indices at
    which ``length`` consecutive steps of one episode start. Index arithmetic happens on the data's device
    (a run may have moved the FIFO to its GPU), the random draws on the generator's (CPU).
    """

    def __init__(self, data: Mapping[str, Tensor], starts: Tensor, length: int) -> None:
        self.data = {k: data[k] for k in ("obs", "act", "next_obs")}
        self.starts = starts
        self.length = length

    def sample(self, batch: int, generator: torch.Generator, device: torch.device) -> dict[str, Tensor]:
        """``batch`` segments: ``obs[B, L, O], act[B, L, A], next_obs[B, L, O]`` on ``device``."""
        pick = torch.randint(0, self.starts.numel(), (batch,), generator=generator)
        first = self.starts[pick.to(self.starts.device)]
        idx = first[:, None] + torch.arange(self.length, device=first.device)[None, :]
        return {k: v[idx.to(v.device)].to(device) for k, v in self.data.items()}


def as_row(value: object, device: torch.device) -> Tensor:
    """One observation/action (array-like) as a float32 vector on ``device`` (for a :class:`Window`, so that
    what a learner holds lives on its model's device)."""
    return torch.as_tensor(np.asarray(value, dtype=np.float32), device=device).reshape(-1)


def window_state(window: Window) -> dict[str, Tensor]:
    """The transitions of a :class:`Window` (``obs[n, O], act[n, A], next_obs[n, O]``) and its step count."""
    out = {"steps": torch.tensor([window.steps], dtype=torch.int64)}
    if len(window):
        obs, act, nxt = window.tensors()
        out |= {"obs": obs.clone(), "act": act.clone(), "next_obs": nxt.clone()}
    return out


def load_window(window: Window, state: Mapping[str, Tensor]) -> None:
    """Refill ``window`` from :func:`window_state`."""
    window.clear()
    if "obs" in state:
        if state["obs"].shape[0] > window.size:
            raise CorruptFileError(
                f"saved window holds {state['obs'].shape[0]} transitions, M = {window.size}"
            )
        for o, a, n in zip(state["obs"], state["act"], state["next_obs"]):
            window.add(o, a, n)
    window.steps = int(state["steps"].item())


def optimizer_state(named: Mapping[str, Tensor], optimizer: torch.optim.Optimizer) -> dict[str, Tensor]:
    """The optimiser's per-tensor state keyed ``{name}.{slot}`` (``named``: the tensors it updates)."""
    index = {id(v): k for k, v in named.items()}
    out: dict[str, Tensor] = {}
    for p, st in optimizer.state.items():
        for key, val in st.items():
            out[f"{index[id(p)]}.{key}"] = torch.as_tensor(val).detach().clone()
    return out


def load_optimizer_state(
    named: Mapping[str, Tensor], optimizer: torch.optim.Optimizer, state: Mapping[str, Tensor]
) -> None:
    """The inverse of :func:`optimizer_state` (tensors not in ``state`` start without optimiser state)."""
    optimizer.state.clear()
    for name, p in named.items():
        prefix = name + "."
        entries = {k[len(prefix) :]: v.clone() for k, v in state.items() if k.startswith(prefix)}
        if entries:
            if "step" in entries:
                entries["step"] = entries["step"].cpu()
            optimizer.state[p] = {k: v if k == "step" else v.to(p.device) for k, v in entries.items()}


def load_tensors_into(named: Mapping[str, Tensor], state: Mapping[str, Tensor], what: str) -> None:
    """Copy ``state[name]`` into every tensor of ``named`` in place (identity kept: optimisers hold them)."""
    with torch.no_grad():
        for name, v in named.items():
            if name not in state:
                raise CorruptFileError(f"{what}: missing tensor {name!r}")
            if state[name].shape != v.shape:
                raise CorruptFileError(
                    f"{what}: tensor {name!r} has shape {list(state[name].shape)}, expected {list(v.shape)}"
                )
            v.copy_(state[name])


def set_generator_state(generator: torch.Generator, state: Tensor) -> None:
    if state.numel() != generator.get_state().numel():
        raise CorruptFileError("saved random state does not fit this generator")
    generator.set_state(state.cpu())


def count(tensors: Mapping[str, Tensor]) -> int:
    return sum(v.numel() for v in tensors.values())


# ------------------------------------------------------------------------------------ context
def condition(params: Params, w_ctx: Tensor, ctx: Tensor) -> Params:
    """Concatenating a context to the network's input, as a context-dependent first-layer bias (CaDM).

    ``[x, c] @ [[W_x], [W_c]] + b = x @ W_x + (c @ W_c + b)``: with ``params`` stacked ``[1, ...]``,
    ``w_ctx[C, H0]`` and contexts ``ctx[B, C]``, the result is stacked ``[B, ...]``: member ``b`` is the
    network of context ``b`` (its ``layers.0.bias`` is ``b + ctx[b] @ W_c``; every other tensor a view of
    ``params``). It is an ordinary params dict for :meth:`DynamicsModel.predict` and every planner.
    """
    b = ctx.shape[0]
    out = {k: v if v.shape[0] == b else v.expand(b, *v.shape[1:]) for k, v in params.items()}
    out["layers.0.bias"] = params["layers.0.bias"] + ctx @ w_ctx
    return out


def context_weight(
    in_dim: int, ctx_dim: int, width: int, generator: torch.Generator, device: torch.device
) -> Tensor:
    """``W_c[C, H0]`` (trainable) initialised as the concatenated layer would be: ``U(±1/sqrt(in_dim + C))``
    (drawn on the CPU, so the numbers do not depend on ``device``)."""
    bound = 1.0 / math.sqrt(in_dim + ctx_dim)
    w = torch.empty(ctx_dim, width).uniform_(-bound, bound, generator=generator)
    return w.to(device).requires_grad_(True)


class ContextEncoder:
    """CaDM's context encoder g: the last K transitions -> a context ``c[C]``.

    Each transition enters as its normalised model input ``x[D]`` and normalised Δ ``y[O]`` plus a 1 that
    marks the slot as filled; the K slots (oldest first) are concatenated and read by an MLP. A window
    shorter than K (an episode's first steps) leaves its oldest slots zero, flag included; training draws
    such partial windows too (:attr:`CaDMConfig.partial_context`), so the encoder knows them.
    """

    def __init__(
        self,
        history: int,
        in_dim: int,
        out_dim: int,
        ctx_dim: int,
        hidden: tuple[int, ...],
        activation: str,
        generator: torch.Generator,
        device: torch.device,
    ) -> None:
        self.history = history
        self.slot = in_dim + out_dim + 1
        self.spec = MLPSpec(history * self.slot, ctx_dim, tuple(hidden), activation)
        init = init_params(self.spec, generator)
        self.params: Params = {k: v.to(device).requires_grad_(True) for k, v in init.items()}

    def __call__(self, x: Tensor, y: Tensor, filled: Tensor | None = None) -> Tensor:
        """``x[B, n, D], y[B, n, O]`` (newest last, ``n <= K``) -> ``c[B, C]``. ``filled[B]`` (optional):
        how many of the newest slots count (the rest are blanked as if the window were shorter)."""
        b, n = x.shape[0], x.shape[1]
        if n > self.history or x.shape[:2] != y.shape[:2] or x.shape[-1] + y.shape[-1] + 1 != self.slot:
            raise DynadaptError(
                f"context encoder reads up to {self.history} transitions of {self.slot - 1} numbers, got "
                f"x{list(x.shape)} and y{list(y.shape)}"
            )
        feats = torch.cat([x, y, torch.ones(b, n, 1, dtype=x.dtype, device=x.device)], dim=-1)
        if n < self.history:
            pad = torch.zeros(b, self.history - n, self.slot, dtype=x.dtype, device=x.device)
            feats = torch.cat([pad, feats], dim=1)
        if filled is not None:
            slots = torch.arange(self.history, device=x.device)
            keep = slots[None, :] >= (self.history - filled.to(x.device))[:, None]
            feats = feats * keep.unsqueeze(-1).to(feats.dtype)
        return forward(self.spec, self.params, feats.reshape(b, -1))

    def draw_filled(self, batch: int, fraction: float, generator: torch.Generator) -> Tensor:
        """``filled[B]``: K for most segments, a uniform 1..K for about ``fraction`` of them."""
        partial = torch.rand(batch, generator=generator) < fraction
        short_n = torch.randint(1, self.history + 1, (batch,), generator=generator)
        return torch.where(partial, short_n, torch.full_like(short_n, self.history))
