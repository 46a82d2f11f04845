"""Policy proposals: candidate action sequences for a planner, from a learned policy rolled out in the model.

TD-MPC2 (Hansen et al. 2024, Section 3.3, "policy prior") samples part of MPPI's population from its
policy π: trajectories of π in the learned model from the current state; BMPC (Wang et al. 2025) trains
that policy by imitating the planner's own actions. Here π is any batched deterministic policy
``policy(obs[N, O]) -> act[N, A]`` (a behaviour-cloned copy of the planner in the value kinds) and the
``M`` proposals are its closed-loop rollouts in the dynamics model, with Gaussian exploration noise of
``noise`` half-widths on every action except those of the first proposal (the policy's own plan), clipped
to the bounds. The imagined state follows the mean of the members' predicted means (one ``predict`` call per
step for all proposals), which serves ensembles, generated and adapted parameters alike.

A planner receives them through ``plan(objective, warm_start, proposals)`` and mixes them into every
population it samples (:meth:`dynadapt.planning.base.Planner.propose`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from dynadapt.errors import DynadaptError
from dynadapt.nets.ensemble import ensemble_size
from dynadapt.types import Params, PredictFn

PolicyFn = Callable[[Tensor], Tensor]
"""``policy(obs[N, O]) -> act[N, A]``"""


@dataclass
class PolicyProposals:
    """What a :class:`~dynadapt.planning.objective.ModelObjective` needs to propose sequences."""

    policy: PolicyFn
    count: int
    """M: proposals per planning call."""
    noise: float
    """Exploration noise σ in half-widths of the bounds (0: every proposal is the policy's plan)."""
    low: Tensor
    """Action bounds ``[A]``."""
    high: Tensor

    def __post_init__(self) -> None:
        if self.count < 1 or self.noise < 0:
            raise DynadaptError(f"proposals need count >= 1 and noise >= 0, got {self.count}, {self.noise}")


@torch.no_grad()
def policy_proposals(
    predict: PredictFn,
    params: Params,
    obs0: Tensor,
    proposals: PolicyProposals,
    horizon: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``M`` closed-loop rollouts of the policy in the model from ``obs0[O]``: ``actions[M, H, A]``."""
    e, m = ensemble_size(params), proposals.count
    low = proposals.low.to(obs0.dtype)
    high = proposals.high.to(obs0.dtype)
    scale = torch.full((m, 1), proposals.noise, dtype=obs0.dtype)
    scale[0] = 0.0
    scale = scale * (high - low) / 2
    obs = obs0.expand(m, obs0.shape[-1])
    actions = []
    for t in range(horizon):
        act = proposals.policy(obs).to(obs0.dtype)
        noise = torch.randn(act.shape, generator=generator, dtype=act.dtype, device=act.device)
        act = torch.maximum(torch.minimum(act + scale * noise, high), low)
        actions.append(act)
        if t + 1 < horizon:
            mean, _ = predict(params, obs.expand(e, *obs.shape), act.expand(e, *act.shape))
            obs = mean.mean(dim=0)
    return torch.stack(actions, dim=1)
