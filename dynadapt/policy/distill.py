"""Planner distillation: behaviour cloning of an MPC planner with DAgger.

MPC with a learned model (PETS) plans at every step: thousands of imagined rollouts per action. A
feed-forward policy ``a = π(s)`` trained to imitate the planner costs one small network evaluation per
step instead. Plain behaviour cloning trains on the states the *planner* visits; the policy's own mistakes
then lead it to states the data never covered (compounding error, quadratic in the horizon). DAgger
(Ross, Gordon and Bagnell 2011, "A reduction of imitation learning and structured prediction to no-regret
online learning", Alg. 3.1) fixes this by letting the expert label the states the *learner* visits::

    D = {}; π̂_0 = any
    for i = 0 .. N:
        π_i = β_i π* + (1 − β_i) π̂_i          (per step: the expert's action with probability β_i)
        run π_i; at every visited state s record (s, π*(s))   (the expert relabels)
        D = D ∪ {those pairs};  π̂_{i+1} = argmin_π Σ_{(s, a) ∈ D} ||π(s) − a||²
    (β_0 = 1: iteration 0 is plain behaviour cloning on expert rollouts; β_i = β^i afterwards)

Here the expert ``π*`` is the MPC agent (:class:`dynadapt.planning.MPCAgent` around a learned model); the
loop that trains the model, runs DAgger and compares costs is :mod:`dynadapt.runs.distill`.

:class:`DistilledPolicy` is a deterministic MLP, a pure function of its params dict as every dynadapt
network: ``a = mid + half · tanh(f_θ(z(obs_preproc(s))))`` with ``z`` a z-score of the features and
``mid, half`` the centre and half-width of the action box, trained in the squashed ``[-1, 1]`` action
space by an L1 loss (default) or MSE. An MPC planner's labels are noisy (CEM's first action varies from call
to call) and can be two-valued (swing left or right); MSE regresses to their conditional mean, which
averages the two modes into a weak action, while L1 regresses to the conditional median, which follows
the majority. On the 2800 DAgger-labelled states of a distill-pendulum run (seed 0), the same 2x64 policy
fitted with L1 returned -293 (two fit seeds: -295, -292) against -385 and -407 with MSE, the planner -245.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from dynadapt.checks import check
from dynadapt.errors import CorruptFileError, DynadaptError
from dynadapt.io import flatten, load_tensors, save_tensors, unflatten
from dynadapt.models.normalizer import Normalizer
from dynadapt.nets.config import NetConfig, minibatch_steps
from dynadapt.nets.mlp import MLPSpec, forward, init_params
from dynadapt.types import ObsPreproc, Params

FORMAT = "dynadapt.DistilledPolicy"
ActFn = Callable[[np.ndarray], np.ndarray]
"""``act(obs[O]) -> action[A]`` (numpy, as an env consumes it)."""


def _identity(obs: Tensor) -> Tensor:
    return obs


@dataclass
class PolicyConfig(NetConfig):
    """The distilled (student) policy and its behaviour-cloning fit."""

    hidden: tuple[int, ...] = (64, 64)
    weight_decay: float = 0.0
    """L2 penalty on the weights."""
    train_steps: int = 2000
    """Minibatch steps per (re)fit on the aggregated data."""
    warm_start: bool = False
    """Continue from the previous iteration's policy instead of refitting from a fresh init (DAgger's
    argmin over the aggregate). On a distill-pendulum dataset, warm-started refits returned -368/-399 and
    fresh ones -289 to -317 (planner -245): the warm start stays near the earlier, worse policy."""
    loss: Literal["l1", "mse"] = "l1"
    """Behaviour-cloning loss in the normalised action box: l1 (conditional median) or mse (mean)."""

    def __post_init__(self) -> None:
        checks = [
            *self.net_checks("policy"),
            (self.weight_decay >= 0, "policy.weight_decay must be >= 0"),
            (self.train_steps >= 1, "policy.train_steps must be >= 1"),
            (self.loss in ("l1", "mse"), "policy.loss must be l1 or mse"),
        ]
        check(*checks)


class DistilledPolicy:
    """A deterministic MLP policy ``obs[..., O] -> act[..., A]`` inside the action box ``[low, high]``.

    Args:
        obs_dim, act_dim: sizes of an observation and an action.
        low, high: the action bounds ``[A]``.
        cfg: architecture and fit settings.
        obs_preproc, feature_dim, family: the task family's model-input preprocessing (as the dynamics
            model's; :meth:`load` restores it from ``family``).
        generator: source of the init and minibatch randomness.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        low: np.ndarray | Tensor,
        high: np.ndarray | Tensor,
        cfg: PolicyConfig,
        *,
        obs_preproc: ObsPreproc | None = None,
        feature_dim: int | None = None,
        family: str | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        self.obs_dim, self.act_dim, self.cfg, self.family = obs_dim, act_dim, cfg, family
        self.obs_preproc = obs_preproc or _identity
        self.feature_dim = obs_dim if feature_dim is None else feature_dim
        self.low = torch.as_tensor(low, dtype=torch.float32).reshape(act_dim)
        self.high = torch.as_tensor(high, dtype=torch.float32).reshape(act_dim)
        self.mid, self.half = (self.high + self.low) / 2, (self.high - self.low) / 2
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.spec = MLPSpec(self.feature_dim, act_dim, cfg.hidden, cfg.activation)
        self.input_norm = Normalizer(self.feature_dim)
        self.params: Params = init_params(self.spec, self.generator)
        for p in self.params.values():
            p.requires_grad_(True)
        self.optimizer = self._make_optimizer()
        self.fit_steps = 0

    def _make_optimizer(self) -> torch.optim.Adam:
        decay = [v for k, v in self.params.items() if k.endswith("weight")]
        rest = [v for k, v in self.params.items() if not k.endswith("weight")]
        return torch.optim.Adam(
            [{"params": decay, "weight_decay": self.cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}],
            lr=self.cfg.lr,
        )

    # ---------------------------------------------------------------------------------------- forward
    def squashed(self, params: Params, obs: Tensor) -> Tensor:
        """The action in the normalised box: ``tanh(f_θ(z(features)))``, ``obs[..., O] -> [..., A]``."""
        return torch.tanh(forward(self.spec, params, self.input_norm.normalize(self.obs_preproc(obs))))

    def __call__(self, obs: Tensor, params: Params | None = None) -> Tensor:
        """The action ``[..., A]`` for ``obs[..., O]`` (differentiable in params and obs)."""
        params = self.params if params is None else params
        return self.mid + self.half * self.squashed(params, obs)

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> np.ndarray:
        """The action for one observation, as a float32 numpy array (what an env consumes)."""
        return self(torch.as_tensor(obs, dtype=torch.float32)).numpy().astype(np.float32)

    def flops_per_step(self) -> int:
        """Multiply-add FLOPs of one action (the MLP; the preprocessing and tanh are not counted)."""
        return self.spec.flops_per_row()

    # ----------------------------------------------------------------------------------------- fitting
    def fit(self, obs: Tensor, act: Tensor, steps: int | None = None) -> float:
        """Behaviour cloning on ``(obs[N, O], act[N, A])``: ``steps`` (default ``cfg.train_steps``) Adam steps
        on the L1 or squared error between the squashed prediction and the clipped, normalised target. The
        feature normaliser is recomputed from ``obs`` first. Returns the mean loss of the last 10% of the
        steps."""
        if obs.shape[0] == 0:
            raise DynadaptError("cannot fit a policy on no data")
        if obs.shape[-1] != self.obs_dim or act.shape[-1] != self.act_dim or obs.shape[0] != act.shape[0]:
            raise DynadaptError(
                f"policy fit expects obs[N, {self.obs_dim}] and act[N, {self.act_dim}], "
                f"got {list(obs.shape)} and {list(act.shape)}"
            )
        steps = self.cfg.train_steps if steps is None else steps
        self.input_norm = Normalizer(self.feature_dim)
        self.input_norm.update(self.obs_preproc(obs))
        target = ((act - self.mid) / self.half).clamp(-1.0, 1.0)
        n, bsz = obs.shape[0], min(self.cfg.batch_size, obs.shape[0])

        def loss() -> Tensor:
            idx = torch.randint(0, n, (bsz,), generator=self.generator)
            err = self.squashed(self.params, obs[idx]) - target[idx]
            return err.abs().mean() if self.cfg.loss == "l1" else (err**2).mean()

        self.fit_steps += steps
        return minibatch_steps(self.optimizer, steps, loss)

    @torch.no_grad()
    def mse(self, obs: Tensor, act: Tensor) -> float:
        """MSE between the policy's and the given actions in the normalised box (a held-out check)."""
        target = ((act - self.mid) / self.half).clamp(-1.0, 1.0)
        return float(((self.squashed(self.params, obs) - target) ** 2).mean())

    def reinit(self) -> None:
        """Fresh parameters and optimiser (drawn from the policy's generator)."""
        fresh = init_params(self.spec, self.generator)
        self.params = {k: v.requires_grad_(True) for k, v in fresh.items()}
        self.optimizer = self._make_optimizer()

    # ------------------------------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Tensor]:
        out = flatten("params", {k: v.detach() for k, v in self.params.items()})
        out |= flatten("input_norm", self.input_norm.state_dict())
        index = {id(v): k for k, v in self.params.items()}
        for p, st in self.optimizer.state.items():
            for key, val in st.items():
                out[f"optim.{index[id(p)]}.{key}"] = torch.as_tensor(val).detach().clone()
        out["fit_steps"] = torch.tensor([self.fit_steps], dtype=torch.int64)
        out["rng"] = self.generator.get_state()
        return out

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        params = unflatten("params", state)
        if set(params) != set(self.params) or any(params[k].shape != v.shape for k, v in self.params.items()):
            raise CorruptFileError("policy parameters do not match the architecture")
        with torch.no_grad():
            for k, v in self.params.items():
                v.copy_(params[k])
        self.input_norm.load_state_dict(unflatten("input_norm", state))
        self.optimizer = self._make_optimizer()
        optim = unflatten("optim", state)
        for name, p in self.params.items():
            entries = {k[len(name) + 1 :]: v for k, v in optim.items() if k.startswith(name + ".")}
            if entries:
                self.optimizer.state[p] = {k: v.clone() for k, v in entries.items()}
        self.fit_steps = int(state["fit_steps"].item())
        self.generator.set_state(state["rng"])

    def meta(self) -> dict[str, Any]:
        return {
            "version": 1,
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "feature_dim": self.feature_dim,
            "family": self.family,
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "config": asdict(self.cfg),
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Atomically write the policy (safetensors + JSON header)."""
        save_tensors(path, self.state_dict(), FORMAT, self.meta())

    @classmethod
    def load(cls, path: str | os.PathLike[str], obs_preproc: ObsPreproc | None = None) -> DistilledPolicy:
        tensors, meta = load_tensors(path, FORMAT)
        try:
            family = meta.get("family")
            if obs_preproc is None and family is not None:
                from dynadapt.envs import get_family

                obs_preproc = get_family(family).obs_preproc
            policy = cls(
                meta["obs_dim"],
                meta["act_dim"],
                np.asarray(meta["low"], dtype=np.float32),
                np.asarray(meta["high"], dtype=np.float32),
                PolicyConfig(**meta["config"]),
                obs_preproc=obs_preproc,
                feature_dim=meta["feature_dim"],
                family=family,
            )
            policy.load_state_dict(tensors)
        except (KeyError, TypeError) as e:
            raise CorruptFileError(f"{path}: incomplete policy file ({e})") from None
        return policy


# --------------------------------------------------------------------------------------------- DAgger
@dataclass
class DaggerEpisode:
    """One episode of the mixture policy ``π_i`` with the expert's labels.

    ``obs[T, O]`` are the states visited, ``labels[T, A]`` the expert's action at each of them,
    ``executed[T, A]`` the action actually taken and ``by_expert[T]`` whether it was the expert's.
    """

    obs: Tensor
    labels: Tensor
    executed: Tensor
    by_expert: Tensor
    ret: float

    @property
    def length(self) -> int:
        return int(self.obs.shape[0])


def dagger_episode(
    env: Any,
    expert: ActFn,
    learner: ActFn | None,
    beta: float,
    rng: np.random.Generator,
    seed: int,
    reset_expert: Callable[[], None] | None = None,
) -> DaggerEpisode:
    """Play one episode of ``π_i = β π* + (1 − β) π̂`` and let the expert label every visited state.

    At every step the expert is queried at the current state (its action is the label, whatever is
    executed); the executed action is the expert's with probability ``beta`` (one draw from ``rng`` per
    step) and the learner's otherwise. ``learner=None`` or ``beta >= 1``: the expert acts throughout (plain
    behaviour-cloning data). ``reset_expert`` is called once before the episode (e.g. ``MPCAgent.reset``).
    The expert is queried in visiting order, so a stateful expert (MPC with a warm-started plan) sees the
    trajectory it labels.
    """
    if not 0.0 <= beta <= 1.0:
        raise DynadaptError(f"beta must be in [0, 1], got {beta}")
    if reset_expert is not None:
        reset_expert()
    obs, _ = env.reset(seed=seed)
    visited, labels, executed, by_expert = [], [], [], []
    total = 0.0
    while True:
        label = np.asarray(expert(obs), dtype=np.float32)
        use_expert = learner is None or beta >= 1.0 or bool(rng.random() < beta)
        act = label if use_expert else np.asarray(learner(obs), dtype=np.float32)  # type: ignore[misc]
        visited.append(np.asarray(obs, dtype=np.float32))
        labels.append(label)
        executed.append(act)
        by_expert.append(use_expert)
        obs, reward, terminated, truncated, _ = env.step(act)
        if not np.all(np.isfinite(obs)):
            raise DynadaptError(f"the env returned a non-finite observation at step {len(visited)}")
        total += float(reward)
        if terminated or truncated:
            break
    return DaggerEpisode(
        torch.as_tensor(np.stack(visited)),
        torch.as_tensor(np.stack(labels)),
        torch.as_tensor(np.stack(executed)),
        torch.as_tensor(by_expert),
        total,
    )


def rollout_return(
    env: Any, act: ActFn, seed: int, reset: Callable[[], None] | None = None
) -> tuple[float, int]:
    """Return and length of one episode of ``act`` from ``env.reset(seed=seed)`` (no data kept)."""
    if reset is not None:
        reset()
    obs, _ = env.reset(seed=seed)
    total, steps = 0.0, 0
    while True:
        obs, reward, terminated, truncated, _ = env.step(act(obs))
        total += float(reward)
        steps += 1
        if terminated or truncated:
            return total, steps
