"""The continual-learning baselines of HyperCRL (reference §4.4) on one shared dynamics network.

The network is split into a shared *trunk* (every layer but the last) and an output *head* (the last
layer and, for the Gaussian head, that task's log-variance bounds; pitfall H11: each task keeps its own
bounds). With ``multihead=True`` (the reference) each task gets a new head; with ``False`` one head is
shared by all tasks. Adam (lr 1e-3) trains trunk and heads.

=============  ===================================================================================
finetune       keep training the trunk on the current task; no protection
single         a fresh trunk and head per task (one model per task), the reference for forward transfer
ewc            + λ·½ Σ_{i<t} Σ_k F_{i,k} (θ_k − θ*_{i,k})², empirical diagonal Fisher of the Gaussian
               log-likelihood from batch-size-1 gradients over task i's training data; trunk only
               (Kirkpatrick et al. 2017; λ = 1e4 with the reference's batch-summed loss; see :class:`EWC`)
si             + c Σ_k Ω_k (θ_k − θ̃_k)², Ω_k += W_k / ((Δθ_k)² + ξ), W_k = −Σ_steps g_k Δθ_k with g the
               task-loss gradient; trunk only (Zenke, Poole, Ganguli 2017; c = 0.1, ξ = 1e-3)
coreset        after each task keep M random training transitions; every step replays all of them
               through their own heads. The reference scales the batch-summed replay loss by B/M; with
               batch-mean losses that is the mean replay loss of each old task, added with weight 1
multitask      the oracle: every step adds a batch of B drawn from all data of every old task
=============  ===================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from dynadapt.continual.base import (
    ContinualContext,
    Strategy,
    StrategyConfig,
    adam,
    adam_step_,
    count_tensor,
    read_count,
    register_strategy,
)
from dynadapt.errors import DynadaptError
from dynadapt.io import flatten, unflatten
from dynadapt.models.dynamics import DynamicsModel
from dynadapt.types import Params


@dataclass
class SharedNetConfig(StrategyConfig):
    """Settings common to the shared-network baselines."""

    lr: float = 1e-3
    """Adam learning rate (reference: 1e-3)."""
    multihead: bool = True
    """A separate output head (and log-variance bounds) per task, as the reference; False: one head."""
    grad_clip: float = 0.0
    """Clip the gradient norm per step (0: off, as the reference)."""

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.grad_clip < 0:
            raise DynadaptError(f"{self.name}: lr must be > 0 and grad_clip >= 0")


class SharedNet(Strategy):
    """A trunk shared by all tasks plus per-task (or one) heads; the finetune baseline as is."""

    cfg: SharedNetConfig

    def __init__(self, cfg: SharedNetConfig, model: DynamicsModel, generator: torch.Generator) -> None:
        super().__init__(model, generator)
        if model.cfg.ensemble_size != 1:
            raise DynadaptError(f"{cfg.name}: the continual baselines use model.ensemble_size=1")
        self.cfg = cfg
        last = model.spec.num_layers - 1
        self.head_keys = {f"layers.{last}.weight", f"layers.{last}.bias", "max_logvar", "min_logvar"}
        init = self._fresh()
        self.trunk: Params = {k: v for k, v in init.items() if k not in self.head_keys}
        self.heads: list[Params] = []
        self.opt = adam(list(self.trunk.values()), lr=cfg.lr)

    def _fresh(self) -> Params:
        return {k: v.detach().clone().requires_grad_(True) for k, v in self.model.init_params().items()}

    def _new_head(self) -> Params:
        return {k: v for k, v in self._fresh().items() if k in self.head_keys}

    def head_index(self, t: int) -> int:
        return t if self.cfg.multihead else 0

    def train_params(self, t: int) -> Params:
        """Differentiable params ``{name: [1, ...]}`` for task ``t``."""
        return self.trunk | self.heads[self.head_index(t)]

    def params_for(self, t: int) -> Params:
        return {k: v.detach() for k, v in self.train_params(t).items()}

    def all_params(self) -> list[Tensor]:
        return list(self.trunk.values()) + [v for h in self.heads for v in h.values()]

    def before_task(self, t: int, ctx: ContinualContext) -> None:
        while len(self.heads) <= self.head_index(t):
            self.heads.append(self._new_head())
        self.opt = adam(self.all_params(), lr=self.cfg.lr)

    def penalty(self, t: int) -> Tensor:
        """Extra loss on the trunk (EWC, SI); 0 here."""
        return torch.zeros(())

    def replay_loss(self, t: int) -> Tensor:
        """Loss on replayed data of earlier tasks (coreset, multitask); 0 here."""
        return torch.zeros(())

    def update(self, t: int, x: Tensor, y: Tensor) -> dict[str, float]:
        self.opt.zero_grad(set_to_none=True)
        task = self.task_loss(self.train_params(t), x, y)
        extra = self.penalty(t) + self.replay_loss(t)
        (task + extra).backward()
        self.on_gradients(t)
        adam_step_(self.opt, self.all_params(), self.cfg.grad_clip)
        self.after_step(t)
        return {"train/loss": float(task.detach()), "train/reg": float(extra.detach())}

    def on_gradients(self, t: int) -> None:
        """Called after backward, before the optimiser step."""

    def after_step(self, t: int) -> None:
        """Called after the optimiser step."""

    # ------------------------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Tensor]:
        out = flatten("trunk", {k: v.detach() for k, v in self.trunk.items()})
        for i, h in enumerate(self.heads):
            out |= flatten(f"head{i}", {k: v.detach() for k, v in h.items()})
        for i, p in enumerate(self.all_params()):
            for key, val in self.opt.state.get(p, {}).items():
                out[f"opt.{i}.{key}"] = torch.as_tensor(val).detach().clone()
        out["count.heads"] = count_tensor(len(self.heads))
        return out

    def load_state_dict(self, state: dict[str, Tensor], /) -> None:
        # in the model's parameter order, whatever the order of ``state`` (a safetensors file sorts its
        # keys): the optimiser state below is matched to the parameters by position
        def leaves(prefix: str) -> Params:
            saved = unflatten(prefix, state)
            return {k: saved[k].clone().requires_grad_(True) for k in self.model.params if k in saved}

        self.trunk = leaves("trunk")
        self.heads = [leaves(f"head{i}") for i in range(read_count(state, "heads"))]
        self.opt = adam(self.all_params(), lr=self.cfg.lr)
        for i, p in enumerate(self.all_params()):
            head = f"opt.{i}."
            entries = {k[len(head) :]: v.clone() for k, v in state.items() if k.startswith(head)}
            if entries:
                self.opt.state[p] = entries


@register_strategy
@dataclass
class FinetuneConfig(SharedNetConfig):
    """Finetune: keep training one network on each new task (new head per task)."""

    name: ClassVar[str] = "finetune"

    def build(self, model: DynamicsModel, generator: torch.Generator) -> Strategy:
        return SharedNet(self, model, generator)


# ---------------------------------------------------------------------------------------------- single
@register_strategy
@dataclass
class SingleConfig(SharedNetConfig):
    """Single: a fresh network per task, each evaluated with its own weights (forward-transfer reference)."""

    name: ClassVar[str] = "single"

    def build(self, model: DynamicsModel, generator: torch.Generator) -> Strategy:
        return Single(self, model, generator)


class Single(SharedNet):
    """One model per task: re-initialise the trunk at every task and keep each task's trunk."""

    def __init__(self, cfg: SharedNetConfig, model: DynamicsModel, generator: torch.Generator) -> None:
        super().__init__(cfg, model, generator)
        self.trunks: list[Params] = []

    def head_index(self, t: int) -> int:
        return t

    def before_task(self, t: int, ctx: ContinualContext) -> None:
        if t > 0:
            init = self._fresh()
            self.trunk = {k: v for k, v in init.items() if k not in self.head_keys}
        super().before_task(t, ctx)

    def after_task(self, t: int, ctx: ContinualContext) -> None:
        while len(self.trunks) <= t:
            self.trunks.append({})
        self.trunks[t] = {k: v.detach().clone() for k, v in self.trunk.items()}

    def params_for(self, t: int) -> Params:
        trunk = self.trunks[t] if t < len(self.trunks) and self.trunks[t] else self.trunk
        return {k: v.detach() for k, v in (trunk | self.heads[t]).items()}

    def state_dict(self) -> dict[str, Tensor]:
        out = super().state_dict()
        for i, tr in enumerate(self.trunks):
            out |= flatten(f"trunks{i}", tr)
        out["count.trunks"] = count_tensor(len(self.trunks))
        return out

    def load_state_dict(self, state: dict[str, Tensor], /) -> None:
        super().load_state_dict(state)
        self.trunks = [unflatten(f"trunks{i}", state) for i in range(read_count(state, "trunks"))]


