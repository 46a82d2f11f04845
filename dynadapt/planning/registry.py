"""Planner registry: config classes by name and :func:`build_planner`."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from dynadapt.checks import as_tensor, check_fields, check_memory, need_int, need_str, short
from dynadapt.errors import DynadaptError, UnknownNameError, WrongTypeError
from dynadapt.planning.base import Planner, PlannerConfig
from dynadapt.planning.cem import CEMConfig, CEMPlanner
from dynadapt.planning.grad import CEMGradConfig, CEMGradPlanner, GradConfig, GradPlanner
from dynadapt.planning.hypercrl_cem import HyperCRLCEMConfig, HyperCRLCEMPlanner
from dynadapt.planning.icem import ICEMConfig, ICEMPlanner
from dynadapt.planning.mppi import MPPIConfig, MPPIPlanner
from dynadapt.planning.rs import RSConfig, RSPlanner

_PAIRS: list[tuple[type[PlannerConfig], type[Planner]]] = [
    (RSConfig, RSPlanner),
    (CEMConfig, CEMPlanner),
    (ICEMConfig, ICEMPlanner),
    (MPPIConfig, MPPIPlanner),
    (GradConfig, GradPlanner),
    (CEMGradConfig, CEMGradPlanner),
    (HyperCRLCEMConfig, HyperCRLCEMPlanner),
]
_PLANNERS: dict[str, tuple[type[PlannerConfig], type[Planner]]] = {cfg.name: (cfg, p) for cfg, p in _PAIRS}

SAMPLE_COPIES = 8
"""Tensors of a population's size a planner holds at once (samples, noise, clipped, elites, ...), for the
memory check of a configured population (the imagined rollouts need more, times the particles)."""

PLANNER_CONFIGS: dict[str, type[PlannerConfig]] = {name: pair[0] for name, pair in _PLANNERS.items()}
"""Config dataclass of every planner, by name (``cfg.name``)."""


def planner_config(name: str, **overrides: Any) -> PlannerConfig:
    """The default config of planner ``name`` with ``overrides`` applied (validated)."""
    if need_str(name, "planner name") not in PLANNER_CONFIGS:
        raise UnknownNameError("planner", name, PLANNER_CONFIGS)
    cls = PLANNER_CONFIGS[name]
    fields = set(cls.__dataclass_fields__)
    for key in overrides:
        if key not in fields:
            raise UnknownNameError(f"{name} planner config field", key, fields)
    return check_fields(cls(**overrides))


def build_planner(
    cfg: PlannerConfig, low: Tensor, high: Tensor, horizon: int, generator: torch.Generator
) -> Planner:
    """The planner for ``cfg`` with action bounds ``low[A]``, ``high[A]`` and horizon ``H``.

    All of the planner's randomness comes from ``generator``.
    """
    if not isinstance(cfg, PlannerConfig):
        raise WrongTypeError(f"build_planner needs a planner config (see PLANNER_CONFIGS), got {short(cfg)}")
    if cfg.name not in _PLANNERS:
        raise UnknownNameError("planner", cfg.name, _PLANNERS)
    config_cls, planner_cls = _PLANNERS[cfg.name]
    if type(cfg) is not config_cls:
        raise DynadaptError(f"planner {cfg.name!r} expects a {config_cls.__name__}, got {type(cfg).__name__}")
    check_fields(cfg)
    population, act_dim = getattr(cfg, "population", 1), as_tensor(low, "action bounds low").numel()
    what = f"a population of {population} plans of {horizon} x {act_dim} actions"
    check_memory(SAMPLE_COPIES * 4 * population * need_int(horizon, "horizon", 1) * act_dim, what)
    return planner_cls(cfg, low, high, horizon, generator)
