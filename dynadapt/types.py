"""The types every part of dynadapt shares, defined once.

* ``Params``: a network's parameters as a plain ``dict[str, Tensor]`` (stacked ``[E, ...]`` for an ensemble);
  a dynamics model is a pure function of them (design principle 1).
* ``PredictFn``: ``predict(params, obs[E, N, O], act[E, N, A]) -> (mean[E, N, O], std[E, N, O] | None)``,
  the distribution of the next observation under each of the ``E`` members.
* ``RewardFn`` / ``TerminationFn``: batched ``(obs[..., O], act[..., A], next_obs[..., O]) -> [...]``
  (reward as float, termination as bool), supplied by a task family or by a model's learned heads.
* ``ObsPreproc``: ``obs[..., O] -> features[..., F]``, a family's observation features for the networks.
* ``ValueFn``: ``obs[..., O] -> value[...]``, a batched state-value function (a planner's terminal value).
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

Params = dict[str, Tensor]
PredictFn = Callable[[Params, Tensor, Tensor], tuple[Tensor, Tensor | None]]
RewardFn = Callable[[Tensor, Tensor, Tensor], Tensor]
TerminationFn = Callable[[Tensor, Tensor, Tensor], Tensor]
ObsPreproc = Callable[[Tensor], Tensor]
ValueFn = Callable[[Tensor], Tensor]
