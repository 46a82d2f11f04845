"""Running z-score normalisation with mergeable statistics.

Statistics are accumulated in float64 with the parallel update of Chan, Golub and LeVeque (1979), so that
adding data in any batching gives the same mean/variance as one pass. A normaliser can be frozen (updates
become no-ops, e.g. during GrBAL's inner step or once a task's data stops growing, as in HyperCRL §4.5 of
the reference) and copied.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor


class Normalizer:
    """z-scores vectors of size ``dim``: ``(x - mean) / std``; a dimension with ``std < min_std`` uses 1."""

    def __init__(self, dim: int, min_std: float = 1e-6) -> None:
        self.dim = dim
        self.min_std = min_std
        self.count = 0
        self._mean = torch.zeros(dim, dtype=torch.float64)
        self._m2 = torch.zeros(dim, dtype=torch.float64)
        self.frozen = False
        self.mean = torch.zeros(dim)
        """float32 mean used by :meth:`normalize` (refreshed on update)."""
        self.std = torch.ones(dim)
        """float32 std used by :meth:`normalize` (refreshed on update)."""

    def update(self, x: Tensor) -> None:
        """Merge the statistics of ``x[N, dim]`` into the running ones (no-op when frozen or empty)."""
        if self.frozen or x.shape[0] == 0:
            return
        if x.shape[-1] != self.dim:
            raise ValueError(f"normalizer expects [N, {self.dim}], got {tuple(x.shape)}")
        x = x.detach().to(torch.float64).cpu()
        n_b = x.shape[0]
        mean_b = x.mean(0)
        m2_b = ((x - mean_b) ** 2).sum(0)
        n_a = self.count
        n = n_a + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._m2 = self._m2 + m2_b + delta**2 * (n_a * n_b / n)
        self.count = n
        self._refresh()

    def _refresh(self) -> None:
        var = self._m2 / max(self.count, 1)
        std = var.sqrt()
        std = torch.where(std < self.min_std, torch.ones_like(std), std)
        self.mean = self._mean.to(torch.float32)
        self.std = std.to(torch.float32)

    def normalize(self, x: Tensor) -> Tensor:
        return (x - self.mean.to(x.device)) / self.std.to(x.device)

    def denormalize(self, x: Tensor) -> Tensor:
        return x * self.std.to(x.device) + self.mean.to(x.device)

    def freeze(self) -> None:
        self.frozen = True

    def unfreeze(self) -> None:
        self.frozen = False

    def copy(self) -> Normalizer:
        return copy.deepcopy(self)

    def state_dict(self) -> dict[str, Tensor]:
        return {
            "count": torch.tensor([self.count], dtype=torch.int64),
            "mean64": self._mean.clone(),
            "m2": self._m2.clone(),
            "frozen": torch.tensor([int(self.frozen)], dtype=torch.int64),
        }

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        if state["mean64"].shape != (self.dim,):
            raise ValueError(
                f"normalizer state has dim {tuple(state['mean64'].shape)}, expected ({self.dim},)"
            )
        self.count = int(state["count"].item())
        self._mean = state["mean64"].to(torch.float64).clone()
        self._m2 = state["m2"].to(torch.float64).clone()
        self.frozen = bool(state["frozen"].item())
        self._refresh()