# ------------------------------------------------------------------------------------------------- EWC
@register_strategy
@dataclass
class EWCConfig(SharedNetConfig):
    """EWC: quadratic penalty weighted by the empirical Fisher of each earlier task."""

    name: ClassVar[str] = "ewc"
    lam: float = 1e4
    """Penalty weight λ (reference: 10,000, with the reference's Fisher and batch-summed loss; see EWC)."""
    fisher_samples: int = 200
    """Batch-size-1 gradients averaged for the Fisher (the reference uses the whole train split)."""

    def build(self, model: DynamicsModel, generator: torch.Generator) -> Strategy:
        return EWC(self, model, generator)


def empirical_fisher(loss_fn: Any, params: Params, x: Tensor, y: Tensor) -> Params:
    """Diagonal empirical Fisher ``F_k = mean_n (∂ loss(x_n, y_n) / ∂θ_k)²`` over single transitions.

    ``loss_fn(params, x[1, D], y[1, O]) -> scalar``; ``params`` are the tensors to differentiate.
    """
    fisher = {k: torch.zeros_like(v) for k, v in params.items()}
    leaves = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    for n in range(x.shape[0]):
        grads = torch.autograd.grad(loss_fn(leaves, x[n : n + 1], y[n : n + 1]), list(leaves.values()))
        for k, g in zip(leaves, grads):
            fisher[k] += g.detach() ** 2
    return {k: v / max(x.shape[0], 1) for k, v in fisher.items()}


