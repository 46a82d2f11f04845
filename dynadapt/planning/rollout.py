"""Imagined rollouts: score candidate action sequences with a (learned) dynamics model.

:func:`imagine` is one pure batched function of ``(predict, params, obs0, actions, reward_fn,
termination_fn, generator)``; :func:`imagined_objective` binds everything but the actions, giving the
``objective(actions[B, H, A]) -> returns[B]`` that a planner maximises.

Ensemble propagation follows PETS (Chua et al. 2018, Section 4.2; ``dmbrl/controllers/MPC.py``):

* ``"ts_inf"`` (TS∞, the PETS default): ``P`` particles per candidate; particle ``p`` uses member ``p % E``
  for the whole horizon. When ``P`` is not a multiple of ``E`` the particles are padded internally to the
  next multiple (the padding is computed and ignored), so every candidate still has exactly ``P`` particles
  with members ``p % E``.
* ``"ts1"`` (TS1): every particle's member is re-drawn at every step, by a uniformly random permutation of
  the particle-to-member assignment within each candidate (as PETS shuffles particles across member
  groups, so each member keeps an equal share of the rows).
* ``"expectation"``: one particle per candidate that moves to the mean over members of the predicted means.

With Gaussian members (``std`` not None) the TS modes sample ``next = mean + std * noise`` (noise from the
generator; reparameterised, so gradient planners can differentiate through it). The objective is the
undiscounted sum of rewards averaged over particles, J = (1/P) Σ_p Σ_t r(s^p_t, a_t, s^p_{t+1}) (reference
notes §1.3). Rewards after a predicted termination are not accumulated (the terminating step's reward
counts). A NaN or infinite return becomes ``-inf`` so that it ranks worst (pitfall M2).

Value-guided planning (TD-MPC2, Hansen et al. 2024, Section 3; the lecture's "plan with a terminal value")
passes a :class:`TerminalValue`: the return becomes Σ_{t<H} γ^t r_t + γ^H V(s_H), with V evaluated at each
particle's last imagined state (its own member's prediction, so epistemic spread reaches the value) and
counted only for particles that have not terminated. Without one (the default) nothing changes.

Memory: a step holds the model's activations for all ``E x N`` rows at once (``N = B x P / E``). With
``memory_bytes`` set, a step whose rows would need more than that (at :data:`ROW_BYTES` a row) evaluates the
model, the reward and termination functions and the terminal value (learned heads and critics are networks
too) on chunks of rows one after the other: the noise is still drawn once per step for all rows, so the
draws and the returns are those of the unchunked evaluation (paper-scale populations on a small GPU).

``reward_fn`` / ``termination_fn`` are the task family's, or, for tasks whose reward is not given, the
model's learned heads bound to the same params (``DynamicsModel.learned_reward_fn(params)`` /
``learned_termination_fn(params)``): those score the TS row layout ``[E, N, ·]`` with each row's own member,
so a particle's reward comes from the member that predicts its transition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from dynadapt.errors import DynadaptError
from dynadapt.planning.base import Objective, sanitize_returns
from dynadapt.types import Params, PredictFn, RewardFn, TerminationFn, ValueFn

Propagation = Literal["ts_inf", "ts1", "expectation"]
PROPAGATIONS: tuple[str, ...] = ("ts_inf", "ts1", "expectation")
ROW_BYTES = 4096
"""Memory one row of a model step is assumed to take (four hidden layers of 200 float32 units, their
pre-activations and the outputs, rounded up): the unit of ``memory_bytes``."""


@dataclass(frozen=True)
class TerminalValue:
    """The terminal-value hook of an imagined rollout: J = Σ_{t<H} γ^t r_t + γ^H V(s_H).

    ``value(obs[..., O]) -> [...]`` is any batched state-value function (an aggregated critic ensemble,
    :class:`dynadapt.policy.critic.ValueEnsemble`); ``discount`` is γ (TD-MPC2: 0.99 and up).
    """

    value: ValueFn
    discount: float = 0.99

    def __post_init__(self) -> None:
        if not 0.0 < self.discount <= 1.0:
            raise DynadaptError(f"the terminal value's discount must lie in (0, 1], got {self.discount}")

    def add(self, ret: Tensor, last: Tensor, alive: Tensor | None, horizon: int) -> Tensor:
        """``ret + γ^H V(last)`` for the rows still alive (``ret[...]``, ``last[..., O]``)."""
        v = self.value(last)
        if alive is not None:
            v = torch.where(alive, v, torch.zeros_like(v))
        return ret + self.discount**horizon * v


def _discounted(reward: Tensor, t: int, terminal: TerminalValue | None) -> Tensor:
    """γ^t r_t under a terminal value (the undiscounted reward without one, bit for bit)."""
    if terminal is None or terminal.discount == 1.0:
        return reward
    return reward * terminal.discount**t


def _ensemble_size(params: Params) -> int:
    if not params:
        raise DynadaptError("params must contain at least one tensor")
    return int(next(iter(params.values())).shape[0])


def chunked(predict: PredictFn, rows: int) -> PredictFn:
    """``predict`` evaluated on at most ``rows`` rows (dim -2 of ``obs[..., N, O]``) at a time."""

    def run(params: Params, obs: Tensor, act: Tensor) -> tuple[Tensor, Tensor | None]:
        n = obs.shape[-2]
        if n <= rows:
            return predict(params, obs, act)
        parts = [
            predict(params, obs[..., i : i + rows, :], act[..., i : i + rows, :]) for i in range(0, n, rows)
        ]
        mean = torch.cat([m for m, _ in parts], dim=-2)
        stds = [s for _, s in parts]
        return mean, None if stds[0] is None else torch.cat([s for s in stds if s is not None], dim=-2)

    return run


def chunked_rows(fn: Callable[..., Tensor], rows: int) -> Callable[..., Tensor]:
    """``fn(*xs)`` of row-wise tensors ``x[..., N, D]`` (all sharing ``N``) returning ``[..., N]``,
    evaluated on at most ``rows`` rows at a time: a reward, termination or value function under a memory
    budget (learned heads and critics are networks whose activations grow with the rows)."""

    def run(*xs: Tensor) -> Tensor:
        n = xs[0].shape[-2]
        if n <= rows:
            return fn(*xs)
        return torch.cat([fn(*(x[..., i : i + rows, :] for x in xs)) for i in range(0, n, rows)], dim=-1)

    return run


def imagine(
    predict: PredictFn,
    params: Params,
    obs0: Tensor,
    actions: Tensor,
    reward_fn: RewardFn,
    termination_fn: TerminationFn | None,
    *,
    propagation: Propagation = "ts_inf",
    particles: int = 20,
    generator: torch.Generator | None = None,
    terminal: TerminalValue | None = None,
    memory_bytes: int = 0,
) -> Tensor:
    """Mean imagined return of each candidate action sequence.

    Args:
        predict: the model, see :data:`PredictFn`.
        params: stacked parameters, every tensor with leading dim ``E`` (a single model has ``E = 1``).
        obs0: the current observation ``[O]``.
        actions: candidate sequences ``[B, H, A]``.
        reward_fn: batched reward, see :data:`RewardFn`.
        termination_fn: batched termination, or None for tasks that never terminate.
        propagation: ``"ts_inf"``, ``"ts1"`` or ``"expectation"`` (module docstring).
        particles: ``P``, particles per candidate for the TS modes (ignored by ``"expectation"``).
        generator: source of the sampling noise (None: torch's global generator).
        terminal: a terminal value (discounted return plus γ^H V(s_H)), or None (undiscounted return).
        memory_bytes: the memory a model step may take (0: no limit); more rows are evaluated in chunks
            (module docstring).

    Returns:
        ``returns[B]``: mean over particles of the return; NaN/inf become ``-inf``.

    Work: the first step has the same input for every particle of a candidate, so it runs on ``E x B``
    rows and its prediction is broadcast to the particles; with a deterministic model (``std`` None) TS∞
    particles of the same member stay identical, so the rest of the rollout runs on ``E x B`` rows too and
    each member's return is weighted by its number of particles (the result is the same as the full run).
    """
    if propagation not in PROPAGATIONS:
        raise DynadaptError(f"unknown propagation {propagation!r}; known: {', '.join(PROPAGATIONS)}")
    if actions.dim() != 3:
        raise DynadaptError(f"actions must have shape [B, H, A], got {list(actions.shape)}")
    if obs0.dim() != 1:
        raise DynadaptError(f"obs0 must have shape [O], got {list(obs0.shape)}")
    if not isinstance(particles, int) or particles < 1:
        raise DynadaptError(f"particles must be an integer >= 1, got {particles!r}")
    E = _ensemble_size(params)
    if memory_bytes > 0:
        rows = max(1, memory_bytes // (E * ROW_BYTES))
        predict = chunked(predict, rows)
        reward_fn = chunked_rows(reward_fn, rows)
        if termination_fn is not None:
            termination_fn = chunked_rows(termination_fn, rows)
        if terminal is not None:
            terminal = TerminalValue(chunked_rows(terminal.value, rows), terminal.discount)
    if E == 1 and propagation == "ts1":
        propagation = "ts_inf"  # one member: re-drawing it changes nothing
    B, H, A = actions.shape
    O = obs0.shape[0]
    obs0 = obs0.to(dtype=actions.dtype, device=actions.device)

    # Step 0 on [E, B] rows: every particle of a candidate starts at obs0 with the same action.
    obs_eb = obs0.expand(E, B, O)
    act0 = actions[:, 0].expand(E, B, A)
    mean0, std0 = predict(params, obs_eb, act0)

    if propagation == "expectation":
        return _imagine_expectation(
            predict, params, obs0, actions, reward_fn, termination_fn, mean0, terminal
        )

    P = particles
    Pe = -(-P // E)  # particles per member, padded: P_pad = Pe * E >= P
    collapse = std0 is None and propagation == "ts_inf"
    # weight[e, k] = 1 for the real particles p = k * E + e < P (padding gets 0); collapsed: count per member.
    p_index = torch.arange(Pe, device=actions.device) * E + torch.arange(E, device=actions.device)[:, None]
    weight = (p_index < P).to(actions.dtype)  # [E, Pe]
    if collapse:
        weight = weight.sum(1, keepdim=True)  # [E, 1]
        Pe = 1
    N = B * Pe
    # Particle layout: rows of member e are [B, Pe] flattened, row (b, k) is particle k * E + e of b.
    if std0 is None:
        nxt = mean0.unsqueeze(2).expand(E, B, Pe, O)
    else:
        noise = torch.randn((E, B, Pe, O), generator=generator, dtype=mean0.dtype, device=mean0.device)
        nxt = torch.addcmul(mean0.unsqueeze(2), std0.unsqueeze(2), noise)
    nxt = nxt.reshape(E, N, O)
    obs = obs0.expand(E, N, O)
    # All actions in row layout at once: [H, E, N, A] (one copy instead of one per step).
    act_rows = actions.transpose(0, 1)[:, None, :, None, :].expand(H, E, B, Pe, A).reshape(H, E, N, A)

    ret = reward_fn(obs, act_rows[0], nxt)  # [E, N]
    alive = None
    if termination_fn is not None:
        alive = ~termination_fn(obs, act_rows[0], nxt)
    for t in range(1, H):
        obs = nxt
        act = act_rows[t]
        if propagation == "ts1":
            perm = torch.rand((B, Pe * E), generator=generator, device=obs.device).argsort(dim=1)
            mean, std = predict(params, _to_slots(obs, perm, E, Pe), act)
            mean = _from_slots(mean, perm, E, Pe)
            std = None if std is None else _from_slots(std, perm, E, Pe)
        else:
            mean, std = predict(params, obs, act)
        if std is None:
            nxt = mean
        else:
            noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
            nxt = torch.addcmul(mean, std, noise)
        reward = _discounted(reward_fn(obs, act, nxt), t, terminal)
        if alive is None:
            ret = ret + reward
        else:
            assert termination_fn is not None
            ret = ret + torch.where(alive, reward, torch.zeros_like(reward))
            alive = alive & ~termination_fn(obs, act, nxt)
    if terminal is not None:
        ret = terminal.add(ret, nxt, alive, H)

    # Mean over the real particles: padding (weight 0) must not turn a return into NaN.
    ret = ret.reshape(E, B, Pe)
    w = weight[:, None, :]
    ret = torch.where(w > 0, ret, torch.zeros_like(ret)) * w
    return sanitize_returns(ret.sum(dim=(0, 2)) / P)


def _imagine_expectation(
    predict: PredictFn,
    params: Params,
    obs0: Tensor,
    actions: Tensor,
    reward_fn: RewardFn,
    termination_fn: TerminationFn | None,
    mean0: Tensor,
    terminal: TerminalValue | None,
) -> Tensor:
    """Expectation propagation: one particle per candidate moving to the mean of the members' means."""
    B, H, A = actions.shape
    E = mean0.shape[0]
    obs = obs0.expand(B, obs0.shape[0])
    nxt = mean0.mean(dim=0)
    act = actions[:, 0]
    ret = reward_fn(obs, act, nxt)
    alive = None if termination_fn is None else ~termination_fn(obs, act, nxt)
    for t in range(1, H):
        obs = nxt
        act = actions[:, t]
        mean, _ = predict(params, obs.expand(E, B, obs.shape[-1]), act.expand(E, B, A))
        nxt = mean.mean(dim=0)
        reward = _discounted(reward_fn(obs, act, nxt), t, terminal)
        if alive is None:
            ret = ret + reward
        else:
            assert termination_fn is not None
            ret = ret + torch.where(alive, reward, torch.zeros_like(reward))
            alive = alive & ~termination_fn(obs, act, nxt)
    if terminal is not None:
        ret = terminal.add(ret, nxt, alive, H)
    return sanitize_returns(ret)


def _to_slots(x: Tensor, perm: Tensor, E: int, Pe: int) -> Tensor:
    """Row layout ``[E, B*Pe, D]`` -> the same particles reassigned: slot s of b gets particle perm[b, s]."""
    D = x.shape[-1]
    B = perm.shape[0]
    by_particle = x.reshape(E, B, Pe, D).permute(1, 2, 0, 3).reshape(B, Pe * E, D)
    moved = by_particle.gather(1, perm.unsqueeze(-1).expand(B, Pe * E, D))
    return moved.reshape(B, Pe, E, D).permute(2, 0, 1, 3).reshape(E, B * Pe, D)


def _from_slots(y: Tensor, perm: Tensor, E: int, Pe: int) -> Tensor:
    """Inverse of :func:`_to_slots`: put each slot's output back at its particle's row."""
    D = y.shape[-1]
    B = perm.shape[0]
    by_slot = y.reshape(E, B, Pe, D).permute(1, 2, 0, 3).reshape(B, Pe * E, D)
    back = torch.empty_like(by_slot).scatter_(1, perm.unsqueeze(-1).expand(B, Pe * E, D), by_slot)
    return back.reshape(B, Pe, E, D).permute(2, 0, 1, 3).reshape(E, B * Pe, D)


def imagined_objective(
    predict: PredictFn,
    params: Params,
    obs0: Tensor,
    reward_fn: RewardFn,
    termination_fn: TerminationFn | None,
    *,
    propagation: Propagation = "ts_inf",
    particles: int = 20,
    generator: torch.Generator | None = None,
    terminal: TerminalValue | None = None,
    memory_bytes: int = 0,
) -> Objective:
    """``objective(actions[B, H, A]) -> returns[B]``: :func:`imagine` with everything else bound."""

    def objective(actions: Tensor) -> Tensor:
        return imagine(
            predict,
            params,
            obs0,
            actions,
            reward_fn,
            termination_fn,
            propagation=propagation,
            particles=particles,
            generator=generator,
            terminal=terminal,
            memory_bytes=memory_bytes,
        )

    return objective


StepFn = Callable[[Tensor, Tensor], Tensor]
"""``step(obs[..., O], act[..., A]) -> next_obs[..., O]``: known, deterministic, batched dynamics."""


def true_dynamics_objective(
    step: StepFn, obs0: Tensor, reward_fn: RewardFn, termination_fn: TerminationFn | None = None
) -> Objective:
    """A model-free objective: roll the candidates out through known dynamics ``step`` (no particles).

    The same accounting as :func:`imagine` (termination, NaN/inf to ``-inf``); useful to test planners and
    MPC on the true dynamics of an env.
    """

    def predict(params: Params, obs: Tensor, act: Tensor) -> tuple[Tensor, None]:
        return step(obs, act), None

    return imagined_objective(
        predict, {"true": torch.zeros(1)}, obs0, reward_fn, termination_fn, propagation="expectation"
    )
