"""Task families: a parametric Gymnasium env plus what a model-based agent needs to plan in it.

A *task* is ``(env_id, kwargs)``; a *task family* groups the envs that share an observation and action
space and supplies:

* ``reward_fn(obs, act, next_obs) -> reward`` and ``termination_fn(obs, act, next_obs) -> terminated``:
  batched torch functions over any leading shape ``[..., O]``/``[..., A]`` that reproduce the env's own
  reward and termination exactly (the planner scores imagined rollouts with them);
* ``obs_preproc(obs) -> features``: the model-input preprocessing (e.g. angles to ``(cos, sin)``),
  ``[..., O] -> [..., preproc_dim]``;
* the physical parameters (``Param``), which are the env's ``gymnasium.make`` kwargs.

When the reward or termination depends on a task parameter (e.g. the cart-pole reward depends on the pole
length), the family also carries a *factory* and :meth:`TaskFamily.reward_fn_for` /
:meth:`TaskFamily.termination_fn_for` return the function bound to one task's parameters. ``reward_fn`` and
``termination_fn`` are always the functions for the default parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import torch
from torch import Tensor

from dynadapt.checks import short
from dynadapt.errors import DynadaptError, UnknownNameError, WrongTypeError
from dynadapt.types import ObsPreproc, RewardFn, TerminationFn

RewardFactory = Callable[[Mapping[str, Any]], RewardFn]
"""``full validated parameter dict -> reward function of that task``"""
TerminationFactory = Callable[[Mapping[str, Any]], TerminationFn]
"""``full validated parameter dict -> termination function of that task``"""


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
            if not isinstance(value, bool):
                for choice in self.choices:  # equal value (1.0 == 1), then the text form ("1", from a CLI)
                    if value == choice:
                        return choice
                for choice in self.choices:
                    if str(value) == str(choice):
                        return choice
            raise DynadaptError(
                f"invalid value {value!r} for parameter {self.name!r}; valid: {list(self.choices)}"
            )
        if isinstance(value, bool):
            raise DynadaptError(f"parameter {self.name!r} must be a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise DynadaptError(f"parameter {self.name!r} must be a number, got {value!r}") from None
        if not (self.low <= number <= self.high) or not math.isfinite(number):
            raise DynadaptError(
                f"invalid value {value!r} for parameter {self.name!r}; valid range [{self.low}, {self.high}]"
            )
        return number


def validate_params(spec: tuple[Param, ...], params: Mapping[str, Any], owner: str = "env") -> dict[str, Any]:
    """Check ``params`` against ``spec``; return the full parameter dict with defaults filled in.

    Unknown names raise :class:`UnknownNameError`, invalid values :class:`DynadaptError` (NaN and infinity
    are invalid everywhere); both name ``owner`` (e.g. ``"family 'cartpole'"``) in the message.
    """
    if not isinstance(params, Mapping):
        raise WrongTypeError(f"parameters of {owner} must map names to values, got {short(params)}")
    by_name = {p.name: p for p in spec}
    out = {p.name: p.default for p in spec}
    for key, value in params.items():
        if key not in by_name:
            raise UnknownNameError(f"parameter of {owner}", str(key), by_name)
        out[key] = by_name[key].validate(value)
    return out


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
    reward_factory: RewardFactory | None = None
    """Builds the reward function of a task from its full parameter dict; ``None``: parameter-free."""
    termination_factory: TerminationFactory | None = None
    """Builds the termination function of a task from its full parameter dict; ``None``: parameter-free."""
    act_low: tuple[float, ...] = ()
    """Lower action bounds (length ``act_dim``), as in the env's ``action_space``; empty if not given."""
    act_high: tuple[float, ...] = ()
    """Upper action bounds (length ``act_dim``)."""
    splits: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    """Named task splits for meta-learning, e.g. ``{"train": (...), "test": (...)}`` (GrBAL's held-out
    perturbations); each a tuple of parameter dicts. Empty for families without a split."""

    @property
    def feature_dim(self) -> int:
        """Model-input size of the observation after ``obs_preproc``."""
        return self.obs_dim if self.preproc_dim is None else self.preproc_dim

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check parameter names and values; return the full parameter dict with defaults filled in."""
        return validate_params(self.params, params, owner=f"family {self.name!r}")

    @property
    def param_names(self) -> tuple[str, ...]:
        """Names of the family's parameters, in declaration order."""
        return tuple(p.name for p in self.params)

    def reward_fn_for(self, **params: Any) -> RewardFn:
        """The batched reward function of the task with these parameters (missing ones take defaults).

        Families whose reward does not depend on a parameter return :attr:`reward_fn` itself. Raises
        :class:`DynadaptError` for unknown or invalid parameters.
        """
        full = self.validate(params)
        if self.reward_factory is None:
            return self.reward_fn
        return self.reward_factory(full)

    def termination_fn_for(self, **params: Any) -> TerminationFn:
        """The batched termination function of the task with these parameters (see :meth:`reward_fn_for`)."""
        full = self.validate(params)
        if self.termination_factory is None:
            return self.termination_fn
        return self.termination_factory(full)

    def sequence(self, name: str) -> tuple[dict[str, Any], ...]:
        """A named task sequence as full (validated, defaults filled) parameter dicts."""
        if name not in self.sequences:
            raise UnknownNameError(f"task sequence of family {self.name!r}", name, self.sequences)
        return tuple(self.validate(p) for p in self.sequences[name])

    def make(self, render_mode: str | None = None, **params: Any) -> gym.Env:
        """Create the env for one task: ``gymnasium.make(env_id, **validated params)``."""
        full = self.validate(params)
        return gym.make(self.env_id, render_mode=render_mode, **full)