def gaussian_nll(model: DynamicsModel, params: Params, x: Tensor, y: Tensor) -> Tensor:
    """``Σ_n ½ Σ_d [(μ_nd − y_nd)² e^{−ℓ_nd} + ℓ_nd]``: the negative log-likelihood (up to a constant) of
    ``y[N, O]`` under the model's Gaussian at ``x[N, F + A]`` with single-network ``params [1, ...]``; the
    deterministic head has ``ℓ = 0`` (unit variance): ``½ Σ (μ − y)²``. The quantity EWC's Fisher is the
    squared gradient of (HyperCRL's ``ContinualLearner.estimate_fisher``). Scalar."""
    mean, logvar = model.forward_normalized(params, x.unsqueeze(0))
    sq = (mean - y.unsqueeze(0)) ** 2
    if logvar is None:
        return 0.5 * sq.sum()
    return 0.5 * (sq * torch.exp(-logvar) + logvar).sum()


class EWC(SharedNet):
    """Offline EWC as in HyperCRL's reference (``hypercrl/model/regularizer.py``, adapted from van de Ven's
    ``continual-learning``; reference §4.4, §11.3). Its loss on a minibatch of ``B`` transitions of task t::

        L_ref   = Σ_b L_b + λ · ½ Σ_{i<t} Σ_k F_{i,k} (θ_k − θ*_{i,k})²                   (λ = 10⁴)
        L_b     = (1/O) Σ_d (μ_bd − y_bd)²                  (MSE head; the task loss of one transition)
                  (1/O) Σ_d [(μ_bd − y_bd)² e^{−ℓ_bd} + ℓ_bd]           (Gaussian head, ℓ the log-variance)
        F_{i,k} = mean_n (∂ nll_n / ∂θ_k)²,   nll_n = ½ Σ_d [(μ_nd − y_nd)² e^{−ℓ_nd} + ℓ_nd]

    with F over task i's training transitions n at the end of task i (θ*_i the trunk then) and ``ℓ = 0``
    for the MSE head. F is the Fisher of the Gaussian log-likelihood *summed* over the O output dimensions
    with its ½ (:func:`gaussian_nll`), not of the training loss, whose mean over dimensions would give
    (2/O)² F.

    dynadapt's task loss is the batch *mean* of ``L_b`` (``DynamicsModel.loss``, shared by every strategy),
    so this strategy minimises ``L_ref / B``::

        mean_b L_b + λ / (2B) · Σ_{i<t} Σ_k F_{i,k} (θ_k − θ*_{i,k})²

    with F exactly the reference's: the same minimiser, and Adam's steps are invariant to the scale of the
    loss (up to ε; no gradient clip by default), so λ = 10⁴ means what it means in the reference. The
    penalty is divided by B rather than the task loss multiplied by B so that ``train/loss`` stays
    comparable across strategies.

    Kept differences: the Fisher averages ``fisher_samples`` random training transitions (the reference
    uses the whole split and divides by N − 1, an off-by-one); the targets are dynadapt's z-scored Δ (the
    reference's are raw), so F is in normalised units; the Gaussian head's bound penalty
    ``0.01 (Σℓmax − Σℓmin)`` enters once per batch mean here, once per batch sum there.
    """

    cfg: EWCConfig

    def __init__(self, cfg: EWCConfig, model: DynamicsModel, generator: torch.Generator) -> None:
        super().__init__(cfg, model, generator)
        self.fishers: list[Params] = []
        self.anchors: list[Params] = []
        self._batch = 1
        """B, the size of the minibatch being trained on (set by :meth:`update`)."""

    def update(self, t: int, x: Tensor, y: Tensor) -> dict[str, float]:
        self._batch = x.shape[0]
        return super().update(t, x, y)

    def penalty(self, t: int) -> Tensor:
        """``λ / (2B) · Σ_i Σ_k F_{i,k} (θ_k − θ*_{i,k})²`` over the trunk, B the current minibatch size."""
        total = torch.zeros(())
        for fisher, anchor in zip(self.fishers, self.anchors):
            for k, v in self.trunk.items():
                total = total + (fisher[k] * (v - anchor[k]) ** 2).sum()
        return self.cfg.lam / (2 * self._batch) * total

    def after_task(self, t: int, ctx: ContinualContext) -> None:
        x, y = ctx.task_data(t)
        idx = torch.randperm(x.shape[0], generator=self.generator)[: self.cfg.fisher_samples]
        head = {k: v.detach() for k, v in self.heads[self.head_index(t)].items()}

        def nll(trunk: Params, xi: Tensor, yi: Tensor) -> Tensor:
            return gaussian_nll(self.model, trunk | head, xi, yi)

        self.fishers.append(empirical_fisher(nll, self.trunk, x[idx], y[idx]))
        self.anchors.append({k: v.detach().clone() for k, v in self.trunk.items()})

    def state_dict(self) -> dict[str, Tensor]:
        out = super().state_dict()
        for i, (f, a) in enumerate(zip(self.fishers, self.anchors)):
            out |= flatten(f"fisher{i}", f) | flatten(f"anchor{i}", a)
        out["count.ewc_tasks"] = count_tensor(len(self.fishers))
        return out

    def load_state_dict(self, state: dict[str, Tensor], /) -> None:
        super().load_state_dict(state)
        n = read_count(state, "ewc_tasks")
        self.fishers = [unflatten(f"fisher{i}", state) for i in range(n)]
        self.anchors = [unflatten(f"anchor{i}", state) for i in range(n)]


