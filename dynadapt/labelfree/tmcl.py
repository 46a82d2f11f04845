"""T-MCL in the stream: multiple prediction heads, trained winner-take-all per trajectory segment.

Seo, Lee, Gupta, Shin, Abbeel 2020, "Trajectory-wise Multiple Choice Learning for Dynamics Generalization
in Reinforcement Learning" (NeurIPS; reference §11.5). H output heads share one trunk; the trunk also reads
CaDM's context ``c = g(last K transitions)`` (T-MCL uses it; here it is optional, :attr:`TMCLConfig.context`).
Training is multiple choice learning at the level of trajectory segments::

    ℓ_h(τ) = 1/S Σ_{(s, a, s') ∈ τ} ℓ(f_h(s, a, c_τ), s')      (ℓ: the model's loss on the normalised Δ)
    L = E_τ [ min_h ℓ_h(τ) ]                                  (only the winning head gets τ's gradient)

so each head becomes the expert of the dynamics whose segments it wins; the trunk and encoder are trained
through the winners. (``relax`` > 0 spreads that much weight evenly over the losers, the relaxed WTA of
Rupprecht et al. 2017, "Learning in an Uncertain World", ICCV, against heads that never win; 0: T-MCL.)

At every step the head with the lowest prediction error (MSE of the normalised Δ) on the last M
transitions is selected (T-MCL's adaptive planning); ``situation`` is its index, so identification
metrics apply to it. :meth:`TMCLLearner.params` is the trunk with the selected head as its last layer (and
the context as its first-layer bias, :func:`~dynadapt.labelfree.baselines.condition`): one ordinary params
dict of the run's :class:`DynamicsModel`. The heads live in the learner; ``model.params``' own last layer
is not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
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
from dynadapt.types import Params


@dataclass
class TMCLConfig:
    """T-MCL baseline (Seo et al. 2020): H heads on a shared trunk (+ CaDM context), winner-take-all per
    segment, the head with the lowest error on the last M transitions selected at every step."""

    name: ClassVar[str] = "tmcl"

    heads: int = 3
    """H: prediction heads (each should become the expert of some situations)."""
    context: bool = True
    """Condition the trunk on a context encoded from the last K transitions (as T-MCL)."""
    history: int = 10
    """K: transitions the context encoder reads."""
    context_dim: int = 10
    """C: size of the context vector."""
    encoder_hidden: tuple[int, ...] = (64, 64)
    """Hidden widths of the context encoder."""
    segment: int = 10
    """S: transitions of a trajectory segment that one head must win (after the K context transitions)."""
    select_window: int = 10
    """M: recent transitions on which the head to plan with is chosen."""
    relax: float = 0.0
    """Weight spread evenly over the losing heads (relaxed WTA; 0: pure winner-take-all, as T-MCL)."""
    partial_context: float = 0.25
    """Fraction of training contexts cut to a random 1..K newest transitions (as at an episode's start)."""
    lr: float = 1e-3
    """Adam learning rate (trunk, heads, encoder)."""
    batch_size: int = 32
    """Segments per gradient step."""
    steps_per_session: int = 100
    """Gradient steps per training session."""
    capacity: int = 20000
    """Transitions kept (a FIFO: the oldest leave first)."""
    grad_clip: float = 10.0
    """Clip the global gradient norm (0 disables)."""

    def __post_init__(self) -> None:
        self.encoder_hidden = tuple(self.encoder_hidden)
        check_fields(self, "tmcl.")
        check(
            (self.heads >= 1, "tmcl.heads must be >= 1"),
            (self.history >= 1 and self.context_dim >= 1, "tmcl.history and tmcl.context_dim must be >= 1"),
            (all(h >= 1 for h in self.encoder_hidden), "tmcl.encoder_hidden must be positive"),
            (
                self.segment >= 1 and self.select_window >= 1,
                "tmcl.segment and tmcl.select_window must be >= 1",
            ),
            (0 <= self.relax < 1, "tmcl.relax must be in [0, 1)"),
            (0 <= self.partial_context <= 1, "tmcl.partial_context must be in [0, 1]"),
            (self.lr > 0, "tmcl.lr must be > 0"),
            (self.batch_size >= 1 and self.steps_per_session >= 1, "tmcl batch_size/steps must be >= 1"),
            (self.capacity >= self.history + self.segment, "tmcl.capacity must hold K + S transitions"),
            (self.grad_clip >= 0, "tmcl.grad_clip must be >= 0"),
        )

    def build(self, model: DynamicsModel, generator: torch.Generator) -> TMCLLearner:
        return TMCLLearner(model, self, generator)


class TMCLLearner(Baseline):
    """The T-MCL baseline as a :class:`~dynadapt.labelfree.base.StreamLearner` (see the module docstring).

    ``heads_w[H, W, out]``, ``heads_b[H, out]`` are the heads (``W`` the last hidden width); trainable: the
    model's params below the last layer, the heads, and with ``context`` the encoder and ``w_ctx[C, H0]``.
    """

    def __init__(self, model: DynamicsModel, cfg: TMCLConfig, generator: torch.Generator) -> None:
        super().__init__()
        self.model = check_model(model, generator, "T-MCL")
        self.cfg = cfg
        self.generator = generator
        spec = model.spec
        dev = param_device(model)
        self.last = f"layers.{spec.num_layers - 1}."
        """Key prefix of the model's last layer (replaced by the selected head)."""
        width = spec.hidden[-1]
        bound = 1.0 / width**0.5  # each head initialised as the layer it replaces (nn.Linear's default)

        def uniform(*shape: int) -> Tensor:
            t = torch.empty(shape).uniform_(-bound, bound, generator=generator)
            return t.to(dev).requires_grad_(True)

        self.heads_w = uniform(cfg.heads, width, spec.out_dim)
        self.heads_b = uniform(cfg.heads, spec.out_dim)
        self.encoder: ContextEncoder | None = None
        self.w_ctx: Tensor | None = None
        if cfg.context:
            self.encoder = ContextEncoder(
                cfg.history, spec.in_dim, model.obs_dim, cfg.context_dim, cfg.encoder_hidden, spec.activation,
                generator, dev,
            )  # fmt: skip
            self.w_ctx = context_weight(spec.in_dim, cfg.context_dim, spec.hidden[0], generator, dev)
        self.memory = StreamMemory(cfg.capacity, model.obs_dim, model.act_dim)
        self.window = Window(max(cfg.history, cfg.select_window) if cfg.context else cfg.select_window)
        self.optimizer = torch.optim.Adam(list(self.trainable().values()), lr=cfg.lr)
        self.sessions = 0
        self.selected = -1
        """The head chosen on the latest window (-1 before the first transition)."""
        self._cache: Params | None = None

    # ------------------------------------------------------------------------------------------ tensors
    def _own(self) -> dict[str, Tensor]:
        out = {"heads_w": self.heads_w, "heads_b": self.heads_b}
        if self.encoder is not None and self.w_ctx is not None:
            out |= {"w_ctx": self.w_ctx} | flatten("encoder", self.encoder.params)
        return out

    def _trunk(self) -> Params:
        return {k: v for k, v in self.model.params.items() if not k.startswith(self.last)}

    def trainable(self) -> dict[str, Tensor]:
        """Every tensor the optimiser updates, by name (the model's last layer is not one)."""
        return flatten("theta", self._trunk()) | self._own()

    def num_params(self) -> int:
        """Trainable numbers: trunk + heads + encoder (+ ``W_c``)."""
        return count(self.trainable())

    @property
    def library_size(self) -> int:
        """The heads are T-MCL's library of dynamics: H."""
        return self.cfg.heads

    # ---------------------------------------------------------------------------------------- networks
    def networks(self, heads: Tensor, ctx: Tensor | None) -> Params:
        """Params stacked ``[E, ...]``: member ``e`` is the trunk with head ``heads[e]`` (``heads[E]``, int)
        conditioned on ``ctx[e]`` (``ctx[E, C]``, or None without context)."""
        e = heads.shape[0]
        trunk = self._trunk()
        if ctx is not None and self.w_ctx is not None:
            out = condition(trunk, self.w_ctx, ctx)
        else:
            out = {k: v.expand(e, *v.shape[1:]) for k, v in trunk.items()}
        out[self.last + "weight"] = self.heads_w[heads]
        out[self.last + "bias"] = self.heads_b[heads]
        return out

    def context(
        self, obs: Tensor, act: Tensor, next_obs: Tensor, filled: Tensor | None = None
    ) -> Tensor | None:
        """``c[B, C]`` of the newest K of ``obs[B, n, O], act[B, n, A], next_obs[B, n, O]`` (None without
        context; an empty window: every slot blank)."""
        if self.encoder is None:
            return None
        k = self.cfg.history
        x, y = self.model.transitions({"obs": obs[:, -k:], "act": act[:, -k:], "next_obs": next_obs[:, -k:]})
        return self.encoder(x, y, filled)

    def head_losses(self, seg: dict[str, Tensor], filled: Tensor | None = None) -> Tensor:
        """``ℓ_h(τ_b)[H, B]`` of segments ``obs[B, K + S, O], ...`` (``[B, S, ...]`` without context): the
        context from the first K transitions, the loss of each head on the last S."""
        k = self.cfg.history if self.encoder is not None else 0
        ctx = self.context(seg["obs"][:, :k], seg["act"][:, :k], seg["next_obs"][:, :k], filled)
        x, y = self.model.transitions({key: v[:, k:] for key, v in seg.items()})
        h, b = self.cfg.heads, x.shape[0]
        heads = torch.arange(h, device=x.device).repeat_interleave(b)
        params = self.networks(heads, None if ctx is None else ctx.repeat(h, 1))
        return self.model.loss(params, x.repeat(h, 1, 1), y.repeat(h, 1, 1)).view(h, b)

    def head_errors(self, obs: Tensor, act: Tensor, next_obs: Tensor) -> tuple[Tensor, Tensor | None]:
        """Each head's MSE of the normalised Δ on the window ``obs[n, O], act[n, A], next_obs[n, O]`` (its
        last M transitions scored, the context from its last K): ``(errors[H], ctx[1, C] or None)``."""
        m = self.cfg.select_window
        ctx = self.context(obs[None], act[None], next_obs[None])
        x, y = self.model.transitions({"obs": obs[-m:], "act": act[-m:], "next_obs": next_obs[-m:]})
        h = self.cfg.heads
        params = self.networks(torch.arange(h, device=x.device), None if ctx is None else ctx.expand(h, -1))
        return self.model.mse(params, x.expand(h, -1, -1), y.expand(h, -1, -1)), ctx

    # ---------------------------------------------------------------------------- the StreamLearner API
    def _refresh(self) -> Params:
        """Select the head on the current window and build its network (once per new transition)."""
        if self._cache is None:
            dev = param_device(self.model)
            with self.timed(), torch.no_grad():
                if len(self.window):
                    obs, act, nxt = (v.to(dev) for v in self.window.tensors())
                    errors, ctx = self.head_errors(obs, act, nxt)
                    self.selected = int(torch.argmin(errors))
                else:
                    o, a = self.model.obs_dim, self.model.act_dim
                    empty = torch.zeros(1, 0, o, device=dev)
                    ctx = self.context(empty, torch.zeros(1, 0, a, device=dev), empty)
                head = torch.tensor([max(self.selected, 0)], device=dev)
                self._cache = {k: v.detach() for k, v in self.networks(head, ctx).items()}
        return self._cache

    def params(self) -> Params:
        """The trunk with the selected head (and the window's context), stacked ``[1, ...]``."""
        return self._refresh()

    @property
    def situation(self) -> int:
        """The selected head (-1 before the first transition)."""
        self._refresh()
        return self.selected

    def train(self) -> dict[str, float]:
        """One session of ``steps_per_session`` winner-take-all Adam steps on segments from the FIFO
        (skipped while no episode holds K + S transitions)."""
        cfg = self.cfg
        dev = param_device(self.model)
        named = self.trainable()
        length = cfg.segment + (cfg.history if self.encoder is not None else 0)
        total, n = 0.0, cfg.steps_per_session
        wins = torch.zeros(cfg.heads)
        sampler = self.memory.sampler(length)
        if sampler is None:
            return {"train/steps": 0.0, "train/skipped": 1.0}
        for _ in range(cfg.steps_per_session):
            seg = sampler.sample(cfg.batch_size, self.generator, dev)
            filled = None
            if self.encoder is not None:
                filled = self.encoder.draw_filled(cfg.batch_size, cfg.partial_context, self.generator)
            losses = self.head_losses(seg, filled)
            winners = losses.detach().argmin(0)
            weight = F.one_hot(winners, cfg.heads).T.to(losses.dtype)
            if cfg.relax > 0 and cfg.heads > 1:
                weight = weight * (1 - cfg.relax) + (1 - weight) * (cfg.relax / (cfg.heads - 1))
            loss = (weight * losses).sum(0).mean()
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(list(named.values()), cfg.grad_clip)
            self.optimizer.step()
            total += float(losses.detach().min(0).values.mean())
            wins += torch.bincount(winners.cpu(), minlength=cfg.heads)
        self._cache = None
        self.sessions += 1
        share = wins / wins.sum()
        return {
            "train/wta_loss": total / n,
            "train/heads_winning": float((share > 0).sum()),
            "train/top_head_share": float(share.max()),
            "train/steps": float(n),
            "train/skipped": 0.0,
        }

    # -------------------------------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Tensor]:
        """Heads, encoder, Adam's state, the FIFO, the window and the random state (the trunk is saved
        with the model, its owner)."""
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
            load_tensors_into(self._own(), unflatten("own", state), "T-MCL state")
            load_optimizer_state(self.trainable(), self.optimizer, unflatten("optim", state))
            self.memory.load_state_dict(unflatten("memory", state))
            load_window(self.window, unflatten("window", state))
            set_generator_state(self.generator, state["rng"])
        except KeyError as e:
            raise CorruptFileError(f"T-MCL state: missing {e}") from None
        self._cache = None

    def meta(self) -> dict[str, object]:
        return {**super().meta(), "selected": self.selected}

    def load_meta(self, meta: dict[str, object], /) -> None:
        selected = meta.get("selected", -1)
        if not isinstance(selected, int) or not -1 <= selected < self.cfg.heads:
            raise CorruptFileError(f"T-MCL meta: selected head {selected!r} is not one of {self.cfg.heads}")
        super().load_meta(meta)
        self.selected = selected
        self._cache = None
