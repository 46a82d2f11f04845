"""Functional networks: parameters are plain ``dict[str, Tensor]`` and forward passes are pure functions."""

from dynadapt.nets.ensemble import clone, ensemble_size, select, stack, unstack
from dynadapt.nets.mlp import ACTIVATIONS, MLPSpec, ensemble_forward_vmap, forward, init_params
from dynadapt.types import Params

__all__ = [
    "ACTIVATIONS",
    "MLPSpec",
    "Params",
    "clone",
    "ensemble_forward_vmap",
    "ensemble_size",
    "forward",
    "init_params",
    "select",
    "stack",
    "unstack",
]
