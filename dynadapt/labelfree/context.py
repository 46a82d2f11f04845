"""Context-conditioned hypernetwork dynamics: a set encoder proposes a situation embedding from recent
transitions, a hypernetwork turns embeddings into the dynamics model's params (issue 16).

HyperCRL (Huang et al. 2021, reference §4.2-4.3) conditions a hypernetwork ``h(e; θ)`` on a *given* task
embedding; HyperDynamics (Xian et al. 2021, ICLR) conditions it on an embedding *inferred from interaction
history*. This module joins both, so that no task label is needed; :class:`ContextHnetConfig` configures it
and the learner built on it (:class:`~dynadapt.labelfree.learner.ContextHyperLearner`, which holds the
library, identifies situations and trains):

* **Set encoder** (Deep Sets, Zaheer et al. 2017): every transition of a window becomes
  ``z_i = [x_i, y_i]`` (the model's normalised input and normalised Δ target, ``DynamicsModel.transitions``),
  ``φ`` maps each to a feature vector, the features are mean-pooled (permutation invariant, any window
  length), and ``ρ`` maps the pooled vector to a proposal ``ê = ρ(mean_i φ(z_i)) ∈ R^D``.
* **Refinement**: a few gradient steps on the embedding alone, θ frozen, lower the window's loss
  ``L(h(e; θ); x, y)`` (:meth:`ContextHyperDynamics.refine`). Each step is accepted only if it lowers that
  loss; a rejected step halves that row's step size, so refinement never makes the window fit worse.
* **Hypernetwork** (:class:`~dynadapt.nets.hypernet.HyperNetwork`), chunked by default with the chunk size
  that minimises its size (``chunk_size = -1``), so that it is no larger than the network it generates
  (:meth:`ContextHyperDynamics.size_ratio`; the issue's pendulum-sized target, 4 inputs, (64, 64), 3
  outputs, 4,675 params, gets c = 40, 117 chunks, a 4,452-param hnet: ratio 0.95). It generates the
  ``layers.*`` tensors of the :class:`~dynadapt.models.dynamics.DynamicsModel`, each multiplied by the
  fixed ``1/√d_j`` of its layer's fan-in ``d_j``: one head serves every tensor of a chunked hnet, so, as
  hyperfan-in (Chang et al. 2020) argues, the scale must come from the target's fan-in; a unit-scale hnet
  output then gives PyTorch's default scale. (Measured on a fixed regression task with this target, 1,500
  Adam steps: test MSE 0.062 unscaled at lr 1e-3, 0.020 scaled at lr 1e-2, a plain MLP 0.016; hence also
  ``lr`` = 3e-3.) A Gaussian head's ``max_logvar``/``min_logvar`` are shared by every situation and
  trained beside θ (the chunked hnet has no init for constants). Every ``predict``/planner path works on
  the generated dict unchanged.
* **Library** of situation embeddings ``e_0 … e_{K-1}`` (stored in ``hnet.embeddings``, all plastic): the
  generated weights of the library are computed in one batched hnet pass and cached until
  :meth:`ContextHyperDynamics.invalidate` (after every training session, creation or merge), never per step
  (pitfall H3). :meth:`ContextHyperDynamics.weights` hands out the same objects until then.
* **Scoring** (:meth:`ContextHyperDynamics.nll`): the negative log-likelihood of ``K`` param sets on one
  window in one batched forward. Deterministic head: the MSE-based Gaussian NLL with a shared variance σ²,
  ``0.5 Σ_i Σ_d [(μ − y)²/σ² + log(2πσ²)]`` (summed over the window's transitions); Gaussian head: the
  model's own ``0.5 Σ [(μ − y)² e^{−ℓ} + ℓ + log 2π]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

import torch
from torch import Tensor

from dynadapt.checks import check
from dynadapt.errors import CorruptFileError, DynadaptError
from dynadapt.labelfree.identify import IdentifyConfig
from dynadapt.models.dynamics import DynamicsModel
from dynadapt.nets.hypernet import HyperNetConfig, HyperNetwork, mlp_targets
from dynadapt.nets.mlp import MLPSpec, forward, init_params
from dynadapt.types import Params

if TYPE_CHECKING:
    from dynadapt.labelfree.learner import ContextHyperLearner

_LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class ContextHnetConfig:
    """Context-conditioned hypernetwork with a library of situations identified online (issue 16): the
    architecture (set encoder, refinement, chunked hypernetwork) and the learner's identification and
    training (:class:`~dynadapt.labelfree.learner.ContextHyperLearner`)."""

    name: ClassVar[str] = "hnet"

    labels: Literal["inferred", "true"] = "inferred"
    """inferred: identify situations online (label-free); true: use the true label (task-aware reference:
    HyperCRL's algorithm on the same network)."""
    identify: IdentifyConfig = field(default_factory=IdentifyConfig)
    """Online identification (window M, sticky CRP prior, persistence, detector)."""
    emb_dim: int = 8
    """Situation embedding size D."""
    hidden: tuple[int, ...] = (32, 32)
    """Hypernetwork trunk widths (its input is [embedding; chunk embedding])."""
    activation: Literal["relu", "silu", "elu", "tanh"] = "relu"
    """Hypernetwork trunk activation."""
    init: Literal["xavier", "naive"] = "xavier"
    """Head init of the chunked hypernetwork: xavier (HyperCRL) or naive (PyTorch default)."""
    chunk_size: int = -1
    """-1: chunked, with the chunk size that minimises the hnet's size (smaller than its target); 0: full
    hypernetwork (one head per target tensor, (trunk width + 1) times the target); c > 0: c per chunk."""
    chunk_emb_dim: int = 12
    """Chunk embedding size D_c."""
    encoder_hidden: tuple[int, ...] = (32,)
    """Hidden widths of the per-transition encoder φ([x, y])."""
    encoder_features: int = 32
    """Size of φ's output, mean-pooled over the window (Deep Sets)."""
    encoder_out_hidden: tuple[int, ...] = (32,)
    """Hidden widths of ρ, which maps the pooled features to the proposed embedding."""
    refine_steps: int = 2
    """Gradient steps on the proposed embedding (hypernetwork frozen) to fit the window (0: none)."""
    refine_lr: float = 1.0
    """Step size of those steps (halved for a row whose step did not lower its window loss)."""
    refine_library: bool = False
    """Charge the new candidate its local-fit advantage: refine every library embedding on the window's
    first half as the candidate is, and let "new" lead only if it beats the best of those on the second
    half. Off by default: measured on pendulum, a hypernetwork trained on one situation then cannot
    propose a candidate that beats a refined stored embedding even in a truly new situation."""
    min_window: int = 4
    """Identify once the episode's window holds this many transitions (before: the transitions wait)."""
    candidate_every: int = 4
    """Re-fit the new candidate every this many steps (in between, its embedding is re-scored)."""
    shadow_lr: float = 1e-3
    """identify.new_test = adapt: Adam step size of the shadow's weight-space offset from the current
    situation's generated network."""
    shadow_steps: int = 1
    """identify.new_test = adapt: the shadow's Adam steps on the window after every transition."""
    mature_sessions: int = 3
    """No new situation is created while the one in force has had fewer training sessions than this (a
    young embedding is itself a recent candidate; 1: only before its first session)."""
    young_hold: bool = False
    """identify.detector = llr: no recall evidence accumulates while the situation in force is young (fewer
    than mature_sessions sessions; before its first session it never does). Its network has been
    trained on a few hundred transitions at most and extrapolates outside them (an episode's start, the
    states a planner with a poor model drives to), where an older situation would win those transitions
    and a duplicate follow. A young situation is left by an error alarm once mature."""
    capacity: int = 2000
    """Transitions kept per situation (a bounded ring; the oldest are dropped)."""
    train_steps: int = 50
    """Minibatch steps per training session."""
    batch_size: int = 64
    """Transitions per minibatch."""
    lr: float = 3e-3
    """Adam learning rate of the hypernetwork θ (and of a Gaussian head's log-variance bounds)."""
    emb_lr: float = 1e-3
    """Adam learning rate of the current situation's embedding."""
    enc_lr: float = 1e-3
    """Adam learning rate of the set encoder."""
    beta: float = 0.05
    """β: weight of HyperCRL's output regulariser on the sampled earlier embeddings (0: none)."""
    reg_tasks: int = 4
    """Earlier embeddings regularised (and whose data train the encoder) per session: a random sample,
    bounded so that a session costs the same however large the library is."""
    rehearse: int = 0
    """Rows of each sampled earlier situation's own bounded buffer replayed per minibatch, through its own
    (fixed) embedding, beside the current situation's (0: none; rehearsal, as in the coreset baseline of
    HyperCRL's comparison, Huang et al. 2021 Sec. 5, here on the library's own per-situation data). The
    output regulariser holds the generated weights in weight space only; rehearsal holds each earlier
    network's predictions on its own transitions. The same work however large the library
    (``reg_tasks`` draws of ``rehearse`` rows)."""
    relabel: int = 0
    """Label-free only: after each session, chunks of this many consecutive steps of the current
    situation's buffer that one of the session's sampled situations explains better by ``llr_threshold``
    (tempered nats, the online switch threshold) move to that situation's buffer (0: never). Hard EM over
    the stored data: transitions routed to the wrong situation before a switch was detected stop training
    it, so a network does not grow into a generalist that no stored situation can then beat."""
    lookahead: Literal["adam", "none"] = "adam"
    """Regulariser at θ + Δθ with Δθ the step Adam would take (HyperCRL), or at θ."""
    grad_clip: float = 5.0
    """Clip the gradient norms of θ, the embedding and the encoder (0 disables)."""
    enc_segments: int = 8
    """Segments per situation per encoder step."""
    enc_pull: float = 1.0
    """Weight of the pull of the encoder's proposal toward the situation's library embedding."""
    score_var: float = 0.0
    """σ² of the deterministic head's score (0: automatic, the median over the library of each situation's
    MSE on its recent data after its last session, at least min_score_var; 1 before any session)."""
    own_scale: bool = False
    """identify.detector = llr, deterministic head: score each situation with its own variance per Δ
    dimension (its network's MSE per dimension on its recent data after its last session, at least
    min_score_var; the shared σ² before its first) instead of one σ² for all, as the oracle filter of
    benchmarks/labelfree_bound.py does: a ratio then compares two calibrated models."""
    min_score_var: float = 1e-3
    """Lower bound of the automatic σ²."""
    merge_tolerance: float = 1.0
    """Merge two situations when one's network predicts both situations' recent data within 1 + this of
    each one's own (0: never merge)."""
    merge_rows: int = 128
    """Recent transitions per situation the merge test evaluates."""
    merge_llr: float = 0.0
    """identify.detector = llr: merge two situations when each one's network predicted the other's recent
    transitions (the prequential ratios scored while the other was current, a moving mean over merge_rows)
    within this many nats per transition of the other's own (0: the merge_tolerance test)."""

    def __post_init__(self) -> None:
        self.hidden = tuple(self.hidden)
        self.encoder_hidden = tuple(self.encoder_hidden)
        self.encoder_out_hidden = tuple(self.encoder_out_hidden)
        floats = ("refine_lr", "lr", "emb_lr", "enc_lr", "beta", "grad_clip", "enc_pull", "score_var")
        for name in (*floats, "min_score_var", "merge_tolerance", "merge_llr", "shadow_lr"):
            if not math.isfinite(float(getattr(self, name))):
                raise DynadaptError(f"hnet.{name} must be finite")
        window = self.identify.window
        checks = [
            (self.labels in ("inferred", "true"), "hnet.labels must be inferred or true"),
            (self.emb_dim >= 1, "hnet.emb_dim must be >= 1"),
            (all(h >= 1 for h in self.hidden), "hnet.hidden must be positive"),
            (self.init in ("xavier", "naive"), "hnet.init must be xavier or naive"),
            (self.chunk_size >= -1, "hnet.chunk_size must be -1 (auto), 0 (full) or positive"),
            (self.chunk_emb_dim >= 1, "hnet.chunk_emb_dim must be >= 1"),
            (all(h >= 1 for h in self.encoder_hidden), "hnet.encoder_hidden must be positive"),
            (self.encoder_features >= 1, "hnet.encoder_features must be >= 1"),
            (all(h >= 1 for h in self.encoder_out_hidden), "hnet.encoder_out_hidden must be positive"),
            (self.refine_steps >= 0 and self.refine_lr > 0, "hnet: refine_steps >= 0 and refine_lr > 0"),
            (2 <= self.min_window <= window, f"hnet.min_window must be in [2, identify.window = {window}]"),
            (self.candidate_every >= 1, "hnet.candidate_every must be >= 1"),
            (self.shadow_lr > 0, "hnet.shadow_lr must be > 0"),
            (self.shadow_steps >= 1, "hnet.shadow_steps must be >= 1"),
            (self.mature_sessions >= 1, "hnet.mature_sessions must be >= 1"),
            (self.capacity >= 1, "hnet.capacity must be >= 1"),
            (self.train_steps >= 1 and self.batch_size >= 1, "hnet.train_steps and batch_size must be >= 1"),
            (min(self.lr, self.emb_lr, self.enc_lr) > 0, "hnet learning rates must be > 0"),
            (self.beta >= 0 and self.reg_tasks >= 0, "hnet.beta and reg_tasks must be >= 0"),
            (self.rehearse >= 0, "hnet.rehearse must be >= 0"),
            (self.relabel >= 0, "hnet.relabel must be >= 0 (0: off)"),
            (self.lookahead in ("adam", "none"), "hnet.lookahead must be adam or none"),
            (self.grad_clip >= 0 and self.enc_pull >= 0, "hnet.grad_clip and enc_pull must be >= 0"),
            (self.enc_segments >= 1, "hnet.enc_segments must be >= 1"),
            (self.score_var >= 0 and self.min_score_var > 0, "hnet: score_var >= 0 and min_score_var > 0"),
            (self.merge_tolerance >= 0 and self.merge_rows >= 1, "hnet: merge_tolerance >= 0, rows >= 1"),
            (self.merge_llr >= 0, "hnet.merge_llr must be >= 0"),
        ]
        check(*checks)

    def build(self, model: DynamicsModel, generator: torch.Generator) -> ContextHyperLearner:
        """The learner (:class:`~dynadapt.labelfree.learner.ContextHyperLearner`) of ``model``."""
        from dynadapt.labelfree.learner import ContextHyperLearner

        return ContextHyperLearner(self, model, generator)

    def resolved_chunk_size(self, n: int) -> int:
        """The chunk size for a target of ``n`` params: ``chunk_size`` unless -1, which picks the ``c``
        minimising the size ``(d_k + 1)·c + ⌈n/c⌉·D_c`` (+ the trunk, which does not depend on ``c``):
        the integer minimum near the continuous one ``√(n·D_c/(d_k + 1))``."""
        if self.chunk_size >= 0:
            return self.chunk_size
        d_k = self.hidden[-1] if self.hidden else self.emb_dim + self.chunk_emb_dim
        best = max(1, round(math.sqrt(n * self.chunk_emb_dim / (d_k + 1))))
        return min(
            range(max(1, best // 2), 2 * best + 2),
            key=lambda c: ((d_k + 1) * c + math.ceil(n / c) * self.chunk_emb_dim, c),
        )


class ContextHyperDynamics:
    """Set encoder + chunked hypernetwork + library of situation embeddings around one dynamics model.

    Args:
        model: the dynamics model (``ensemble_size = 1``); its params are never used, only its ``spec``,
            normalisers, ``loss`` and ``forward_normalized``.
        cfg: architecture and refinement settings.
        generator: source of every random number of the initialisation.

    Shapes: ``x[..., n, F + A]`` normalised inputs, ``y[..., n, O]`` normalised Δ targets, embeddings
    ``[T, D]``; generated params are stacked ``{name: [T, ...]}`` like an ensemble of ``T``.
    """

    def __init__(self, model: DynamicsModel, cfg: ContextHnetConfig, generator: torch.Generator) -> None:
        if model.cfg.ensemble_size != 1:
            raise DynadaptError("the context hypernetwork generates one network: use model.ensemble_size=1")
        self.model = model
        self.cfg = cfg
        targets = mlp_targets(model.spec)
        n = sum(t.numel for t in targets.values())
        hcfg = HyperNetConfig(
            emb_dim=cfg.emb_dim,
            hidden=cfg.hidden,
            activation=cfg.activation,
            init=cfg.init if cfg.chunk_size != 0 else "bias_hyperinit",
            chunk_size=cfg.resolved_chunk_size(n),
            chunk_emb_dim=cfg.chunk_emb_dim,
            plastic=True,
        )
        self.hnet = HyperNetwork(targets, hcfg, target_activation=model.spec.activation, generator=generator)
        self.scale: dict[str, float] = {
            k: 1.0 / math.sqrt(t.fan_in) if hcfg.chunk_size else 1.0 for k, t in targets.items()
        }
        """Fixed factor of each generated tensor: ``1/√d_j`` (its layer's fan-in) for a chunked hnet."""
        self.bounds: Params = {}
        """A Gaussian head's ``max_logvar``/``min_logvar [1, O]``, shared by every situation (else empty)."""
        if model.gaussian:
            self.bounds = {
                "max_logvar": torch.full((1, model.obs_dim), 0.5, requires_grad=True),
                "min_logvar": torch.full((1, model.obs_dim), -10.0, requires_grad=True),
            }
        self.phi_spec = MLPSpec(
            model.spec.in_dim + model.obs_dim, cfg.encoder_features, cfg.encoder_hidden, "relu"
        )
        self.rho_spec = MLPSpec(cfg.encoder_features, cfg.emb_dim, cfg.encoder_out_hidden, "relu")
        self.encoder: Params = {f"phi.{k}": v for k, v in init_params(self.phi_spec, generator).items()}
        self.encoder |= {f"rho.{k}": v for k, v in init_params(self.rho_spec, generator).items()}
        for p in self.encoder.values():
            p.requires_grad_(True)
        self._stack: Params | None = None
        self._single: dict[int, Params] = {}
        self._prior: Params | None = None
        self.generations = 0
        """Batched hypernetwork passes made to fill the cache (a test counts them)."""

    @property
    def device(self) -> torch.device:
        """Where θ lives (a run moves every tensor in place, :func:`dynadapt.device.place`)."""
        return next(iter(self.hnet.theta.values())).device

    # ------------------------------------------------------------------------------------------ sizes
    def size_ratio(self) -> float:
        """Hypernetwork size over the size of the network it generates."""
        return self.hnet.size_ratio()

    def num_params(self) -> int:
        """Trainable parameters shared by every situation: θ, the encoder and the log-variance bounds."""
        return self.hnet.num_params() + sum(
            v.numel() for v in (*self.encoder.values(), *self.bounds.values())
        )

    # ---------------------------------------------------------------------------------------- encoder
    def encode(self, x: Tensor, y: Tensor, encoder: Params | None = None) -> Tensor:
        """Proposed embeddings of windows: ``x[B, n, F + A], y[B, n, O] -> [B, D]`` (differentiable)."""
        enc = self.encoder if encoder is None else encoder
        z = torch.cat([x, y], dim=-1)
        phi = {k[4:]: v for k, v in enc.items() if k.startswith("phi.")}
        rho = {k[4:]: v for k, v in enc.items() if k.startswith("rho.")}
        pooled = torch.relu(forward(self.phi_spec, phi, z)).mean(dim=-2)
        return forward(self.rho_spec, rho, pooled)

    # -------------------------------------------------------------------------------------- generation
    def generate(self, emb: Tensor, theta: Params | None = None) -> Params:
        """Params of a batch of embeddings, ``emb[T, D] -> {name: [T, ...]}`` (differentiable in both)."""
        out = {k: v * self.scale[k] for k, v in self.hnet.forward(emb, theta).items()}
        for k, v in self.bounds.items():
            out[k] = v.expand(emb.shape[0], -1)
        return out

    def window_loss(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        """The training loss (``DynamicsModel.loss``, a mean over the window) of each param set:
        ``params[T], x[T, n, ·], y[T, n, O] -> [T]``."""
        return self.model.loss(params, x, y)

    def nll(
        self, params: Params, x: Tensor, y: Tensor, var: float | Tensor = 1.0, nu: float = 0.0
    ) -> tuple[Tensor, Tensor]:
        """Negative log-likelihood of one window under each of ``T`` param sets, summed over the window, and
        the summed squared error of the predicted mean: ``params[T, ...], x[n, F + A] (or [T, n, ·]),
        y[n, O] (or [T, n, O]) -> (nll[T], sq[T])``, one batched forward; :meth:`row_nll` gives the same
        likelihood per transition."""
        per, sq = self._nll_elements(params, x, y, var, nu)
        return per.sum(dim=(-1, -2)), sq.sum(dim=(-1, -2))

    def row_nll(
        self, params: Params, x: Tensor, y: Tensor, var: float | Tensor = 1.0, nu: float = 0.0
    ) -> Tensor:
        """The likelihood of :meth:`nll` per transition, not summed over the window: ``-> [T, n]``."""
        return self._nll_elements(params, x, y, var, nu)[0].sum(-1)

    def _nll_elements(
        self, params: Params, x: Tensor, y: Tensor, var: float | Tensor, nu: float
    ) -> tuple[Tensor, Tensor]:
        """Per-element NLL and squared error, both ``[T, n, O]``.

        Deterministic head: Gaussian with variance ``var`` on every normalised Δ dimension, or with
        ``nu`` > 0 Student-t with ν degrees of freedom and scale² ``var`` (up to a constant the same for
        every param set); ``var`` may also be a tensor ``[T, O]``, each param set's own variance per
        dimension (then its log normaliser is included for either likelihood); Gaussian head: the
        predicted variance (``var``, ``nu`` unused)."""
        t = next(iter(params.values())).shape[0]
        if x.dim() == 2:
            x, y = x.expand(t, -1, -1), y.expand(t, -1, -1)
        mean, logvar = self.model.forward_normalized(params, x)
        sq = (mean - y) ** 2
        if logvar is not None:
            return 0.5 * (sq * torch.exp(-logvar) + logvar + _LOG_2PI), sq
        if isinstance(var, Tensor):
            v = var[:, None, :]  # [T, 1, O]
            if nu > 0:
                return 0.5 * (nu + 1) * torch.log1p(sq / (nu * v)) + 0.5 * torch.log(v), sq
            return 0.5 * (sq / v + torch.log(v) + _LOG_2PI), sq
        if nu > 0:
            return 0.5 * (nu + 1) * torch.log1p(sq / (nu * var)), sq
        return 0.5 * (sq / var + (math.log(var) + _LOG_2PI)), sq

    def refine(
        self, emb: Tensor, x: Tensor, y: Tensor, steps: int | None = None, lr: float | None = None
    ) -> tuple[Tensor, Tensor]:
        """Fit embeddings to windows by gradient steps on the embeddings alone (θ frozen):
        ``emb[B, D], x[B, n, ·], y[B, n, O] -> (refined emb[B, D], window loss[B])``, both detached.

        Step ``e ← e − λ_b ∇_e L_b(e)`` per row ``b``; a step that does not lower the row's loss is undone
        and halves ``λ_b``, so the returned loss is never above the proposal's."""
        steps = self.cfg.refine_steps if steps is None else steps
        step = torch.full((emb.shape[0], 1), self.cfg.refine_lr if lr is None else lr, device=emb.device)
        theta = {k: v.detach() for k, v in self.hnet.theta.items()}
        bounds = {k: v.detach() for k, v in self.bounds.items()}

        def loss_of(e: Tensor) -> Tensor:
            params = {k: v * self.scale[k] for k, v in self.hnet.forward(e, theta).items()}
            params |= {k: v.expand(e.shape[0], -1) for k, v in bounds.items()}
            return self.window_loss(params, x, y)

        best = emb.detach()
        with torch.enable_grad():
            e = best.clone().requires_grad_(True)
            best_loss = loss_of(e)
            if steps == 0:
                return best, best_loss.detach()
            grad = torch.autograd.grad(best_loss.sum(), e)[0]
            best_loss = best_loss.detach()
            for s in range(steps):
                cand = (best - step * grad).requires_grad_(s < steps - 1)
                loss = loss_of(cand)
                better = loss.detach() < best_loss
                if s < steps - 1:
                    g_new = torch.autograd.grad(loss.sum(), cand)[0]
                    grad = torch.where(better[:, None], g_new, grad)
                best = torch.where(better[:, None], cand.detach(), best)
                best_loss = torch.where(better, loss.detach(), best_loss)
                step = torch.where(better[:, None], step, step * 0.5)
        return best, best_loss

    # ---------------------------------------------------------------------------------------- library
    @property
    def num_situations(self) -> int:
        return self.hnet.num_tasks

    def embeddings(self) -> Tensor:
        """``[K, D]`` library embeddings (detached)."""
        if not self.hnet.embeddings:
            return torch.zeros(0, self.cfg.emb_dim, device=self.device)
        return torch.stack([e.detach() for e in self.hnet.embeddings])

    def add(self, emb: Tensor) -> int:
        """Append an embedding ``[D]`` (or ``[1, D]``) to the library; returns its index."""
        e = emb.detach().reshape(self.cfg.emb_dim).clone().to(self.device)
        if not torch.isfinite(e).all():
            raise DynadaptError("refusing to store a NaN or infinite situation embedding")
        self.hnet.embeddings.append(e)
        self.invalidate()
        return self.num_situations - 1

    def remove(self, k: int) -> None:
        """Drop embedding ``k`` (indices above it shift down by one)."""
        self.hnet.embeddings.pop(k)
        self.invalidate()

    def library_params(self) -> Params:
        """Detached generated params of the whole library ``{name: [K, ...]}``, one batched hnet pass,
        cached until :meth:`invalidate`."""
        if self._stack is None:
            with torch.no_grad():
                self._stack = {k: v.detach() for k, v in self.generate(self.embeddings()).items()}
            self.generations += 1
        return self._stack

    def weights(self, k: int) -> Params:
        """Detached params ``{name: [1, ...]}`` of library situation ``k`` for planning; the same object
        until :meth:`invalidate`."""
        if not 0 <= k < self.num_situations:
            raise DynadaptError(f"situation {k} is not in the library ({self.num_situations} stored)")
        if k not in self._single:
            self._single[k] = {name: v[k : k + 1] for name, v in self.library_params().items()}
        return self._single[k]

    def prior_weights(self) -> Params:
        """Params of the zero embedding (planning before the first situation exists), cached."""
        if self._prior is None:
            with torch.no_grad():
                self._prior = {
                    k: v.detach()
                    for k, v in self.generate(torch.zeros(1, self.cfg.emb_dim, device=self.device)).items()
                }
        return self._prior

    def invalidate(self) -> None:
        """Forget every cached generated weight (after any change of θ, an embedding or the library)."""
        self._stack, self._prior = None, None
        self._single = {}
        self.hnet.invalidate_cache()

    # ------------------------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Tensor]:
        """θ (``hnet.theta.*``), library (``hnet.emb [K, D]``), encoder (``encoder.*``), bounds."""
        out = {f"hnet.{k}": v for k, v in self.hnet.state_dict().items()}
        out |= {f"encoder.{k}": v.detach().clone() for k, v in self.encoder.items()}
        out |= {f"bounds.{k}": v.detach().clone() for k, v in self.bounds.items()}
        return out

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.hnet.load_state_dict({k[5:]: v for k, v in state.items() if k.startswith("hnet.")})
        for e in self.hnet.embeddings:
            e.requires_grad_(False)
        with torch.no_grad():
            for prefix, params in (("encoder.", self.encoder), ("bounds.", self.bounds)):
                for k, v in params.items():
                    src = state.get(prefix + k)
                    if src is None or src.shape != v.shape:
                        raise CorruptFileError(
                            f"context hypernetwork tensor {prefix}{k} is missing or misshapen"
                        )
                    v.copy_(src)
        self.invalidate()
