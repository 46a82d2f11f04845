"""A bounded ring replay buffer of transitions, with uniform and contiguous-segment sampling.

Columns (``N`` transitions, oldest first in :meth:`ReplayBuffer.all`)::

    obs [N, O]  act [N, A]  next_obs [N, O]  reward [N]  terminated [N]  truncated [N]
    task_id [N]  episode [N]  t [N] (step index within its episode)  id [N] (global insertion index)

When full, each new transition overwrites the oldest one. Segments for meta-learning are runs of
consecutive steps of one episode; they never cross an episode boundary. Episodes must be added
contiguously (one environment at a time), which is how every dynadapt loop collects data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from dynadapt.checks import check_memory, need_finite, need_int, short
from dynadapt.errors import CorruptFileError, DynadaptError, WrongTypeError
from dynadapt.io import load_tensors, save_tensors

FORMAT = "dynadapt.ReplayBuffer"


def holdout_mask(ids: Tensor, ratio: float) -> Tensor:
    """A fixed, stateless train/validation split by transition id (Knuth's multiplicative hash).

    The same transition is always on the same side of the split, however often the model is refitted and
    however much older data the ring has dropped; about ``ratio`` of any run of ids is held out.
    """
    frac = ((ids.to(torch.int64) * 2654435761) % 4294967296).to(torch.float64) / 4294967296.0
    return frac < ratio


@dataclass(frozen=True)
class BufferSpec:
    obs_dim: int
    act_dim: int


class ReplayBuffer:
    """A ring buffer holding at most ``capacity`` transitions (the oldest are dropped first)."""

    def __init__(self, capacity: int, obs_dim: int, act_dim: int) -> None:
        self.capacity = need_int(capacity, "buffer capacity", 1)
        self.obs_dim = need_int(obs_dim, "buffer obs_dim", 1)
        self.act_dim = need_int(act_dim, "buffer act_dim", 1)
        self.check_memory(capacity, obs_dim, act_dim)
        self._cols: dict[str, Tensor] = {
            "obs": torch.zeros(capacity, obs_dim),
            "act": torch.zeros(capacity, act_dim),
            "next_obs": torch.zeros(capacity, obs_dim),
            "reward": torch.zeros(capacity),
            "terminated": torch.zeros(capacity, dtype=torch.bool),
            "truncated": torch.zeros(capacity, dtype=torch.bool),
            "task_id": torch.zeros(capacity, dtype=torch.int64),
            "episode": torch.zeros(capacity, dtype=torch.int64),
            "t": torch.zeros(capacity, dtype=torch.int64),
            "id": torch.zeros(capacity, dtype=torch.int64),
        }
        self.size = 0
        self.total_added = 0
        """Number of transitions ever added; the next transition gets this id."""

    @staticmethod
    def check_memory(capacity: int, obs_dim: int, act_dim: int, what: str = "a replay buffer") -> None:
        """Raise :class:`~dynadapt.errors.DynadaptError` unless a buffer of ``capacity`` fits in memory (for
        owners that create their buffers later, e.g. one per situation)."""
        row = 4 * (2 * obs_dim + act_dim + 1) + 2 + 8 * 4  # float32 columns, two bools, four int64s
        check_memory(capacity * row, f"{what} of {capacity} transitions of {row} bytes")

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        obs: Any,
        act: Any,
        next_obs: Any,
        reward: float,
        terminated: bool,
        truncated: bool,
        *,
        task_id: int = 0,
        episode: int = 0,
        t: int = 0,
    ) -> None:
        """Append one transition. NaN/inf observations, actions or rewards are rejected with a clear error."""
        o, a, o2 = _numbers(obs, "obs"), _numbers(act, "act"), _numbers(next_obs, "next_obs")
        if o.shape != (self.obs_dim,) or o2.shape != (self.obs_dim,) or a.numel() != self.act_dim:
            raise DynadaptError(
                f"observation/action shapes {tuple(o.shape)}/{tuple(o2.shape)}/{tuple(a.shape)} do not match "
                f"the buffer's ({self.obs_dim},)/({self.act_dim},)"
            )
        a = a.reshape(self.act_dim)
        if not (torch.isfinite(o).all() and torch.isfinite(o2).all() and torch.isfinite(a).all()):
            raise DynadaptError("refusing to store a transition with a NaN or infinite observation/action")
        r = _numbers(reward, "reward")
        if r.numel() != 1:
            raise DynadaptError(f"reward must be one number, got {r.numel()}")
        reward = need_finite(float(r), "reward")
        i = self.total_added % self.capacity
        c = self._cols
        c["obs"][i] = o
        c["act"][i] = a
        c["next_obs"][i] = o2
        c["reward"][i] = float(reward)
        c["terminated"][i] = bool(terminated)
        c["truncated"][i] = bool(truncated)
        c["task_id"][i] = task_id
        c["episode"][i] = episode
        c["t"][i] = t
        c["id"][i] = self.total_added
        self.total_added += 1
        self.size = min(self.size + 1, self.capacity)

    def _order(self) -> Tensor:
        """Physical indices of the stored transitions, oldest first."""
        if self.size < self.capacity:
            return torch.arange(self.size)
        start = self.total_added % self.capacity
        return (torch.arange(self.capacity) + start) % self.capacity

    def all(self) -> dict[str, Tensor]:
        """Every stored transition, oldest first (copies)."""
        order = self._order()
        return {k: v[order] for k, v in self._cols.items()}

    def since(self, first_id: int) -> dict[str, Tensor]:
        """The stored transitions with ``id >= first_id``, oldest first."""
        data = self.all()
        keep = data["id"] >= first_id
        return {k: v[keep] for k, v in data.items()}

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """A uniform minibatch (with replacement) of ``batch_size`` transitions."""
        need_int(batch_size, "batch_size", 0)
        if self.size == 0:
            raise DynadaptError("cannot sample from an empty buffer")
        idx = torch.randint(0, self.size, (batch_size,), generator=generator)
        phys = self._order()[idx]
        return {k: v[phys] for k, v in self._cols.items()}

    def segment_starts(self, length: int) -> Tensor:
        """Logical indices (0 = oldest) at which ``length`` consecutive steps of one episode start."""
        need_int(length, "segment length", 1)
        if self.size < length:
            return torch.zeros(0, dtype=torch.long)
        order = self._order()
        ep = self._cols["episode"][order]
        t = self._cols["t"][order]
        last = self.size - length + 1
        same = (ep[:last] == ep[length - 1 :]) & (t[length - 1 :] - t[:last] == length - 1)
        return torch.nonzero(same).squeeze(-1)

    def sample_segments(
        self, batch_size: int, length: int, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """``batch_size`` segments of ``length`` consecutive transitions of one episode: ``[B, L, ...]``."""
        need_int(batch_size, "batch_size", 0)
        starts = self.segment_starts(length)
        if starts.numel() == 0:
            raise DynadaptError(f"no episode in the buffer has {length} consecutive steps")
        pick = starts[torch.randint(0, starts.numel(), (batch_size,), generator=generator)]
        logical = pick[:, None] + torch.arange(length)[None, :]
        phys = self._order()[logical]
        return {k: v[phys] for k, v in self._cols.items()}

    # ----------------------------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Tensor]:
        """The stored transitions (oldest first) and counters, as tensors."""
        data = self.all()
        data["_counters"] = torch.tensor([self.capacity, self.total_added, self.obs_dim, self.act_dim])
        return data

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        capacity, total, obs_dim, act_dim = _counters(state)
        if (obs_dim, act_dim) != (self.obs_dim, self.act_dim):
            raise CorruptFileError(
                f"buffer holds obs/act dims {(obs_dim, act_dim)}, expected {(self.obs_dim, self.act_dim)}"
            )
        if capacity != self.capacity:
            raise CorruptFileError(f"buffer capacity {capacity} differs from {self.capacity}")
        n = state["obs"].shape[0]
        for k, col in self._cols.items():
            col.zero_()
            col[:n] = state[k]
        self.size = n
        self.total_added = total
        # re-layout so that physical order matches what add() expects next
        if n == self.capacity:
            shift = total % self.capacity
            for k, col in self._cols.items():
                self._cols[k] = torch.roll(col, shifts=shift, dims=0)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Atomically write the buffer to a safetensors file."""
        save_tensors(path, self.state_dict(), FORMAT, {"version": 1})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ReplayBuffer:
        tensors, _ = load_tensors(path, FORMAT)
        try:
            capacity, _, obs_dim, act_dim = _counters(tensors)
            buf = cls(capacity, obs_dim, act_dim)
            buf.load_state_dict(tensors)
        except (KeyError, RuntimeError, ValueError) as e:
            raise CorruptFileError(f"{path}: inconsistent buffer file ({e})") from None
        return buf


def _numbers(value: Any, name: str) -> Tensor:
    """``value`` (array-like) as a float32 tensor; anything that is not numbers is one error."""
    try:
        return torch.as_tensor(np.asarray(value, dtype=np.float32))
    except (TypeError, ValueError):
        raise WrongTypeError(f"{name} must be numbers, got {short(value, 60)}") from None


def _counters(state: dict[str, Tensor]) -> tuple[int, int, int, int]:
    """``(capacity, total added, obs_dim, act_dim)`` of a saved buffer, checked against its columns before
    anything is allocated (a file claiming a capacity its columns do not fit is refused)."""
    counters = state["_counters"]
    if counters.shape != (4,) or counters.dtype != torch.int64:
        raise CorruptFileError(
            f"buffer counters must be 4 integers, got {counters.dtype} {list(counters.shape)}"
        )
    capacity, total, obs_dim, act_dim = (int(x) for x in counters.tolist())
    n = state["obs"].shape[0]
    columns = {"obs": (n, obs_dim), "next_obs": (n, obs_dim), "act": (n, act_dim), "reward": (n,)}
    for name, shape in columns.items():
        if tuple(state[name].shape) != shape:
            raise CorruptFileError(
                f"buffer column {name} has shape {list(state[name].shape)}, not {list(shape)}"
            )
    if not (capacity > 0 and 0 <= n <= total and n == min(total, capacity)):
        raise CorruptFileError(
            f"buffer counters (capacity {capacity}, {total} added) do not fit its {n} rows"
        )
    return capacity, total, obs_dim, act_dim
