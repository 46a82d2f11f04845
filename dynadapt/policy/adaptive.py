"""Adaptive dynamics models inside MBPO's rollouts: task-conditioned policies and GrBAL-adapted rollouts.

Two ways an adapting model plugs into MBPO (Janner et al. 2019; the loops are
:mod:`dynadapt.runs.policy_adaptive`):

* **Continual (HyperCRL, Huang et al. 2021).** Task t's dynamics weights are generated,
  ``W_t = h(e_t; θ)``; MBPO's branched rollouts of task t use ``W_t``, and the policy sees the task through
  its embedding: it acts on ``[s, e_t]`` (:func:`with_context`), the detached embedding appended to the
  observation, so one policy serves every task of the sequence and is told which one it is on.
* **Meta (GrBAL, Nagabandi, Clavera et al. 2019).** A rollout branched from the real state ``s_t`` of an
  episode uses ``θ'_t = θ* − ψ ⊙ ∇_θ L(τ(t−M, t−1), θ*)``, adapted on the M real transitions of the same
  episode that lead to ``s_t`` (:func:`window_starts`, :func:`adapted_params`): exactly the window GrBAL's
  online adapter holds when the agent stands at ``s_t`` (the newest transition is ``s_{t−1} → s_t``,
  pitfall G6), never a later transition and never one of another episode (G12). Each start state gets its
  own θ' and its rollout uses only that one (``branched_rollout(..., per_row=True)``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from dynadapt.meta.base import detached
from dynadapt.meta.grbal import GrBAL
from dynadapt.types import Params


def context_obs(obs: Tensor, ctx: Tensor) -> Tensor:
    """``obs[N, O]``, ``ctx[C]`` -> ``[N, O + C]``: the context appended to every observation."""
    return torch.cat([obs, ctx.expand(*obs.shape[:-1], ctx.shape[-1])], dim=-1)


def with_context(data: dict[str, Tensor], ctx: Tensor) -> dict[str, Tensor]:
    """A copy of transitions ``data`` whose ``obs`` and ``next_obs`` carry the context ``ctx[C]``."""
    out = dict(data)
    out["obs"] = context_obs(data["obs"], ctx)
    out["next_obs"] = context_obs(data["next_obs"], ctx)
    return out


def window_starts(episode: Tensor, t: Tensor, M: int) -> Tensor:
    """Indices ``i`` (into transitions stored in order, e.g. ``ReplayBuffer.all()``) whose ``obs`` has the
    M preceding transitions ``i − M … i − 1`` of the same episode before it: ``episode[i − M] ==
    episode[i]`` and ``t[i] − t[i − M] == M`` (consecutive steps, nothing dropped in between)."""
    n = episode.shape[0]
    if n <= M:
        return torch.zeros(0, dtype=torch.long)
    i = torch.arange(M, n)
    ok = (episode[i - M] == episode[i]) & (t[i] - t[i - M] == M)
    return i[ok]


@torch.no_grad()
def adapted_params(learner: GrBAL, data: dict[str, Tensor], starts: Tensor) -> tuple[Tensor, Params]:
    """Start states and their GrBAL-adapted parameters.

    ``data``: transitions in order (``obs, act, next_obs``); ``starts[N]``: indices from
    :func:`window_starts`. Returns ``obs0[N, O]`` (``data["obs"][starts]``) and ``θ'`` stacked ``[N, ...]``
    (row i adapted from θ* on transitions ``starts[i] − M … starts[i] − 1``; detached), with the model's
    current normalisers (those of its last fit).
    """
    model, M = learner.model, learner.M
    idx = starts[:, None] - M + torch.arange(M)[None, :]  # [N, M]
    obs, act, nxt = data["obs"][idx], data["act"][idx], data["next_obs"][idx]
    x, y = model.transitions({"obs": obs, "act": act, "next_obs": nxt})  # [N, M, F + A], [N, M, O]
    theta = detached(model.params)  # [1, ...]
    per_start = torch.func.vmap(lambda xi, yi: learner.adapt(theta, xi, yi))(x, y)  # [N, 1, ...]
    return data["obs"][starts], {k: v.squeeze(1) for k, v in per_start.items()}
