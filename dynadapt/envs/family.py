"""Task families: a parametric Gymnasium env plus what a model-based agent needs to plan in it.

A *task* is ``(env_id, kwargs)``; a *task family* groups the envs that share an observation and action
space and supplies:

* ``reward_fn(obs, act, next_obs) -> reward`` and ``termination_fn(obs, act, next_obs) -> terminated``:
  batched torch functions over any leading shape ``[..., O]``/``[..., A]`` that reproduce the env's own
  reward and termination exactly (the planner scores imagined rollouts with them);
* ``obs_preproc(obs) -> features``: the model-input preprocessing (e.g. angles to ``(cos, sin)``),
  ``[..., O] -> [..., preproc_dim]``;
* the physical parameters (``Param``), which are the env's ``gymnasium.make`` kwargs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import torch
from torch import Tensor

from dynadapt.errors import DynadaptError, UnknownNameError

RewardFn = Callable[[Tensor, Tensor, Tensor], Tensor]
"""``(obs[..., O], act[..., A], next_obs[..., O]) -> reward[...]``"""
TerminationFn = Callable[[Tensor, Tensor, Tensor], Tensor]
"""``(obs[..., O], act[..., A], next_obs[..., O]) -> terminated[...]`` (bool)"""
ObsPreproc = Callable[[Tensor], Tensor]
"""``obs[..., O] -> features[..., F]``"""


def identity_preproc(obs: Tensor) -> Tensor:
    """No preprocessing: the model sees the raw observation."""
    return obs


def never_terminates(obs: Tensor, act: Tensor, next_obs: Tensor) -> Tensor:
    """Termination function of envs that only truncate (time limit)."""
    return torch.zeros(next_obs.shape[:-1], dtype=torch.bool, device=next_obs.device)


@dataclass(frozen=True)
class Param:
    """One physical parameter of a family, passed to ``gymnasium.make`` as a keyword argument."""

    name: str
    default: Any
    doc: str
    low: float = -math.inf
    """Smallest valid value (inclusive); numeric parameters only."""
    high: float = math.inf
    """Largest valid value (inclusive); numeric parameters only."""
    choices: tuple[Any, ...] | None = None
    """The valid values of a categorical parameter (e.g. a joint name)."""

    def validate(self, value: Any) -> Any:
        """Return ``value`` if valid, else raise :class:`DynadaptError` naming the parameter."""
        if self.choices is not None:
            if value not in self.choices:
                raise DynadaptError(
                    f"invalid value {value!r} for parameter {self.name!r}; valid: {list(self.choices)}"
                )
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise DynadaptError(f"parameter {self.name!r} must be a number, got {value!r}") from None
        if not (self.low <= number <= self.high) or math.isnan(number):
            raise DynadaptError(
                f"invalid value {value!r} for parameter {self.name!r}; valid range [{self.low}, {self.high}]"
            )
        return value


@dataclass(frozen=True)
class TaskFamily:
    """A family of envs whose dynamics differ by physical parameters. See the module docstring."""

    name: str
    """Short name used in presets and on the CLI, e.g. ``"pendulum"``."""
    env_id: str
    """Registered Gymnasium id, e.g. ``"dynadapt/Pendulum-v0"``."""
    obs_dim: int
    act_dim: int
    episode_steps: int
    """Steps per episode (the env's time limit)."""
    reward_fn: RewardFn
    termination_fn: TerminationFn = never_terminates
    obs_preproc: ObsPreproc = identity_preproc
    preproc_dim: int | None = None
    """Size of ``obs_preproc``'s output; ``None`` means ``obs_dim``."""
    params: tuple[Param, ...] = ()
    doc: str = ""
    sequences: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    """Named task sequences of this family: name -> tuple of parameter dicts."""

    @property
    def feature_dim(self) -> int:
        """Model-input size of the observation after ``obs_preproc``."""
        return self.obs_dim if self.preproc_dim is None else self.preproc_dim

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check parameter names and values; return the full parameter dict with defaults filled in."""
        by_name = {p.name: p for p in self.params}
        out = {p.name: p.default for p in self.params}
        for key, value in params.items():
            if key not in by_name:
                raise UnknownNameError(f"parameter of family {self.name!r}", key, by_name)
            out[key] = by_name[key].validate(value)
        return out

    def make(self, render_mode: str | None = None, **params: Any) -> gym.Env:
        """Create the env for one task: ``gymnasium.make(env_id, **validated params)``."""
        full = self.validate(params)
        return gym.make(self.env_id, render_mode=render_mode, **full)
