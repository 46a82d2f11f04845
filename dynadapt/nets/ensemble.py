"""Helpers for ensembles stored as stacked parameter dicts (leading member dimension ``E``)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from dynadapt.errors import CorruptFileError
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


def load_into(params: Params, loaded: Mapping[str, Tensor], what: str) -> None:
    """Copy ``loaded`` into ``params`` in place (no gradient), after checking that it holds the same names and
    shapes; otherwise :class:`~dynadapt.errors.CorruptFileError` naming ``what``."""
    if set(loaded) != set(params) or any(loaded[k].shape != v.shape for k, v in params.items()):
        raise CorruptFileError(f"{what} do not match the architecture")
    with torch.no_grad():
        for k, v in params.items():
            v.copy_(loaded[k])
