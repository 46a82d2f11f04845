"""ReBAL: recurrence-based adaptive learner (Nagabandi, Clavera et al. 2019, §4.2; reference §5.1, §5.3).

The adaptation rule u_ψ is a GRU that reads the last ``M`` real transitions, each encoded as
``[x_t, Δ̂_t]`` (normalised model input and normalised Δ), into a context ``c[H]``; the dynamics network
predicts the normalised Δ from ``[x, c]``. Meta-training uses the same ``M + K`` single-episode segments as
GrBAL: read the first ``M`` from a zero state, evaluate the prediction on the next ``K`` with that context
(reference §5.3: "warm up on M, loss on K"); ψ (the GRU) and θ (the head) are trained jointly by Adam.

Window semantics are explicit (pitfall G10), :class:`RecurrentAdapter` ``context=``:

* ``"window"`` — the paper's formulation: at every step the context is re-encoded from a zero state over
  the last ``M`` transitions of the episode (matches training);
* ``"episode"`` — the release's behaviour: one state per episode, advanced by each real transition and
  reset only at episode start.

Either way the state is zero at episode start. For planning the context is an entry ``"ctx"[1, H]`` of the
params dict, so :meth:`ReBAL.predict` satisfies the ``predict(params, obs, act)`` contract of
:func:`dynadapt.planning.imagine` (the context stays fixed over the imagined horizon).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor

from dynadapt.checks import check
from dynadapt.errors import DynadaptError
from dynadapt.io import flatten, unflatten
from dynadapt.meta.base import FitSettings, SegmentLearner, Segments, Window
from dynadapt.models.dynamics import DynamicsModel
from dynadapt.nets.mlp import MLPSpec, forward, init_params
from dynadapt.nets.recurrent import GRUSpec, gru_cell, gru_scan, init_gru_params
from dynadapt.types import Params

ContextMode = Literal["window", "episode"]


@dataclass
class ReBALConfig:
    """ReBAL meta-learner (reference §5.2-§5.3: the release uses an LSTM of 256 and Adam 1e-2)."""

    name: ClassVar[str] = "rebal"

    M: int = 16
    """Past: transitions the recurrent state reads."""
    K: int = 16
    """Future: transitions predicted with the resulting context."""
    rnn_hidden: int = 64
    """H: GRU state size (the context)."""
    lr: float = 1e-3
    """Adam learning rate of the GRU and the head."""
    context: ContextMode = "window"
    """Online: re-encode the last M transitions each step ("window") or carry the state ("episode")."""
    meta_batch: int = 10
    """Segments per step, drawn from as many perturbations as possible."""
    max_epochs: int = 50
    """Most epochs per fit (the release: 50)."""
    steps_per_epoch: int = 0
    """Steps per epoch (0: #train transitions / (meta_batch · (M + K)))."""
    patience: int = 5
    """Stop when the held-out post-adaptation loss has not improved by 1 % for this many epochs."""
    holdout_ratio: float = 0.1
    """Fraction of whole episodes held out for validation."""
    max_val_segments: int = 256
    """At most this many held-out segments are evaluated per epoch."""
    grad_clip: float = 10.0
    """Clip the gradient norm (0 disables)."""

    def __post_init__(self) -> None:
        checks = [
            (self.M >= 1 and self.K >= 1, "meta.M and meta.K must be >= 1"),
            (self.rnn_hidden >= 1 and self.lr > 0, "meta.rnn_hidden and meta.lr must be positive"),
            (self.context in ("window", "episode"), "meta.context must be 'window' or 'episode'"),
            (self.meta_batch >= 1, "meta.meta_batch must be >= 1"),
            (self.max_epochs >= 1 and self.patience >= 1, "meta.max_epochs and patience must be >= 1"),
            (0 <= self.holdout_ratio < 1, "meta.holdout_ratio must be in [0, 1)"),
            (self.steps_per_epoch >= 0 and self.max_val_segments >= 1, "invalid epoch settings"),
        ]
        check(*checks)


class ReBAL(SegmentLearner):
    """ReBAL around a :class:`DynamicsModel` that supplies normalisation, features and Δ targets.

    Its own parameters (``self.params``): ``gru.*`` (ψ) and ``head.layers.*`` (θ, single network,
    stacked ``[1, ...]`` so that :meth:`predict` has the ensemble contract with ``E = 1``).
    """

    def __init__(self, model: DynamicsModel, cfg: ReBALConfig, generator: torch.Generator) -> None:
        if model.cfg.ensemble_size != 1:
            raise DynadaptError("ReBAL trains a single model: set model.ensemble_size=1")
        self.model = model
        self.cfg = cfg
        self.M, self.K = cfg.M, cfg.K
        self.generator = generator
        d, o = model.spec.in_dim, model.obs_dim
        self.gru_spec = GRUSpec(d + o, cfg.rnn_hidden)
        self.head_spec = MLPSpec(d + cfg.rnn_hidden, o, model.cfg.hidden, model.cfg.activation)
        self.params: Params = flatten("gru", init_gru_params(self.gru_spec, generator))
        self.params |= flatten("head", init_params(self.head_spec, generator, ensemble_size=1))
        for v in self.params.values():
            v.requires_grad_(True)
        self.optimizer = torch.optim.Adam(list(self.params.values()), lr=cfg.lr)

    # ------------------------------------------------------------------------------------------ parts
    def gru(self, params: Params | None = None) -> Params:
        return unflatten("gru", self.params if params is None else params)

    def head(self, params: Params | None = None) -> Params:
        return unflatten("head", self.params if params is None else params)

    def encode(self, x: Tensor, y: Tensor, params: Params | None = None) -> Tensor:
        """Context after reading ``x[B, T, D], y[B, T, O]`` from a zero state: ``[B, H]`` (zeros if T = 0)."""
        states = gru_scan(self.gru(params), torch.cat([x, y], dim=-1))
        if states.shape[-2] == 0:
            return x.new_zeros(x.shape[0], self.cfg.rnn_hidden)
        return states[:, -1]

    def forward_normalized(self, head: Params, x: Tensor, ctx: Tensor) -> Tensor:
        """Normalised Δ: ``x[E, N, D]``, ``ctx[E, H]`` -> ``[E, N, O]``."""
        c = ctx.unsqueeze(-2).expand(*x.shape[:-1], ctx.shape[-1])
        return forward(self.head_spec, head, torch.cat([x, c], dim=-1))

    def predict(self, params: Params, obs: Tensor, act: Tensor) -> tuple[Tensor, Tensor | None]:
        """``params`` = head tensors (``layers.*``, ``[1, ...]``) + ``"ctx"[1, H]``; ``obs[E, N, O],
        act[E, N, A] -> (next-obs mean [E, N, O], None)``."""
        head = {k: v for k, v in params.items() if k != "ctx"}
        m = self.model
        delta_n = self.forward_normalized(head, m.features(obs, act), params["ctx"])
        return obs + m.target_norm.denormalize(delta_n), None

    # ------------------------------------------------------------------------------------------ hooks
    def fit_settings(self) -> FitSettings:
        c = self.cfg
        return FitSettings(
            c.meta_batch, c.max_epochs, c.patience, c.holdout_ratio, c.max_val_segments, c.grad_clip,
            c.steps_per_epoch,
        )  # fmt: skip

    def trainable(self) -> dict[str, Tensor]:
        return self.params

    def segment_losses(self, seg: Segments, create_graph: bool = True) -> tuple[Tensor, Tensor]:
        """Per-segment MSE on the K future transitions with the context of the M past ones (post) and
        with a zero context (pre): ``([B], [B])``."""
        with torch.set_grad_enabled(create_graph):
            x_p, y_p = seg.past(self.M)
            x_f, y_f = seg.future(self.M)
            ctx = self.encode(x_p, y_p)  # [B, H]
            head = {k: v.squeeze(0) for k, v in self.head().items()}
            # each segment is its own "member": stack the head over B by broadcasting the single network
            head_b = {k: v.unsqueeze(0).expand(ctx.shape[0], *v.shape) for k, v in head.items()}
            post = ((self.forward_normalized(head_b, x_f, ctx) - y_f) ** 2).mean(dim=(-1, -2))
            pre = ((self.forward_normalized(head_b, x_f, torch.zeros_like(ctx)) - y_f) ** 2).mean(
                dim=(-1, -2)
            )
        return post, pre

    def make_adapter(self, context: ContextMode | None = None) -> RecurrentAdapter:
        return RecurrentAdapter(self, context or self.cfg.context)

    # ------------------------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Tensor]:
        out = flatten("params", {k: v.detach().clone() for k, v in self.params.items()})
        names = {id(v): k for k, v in self.params.items()}
        for p, st in self.optimizer.state.items():
            for key, val in st.items():
                out[f"optim.{names[id(p)]}.{key}"] = torch.as_tensor(val).detach().clone()
        return out

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        params = unflatten("params", state)
        with torch.no_grad():
            for k, v in self.params.items():
                v.copy_(params[k])
        for name, p in self.params.items():
            prefix = f"optim.{name}."
            entries = {k[len(prefix) :]: v.clone() for k, v in state.items() if k.startswith(prefix)}
            if entries:
                self.optimizer.state[p] = entries


class RecurrentAdapter:
    """ReBAL online: ``params()`` returns the head plus the current context ``"ctx"[1, H]``.

    ``reset()`` at episode start sets the state to zero and empties the window; see the module docstring
    for ``context``.
    """

    def __init__(self, learner: ReBAL, context: ContextMode = "window") -> None:
        if context not in ("window", "episode"):
            raise DynadaptError(f"unknown ReBAL context mode {context!r}; valid: window, episode")
        self.learner = learner
        self.context: ContextMode = context
        self.window = Window(learner.M)
        self.state = torch.zeros(1, learner.cfg.rnn_hidden)
        self.adapt_ms_total = 0.0
        self.adapt_calls = 0

    def reset(self) -> None:
        """Episode start: zero state, empty window."""
        self.window.clear()
        self.state = torch.zeros(1, self.learner.cfg.rnn_hidden)

    def clear(self) -> None:
        """After a fit: the carried state was computed with old weights; re-encode the window."""
        if self.context == "episode" and len(self.window):
            with torch.no_grad():
                self.state = self._encode_window()

    def _encode_window(self) -> Tensor:
        obs, act, nxt = self.window.tensors()
        m = self.learner.model
        x, y = m.transitions({"obs": obs, "act": act, "next_obs": nxt})
        return self.learner.encode(x[None], y[None])

    def observe(self, obs: object, act: object, next_obs: object) -> None:
        """Record the executed transition; in ``"episode"`` mode also advance the state with it."""
        self.window.add(obs, act, next_obs)
        if self.context == "episode":
            start = time.perf_counter()
            o, a, n = (t[-1:] for t in self.window.tensors())
            m = self.learner.model
            with torch.no_grad():
                inp = torch.cat(m.transitions({"obs": o, "act": a, "next_obs": n}), dim=-1)
                self.state = gru_cell({k: v.detach() for k, v in self.learner.gru().items()}, inp, self.state)
            self.adapt_ms_total += (time.perf_counter() - start) * 1e3

    def params(self) -> Params:
        """Head params ``[1, ...]`` and ``"ctx"[1, H]`` (detached)."""
        head = {k: v.detach() for k, v in self.learner.head().items()}
        if self.context == "window" and len(self.window):
            start = time.perf_counter()
            with torch.no_grad():
                self.state = self._encode_window()
            self.adapt_ms_total += (time.perf_counter() - start) * 1e3
        self.adapt_calls += 1
        return {**head, "ctx": self.state.detach()}

    @property
    def mean_adapt_ms(self) -> float:
        return self.adapt_ms_total / self.adapt_calls if self.adapt_calls else 0.0
