"""The learned dynamics model: normalisation, delta targets, Gaussian head with learned bounds, fitting.

A :class:`DynamicsModel` owns everything around the network that a planner or learner must not get wrong:

* model input ``x = concat(obs_preproc(obs), act)``, z-scored by a running :class:`Normalizer`;
* target ``Δ = next_obs - obs``, z-scored by a second normaliser (GrBAL's convention, reference §1.1);
  the network predicts the normalised delta and :meth:`predict` returns next observations;
  :meth:`transitions` is the one place raw transitions become ``(normalised input, normalised delta)``;
* one pair of these normalisers per task, selected by task id (:meth:`normalizers`; the continual loops
  keep each task's own statistics, HyperCRL §4.5). Single-task code uses task 0's, the default
  everywhere; a loop never assigns normalisers, it feeds a task's data with :meth:`observe`;
* a deterministic (MSE) or Gaussian head. The Gaussian head's log-variance is soft-bounded by per-output
  ``max_logvar``/``min_logvar`` that are *trained* (PETS, Chua et al. 2018, ``BNN.py``; reference §1.1):
  ``ℓ = ℓmax − softplus(ℓmax − ℓ̃)``, ``ℓ = ℓmin + softplus(ℓ − ℓmin)``, init 0.5 / −10, plus the
  penalty ``0.01·(Σℓmax − Σℓmin)`` in the loss (pitfall H1: the bounds must move);
* an ensemble of ``E`` members as stacked params (``E = 1`` for a single network);
* optionally (``learn_reward`` / ``learn_termination``) a learned reward and termination for tasks whose
  reward or termination function is not given: two small MLP heads in the same params dict (keys
  ``reward.layers.*`` and ``termination.layers.*``, stacked ``[E, ...]`` like the rest), each reading the
  normalised ``(obs, act)`` input and the normalised features of ``next_obs``. The reward is regressed
  (MSE) on the z-scored reward (a third normaliser, as the delta targets); the termination is a logit
  trained with binary cross-entropy (MBPO, Janner et al. 2019, learns the reward as extra outputs of the
  same network; separate heads leave the dynamics network, and everything built on its spec, unchanged).
  :meth:`learned_reward_fn` / :meth:`learned_termination_fn` bind params into batched closures with the
  task family's signatures, which a planner's imagined rollout or MBPO uses in place of the family's.

The forward pass is pure: :meth:`predict` takes the params dict explicitly, so ensembles, hypernetwork
outputs and adapted parameters all use it. The model itself holds the current trained params in
``self.params``.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from dynadapt.checks import check, check_fields, need_int, short
from dynadapt.data.buffer import ReplayBuffer, holdout_mask
from dynadapt.errors import CorruptFileError, DynadaptError, WrongTypeError
from dynadapt.io import flatten, load_tensors, save_tensors, unflatten
from dynadapt.models.normalizer import Normalizer
from dynadapt.nets.mlp import MLPSpec, forward, init_params
from dynadapt.types import ObsPreproc, Params, PredictFn

if TYPE_CHECKING:
    from dynadapt.envs.family import TaskFamily

FORMAT = "dynadapt.DynamicsModel"


def _identity(obs: Tensor) -> Tensor:
    return obs


@dataclass
class ModelConfig:
    """Dynamics model architecture and training settings."""

    ensemble_size: int = 5
    """Number of ensemble members E (PETS: 5)."""
    hidden: tuple[int, ...] = (200, 200, 200)
    """Hidden layer widths."""
    activation: Literal["relu", "silu", "elu", "tanh"] = "silu"
    """Hidden activation (silu = swish, as in PETS)."""
    head: Literal["gaussian", "deterministic"] = "gaussian"
    """Gaussian (NLL with learned log-variance bounds) or deterministic (MSE) output head."""
    lr: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 5e-5
    """L2 penalty on the weights (not on biases or log-variance bounds)."""
    batch_size: int = 64
    """Minibatch size per member."""
    max_epochs: int = 50
    """Upper bound on epochs per fit (early stopping usually ends sooner)."""
    patience: int = 5
    """Stop after this many epochs in which no member improved its held-out loss by more than 1 %."""
    holdout_ratio: float = 0.2
    """Fraction of transitions held out for validation (a fixed split by transition id)."""
    max_holdout: int = 5000
    """At most this many held-out transitions are evaluated per epoch (MBPO: 5000)."""
    grad_clip: float = 10.0
    """Clip the global gradient norm per step (0 disables)."""
    bootstrap: bool = False
    """Train each member on its own bootstrap resample of the training split (PETS, MBPO): n rows drawn
    with replacement once per fit, reshuffled every epoch. Default False: every member sees a permutation
    of the whole training split each epoch (members differ by initialisation and minibatch order only);
    the PETS-scale ``-paper`` presets set it."""
    num_elites: int = 0
    """Members with the lowest validation loss kept as elites (0 = all members)."""
    logvar_bound_coef: float = 0.01
    """Weight of the log-variance bound penalty 0.01·(Σℓmax − Σℓmin) (PETS)."""
    learn_reward: bool = False
    """Also learn the reward r(s, a, s') (a separate head); runs then plan with it instead of the task's."""
    learn_termination: bool = False
    """Also learn the termination (a logit head, BCE); runs then use it instead of the task's."""
    head_hidden: tuple[int, ...] = (64, 64)
    """Hidden widths of the reward and termination heads."""

    def __post_init__(self) -> None:
        self.hidden = tuple(self.hidden)
        self.head_hidden = tuple(self.head_hidden)
        checks = [
            (self.ensemble_size >= 1, "model.ensemble_size must be >= 1"),
            (len(self.hidden) >= 1 and all(h >= 1 for h in self.hidden), "model.hidden must be positive"),
            (self.lr > 0, "model.lr must be > 0"),
            (self.weight_decay >= 0, "model.weight_decay must be >= 0"),
            (self.batch_size >= 1, "model.batch_size must be >= 1"),
            (self.max_epochs >= 1, "model.max_epochs must be >= 1"),
            (self.patience >= 1, "model.patience must be >= 1"),
            (0 <= self.holdout_ratio < 1, "model.holdout_ratio must be in [0, 1)"),
            (self.grad_clip >= 0, "model.grad_clip must be >= 0"),
            (0 <= self.num_elites <= self.ensemble_size, "model.num_elites must be in [0, ensemble_size]"),
            (all(h >= 1 for h in self.head_hidden), "model.head_hidden must be positive"),
        ]
        check(*checks)


@dataclass
class FitResult:
    """What one call of :meth:`DynamicsModel.fit` did."""

    epochs: int
    steps: int
    train_loss: float
    val_loss: float
    """Mean over members of the held-out MSE of the normalised delta (NaN without held-out data)."""
    val_loss_members: list[float] = field(default_factory=list)
    reward_val_loss: float = math.nan
    """Held-out MSE of the normalised reward (mean over members; NaN without a reward head)."""
    termination_val_loss: float = math.nan
    """Held-out binary cross-entropy of the termination logit (NaN without a termination head)."""

    def metrics(self, prefix: str = "model/") -> dict[str, float]:
        out = {
            f"{prefix}epochs": float(self.epochs),
            f"{prefix}train_loss": self.train_loss,
            f"{prefix}val_loss": self.val_loss,
        }
        if not math.isnan(self.reward_val_loss):
            out[f"{prefix}reward_val_loss"] = self.reward_val_loss
        if not math.isnan(self.termination_val_loss):
            out[f"{prefix}termination_val_loss"] = self.termination_val_loss
        return out


class DynamicsModel:
    """A (probabilistic) ensemble dynamics model predicting the next observation.

    Args:
        obs_dim: O, size of an observation.
        act_dim: A, size of an action.
        cfg: architecture and training settings.
        obs_preproc: ``obs[..., O] -> features[..., F]`` applied before the network (default: identity).
        feature_dim: F (default ``obs_dim``).
        family: name of the task family the preprocessing comes from (recorded in saved files so that
            :meth:`load` can restore ``obs_preproc``).
        generator: the source of every random number the model draws (init, minibatches).
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        cfg: ModelConfig,
        *,
        obs_preproc: ObsPreproc | None = None,
        feature_dim: int | None = None,
        family: str | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        if not isinstance(cfg, ModelConfig):
            raise WrongTypeError(f"a dynamics model needs a ModelConfig, got {short(cfg)}")
        self.obs_dim = need_int(obs_dim, "obs_dim", 1)
        self.act_dim = need_int(act_dim, "act_dim", 1)
        self.cfg = check_fields(cfg, "model.")
        self.obs_preproc = obs_preproc or _identity
        self.feature_dim = obs_dim if feature_dim is None else feature_dim
        self.family = family
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.gaussian = cfg.head == "gaussian"
        out = obs_dim * (2 if self.gaussian else 1)
        self.spec = MLPSpec(self.feature_dim + act_dim, out, cfg.hidden, cfg.activation)
        self._norms: list[tuple[Normalizer, Normalizer]] = []
        """Input and target statistics of every task (task 0's: the single-task model's)."""
        self.normalizers(0)
        head_in = 2 * self.feature_dim + act_dim
        self.reward_spec = MLPSpec(head_in, 1, cfg.head_hidden, cfg.activation) if cfg.learn_reward else None
        """Architecture of the reward head (None without one)."""
        self.termination_spec = (
            MLPSpec(head_in, 1, cfg.head_hidden, cfg.activation) if cfg.learn_termination else None
        )
        """Architecture of the termination head (None without one)."""
        self.reward_norm = Normalizer(1)
        """Statistics of the reward (used and saved only with a reward head)."""
        self.params: Params = self.init_params()
        for p in self.params.values():
            p.requires_grad_(True)
        self.optimizer = self._make_optimizer()
        self.elites: list[int] = list(range(cfg.ensemble_size))
        self.fitted_up_to = 0
        """Buffer id up to which data has been merged into the normalisers."""

    @classmethod
    def for_family(cls, family: TaskFamily, cfg: ModelConfig, generator: torch.Generator) -> DynamicsModel:
        """A model of ``family``'s observations and actions, with its observation features."""
        return cls(
            family.obs_dim,
            family.act_dim,
            cfg,
            obs_preproc=family.obs_preproc,
            feature_dim=family.feature_dim,
            family=family.name,
            generator=generator,
        )

    # ---------------------------------------------------------------------------------- normalisation
    def normalizers(self, task: int = 0) -> tuple[Normalizer, Normalizer]:
        """The (input, target) normalisers of ``task``; asking for the next task id adds a fresh pair."""
        if task == len(self._norms):
            self._norms.append((Normalizer(self.spec.in_dim), Normalizer(self.obs_dim)))
        elif not 0 <= need_int(task, "task") < len(self._norms):
            raise DynadaptError(f"no normalisers of task {task}: the model has {len(self._norms)} tasks")
        return self._norms[task]

    @property
    def num_tasks(self) -> int:
        """Tasks the model holds normalisers of."""
        return len(self._norms)

    @property
    def input_norm(self) -> Normalizer:
        """Task 0's input statistics (``concat(obs_preproc(obs), act)``)."""
        return self._norms[0][0]

    @property
    def target_norm(self) -> Normalizer:
        """Task 0's target statistics (``next_obs - obs``)."""
        return self._norms[0][1]

    def observe(self, obs: Tensor, act: Tensor, next_obs: Tensor, task: int = 0) -> None:
        """Merge the transitions ``obs[N, O], act[N, A], next_obs[N, O]`` into ``task``'s normalisers
        (no-op once they are frozen)."""
        inp, tgt = self.normalizers(task)
        inp.update(torch.cat([self.obs_preproc(obs), act], dim=-1))
        tgt.update(self.targets(obs, next_obs))

    def freeze_normalizers(self, task: int) -> None:
        """Stop ``task``'s statistics from changing (its data is final)."""
        for norm in self.normalizers(task):
            norm.freeze()

    def transitions(self, data: Mapping[str, Tensor], task: int = 0) -> tuple[Tensor, Tensor]:
        """Raw transitions (keys ``obs``, ``act``, ``next_obs``; any leading shape) -> the network's
        normalised input ``[..., F + A]`` and normalised delta target ``[..., O]`` under ``task``'s
        statistics."""
        x = self.features(data["obs"], data["act"], task)
        y = self.normalizers(task)[1].normalize(self.targets(data["obs"], data["next_obs"]))
        return x, y

    def task_predict(self, task: int) -> PredictFn:
        """:meth:`predict` with ``task``'s normalisers."""
        return functools.partial(self.predict, task=task)

    # ------------------------------------------------------------------------------------- parameters
    def init_params(self) -> Params:
        """Fresh stacked params ``[E, ...]`` (network + log-variance bounds for the Gaussian head)."""
        params = init_params(self.spec, self.generator, ensemble_size=self.cfg.ensemble_size)
        if self.gaussian:
            e, o = self.cfg.ensemble_size, self.obs_dim
            params["max_logvar"] = torch.full((e, o), 0.5)
            params["min_logvar"] = torch.full((e, o), -10.0)
        for prefix, spec in (("reward", self.reward_spec), ("termination", self.termination_spec)):
            if spec is not None:
                head = init_params(spec, self.generator, ensemble_size=self.cfg.ensemble_size)
                params |= {f"{prefix}.{k}": v for k, v in head.items()}
        return params

    def detached_params(self) -> Params:
        """The current params without gradient tracking (sharing storage: they follow every fit)."""
        return {k: v.detach() for k, v in self.params.items()}

    @property
    def has_heads(self) -> bool:
        """Whether the model learns a reward or a termination."""
        return self.reward_spec is not None or self.termination_spec is not None

    def flops_per_row(self) -> int:
        """Multiply-add FLOPs of one member's prediction for one ``(obs, act)`` row (dynamics network only;
        the heads are counted by :meth:`head_flops_per_row`)."""
        return self.spec.flops_per_row()

    def head_flops_per_row(self) -> int:
        """FLOPs of the reward and termination heads for one member and one row (0 without heads)."""
        specs = [s for s in (self.reward_spec, self.termination_spec) if s is not None]
        return sum(s.flops_per_row() for s in specs)

    def _make_optimizer(self) -> torch.optim.Adam:
        decay = [v for k, v in self.params.items() if k.endswith("weight")]
        rest = [v for k, v in self.params.items() if not k.endswith("weight")]
        return torch.optim.Adam(
            [{"params": decay, "weight_decay": self.cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}],
            lr=self.cfg.lr,
        )

    # ---------------------------------------------------------------------------------------- forward
    def features(self, obs: Tensor, act: Tensor, task: int = 0) -> Tensor:
        """Normalised network input ``[..., F + A]`` (with ``task``'s statistics)."""
        return self.normalizers(task)[0].normalize(torch.cat([self.obs_preproc(obs), act], dim=-1))

    def forward_normalized(self, params: Params, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Network output on normalised inputs ``x[E, N, F + A]``: normalised delta mean and log-variance."""
        out = forward(self.spec, params, x)
        if not self.gaussian:
            return out, None
        mean, raw = out.chunk(2, dim=-1)
        hi = params["max_logvar"].unsqueeze(-2)
        lo = params["min_logvar"].unsqueeze(-2)
        logvar = hi - F.softplus(hi - raw)
        logvar = lo + F.softplus(logvar - lo)
        return mean, logvar

    def predict(
        self, params: Params, obs: Tensor, act: Tensor, task: int = 0
    ) -> tuple[Tensor, Tensor | None]:
        """Distribution of the next observation under each member.

        ``obs[E, N, O], act[E, N, A] -> (mean[E, N, O], std[E, N, O] or None)``, with params stacked
        ``[E, ...]`` and ``task``'s normalisers. This is the ``predict`` contract of
        :func:`dynadapt.planning.rollout.imagine` (bind the task with :meth:`task_predict`).
        """
        target_norm = self.normalizers(task)[1]
        try:
            if obs.shape[-1] != self.obs_dim or act.shape[-1] != self.act_dim:
                raise IndexError
            mean_n, logvar = self.forward_normalized(params, self.features(obs, act, task))
        except (RuntimeError, TypeError, KeyError, AttributeError, IndexError):
            self._check_inputs(params, obs, act)  # the caller's mistake, as one error line
            raise
        t_std = target_norm.std.to(obs.device)
        mean = obs + mean_n * t_std + target_norm.mean.to(obs.device)
        std = None if logvar is None else torch.exp(0.5 * logvar) * t_std
        return mean, std

    def _check_inputs(self, params: Params, obs: Tensor, act: Tensor) -> None:
        """Raise unless ``obs[E, N, O]`` and ``act[E, N, A]`` (``[..., O]``, ``[..., A]`` for unstacked
        params) are tensors of the parameters' dtype that fit each other and ``params`` (called when
        :meth:`predict` failed: the planner's path pays nothing for it)."""
        weight = params.get("layers.0.weight") if isinstance(params, Mapping) else None
        if not isinstance(weight, Tensor):
            raise WrongTypeError("predict needs the model's params (a dict with layers.0.weight, ...)")
        for name, x in (("obs", obs), ("act", act)):
            if not isinstance(x, Tensor) or x.dtype != weight.dtype:
                raise WrongTypeError(f"predict: {name} must be a {weight.dtype} tensor, got {short(x, 60)}")
        stacked = weight.dim() == 3
        if (
            obs.shape[-1:] != (self.obs_dim,)
            or act.shape[-1:] != (self.act_dim,)
            or obs.shape[:-1] != act.shape[:-1]
            or (stacked and (obs.dim() != 3 or obs.shape[0] != weight.shape[0]))
        ):
            members = f" with a leading member dimension of {weight.shape[0]}" if stacked else ""
            raise DynadaptError(
                f"predict expects obs[..., {self.obs_dim}] and act[..., {self.act_dim}]{members}, "
                f"got {list(obs.shape)} and {list(act.shape)}"
            )

    # ----------------------------------------------------------------------- learned reward / termination
    def head_features(self, obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
        """Input of the reward and termination heads ``[..., 2F + A]``: the normalised model input of
        ``(obs, act)`` and the normalised features of ``next_obs`` (the observation part of the input
        statistics)."""
        f = self.feature_dim
        mean, std = self.input_norm.mean[:f].to(obs.device), self.input_norm.std[:f].to(obs.device)
        nxt = (self.obs_preproc(next_obs) - mean) / std
        return torch.cat([self.features(obs, act), nxt], dim=-1)

    def _head(self, params: Params, prefix: str, spec: MLPSpec | None, h: Tensor) -> Tensor:
        """One head on ``h[E, N, 2F + A]`` -> ``[E, N]``."""
        if spec is None:
            raise DynadaptError(f"this model has no {prefix} head (set model.learn_{prefix}=true)")
        start = prefix + "."
        sub = {k[len(start) :]: v for k, v in params.items() if k.startswith(start)}
        if not sub:
            raise DynadaptError(f"the params hold no {prefix} head (keys {prefix}.layers.*)")
        return forward(spec, sub, h).squeeze(-1)

    def head_losses(
        self, params: Params, h: Tensor, reward_n: Tensor, terminated: Tensor
    ) -> tuple[Tensor | None, Tensor | None]:
        """Per-member head losses on ``h[E, B, 2F + A]``, normalised ``reward_n[E, B]`` and
        ``terminated[E, B]`` (float 0/1): (reward MSE ``[E]`` or None, termination BCE ``[E]`` or None)."""
        rew = term = None
        if self.reward_spec is not None:
            rew = ((self._head(params, "reward", self.reward_spec, h) - reward_n) ** 2).mean(-1)
        if self.termination_spec is not None:
            logit = self._head(params, "termination", self.termination_spec, h)
            term = F.binary_cross_entropy_with_logits(logit, terminated, reduction="none").mean(-1)
        return rew, term

    def _members(
        self, params: Params, prefix: str, spec: MLPSpec | None, obs: Tensor, act: Tensor, next_obs: Tensor
    ) -> Tensor:
        """Head output of every member: ``[E, ...]``, or ``[...]`` when the input is already member-major."""
        e = next(iter(params.values())).shape[0]
        h = self.head_features(obs, act, next_obs)
        if h.dim() == 3 and h.shape[0] == e:
            return self._head(params, prefix, spec, h)  # row block i is scored by member i (imagine's TS)
        lead = h.shape[:-1]
        flat = h.reshape(1, -1, h.shape[-1]).expand(e, -1, -1)
        return self._head(params, prefix, spec, flat).reshape(e, *lead)

    def learned_reward_fn(self, params: Params | None = None) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
        """The learned reward bound to ``params`` (default: the current ones), with the signature of a task
        family's ``reward_fn``: ``(obs[..., O], act[..., A], next_obs[..., O]) -> reward[...]``.

        An input ``[E, N, ·]`` whose leading size is the number of members ``E`` is taken in the row layout
        of :func:`dynadapt.planning.rollout.imagine`'s TS modes (rows of block ``i`` belong to member ``i``)
        and each block is scored by its own member; any other shape gets the mean over members.
        """
        params = self.params if params is None else params
        spec = self.reward_spec

        def reward_fn(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
            out = self._members(params, "reward", spec, obs, act, next_obs)
            if out.dim() > next_obs.dim() - 1:
                out = out.mean(0)
            return out * self.reward_norm.std.to(out.device)[0] + self.reward_norm.mean.to(out.device)[0]

        if spec is None:
            raise DynadaptError("this model has no reward head (set model.learn_reward=true)")
        return reward_fn

    def learned_termination_fn(
        self, params: Params | None = None, threshold: float = 0.5
    ) -> Callable[[Tensor, Tensor, Tensor], Tensor]:
        """The learned termination bound to ``params``, with the signature of a task family's
        ``termination_fn``: ``(obs, act, next_obs) -> terminated[...]`` (bool): the predicted probability
        (mean over members, or the row's own member as in :meth:`learned_reward_fn`) exceeds ``threshold``.
        """
        params = self.params if params is None else params
        spec = self.termination_spec

        def termination_fn(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
            prob = torch.sigmoid(self._members(params, "termination", spec, obs, act, next_obs))
            if prob.dim() > next_obs.dim() - 1:
                prob = prob.mean(0)
            return prob > threshold

        if spec is None:
            raise DynadaptError("this model has no termination head (set model.learn_termination=true)")
        return termination_fn

    @torch.no_grad()
    def rollout(self, obs0: Tensor, actions: Tensor, params: Params | None = None, task: int = 0) -> Tensor:
        """Open-loop mean prediction of every member: ``obs0[N, O], actions[N, H, A] -> obs[E, N, H, O]``
        (with ``task``'s normalisers).

        Used for multi-step prediction error; step ``h`` of the output is the predicted observation after
        ``actions[:, h]``.
        """
        params = self.params if params is None else params
        e = next(iter(params.values())).shape[0]
        obs = obs0.unsqueeze(0).expand(e, *obs0.shape)
        out = []
        for h in range(actions.shape[1]):
            act = actions[:, h].unsqueeze(0).expand(e, *actions[:, h].shape)
            obs, _ = self.predict(params, obs, act, task)
            out.append(obs)
        return torch.stack(out, dim=2)

    # ---------------------------------------------------------------------------------------- training
    def loss(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        """Training loss per member: ``x[E, B, F + A]``, ``y[E, B, O]`` (both normalised) -> ``[E]``.

        Gaussian: mean over batch and dims of ``(μ − y)² e^{−ℓ} + ℓ``, plus the bound penalty.
        Deterministic: MSE.
        """
        mean, logvar = self.forward_normalized(params, x)
        if logvar is None:
            return ((mean - y) ** 2).mean(dim=(-1, -2))
        nll = (((mean - y) ** 2) * torch.exp(-logvar) + logvar).mean(dim=(-1, -2))
        bound = params["max_logvar"].sum(-1) - params["min_logvar"].sum(-1)
        return nll + self.cfg.logvar_bound_coef * bound

    def mse(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        """Held-out MSE of the normalised delta mean per member: ``[E]``."""
        mean, _ = self.forward_normalized(params, x)
        return ((mean - y) ** 2).mean(dim=(-1, -2))

    def targets(self, obs: Tensor, next_obs: Tensor) -> Tensor:
        """Raw training targets (the state delta) ``[N, O]``."""
        return next_obs - obs

    def update_normalizers(self, buffer: ReplayBuffer) -> None:
        """Merge the transitions added since the last call into the input and target statistics."""
        new = buffer.since(self.fitted_up_to)
        if new["obs"].shape[0]:
            self.observe(new["obs"], new["act"], new["next_obs"])
            if self.reward_spec is not None:
                self.reward_norm.update(new["reward"].unsqueeze(-1))
        self.fitted_up_to = buffer.total_added

    def fit(
        self,
        buffer: ReplayBuffer,
        *,
        steps: int | None = None,
        progress: Callable[[int, float], None] | None = None,
    ) -> FitResult:
        """Train on the buffer's data.

        Without ``steps``: epochs over the training split until no member improves its held-out loss by
        more than 1 % for ``patience`` epochs (or ``max_epochs``); each member's best parameters are
        restored at the end. With ``steps``: exactly that many minibatch steps, no early stopping.
        An epoch is one pass over a fresh permutation of the training split per member, or with
        ``cfg.bootstrap`` over the member's bootstrap sample, drawn once at the start of the fit.
        ``progress(epoch, val_loss)`` is called after every epoch.
        """
        if len(buffer) == 0:
            raise DynadaptError("cannot fit a model on an empty buffer")
        if (buffer.obs_dim, buffer.act_dim) != (self.obs_dim, self.act_dim):
            raise DynadaptError(
                f"buffer holds obs/act of sizes {(buffer.obs_dim, buffer.act_dim)}, "
                f"the model expects {(self.obs_dim, self.act_dim)}"
            )
        self.update_normalizers(buffer)
        data = buffer.all()
        x_all, y_all = self.transitions(data)
        held = holdout_mask(data["id"], self.cfg.holdout_ratio)
        if held.all():
            held[:] = False
        x_tr, y_tr = x_all[~held], y_all[~held]
        x_va, y_va = x_all[held][: self.cfg.max_holdout], y_all[held][: self.cfg.max_holdout]
        n = x_tr.shape[0]
        e, bsz = self.cfg.ensemble_size, min(self.cfg.batch_size, n)
        batches_per_epoch = max(1, math.ceil(n / bsz))
        # reward / termination heads: inputs, normalised rewards and 0/1 terminations (empty without heads)
        heads = self.has_heads
        h_all = self.head_features(data["obs"], data["act"], data["next_obs"]) if heads else x_all[:, :0]
        r_all = self.reward_norm.normalize(data["reward"].unsqueeze(-1)).squeeze(-1)
        d_all = data["terminated"].to(x_all.dtype)
        h_tr, r_tr, d_tr = h_all[~held], r_all[~held], d_all[~held]
        k_va = self.cfg.max_holdout
        h_va, r_va, d_va = h_all[held][:k_va], r_all[held][:k_va], d_all[held][:k_va]
        head_val: list[Tensor | None] = [None, None]

        def val_losses() -> Tensor:
            """Per-member validation criterion: delta MSE (+ reward MSE + termination BCE with heads)."""
            if x_va.shape[0] == 0:
                return torch.full((e,), math.nan)
            with torch.no_grad():
                xs = x_va.unsqueeze(0).expand(e, -1, -1)
                ys = y_va.unsqueeze(0).expand(e, -1, -1)
                out = self.mse(self.params, xs, ys)
                if heads:
                    rew, term = self.head_losses(
                        self.params,
                        h_va.unsqueeze(0).expand(e, -1, -1),
                        r_va.unsqueeze(0).expand(e, -1),
                        d_va.unsqueeze(0).expand(e, -1),
                    )
                    head_val[:] = [rew, term]
                    out = out + sum(t for t in (rew, term) if t is not None)
                return out

        best = val_losses()
        best_params = {k: v.detach().clone() for k, v in self.params.items()}
        since_improved = 0
        total_steps, epoch, train_loss = 0, 0, math.nan
        max_epochs = self.cfg.max_epochs if steps is None else math.ceil(steps / batches_per_epoch)
        # PETS (``BNN.train``): each member's bootstrap sample is drawn once per fit and only reshuffled
        # every epoch, so a member never sees the rows left out of its sample (pitfall M10)
        sample = torch.randint(0, n, (e, n), generator=self.generator) if self.cfg.bootstrap else None
        for epoch in range(1, max_epochs + 1):
            order = torch.argsort(torch.rand(e, n, generator=self.generator), dim=1)
            if sample is not None:
                order = sample.gather(1, order)
            losses = []
            for b in range(batches_per_epoch):
                if steps is not None and total_steps >= steps:
                    break
                idx = order[:, b * bsz : (b + 1) * bsz]
                loss = self.loss(self.params, x_tr[idx], y_tr[idx]).sum()
                if heads:
                    rew, term = self.head_losses(self.params, h_tr[idx], r_tr[idx], d_tr[idx])
                    loss = loss + sum(t.sum() for t in (rew, term) if t is not None)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if self.cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(list(self.params.values()), self.cfg.grad_clip)
                self.optimizer.step()
                losses.append(loss.detach() / e)
                total_steps += 1
            train_loss = float(torch.stack(losses).mean()) if losses else math.nan
            current = val_losses()
            if steps is None and not torch.isnan(current).any():
                improved = (best - current) / best.abs().clamp_min(1e-12) > 0.01
                if improved.any():
                    with torch.no_grad():
                        for k, v in self.params.items():
                            best_params[k][improved] = v[improved].detach()
                    best = torch.where(improved, current, best)
                    since_improved = 0
                else:
                    since_improved += 1
            if progress is not None:
                progress(epoch, float(current.mean()))
            if steps is not None and total_steps >= steps:
                break
            if since_improved >= self.cfg.patience:
                break
        if steps is None and x_va.shape[0] > 0:
            with torch.no_grad():
                for k, v in self.params.items():
                    v.copy_(best_params[k])
        final = val_losses()
        k_el = self.cfg.num_elites or e
        self.elites = sorted(torch.argsort(final)[:k_el].tolist()) if x_va.shape[0] else list(range(e))
        if not heads:
            return FitResult(epoch, total_steps, train_loss, float(final.mean()), final.tolist())
        rew, term = head_val
        dyn = final - sum((t for t in (rew, term) if t is not None), torch.zeros(e, device=final.device))
        return FitResult(
            epoch,
            total_steps,
            train_loss,
            float(dyn.mean()),
            dyn.tolist(),
            reward_val_loss=math.nan if rew is None else float(rew.mean()),
            termination_val_loss=math.nan if term is None else float(term.mean()),
        )

    # ------------------------------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Tensor]:
        """Params, normalisers and optimiser state as a flat tensor dict (for safetensors): task 0's
        normalisers under ``input_norm.*`` / ``target_norm.*``, task ``t``'s under ``task{t}.input_norm.*``
        / ``task{t}.target_norm.*``."""
        out = flatten("params", {k: v.detach() for k, v in self.params.items()})
        for t, (inp, tgt) in enumerate(self._norms):
            prefix = f"task{t}." if t else ""
            out |= flatten(f"{prefix}input_norm", inp.state_dict())
            out |= flatten(f"{prefix}target_norm", tgt.state_dict())
        if self.reward_spec is not None:
            out |= flatten("reward_norm", self.reward_norm.state_dict())
        names = list(self.params)
        index = {id(v): k for k, v in self.params.items()}
        for p, st in self.optimizer.state.items():
            for key, val in st.items():
                out[f"optim.{index[id(p)]}.{key}"] = torch.as_tensor(val).detach().clone()
        out["elites"] = torch.tensor(self.elites, dtype=torch.int64)
        out["fitted_up_to"] = torch.tensor([self.fitted_up_to], dtype=torch.int64)
        del names
        return out

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        params = unflatten("params", state)
        if set(params) != set(self.params):
            raise CorruptFileError("model parameters do not match the architecture")
        with torch.no_grad():
            for k, v in self.params.items():
                if params[k].shape != v.shape:
                    raise CorruptFileError(
                        f"parameter {k} has shape {tuple(params[k].shape)}, expected {tuple(v.shape)}"
                    )
                v.copy_(params[k])
        saved = [int(m[1]) for k in state if (m := re.match(r"task(\d+)\.input_norm\.", k))]
        self._norms = []
        for t in range(1 + max(saved, default=0)):
            prefix = f"task{t}." if t else ""
            inp, tgt = self.normalizers(t)
            inp.load_state_dict(unflatten(f"{prefix}input_norm", state))
            tgt.load_state_dict(unflatten(f"{prefix}target_norm", state))
        if self.reward_spec is not None:
            self.reward_norm.load_state_dict(unflatten("reward_norm", state))
        self.optimizer = self._make_optimizer()
        optim = unflatten("optim", state)
        for name, p in self.params.items():
            entries = {k[len(name) + 1 :]: v for k, v in optim.items() if k.startswith(name + ".")}
            if entries:
                self.optimizer.state[p] = {k: v.clone() for k, v in entries.items()}
        self.elites = state["elites"].tolist()
        self.fitted_up_to = int(state["fitted_up_to"].item())

    def meta(self) -> dict[str, Any]:
        """JSON-safe description sufficient to rebuild the model (config, sizes, family)."""
        return {
            "version": 1,
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "feature_dim": self.feature_dim,
            "family": self.family,
            "config": asdict(self.cfg),
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Atomically write the model (safetensors + JSON header)."""
        save_tensors(path, self.state_dict(), FORMAT, self.meta())

    @classmethod
    def load(cls, path: str | os.PathLike[str], obs_preproc: ObsPreproc | None = None) -> DynamicsModel:
        """Rebuild a model saved with :meth:`save`; ``obs_preproc`` defaults to its family's."""
        tensors, meta = load_tensors(path, FORMAT)
        try:
            cfg = ModelConfig(**meta["config"])
            family = meta.get("family")
            if obs_preproc is None and family is not None:
                from dynadapt.envs import get_family

                obs_preproc = get_family(family).obs_preproc
            model = cls(
                meta["obs_dim"],
                meta["act_dim"],
                cfg,
                obs_preproc=obs_preproc,
                feature_dim=meta["feature_dim"],
                family=family,
            )
            model.load_state_dict(tensors)
        except (KeyError, TypeError) as e:
            raise CorruptFileError(f"{path}: incomplete model file ({e})") from None
        return model
