"""Inverse and action-free models: the lecture's other kinds of models, on the dynamics model's network core.

Every kind learns from segments ``(s_t, a_t, ..., a_{t+n-1}, s_{t+1}, ..., s_{t+n})`` of one episode
(:func:`segments`), with a functional MLP (:mod:`dynadapt.nets.mlp`) on the family's observation features
z-scored by a :class:`~dynadapt.models.normalizer.Normalizer`:

* ``kind="inverse"``, ``n = 1``: the one-step inverse model p(a_t | s_t, s_{t+1});
* ``kind="inverse"``, ``n > 1``: the n-step inverse model of the first action, p(a_t | s_t, s_{t+n})
  (``output="first"``), or of the whole chunk, p(a_{t:t+n} | s_t, s_{t+n}) (``output="chunk"``). Both are
  trained on every gap k = 1..n with k/n as an input (a chunk's loss covers its first k actions), so that
  a controller can replan at every step with the time that is left (:mod:`dynadapt.runs.inverse`);
  evaluation uses k = n;
* ``kind="action_free"``: p(s_{t+1:t+n} | s_t), the future without the actions.

The inverse input is ``[f(s_t), f(s_{t+k}) − f(s_t), k/n]`` (f: the family's features); actions are
regressed in the unit box ``(a − mid)/half`` and the action-free targets are the z-scored offsets
``s_{t+j} − s_t``. The networks are deterministic (MSE): each predicts the mean of its p, which is what a
controller executes (a multi-modal inverse model is averaged, the limitation the lecture points out).
:func:`least_squares` is the linear baseline the evaluation compares with, fitted on the same inputs.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

from dynadapt.checks import check
from dynadapt.data.buffer import ReplayBuffer, holdout_mask
from dynadapt.errors import CorruptFileError, DynadaptError
from dynadapt.io import flatten, load_tensors, save_tensors, unflatten
from dynadapt.models.normalizer import Normalizer
from dynadapt.nets.config import NetConfig, minibatch_steps
from dynadapt.nets.ensemble import load_into
from dynadapt.nets.mlp import MLPSpec, forward, init_params
from dynadapt.policy.sac import _load_optim_state, _optim_state
from dynadapt.types import Params

if TYPE_CHECKING:
    from dynadapt.envs.family import TaskFamily

FORMAT = "dynadapt.SegmentModel"
Kind = Literal["inverse", "action_free"]
Output = Literal["first", "chunk"]


@dataclass
class SegmentModelConfig(NetConfig):
    """An inverse or action-free model and its fit."""

    kind: Kind = "inverse"
    """inverse: the actions between two states; action_free: the next n states from the current one."""
    n: int = 1
    """Steps a segment spans (1 with kind=inverse: the one-step inverse model)."""
    output: Output = "first"
    """inverse only: the first action (first) or all n actions (chunk)."""
    weight_decay: float = 0.0
    """L2 penalty on the weights."""
    train_steps: int = 2000
    """Adam steps per fit (the fit continues from the previous one)."""

    def __post_init__(self) -> None:
        checks = [
            (self.kind in ("inverse", "action_free"), "model.kind must be inverse or action_free"),
            (self.n >= 1, "model.n must be >= 1"),
            (self.output in ("first", "chunk"), "model.output must be first or chunk"),
            *self.net_checks("model"),
            (self.weight_decay >= 0 and self.train_steps >= 1, "model.weight_decay >= 0, train_steps >= 1"),
        ]
        check(*checks)


@dataclass
class Segments:
    """``N`` segments of ``n`` steps: ``obs[N, O]`` = s_t, ``act[N, n, A]`` = a_{t..t+n-1},
    ``future[N, n, O]`` = s_{t+1..t+n}, ``episode[N]`` (the held-out split is by episode)."""

    obs: Tensor
    act: Tensor
    future: Tensor
    episode: Tensor

    def __len__(self) -> int:
        return int(self.obs.shape[0])

    def split(self, ratio: float) -> tuple[Segments, Segments]:
        """(training, held-out): about ``ratio`` of the episodes held out (a fixed hash of their index)."""
        held = holdout_mask(self.episode, ratio)
        return self.take(~held), self.take(held)

    def take(self, rows: Tensor) -> Segments:
        return Segments(self.obs[rows], self.act[rows], self.future[rows], self.episode[rows])


def segments(buffer: ReplayBuffer, n: int) -> Segments:
    """Every segment of ``n`` consecutive transitions of one episode in ``buffer``."""
    data = buffer.all()
    rows = buffer.segment_starts(n)[:, None] + torch.arange(n)
    return Segments(
        data["obs"][rows[:, 0]], data["act"][rows], data["next_obs"][rows], data["episode"][rows[:, 0]]
    )


def least_squares(x: Tensor, y: Tensor, mask: Tensor | None = None, ridge: float = 1e-6) -> Tensor:
    """Affine least squares in float64: the weights ``W[F + 1, D]`` of ``y[N, D] ≈ [x, 1] W`` (ridge
    ``ridge · N`` on every weight); with ``mask[N, D]``, output d is fitted on the rows where it is 1."""
    xb = torch.cat([x.double(), torch.ones(x.shape[0], 1, dtype=torch.float64)], dim=1)
    y = y.double()
    mask = torch.ones_like(y, dtype=torch.bool) if mask is None else mask.bool()
    eye = torch.eye(xb.shape[1], dtype=torch.float64)
    w = torch.zeros(xb.shape[1], y.shape[1], dtype=torch.float64)
    for pattern in torch.unique(mask.T, dim=0):  # outputs fitted on the same rows share one solve
        cols, rows = torch.eq(mask.T, pattern).all(dim=1), pattern
        a = xb[rows]
        gram = a.T @ a + ridge * max(1, a.shape[0]) * eye
        w[:, cols] = torch.linalg.solve(gram, a.T @ y[rows][:, cols])
    return w


def affine(w: Tensor, x: Tensor) -> Tensor:
    """``[x, 1] W`` in ``x``'s dtype: ``x[N, F]``, ``w[F + 1, D]`` -> ``[N, D]``."""
    return (x.double() @ w[:-1] + w[-1]).to(x.dtype)


