"""Model-based policy optimisation (Janner, Fu, Zhang, Levine, NeurIPS 2019, arXiv 1906.08253).

The pieces of MBPO's Algorithm 2 that are not SAC itself (the loop is :mod:`dynadapt.runs.policy.mbpo`)::

    every `model_train_freq` env steps:
        fit the ensemble on all real data (early stopping on held-out loss; elites)
        k ← rollout_length(epoch, [e0, e1, k0, k1])
        resize the model buffer to retain_epochs · k · rollout_batch_size · epoch_length / model_train_freq
        sample `rollout_batch_size` start states s_0 from the real buffer
        branched rollout: for h < k: a_h ~ π(·|s_h), s_{h+1} ~ a random elite's Gaussian,
            r_h = reward_fn(s_h, a_h, s_{h+1}), d_h = termination_fn(s_h, a_h, s_{h+1});
            store (s_h, a_h, r_h, s_{h+1}, d_h); rows with d_h stop
    every env step: G SAC updates on batches of real_ratio real and (1 − real_ratio) model transitions

Start states are the ``obs`` of stored real transitions, which are never terminal: a terminal state only
appears as the ``next_obs`` of the transition that ended its episode. Reward and termination are supplied
as callables with the task families' batched signature ``(obs, act, next_obs) -> [N]``, so a learned
reward or termination head can replace the known functions without touching this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from dynadapt.checks import check, check_memory
from dynadapt.data.buffer import ReplayBuffer
from dynadapt.errors import CorruptFileError, DynadaptError
from dynadapt.types import Params, RewardFn, TerminationFn

Predict = Callable[[Params, Tensor, Tensor], tuple[Tensor, Tensor | None]]
"""``(params, obs[E, N, O], act[E, N, A]) -> (next_obs mean[E, N, O], std[E, N, O] or None)``"""
Policy = Callable[[Tensor], Tensor]
"""``obs[N, O] -> env action[N, A]`` (sampled from the current policy)"""
"""``(obs[N, O], act[N, A], next_obs[N, O]) -> [N]`` (reward, or a bool termination flag)"""

FIELDS = ("obs", "act", "reward", "next_obs", "terminated")


@dataclass
class MBPOConfig:
    """MBPO's model-rollout settings (defaults: the paper's, reference §3)."""

    epoch_length: int = 1000
    """Env steps per epoch (the unit of the rollout-length schedule)."""
    model_train_freq: int = 250
    """Refit the model and generate new rollouts every this many env steps."""
    rollout_batch_size: int = 100_000
    """Start states per rollout phase (400 model rollouts per env step at the defaults)."""
    rollout_schedule: tuple[int, ...] = (20, 100, 1, 15)
    """Rollout length schedule [e0, e1, k0, k1]: k0 up to epoch e0, linear to k1 at epoch e1."""
    retain_epochs: int = 1
    """Epochs of model rollouts kept in the model buffer."""
    real_ratio: float = 0.05
    """Fraction of real transitions in every SAC minibatch."""

    def __post_init__(self) -> None:
        self.rollout_schedule = tuple(int(x) for x in self.rollout_schedule)
        checks = [
            (self.epoch_length >= 1, "mbpo.epoch_length must be >= 1"),
            (self.model_train_freq >= 1, "mbpo.model_train_freq must be >= 1"),
            (self.rollout_batch_size >= 1, "mbpo.rollout_batch_size must be >= 1"),
            (len(self.rollout_schedule) == 4, "mbpo.rollout_schedule must be four numbers e0,e1,k0,k1"),
            (self.retain_epochs >= 1, "mbpo.retain_epochs must be >= 1"),
            (0 <= self.real_ratio <= 1, "mbpo.real_ratio must be in [0, 1]"),
        ]
        check(*checks)
        e0, e1, k0, k1 = self.rollout_schedule
        if k0 < 1 or k1 < 1 or e0 < 0 or e1 < e0:
            raise DynadaptError("mbpo.rollout_schedule needs 0 <= e0 <= e1 and k0, k1 >= 1")

    def pool_capacity(self, k: int) -> int:
        """Model buffer size for rollout length ``k`` (MBPO's ``_reallocate_model_pool``)."""
        per_epoch = self.epoch_length / self.model_train_freq
        return max(1, int(self.retain_epochs * k * self.rollout_batch_size * per_epoch))


def rollout_length(epoch: int, schedule: tuple[int, ...]) -> int:
    """MBPO's linear schedule: ``k0`` for ``epoch <= e0``, then ``⌊k0 + min(1, (e−e0)/(e1−e0))·(k1−k0)⌋``."""
    e0, e1, k0, k1 = schedule
    if epoch <= e0:
        return k0
    frac = 1.0 if e1 <= e0 else min(1.0, (epoch - e0) / (e1 - e0))
    return math.floor(k0 + frac * (k1 - k0))


class ModelPool:
    """A ring buffer of model-generated transitions, filled in batches and resizable (newest kept)."""

    def __init__(self, capacity: int, obs_dim: int, act_dim: int) -> None:
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.capacity = 0
        self.size = 0
        self.ptr = 0
        self.data: dict[str, Tensor] = {}
        self.resize(capacity)

    def __len__(self) -> int:
        return self.size

    def _empty(self, n: int) -> dict[str, Tensor]:
        row = 4 * (2 * self.obs_dim + self.act_dim + 1) + 1  # float32 columns and a bool
        check_memory(n * row, f"a pool of {n} model-generated transitions")
        return {
            "obs": torch.zeros(n, self.obs_dim),
            "act": torch.zeros(n, self.act_dim),
            "reward": torch.zeros(n),
            "next_obs": torch.zeros(n, self.obs_dim),
            "terminated": torch.zeros(n, dtype=torch.bool),
        }

    def all(self) -> dict[str, Tensor]:
        """The stored transitions, oldest first."""
        if self.size < self.capacity:
            order = torch.arange(self.size)
        else:
            order = (torch.arange(self.capacity) + self.ptr) % self.capacity
        return {k: v[order] for k, v in self.data.items()}

    def resize(self, capacity: int) -> None:
        """Change the capacity, keeping the newest ``min(size, capacity)`` transitions."""
        if capacity < 1:
            raise DynadaptError(f"model buffer capacity must be >= 1, got {capacity}")
        if capacity == self.capacity:
            return
        old = self.all() if self.size else None
        self.capacity = capacity
        self.data = self._empty(capacity)
        self.size = self.ptr = 0
        if old is not None:
            self.add(old)

    def add(self, batch: dict[str, Tensor]) -> None:
        """Append ``batch[field][M, ...]`` (beyond the capacity, the oldest are overwritten)."""
        m = batch["obs"].shape[0]
        if m == 0:
            return
        start = max(0, m - self.capacity)
        idx = (self.ptr + torch.arange(m - start)) % self.capacity
        for k in FIELDS:
            self.data[k][idx] = batch[k][start:].to(self.data[k].dtype)
        self.ptr = int((self.ptr + m - start) % self.capacity)
        self.size = min(self.size + m - start, self.capacity)

    def sample(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """``n`` transitions drawn uniformly with replacement."""
        if self.size == 0:
            raise DynadaptError("cannot sample from an empty model buffer")
        idx = torch.randint(0, self.size, (n,), generator=generator)
        return {k: v[idx] for k, v in self.data.items()}

    def state_dict(self) -> dict[str, Tensor]:
        out = self.all()
        out["_counters"] = torch.tensor([self.capacity, self.obs_dim, self.act_dim])
        return out

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        try:
            capacity, obs_dim, act_dim = (int(x) for x in state["_counters"].tolist())
            if (obs_dim, act_dim) != (self.obs_dim, self.act_dim):
                raise CorruptFileError("model buffer dimensions do not match")
            self.capacity = capacity
            self.data = self._empty(capacity)
            self.size = self.ptr = 0
            self.add({k: state[k] for k in FIELDS})
        except KeyError as e:
            raise CorruptFileError(f"incomplete model buffer state (missing {e})") from None


def start_states(buffer: ReplayBuffer, n: int, generator: torch.Generator) -> Tensor:
    """``n`` rollout start states ``[n, O]``: the ``obs`` of uniformly drawn real transitions.

    An ``obs`` is never terminal (the env is never stepped from a terminal state), so branched rollouts
    never start from one.
    """
    return buffer.sample(n, generator)["obs"]


@torch.no_grad()
def branched_rollout(
    policy: Policy,
    predict: Predict,
    params: Params,
    obs0: Tensor,
    horizon: int,
    reward_fn: RewardFn,
    termination_fn: TerminationFn,
    generator: torch.Generator,
    per_row: bool = False,
) -> tuple[dict[str, Tensor], dict[str, float]]:
    """Roll the policy out in the model for up to ``horizon`` steps from each row of ``obs0[N, O]``.

    ``params`` are stacked ``[E, ...]`` (pass the elites only): each row at each step is predicted by a
    random member (a random permutation of the rows split into E equal chunks, so every member predicts
    about N/E rows in one batched call) and its next state is drawn from that member's Gaussian. Rows
    whose transition is terminal, or whose prediction is not finite, are not continued.

    With ``per_row``, ``params`` are stacked ``[N, ...]``, one set per start state, and row i is always
    predicted by set i (e.g. GrBAL's θ' adapted on the real transitions before start state i).

    Returns the transitions (``obs, act, reward, next_obs, terminated``, concatenated over steps) and
    statistics (``mean_length`` of the rollouts, ``nonfinite`` dropped rows).
    """
    if horizon < 1 or obs0.shape[0] == 0:
        raise DynadaptError("a branched rollout needs horizon >= 1 and at least one start state")
    e = next(iter(params.values())).shape[0]
    if per_row and e != obs0.shape[0]:
        raise DynadaptError(
            f"per-row rollouts need one parameter set per start state ({obs0.shape[0]}), got {e}"
        )
    obs = obs0
    steps: list[dict[str, Tensor]] = []
    lengths = torch.zeros(obs0.shape[0])
    alive_ids = torch.arange(obs0.shape[0])
    nonfinite = 0
    for _ in range(horizon):
        n = obs.shape[0]
        if n == 0:
            break
        act = policy(obs)
        if per_row:
            rows = {k: v[alive_ids] for k, v in params.items()}
            mean, std = predict(rows, obs.unsqueeze(1), act.unsqueeze(1))
            pred = (
                mean
                if std is None
                else mean + std * torch.randn(mean.shape, generator=generator).to(mean.device)
            )
            next_obs = pred.squeeze(1)
        else:
            chunk = math.ceil(n / e)
            perm = torch.randperm(n, generator=generator)
            idx = perm.repeat(math.ceil(chunk * e / n))[: chunk * e]
            mean, std = predict(params, obs[idx].reshape(e, chunk, -1), act[idx].reshape(e, chunk, -1))
            pred = (
                mean
                if std is None
                else mean + std * torch.randn(mean.shape, generator=generator).to(mean.device)
            )
            next_obs = torch.empty_like(obs)
            next_obs[perm] = pred.reshape(chunk * e, -1)[:n]
        finite = torch.isfinite(next_obs).all(-1)
        nonfinite += int((~finite).sum())
        obs, act, next_obs = obs[finite], act[finite], next_obs[finite]
        alive_ids = alive_ids[finite]
        reward = reward_fn(obs, act, next_obs).reshape(-1)
        done = termination_fn(obs, act, next_obs).reshape(-1).bool()
        steps.append({"obs": obs, "act": act, "reward": reward, "next_obs": next_obs, "terminated": done})
        lengths[alive_ids] += 1
        obs = next_obs[~done]
        alive_ids = alive_ids[~done]
    out = {k: torch.cat([s[k] for s in steps]) for k in FIELDS}
    stats = {"mean_length": float(lengths.mean()) if lengths.numel() else 0.0, "nonfinite": float(nonfinite)}
    return out, stats


def mixed_batch(
    real: ReplayBuffer, pool: ModelPool, batch_size: int, real_ratio: float, generator: torch.Generator
) -> dict[str, Tensor]:
    """A SAC minibatch of ``⌊batch_size · real_ratio⌋`` real and the rest model transitions (MBPO).

    While the model buffer is empty the whole batch is real.
    """
    n_real = batch_size if len(pool) == 0 else int(batch_size * real_ratio)
    parts: list[dict[str, Any]] = []
    if n_real > 0:
        r = real.sample(n_real, generator)
        parts.append({k: r[k] for k in FIELDS})
    if batch_size - n_real > 0:
        parts.append(pool.sample(batch_size - n_real, generator))
    return {k: torch.cat([p[k] for p in parts]) for k in FIELDS}