# -------------------------------------------------------------------------------------------------- SI
@register_strategy
@dataclass
class SIConfig(SharedNetConfig):
    """Synaptic Intelligence: path-integral importance of each trunk parameter."""

    name: ClassVar[str] = "si"
    c: float = 0.1
    """Penalty weight c (reference: 0.1)."""
    xi: float = 1e-3
    """Damping ξ of the importance (reference: 1e-3)."""

    def build(self, model: DynamicsModel, generator: torch.Generator) -> Strategy:
        return SI(self, model, generator)


class SI(SharedNet):
    cfg: SIConfig

    def __init__(self, cfg: SIConfig, model: DynamicsModel, generator: torch.Generator) -> None:
        super().__init__(cfg, model, generator)
        zeros = {k: torch.zeros_like(v) for k, v in self.trunk.items()}
        self.omega: Params = dict(zeros)
        self.w: Params = {k: torch.zeros_like(v) for k, v in zeros.items()}
        self.anchor: Params = {k: v.detach().clone() for k, v in self.trunk.items()}
        self.task_start: Params = {k: v.detach().clone() for k, v in self.trunk.items()}
        self._before: Params = {}
        self._grad: Params = {}

    def penalty(self, t: int) -> Tensor:
        """``c Σ_k Ω_k (θ_k − θ̃_k)²`` over the trunk."""
        total = torch.zeros(())
        for k, v in self.trunk.items():
            total = total + (self.omega[k] * (v - self.anchor[k]) ** 2).sum()
        return self.cfg.c * total

    def before_task(self, t: int, ctx: ContinualContext) -> None:
        super().before_task(t, ctx)
        self.task_start = {k: v.detach().clone() for k, v in self.trunk.items()}
        self.w = {k: torch.zeros_like(v) for k, v in self.trunk.items()}

    def on_gradients(self, t: int) -> None:
        # the task-loss gradient: the total gradient minus the penalty's analytic one 2cΩ(θ − θ̃)
        for k, v in self.trunk.items():
            g = v.grad.detach() if v.grad is not None else torch.zeros_like(v)
            self._grad[k] = g - 2 * self.cfg.c * self.omega[k] * (v.detach() - self.anchor[k])
            self._before[k] = v.detach().clone()

    def after_step(self, t: int) -> None:
        for k, v in self.trunk.items():
            self.w[k] -= self._grad[k] * (v.detach() - self._before[k])

    def after_task(self, t: int, ctx: ContinualContext) -> None:
        for k, v in self.trunk.items():
            delta = v.detach() - self.task_start[k]
            self.omega[k] = self.omega[k] + self.w[k] / (delta**2 + self.cfg.xi)
            self.anchor[k] = v.detach().clone()
        self.w = {k: torch.zeros_like(v) for k, v in self.trunk.items()}

    def state_dict(self) -> dict[str, Tensor]:
        out = super().state_dict()
        for name in ("omega", "w", "anchor", "task_start"):
            out |= flatten(f"si_{name}", getattr(self, name))
        return out

    def load_state_dict(self, state: dict[str, Tensor], /) -> None:
        super().load_state_dict(state)
        for name in ("omega", "w", "anchor", "task_start"):
            setattr(self, name, unflatten(f"si_{name}", state))