class SegmentModel:
    """An inverse or action-free model (see the module docstring) of ``family``'s tasks (its sizes,
    observation features and action bounds), with the settings ``cfg``; ``generator`` is the source of the
    initialisation, the minibatches and the gaps."""

    def __init__(
        self, family: TaskFamily, cfg: SegmentModelConfig, generator: torch.Generator | None = None
    ) -> None:
        if len(family.act_low) != family.act_dim or len(family.act_high) != family.act_dim:
            raise DynadaptError(f"family {family.name!r} declares no action bounds")
        self.family, self.cfg = family, cfg
        self.obs_dim, self.act_dim = obs_dim, act_dim = family.obs_dim, family.act_dim
        self.feature_dim, self.obs_preproc = family.feature_dim, family.obs_preproc
        self.low = torch.tensor(family.act_low, dtype=torch.float32)
        self.high = torch.tensor(family.act_high, dtype=torch.float32)
        self.mid, self.half = (self.high + self.low) / 2, (self.high - self.low) / 2
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        inverse = cfg.kind == "inverse"
        in_dim = 2 * self.feature_dim + 1 if inverse else self.feature_dim
        steps = cfg.n if (not inverse or cfg.output == "chunk") else 1
        self.out_steps = steps
        """Steps the output spans: 1 (the first action) or n (a chunk, or the n future states)."""
        out_dim = steps * (act_dim if inverse else obs_dim)
        self.spec = MLPSpec(in_dim, out_dim, cfg.hidden, cfg.activation)
        self.input_norm = Normalizer(in_dim)
        self.target_norm = Normalizer(out_dim)
        """Statistics of the action-free targets (unused by the inverse kinds)."""
        self.params: Params = init_params(self.spec, self.generator)
        for p in self.params.values():
            p.requires_grad_(True)
        decay = [v for k, v in self.params.items() if k.endswith("weight")]
        rest = [v for k, v in self.params.items() if not k.endswith("weight")]
        groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
        self.optimizer = torch.optim.Adam(groups, lr=cfg.lr)
        self.fit_steps = 0
        self.linear = torch.zeros(in_dim + 1, out_dim, dtype=torch.float64)
        """The least-squares baseline on the same normalised inputs and targets, refitted by every fit."""

    # ------------------------------------------------------------------------------------- examples
    def features(self, obs: Tensor) -> Tensor:
        return self.obs_preproc(obs)

    def inputs(self, obs: Tensor, goal: Tensor | None = None, steps: Tensor | int | None = None) -> Tensor:
        """Raw network input ``[N, in]``: ``[f(s), f(goal) − f(s), k/n]`` (inverse) or ``f(s)``."""
        f = self.features(obs)
        if self.cfg.kind == "action_free":
            return f
        if goal is None or steps is None:
            raise DynadaptError("an inverse model needs the goal state and the steps to it")
        k = torch.as_tensor(steps, dtype=f.dtype).expand(f.shape[0]).reshape(-1, 1)
        return torch.cat([f, self.features(goal) - f, k / self.cfg.n], dim=-1)

    def examples(self, seg: Segments, gap: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Raw inputs, targets and target mask of ``seg`` at gaps ``gap[N]`` (1..n): ``([N, in], [N, out],
        [N, out])``; the mask is 0 on a chunk's actions beyond the gap."""
        n_rows = len(seg)
        rows = torch.arange(n_rows)
        if self.cfg.kind == "action_free":
            y = (seg.future - seg.obs[:, None]).reshape(n_rows, -1)
            return self.inputs(seg.obs), y, torch.ones_like(y)
        x = self.inputs(seg.obs, seg.future[rows, gap - 1], gap)
        unit = ((seg.act[:, : self.out_steps] - self.mid) / self.half).clamp(-1.0, 1.0)
        valid = torch.arange(self.out_steps)[None, :] < gap[:, None]
        mask = valid[..., None].expand_as(unit).to(unit.dtype)
        return x, unit.reshape(n_rows, -1), mask.reshape(n_rows, -1)

    def all_gaps(self, seg: Segments) -> tuple[Tensor, Tensor, Tensor]:
        """:meth:`examples` of every segment at every gap 1..n (action-free: once), stacked."""
        if self.cfg.kind == "action_free":
            return self.examples(seg, torch.full((len(seg),), self.cfg.n))
        parts = [self.examples(seg, torch.full((len(seg),), k)) for k in range(1, self.cfg.n + 1)]
        return tuple(torch.cat(p) for p in zip(*parts))  # type: ignore[return-value]

    # ----------------------------------------------------------------------------------------- fitting
    def fit(self, seg: Segments, steps: int | None = None) -> float:
        """``steps`` (default ``cfg.train_steps``) Adam steps of masked MSE on ``seg`` (gaps drawn uniformly
        per example; the normalisers, and the least-squares baseline, are recomputed from all of ``seg`` at
        every gap first). Returns the mean loss of the last tenth of the steps."""
        if len(seg) == 0:
            raise DynadaptError("cannot fit an inverse or action-free model on no segments")
        steps = self.cfg.train_steps if steps is None else steps
        x_all, y_all, mask_all = self.all_gaps(seg)
        self.input_norm = Normalizer(self.spec.in_dim)
        self.input_norm.update(x_all)
        self.target_norm = Normalizer(self.spec.out_dim)
        if self.cfg.kind == "action_free":
            self.target_norm.update(y_all)
        self.linear = least_squares(self.input_norm.normalize(x_all), self.target_units(y_all), mask_all)
        n, bsz = len(seg), min(self.cfg.batch_size, len(seg))

        def loss() -> Tensor:
            idx = torch.randint(0, n, (bsz,), generator=self.generator)
            gap = torch.randint(1, self.cfg.n + 1, (bsz,), generator=self.generator)
            x, y, mask = self.examples(seg.take(idx), gap)
            return (self.residual(self.params, x, y) ** 2 * mask).sum() / mask.sum()

        self.fit_steps += steps
        return minibatch_steps(self.optimizer, steps, loss)

    def units(self, x: Tensor, linear: bool = False) -> Tensor:
        """Prediction in the regression's units (unit box / z-scored offsets) from raw inputs ``x[N, in]``:
        the network's, or the least-squares baseline's. ``[N, out]``"""
        z = self.input_norm.normalize(x)
        return affine(self.linear, z) if linear else forward(self.spec, self.params, z)

    def residual(self, params: Params, x: Tensor, y: Tensor) -> Tensor:
        """Network prediction minus target in the regression's units: ``[N, out]``."""
        return forward(self.spec, params, self.input_norm.normalize(x)) - self.target_units(y)

    def target_units(self, y: Tensor) -> Tensor:
        return self.target_norm.normalize(y) if self.cfg.kind == "action_free" else y

    @torch.no_grad()
    def errors(self, test: Segments) -> dict[str, float]:
        """Held-out MSE at gap n of the network and of the least-squares baseline, in the regression's units
        (actions in the unit box; action-free: z-scored offsets)."""
        x, y, _ = self.examples(test, torch.full((len(test),), self.cfg.n))
        target = self.target_units(y)
        return {
            "error": float(((self.units(x) - target) ** 2).mean()),
            "error_least_squares": float(((self.units(x, linear=True) - target) ** 2).mean()),
        }

    # ------------------------------------------------------------------------------------- prediction
    @torch.no_grad()
    def actions(self, obs: Tensor, goal: Tensor, steps: Tensor | int, linear: bool = False) -> Tensor:
        """The actions (env units, in the bounds) that take ``obs[N, O]`` to ``goal[N, O]`` in ``steps``:
        ``[N, A]`` (first) or ``[N, n, A]`` (chunk); the network's or (``linear``) the baseline's."""
        if self.cfg.kind != "inverse":
            raise DynadaptError("only an inverse model predicts actions")
        out = self.units(self.inputs(obs, goal, steps), linear)
        act = self.mid + self.half * out.clamp(-1.0, 1.0).reshape(obs.shape[0], self.out_steps, -1)
        return act[:, 0] if self.cfg.output == "first" else act

    @torch.no_grad()
    def future(self, obs: Tensor, linear: bool = False) -> Tensor:
        """The predicted states ``s_{t+1..t+n}`` from ``obs[N, O]``: ``[N, n, O]`` (action-free kind)."""
        if self.cfg.kind != "action_free":
            raise DynadaptError("only an action-free model predicts the future without actions")
        out = self.target_norm.denormalize(self.units(self.inputs(obs), linear))
        return obs[:, None] + out.reshape(obs.shape[0], self.cfg.n, -1)

    def flops_per_row(self) -> int:
        """Multiply-add FLOPs of one prediction (the network)."""
        return self.spec.flops_per_row()

    # ------------------------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Tensor]:
        out = flatten("params", {k: v.detach() for k, v in self.params.items()})
        out |= flatten("input_norm", self.input_norm.state_dict())
        out |= flatten("target_norm", self.target_norm.state_dict())
        out |= flatten("optim", _optim_state(self.optimizer, self.params))
        out["linear"] = self.linear.clone()
        out["rng"] = self.generator.get_state()
        out["fit_steps"] = torch.tensor([self.fit_steps], dtype=torch.int64)
        return out

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        load_into(self.params, unflatten("params", state), "inverse/action-free model parameters")
        try:
            self.input_norm.load_state_dict(unflatten("input_norm", state))
            self.target_norm.load_state_dict(unflatten("target_norm", state))
            _load_optim_state(self.optimizer, self.params, unflatten("optim", state))
            self.fit_steps = int(state["fit_steps"].item())
            self.generator.set_state(state["rng"])
            self.linear = state["linear"].to(torch.float64).clone()
        except (KeyError, ValueError) as e:
            raise CorruptFileError(f"incomplete inverse/action-free model state ({e})") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Atomically write the model (safetensors + JSON header)."""
        meta = {"version": 1, "family": self.family.name, "config": asdict(self.cfg)}
        save_tensors(path, self.state_dict(), FORMAT, meta)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SegmentModel:
        """Rebuild a model saved with :meth:`save` (its family must be registered)."""
        from dynadapt.envs import get_family

        tensors, meta = load_tensors(path, FORMAT)
        try:
            model = cls(get_family(meta["family"]), SegmentModelConfig(**meta["config"]))
        except (KeyError, TypeError) as e:
            raise CorruptFileError(f"{path}: incomplete inverse/action-free model file ({e})") from None
        model.load_state_dict(tensors)
        return model
