"""CaDM in the stream: a context-aware dynamics model, fine-tuned online (issue 16's first baseline).

Lee, Seo, Lee, Lee, Shin 2020, "Context-aware Dynamics Model for Generalization in Model-Based RL" (ICML;
reference §11.5). A context encoder g reads the last K transitions (K = 10 in the paper) and gives a
latent context ``c``; the dynamics ``f(s, a, c)`` take ``c`` concatenated to their input::

    c_t = g(τ(t−K, t−1))
    L = L_forward + β · L_backward
    L_forward  = 1/F Σ_{h<F} ℓ(f(ŝ_{t+h}, a_{t+h}, c_t), s_{t+h+1})     ŝ_t = s_t, ŝ_{t+h+1} predicted
    L_backward = 1/F Σ_{h<F} ℓ(b(š_{t+h+1}, a_{t+h}, c_t), s_{t+h})     š_{t+F} = s_{t+F}, then backwards

over ``F`` future steps (10 in the paper), the rollouts open-loop (``multi_step``): the paper's future-step
prediction, which makes the context useful over a planning horizon, not only for one step. The backward
model ``b`` (predicting the previous state from the next one and the action) has its own network and shares
the encoder: it is CaDM's device for putting more dynamics-specific information into ``c``. ``ℓ`` is the
model's own loss (MSE of the normalised Δ, or the Gaussian NLL with the Gaussian head); the backward model
regresses, with MSE, the normalised forward Δ ``s_{t+1} − s_t`` from ``(s_{t+1}, a_t, c)``.

Concatenation is implemented exactly as a context-dependent first-layer bias (:func:`condition`):
``[x, c] @ [[W_x], [W_c]] + b = x @ W_x + (c @ W_c + b)``, so :meth:`CaDMLearner.params` is an ordinary
params dict of the run's :class:`DynamicsModel` (``model.params`` hold ``W_x``, ``b`` and the other layers;
the learner ``W_c``) and every planner path works unchanged. Training stacks one conditioned network per
segment (``[B, ...]``) and evaluates them with the model's own batched forward.

Online fine-tuning: training sessions draw segments from a bounded FIFO of everything seen, so they keep
training on the newest data as old data leaves. CaDM has no notion of a situation: ``situation`` is -1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from dynadapt.checks import check, check_fields
from dynadapt.errors import CorruptFileError
from dynadapt.io import flatten, unflatten
from dynadapt.labelfree.baselines import (
    Baseline,
    ContextEncoder,
    StreamMemory,
    check_model,
    condition,
    context_weight,
    count,
    load_optimizer_state,
    load_tensors_into,
    load_window,
    optimizer_state,
    param_device,
    set_generator_state,
    window_state,
)
from dynadapt.meta.base import Window
from dynadapt.models.dynamics import DynamicsModel
from dynadapt.nets.mlp import MLPSpec, forward, init_params
from dynadapt.types import Params


@dataclass
class CaDMConfig:
    """CaDM baseline (Lee et al. 2020): context encoder over the last K transitions, forward + backward
    prediction over F future steps, online fine-tuning on a bounded FIFO of the stream."""

    name: ClassVar[str] = "cadm"

    history: int = 10
    """K: transitions the context encoder reads (the paper: 10)."""
    future: int = 10
    """F: future steps predicted forward (and backward) from one context in training (the paper: 10)."""
    context_dim: int = 10
    """C: size of the context vector."""
    encoder_hidden: tuple[int, ...] = (64, 64)
    """Hidden widths of the context encoder."""
    backward: bool = True
    """Train a backward model that shares the encoder (CaDM's backward prediction loss)."""
    backward_weight: float = 1.0
    """β: weight of the backward prediction loss."""
    multi_step: bool = True
    """Open-loop rollouts over the F steps (each step starts from the previous prediction); false: every
    step starts from the true state (one-step losses)."""
    partial_context: float = 0.25
    """Fraction of training contexts cut to a random 1..K newest transitions (as at an episode's start)."""
    lr: float = 1e-3
    """Adam learning rate (encoder, dynamics, backward model)."""
    batch_size: int = 32
    """Segments of K + F transitions per gradient step."""
    steps_per_session: int = 100
    """Gradient steps per training session."""
    capacity: int = 20000
    """Transitions kept (a FIFO: the oldest leave first)."""
    grad_clip: float = 10.0
    """Clip the global gradient norm (0 disables)."""

    def __post_init__(self) -> None:
        self.encoder_hidden = tuple(self.encoder_hidden)
        check_fields(self, "cadm.")
        check(
            (self.history >= 1 and self.future >= 1, "cadm.history and cadm.future must be >= 1"),
            (self.context_dim >= 1, "cadm.context_dim must be >= 1"),
            (all(h >= 1 for h in self.encoder_hidden), "cadm.encoder_hidden must be positive"),
            (self.backward_weight >= 0, "cadm.backward_weight must be >= 0"),
            (0 <= self.partial_context <= 1, "cadm.partial_context must be in [0, 1]"),
            (self.lr > 0, "cadm.lr must be > 0"),
            (self.batch_size >= 1 and self.steps_per_session >= 1, "cadm batch_size/steps must be >= 1"),
            (self.capacity >= self.history + self.future, "cadm.capacity must hold K + F transitions"),
            (self.grad_clip >= 0, "cadm.grad_clip must be >= 0"),
        )

    def build(self, model: DynamicsModel, generator: torch.Generator) -> CaDMLearner:
        return CaDMLearner(model, self, generator)


class CaDMLearner(Baseline):
    """The CaDM baseline as a :class:`~dynadapt.labelfree.base.StreamLearner` (see the module docstring).

    Trainable tensors: the model's params (θ: ``W_x``, ``b`` and the layers above), ``w_ctx[C, H0]``, the
    encoder and (with ``backward``) the backward network and its own ``W_c``.
    """

    def __init__(self, model: DynamicsModel, cfg: CaDMConfig, generator: torch.Generator) -> None:
        super().__init__()
        self.model = check_model(model, generator, "CaDM")
        self.cfg = cfg
        self.generator = generator
        spec = model.spec
        in_dim, width = spec.in_dim, spec.hidden[0]
        dev = param_device(model)
        self.encoder = ContextEncoder(
            cfg.history, in_dim, model.obs_dim, cfg.context_dim, cfg.encoder_hidden, spec.activation,
            generator, dev,
        )  # fmt: skip
        self.w_ctx = context_weight(in_dim, cfg.context_dim, width, generator, dev)
        self.back_spec = MLPSpec(in_dim, model.obs_dim, spec.hidden, spec.activation)
        """The backward network ``b(features(s_{t+1}), a_t) -> normalised Δ`` (context as its first bias)."""
        self.back: Params = {}
        self.w_back: Tensor | None = None
        if cfg.backward:
            back = init_params(self.back_spec, generator, ensemble_size=1)
            self.back = {k: v.to(dev).requires_grad_(True) for k, v in back.items()}
            self.w_back = context_weight(in_dim, cfg.context_dim, width, generator, dev)
        self.memory = StreamMemory(cfg.capacity, model.obs_dim, model.act_dim)
        self.window = Window(cfg.history)
        self.optimizer = torch.optim.Adam(list(self.trainable().values()), lr=cfg.lr)
        self.sessions = 0
        self._cache: Params | None = None

    # ------------------------------------------------------------------------------------------ tensors
    def _own(self) -> dict[str, Tensor]:
        """The tensors the learner holds besides the model's params."""
        out = {"w_ctx": self.w_ctx} | flatten("encoder", self.encoder.params) | flatten("back", self.back)
        return out | ({"w_back": self.w_back} if self.w_back is not None else {})

    def trainable(self) -> dict[str, Tensor]:
        """Every tensor the optimiser updates, by name."""
        return flatten("theta", self.model.params) | self._own()

    def num_params(self) -> int:
        """Trainable numbers: encoder + dynamics (with ``W_c``) + backward model."""
        return count(self.trainable())

    # ---------------------------------------------------------------------------------------- context
    def context(self, obs: Tensor, act: Tensor, next_obs: Tensor, filled: Tensor | None = None) -> Tensor:
        """``c[B, C]`` from raw transitions ``obs[B, n, O], act[B, n, A], next_obs[B, n, O]`` (``n <= K``,
        newest last; ``filled[B]``: see :class:`ContextEncoder`)."""
        x, y = self.model.transitions({"obs": obs, "act": act, "next_obs": next_obs})
        return self.encoder(x, y, filled)

    def conditioned(self, ctx: Tensor) -> Params:
        """The dynamics network of each context ``ctx[B, C]``: params stacked ``[B, ...]``
        (:func:`~dynadapt.labelfree.baselines.condition`)."""
        return condition(self.model.params, self.w_ctx, ctx)

    def window_context(self) -> Tensor:
        """``c[1, C]`` of the current window (an empty window: every slot blank)."""
        dev = param_device(self.model)
        if len(self.window) == 0:
            o, a = self.model.obs_dim, self.model.act_dim
            empty = torch.zeros(1, 0, o, device=dev)
            return self.context(empty, torch.zeros(1, 0, a, device=dev), empty)
        obs, act, nxt = (v.to(dev).unsqueeze(0) for v in self.window.tensors())
        return self.context(obs, act, nxt)

    # ------------------------------------------------------------------------------------------ losses
    def losses(self, seg: dict[str, Tensor], filled: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Per-segment forward and backward losses ``([B], [B])`` of segments of ``K + F`` transitions
        (``obs[B, K + F, O]``, ...): context from the first K, predictions over the last F (the backward
        loss is zeros without a backward model)."""
        k, f, m = self.cfg.history, self.cfg.future, self.model
        ctx = self.context(seg["obs"][:, :k], seg["act"][:, :k], seg["next_obs"][:, :k], filled)
        theta = self.conditioned(ctx)
        tnorm = m.normalizers(0)[1]
        obs, acts, nxts = seg["obs"][:, k:], seg["act"][:, k:], seg["next_obs"][:, k:]
        fwd = torch.zeros(ctx.shape[0], device=ctx.device)
        state = obs[:, 0]
        for h in range(f):
            x = m.features(state, acts[:, h]).unsqueeze(1)
            y = tnorm.normalize(m.targets(state, nxts[:, h])).unsqueeze(1)
            fwd = fwd + m.loss(theta, x, y) / f
            if h + 1 < f and self.cfg.multi_step:
                state = state + tnorm.denormalize(m.forward_normalized(theta, x)[0][:, 0])
            elif h + 1 < f:
                state = obs[:, h + 1]
        bwd = torch.zeros_like(fwd)
        if self.w_back is not None:
            back = condition(self.back, self.w_back, ctx)
            state = nxts[:, f - 1]
            for h in reversed(range(f)):
                x = m.features(state, acts[:, h]).unsqueeze(1)
                y = tnorm.normalize(m.targets(obs[:, h], state)).unsqueeze(1)
                pred = forward(self.back_spec, back, x)
                bwd = bwd + ((pred - y) ** 2).mean(dim=(-1, -2)) / f
                state = state - tnorm.denormalize(pred[:, 0]) if self.cfg.multi_step else obs[:, h]
        return fwd, bwd

    # ---------------------------------------------------------------------------- the StreamLearner API
    def params(self) -> Params:
        """The network conditioned on the context of the last K transitions, stacked ``[1, ...]``."""
        if self._cache is None:
            with self.timed(), torch.no_grad():
                cond = self.conditioned(self.window_context())
                self._cache = {k: v.detach() for k, v in cond.items()}
        return self._cache

    @property
    def situation(self) -> int:
        return -1

    def train(self) -> dict[str, float]:
        """One session of ``steps_per_session`` Adam steps on segments from the FIFO (skipped while no
        episode holds K + F transitions)."""
        cfg = self.cfg
        dev = param_device(self.model)
        named = self.trainable()
        fwd_sum, bwd_sum, n = 0.0, 0.0, cfg.steps_per_session
        sampler = self.memory.sampler(cfg.history + cfg.future)
        if sampler is None:
            return {"train/steps": 0.0, "train/skipped": 1.0}
        for _ in range(cfg.steps_per_session):
            seg = sampler.sample(cfg.batch_size, self.generator, dev)
            filled = self.encoder.draw_filled(cfg.batch_size, cfg.partial_context, self.generator)
            fwd, bwd = self.losses(seg, filled)
            loss = fwd.mean() + cfg.backward_weight * bwd.mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(list(named.values()), cfg.grad_clip)
            self.optimizer.step()
            fwd_sum, bwd_sum = fwd_sum + float(fwd.detach().mean()), bwd_sum + float(bwd.detach().mean())
        self._cache = None
        self.sessions += 1
        out = {"train/forward_loss": fwd_sum / n, "train/steps": float(n), "train/skipped": 0.0}
        return out | ({"train/backward_loss": bwd_sum / n} if self.w_back is not None else {})

    # -------------------------------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Tensor]:
        """The learner's tensors, Adam's state, the FIFO, the window and the random state (the model's
        params are saved with the model, its owner)."""
        own = {k: v.detach().clone() for k, v in self._own().items()}
        return (
            flatten("own", own)
            | flatten("optim", optimizer_state(self.trainable(), self.optimizer))
            | flatten("memory", self.memory.state_dict())
            | flatten("window", window_state(self.window))
            | {"rng": self.generator.get_state()}
        )

    def load_state_dict(self, state: dict[str, Tensor], /) -> None:
        try:
            load_tensors_into(self._own(), unflatten("own", state), "CaDM state")
            load_optimizer_state(self.trainable(), self.optimizer, unflatten("optim", state))
            self.memory.load_state_dict(unflatten("memory", state))
            load_window(self.window, unflatten("window", state))
            set_generator_state(self.generator, state["rng"])
        except KeyError as e:
            raise CorruptFileError(f"CaDM state: missing {e}") from None
        self._cache = None
