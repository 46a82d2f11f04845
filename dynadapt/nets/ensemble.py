"""Helpers for ensembles stored as stacked parameter dicts (leading member dimension ``E``)."""

from __future__ import annotations

import torch
from torch import Tensor

from dynadapt.types import Params


def ensemble_size(params: Params) -> int:
    """``E``: the leading dimension shared by every tensor of a stacked params dict."""
    return next(iter(params.values())).shape[0]


def stack(members: list[Params]) -> Params:
    """Stack per-member dicts into one dict with a leading member dimension."""
    return {k: torch.stack([m[k] for m in members]) for k in members[0]}


def unstack(params: Params) -> list[Params]:
    """Split a stacked dict into per-member dicts (views, not copies)."""
    return [{k: v[i] for k, v in params.items()} for i in range(ensemble_size(params))]


def select(params: Params, members: Tensor | list[int]) -> Params:
    """A sub-ensemble: the members with the given indices (e.g. the elites)."""
    idx = torch.as_tensor(members, dtype=torch.long)
    return {k: v.index_select(0, idx.to(v.device)) for k, v in params.items()}


def clone(params: Params) -> Params:
    """A detached deep copy."""
    return {k: v.detach().clone() for k, v in params.items()}
