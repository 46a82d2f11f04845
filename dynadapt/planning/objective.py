"""The planning objective every loop uses: the imagined return of action sequences under a dynamics model.

:class:`ModelObjective` binds a model's ``predict`` with the propagation settings of an :class:`MPCConfig`
and the planner's generator; the loop sets, *before* it asks the agent to act, the params to plan with
(the model's current ones, a task's generated ones, or parameters adapted online from recent transitions)
and the task's reward and termination. The agent then calls it with the current observation
(``objective(obs0) -> objective(actions[B, H, A]) -> returns[B]``, the ``ObjectiveFactory`` of
:class:`~dynadapt.planning.mpc.MPCAgent`), so that the agent's timed planning call is planning alone.

Two optional hooks, set by the loop like the params, extend any planner and any model without touching
either: ``terminal`` (a :class:`~dynadapt.planning.rollout.TerminalValue`: value-guided MPC, the return
becomes Σ γ^t r_t + γ^H V(s_H)) and ``proposals`` (a
:class:`~dynadapt.planning.proposals.PolicyProposals`: part of every population comes from a policy
rolled out in the model, :meth:`ModelObjective.propose`, which :func:`mpc_agent` wires to the agent).
``imagined`` counts the model's imagined transitions (candidates × particles × H, proposals included).
With ``mpc.compile`` the rollout goes through ``torch.compile`` (compiled when the loop sets another
predict, reward, termination or terminal value, never per plan step).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from dynadapt.planning.base import Objective, PlannerConfig
from dynadapt.planning.mpc import MPCAgent, MPCConfig
from dynadapt.planning.proposals import PolicyProposals, policy_proposals
from dynadapt.planning.registry import build_planner
from dynadapt.planning.rollout import TerminalValue, imagine
from dynadapt.types import Params, PredictFn, RewardFn, TerminationFn

Rollout = Callable[[Params, Tensor, Tensor], Tensor]
"""``rollout(params, obs0[O], actions[B, H, A]) -> returns[B]``."""


class ModelObjective:
    """``objective(obs0[O]) -> (actions[B, H, A] -> returns[B])`` under ``predict`` with ``params``."""

    def __init__(
        self,
        predict: PredictFn,
        mpc: MPCConfig,
        generator: torch.Generator,
        reward_fn: RewardFn,
        termination_fn: TerminationFn | None,
        params: Params | None = None,
    ) -> None:
        self.predict = predict
        self.mpc = mpc
        self.generator = generator
        self.reward_fn = reward_fn
        self.termination_fn = termination_fn
        self.params: Params = params if params is not None else {}
        """The parameters planned with (set by the loop before each planning call when they change)."""
        self.terminal: TerminalValue | None = None
        """Terminal value of the imagined return (None: plain MPC, the undiscounted H-step return)."""
        self.proposals: PolicyProposals | None = None
        """Policy proposals mixed into every planning population (None: none)."""
        self.imagined = 0
        """Model transitions imagined so far: candidates × particles (1 for expectation) × H, plus M × H
        for the proposals."""
        self._compiled: tuple[tuple[object, ...], Rollout] | None = None

    def __call__(self, obs0: Tensor) -> Objective:
        if not self.params:
            raise RuntimeError("ModelObjective: no params set to plan with")
        rollout = self._compiled_rollout() if self.mpc.compile else self._rollout()
        params = self.params
        rows = 1 if self.mpc.propagation == "expectation" else self.mpc.particles

        def objective(actions: Tensor) -> Tensor:
            self.imagined += actions.shape[0] * actions.shape[1] * rows
            return rollout(params, obs0, actions)

        return objective

    def _rollout(self) -> Rollout:
        """``rollout(params, obs0, actions) -> returns``: :func:`imagine` under the current predict, reward,
        termination and terminal value and the MPC settings."""
        predict, reward_fn, termination_fn, terminal = self._bound()
        mpc, generator = self.mpc, self.generator

        def rollout(params: Params, obs0: Tensor, actions: Tensor) -> Tensor:
            return imagine(
                predict, params, obs0, actions, reward_fn, termination_fn,
                propagation=mpc.propagation, particles=mpc.particles, generator=generator,
                terminal=terminal, memory_bytes=int(mpc.memory_mb * 2**20),
            )  # fmt: skip

        return rollout

    def _bound(self) -> tuple[PredictFn, RewardFn, TerminationFn | None, TerminalValue | None]:
        return self.predict, self.reward_fn, self.termination_fn, self.terminal

    def _compiled_rollout(self) -> Rollout:
        """:meth:`_rollout` through ``torch.compile``, compiled anew only when the loop sets another predict,
        reward, termination or terminal value (a task switch), never per plan step."""
        key = self._bound()
        if self._compiled is None or self._compiled[0] != key:
            self._compiled = (key, torch.compile(self._rollout(), dynamic=False))
        return self._compiled[1]

    def propose(self, obs0: Tensor) -> Tensor | None:
        """The policy's proposals ``[M, H, A]`` from ``obs0[O]`` in the current params (None without a
        policy); the agent's ``proposer``."""
        if self.proposals is None:
            return None
        self.imagined += self.proposals.count * self.mpc.horizon
        return policy_proposals(
            self.predict, self.params, obs0, self.proposals, self.mpc.horizon, self.generator
        )


def mpc_agent(
    planner: PlannerConfig, objective: ModelObjective, low: np.ndarray, high: np.ndarray
) -> MPCAgent:
    """A receding-horizon agent around the configured planner, planning on ``objective`` (the planner's
    randomness from the objective's generator; horizon and replanning from its MPC settings; the policy
    proposals from ``objective.propose`` whenever ``objective.proposals`` is set)."""
    mpc = objective.mpc
    built = build_planner(
        planner, torch.as_tensor(low), torch.as_tensor(high), mpc.horizon, objective.generator
    )
    return MPCAgent(
        built,
        objective,
        horizon=mpc.horizon,
        act_dim=low.shape[0],
        low=low,
        high=high,
        replan_every=mpc.replan_every,
        proposer=objective.propose,
    )