# --------------------------------------------------------------------------------------------- coreset
@register_strategy
@dataclass
class CoresetConfig(SharedNetConfig):
    """Coreset replay: M stored transitions per earlier task, all replayed at every step."""

    name: ClassVar[str] = "coreset"
    m: int = 30
    """Transitions kept per task (reference: 30 cart-pole, 50 pendulum, 100 pusher, 1000 half-cheetah)."""

    def build(self, model: DynamicsModel, generator: torch.Generator) -> Strategy:
        return Coreset(self, model, generator)


class Coreset(SharedNet):
    cfg: CoresetConfig

    def __init__(self, cfg: CoresetConfig, model: DynamicsModel, generator: torch.Generator) -> None:
        super().__init__(cfg, model, generator)
        self.coresets: list[tuple[Tensor, Tensor]] = []

    def replay_loss(self, t: int) -> Tensor:
        total = torch.zeros(())
        for i, (x, y) in enumerate(self.coresets[:t]):
            total = total + self.task_loss(self.train_params(i), x, y)
        return total

    def after_task(self, t: int, ctx: ContinualContext) -> None:
        x, y = ctx.task_data(t)
        idx = torch.randperm(x.shape[0], generator=self.generator)[: self.cfg.m]
        while len(self.coresets) <= t:
            self.coresets.append((x[idx].clone(), y[idx].clone()))

    def state_dict(self) -> dict[str, Tensor]:
        out = super().state_dict()
        for i, (x, y) in enumerate(self.coresets):
            out[f"coreset{i}.x"], out[f"coreset{i}.y"] = x, y
        out["count.coresets"] = count_tensor(len(self.coresets))
        return out

    def load_state_dict(self, state: dict[str, Tensor], /) -> None:
        super().load_state_dict(state)
        n = read_count(state, "coresets")
        self.coresets = [(state[f"coreset{i}.x"], state[f"coreset{i}.y"]) for i in range(n)]


# ------------------------------------------------------------------------------------------- multitask
@register_strategy
@dataclass
class MultitaskConfig(SharedNetConfig):
    """Multitask oracle: every step also trains on a batch from the full data of every earlier task."""

    name: ClassVar[str] = "multitask"
    needs_all_data: ClassVar[bool] = True

    def build(self, model: DynamicsModel, generator: torch.Generator) -> Strategy:
        return Multitask(self, model, generator)


class Multitask(SharedNet):
    def __init__(self, cfg: SharedNetConfig, model: DynamicsModel, generator: torch.Generator) -> None:
        super().__init__(cfg, model, generator)
        self.ctx: ContinualContext | None = None
        self._batch = 0

    def before_task(self, t: int, ctx: ContinualContext) -> None:
        super().before_task(t, ctx)
        self.ctx = ctx

    def resumed(self, t: int, ctx: ContinualContext) -> None:
        self.ctx = ctx

    def update(self, t: int, x: Tensor, y: Tensor) -> dict[str, float]:
        self._batch = x.shape[0]
        return super().update(t, x, y)

    def replay_loss(self, t: int) -> Tensor:
        total = torch.zeros(())
        if self.ctx is None:
            return total
        for i in range(t):
            xi, yi = self.ctx.task_data(i)
            idx = torch.randint(0, xi.shape[0], (self._batch,), generator=self.generator)
            total = total + self.task_loss(self.train_params(i), xi[idx], yi[idx])
        return total
