"""GrBAL: gradient-based adaptive learner (Nagabandi, Clavera et al. 2019, Alg. 1; reference §5.1-§5.2).

Meta-objective over segments ``τ(t−M, t+K)`` of trajectories collected across perturbations::

    θ' = u_ψ(τ(t−M, t−1), θ) = θ − ψ ⊙ ∇_θ L(τ(t−M, t−1), θ)    (inner step, repeated n times)
    min_{θ, ψ} E_τ [ L(τ(t, t+K), θ') ]                           (outer step: Adam, lr β for θ, η for ψ)

with ``L`` the MSE of the normalised Δ (the fixed-variance Gaussian log-likelihood of §5.1 up to constants).
The inner step is ``torch.func.grad`` of the loss as a function of the params dict, mapped over the task
batch with ``torch.func.vmap``; the outer gradient flows through it (second-order MAML, as the release) or
treats the inner gradient as a constant (``first_order``). ψ is one fixed float α (the release: 0.001 in
``run_grbal.py``) or learned per parameter element (Meta-SGD style, initialised to α).

At test time every step restarts from θ* and adapts on the last ``M`` transitions of the current episode,
newest included (§5.1; pitfalls G6, G12): see :class:`dynadapt.meta.online.GradientAdapter`.
The adapted parameters are plain ``params`` for :meth:`DynamicsModel.predict` (design principle 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from dynadapt.checks import check
from dynadapt.errors import DynadaptError
from dynadapt.meta.base import FitSettings, SegmentLearner, Segments
from dynadapt.models.dynamics import DynamicsModel
from dynadapt.types import Params

StepSize = float | Params
"""α: one float, or per-parameter-element step sizes ψ (a dict shaped like the adapted params)."""


@dataclass
class GrBALConfig:
    """GrBAL meta-learner (reference §5.2: release M = K = 16, α = 0.001 fixed, β = 1e-3, 10 segments)."""

    name: ClassVar[str] = "grbal"

    M: int = 16
    """Past: transitions the inner step adapts on."""
    K: int = 16
    """Future: transitions the adapted model is evaluated on (independent of M, pitfall G7)."""
    inner_lr: float = 0.01
    """α, the inner step size (also ψ's initial value when learned)."""
    inner_steps: int = 1
    """Inner gradient steps n (one in the paper)."""
    learn_inner_lr: bool = True
    """Learn ψ per parameter element (outer lr ``psi_lr``) instead of a fixed α."""
    psi_lr: float = 1e-3
    """η: Adam learning rate of ψ."""
    adapt_from: int = 0
    """Online: adapt once the episode's window holds this many transitions, planning with θ* before (0: M).
    The meta-objective only ever adapts on full windows of M; a step taken on 1-2 transitions early in an
    episode overfits them (pendulum, 3 seeds: held-out return -617 adapting from 1 transition)."""
    first_order: bool = False
    """First-order MAML: do not differentiate through the inner gradient."""
    outer_lr: float = 1e-3
    """β: Adam learning rate of θ."""
    meta_batch: int = 10
    """Segments per outer step, drawn from as many perturbations as possible."""
    max_epochs: int = 100
    """Most epochs per fit (the release: 100)."""
    steps_per_epoch: int = 0
    """Outer steps per epoch (0: #train transitions / (meta_batch · (M + K)), as the release)."""
    patience: int = 5
    """Stop when the held-out post-adaptation loss has not improved by 1 % for this many epochs (G5)."""
    holdout_ratio: float = 0.1
    """Fraction of whole episodes held out for validation (the release: 10 % of trajectories)."""
    max_val_segments: int = 256
    """At most this many held-out segments are evaluated per epoch."""
    grad_clip: float = 10.0
    """Clip the outer gradient norm (0 disables)."""

    def __post_init__(self) -> None:
        checks = [
            (self.M >= 1 and self.K >= 1, "meta.M and meta.K must be >= 1"),
            (self.inner_lr > 0 and self.outer_lr > 0 and self.psi_lr > 0, "learning rates must be > 0"),
            (self.inner_steps >= 1, "meta.inner_steps must be >= 1"),
            (0 <= self.adapt_from <= self.M, "grbal.adapt_from must be in [0, M] (0: M)"),
            (self.meta_batch >= 1, "meta.meta_batch must be >= 1"),
            (self.max_epochs >= 1 and self.patience >= 1, "meta.max_epochs and patience must be >= 1"),
            (0 <= self.holdout_ratio < 1, "meta.holdout_ratio must be in [0, 1)"),
            (self.steps_per_epoch >= 0 and self.max_val_segments >= 1, "invalid epoch settings"),
        ]
        check(*checks)


def adapted_keys(params: Params) -> list[str]:
    """Names of the tensors the inner step changes: the network's weights and biases."""
    return [k for k in params if k.startswith("layers.")]


def inner_update(
    loss_fn: Callable[[Params, Tensor, Tensor], Tensor],
    params: Params,
    x: Tensor,
    y: Tensor,
    lr: StepSize,
    steps: int = 1,
    first_order: bool = False,
) -> Params:
    """``steps`` gradient steps ``θ ← θ − α ⊙ ∇_θ loss_fn(θ, x, y)`` on the network tensors.

    ``loss_fn(params, x, y) -> scalar``; ``x[..., M, D], y[..., M, O]`` as ``loss_fn`` expects. Pure and
    differentiable: the result depends on ``params`` (and ψ) through the inner gradient unless
    ``first_order``. Works inside ``torch.func.vmap`` and under ``torch.no_grad`` (``torch.func.grad`` is a
    function transform).
    """
    keys = adapted_keys(params)
    fixed = {k: v for k, v in params.items() if k not in keys}

    def on_adapted(p: Params) -> Tensor:
        return loss_fn({**fixed, **p}, x, y)

    grad_fn = torch.func.grad(on_adapted)
    current = {k: params[k] for k in keys}
    for _ in range(steps):
        g = grad_fn(current)
        if first_order:
            g = {k: v.detach() for k, v in g.items()}
        if isinstance(lr, dict):
            current = {k: current[k] - lr[k] * g[k] for k in keys}
        else:
            current = {k: current[k] - lr * g[k] for k in keys}
    return {**fixed, **current}


class GrBAL(SegmentLearner):
    """The GrBAL meta-learner around a single-member :class:`DynamicsModel` (hooks: ``loss``, ``adapt``,
    ``fit``, ``make_adapter``, ``state_dict``).

    ``model.params`` is θ (stacked ``[1, ...]``); ``self.psi`` the per-element step sizes (learned) or None.
    """

    def __init__(self, model: DynamicsModel, cfg: GrBALConfig, generator: torch.Generator) -> None:
        if model.cfg.ensemble_size != 1:
            raise DynadaptError("GrBAL meta-trains a single model: set model.ensemble_size=1")
        self.model = model
        self.cfg = cfg
        self.M, self.K = cfg.M, cfg.K
        self.generator = generator
        self.psi: Params | None = None
        groups: list[dict[str, object]] = [{"params": list(model.params.values()), "lr": cfg.outer_lr}]
        if cfg.learn_inner_lr:
            self.psi = {
                k: torch.full_like(model.params[k], cfg.inner_lr).requires_grad_(True)
                for k in adapted_keys(model.params)
            }
            groups.append({"params": list(self.psi.values()), "lr": cfg.psi_lr})
        self.optimizer = torch.optim.Adam(groups)

    # ------------------------------------------------------------------------------------------ hooks
    def fit_settings(self) -> FitSettings:
        c = self.cfg
        return FitSettings(
            c.meta_batch, c.max_epochs, c.patience, c.holdout_ratio, c.max_val_segments, c.grad_clip,
            c.steps_per_epoch,
        )  # fmt: skip

    def trainable(self) -> dict[str, Tensor]:
        out = {f"theta.{k}": v for k, v in self.model.params.items()}
        if self.psi is not None:
            out |= {f"psi.{k}": v for k, v in self.psi.items()}
        return out

    @property
    def step_size(self) -> StepSize:
        """ψ (learned, per element) or the fixed α."""
        return self.psi if self.psi is not None else self.cfg.inner_lr

    def _mse(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        """Scalar MSE of the normalised Δ: params ``[1, ...]``, ``x[1, N, D]``, ``y[1, N, O]``."""
        return self.model.mse(params, x, y).sum()

    def adapt(self, params: Params, x: Tensor, y: Tensor, create_graph: bool = False) -> Params:
        """θ' from θ = ``params`` (stacked ``[1, ...]``) and one window ``x[M, D], y[M, O]`` (normalised).

        Without ``create_graph`` the result is detached (online use; the cheap path).
        """
        out = inner_update(
            self._mse,
            params,
            x.unsqueeze(0),
            y.unsqueeze(0),
            self.step_size,
            self.cfg.inner_steps,
            first_order=self.cfg.first_order or not create_graph,
        )
        return out if create_graph else {k: v.detach() for k, v in out.items()}

    def segment_losses(self, seg: Segments, create_graph: bool = True) -> tuple[Tensor, Tensor]:
        """Per-segment post- and pre-adaptation MSE on the K future transitions: ``([B], [B])``."""
        theta = self.model.params
        lr = self.step_size
        steps, first_order = self.cfg.inner_steps, self.cfg.first_order or not create_graph
        x_p, y_p = seg.past(self.M)
        x_f, y_f = seg.future(self.M)

        def one(xp: Tensor, yp: Tensor, xf: Tensor, yf: Tensor) -> tuple[Tensor, Tensor]:
            adapted = inner_update(self._mse, theta, xp[None], yp[None], lr, steps, first_order)
            return self._mse(adapted, xf[None], yf[None]), self._mse(theta, xf[None], yf[None])

        with torch.set_grad_enabled(create_graph):
            post, pre = torch.func.vmap(one)(x_p, y_p, x_f, y_f)
        return post, pre

    # ------------------------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Tensor]:
        """ψ and the outer optimiser's state (θ is saved with the model)."""
        out: dict[str, Tensor] = {}
        if self.psi is not None:
            out |= {f"psi.{k}": v.detach().clone() for k, v in self.psi.items()}
        names = {id(v): k for k, v in self.trainable().items()}
        for p, st in self.optimizer.state.items():
            for key, val in st.items():
                out[f"optim.{names[id(p)]}.{key}"] = torch.as_tensor(val).detach().clone()
        return out

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        if self.psi is not None:
            with torch.no_grad():
                for k, v in self.psi.items():
                    v.copy_(state[f"psi.{k}"])
        for name, p in self.trainable().items():
            prefix = f"optim.{name}."
            entries = {k[len(prefix) :]: v.clone() for k, v in state.items() if k.startswith(prefix)}
            if entries:
                self.optimizer.state[p] = entries
