"""A functional GRU (Cho et al. 2014): the parameters are a plain dict, the cell a pure function.

Same equations and gate order (reset r, update z, new n) as ``torch.nn.GRU``::

    r  = σ(x W_ir + b_ir + h W_hr + b_hr)
    z  = σ(x W_iz + b_iz + h W_hz + b_hz)
    n  = tanh(x W_in + b_in + r ⊙ (h W_hn + b_hn))
    h' = (1 − z) ⊙ n + z ⊙ h

Parameter layout (weights ``[in, out]`` like :mod:`dynadapt.nets.mlp`; gates concatenated r, z, n)::

    weight_ih [I, 3H]   weight_hh [H, 3H]   bias_ih [3H]   bias_hh [3H]

``torch.nn.GRU``'s ``weight_ih_l0`` is the transpose of ``weight_ih``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from dynadapt.errors import DynadaptError
from dynadapt.types import Params


@dataclass(frozen=True)
class GRUSpec:
    """A one-layer GRU reading vectors of size ``in_dim`` into a state of size ``hidden``."""

    in_dim: int
    hidden: int

    def __post_init__(self) -> None:
        if self.in_dim < 1 or self.hidden < 1:
            raise DynadaptError(f"GRU sizes must be positive, got {self}")

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        h3 = 3 * self.hidden
        return {
            "weight_ih": (self.in_dim, h3),
            "weight_hh": (self.hidden, h3),
            "bias_ih": (h3,),
            "bias_hh": (h3,),
        }


def init_gru_params(
    spec: GRUSpec, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32
) -> Params:
    """PyTorch's ``nn.GRU`` initialisation: every tensor ~ U(−1/√H, 1/√H)."""
    bound = 1.0 / math.sqrt(spec.hidden)
    out: Params = {}
    for name, shape in spec.param_shapes().items():
        t = torch.empty(*shape, dtype=dtype)
        t.uniform_(-bound, bound, generator=generator)
        out[name] = t
    return out


def gru_cell(params: Params, x: Tensor, h: Tensor) -> Tensor:
    """One step: ``x[..., I], h[..., H] -> h'[..., H]``."""
    gi = x @ params["weight_ih"] + params["bias_ih"]
    gh = h @ params["weight_hh"] + params["bias_hh"]
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (1 - z) * n + z * h


def gru_scan(params: Params, xs: Tensor, h0: Tensor | None = None) -> Tensor:
    """Run over a sequence: ``xs[B, T, I]`` (and ``h0[B, H]``, default zeros) -> states ``[B, T, H]``."""
    hidden = params["weight_hh"].shape[0]
    h = xs.new_zeros(*xs.shape[:-2], hidden) if h0 is None else h0
    if xs.shape[-2] == 0:
        return xs.new_zeros(*xs.shape[:-1], hidden)
    states = []
    for t in range(xs.shape[-2]):
        h = gru_cell(params, xs[..., t, :], h)
        states.append(h)
    return torch.stack(states, dim=-2)
